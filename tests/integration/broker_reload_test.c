/* broker_reload: reload (msockctl reload or SIGHUP) publishes only what
 * changed in the config (new or changed peers and regions, deletions for
 * those that left), starts and stops components to match, and a broken
 * config is rejected with its errors while the running one is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "harness.h"
#include "state.pb-c.h"

#define KEY_A "nodekey:5c5a47849c7d39d92a6554e6102a6ac4023ed386a4dee48b5971e135a0ceb977"
#define HEX_A "5c5a47849c7d39d92a6554e6102a6ac4023ed386a4dee48b5971e135a0ceb977"
#define KEY_B "nodekey:3c9f75c937e6a2607b7cf0a64bebd73d38ed25efca990d7afd624d6a6fb07818"
#define HEX_B "3c9f75c937e6a2607b7cf0a64bebd73d38ed25efca990d7afd624d6a6fb07818"

static const char *region =
	", \"derp_map\": {\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": \"lab\", "
	"\"Nodes\": [{\"Name\": \"900a\", \"RegionID\": 900, \"HostName\": \"127.0.0.1\"}]}}}";

struct rec {
	struct bus *bus;
	int nodeviews, prefs, derpmap, deleted;
	double home_score; /* of the last DERPMap value seen, snapshot or not */
	char last_key[80];
	bool synced;
};

static void on_msg(void *arg, const struct bus_msg *m)
{
	struct rec *r = arg;

	if (m->kind == BUS_MSG_SNAPSHOT_END)
		r->synced = true;
	if (m->kind == BUS_MSG_STATE && !m->deleted && strcmp(m->topic->name, "DERPMap") == 0)
		r->home_score = ((const Msock__DERPMap *)m->msg)->home_score;
	if (m->kind != BUS_MSG_STATE || m->from_snapshot)
		return;
	if (strcmp(m->topic->name, "NodeViewsUpdate") == 0)
		r->nodeviews++;
	else if (strcmp(m->topic->name, "Prefs") == 0)
		r->prefs++;
	else if (strcmp(m->topic->name, "DERPMap") == 0)
		r->derpmap++;
	r->deleted += m->deleted;
	snprintf(r->last_key, sizeof(r->last_key), "%s", m->key);
}

static void pump(struct rec *r, int ms)
{
	uint64_t end = clock_mono_ns() + (uint64_t)ms * NS_PER_MS;

	while (clock_mono_ns() < end) {
		zmq_pollitem_t it[2];
		int n = bus_pollitems(r->bus, it, 2);
		zmq_poll(it, n, 20);
		bus_dispatch(r->bus, clock_mono_ns());
	}
}

static void write_cfg(struct th_broker *b, const char *components, const char *peers)
{
	char extra[4096];

	snprintf(extra, sizeof(extra), "%s, \"peers\": [%s]", region, peers);
	assert_int_equal(th_write_config(b, components, extra), 0);
}

static int peer_count(struct th_broker *b)
{
	json_t *st = th_status(b);
	int n = (int)json_object_size(json_object_get(st, "Peer"));

	json_decref(st);
	return n;
}

static bool t2_running(void *arg)
{
	return th_comp_state_is(arg, "t2", "running");
}

static void test_reload_publishes_only_changes(void **state)
{
	struct th_broker *b = *state;
	struct rec r = {0};
	char extra[4096], *text = 0;
	bool ok;

	snprintf(extra, sizeof(extra), "%s, \"peers\": [{\"name\": \"a\", \"node_key\": \"%s\"}]",
		 region, KEY_A);
	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", extra), 0);
	assert_int_equal(peer_count(b), 1);
	r.bus = bus_open(b->bus_dir, "observer", on_msg, &r);
	assert_non_null(r.bus);
	bus_subscribe(r.bus, "NodeViewsUpdate");
	bus_subscribe(r.bus, "Prefs");
	bus_subscribe(r.bus, "DERPMap");
	assert_int_equal(bus_wait_synced(r.bus, 5000, -1), 0);
	pump(&r, 200);

	/* Same peers, one more peer, one more component. */
	write_cfg(b, "[\"testcomp\", {\"name\": \"t2\", \"program\": \"testcomp\"}]",
		  "{\"name\": \"a\", \"node_key\": \"" KEY_A "\"}, "
		  "{\"name\": \"b\", \"node_key\": \"" KEY_B "\"}");
	/* --wait: t2 is running and has the config when it returns. */
	assert_int_equal(th_control_wait(b, "reload", 0, 10000, &ok, &text), 0);
	if (!ok)
		fail_msg("reload --wait: %s", text);
	free(text);
	assert_true(t2_running(b));
	pump(&r, 300);
	assert_int_equal(r.nodeviews, 1); /* only b: a did not change */
	assert_string_equal(r.last_key, HEX_B);
	assert_int_equal(r.prefs, 0);
	assert_int_equal(r.derpmap, 0);
	assert_int_equal(peer_count(b), 2);

	/* a leaves (deleted), t2 is no longer configured (stopped). */
	pid_t t2 = th_comp_pid(b, "t2");
	write_cfg(b, "[\"testcomp\"]", "{\"name\": \"b\", \"node_key\": \"" KEY_B "\"}");
	assert_int_equal(kill(b->pid, SIGHUP), 0); /* SIGHUP reloads too */
	pump(&r, 500);
	assert_int_equal(r.nodeviews, 2);
	assert_int_equal(r.deleted, 1);
	assert_string_equal(r.last_key, HEX_A);
	assert_int_equal(peer_count(b), 1);
	for (int i = 0; i < 100 && th_pid_alive(t2); i++)
		pump(&r, 50);
	assert_false(th_pid_alive(t2));
	json_t *st = th_status(b);
	assert_null(json_object_get(json_object_get(st, "Components"), "t2"));
	json_decref(st);
	bus_free(r.bus);
}

static void test_broken_config_is_rejected_and_old_kept(void **state)
{
	struct th_broker *b = *state;
	char extra[4096], *text = 0;
	pid_t pid;
	bool ok;

	snprintf(extra, sizeof(extra), "%s, \"peers\": [{\"name\": \"a\", \"node_key\": \"%s\"}]",
		 region, KEY_A);
	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", extra), 0);
	pid = th_comp_pid(b, "testcomp");

	/* Two errors: both are reported. */
	write_cfg(b, "[\"testcomp\", \"nosuchprogram\"]",
		  "{\"name\": \"a\", \"node_key\": \"nodekey:12\"}");
	assert_int_equal(th_control(b, "reload", 0, &ok, &text), 0);
	assert_false(ok);
	print_message("reload refused:\n%s\n", text);
	assert_non_null(strstr(text, "config rejected, keeping the running one"));
	assert_non_null(strstr(text, "msock.json:"));
	assert_non_null(strstr(text, "peers[0].node_key: expected nodekey:<64 hex>"));
	free(text);

	/* A valid file naming a program that does not exist: refused too. */
	write_cfg(b, "[\"testcomp\", \"nosuchprogram\"]",
		  "{\"name\": \"a\", \"node_key\": \"" KEY_A "\"}");
	assert_int_equal(th_control(b, "reload", 0, &ok, &text), 0);
	assert_false(ok);
	assert_non_null(strstr(text, "msock-nosuchprogram"));
	free(text);

	/* Nothing changed. */
	assert_int_equal(peer_count(b), 1);
	assert_int_equal(th_comp_pid(b, "testcomp"), pid);
	assert_true(th_pid_alive(pid));
	json_t *st = th_status(b);
	assert_int_equal(json_object_size(json_object_get(st, "Components")), 1);
	json_decref(st);
}

/* The map's HomeParams.RegionScore reaches netcheck in its region's
 * DERPMap state; a changed score is a changed region. */
static void test_home_score_published(void **state)
{
	struct th_broker *b = *state;
	struct rec r = {0};
	char extra[4096], *text = 0;
	bool ok;
#define SCORED                                                                         \
	", \"derp_map\": {\"HomeParams\": {\"RegionScore\": {\"900\": %s}},"           \
	" \"Regions\": {\"900\": {\"RegionID\": 900, \"Nodes\": [{\"Name\": \"900a\"," \
	" \"RegionID\": 900, \"HostName\": \"127.0.0.1\"}]}}}"

	snprintf(extra, sizeof(extra), SCORED, "2.5");
	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", extra), 0);
	r.bus = bus_open(b->bus_dir, "observer", on_msg, &r);
	assert_non_null(r.bus);
	bus_subscribe(r.bus, "DERPMap");
	assert_int_equal(bus_wait_synced(r.bus, 5000, -1), 0);
	pump(&r, 200);
	assert_true(r.home_score == 2.5);

	snprintf(extra, sizeof(extra), SCORED, "1000");
#undef SCORED
	assert_int_equal(th_write_config(b, "[\"testcomp\"]", extra), 0);
	assert_int_equal(th_control(b, "reload", 0, &ok, &text), 0);
	assert_true(ok);
	free(text);
	pump(&r, 300);
	assert_int_equal(r.derpmap, 1);
	assert_true(r.home_score == 1000);
	bus_free(r.bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload_publishes_only_changes, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_broken_config_is_rejected_and_old_kept,
						th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_home_score_published, th_setup, th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
