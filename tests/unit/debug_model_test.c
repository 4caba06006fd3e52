/* debug_model: msock-debug's model and output (services/debug): a
 * failover and the return to the direct path become marks in time order
 * and one gap in the histogram; strings from the bus are escaped in HTML
 * and in Prometheus labels; counters that go down (a restarted dataplane)
 * draw no traffic; a peer gone from the netmap goes with its rings;
 * disco's message counters become labelled series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dbg.h"

static uint8_t key[32];

static void put(struct dbg_model *m, const char *topic, const char *k, const ProtobufCMessage *msg,
		int64_t at_ms)
{
	struct bus_msg b = {.kind = BUS_MSG_STATE,
			    .topic = bus_topic_find(topic, strlen(topic)),
			    .key = k,
			    .msg = msg,
			    .deleted = msg == 0};

	memcpy(b.node_key, key, 32);
	dbg_model_state(m, &b, at_ms, (uint64_t)at_ms * 1000000);
}

static void dp(struct dbg_model *m, const char *path, uint64_t rx, uint64_t rx_derp,
	       uint64_t last_rx_ms, int64_t at)
{
	Msock__DataplanePeer d = MSOCK__DATAPLANE_PEER__INIT;
	Msock__Endpoint e = MSOCK__ENDPOINT__INIT;
	uint8_t ip[4] = {198, 18, 2, 1};

	e.ip = (ProtobufCBinaryData){4, ip};
	e.port = 41641;
	d.path = (char *)path;
	d.direct = &e;
	d.rx_packets = d.tx_packets = rx;
	d.rx_derp_packets = d.tx_derp_packets = rx_derp;
	d.last_rx_mono_ns = last_rx_ms * 1000000;
	put(m, BUS_T_DataplanePeer, "k", &d.base, at);
}

static void view(struct dbg_model *m, const char *name)
{
	Msock__NodeView nv = MSOCK__NODE_VIEW__INIT;
	Msock__NodeViewsUpdate u = MSOCK__NODE_VIEWS_UPDATE__INIT;

	nv.node_key = (ProtobufCBinaryData){32, key};
	nv.name = (char *)name;
	nv.home_derp = 900;
	u.node = &nv;
	put(m, BUS_T_NodeViewsUpdate, "k", &u.base, 1000);
}

static void test_failover_marks_and_gap(void **state)
{
	struct dbg_model m;
	struct dbg_peer *p;
	struct dbg_now now = {.unix_ms = 20000, .mono_ns = 20000000000ull};
	struct dbg_buf out = {0};

	(void)state;
	memset(key, 0x11, 32);
	dbg_model_init(&m, 0);
	view(&m, "b");
	dp(&m, "derp", 10, 10, 1000, 1000);
	dp(&m, "direct", 110, 10, 3000, 3000);	    /* change: direct */
	dp(&m, "direct+derp", 120, 15, 4000, 5000); /* failover; last rx at 4 s */
	dp(&m, "direct+derp", 150, 40, 6500, 7000); /* received again at 6.5 s: gap 2.5 s */
	dp(&m, "direct", 250, 40, 9000, 9000);	    /* back: a change */
	p = dbg_model_peer(&m, key);
	assert_non_null(p);
	assert_int_equal(p->n_marks, 3);
	assert_int_equal(dbg_peer_mark(p, 0)->kind, DBG_MARK_CHANGE);
	assert_int_equal(dbg_peer_mark(p, 1)->kind, DBG_MARK_FAILOVER);
	assert_int_equal(dbg_peer_mark(p, 2)->kind, DBG_MARK_CHANGE);
	assert_int_equal(m.failovers, 1);
	assert_int_equal(m.gap_count, 1);
	assert_int_equal(m.gap_buckets[3], 0); /* le 1 s */
	assert_int_equal(m.gap_buckets[5], 1); /* le 5 s */
	dbg_svg_timeline(p, &m, &now, &out);
	assert_false(out.failed);
	/* Drawn in time order: change, failover, change. */
	{
		const char *a = strstr(out.p, "class=\"mark change\""),
			   *b = strstr(out.p, "class=\"mark failover\""),
			   *c = b ? strstr(b, "class=\"mark change\"") : 0;
		assert_true(a && b && c && a < b && b < c);
	}
	assert_non_null(strstr(out.p, "class=\"lane\" data-path=\"derp:900\""));
	assert_non_null(strstr(out.p, "class=\"lane\" data-path=\"direct:198.18.2.1:41641\""));
	dbg_buf_free(&out);
	dbg_metrics(&m, &now, &out);
	assert_non_null(strstr(out.p, "msock_failover_gap_seconds_bucket{le=\"5\"} 1\n"));
	assert_non_null(strstr(out.p, "msock_failover_gap_seconds_count 1\n"));
	assert_non_null(strstr(out.p, "tailscaled_inbound_packets_total{path=\"derp\"} 40\n"));
	assert_non_null(
		strstr(out.p, "tailscaled_inbound_packets_total{path=\"direct_ipv4\"} 210\n"));
	dbg_buf_free(&out);
	dbg_model_free(&m);
}

/* A restarted dataplane's counters start again: no negative bar. */
static void test_counters_going_down(void **state)
{
	struct dbg_model m;
	struct dbg_peer *p;

	(void)state;
	memset(key, 0x22, 32);
	dbg_model_init(&m, 0);
	dp(&m, "direct", 1000, 0, 1, 1000);
	dp(&m, "direct", 5, 0, 2, 2000);
	p = dbg_model_peer(&m, key);
	assert_int_equal(p->lanes[0].rx_packets, 0);
	dbg_model_free(&m);
}

/* Every string from the bus is escaped where it is written. */
static void test_escaping(void **state)
{
	struct dbg_model m;
	struct dbg_now now = {.unix_ms = 5000, .mono_ns = 5000000000ull};
	struct dbg_buf out = {0};
	Msock__Health h = MSOCK__HEALTH__INIT;

	(void)state;
	memset(key, 0x33, 32);
	dbg_model_init(&m, 0);
	view(&m, "<script>alert(1)</script>&\"'");
	h.component = "de\"rp";
	h.code = "x\ny";
	h.severity = "high\\";
	h.text = "</td><img src=x>";
	put(&m, BUS_T_Health, "derp/x", &h.base, 2000);
	dbg_page_magicsock(&m, &now, 0, &out);
	assert_false(out.failed);
	assert_null(strstr(out.p, "<script>"));
	assert_null(strstr(out.p, "<img"));
	assert_non_null(strstr(out.p, "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"));
	dbg_buf_free(&out);
	dbg_metrics(&m, &now, &out);
	assert_non_null(strstr(out.p, "msock_health_warning{component=\"de\\\"rp\",code=\"x\\ny\","
				      "severity=\"high\\\\\"} 1\n"));
	assert_non_null(strstr(out.p, "tailscaled_health_messages{type=\"warning\"} 1\n"));
	dbg_buf_free(&out);
	/* Gone from the netmap: gone from the page. */
	put(&m, BUS_T_NodeViewsUpdate, "k", 0, 3000);
	assert_null(dbg_model_peer(&m, key));
	assert_int_equal(m.n_peers, 0);
	dbg_model_free(&m);
}

/* Disco's counters (DiscoStats) in /metrics: one series per direction,
 * type and path, and per drop reason, named after the message's fields;
 * all there, at 0, before disco publishes. */
static void test_disco_metrics(void **state)
{
	struct dbg_model m;
	struct dbg_now now = {.unix_ms = 5000, .mono_ns = 5000000000ull};
	struct dbg_buf out = {0};
	Msock__DiscoStats s = MSOCK__DISCO_STATS__INIT;
	Msock__DiscoStats__Counts sent_derp = MSOCK__DISCO_STATS__COUNTS__INIT,
				  rx_udp = MSOCK__DISCO_STATS__COUNTS__INIT;
	Msock__DiscoStats__Dropped dr = MSOCK__DISCO_STATS__DROPPED__INIT;

	(void)state;
	dbg_model_init(&m, 0);
	dbg_metrics(&m, &now, &out);
	assert_non_null(strstr(out.p, "# TYPE msock_disco_messages_total counter\n"));
	assert_non_null(strstr(out.p,
			       "msock_disco_messages_total{direction=\"received\",type=\"pong\","
			       "path=\"derp\"} 0\n"));
	assert_non_null(
		strstr(out.p, "msock_disco_dropped_messages_total{reason=\"seal_failed\"} 0\n"));
	dbg_buf_free(&out);
	sent_derp.call_me_maybe = 3;
	rx_udp.ping = 7;
	rx_udp.other = 1;
	dr.bad_box = 2;
	dr.late_birthday_pong = 11;
	s.sent_derp = &sent_derp;
	s.received_udp = &rx_udp;
	s.dropped = &dr;
	s.cmm_unusable_endpoints = 4;
	put(&m, BUS_T_DiscoStats, "self", &s.base, 2000);
	dbg_metrics(&m, &now, &out);
	assert_non_null(strstr(out.p, "msock_disco_messages_total{direction=\"sent\","
				      "type=\"call_me_maybe\",path=\"derp\"} 3\n"));
	assert_non_null(strstr(out.p,
			       "msock_disco_messages_total{direction=\"received\",type=\"ping\","
			       "path=\"udp\"} 7\n"));
	assert_non_null(strstr(out.p,
			       "msock_disco_messages_total{direction=\"received\",type=\"other\","
			       "path=\"udp\"} 1\n"));
	assert_non_null(strstr(out.p, "msock_disco_messages_total{direction=\"sent\",type=\"ping\","
				      "path=\"udp\"} 0\n"));
	assert_non_null(
		strstr(out.p, "msock_disco_dropped_messages_total{reason=\"bad_box\"} 2\n"));
	assert_non_null(strstr(
		out.p, "msock_disco_dropped_messages_total{reason=\"late_birthday_pong\"} 11\n"));
	assert_non_null(strstr(out.p, "msock_disco_call_me_maybe_endpoints_ignored_total{reason="
				      "\"unusable\"} 4\n"));
	dbg_buf_free(&out);
	dbg_model_free(&m);
}

/* The response buffer refuses to grow past its bound. */
static void test_buf_bound(void **state)
{
	struct dbg_buf b = {0};
	static char chunk[1 << 20];

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 70 && !b.failed; i++)
		dbg_buf_put(&b, chunk, sizeof(chunk));
	assert_true(b.failed);
	assert_true(b.len <= DBG_MAX_RESPONSE_BYTES);
	dbg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover_marks_and_gap),
		cmocka_unit_test(test_counters_going_down),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_disco_metrics),
		cmocka_unit_test(test_buf_bound),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
