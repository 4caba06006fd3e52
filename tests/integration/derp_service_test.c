/* derp_service: the derp component end to end. A real msock-derper (TLS,
 * verified against the config's derp_ca_file) and two brokers, A and B,
 * each running msock-derp; the test stands in for the dataplanes on the
 * packet channels (the dataplane issue replaces it). A packet given to A's
 * channel for B's node key comes out of B's channel with A's key; the
 * derper restarting, and the derp component being killed, both heal; the
 * node key survives the component's restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "derper_proc.h"
#include "harness.h"
#include "key.h"
#include "pktchan.h"

struct world {
	struct derper_proc d;  /* the derper of region 900: TLS with the test certificate */
	struct derper_proc d2; /* region 901, for the tests that need two (same certificate) */
	struct th_broker a, b;
	void *zctx;
	struct pktchan *pa, *pb;
	struct key32 ka, kb;
};

static void start_derper(struct world *w)
{
	assert_int_equal(derper_proc_start(&w->d, 0), 0);
}

static void stop_derper(struct world *w)
{
	derper_proc_stop(&w->d);
}

/* Self.DERP["900"].State of a broker. */
static bool region_up(void *arg)
{
	json_t *st = th_status(arg);
	const char *s = json_string_value(json_object_get(
		json_object_get(json_object_get(json_object_get(st, "Self"), "DERP"), "900"),
		"State"));
	bool up = s && strcmp(s, "up") == 0;

	json_decref(st);
	return up;
}

static void node_key(struct th_broker *b, struct key32 *k)
{
	json_t *st = th_status(b);
	const char *nk = json_string_value(json_object_get(json_object_get(st, "Self"), "NodeKey"));

	assert_non_null(nk);
	assert_int_equal(key_parse(nk, KEY_KIND_NODE_PUBLIC, k, 0), 0);
	json_decref(st);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char extra[2048];
	mode_t old;

	if (!w || derper_proc_init(&w->d, true) < 0)
		return -1;
	*state = w;
	/* The derper keeps its port across restarts: its first start picks
	 * it, the config names it. */
	start_derper(w);
	snprintf(extra, sizeof(extra),
		 ", \"home_derp\": 900, \"derp_ca_file\": \"%s/derp.test.crt\", \"derp_map\": "
		 "{\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": \"lab\", \"Nodes\": "
		 "[{\"Name\": \"900a\", \"RegionID\": 900, \"HostName\": \"derp.test\", \"IPv4\": "
		 "\"127.0.0.1\", \"DERPPort\": %d}]}}}",
		 w->d.dir, w->d.port);
	if (th_broker_start(&w->a, "[\"derp\"]", extra) < 0 ||
	    th_broker_start(&w->b, "[\"derp\"]", extra) < 0)
		return -1;
	w->zctx = zmq_ctx_new();
	/* The test is the dataplane of both nodes, and binds as it does: with
	 * umask 0007 in the broker's channel directory (setgid, of the
	 * channel's group), so that the derp component, in that group, may
	 * connect. */
	old = umask(0007);
	w->pa = pktchan_open(w->zctx, w->a.bus_dir, "derp", PKTCHAN_ROLE_DATAPLANE);
	w->pb = pktchan_open(w->zctx, w->b.bus_dir, "derp", PKTCHAN_ROLE_DATAPLANE);
	umask(old);
	return w->pa && w->pb ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;

	pktchan_free(w->pa);
	pktchan_free(w->pb);
	if (w->zctx)
		zmq_ctx_term(w->zctx);
	th_broker_cleanup(&w->a);
	th_broker_cleanup(&w->b);
	derper_proc_cleanup(&w->d);
	if (w->d2.dir[0])
		derper_proc_cleanup(&w->d2);
	free(w);
	return 0;
}

/* Gives A's derp component a packet for B until it comes out at B. */
static bool a_reaches_b(struct world *w, const char *msg)
{
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_SEND};
	uint64_t end = clock_mono_ns() + TH_WAIT_MS * NS_PER_MS;

	memcpy(h.key, w->kb.b, KEY_LEN);
	while (clock_mono_ns() < end) {
		zmq_pollitem_t it = {.socket = pktchan_socket_rx(w->pb), .events = ZMQ_POLLIN};
		pktchan_send(w->pa, &h, (const uint8_t *)msg, strlen(msg));
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		struct pktchan_hdr got;
		uint8_t buf[256];
		size_t n;
		while (pktchan_recv(w->pb, &got, buf, sizeof(buf), &n) == 0) {
			if (got.kind == PKTCHAN_DERP_RECV && got.region == 900 &&
			    memcmp(got.key, w->ka.b, KEY_LEN) == 0 && n == strlen(msg) &&
			    memcmp(buf, msg, n) == 0)
				return true;
		}
	}
	return false;
}

static void test_packet_crosses_derp_between_two_nodes(void **state)
{
	struct world *w = *state;

	assert_true(th_wait(region_up, &w->a));
	assert_true(th_wait(region_up, &w->b));
	node_key(&w->a, &w->ka);
	node_key(&w->b, &w->kb);
	assert_false(key_equal(&w->ka, &w->kb));
	assert_true(a_reaches_b(w, "hello over DERP"));
	json_t *st = th_status(&w->a);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(st, "Self"), "HomeDERP")), 900);
	json_decref(st);
}

static bool region_not_up(void *arg)
{
	return !region_up(arg);
}

static void test_derper_restart_heals(void **state)
{
	struct world *w = *state;

	assert_true(th_wait(region_up, &w->a));
	assert_true(th_wait(region_up, &w->b));
	node_key(&w->a, &w->ka);
	node_key(&w->b, &w->kb);
	stop_derper(w);
	assert_true(th_wait(region_not_up, &w->a));
	start_derper(w);
	assert_true(th_wait(region_up, &w->a));
	assert_true(th_wait(region_up, &w->b));
	assert_true(a_reaches_b(w, "after the derper restarted"));
}

struct restarted {
	struct th_broker *b;
	pid_t old;
};

static bool derp_restarted(void *arg)
{
	struct restarted *r = arg;
	pid_t now = th_comp_pid(r->b, "derp");
	return now > 0 && now != r->old && region_up(r->b);
}

static void test_killed_component_comes_back_with_its_key(void **state)
{
	struct world *w = *state;
	struct restarted r = {&w->a, 0};
	struct key32 again;

	assert_true(th_wait(region_up, &w->a));
	assert_true(th_wait(region_up, &w->b));
	node_key(&w->a, &w->ka);
	node_key(&w->b, &w->kb);
	r.old = th_comp_pid(&w->a, "derp");
	assert_int_equal(kill(r.old, SIGKILL), 0);
	assert_true(th_wait(derp_restarted, &r));
	node_key(&w->a, &again);
	assert_true(key_equal(&again, &w->ka));
	assert_true(a_reaches_b(w, "after the component restarted"));
}

struct key_changed {
	struct th_broker *b;
	struct key32 old;
};

static bool new_key_and_up(void *arg)
{
	struct key_changed *k = arg;
	json_t *st = th_status(k->b);
	const char *nk = json_string_value(json_object_get(json_object_get(st, "Self"), "NodeKey"));
	struct key32 now;
	bool changed = nk && key_parse(nk, KEY_KIND_NODE_PUBLIC, &now, 0) == 0 &&
		       !key_equal(&now, &k->old);

	json_decref(st);
	return changed && region_up(k->b);
}

/* A new node key (the key file replaced, then reload): the derp component
 * reconnects everything with it, and peers see packets from the new key. */
static void test_node_key_change_reconnects(void **state)
{
	struct world *w = *state;
	struct key_changed k = {&w->a};
	char cmd[1024];
	bool ok;
	char *text = 0;

	assert_true(th_wait(region_up, &w->a));
	assert_true(th_wait(region_up, &w->b));
	node_key(&w->a, &w->ka);
	node_key(&w->b, &w->kb);
	k.old = w->ka;
	snprintf(cmd, sizeof(cmd),
		 "%s/msockctl keygen %s/state/new.key >/dev/null && mv %s/state/new.key "
		 "%s/state/node.key",
		 getenv("MSOCK_BIN_DIR"), w->a.dir, w->a.dir, w->a.dir);
	assert_int_equal(system(cmd), 0);
	/* --wait: derp has restarted with the new key and published it (it
	 * does so before its loop, where it acknowledges); the connection
	 * with it is still to come. */
	assert_int_equal(th_control_wait(&w->a, "reload", 0, TH_WAIT_MS, &ok, &text), 0);
	if (!ok)
		fail_msg("reload --wait: %s", text);
	free(text);
	node_key(&w->a, &w->ka);
	assert_false(key_equal(&w->ka, &k.old));
	assert_true(th_wait(new_key_and_up, &k));
	node_key(&w->a, &w->ka);
	assert_false(key_equal(&w->ka, &k.old));
	assert_true(th_log_contains(&w->a, "changed: restarting derp with the new key"));
	assert_true(a_reaches_b(w, "from the new key"));
}

/* The config's DERP part: region 900 (w->d) and, with two, 901 (w->d2);
 * home and one peer with its home region. */
static void write_node(struct world *w, struct th_broker *b, bool two, int home,
		       const struct key32 *peer, int peer_home)
{
	char extra[4096], region[1024] = "", pk[KEY_TEXT_MAX];

	key_format(KEY_KIND_NODE_PUBLIC, peer, pk, sizeof(pk));
	if (two)
		snprintf(region, sizeof(region),
			 ", \"901\": {\"RegionID\": 901, \"RegionCode\": \"lab2\", \"Nodes\": "
			 "[{\"Name\": \"901a\", \"RegionID\": 901, \"HostName\": \"derp.test\", "
			 "\"IPv4\": \"127.0.0.1\", \"DERPPort\": %d}]}",
			 w->d2.port);
	snprintf(extra, sizeof(extra),
		 ", \"home_derp\": %d, \"derp_ca_file\": \"%s/derp.test.crt\", "
		 "\"peers\": [{\"name\": \"peer\", \"node_key\": \"%s\", \"home_derp\": %d}], "
		 "\"derp_map\": {\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": "
		 "\"lab\", \"Nodes\": [{\"Name\": \"900a\", \"RegionID\": 900, \"HostName\": "
		 "\"derp.test\", \"IPv4\": \"127.0.0.1\", \"DERPPort\": %d}]}%s}}",
		 home, w->d.dir, pk, peer_home, w->d.port, region);
	assert_int_equal(th_write_config(b, "[\"derp\"]", extra), 0);
}

/* Returns once derp has applied the new config (reload --wait): what it
 * does at once (a region removed, a pref) is in status; connections are
 * still to be waited for. */
static void reload(struct th_broker *b)
{
	bool ok;
	char *text = 0;

	assert_int_equal(th_control_wait(b, "reload", 0, TH_WAIT_MS, &ok, &text), 0);
	if (!ok)
		fail_msg("reload: %s", text);
	free(text);
}

struct region_wait {
	struct th_broker *b;
	const char *region;
	bool want; /* present (and up) or absent */
};

static bool region_is(void *arg)
{
	struct region_wait *r = arg;
	json_t *st = th_status(r->b);
	json_t *reg =
		json_object_get(json_object_get(json_object_get(st, "Self"), "DERP"), r->region);
	const char *state = json_string_value(json_object_get(reg, "State"));
	bool ok = r->want ? state && strcmp(state, "up") == 0 : reg == 0;

	json_decref(st);
	return ok;
}

/* Packets for b arrive at b's channel from a's key via `region`? */
static bool reaches(struct world *w, struct pktchan *from, struct pktchan *to,
		    const struct key32 *dst, const struct key32 *src, uint16_t region,
		    const char *msg)
{
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_SEND};
	uint64_t end = clock_mono_ns() + TH_WAIT_MS * NS_PER_MS;

	(void)w;
	memcpy(h.key, dst->b, KEY_LEN);
	while (clock_mono_ns() < end) {
		zmq_pollitem_t it = {.socket = pktchan_socket_rx(to), .events = ZMQ_POLLIN};
		struct pktchan_hdr got;
		uint8_t buf[256];
		size_t n;

		pktchan_send(from, &h, (const uint8_t *)msg, strlen(msg));
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		while (pktchan_recv(to, &got, buf, sizeof(buf), &n) == 0)
			if (got.kind == PKTCHAN_DERP_RECV && got.region == region &&
			    memcmp(got.key, src->b, KEY_LEN) == 0 && n == strlen(msg) &&
			    memcmp(buf, msg, n) == 0)
				return true;
	}
	return false;
}

/* Two regions: A (home 900) reaches B (home 901) by dialling 901 on demand;
 * B answers through 901, where A's packets came from, although its netmap
 * says A's home is 900; then a DERP map with no regions disables DERP on A. */
static void test_regions_on_demand_learned_and_removed(void **state)
{
	struct world *w = *state;
	struct region_wait a901 = {&w->a, "901", true}, b901 = {&w->b, "901", true};
	struct region_wait a_none = {&w->a, "900", false};
	char cmd[512];

	assert_true(th_wait(region_up, &w->a));
	assert_true(th_wait(region_up, &w->b));
	node_key(&w->a, &w->ka);
	node_key(&w->b, &w->kb);
	/* Region 901 serves the same certificate as 900. */
	assert_int_equal(derper_proc_init(&w->d2, false), 0);
	w->d2.tls = true;
	snprintf(cmd, sizeof(cmd), "cp %s/derp.test.crt %s/derp.test.key %s/", w->d.dir, w->d.dir,
		 w->d2.dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(derper_proc_start(&w->d2, 0), 0);
	write_node(w, &w->a, true, 900, &w->kb, 901);
	write_node(w, &w->b, true, 901, &w->ka, 900);
	reload(&w->a);
	reload(&w->b);
	assert_true(th_wait(region_is, &b901));
	assert_true(reaches(w, w->pa, w->pb, &w->kb, &w->ka, 901, "A to B's home"));
	assert_true(th_wait(region_is, &a901)); /* dialled on demand */
	/* B's netmap says A's home is 900, and B is still connected to 900
	 * (its home before the reload); A is connected to both. Arriving via
	 * 901 shows B chose the region A's packets came from. */
	assert_true(reaches(w, w->pb, w->pa, &w->ka, &w->kb, 901, "B answers where A came from"));
	/* No regions at all: DERP off on A. */
	assert_int_equal(th_write_config(&w->a, "[\"derp\"]", ""), 0);
	reload(&w->a);
	/* Closing the connections of regions the map no longer has is part
	 * of applying it: no waiting. */
	assert_true(region_is(&a_none));
	a_none.region = "901";
	assert_true(region_is(&a_none));
	json_t *st = th_status(&w->a);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(st, "Self"), "HomeDERP")), 0);
	json_decref(st);
}

static bool region_refused_443(void *arg)
{
	json_t *st = th_status(arg);
	json_t *r = json_object_get(json_object_get(json_object_get(st, "Self"), "DERP"), "900");
	const char *state = json_string_value(json_object_get(r, "State"));
	const char *err = json_string_value(json_object_get(r, "LastError"));
	bool ok = state && strcmp(state, "backoff") == 0 && err && strstr(err, "only_tcp_443");

	json_decref(st);
	return ok;
}

/* prefs.only_tcp_443: the derper here listens on another port, so with the
 * pref on (changed by a reload) region 900 has no node to dial; with it off
 * again the region comes back. */
/* Region 900 with its one node at a port (printf format). */
#define REGION_900_AT_PORT                                                                    \
	"\"derp_map\": {\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": \"lab\", " \
	"\"Nodes\": [{\"Name\": \"900a\", \"RegionID\": 900, \"HostName\": \"derp.test\", "   \
	"\"IPv4\": \"127.0.0.1\", \"DERPPort\": %d}]}}}"

static void test_only_tcp_443(void **state)
{
	struct world *w = *state;
	char extra[2048], map[1024];

	assert_true(th_wait(region_up, &w->a));
	snprintf(map, sizeof(map), REGION_900_AT_PORT, w->d.port);
	snprintf(extra, sizeof(extra),
		 ", \"home_derp\": 900, \"derp_ca_file\": \"%s/derp.test.crt\", \"prefs\": "
		 "{\"only_tcp_443\": true}, %s",
		 w->d.dir, map);
	assert_int_equal(th_write_config(&w->a, "[\"derp\"]", extra), 0);
	reload(&w->a);
	assert_true(th_wait(region_refused_443, &w->a));
	snprintf(extra, sizeof(extra),
		 ", \"home_derp\": 900, \"derp_ca_file\": \"%s/derp.test.crt\", %s", w->d.dir, map);
	assert_int_equal(th_write_config(&w->a, "[\"derp\"]", extra), 0);
	reload(&w->a);
	assert_true(th_wait(region_up, &w->a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_packet_crosses_derp_between_two_nodes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_derper_restart_heals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_component_comes_back_with_its_key,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_key_change_reconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_on_demand_learned_and_removed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_only_tcp_443, setup, teardown),
	};

	if (geteuid() != 0) {
		print_message("the derp service drops to nobody: needs root; skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	/* msock-derper's own sanitizer reports count as failures too. */
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}
