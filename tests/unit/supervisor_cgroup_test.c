/* supervisor_cgroup_test: the supervisor the broker names from the text of
 * /proc/<pid>/cgroup (broker_supervisor_from_cgroup, broker/external.c), as
 * rows of one table: cgroup v2 and v1 (one line per hierarchy) as systemd,
 * podman and docker write them, user sessions, text that is not a cgroup
 * file, and outputs that do not fit: always NUL-terminated within cap,
 * nothing written past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "broker.h"

/* A container id as podman and docker make them (64 hex digits). */
#define ID "3f9c1d2e8b7a60514f2e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffee"
/* A unit name of 200 bytes: longer than the 80 of struct child's field. */
#define LONG50	  "msock-disco-with-a-very-long-instance-name-0123456"
#define LONG_UNIT LONG50 LONG50 LONG50 "msock-disco-with-a-very-long-instance-nam.service"
/* v1 as systemd 219 (CentOS 7) shows a service's process. */
#define V1_SERVICE                                          \
	"11:cpuset:/\n"                                     \
	"10:memory:/system.slice/msock-disco.service\n"     \
	"9:devices:/system.slice/msock-disco.service\n"     \
	"8:pids:/system.slice/msock-disco.service\n"        \
	"7:blkio:/system.slice/msock-disco.service\n"       \
	"6:cpu,cpuacct:/system.slice/msock-disco.service\n" \
	"5:freezer:/\n"                                     \
	"4:net_cls,net_prio:/\n"                            \
	"3:perf_event:/\n"                                  \
	"2:hugetlb:/\n"                                     \
	"1:name=systemd:/system.slice/msock-disco.service\n"

/* text and its length, NUL bytes inside it included */
#define T(s) s, sizeof(s) - 1

enum {
	CAP = 80,	 /* sizeof(((struct child *)0)->supervisor) */
	OUT_BYTES = 512, /* out[] of the test: cap plus room to see a write past it */
	CANARY = '#',
};

/* `s` for a message: bytes outside printable ASCII as \xNN. */
static const char *escaped(const char *s, size_t len, char *buf)
{
	char *p = buf;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			*p++ = (char)c;
		else
			p += sprintf(p, "\\x%02x", c);
	}
	*p = 0;
	return buf;
}

static void test_supervisors(void **state)
{
	static const struct {
		const char *text;
		size_t len, cap;
		const char *want;
	} rows[] = {
		/* cgroup v2: the unit is the last element of the path. */
		{T("0::/system.slice/msock-disco.service\n"), CAP, "systemd (msock-disco.service)"},
		{T("0::/system.slice/msock-disco.service"), CAP, "systemd (msock-disco.service)"},
		{T("0::/system.slice/system-msock\\x2ddisco.slice/msock-disco@wg0.service\n"), CAP,
		 "systemd (msock-disco@wg0.service)"},
		/* A user's systemd (systemctl --user) is systemd too. */
		{T("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
		   "msock-disco.service\n"),
		 CAP, "systemd (msock-disco.service)"},
		/* Started by hand from a login shell: no supervisor. */
		{T("0::/user.slice/user-0.slice/session-3.scope\n"), CAP, "external"},
		{T("0::/init.scope\n"), CAP, "external"},
		/* Our cgroup namespace's root (a container's own view, or a
		 * process in no unit at all). */
		{T("0::/\n"), CAP, "external"},
		/* cgroup v1, one line per hierarchy, and hybrid (v1 and "0::"). */
		{T(V1_SERVICE), CAP, "systemd (msock-disco.service)"},
		{T(V1_SERVICE "0::/system.slice/msock-disco.service\n"), CAP,
		 "systemd (msock-disco.service)"},
		{T("2:cpu,cpuacct:/\n1:name=systemd:/system.slice/msock-disco.service"), CAP,
		 "systemd (msock-disco.service)"},
		/* podman: systemd's cgroup manager, rootful and rootless; cgroupfs. */
		{T("0::/machine.slice/libpod-" ID ".scope/container\n"), CAP, "podman"},
		{T("0::/machine.slice/libpod-" ID ".scope\n"), CAP, "podman"},
		{T("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID
		   ".scope/container\n"),
		 CAP, "podman"},
		{T("0::/libpod_parent/libpod-" ID "\n"), CAP, "podman"},
		/* A unit of the systemd inside a podman container (podman run
		 * --systemd=always), as the host sees it: the runtime wins over the
		 * unit it runs. Seen from inside the container (its own cgroup
		 * namespace) the path is only the unit's, as in the first row. */
		{T("0::/machine.slice/libpod-" ID ".scope/system.slice/msock-disco.service\n"), CAP,
		 "podman"},
		/* docker: systemd's cgroup driver (v2), cgroupfs (v1). */
		{T("0::/system.slice/docker-" ID ".scope\n"), CAP, "docker"},
		{T("12:pids:/docker/" ID "\n11:memory:/docker/" ID "\n1:name=systemd:/docker/" ID
		   "\n"),
		 CAP, "docker"},
		/* The runtime wins on whichever line it is. */
		{T("1:name=systemd:/system.slice/msock-disco.service\n2:pids:/docker/" ID "\n"),
		 CAP, "docker"},
		{T("2:pids:/docker/" ID "\n1:name=systemd:/system.slice/msock-disco.service\n"),
		 CAP, "docker"},
		/* Not a cgroup file: no colons, one colon, empty. */
		{T("/system.slice/msock-disco.service\n"), CAP, "external"},
		{T("system.slice msock-disco.service"), CAP, "external"},
		{T("0:/system.slice/msock-disco.service\n"), CAP, "external"},
		{T(""), CAP, "external"},
		{T("\n"), CAP, "external"},
		{T("::"), CAP, "external"},
		{T("0::"), CAP, "external"},
		{T("0::msock-disco.service"), CAP, "external"}, /* not a path */
		/* NUL bytes outside the unit's name (a hierarchy id, the rest of a
		 * buffer) do not hide it. */
		{T("0\0::/system.slice/msock-disco.service"), CAP, "systemd (msock-disco.service)"},
		{T("0::/system.slice/msock-disco.service\n\0\0\0\0"), CAP,
		 "systemd (msock-disco.service)"},
		/* A last element that is no unit name (systemd's unit_name_is_valid:
		 * letters, digits, ":-_.\\@", something before the suffix) names no
		 * unit: a NUL would cut it, and other bytes would reach the log, a
		 * terminal, and msockctl status (jansson takes only UTF-8 strings). */
		{T("0::/system.slice/msock\0disco.service"), CAP, "external"},
		{T("0::/system.slice/\x1b[2J\x1b[31mred.service\n"), CAP, "external"},
		{T("0::/system.slice/caf\xe9.service\n"), CAP, "external"},
		{T("0::/system.slice/a b.service\n"), CAP, "external"},
		{T("0::/system.slice/.service\n"), CAP, "external"},
		{T("1:name=systemd:/system.slice/msock-disco.service\n0::/x/\x01.service\n"), CAP,
		 "systemd (msock-disco.service)"},
		/* Only len bytes are read. */
		{"0::/system.slice/msock-disco.service", 33, CAP, "external"},
		{"0::/machine.slice/libpod-" ID ".scope", 18, CAP, "external"},
		{"0::/system.slice/docker-" ID ".scope", 17, CAP, "external"},
		{V1_SERVICE, 12, CAP, "external"},
		{"0::/system.slice/msock-disco.service\n0::/machine.slice/libpod-" ID, 37, CAP,
		 "systemd (msock-disco.service)"},
		/* A small cap: cut, and terminated. */
		{T("0::/system.slice/msock-disco.service\n"), 31, "systemd (msock-disco.service)"},
		{T("0::/user.slice/user-0.slice/session-3.scope\n"), 8, "externa"},
		{T("0::/machine.slice/libpod-" ID ".scope\n"), 1, ""},
		{T("0::/machine.slice/libpod-" ID ".scope\n"), 4, "pod"},
		{T("0::/system.slice/docker-" ID ".scope\n"), 7, "docker"},
		{T("0::/system.slice/a.service\n"), 8, "systemd"},
		{T(""), 1, ""},
		/* A unit whose name does not fit is still systemd's. */
		{T("0::/system.slice/msock-disco.service\n"), 30, "systemd (msock-disco.service)"},
		{T("0::/system.slice/msock-disco.service\n"), 29, "systemd"},
		{T("0::/system.slice/" LONG_UNIT "\n"), CAP, "systemd"},
		{T("0::/system.slice/msock-disco.service\n"), 10, "systemd"},
		{T("0::/system.slice/msock-disco.service\n"), 9, "systemd"},
		{T("0::/system.slice/msock-disco.service\n"), 5, "syst"},
		{T("0::/system.slice/" LONG_UNIT "\n"), 256, "systemd (" LONG_UNIT ")"},
	};
	char out[OUT_BYTES], shown[2][OUT_BYTES * 4];
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(out, CANARY, sizeof(out));
		broker_supervisor_from_cgroup(rows[i].text, rows[i].len, out, rows[i].cap);
		if (!memchr(out, 0, rows[i].cap))
			fail_msg("row %zu: not NUL-terminated within cap %zu", i, rows[i].cap);
		for (size_t k = rows[i].cap; k < sizeof(out); k++)
			if (out[k] != CANARY)
				fail_msg("row %zu: byte %zu written past cap %zu", i, k,
					 rows[i].cap);
		if (strcmp(out, rows[i].want) != 0) {
			print_error("row %zu (%s, cap %zu): \"%s\", want \"%s\"\n", i,
				    escaped(rows[i].text, rows[i].len < 48 ? rows[i].len : 48,
					    shown[0]),
				    rows[i].cap, escaped(out, strlen(out), shown[1]), rows[i].want);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* broker_cgroup_relative, and the supervisor named from its answer: a
 * component seen from the broker's own cgroup. */
static void test_relative(void **state)
{
	static const struct {
		const char *text, *self, *rel, *who;
	} rows[] = {
		/* systemd booted in podman, sharing the host's cgroup namespace:
		 * the container both run in says nothing. */
		{"0::/libpod_parent/libpod-ab12/system.slice/msock-disco.service\n",
		 "0::/libpod_parent/libpod-ab12/system.slice/msock-broker.service\n",
		 "0::/msock-disco.service\n", "systemd (msock-disco.service)"},
		/* The broker on the host, the component in a container. */
		{"0::/libpod_parent/libpod-ab12/system.slice/msock-disco.service\n", "0::/\n",
		 "0::/libpod_parent/libpod-ab12/system.slice/msock-disco.service\n", "podman"},
		/* Both units of the host's systemd. */
		{"0::/system.slice/msock-disco.service\n",
		 "0::/system.slice/msock-broker.service\n", "0::/msock-disco.service\n",
		 "systemd (msock-disco.service)"},
		/* In the broker's own cgroup (the broker started it). */
		{"0::/system.slice/msock.service\n", "0::/system.slice/msock.service\n", "0::/\n",
		 "external"},
		/* A shared prefix that is not a whole element is not shared. */
		{"0::/abc/x.service\n", "0::/ab/y.service\n", "0::/abc/x.service\n",
		 "systemd (x.service)"},
		/* cgroup v1: each hierarchy against its own line of self. */
		{"12:pids:/libpod-1/a.service\n1:name=systemd:/libpod-1/system.slice/a.service\n",
		 "1:name=systemd:/libpod-1/system.slice/b.service\n12:pids:/libpod-1/b.service\n",
		 "12:pids:/a.service\n1:name=systemd:/a.service\n", "systemd (a.service)"},
		/* No line of self for the hierarchy, or no self at all: as is. */
		{"0::/x/y.service\n", "1:cpu:/x\n", "0::/x/y.service\n", "systemd (y.service)"},
		{"0::/x/y.service", "", "0::/x/y.service", "systemd (y.service)"},
		/* Not a cgroup line: copied. */
		{"garbage", "0::/\n", "garbage", "external"},
	};
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char rel[256], who[80];
		size_t n = broker_cgroup_relative(rows[i].text, strlen(rows[i].text), rows[i].self,
						  strlen(rows[i].self), rel, sizeof(rel));
		broker_supervisor_from_cgroup(rel, n, who, sizeof(who));
		if (n != strlen(rel) || strcmp(rel, rows[i].rel) || strcmp(who, rows[i].who)) {
			print_message(
				"row %zu: \"%s\" -> \"%s\" (%zu) \"%s\", want \"%s\" \"%s\"\n", i,
				rows[i].text, rel, n, who, rows[i].rel, rows[i].who);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
	/* Cut to cap, NUL-terminated. */
	char small[8];
	assert_int_equal(broker_cgroup_relative("0::/abcdefghij", 14, "", 0, small, sizeof(small)),
			 7);
	assert_string_equal(small, "0::/abc");
	assert_int_equal(broker_cgroup_relative("0::/a/b.service\n0::/c", 22, "0::/a/x", 7, small,
						sizeof(small)),
			 7);
	assert_int_equal(strlen(small), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supervisors),
		cmocka_unit_test(test_relative),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
