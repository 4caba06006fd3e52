/* sandbox_testcomp: the sandbox bites, for each component (msock-testcomp,
 * msock-derp, msock-dataplane): started as root with MSOCK_USER=nobody, it enters the
 * sandbox as it does under the broker, then
 * makes one forbidden call: it must be killed (SIGSYS) or the call must
 * fail with EPERM. Also: after the sandbox it is nobody with no caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

/* The component under test: testcomp, then each real component. */
static const char *program = "msock-testcomp";

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
		setenv("MSOCK_BUS_DIR", "/nonexistent", 1);
		setenv("MSOCK_USER", "nobody", 1);
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		/* msock-derp opens (creates) its key before the sandbox. */
		setenv("MSOCK_KEY_FILE", "/tmp/msock-sandbox-test.key", 1);
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

static void test_runs_as_nobody_without_caps(void **state)
{
	char out[4096];
	int st = run_selftest("id", out, sizeof(out));

	(void)state;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(out, "uid=65534 euid=65534"));
	assert_non_null(strstr(out, "capeff=0000000000000000 capprm=0000000000000000"));
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
		cmocka_unit_test(test_runs_as_nobody_without_caps),
#ifdef MSOCK_TEST_BUILD
		cmocka_unit_test(test_sigsys_names_the_call),
#endif
	};

	static const char *const programs[] = {"msock-testcomp", "msock-derp", "msock-dataplane"};
	int failed = 0;

	if (geteuid() != 0) {
		print_message("sandbox tests drop to nobody and need root; skipped\n");
		return 77;
	}
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		program = programs[i];
		failed += cmocka_run_group_tests_name(programs[i], tests, 0, 0);
	}
	unlink("/tmp/msock-sandbox-test.key");
	return failed ? 1 : 0;
}
