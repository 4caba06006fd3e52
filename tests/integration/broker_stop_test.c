/* broker_stop: SIGTERM stops every component (SIGTERM, then SIGKILL after
 * the timeout for one that ignores it) and leaves no process behind. (If
 * the broker itself dies, its children run on: broker_adopt_test.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *two = "[\"testcomp\", {\"name\": \"t2\", \"program\": \"testcomp\"}]";

static bool started_up(void *arg)
{
	return th_log_contains(arg, "INFO: started: generation");
}

static void test_sigterm_leaves_no_process(void **state)
{
	struct th_broker *b = *state;
	pid_t p1, p2;
	int st;

	assert_int_equal(th_broker_start(b, two, ""), 0);
	p1 = th_comp_pid(b, "testcomp");
	p2 = th_comp_pid(b, "t2");
	assert_true(p1 > 0 && p2 > 0);
	assert_int_equal(th_broker_stop(b, SIGTERM, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(th_pid_alive(p1));
	assert_false(th_pid_alive(p2));
	assert_true(th_log_contains(b, "all components stopped; exiting"));
	/* The control socket is gone with it. */
	assert_int_not_equal(access(b->control, F_OK), 0);
}

/* msockctl stop: the same as SIGTERM, asked over the control socket. */
static void test_msockctl_stop(void **state)
{
	struct th_broker *b = *state;
	pid_t p1, p2;
	bool ok;
	char *text = 0;
	int st;

	assert_int_equal(th_broker_start(b, two, ""), 0);
	p1 = th_comp_pid(b, "testcomp");
	p2 = th_comp_pid(b, "t2");
	assert_true(p1 > 0 && p2 > 0);
	assert_int_equal(th_control(b, "stop", 0, &ok, &text), 0);
	assert_true(ok);
	assert_non_null(strstr(text, "stopping every component"));
	free(text);
	/* It exits by itself: a long wait for SIGCONT (ignored) is a wait. */
	assert_int_equal(th_broker_stop(b, SIGCONT, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(th_pid_alive(p1));
	assert_false(th_pid_alive(p2));
	assert_true(th_log_contains(b, "msockctl stop: stopping all components"));
}

static bool exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

static void expect_mode(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid)
		fail_msg("%s: mode %04o uid %u gid %u; want %04o %u %u", path,
			 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)mode, (unsigned)uid, (unsigned)gid);
}

/* As root, a user per component: the bus directory is root's, 0750, group
 * msock; its sockets 0660 of that group; one directory per packet channel,
 * the dataplane's, 2750, of the channel's group, and the sockets the
 * dataplane binds there 0770 (its umask 0007), of that group too. The
 * control socket is 0600 (root only). Unprivileged: all the broker's,
 * 0700 and 0600. */
static void test_permissions(void **state)
{
	struct th_broker *b = *state;
	bool root = geteuid() == 0;
	uid_t dp = geteuid();
	gid_t msock = getegid(), ch = getegid();
	char path[400];

	if (root) {
		/* getpwnam and getgrnam answer in static storage: one at a time. */
		assert_non_null(getgrnam("msock"));
		msock = getgrnam("msock")->gr_gid;
		assert_non_null(getgrnam("msock-ch-disco"));
		ch = getgrnam("msock-ch-disco")->gr_gid;
		assert_non_null(getpwnam("msock-dataplane"));
		dp = getpwnam("msock-dataplane")->pw_uid;
	}
	assert_int_equal(th_broker_start(b, "[\"dataplane\", \"disco\"]", ""), 0);
	expect_mode(b->bus_dir, root ? 0750 : 0700, geteuid(), msock);
	snprintf(path, sizeof(path), "%s/pub.ipc", b->bus_dir);
	expect_mode(path, root ? 0660 : 0600, geteuid(), msock);
	snprintf(path, sizeof(path), "%s/ch-disco", b->bus_dir);
	expect_mode(path, root ? 02750 : 0700, dp, ch);
	snprintf(path, sizeof(path), "%s/ch-disco/pkt-disco-up.ipc", b->bus_dir);
	assert_true(th_wait(exists, path));
	if (root)
		expect_mode(path, 0770, dp, ch);
	expect_mode(b->control, 0600, geteuid(), getegid());
}

/* With one `user` for all (the config's), the same layout of that user's
 * group, and a warning that says what it gives up. */
static void test_permissions_shared_user(void **state)
{
	struct th_broker *b = *state;
	const struct passwd *pw = getpwnam("nobody");
	char path[400];

	if (geteuid() != 0)
		skip();
	assert_non_null(pw);
	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ",\n  \"user\": \"nobody\""), 0);
	expect_mode(b->bus_dir, 0750, 0, pw->pw_gid);
	snprintf(path, sizeof(path), "%s/req.ipc", b->bus_dir);
	expect_mode(path, 0660, 0, pw->pw_gid);
	snprintf(path, sizeof(path), "%s/ch-derp", b->bus_dir);
	expect_mode(path, 02750, pw->pw_uid, pw->pw_gid);
	assert_true(th_log_contains(b, "user: every component runs as nobody"));
}

static void test_stubborn_component_is_killed(void **state)
{
	struct th_broker *b = *state;
	pid_t p;
	int st;

	assert_int_equal(th_broker_start(b,
					 "[{\"name\": \"stubborn\", \"program\": \"testcomp\", "
					 "\"args\": [\"--ignore-sigterm\"]}]",
					 ""),
			 0);
	p = th_comp_pid(b, "stubborn");
	assert_true(p > 0);
	/* Until the component has its signal handling set up, SIGTERM would
	 * simply kill it: wait for its start-up line. */
	assert_true(th_wait(started_up, b));
	assert_int_equal(th_broker_stop(b, SIGTERM, &st), 0);
	assert_true(WIFEXITED(st));
	assert_false(th_pid_alive(p));
	assert_true(th_log_contains(b, "did not stop within 5000 ms: SIGKILL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigterm_leaves_no_process, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_msockctl_stop, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_permissions_shared_user, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_permissions, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_stubborn_component_is_killed, th_setup,
						th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
