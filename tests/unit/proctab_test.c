/* proctab_test: the process table (lib/proctab.h) against the topic table
 * (lib/bus_topics.c) and the broker's key handling (broker/config_state.c):
 * one row per owned state topic, every topic a row names exists with the
 * kind it is listed as, unique start orders, one holder per key whose
 * SelfKeys the broker matches to the right key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "bus_topics.h"
#include "proctab.h"
#include "sandbox.h"

static void for_each_listed(void (*fn)(const struct proc *p, const char *topic, bool event))
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	for (size_t i = 0; i < n; i++)
		for (int event = 0; event < 2; event++) {
			const char *const *list = event ? procs[i].events : procs[i].states;
			for (size_t k = 0; k < PROCTAB_MAX_TOPICS && list[k]; k++)
				fn(&procs[i], list[k], event);
		}
}

static struct bus_sender row_sender(const struct proc *p)
{
	return (struct bus_sender){.proc = p, .name = p->program};
}

/* A topic the rows own: only those that list it may set it (each under its
 * own name when several do) or publish it; no tool, no stranger. */
static void check_row_owned(const struct bus_topic *t, size_t rows)
{
	size_t nprocs;
	const struct proc *procs = proctab_all(&nprocs);
	const struct bus_sender admin = {.name = "@admin", .admin = true}, none = {.name = "x"};
	bool event = t->kind == BUS_TOPIC_EVENT;

	if (rows == 0)
		fail_msg("%s: owned by the rows, but no row lists it", t->name);
	if (!event && rows == 1)
		assert_string_equal(bus_topic_owner_name(t), proctab_state_owner(t->name)->program);
	for (size_t k = 0; k < nprocs; k++) {
		struct bus_sender s = row_sender(&procs[k]);
		bool listed = proctab_publishes(&procs[k], t->name, event);
		if (event) {
			assert_true(bus_topic_may_publish(t, &s) == listed);
			continue;
		}
		assert_true(bus_topic_may_set(t, &s, procs[k].program) == listed);
		/* Someone else's key: only a single owner may use any key. */
		assert_true(bus_topic_may_set(t, &s, "otherkey") == (listed && rows == 1));
		if (listed)
			assert_non_null(strstr(bus_topic_owner_name(t), procs[k].program));
	}
	assert_false(event ? bus_topic_may_publish(t, &admin) : bus_topic_may_set(t, &admin, "k"));
	assert_false(event ? bus_topic_may_publish(t, &none) : bus_topic_may_set(t, &none, "k"));
}

/* Every topic has an owner; no event is anyone's. */
static void test_every_topic_has_an_owner(void **state)
{
	size_t n, nprocs;
	const struct bus_topic *t = bus_topic_all(&n);
	const struct proc *procs = proctab_all(&nprocs);
	const struct bus_sender admin = {.name = "@admin", .admin = true};

	(void)state;
	for (size_t i = 0; i < n; i++) {
		bool event = t[i].kind == BUS_TOPIC_EVENT;
		size_t rows = 0;

		assert_int_not_equal(t[i].owner, BUS_OWNER_INVALID);
		for (size_t k = 0; k < nprocs; k++)
			rows += proctab_publishes(&procs[k], t[i].name, event);
		switch (t[i].owner) {
		case BUS_OWNER_PROCTAB:
			check_row_owned(&t[i], rows);
			break;
		case BUS_OWNER_BROKER:
			if (rows != 0)
				fail_msg("%s: the broker's, but a row lists it", t[i].name);
			for (size_t k = 0; k < nprocs; k++) {
				struct bus_sender s = row_sender(&procs[k]);
				assert_false(
					event ? bus_topic_may_publish(&t[i], &s)
					      : bus_topic_may_set(&t[i], &s, procs[k].program));
			}
			/* Tools publish the broker's events (msockctl ping), never
			 * its state. */
			assert_true(event ? bus_topic_may_publish(&t[i], &admin)
					  : !bus_topic_may_set(&t[i], &admin, "k"));
			break;
		case BUS_OWNER_ANY:
			if (event)
				fail_msg("%s: an event anyone may publish", t[i].name);
			for (size_t k = 0; k < nprocs; k++) {
				struct bus_sender s = row_sender(&procs[k]);
				char own[64];
				snprintf(own, sizeof(own), "%s/x", procs[k].program);
				assert_true(bus_topic_may_set(&t[i], &s, procs[k].program));
				assert_true(bus_topic_may_set(&t[i], &s, own));
				assert_false(bus_topic_may_set(&t[i], &s, "zzz/x"));
			}
			assert_true(bus_topic_may_set(&t[i], &admin, "anything"));
			break;
		default:
			fail_msg("%s: owner %d", t[i].name, t[i].owner);
		}
	}
}

static void check_listed(const struct proc *p, const char *topic, bool event)
{
	const struct bus_topic *t = bus_topic_find(topic, strlen(topic));

	if (!t)
		fail_msg("%s lists %s, which is no topic", p->program, topic);
	if (t->kind != (event ? BUS_TOPIC_EVENT : BUS_TOPIC_STATE))
		fail_msg("%s lists %s as %s, but it is not", p->program, topic,
			 event ? "an event" : "state");
	if (t->owner != BUS_OWNER_PROCTAB)
		fail_msg("%s lists %s, which is not the rows' to send", p->program, topic);
}

static void test_listed_topics_exist(void **state)
{
	(void)state;
	for_each_listed(check_listed);
}

static void test_rows_are_complete(void **state)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	(void)state;
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		const struct proc *p = &procs[i];
		assert_ptr_equal(proctab_find(p->program), p);
		assert_int_not_equal(p->key, PROC_KEY_INVALID);
		assert_int_not_equal(p->pktchan, PROC_PKTCHAN_INVALID);
		/* Each line of a profile is one known flag with its reason. */
		for (size_t j = 0; j < PROCTAB_MAX_ALLOWS && p->profile[j].flag; j++) {
			unsigned f = p->profile[j].flag;
			assert_int_equal(f & ~(unsigned)SANDBOX_ALL_FLAGS, 0);
			assert_int_equal(f & (f - 1), 0);
			assert_non_null(p->profile[j].why);
		}
		assert_int_equal(p->hands &
					 ~(unsigned)(PROC_HANDS_UDP_SOCKETS | PROC_HANDS_CA_FILE |
						     PROC_HANDS_DEBUG_LISTEN),
				 0);
		/* A user of its own: "msock-<program>", a fixed uid in the range
		 * of msock's group, unique; a channel group exactly for those
		 * that connect to a channel. */
		if (p->user) {
			char want[64];
			snprintf(want, sizeof(want), "msock-%s", p->program);
			assert_string_equal(p->user, want);
			assert_true(p->uid > PROCTAB_GROUP_GID && p->uid < PROCTAB_GROUP_GID + 100);
			for (size_t k = 0; k < n; k++)
				assert_true(k == i || (procs[k].uid != p->uid &&
						       (!procs[k].user ||
							strcmp(procs[k].user, p->user) != 0)));
			assert_int_not_equal(p->uid, PROCTAB_DERPER_UID);
		} else {
			assert_int_equal(p->uid, 0);
		}
		assert_true((p->ch_gid != 0) == (p->pktchan == PROC_PKTCHAN_CONNECTS));
		if (p->ch_gid)
			assert_non_null(p->user);
	}
	{
		char g[64];
		assert_int_equal(proctab_ch_group(proctab_find("disco"), g, sizeof(g)), 0);
		assert_string_equal(g, "msock-ch-disco");
		assert_int_equal(proctab_ch_group(proctab_find("dataplane"), g, sizeof(g)), -1);
		assert_int_equal(proctab_ch_group(proctab_find("disco"), g, 8), -1);
	}
	assert_null(proctab_find("broker"));
	assert_null(proctab_find("derper"));
	assert_null(proctab_find(""));
}

static void test_start_orders_unique(void **state)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_true(procs[i].order >= 1 && procs[i].order <= n);
		for (size_t k = i + 1; k < n; k++)
			if (procs[i].order == procs[k].order)
				fail_msg("%s and %s both start %u", procs[i].program,
					 procs[k].program, procs[i].order);
	}
}

/* The broker hands one process the UDP sockets it keeps, and that process
 * binds the packet channels the others connect to. */
static void test_sockets_and_channels(void **state)
{
	size_t n, takers = 0, binders = 0;
	const struct proc *procs = proctab_all(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		takers += broker_takes_sockets(&procs[i]);
		binders += procs[i].pktchan == PROC_PKTCHAN_BINDS_ALL;
		if (procs[i].pktchan == PROC_PKTCHAN_BINDS_ALL)
			assert_true(broker_takes_sockets(&procs[i]));
	}
	assert_int_equal(takers, 1);
	assert_int_equal(binders, 1);
	assert_false(broker_takes_sockets(0));
}

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
}

/* One holder per key, which publishes SelfKeys under its program; the
 * broker matches that SelfKeys to the key file of the row's key. */
static void test_keys_match_config_state(void **state)
{
	char dir[] = "/tmp/proctab_test.XXXXXX";
	struct broker *b = calloc(1, sizeof(*b));
	struct msock_config *cfg = calloc(1, sizeof(*cfg));
	const enum proc_key keys[] = {PROC_KEY_NODE, PROC_KEY_DISCO};
	size_t n;
	const struct proc *procs = proctab_all(&n);

	(void)state;
	assert_non_null(b);
	assert_non_null(cfg);
	assert_non_null(mkdtemp(dir));
	snprintf(cfg->private_key_file, sizeof(cfg->private_key_file), "%s/node.key", dir);
	snprintf(cfg->disco_key_file, sizeof(cfg->disco_key_file), "%s/disco.key", dir);
	write_file(cfg->private_key_file);
	write_file(cfg->disco_key_file);
	b->cfg = cfg;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const struct proc *h = proctab_key_holder(keys[k]);
		size_t holders = 0;
		assert_non_null(h);
		for (size_t i = 0; i < n; i++)
			holders += procs[i].key == keys[k];
		assert_int_equal(holders, 1);
		assert_true(proctab_publishes(h, "SelfKeys", false));
	}
	assert_null(proctab_key_holder(PROC_KEY_NONE));

	for (size_t i = 0; i < n; i++) {
		memset(&b->node_key, 0, sizeof(b->node_key));
		memset(&b->disco_key, 0, sizeof(b->disco_key));
		broker_key_loaded(b, procs[i].program);
		assert_true(b->node_key.exists == (procs[i].key == PROC_KEY_NODE));
		assert_true(b->disco_key.exists == (procs[i].key == PROC_KEY_DISCO));
		/* Only a key's holder publishes SelfKeys. */
		assert_true(proctab_publishes(&procs[i], "SelfKeys", false) ==
			    (procs[i].key != PROC_KEY_NONE));
	}
	broker_key_loaded(b, "nosuchprogram");
	assert_false(b->node_key.exists || b->disco_key.exists);

	unlink(cfg->private_key_file);
	unlink(cfg->disco_key_file);
	rmdir(dir);
	free(cfg);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_topic_has_an_owner),
		cmocka_unit_test(test_listed_topics_exist),
		cmocka_unit_test(test_rows_are_complete),
		cmocka_unit_test(test_start_orders_unique),
		cmocka_unit_test(test_sockets_and_channels),
		cmocka_unit_test(test_keys_match_config_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
