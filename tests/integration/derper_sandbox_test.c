/* derper_sandbox: msock-derper after start-up (derper_sandbox.h). Started
 * as root it runs as an unprivileged user (msock-derper, or nobody), in its
 * own group only, with no capabilities, under a seccomp filter, chrooted to
 * an empty directory that stays empty; it can open no file, a forbidden
 * call kills it, and -rate-config is still reread on SIGHUP. The user and
 * chroot checks need root (ctest runs as root here); the rest holds for an
 * unprivileged start too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "derper_proc.h"
#include "harness.h"
#include "proctab.h"

static bool metric_is(const struct derper_proc *p, const char *name, long long want)
{
	for (uint64_t t0 = clock_mono_ns();
	     derper_proc_metric(p, name) != want && th_ms_since(t0) < TH_WAIT_MS;)
		usleep(20 * 1000);
	return derper_proc_metric(p, name) == want;
}

/* Entries in dir other than . and ..; -1 when it cannot be read. */
static int entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* It listens before it enters the sandbox: waits for the filter, the last
 * step. */
static void wait_sandboxed(pid_t pid)
{
	char line[256];

	for (uint64_t t0 = clock_mono_ns(); th_ms_since(t0) < TH_WAIT_MS; usleep(10 * 1000))
		if (th_proc_status(pid, "Seccomp", line, sizeof(line)) && strcmp(line, "\t2") == 0)
			break;
}

/* Root: the user and its groups, the capabilities, the filter and the
 * root directory of the running server, which it made and left empty; it
 * still relays, serves /debug/metrics and rereads -rate-config on SIGHUP. */
static void test_running_sandboxed(void **state)
{
	struct derper_proc *p = *state;
	static const char *const rate = "derp_rate_limit_per_client_bytes_per_second";
	char path[256], extra[700], line[256], root[PATH_MAX], want_root[300], want_groups[64];
	struct passwd *pw;
	unsigned u[4];
	ssize_t n;

	if (geteuid() != 0)
		skip();
	pw = getpwnam(PROCTAB_DERPER_USER);
	if (pw)
		assert_int_equal(pw->pw_uid, PROCTAB_DERPER_UID); /* msockctl setup-users */
	else
		pw = getpwnam("nobody");
	assert_non_null(pw);
	assert_int_equal(derper_proc_write_file(p, "rate.json",
						"{\"PerClientRateLimitBytesPerSec\": 100000}", path,
						sizeof(path)),
			 0);
	snprintf(want_root, sizeof(want_root), "%s/root", p->dir);
	snprintf(extra, sizeof(extra), "-rate-config %s -chroot %s", path, want_root);
	assert_int_equal(derper_proc_start(p, extra), 0);
	wait_sandboxed(p->pid);

	assert_true(th_proc_status(p->pid, "Uid", line, sizeof(line)));
	assert_int_equal(sscanf(line, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(u[i], pw->pw_uid);
	assert_true(th_proc_status(p->pid, "Gid", line, sizeof(line)));
	assert_int_equal(sscanf(line, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(u[i], pw->pw_gid);
	/* Its own group only: msock-derper is in no group of the bus or of a
	 * packet channel (msockctl setup-users). */
	assert_true(th_proc_status(p->pid, "Groups", line, sizeof(line)));
	snprintf(want_groups, sizeof(want_groups), "\t%u ", (unsigned)pw->pw_gid);
	assert_string_equal(line, want_groups);
	assert_true(th_proc_status(p->pid, "CapEff", line, sizeof(line)));
	assert_non_null(strstr(line, "0000000000000000"));
	assert_true(th_proc_status(p->pid, "CapPrm", line, sizeof(line)));
	assert_non_null(strstr(line, "0000000000000000"));
	assert_true(th_proc_status(p->pid, "Seccomp", line, sizeof(line)));
	assert_string_equal(line, "\t2");
	assert_true(th_proc_status(p->pid, "NoNewPrivs", line, sizeof(line)));
	assert_string_equal(line, "\t1");
	snprintf(path, sizeof(path), "/proc/%d/root", (int)p->pid);
	n = readlink(path, root, sizeof(root) - 1);
	assert_true(n > 0);
	root[n] = 0;
	assert_string_equal(root, want_root);
	assert_int_equal(entries(want_root), 0);

	dtc_close(derper_proc_client(p, 0, false, line, sizeof(line)));
	assert_true(metric_is(p, rate, 100000));
	/* Rewritten in place (the server reads it through the fd it opened
	 * before the sandbox), then SIGHUP. */
	assert_int_equal(derper_proc_write_file(p, "rate.json",
						"{\"PerClientRateLimitBytesPerSec\": 50000}", 0, 0),
			 0);
	assert_int_equal(kill(p->pid, SIGHUP), 0);
	assert_true(metric_is(p, rate, 50000));
	assert_int_equal(derper_proc_stop(p), 0);
	assert_true(derper_proc_log_has(p, "chrooted to "));
	assert_int_equal(entries(want_root), 0);
}

/* A sanitized server with LeakSanitizer on (ctest's ASAN_OPTIONS, which
 * the quickstart page's derper inherits) stops cleanly: LeakSanitizer's
 * check at exit (prctl(PR_GET_DUMPABLE), clone, ptrace) was refused by the
 * filter, which killed the server with SIGSYS on every stop; it checks
 * before the sandbox now. No effect on a build without ASan. */
static void test_stops_with_leak_check(void **state)
{
	struct derper_proc *p = *state;
	char extra[300];

	p->leak_check = true;
	snprintf(extra, sizeof(extra), "-chroot %s/root", p->dir);
	assert_int_equal(derper_proc_start(p, extra), 0);
	wait_sandboxed(p->pid);
	assert_int_equal(derper_proc_stop(p), 0);
	assert_false(derper_proc_log_has(p, "refused syscall"));
}

/* With $MSOCK_DERPER_SELFTEST (test builds) the server stops after entering
 * its sandbox and makes one call; status is its wait status. */
static void selftest(struct derper_proc *p, const char *what, const char *extra, int *status)
{
	setenv("MSOCK_DERPER_SELFTEST", what, 1);
	assert_int_equal(derper_proc_run_to_exit(p, extra, status), 0);
	unsetenv("MSOCK_DERPER_SELFTEST");
}

/* No file opens after start-up: not the ones it was given, not the
 * system's. */
static void test_opens_no_file(void **state)
{
	struct derper_proc *p = *state;
	char path[256], extra[700];
	int st;

	assert_int_equal(derper_proc_write_file(p, "rate.json", "{}", path, sizeof(path)), 0);
	snprintf(extra, sizeof(extra), "-rate-config %s -chroot %s/root", path, p->dir);
	selftest(p, "open", extra, &st);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(derper_proc_log_has(p, "no file could be opened"));
	assert_false(derper_proc_log_has(p, "opened!"));
}

/* A forbidden call kills it (a test build traps and names the call): exec,
 * and without mesh peers even a TCP socket. */
static void test_forbidden_calls_kill(void **state)
{
	static const char *const calls[] = {"execve", "tcp-socket", "udp-socket", "ptrace"};
	struct derper_proc *p = *state;
	char extra[300];
	int st;

	snprintf(extra, sizeof(extra), "-chroot %s/root", p->dir);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		selftest(p, calls[i], extra, &st);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s: wait status %#x, not SIGSYS", calls[i], st);
	}
	assert_true(derper_proc_log_has(p, "refused syscall"));
}

/* As root, no user to drop to is an error, not a server left as root. */
static void test_root_needs_user(void **state)
{
	struct derper_proc *p = *state;
	int st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(derper_proc_run_to_exit(p, "-user ''", &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_true(derper_proc_log_has(p, "only for an unprivileged start"));
	assert_int_equal(derper_proc_run_to_exit(p, "-user msock-no-such-user", &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_true(derper_proc_log_has(p, "user msock-no-such-user does not exist"));
	assert_int_equal(derper_proc_run_to_exit(p, "-user root", &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	assert_true(derper_proc_log_has(p, "refusing to run as root: it is uid 0"));
}

/* Runs the server with -chroot DIR/root and expects it to refuse to start
 * with an error containing want (in the log of this run only). */
static void chroot_refused(struct derper_proc *p, const char *want)
{
	char extra[300], log[300];
	int st;

	snprintf(log, sizeof(log), "%s/derper.log", p->dir);
	assert_int_equal(th_write_file(log, ""), 0);
	snprintf(extra, sizeof(extra), "-chroot %s/root", p->dir);
	assert_int_equal(derper_proc_run_to_exit(p, extra, &st), 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !derper_proc_log_has(p, want))
		fail_msg("-chroot: wait status %#x, or no \"%s\" in its log", st, want);
}

/* A chroot directory that is not a directory, or that someone else could
 * fill, or that is not empty, is refused. */
static void test_chroot_refused(void **state)
{
	struct derper_proc *p = *state;
	char root[300], file[320];

	if (geteuid() != 0)
		skip();
	snprintf(root, sizeof(root), "%s/root", p->dir);
	snprintf(file, sizeof(file), "%s/root/x", p->dir);
	assert_int_equal(derper_proc_write_file(p, "root", "", 0, 0), 0);
	chroot_refused(p, "must be a directory owned by root");
	assert_int_equal(unlink(root), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(chmod(root, 0775), 0);
	chroot_refused(p, "must be a directory owned by root that no one else may write to");
	assert_int_equal(chmod(root, 0757), 0);
	chroot_refused(p, "that no one else may write to");
	assert_int_equal(chmod(root, 0755), 0);
	assert_int_equal(chown(root, 65534, 0), 0);
	chroot_refused(p, "must be a directory owned by root");
	assert_int_equal(chown(root, 0, 0), 0);
	assert_int_equal(th_write_file(file, ""), 0);
	chroot_refused(p, "is not empty (it holds x)");
	assert_int_equal(unlink(file), 0);
	assert_int_equal(mkdir(file, 0755), 0);
	chroot_refused(p, "is not empty (it holds x)");
	assert_int_equal(rmdir(file), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running_sandboxed, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_stops_with_leak_check, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_opens_no_file, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_forbidden_calls_kill, derper_proc_setup_plain,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_root_needs_user, derper_proc_setup_plain,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_chroot_refused, derper_proc_setup_plain,
						derper_proc_teardown),
	};
	int failed = cmocka_run_group_tests(tests, 0, 0);

	return failed + (int)derper_proc_sanitizer_reports();
}
