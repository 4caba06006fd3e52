/* sandbox_testcomp: the sandbox bites, for each component (msock-testcomp
 * and every row of lib/proctab.c): started as root with MSOCK_USER=nobody,
 * it enters the sandbox as it does under the broker, then makes one
 * forbidden call: it must be killed (SIGSYS) or the call must fail with
 * EPERM. Also: after the sandbox it is nobody with no caps; and each
 * component's own profile (lib/proctab.c) kills the calls it does not list
 * while those it lists still work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proctab.h"

/* The component under test: testcomp, then each real component. */
static const char *program = "msock-testcomp";

/* An empty directory to be the bus directory: components change into it
 * (and chroot there) before their sandbox. */
static char bus_dir[64];

/* The row's own user when this system has it (msockctl setup-users),
 * else nobody. */
static const char *user(void)
{
	const struct proc *p = proctab_find(program + strlen("msock-"));

	return p && p->user && getpwnam(p->user) ? p->user : "nobody";
}

/* Runs PROGRAM --sandbox-selftest what; returns the wait status and its
 * stderr in out. */
static int run_selftest(const char *what, char *out, size_t cap)
{
	char path[512];
	int pipefd[2], status;
	ssize_t n, used = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", getenv("MSOCK_BIN_DIR"), program);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		setenv("MSOCK_BUS_DIR", bus_dir, 1);
		setenv("MSOCK_USER", user(), 1);
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		/* msock-derp and msock-disco open (create) their keys before
		 * the sandbox; one file each. */
		snprintf(path, sizeof(path), "/tmp/msock-sandbox-test-%s.key", program);
		setenv("MSOCK_KEY_FILE", path, 1);
		snprintf(path, sizeof(path), "%s/%s", getenv("MSOCK_BIN_DIR"), program);
		/* msock-dataplane gets its UDP sockets from the broker. */
		if (strcmp(program, "msock-dataplane") == 0) {
			char v[16], keep[32];
			int u4 = socket(AF_INET, SOCK_DGRAM, 0),
			    wg = socket(AF_INET, SOCK_DGRAM, 0);
			snprintf(v, sizeof(v), "%d", u4);
			setenv("MSOCK_UDP4_FD", v, 1);
			snprintf(v, sizeof(v), "%d", wg);
			setenv("MSOCK_WG_FD", v, 1);
			snprintf(keep, sizeof(keep), "%d,%d", u4, wg);
			setenv("MSOCK_KEEP_FDS", keep, 1);
		}
		execl(path, path, "--sandbox-selftest", what, (char *)0);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + used, cap - 1 - (size_t)used)) > 0)
		used += n;
	out[used] = 0;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_refused(const char *what)
{
	char out[4096];
	int st = run_selftest(what, out, sizeof(out));

	if (WIFSIGNALED(st)) {
		assert_int_equal(WTERMSIG(st), SIGSYS);
	} else {
		/* Not killed: then the call must have failed with EPERM. */
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		assert_non_null(strstr(out, "Operation not permitted"));
	}
	print_message("%s %s: %s\n", program, what,
		      WIFSIGNALED(st) ? "killed by SIGSYS" : "refused with EPERM");
}

static void test_execve(void **state)
{
	(void)state;
	assert_refused("execve");
}

static void test_ptrace(void **state)
{
	(void)state;
	assert_refused("ptrace");
}

static void test_open_shadow(void **state)
{
	(void)state;
	assert_refused("open-shadow");
}

static void test_af_packet(void **state)
{
	(void)state;
	assert_refused("af-packet");
}

static void test_fork(void **state)
{
	(void)state;
	assert_refused("fork");
}

static void test_runs_as_its_user_without_caps(void **state)
{
	char out[4096], want[64];
	int st = run_selftest("id", out, sizeof(out));
	const struct passwd *pw = getpwnam(user());

	(void)state;
	assert_non_null(pw);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	snprintf(want, sizeof(want), "uid=%u euid=%u", (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
	print_message("%s runs as %s: %s", program, user(), out);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "capeff=0000000000000000 capprm=0000000000000000"));
}

/* Each component's profile: the calls it must die of, and those it must
 * still be able to make (lib/proctab.c says why). */
struct profile_case {
	const char *program;
	const char *killed[3];
	const char *allowed[3];
};

static const struct profile_case profiles[] = {
	{"msock-testcomp", {"tcp-socket", "udp-socket", "unlink"}, {0}},
	{"msock-dataplane", {"tcp-socket"}, {"udp-socket", "unlink"}},
	{"msock-disco", {"tcp-socket", "udp-socket", "unlink"}, {0}},
	{"msock-derp", {"udp-socket", "unlink"}, {"tcp-socket"}},
	{"msock-netcheck", {"udp-socket", "unlink"}, {"tcp-socket"}},
	{"msock-portmapper", {"udp-socket", "unlink"}, {"tcp-socket"}},
};

static void test_profile(void **state)
{
	const struct profile_case *pc = 0;
	char out[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].program, program) == 0)
			pc = &profiles[i];
	assert_non_null(pc);
	for (size_t i = 0; i < 3 && pc->killed[i]; i++) {
		int st = run_selftest(pc->killed[i], out, sizeof(out));
		print_message("%s %s: %s\n", program, pc->killed[i],
			      WIFSIGNALED(st) ? "killed" : "not killed");
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
	for (size_t i = 0; i < 3 && pc->allowed[i]; i++) {
		int st = run_selftest(pc->allowed[i], out, sizeof(out));
		/* Allowed: it returns (1 if the call succeeded, 0 if it failed
		 * for its own reason, e.g. unlink of a missing file). */
		print_message("%s %s: %s", program, pc->allowed[i], out);
		assert_true(WIFEXITED(st));
		assert_true(WEXITSTATUS(st) <= 1);
		assert_null(strstr(out, "Operation not permitted"));
	}
}

#ifdef MSOCK_TEST_BUILD
/* Test builds name the refused call before dying. */
static void test_sigsys_names_the_call(void **state)
{
	char out[4096];
	int st = run_selftest("ptrace", out, sizeof(out));

	(void)state;
	assert_true(WIFSIGNALED(st));
	assert_non_null(strstr(out, "refused syscall 101 (ptrace)"));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_execve),
		cmocka_unit_test(test_ptrace),
		cmocka_unit_test(test_open_shadow),
		cmocka_unit_test(test_af_packet),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_runs_as_its_user_without_caps),
		cmocka_unit_test(test_profile),
#ifdef MSOCK_TEST_BUILD
		cmocka_unit_test(test_sigsys_names_the_call),
#endif
	};

	static const char *const programs[] = {"msock-testcomp", "msock-dataplane",
					       "msock-disco",	 "msock-derp",
					       "msock-netcheck", "msock-portmapper"};
	char key[128];
	int failed = 0;

	if (geteuid() != 0) {
		print_message("sandbox tests drop to the components' users and need root; "
			      "skipped\n");
		return 77;
	}
	snprintf(bus_dir, sizeof(bus_dir), "/tmp/msock-sandbox-bus-XXXXXX");
	if (!mkdtemp(bus_dir) || chmod(bus_dir, 0755) < 0)
		return 1;
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		program = programs[i];
		failed += cmocka_run_group_tests_name(programs[i], tests, 0, 0);
	}
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		snprintf(key, sizeof(key), "/tmp/msock-sandbox-test-%s.key", programs[i]);
		unlink(key);
	}
	rmdir(bus_dir);
	return failed ? 1 : 0;
}
