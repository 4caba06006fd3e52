/* compromised_test: each real component as an attacker would own it, under
 * a real broker with a user per component (issue 15: "a compromised
 * component test per component"). Started with `--sandbox-selftest
 * compromised` (test builds; lib/compromised.c), a component tries, once
 * its sandbox is up, everything its row of the process table forbids —
 * another component's packet channel, another's state and events on the
 * bus, files — and last an internet socket its profile does not allow. All
 * must fail, the last by SIGSYS, which `msockctl status` reports. A second
 * test reads /proc of the components running normally: each its own uid
 * and groups, no capabilities, no_new_privs, seccomp, and the bus directory
 * as its root. Needs root and the users of `msockctl setup-users`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grp.h>
#include <signal.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proctab.h"

static const char *const components[] = {"dataplane", "disco", "derp", "netcheck", "portmapper"};

struct file_wait {
	const struct th_broker *b;
	const char *rel; /* under the bus directory */
};

static bool file_exists(void *arg)
{
	struct file_wait *w = arg;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", w->b->bus_dir, w->rel);
	return access(path, F_OK) == 0;
}

struct exit_wait {
	const struct th_broker *b;
	const char *name;
	char last[256];
};

static bool died_of_sigsys(void *arg)
{
	struct exit_wait *w = arg;
	json_t *st = th_status(w->b);
	const char *last = json_string_value(json_object_get(
		json_object_get(json_object_get(st, "Components"), w->name), "LastExit"));
	bool yes = last && strstr(last, "SIGSYS");

	snprintf(w->last, sizeof(w->last), "%s", last ? last : "");
	json_decref(st);
	return yes;
}

static void expect_log(const struct th_broker *b, const char *line)
{
	if (!th_log_contains(b, line))
		fail_msg("the log has no \"%s\"", line);
}

static void check_compromised(const struct th_broker *b, const struct proc *p)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);
	char line[256];

	snprintf(line, sizeof(line), "compromised: %s as uid %u", p->program, p->uid);
	expect_log(b, line);
	for (size_t i = 0; i < n && p->pktchan != PROC_PKTCHAN_BINDS_ALL; i++) {
		if (procs[i].pktchan != PROC_PKTCHAN_CONNECTS)
			continue;
		snprintf(line, sizeof(line), "compromised: connect to ch-%s/pkt-%s-up.ipc: %s",
			 procs[i].program, procs[i].program,
			 &procs[i] == p ? "works" : "refused (Permission denied)");
		expect_log(b, line);
	}
	expect_log(b, "is owned by");
	if (p->states[0]) {
		snprintf(line, sizeof(line), "compromised: set %s/%s: works", p->states[0],
			 p->program);
		expect_log(b, line);
	}
	expect_log(b, "compromised: open /etc/passwd: refused (Operation not permitted)");
	expect_log(b, "compromised: open /proc/self/status: refused (Operation not permitted)");
	expect_log(b, "compromised: open pub.ipc: refused (Operation not permitted)");
	expect_log(b, "(must die)");
	assert_false(th_log_contains(b, "SUCCEEDED"));
	assert_false(th_log_contains(b, "but it should have worked"));
}

static void test_each_component_compromised(void **state)
{
	struct th_broker *b = *state;

	for (size_t i = 0; i < sizeof(components) / sizeof(components[0]); i++) {
		const struct proc *p = proctab_find(components[i]);
		char comps[512];
		struct file_wait fw = {b, "ch-netcheck/pkt-netcheck-up.ipc"};
		struct exit_wait ew = {b, components[i], ""};
		long long wrong;

		assert_non_null(p);
		/* The dataplane first, and its channels bound, so that a
		 * refusal to connect is the permission's, not a missing file's;
		 * then the attacker, by a reload. */
		if (p->pktchan == PROC_PKTCHAN_BINDS_ALL) {
			snprintf(comps, sizeof(comps),
				 "[{\"name\": \"dataplane\", \"program\": \"dataplane\", "
				 "\"args\": [\"--sandbox-selftest\", \"compromised\"]}]");
			assert_int_equal(th_broker_start(b, comps, ""), 0);
		} else {
			assert_int_equal(th_broker_start(b, "[\"dataplane\"]", ""), 0);
			assert_true(th_wait(file_exists, &fw));
			snprintf(comps, sizeof(comps),
				 "[\"dataplane\", {\"name\": \"%s\", \"program\": \"%s\", "
				 "\"args\": [\"--sandbox-selftest\", \"compromised\"]}]",
				 p->program, p->program);
			assert_int_equal(th_write_config(b, comps, ""), 0);
			assert_int_equal(kill(b->pid, SIGHUP), 0);
		}
		if (!th_wait(died_of_sigsys, &ew))
			fail_msg("%s: LastExit \"%s\", not SIGSYS", p->program, ew.last);
		print_message("%s: LastExit \"%s\"\n", p->program, ew.last);
		check_compromised(b, p);
		/* The bus refused another's state and dropped another's event. */
		wrong = th_bus_counter(b, "WrongOwner");
		print_message("%s: Bus.WrongOwner %lld\n", p->program, wrong);
		assert_true(wrong >= 2);
		th_broker_cleanup(b);
	}
}

static bool all_running(void *arg)
{
	const struct th_broker *b = arg;

	for (size_t i = 0; i < sizeof(components) / sizeof(components[0]); i++)
		if (!th_comp_state_is(b, components[i], "running"))
			return false;
	return true;
}

static bool has_group(const char *groups, unsigned gid)
{
	char want[16];
	const char *p = groups;

	snprintf(want, sizeof(want), "%u", gid);
	while ((p = strstr(p, want))) {
		bool start = p == groups || p[-1] == ' ' || p[-1] == '\t';
		bool end = p[strlen(want)] == 0 || p[strlen(want)] == ' ';
		if (start && end)
			return true;
		p++;
	}
	return false;
}

static void test_running_components_as_seen_in_proc(void **state)
{
	struct th_broker *b = *state;
	char bus_real[PATH_MAX];

	assert_int_equal(th_broker_start(b,
					 "[\"dataplane\", \"disco\", \"derp\", \"netcheck\", "
					 "\"portmapper\"]",
					 ""),
			 0);
	assert_true(th_wait(all_running, b));
	assert_non_null(realpath(b->bus_dir, bus_real));
	for (size_t i = 0; i < sizeof(components) / sizeof(components[0]); i++) {
		const struct proc *p = proctab_find(components[i]);
		pid_t pid = th_comp_pid(b, components[i]);
		char uid[128], gid[128], groups[256], cap[64], nnp[16], sec[16], root[PATH_MAX],
			link[64], want[128];
		ssize_t n;

		assert_true(pid > 0);
		/* Give it the moment between exec and its sandbox. */
		for (int k = 0; k < 100; k++) {
			if (th_proc_status(pid, "Seccomp", sec, sizeof(sec)) &&
			    strcmp(sec, "\t2") == 0)
				break;
			usleep(20 * 1000);
		}
		assert_true(th_proc_status(pid, "Uid", uid, sizeof(uid)));
		assert_true(th_proc_status(pid, "Gid", gid, sizeof(gid)));
		assert_true(th_proc_status(pid, "Groups", groups, sizeof(groups)));
		assert_true(th_proc_status(pid, "CapEff", cap, sizeof(cap)));
		assert_true(th_proc_status(pid, "NoNewPrivs", nnp, sizeof(nnp)));
		assert_true(th_proc_status(pid, "Seccomp", sec, sizeof(sec)));
		snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
		n = readlink(link, root, sizeof(root) - 1);
		assert_true(n > 0);
		root[n] = 0;
		print_message("%-10s Uid:%s Gid:%s Groups:%s CapEff:%s NoNewPrivs:%s Seccomp:%s "
			      "root %s\n",
			      p->program, uid, gid, groups, cap, nnp, sec, root);
		snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", p->uid, p->uid, p->uid, p->uid);
		assert_string_equal(uid, want);
		assert_string_equal(gid, want);
		assert_true(has_group(groups, PROCTAB_GROUP_GID));
		assert_true(has_group(groups, p->ch_gid) == (p->ch_gid != 0));
		/* No other channel's group. */
		for (size_t k = 0; k < sizeof(components) / sizeof(components[0]); k++) {
			const struct proc *q = proctab_find(components[k]);
			if (q != p && q->ch_gid)
				assert_false(has_group(groups, q->ch_gid));
		}
		assert_string_equal(cap, "\t0000000000000000");
		assert_string_equal(nnp, "\t1");
		assert_string_equal(sec, "\t2");
		/* Its root is the bus directory: nothing else in sight. */
		assert_string_equal(root, bus_real);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running_components_as_seen_in_proc, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_each_component_compromised, th_setup,
						th_teardown),
	};

#ifndef MSOCK_TEST_BUILD
	print_message("--sandbox-selftest compromised is in test builds only; skipped\n");
	return 77;
#endif
	if (geteuid() != 0 || !getpwnam("msock-disco")) {
		print_message("needs root and the users of `msockctl setup-users`; skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, 0, 0);
}
