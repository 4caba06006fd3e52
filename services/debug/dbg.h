/* dbg: msock-debug, the node's debug HTTP endpoint (docs/debug.md): a
 * subscriber of the bus's state that serves /debug/magicsock (Tailscale's
 * wgengine/magicsock debughttp.go ServeHTTPDebug, and a path timeline per
 * peer) and /metrics (Prometheus text; tailscaled's user metrics where
 * they exist). Files:
 *   dbg_model.c    what it keeps of the bus: the last value of each state
 *                  key, and per peer a bounded ring of traffic samples and
 *                  marks (pongs, path changes, failovers)
 *   dbg_buf.c      the growing output buffer, HTML escaping
 *   dbg_page.c     /debug/magicsock
 *   dbg_svg.c      a peer's path timeline as inline SVG
 *   dbg_metrics.c  /metrics
 *   dbg_http.c     one request in, one response out (pure; fuzzed)
 *   dbg_server.c   the listening socket and the connections
 *   main.c         start-up and the loop.
 * Everything here takes the time from its caller. */
#ifndef MSOCK_DBG_H
#define MSOCK_DBG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bus.h"
#include "keymap.h"
#include "state.pb-c.h"
#include "netmap.pb-c.h"

enum {
	/* Traffic samples kept per peer: one per DataplanePeer publication
	 * (at most every 2 s while the counters move, DP_PUBLISH_MS), so 90
	 * samples show the last 3 minutes of a busy peer. 40 bytes each:
	 * 3.6 KB a peer that moved traffic, 36 MB at 10,000 busy peers. */
	DBG_SAMPLES_PER_PEER = 90,
	/* Marks (pongs, path changes, failovers, pings) kept per peer. */
	DBG_MARKS_PER_PEER = 64,
	/* Lanes per peer: its DERP regions and direct addresses; a path past
	 * this is drawn in no lane (counted in lanes_dropped). */
	DBG_LANES_PER_PEER = 8,
	/* Peers kept: the config's own limit (CFG_MAX_PEERS). */
	DBG_MAX_PEERS = 100000,
	/* Keys of the other state topics kept (DERP regions, components,
	 * health warnings, ...); past it a new key is dropped and counted. */
	DBG_MAX_KEYS = 8192,
	/* A response (page or metrics) larger than this is refused with 500:
	 * the page lists at most DBG_PAGE_MAX_PEER_ROWS peers. */
	DBG_MAX_RESPONSE_BYTES = 64 << 20,
	/* Peers in the page's table, and peers with a timeline drawn; the
	 * rest are one ?peer=<hex> away. */
	DBG_PAGE_MAX_PEER_ROWS = 2000,
	DBG_PAGE_MAX_TIMELINES = 32,
};

enum dbg_lane_kind {
	DBG_LANE_INVALID = 0,
	DBG_LANE_DERP,	 /* a DERP region */
	DBG_LANE_DIRECT, /* a direct address */
};

struct dbg_lane {
	enum dbg_lane_kind kind;
	uint32_t region;     /* DBG_LANE_DERP */
	struct ipport addr;  /* DBG_LANE_DIRECT */
	int64_t first_ms;    /* when it was first seen, unix ms */
	uint64_t rx_packets; /* traffic the samples put on it */
	uint64_t tx_packets;
};

/* What the dataplane said the path was (DataplanePeer.path). */
enum dbg_dp_path {
	DBG_DP_UNKNOWN = 0,
	DBG_DP_NONE,
	DBG_DP_DIRECT,
	DBG_DP_DIRECT_DERP, /* direct no longer trusted: DERP too */
	DBG_DP_DERP,
	DBG_DP_STATIC,
};

struct dbg_sample {
	int64_t at_ms;			   /* when the debug component heard it */
	uint64_t rx, tx, rx_derp, tx_derp; /* packets, as DataplanePeer counts */
	int8_t direct_lane, derp_lane;	   /* -1: none */
	uint8_t path;			   /* enum dbg_dp_path */
};

enum dbg_mark_kind {
	DBG_MARK_INVALID = 0,
	DBG_MARK_PING,	   /* msockctl ping (PingRequest): disco's own pings are not on the bus */
	DBG_MARK_PONG,	   /* DiscoPong: a ping answered, with its latency */
	DBG_MARK_CHANGE,   /* a path change: disco's (PathHistory) or the dataplane's return */
	DBG_MARK_FAILOVER, /* the dataplane left the direct path for DERP */
};

enum dbg_mark_source {
	DBG_SRC_INVALID = 0,
	DBG_SRC_DISCO,
	DBG_SRC_DATAPLANE,
	DBG_SRC_TOOL,
};

struct dbg_mark {
	int64_t at_ms;
	uint8_t kind;	/* enum dbg_mark_kind */
	uint8_t source; /* enum dbg_mark_source */
	int8_t lane;	/* -1: none (a ping) */
	uint32_t latency_us;
};

struct dbg_peer {
	uint8_t key[32];
	/* The last value of each per-peer topic (owned; NULL: none). */
	Msock__NodeViewsUpdate *view;
	Msock__PathChanged *path;
	Msock__DiscoPong *pong;
	Msock__PathHistory *history;
	Msock__DataplanePeer *dp;
	struct dbg_lane lanes[DBG_LANES_PER_PEER];
	unsigned n_lanes;
	struct dbg_sample *samples; /* ring of DBG_SAMPLES_PER_PEER, allocated at the first */
	unsigned n_samples, sample_head;
	struct dbg_mark marks[DBG_MARKS_PER_PEER]; /* ring */
	unsigned n_marks, mark_head;
	int64_t last_change_ms; /* the newest PathHistory change marked */
	int64_t last_pong_ms;	/* the newest DiscoPong marked */
	uint8_t dp_path;	/* enum dbg_dp_path of the last sample */
	bool direct_v6;		/* the last direct address was IPv6 (metrics' path label) */
	/* A failover's gap is measured from the last packet before it to the
	 * first publication that shows packets received after it. */
	bool gap_open;
	uint64_t gap_last_rx_mono_ns;
	uint64_t gap_rx_packets;
};

/* The failover gap histogram's upper bounds, in seconds (metrics). */
#define DBG_GAP_BUCKETS                         \
	{                                       \
		0.1, 0.25, 0.5, 1, 2, 5, 10, 30 \
	}
enum { DBG_GAP_NBUCKETS = 8 };

/* One kept key of another state topic. */
struct dbg_kv {
	const struct bus_topic *topic;
	char key[BUS_KEY_MAX + 1];
	ProtobufCMessage *msg; /* owned */
	int64_t set_ms;	       /* when it last changed */
	int64_t up_since_ms;   /* DERPRegionState: when its state became "up"; 0 */
};

struct dbg_model {
	struct keymap index; /* node key -> peers[] */
	struct dbg_peer *peers;
	size_t n_peers, cap_peers;
	struct dbg_kv *kv;
	size_t n_kv;
	int64_t started_ms;
	/* Counted since this component started (metrics). */
	uint64_t path_changes, failovers, pings;
	uint64_t gap_count, gap_buckets[DBG_GAP_NBUCKETS];
	double gap_sum_s;
	uint64_t dropped_keys, dropped_peers, lanes_dropped, nomem;
};

void dbg_model_init(struct dbg_model *m, int64_t now_ms);
void dbg_model_free(struct dbg_model *m);
/* A state message (or deletion) from the bus; now is the wall clock in ms
 * (samples and marks are stamped with it) and now_mono the monotonic
 * clock (the dataplane's packet times are monotonic). */
void dbg_model_state(struct dbg_model *m, const struct bus_msg *msg, int64_t now_ms,
		     uint64_t now_mono);
/* A PingRequest event. */
void dbg_model_ping(struct dbg_model *m, const uint8_t node_key[32], int64_t now_ms);
/* A snapshot of `topic` begins: what is kept of it is forgotten. */
void dbg_model_forget_topic(struct dbg_model *m, const char *topic);

struct dbg_peer *dbg_model_peer(const struct dbg_model *m, const uint8_t key[32]);
/* The kept value of topic under key, or NULL. */
const struct dbg_kv *dbg_model_get(const struct dbg_model *m, const char *topic, const char *key);
/* The i-th sample / mark of p, oldest first. */
const struct dbg_sample *dbg_peer_sample(const struct dbg_peer *p, unsigned i);
const struct dbg_mark *dbg_peer_mark(const struct dbg_peer *p, unsigned i);
/* "derp:900" or "direct:192.0.2.1:41641" into buf. */
void dbg_lane_id(const struct dbg_lane *l, char *buf, size_t cap);
const char *dbg_mark_name(enum dbg_mark_kind k);
const char *dbg_dp_path_name(enum dbg_dp_path p);

/* dbg_buf.c: a growing buffer of text, bounded by DBG_MAX_RESPONSE_BYTES;
 * past it (or out of memory) `failed` is set and nothing more is kept. */
struct dbg_buf {
	char *p;
	size_t len, cap;
	bool failed;
};

void dbg_buf_free(struct dbg_buf *b);
void dbg_buf_put(struct dbg_buf *b, const char *s, size_t n);
void dbg_buf_puts(struct dbg_buf *b, const char *s);
void dbg_buf_printf(struct dbg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' escaped, for HTML text and attribute values. */
void dbg_buf_html(struct dbg_buf *b, const char *s);
void dbg_buf_html_n(struct dbg_buf *b, const char *s, size_t n);
/* printf, then escaped as dbg_buf_html. */
void dbg_buf_htmlf(struct dbg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A Prometheus label value: \ " and newline escaped. */
void dbg_buf_label(struct dbg_buf *b, const char *s);

/* What a page is drawn at. */
struct dbg_now {
	int64_t unix_ms;
	uint64_t mono_ns;
};

/* dbg_page.c: /debug/magicsock; `peer` (NULL: all) is a node key in hex
 * from ?peer=. */
void dbg_page_magicsock(const struct dbg_model *m, const struct dbg_now *now, const char *peer,
			struct dbg_buf *out);
/* The index at / and /debug/. */
void dbg_page_index(struct dbg_buf *out);
/* dbg_svg.c: the peer's timeline, an <svg> element. */
void dbg_svg_timeline(const struct dbg_peer *p, const struct dbg_model *m,
		      const struct dbg_now *now, struct dbg_buf *out);
/* dbg_metrics.c: /metrics. */
void dbg_metrics(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *out);

#endif
