/* listen_fds_test: systemd's socket-activation variables (lib/listen_fds.h,
 * sd_listen_fds(3)): unset or for another process, 1 to LISTEN_FDS_MAX fds
 * with and without LISTEN_FDNAMES, and every malformed value as a row of one
 * table, each refused with -EINVAL and a message naming the variable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "listen_fds.h"

enum {
	SELF = 4242, /* the pid the tests parse for */
	CAP = LISTEN_FDS_MAX,
	POISON = 0x5a, /* fills out[] so a slot written or not shows */
};

static struct listen_fd out[LISTEN_FDS_MAX + 1];
static char err[256];

static int parse(const char *pid, const char *fds, const char *names, size_t cap)
{
	memset(out, POISON, sizeof(out));
	memset(err, 0, sizeof(err));
	return listen_fds_parse(pid, fds, names, SELF, out, cap, err, sizeof(err));
}

/* out[n..] untouched: nothing is written past the fds parsed. */
static void assert_rest_untouched(size_t n)
{
	const unsigned char *p = (const unsigned char *)&out[n];

	for (size_t i = 0; i < sizeof(out) - n * sizeof(out[0]); i++)
		if (p[i] != POISON)
			fail_msg("out[%zu] written (byte %zu)", n + i / sizeof(out[0]), i);
}

static void test_unset(void **state)
{
	(void)state;
	assert_int_equal(parse(NULL, NULL, NULL, CAP), 0);
	/* LISTEN_FDNAMES alone hands nothing over either. */
	assert_int_equal(parse(NULL, NULL, "a", CAP), 0);
	assert_rest_untouched(0);
	assert_string_equal(err, "");
}

static void test_other_pid(void **state)
{
	(void)state;
	/* Inherited from a parent that was activated: ignored, and so are the
	 * other two, however wrong. */
	assert_int_equal(parse("4243", "2", "a:b", CAP), 0);
	assert_int_equal(parse("1", "abc", "x y:", CAP), 0);
	assert_int_equal(parse("4194304", NULL, NULL, CAP), 0);
	assert_rest_untouched(0);
	assert_string_equal(err, "");
}

static void test_without_names(void **state)
{
	char fds[8];

	(void)state;
	for (int n = 1; n <= LISTEN_FDS_MAX; n++) {
		snprintf(fds, sizeof(fds), "%d", n);
		assert_int_equal(parse("4242", fds, NULL, CAP), n);
		for (int i = 0; i < n; i++) {
			assert_int_equal(out[i].fd, LISTEN_FDS_START + i);
			assert_string_equal(out[i].name, "");
		}
		assert_rest_untouched((size_t)n);
	}
}

static void test_with_names(void **state)
{
	char fds[8], names[LISTEN_FDS_MAX * 8], want[8];

	(void)state;
	for (int n = 1; n <= LISTEN_FDS_MAX; n++) {
		size_t len = 0;
		snprintf(fds, sizeof(fds), "%d", n);
		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%ssock%d",
						i ? ":" : "", i);
		assert_int_equal(parse("4242", fds, names, CAP), n);
		for (int i = 0; i < n; i++) {
			snprintf(want, sizeof(want), "sock%d", i);
			assert_int_equal(out[i].fd, LISTEN_FDS_START + i);
			assert_string_equal(out[i].name, want);
		}
		assert_rest_untouched((size_t)n);
	}
	/* As systemd names them from the socket units (deploy/). */
	assert_int_equal(parse("4242", "3", "udp4:udp6:wg", CAP), 3);
	assert_string_equal(out[0].name, "udp4");
	assert_string_equal(out[1].name, "udp6");
	assert_string_equal(out[2].name, "wg");
}

/* LISTEN_FDS_MAX fds, each with a name of the longest length taken, into a
 * table of exactly that size; and the largest pid the parser takes. */
static void test_exactly_max(void **state)
{
	static char names[LISTEN_FDS_MAX * (LISTEN_FDS_NAME_MAX + 1)];
	char fds[8];
	size_t len = 0;

	(void)state;
	for (int i = 0; i < LISTEN_FDS_MAX; i++) {
		if (i)
			names[len++] = ':';
		memset(names + len, 'a' + i, LISTEN_FDS_NAME_MAX);
		len += LISTEN_FDS_NAME_MAX;
	}
	names[len] = 0;
	snprintf(fds, sizeof(fds), "%d", LISTEN_FDS_MAX);
	assert_int_equal(parse("4242", fds, names, LISTEN_FDS_MAX), LISTEN_FDS_MAX);
	for (int i = 0; i < LISTEN_FDS_MAX; i++) {
		assert_int_equal(out[i].fd, LISTEN_FDS_START + i);
		assert_int_equal(strlen(out[i].name), LISTEN_FDS_NAME_MAX);
		assert_int_equal(out[i].name[0], 'a' + i);
		assert_int_equal(out[i].name[LISTEN_FDS_NAME_MAX - 1], 'a' + i);
	}
	assert_rest_untouched(LISTEN_FDS_MAX);

	assert_int_equal(
		listen_fds_parse("4194304", "1", NULL, 4194304, out, CAP, err, sizeof(err)), 1);
}

/* Empty names are names: systemd splits LISTEN_FDNAMES without coalescing
 * colons, and its fdname_is_valid() allows the empty string. */
static void test_empty_names(void **state)
{
	(void)state;
	assert_int_equal(parse("4242", "3", "a::b", CAP), 3);
	assert_string_equal(out[0].name, "a");
	assert_string_equal(out[1].name, "");
	assert_string_equal(out[2].name, "b");
	/* A trailing empty name counts when the number of names is right. */
	assert_int_equal(parse("4242", "2", "a:", CAP), 2);
	assert_string_equal(out[0].name, "a");
	assert_string_equal(out[1].name, "");
	assert_int_equal(parse("4242", "2", ":", CAP), 2);
	assert_string_equal(out[0].name, "");
	assert_string_equal(out[1].name, "");
}

/* As sd_listen_fds: one of LISTEN_PID and LISTEN_FDS unset hands nothing
 * over, whatever the other says; a space is a valid name byte. */
static void test_like_systemd(void **state)
{
	(void)state;
	assert_int_equal(parse(NULL, "1", NULL, CAP), 0);
	assert_int_equal(parse("4242", NULL, NULL, CAP), 0);
	assert_int_equal(parse("4242", NULL, "a", CAP), 0);
	assert_int_equal(parse("4242", "1", "a b", CAP), 1);
	assert_string_equal(out[0].name, "a b");
}

static char name256[LISTEN_FDS_NAME_MAX + 2];	/* 256 x's */
static char second256[LISTEN_FDS_NAME_MAX + 4]; /* "a:" and 256 x's */

static void test_malformed(void **state)
{
	static const struct {
		const char *pid, *fds, *names;
		size_t cap;
		const char *want;
	} bad[] = {
		/* LISTEN_PID: a process id, decimal, no sign, no leading zero. */
		{"0", "1", NULL, CAP, "LISTEN_PID \"0\" is not a process id"},
		{"-1", "1", NULL, CAP, "LISTEN_PID \"-1\" is not"},
		{"+4242", "1", NULL, CAP, "LISTEN_PID \"+4242\" is not"},
		{"abc", "1", NULL, CAP, "LISTEN_PID \"abc\" is not"},
		{"", "1", NULL, CAP, "LISTEN_PID \"\" is not"},
		{"04242", "1", NULL, CAP, "LISTEN_PID \"04242\" is not"},
		{"4194305", "1", NULL, CAP, "LISTEN_PID \"4194305\" is not"}, /* > PID_MAX_LIMIT */
		{"99999999999999999999999", "1", NULL, CAP, "LISTEN_PID \"9999"},
		{" 4242", "1", NULL, CAP, "LISTEN_PID \" 4242\" is not"},
		{"4242 ", "1", NULL, CAP, "LISTEN_PID \"4242 \" is not"},
		{"42 42", "1", NULL, CAP, "LISTEN_PID \"42 42\" is not"},
		{"4242\n", "1", NULL, CAP, "LISTEN_PID \"4242\n\" is not"},
		/* LISTEN_FDS: 1 to LISTEN_FDS_MAX, when LISTEN_PID is ours. */
		{"4242", "0", NULL, CAP, "LISTEN_FDS \"0\": want 1 to 16 sockets"},
		{"4242", "17", NULL, CAP, "LISTEN_FDS \"17\": want 1 to 16"},
		{"4242", "-1", NULL, CAP, "LISTEN_FDS \"-1\": want"},
		{"4242", "+1", NULL, CAP, "LISTEN_FDS \"+1\": want"},
		{"4242", "1x", NULL, CAP, "LISTEN_FDS \"1x\": want"},
		{"4242", "", NULL, CAP, "LISTEN_FDS \"\": want"},
		{"4242", "01", NULL, CAP, "LISTEN_FDS \"01\": want"},
		{"4242", " 1", NULL, CAP, "LISTEN_FDS \" 1\": want"},
		{"4242", "18446744073709551617", NULL, CAP, "LISTEN_FDS \"1844"},
		/* More than the caller has room for. */
		{"4242", "4", NULL, 2, "LISTEN_FDS is 4; at most 2 are taken here"},
		{"4242", "1", "a", 0, "LISTEN_FDS is 1; at most 0 are taken here"},
		/* LISTEN_FDNAMES: exactly LISTEN_FDS names, each printable. */
		{"4242", "3", "a:b", CAP, "LISTEN_FDNAMES has 2 names for 3 sockets"},
		{"4242", "2", "a", CAP, "LISTEN_FDNAMES has 1 names for 2 sockets"},
		{"4242", "2", "a:b:c", CAP, "LISTEN_FDNAMES has more names than the 2 sockets"},
		{"4242", "1", "a:", CAP, "LISTEN_FDNAMES has more names than the 1 sockets"},
		{"4242", "2", "a:b:", CAP, "LISTEN_FDNAMES has more names than the 2 sockets"},
		{"4242", "1", ":", CAP, "LISTEN_FDNAMES has more names than the 1 sockets"},
		{"4242", "1", name256, CAP, "LISTEN_FDNAMES: name 1 is longer than 255 bytes"},
		{"4242", "2", second256, CAP, "LISTEN_FDNAMES: name 2 is longer than 255 bytes"},
		{"4242", "2", "a:b\x7f", CAP, "LISTEN_FDNAMES: name 2 has a byte that is not"},
		{"4242", "1", "\x80", CAP, "LISTEN_FDNAMES: name 1 has a byte that is not"},
		{"4242", "1", "\xc3\xa9", CAP, "LISTEN_FDNAMES: name 1 has a byte that is not"},
		{"4242", "1", "a\tb", CAP, "LISTEN_FDNAMES: name 1 has a byte that is not"},
		{"4242", "1", "\x1b[2J", CAP, "LISTEN_FDNAMES: name 1 has a byte that is not"},
	};

	(void)state;
	memset(name256, 'x', LISTEN_FDS_NAME_MAX + 1);
	memcpy(second256, "a:", 2);
	memset(second256 + 2, 'x', LISTEN_FDS_NAME_MAX + 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].pid, bad[i].fds, bad[i].names, bad[i].cap);
		if (rc != -EINVAL || !strstr(err, bad[i].want))
			fail_msg("row %zu (LISTEN_PID %s, LISTEN_FDS %s): rc %d, err \"%s\", "
				 "want -EINVAL and \"%s\"",
				 i, bad[i].pid ? bad[i].pid : "unset",
				 bad[i].fds ? bad[i].fds : "unset", rc, err, bad[i].want);
	}
}

/* A short err buffer gets a truncated, terminated message; none at all is
 * fine too. */
static void test_small_err(void **state)
{
	char small[12];

	(void)state;
	memset(small, 'z', sizeof(small));
	assert_int_equal(listen_fds_parse("0", "1", NULL, SELF, out, CAP, small, sizeof(small)),
			 -EINVAL);
	assert_string_equal(small, "LISTEN_PID ");
	assert_int_equal(listen_fds_parse("4242", "1", "a\tb", SELF, out, CAP, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset),	      cmocka_unit_test(test_other_pid),
		cmocka_unit_test(test_without_names), cmocka_unit_test(test_with_names),
		cmocka_unit_test(test_exactly_max),   cmocka_unit_test(test_empty_names),
		cmocka_unit_test(test_malformed),     cmocka_unit_test(test_small_err),
		cmocka_unit_test(test_like_systemd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
