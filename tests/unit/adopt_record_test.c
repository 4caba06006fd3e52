/* adopt_record_test: the broker's record of the components it runs
 * (broker/adopt.h, adopt_record.c): what is formatted parses back to the
 * same entries, every malformed line is refused naming its line and field,
 * and the start time is read from /proc/<pid>/stat whatever the comm. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adopt.h"

enum {
	FORMAT_BUF_BYTES = 16384, /* more than any record of ADOPT_MAX_ENTRIES */
	ERR_BYTES = 256,	  /* as broker_adopt_children's */
};

/* 64 characters: eight of them make a line longer than the 511 bytes a
 * line may have. */
#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static struct adopt_entry entry(const char *name, const char *program, pid_t pid,
				uint64_t start_ticks, uint32_t restarts, uint64_t started_ns,
				int fd0, int fd1, int fd2)
{
	struct adopt_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.program, sizeof(e.program), "%s", program);
	e.pid = pid;
	e.start_ticks = start_ticks;
	e.restarts = restarts;
	e.started_ns = started_ns;
	e.fds[0] = fd0;
	e.fds[1] = fd1;
	e.fds[2] = fd2;
	return e;
}

static void assert_entry_equal(const struct adopt_entry *a, const struct adopt_entry *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->program, b->program);
	assert_int_equal(a->pid, b->pid);
	assert_true(a->start_ticks == b->start_ticks);
	assert_true(a->restarts == b->restarts);
	assert_true(a->started_ns == b->started_ns);
	for (int i = 0; i < 3; i++)
		assert_int_equal(a->fds[i], b->fds[i]);
}

/* Parses the NUL-terminated text; fails the test with the error if it
 * does not parse. */
static size_t parse_ok(const char *text, struct adopt_entry *out, size_t cap)
{
	char err[ERR_BYTES] = "";
	size_t n = 0;
	int rc = adopt_record_parse(text, strlen(text), out, cap, &n, err, sizeof(err));

	if (rc != 0)
		fail_msg("\"%s\": rc %d, \"%s\"", text, rc, err);
	return n;
}

static void test_round_trip(void **state)
{
	const struct adopt_entry in[] = {
		entry("dataplane", "dataplane", 4194304, INT64_MAX, UINT32_MAX, INT64_MAX, 3, 4,
		      65535),
		entry("disco", "disco", 1, 1, 0, 0, -1, -1, -1),
		entry("netcheck", "netcheck", 1234, 5678, 2, 123456789012345, 0, -1, 7),
		entry("abcdefghijklmnopqrstuvwxyz01234", "0123456789_-abcdefghijklmnopqrs", 99,
		      18446744073709551615ull >> 1, 4294967294u, 1, -1, 65534, -1),
	};
	const size_t n_in = sizeof(in) / sizeof(in[0]);
	struct adopt_entry out[ADOPT_MAX_ENTRIES];
	char buf[FORMAT_BUF_BYTES];
	int len;

	(void)state;
	len = adopt_record_format(in, n_in, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal((size_t)len, strlen(buf));
	/* Starts with a comment, ends with a newline. */
	assert_int_equal(buf[0], '#');
	assert_int_equal(buf[len - 1], '\n');
	assert_non_null(strstr(buf, "child dataplane dataplane 4194304 9223372036854775807 "
				    "4294967295 9223372036854775807 3 4 65535\n"));
	assert_non_null(strstr(buf, "child disco disco 1 1 0 0 -1 -1 -1\n"));
	assert_int_equal(parse_ok(buf, out, ADOPT_MAX_ENTRIES), n_in);
	for (size_t i = 0; i < n_in; i++)
		assert_entry_equal(&out[i], &in[i]);

	/* No entries: only the comment, which parses to none. */
	len = adopt_record_format(in, 0, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(parse_ok(buf, out, ADOPT_MAX_ENTRIES), 0);
}

/* A record of ADOPT_MAX_ENTRIES entries fills a table of that many; one
 * fewer is refused at the last line. */
static void test_round_trip_full(void **state)
{
	static struct adopt_entry in[ADOPT_MAX_ENTRIES], out[ADOPT_MAX_ENTRIES];
	char buf[FORMAT_BUF_BYTES], err[ERR_BYTES] = "", want[64];
	size_t n = 0;
	int len;

	(void)state;
	for (int i = 0; i < ADOPT_MAX_ENTRIES; i++) {
		char name[ADOPT_NAME_MAX];
		snprintf(name, sizeof(name), "comp-%d", i);
		in[i] = entry(name, "testcomp", 100 + i, 1000 + (uint64_t)i, (uint32_t)i,
			      (uint64_t)i * 1000000000u, i % 2 ? -1 : i, -1, i);
	}
	len = adopt_record_format(in, ADOPT_MAX_ENTRIES, buf, sizeof(buf));
	assert_true(len > 0);
	/* The broker writes it into ADOPT_RECORD_MAX_BYTES. */
	assert_true(len < ADOPT_RECORD_MAX_BYTES);
	assert_int_equal(parse_ok(buf, out, ADOPT_MAX_ENTRIES), ADOPT_MAX_ENTRIES);
	for (int i = 0; i < ADOPT_MAX_ENTRIES; i++)
		assert_entry_equal(&out[i], &in[i]);
	assert_int_equal(adopt_record_parse(buf, (size_t)len, out, ADOPT_MAX_ENTRIES - 1, &n, err,
					    sizeof(err)),
			 -EINVAL);
	/* Line 1 is the comment. */
	snprintf(want, sizeof(want), "line %d: more than %d components", ADOPT_MAX_ENTRIES + 1,
		 ADOPT_MAX_ENTRIES - 1);
	assert_string_equal(err, want);
}

static void test_comments_and_empty_lines(void **state)
{
	struct adopt_entry out[ADOPT_MAX_ENTRIES];
	const char *text = "# a record\n"
			   "\n"
			   "#child bad line 0 0 0 0 0 0 0\n"
			   "child disco disco 10 20 1 30 -1 -1 -1\n"
			   "\n"
			   "\n"
			   "# between\n"
			   "child dataplane dataplane 11 21 0 31 5 6 7\n"
			   "#\n";
	const struct adopt_entry want[] = {
		entry("disco", "disco", 10, 20, 1, 30, -1, -1, -1),
		entry("dataplane", "dataplane", 11, 21, 0, 31, 5, 6, 7),
	};

	(void)state;
	assert_int_equal(parse_ok(text, out, ADOPT_MAX_ENTRIES), 2);
	assert_entry_equal(&out[0], &want[0]);
	assert_entry_equal(&out[1], &want[1]);
	/* Nothing at all, or only comments: no entries, no error. */
	assert_int_equal(parse_ok("", out, ADOPT_MAX_ENTRIES), 0);
	assert_int_equal(parse_ok("\n\n# x\n", out, ADOPT_MAX_ENTRIES), 0);
	/* A comment of the longest line there may be (511 bytes). */
	assert_int_equal(parse_ok("# " X64 X64 X64 X64 X64 X64 X64
				  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				  "xxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
				  out, ADOPT_MAX_ENTRIES),
			 0);
}

static void test_no_trailing_newline(void **state)
{
	struct adopt_entry out[ADOPT_MAX_ENTRIES];
	const struct adopt_entry want = entry("disco", "disco", 42, 7, 3, 9, -1, 12, -1);

	(void)state;
	assert_int_equal(parse_ok("child disco disco 42 7 3 9 -1 12 -1", out, ADOPT_MAX_ENTRIES),
			 1);
	assert_entry_equal(&out[0], &want);
	assert_int_equal(
		parse_ok("# x\nchild disco disco 42 7 3 9 -1 12 -1", out, ADOPT_MAX_ENTRIES), 1);
	assert_entry_equal(&out[0], &want);
	/* Only len bytes count: what follows them is not read. */
	{
		const char *t = "child disco disco 42 7 3 9 -1 12 -1 and more";
		char err[ERR_BYTES] = "";
		size_t n = 0;
		assert_int_equal(adopt_record_parse(t,
						    strlen("child disco disco 42 7 3 9 -1 12 -1"),
						    out, ADOPT_MAX_ENTRIES, &n, err, sizeof(err)),
				 0);
		assert_int_equal(n, 1);
		assert_entry_equal(&out[0], &want);
	}
}

/* The edges of every range parse. */
static void test_edges_accepted(void **state)
{
	struct adopt_entry out[ADOPT_MAX_ENTRIES];
	const struct adopt_entry want[] = {
		entry("a", "b", 1, 1, 0, 0, 0, 0, 0),
		entry("abcdefghijklmnopqrstuvwxyz-_012", "p", 4194304, INT64_MAX, UINT32_MAX,
		      INT64_MAX, 65535, 65535, 65535),
	};

	(void)state;
	assert_int_equal(parse_ok("child a b 1 1 0 0 0 0 0\n"
				  "child abcdefghijklmnopqrstuvwxyz-_012 p 4194304 "
				  "9223372036854775807 4294967295 9223372036854775807 65535 65535 "
				  "65535\n",
				  out, ADOPT_MAX_ENTRIES),
			 2);
	assert_entry_equal(&out[0], &want[0]);
	assert_entry_equal(&out[1], &want[1]);
}

/* Every malformed record is refused with -EINVAL and "line N: <field>..."
 * (a row's length is its literal's, so that it may hold a NUL byte). */
static void test_malformed(void **state)
{
#define ROW(text, err)                                         \
	{                                                      \
		text, sizeof(text) - 1, ADOPT_MAX_ENTRIES, err \
	}
#define ROW_CAP(text, cap, err)                  \
	{                                        \
		text, sizeof(text) - 1, cap, err \
	}
#define OK_LINE "child ok ok 1 1 0 0 -1 -1 -1\n"
	static const struct {
		const char *text;
		size_t len, cap;
		const char *err;
	} bad[] = {
		/* Field count and keyword. */
		ROW("child a a 1 1 0 0 -1 -1", "line 1: 9 fields, want 10"),
		ROW("child", "line 1: 1 fields, want 10"),
		ROW("child a a 1 1 0 0 -1 -1 -1 -1", "line 1: more than 10 fields"),
		ROW(OK_LINE "# x\nchild b b 1 1 0 0 -1 -1 -1 extra\n",
		    "line 3: more than 10 fields"),
		ROW("kid a a 1 1 0 0 -1 -1 -1", "line 1: unknown keyword \"kid\""),
		ROW("Child a a 1 1 0 0 -1 -1 -1", "line 1: unknown keyword \"Child\""),
		ROW("\n\n" OK_LINE "adopt a a 1 1 0 0 -1 -1 -1\n",
		    "line 4: unknown keyword \"adopt\""),
		/* Names: [a-z0-9_-]{1,31}. */
		ROW("child Disco a 1 1 0 0 -1 -1 -1",
		    "line 1: name \"Disco\": want [a-z0-9_-]{1,31}"),
		ROW("child a.b a 1 1 0 0 -1 -1 -1", "line 1: name \"a.b\""),
		ROW("child a/b a 1 1 0 0 -1 -1 -1", "line 1: name \"a/b\""),
		ROW("child a\tb a 1 1 0 0 -1 -1 -1", "line 1: name \"a\tb\""),
		ROW("child \xc3\xa9 a 1 1 0 0 -1 -1 -1", "line 1: name \"\xc3\xa9\""),
		ROW("child a prog! 1 1 0 0 -1 -1 -1", "line 1: program \"prog!\""),
		ROW("child abcdefghijklmnopqrstuvwxyz012345 a 1 1 0 0 -1 -1 -1",
		    "line 1: name \"abcdefghijklmnopqrstuvwxyz012345\""),
		ROW("child a abcdefghijklmnopqrstuvwxyz012345 1 1 0 0 -1 -1 -1",
		    "line 1: program \"abcdefghijklmnopqrstuvwxyz012345\""),
		/* One space between fields and none around them (an empty name
		 * is one case). */
		ROW("child  a 1 1 0 0 -1 -1 -1", "line 1: name empty"),
		ROW("child a  1 1 0 0 -1 -1 -1", "line 1: program empty"),
		ROW("child a a 1  1 0 0 -1 -1 -1", "line 1: start ticks empty"),
		ROW(" child a a 1 1 0 0 -1 -1 -1", "line 1: keyword empty"),
		ROW(" ", "line 1: keyword empty"),
		ROW("child a a 1 1 0 0 -1 -1 ", "line 1: wg fd empty"),
		ROW("child a a 1 1 0 0 -1 -1 -1 ", "line 1: a space after the last field"),
		ROW(OK_LINE "\nchild b b 2 1 0 0 -1 -1  -1\n", "line 3: wg fd empty"),
		/* pid: 1 to PID_MAX_LIMIT, plain decimal. */
		ROW("child a a 0 1 0 0 -1 -1 -1", "line 1: pid \"0\": want 1 to 4194304"),
		ROW("child a a 4194305 1 0 0 -1 -1 -1", "line 1: pid \"4194305\""),
		ROW("child a a 99999999999999999999 1 0 0 -1 -1 -1",
		    "line 1: pid \"99999999999999999999\""),
		ROW("child a a +5 1 0 0 -1 -1 -1", "line 1: pid \"+5\""),
		ROW("child a a -5 1 0 0 -1 -1 -1", "line 1: pid \"-5\""),
		ROW("child a a -1 1 0 0 -1 -1 -1", "line 1: pid \"-1\""),
		ROW("child a a 05 1 0 0 -1 -1 -1", "line 1: pid \"05\""),
		ROW("child a a 0x10 1 0 0 -1 -1 -1", "line 1: pid \"0x10\""),
		ROW("child a a 12a 1 0 0 -1 -1 -1", "line 1: pid \"12a\""),
		/* The other numbers. */
		ROW("child a a 1 0 0 0 -1 -1 -1",
		    "line 1: start ticks \"0\": want 1 to 9223372036854775807"),
		ROW("child a a 1 9223372036854775808 0 0 -1 -1 -1",
		    "line 1: start ticks \"9223372036854775808\""),
		ROW("child a a 1 1 4294967296 0 -1 -1 -1",
		    "line 1: restarts \"4294967296\": want 0 to 4294967295"),
		ROW("child a a 1 1 -1 0 -1 -1 -1", "line 1: restarts \"-1\""),
		ROW("child a a 1 1 0 9223372036854775808 -1 -1 -1",
		    "line 1: started ns \"9223372036854775808\""),
		ROW("child a a 1 1 0 18446744073709551616 -1 -1 -1",
		    "line 1: started ns \"18446744073709551616\""),
		/* fds: -1 or 0 to 65535. */
		ROW("child a a 1 1 0 0 -2 -1 -1", "line 1: udp4 fd \"-2\": want -1 or 0 to 65535"),
		ROW("child a a 1 1 0 0 -1 -3 -1", "line 1: udp6 fd \"-3\""),
		ROW("child a a 1 1 0 0 -1 -1 65536", "line 1: wg fd \"65536\""),
		ROW("child a a 1 1 0 0 -0 -1 -1", "line 1: udp4 fd \"-0\""),
		ROW("child a a 1 1 0 0 -1 -01 -1", "line 1: udp6 fd \"-01\""),
		ROW("child a a 1 1 0 0 -1 -1 +1", "line 1: wg fd \"+1\""),
		ROW("child a a 1 1 0 0 -1 -1 -1\r\n", "line 1: wg fd \"-1\r\""),
		/* The bytes of a line. */
		ROW("child a a 1 1 0 0 -1 -1 -1\0", "line 1: a NUL byte"),
		ROW(OK_LINE "# a\0b\n", "line 2: a NUL byte"),
		ROW(OK_LINE "\n\0\n", "line 3: a NUL byte"),
		ROW("# " X64 X64 X64 X64 X64 X64 X64 X64 "\n", "line 1: longer than 511 bytes"),
		ROW(OK_LINE "\n# " X64 X64 X64 X64 X64 X64 X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		    "line 3: longer than 511 bytes"),
		/* The record as a whole. */
		ROW("child a a 1 1 0 0 -1 -1 -1\n"
		    "child b a 2 1 0 0 -1 -1 -1\n"
		    "\n"
		    "# again\n"
		    "child a b 3 1 0 0 -1 -1 -1\n",
		    "line 5: component a twice"),
		ROW_CAP("child a a 1 1 0 0 -1 -1 -1\n"
			"# c\n"
			"child b b 2 1 0 0 -1 -1 -1\n"
			"\n"
			"child c c 3 1 0 0 -1 -1 -1\n",
			2, "line 5: more than 2 components"),
		ROW_CAP(OK_LINE, 0, "line 1: more than 0 components"),
		/* The first error ends the parse. */
		ROW(OK_LINE "child b b 0 1 0 0 -1 -1 -1\nchild c c 0 0 0 0 -1 -1 -1\n",
		    "line 2: pid \"0\""),
	};
#undef ROW
#undef ROW_CAP
#undef OK_LINE
	struct adopt_entry out[ADOPT_MAX_ENTRIES];
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[ERR_BYTES] = "";
		size_t n = 0;
		int rc = adopt_record_parse(bad[i].text, bad[i].len, out, bad[i].cap, &n, err,
					    sizeof(err));

		/* The error starts "line N:" exactly (not "line N0:"), and holds
		 * the rest of the row's text. */
		if (rc != -EINVAL || strncmp(err, bad[i].err, strcspn(bad[i].err, ":") + 1) != 0 ||
		    !strstr(err, bad[i].err)) {
			print_error(
				"row %zu \"%.60s\": rc %d, err \"%s\", want -EINVAL and \"%s\"\n",
				i, bad[i].text, rc, err, bad[i].err);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* A line of /proc/<pid>/stat with the given comm and field k = k * 10,
 * but field 22 (the start time) = ticks. */
static void fake_stat(char *buf, size_t cap, const char *comm, const char *ticks)
{
	size_t used = (size_t)snprintf(buf, cap, "12 (%s) S", comm);

	for (int k = 4; k <= 52; k++) {
		if (k == 22)
			used += (size_t)snprintf(buf + used, cap - used, " %s", ticks);
		else
			used += (size_t)snprintf(buf + used, cap - used, " %d", k * 10);
	}
	snprintf(buf + used, cap - used, "\n");
}

static int start_ticks(const char *stat, uint64_t *ticks)
{
	return adopt_proc_start_ticks(stat, strlen(stat), ticks);
}

static void test_start_ticks_self(void **state)
{
	char buf[ADOPT_STAT_MAX_BYTES];
	unsigned long long want = 0;
	uint64_t ticks = 0;
	ssize_t len;
	int fd;

	(void)state;
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(len > 0);
	buf[len] = 0;
	/* The other way: after the last ')', skip the state and fields 4 to
	 * 21 as words, then read starttime (proc(5)). */
	assert_int_equal(sscanf(strrchr(buf, ')'),
				") %*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				"%*s %*s %*s %llu",
				&want),
			 1);
	assert_true(want > 0);
	assert_int_equal(adopt_proc_start_ticks(buf, (size_t)len, &ticks), 0);
	assert_true(ticks == want);
}

static void test_start_ticks_comm(void **state)
{
	static const char *const comms[] = {
		"a", "a) b) c", "a b", ")", "))", "(x) 1 2 3", "", "x (y) z) S 5",
	};
	char buf[ADOPT_STAT_MAX_BYTES];
	uint64_t ticks;

	(void)state;
	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		fake_stat(buf, sizeof(buf), comms[i], "987654321");
		ticks = 0;
		if (start_ticks(buf, &ticks) != 0 || ticks != 987654321)
			fail_msg("comm \"%s\": ticks %llu", comms[i], (unsigned long long)ticks);
	}
	/* proc(5): comm is not escaped; the fields start after the last ')'. */
	assert_int_equal(start_ticks("12 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
				     "4242 20 21 22\n",
				     &ticks),
			 0);
	assert_true(ticks == 4242);
	/* The largest a uint64_t holds; the last field of a line. */
	fake_stat(buf, sizeof(buf), "a", "18446744073709551615");
	assert_int_equal(start_ticks(buf, &ticks), 0);
	assert_true(ticks == UINT64_MAX);
	assert_int_equal(
		start_ticks("1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 77", &ticks), 0);
	assert_true(ticks == 77);
}

static void test_start_ticks_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"12",
		"12 (a",						      /* no ')' */
		"12 a S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",  /* no comm */
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",	      /* to field 20 */
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18",      /* to field 21 */
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 ",     /* field 22 empty */
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x 20", /* not a number */
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12x 20",
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -1 20",
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 +1 20",
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 0 20", /* zero */
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 18446744073709551616 20",
		"12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99999999999999999999999 20",
		"12 (a)S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", /* no space */
		"12 (a)\tS\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\t14\t15\t16\t17\t18\t19",
	};
	char buf[ADOPT_STAT_MAX_BYTES + 16];
	uint64_t ticks;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (start_ticks(bad[i], &ticks) != -EINVAL)
			fail_msg("\"%s\" parsed (%llu)", bad[i], (unsigned long long)ticks);

	/* Only len bytes count: cut before field 22 it is refused, even if the
	 * rest of the line follows in memory. */
	fake_stat(buf, sizeof(buf), "a", "555");
	len = (size_t)(strstr(buf, " 555") - buf);
	assert_int_equal(adopt_proc_start_ticks(buf, len, &ticks), -EINVAL);
	assert_int_equal(adopt_proc_start_ticks(buf, len + 1, &ticks), -EINVAL);
	assert_int_equal(adopt_proc_start_ticks(buf, len + 3, &ticks), 0);
	assert_true(ticks == 55);
	/* Cut inside the comm: no ')'. */
	assert_int_equal(adopt_proc_start_ticks(buf, 4, &ticks), -EINVAL);
	/* A NUL byte within len. */
	assert_int_equal(adopt_proc_start_ticks(buf, strlen(buf) + 1, &ticks), -EINVAL);
	buf[1] = 0;
	assert_int_equal(adopt_proc_start_ticks(buf, strlen(buf + 2) + 2, &ticks), -EINVAL);

	/* ADOPT_STAT_MAX_BYTES - 1 bytes parse; ADOPT_STAT_MAX_BYTES do not. */
	fake_stat(buf, sizeof(buf), "a", "555");
	len = strlen(buf);
	memset(buf + len, ' ', sizeof(buf) - len);
	buf[ADOPT_STAT_MAX_BYTES - 1] = 0;
	assert_int_equal(adopt_proc_start_ticks(buf, ADOPT_STAT_MAX_BYTES - 1, &ticks), 0);
	assert_true(ticks == 555);
	buf[ADOPT_STAT_MAX_BYTES - 1] = ' ';
	buf[ADOPT_STAT_MAX_BYTES] = 0;
	assert_int_equal(adopt_proc_start_ticks(buf, ADOPT_STAT_MAX_BYTES, &ticks), -EINVAL);
	assert_int_equal(adopt_proc_start_ticks(buf, ADOPT_STAT_MAX_BYTES + 1, &ticks), -EINVAL);
}

static void test_format_no_space(void **state)
{
	const struct adopt_entry e[] = {
		entry("dataplane", "dataplane", 4194304, INT64_MAX, UINT32_MAX, INT64_MAX, 3, 4,
		      65535),
		entry("disco", "disco", 1, 1, 0, 0, -1, -1, -1),
	};
	char big[FORMAT_BUF_BYTES], comment[FORMAT_BUF_BYTES], *exact;
	int need, header;

	(void)state;
	need = adopt_record_format(e, 2, big, sizeof(big));
	assert_true(need > 0);
	header = adopt_record_format(e, 0, comment, sizeof(comment));
	assert_true(header > 0 && header < need);
	/* A buffer of exactly the size it needs (the text and its NUL), on the
	 * heap so that ASan sees a write past it. */
	exact = malloc((size_t)need + 1);
	assert_non_null(exact);
	assert_int_equal(adopt_record_format(e, 2, exact, (size_t)need + 1), need);
	assert_string_equal(exact, big);
	/* One byte short: the last entry's newline or NUL does not fit. */
	assert_int_equal(adopt_record_format(e, 2, exact, (size_t)need), -ENOSPC);
	/* Room for the comment only, for less than it, for nothing. */
	assert_int_equal(adopt_record_format(e, 2, exact, (size_t)header + 1), -ENOSPC);
	assert_int_equal(adopt_record_format(e, 0, exact, (size_t)header), -ENOSPC);
	assert_int_equal(adopt_record_format(e, 2, exact, 8), -ENOSPC);
	assert_int_equal(adopt_record_format(e, 2, exact, 1), -ENOSPC);
	assert_int_equal(adopt_record_format(e, 2, exact, 0), -ENOSPC);
	free(exact);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_full),
		cmocka_unit_test(test_comments_and_empty_lines),
		cmocka_unit_test(test_no_trailing_newline),
		cmocka_unit_test(test_edges_accepted),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_start_ticks_self),
		cmocka_unit_test(test_start_ticks_comm),
		cmocka_unit_test(test_start_ticks_refused),
		cmocka_unit_test(test_format_no_space),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
