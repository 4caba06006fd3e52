/* bus_ident_test: the parsers of who is on a bus connection (lib/bus_ident.h):
 * libzmq's "<host>:<uid>:<gid>:<pid>" peer address, well formed and not,
 * and the User-Id the broker's ZAP handler gives back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bus_ident.h"

static void test_address_parsed(void **state)
{
	struct bus_peer_creds c;
	const char *why = 0;
	/* As libzmq 4.3.4 writes it (glibc's getnameinfo answers "localhost"). */
	const char *a = "localhost:61002:62002:4242";

	(void)state;
	assert_int_equal(bus_peer_creds_parse(a, strlen(a), &c, &why), 0);
	assert_int_equal(c.uid, 61002);
	assert_int_equal(c.gid, 62002);
	assert_int_equal(c.pid, 4242);
	/* Root, and the largest uid. */
	a = "localhost:0:0:1";
	assert_int_equal(bus_peer_creds_parse(a, strlen(a), &c, &why), 0);
	assert_int_equal(c.uid, 0);
	a = "x:4294967295:4294967295:2147483647";
	assert_int_equal(bus_peer_creds_parse(a, strlen(a), &c, &why), 0);
	assert_int_equal(c.uid, 4294967295u);
	assert_int_equal(c.pid, 2147483647);
	/* Only len bytes count: a longer buffer is not read past it. */
	a = "localhost:1:2:3trailing";
	assert_int_equal(bus_peer_creds_parse(a, strlen("localhost:1:2:3"), &c, &why), 0);
	assert_int_equal(c.pid, 3);
	/* pid 0: a peer in a pid namespace the broker cannot see into. */
	a = "localhost:61002:61002:0";
	assert_int_equal(bus_peer_creds_parse(a, strlen(a), &c, &why), 0);
	assert_int_equal(c.uid, 61002);
	assert_int_equal(c.pid, 0);
}

static void test_address_refused(void **state)
{
	static const struct {
		const char *addr, *why;
	} bad[] = {
		{"", "not <host>"},
		{"127.0.0.1", "not <host>"},	 /* tcp:// has no credentials */
		{"localhost", "not <host>"},	 /* musl: nothing appended */
		{"localhost:1:2", "not <host>"}, /* a field short */
		{"1:2:3", "not <host>"},	 /* no host */
		{":1:2:3", "no host"},
		{"localhost:1::3", "not <host>"},   /* an empty field */
		{"localhost:1:2:", "not <host>"},   /* an empty pid */
		{"localhost:-1:2:3", "not <host>"}, /* a sign */
		{"localhost:1:2:3 ", "not <host>"}, /* trailing space */
		{"localhost:1:2:2147483648", "no valid pid"},
		{"localhost:4294967296:2:3", "over 2^32-1"},
		{"localhost:12345678901:2:3", "longer than 10 digits"},
	};
	struct bus_peer_creds c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = 0;
		int rc = bus_peer_creds_parse(bad[i].addr, strlen(bad[i].addr), &c, &why);
		if (rc != -1 || !why || !strstr(why, bad[i].why))
			fail_msg("\"%s\": rc %d, why \"%s\", want \"%s\"", bad[i].addr, rc,
				 why ? why : "(none)", bad[i].why);
	}
}

static void test_user_id(void **state)
{
	struct bus_sender s;

	(void)state;
	assert_int_equal(bus_sender_from_user_id("disco", &s), 0);
	assert_non_null(s.proc);
	assert_string_equal(s.proc->program, "disco");
	assert_false(s.admin);
	assert_int_equal(bus_sender_from_user_id(BUS_USER_ID_ADMIN, &s), 0);
	assert_true(s.admin);
	assert_null(s.proc);
	/* A program with no row: a name, no rights of a row. */
	assert_int_equal(bus_sender_from_user_id("myprog", &s), 0);
	assert_null(s.proc);
	assert_false(s.admin);
	assert_string_equal(s.name, "myprog");
	/* No ZAP answer on the connection: no one. */
	assert_int_equal(bus_sender_from_user_id(0, &s), -1);
	assert_int_equal(bus_sender_from_user_id("", &s), -1);
	assert_null(s.proc);
	assert_false(s.admin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_parsed),
		cmocka_unit_test(test_address_refused),
		cmocka_unit_test(test_user_id),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
