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

static void test_owned_state_has_one_row(void **state)
{
	size_t n;
	const struct bus_topic *t = bus_topic_all(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const struct proc *owner = proctab_state_owner(t[i].name);
		size_t rows = 0, nprocs;
		const struct proc *procs = proctab_all(&nprocs);

		assert_int_not_equal(t[i].owner, BUS_OWNER_INVALID);
		for (size_t k = 0; k < nprocs; k++)
			rows += proctab_publishes(&procs[k], t[i].name, false);
		if (t[i].kind == BUS_TOPIC_EVENT) {
			/* Events are not owned yet (issue 15 item 2). */
			assert_int_equal(t[i].owner, BUS_OWNER_ANY);
			assert_int_equal(rows, 0);
		} else if (t[i].owner == BUS_OWNER_PROCTAB) {
			if (rows != 1)
				fail_msg("%s: owned by a row, but %zu rows list it", t[i].name,
					 rows);
			assert_non_null(owner);
			assert_string_equal(bus_topic_owner_name(&t[i]), owner->program);
			assert_true(bus_topic_may_set(&t[i], owner));
			for (size_t k = 0; k < nprocs; k++)
				assert_true(bus_topic_may_set(&t[i], &procs[k]) ==
					    (&procs[k] == owner));
			assert_false(bus_topic_may_set(&t[i], 0));
		} else if (t[i].owner == BUS_OWNER_BROKER) {
			if (rows != 0)
				fail_msg("%s: set by the broker, but a row lists it", t[i].name);
			for (size_t k = 0; k < nprocs; k++)
				assert_false(bus_topic_may_set(&t[i], &procs[k]));
		} else {
			assert_true(bus_topic_may_set(&t[i], 0));
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
	if (!event && t->owner != BUS_OWNER_PROCTAB && t->owner != BUS_OWNER_ANY)
		fail_msg("%s lists %s, which only the broker sets", p->program, topic);
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
		assert_int_equal(
			p->hands & ~(unsigned)(PROC_HANDS_UDP_SOCKETS | PROC_HANDS_CA_FILE), 0);
		/* Not used before item 3 of issue 15: the config's user for all. */
		assert_null(p->user);
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
		cmocka_unit_test(test_owned_state_has_one_row),
		cmocka_unit_test(test_listed_topics_exist),
		cmocka_unit_test(test_rows_are_complete),
		cmocka_unit_test(test_start_orders_unique),
		cmocka_unit_test(test_sockets_and_channels),
		cmocka_unit_test(test_keys_match_config_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
