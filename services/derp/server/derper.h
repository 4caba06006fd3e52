/* derper: the msock-derper process, a DERP relay server (Tailscale's
 * cmd/derper + derp/derpserver). One epoll loop owns everything: listeners,
 * connections (TLS or plain), the client registry, per-client packet
 * queues, and the STUN socket. Files: main.c (flags, set-up, loop),
 * derper_conn.c (connections: TLS, buffers, HTTP front), derper_derp.c
 * (the DERP protocol on a connection: login, frames), derper_clients.c
 * (registry, routing, queues), derper_heard.c (who got packets from
 * whom: PeerGone when a sender leaves), derper_mesh.c, derper_tls.c,
 * derper_stun.c.
 *
 * Timers (all from conn->deadline_ns or the server's next tick):
 *   handshake deadline   DERPER_HANDSHAKE_MS after accept, until login
 *   keepalive            every DERP_KEEPALIVE_MS + 0..5 s jitter per client
 *   write stall          a client whose output makes no progress for
 *                        -tcp-write-timeout (2 s) is closed (a mesh peer:
 *                        DERPER_MESH_WRITE_TIMEOUT_MS)
 * and the kernel's, set on each accepted socket: TCP_USER_TIMEOUT
 * (-tcp-user-timeout, 15 s) and keepalive (-tcp-keepalive-time, 10 min). */
#ifndef MSOCK_DERPER_H
#define MSOCK_DERPER_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "derp/derp_client.h"
#include "key.h"
#include "log.h"
#include "outbuf.h"
#include "tls_stream.h"

enum {
	DERPER_MAX_EVENTS = 256,
	DERPER_RBUF_MIN_BYTES = 4096,	    /* grown per frame, shrunk back when idle */
	DERPER_WBUF_MAX_BYTES = 256 * 1024, /* output staged for the socket */
	/* A mesh peer's output: the watcher's PeerPresent dump (56 bytes a
	 * client, ~300,000 clients) must fit, as Tailscale queues it without
	 * a bound. Only clients with the mesh key get this much. */
	DERPER_MESH_WBUF_MAX_BYTES = 16 * 1024 * 1024,
	DERPER_QUEUE_DEPTH = 32,	      /* Tailscale's defaultPerClientSendQueueDepth */
	DERPER_MESH_WRITE_TIMEOUT_MS = 30000, /* Tailscale's privilegedWriteTimeout */
	DERPER_MAX_PENDING_HANDSHAKES = 1024, /* unfinished logins at once; more are refused */
	DERPER_KEEPALIVE_JITTER_MS = 5000,    /* Tailscale: rand.N(5 * time.Second) */
	DERPER_PEERGONE_PER_SEC = 1,	      /* Tailscale: rate.Every(time.Second), burst 3 */
	DERPER_PEERGONE_BURST = 3,
	DERPER_CLIENT_HASH_BUCKETS = 1 << 14,
	DERPER_HEARD_BUCKETS = 1 << 14, /* the server's index of senders (derper_heard.c) */
	/* Senders remembered per client for PeerGone(disconnected). Ours
	 * (Tailscale's sawSrc map has no bound): past it, a client is not told
	 * when further senders leave. */
	DERPER_HEARD_MAX_PER_CLIENT = 16384,
	DERPER_FRAME_HDR_BYTES = 5,	 /* derp.FrameHeaderLen */
	DERPER_FRAME_RECV_PACKET = 0x05, /* derp.FrameRecvPacket */
	/* Tailscale's minRateLimitTokenBucketSize: a bucket holds at least one
	 * SendPacket frame, and a frame is charged at most this much. */
	DERPER_RATE_MIN_BUCKET_BYTES = 64 * 1024 + 32,
};

/* What an epoll event points at: every such struct starts with its kind. */
enum ev_kind {
	EV_INVALID = 0,
	EV_CONN,
	EV_LISTEN_TLS,
	EV_LISTEN_PLAIN,
	EV_STUN,
	EV_SIGNAL,
	EV_MESH,
};

struct evsrc {
	enum ev_kind kind;
	int fd;
};

enum {
	DERPER_MESH_MAX_LINKS = 16,
	DERPER_MESH_NAME_MAX = 256,
	DERPER_MESH_REDIAL_MS = 1000,
	DERPER_MESH_REMOTE_BUCKETS = 1 << 12,
	/* A link with more output queued than this stops reading the client
	 * whose packet it took, until it is down to DERPER_MESH_LINK_LOW_BYTES:
	 * Tailscale's ForwardPacket blocks its sender the same way, where a
	 * full link would otherwise drop (its queue is
	 * DERP_CLIENT_WBUF_MAX_BYTES). */
	DERPER_MESH_LINK_HIGH_BYTES = 256 * 1024,
	DERPER_MESH_LINK_LOW_BYTES = 128 * 1024,
	/* Tailscale's ForwardPacket write timeout: a link whose output has not
	 * shrunk for this long is closed (and redialled), and its senders read
	 * again. */
	DERPER_MESH_FORWARD_TIMEOUT_MS = 5000,
};

struct derper;

/* A link to another derper of the region (-mesh-with). */
struct mesh_link {
	struct evsrc src; /* first: the epoll payload (kind EV_MESH) */
	struct derper *srv;
	char name[DERPER_MESH_NAME_MAX];
	struct ipport addr;
	struct derp_client *dc;
	bool up;
	/* The server it reached has our key: it is this server (its own name
	 * listed as "name/dialhost", or another name for it). Closed and
	 * never dialled again, as Tailscale's "detected self-connect". */
	bool self;
	uint64_t redial_ns;
	char last_why[DERP_CLIENT_WHY_MAX]; /* the last failure logged */
	struct dconn *waiters;		    /* clients not read until the link drains */
	uint64_t wait_since_ns;		    /* the output last shrank (or waiting began) */
	size_t wait_pending;		    /* the output then */
};

struct remote;
struct heard;

/* The senders a client has been sent packets from (derper_heard.c). */
struct heard_set {
	struct heard **b; /* nb chains by sender key; NULL until the first */
	uint32_t nb, n;
};

enum dconn_state {
	DC_INVALID = 0,
	DC_TLS,	       /* TLS handshake */
	DC_HTTP,       /* reading the HTTP request head */
	DC_HTTP_REPLY, /* a plain HTTP answer is being written; close after */
	DC_LOGIN,      /* ServerKey sent; waiting for ClientInfo */
	DC_DERP,       /* logged in: frames */
	DC_CLOSED,
};

/* One packet waiting for a client: src key + bytes. */
struct dpkt {
	uint8_t src[KEY_LEN];
	uint32_t len;
	uint8_t data[];
};

struct dqueue {
	struct dpkt *p[DERPER_QUEUE_DEPTH];
	unsigned head, n;
};

struct dconn {
	enum ev_kind kind; /* EV_CONN; first: the epoll payload */
	struct derper *srv;
	struct tls_stream io; /* the socket, and its TLS when served with TLS */
	enum dconn_state st;
	struct ipport remote;
	uint64_t id;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint64_t skip;		 /* bytes of an unknown frame still to skip */
	bool read_recently;	 /* read since the last tick (else the input buffer is released) */
	struct outbuf out;	 /* staged for the socket */
	uint64_t deadline_ns;	 /* handshake deadline, or 0 */
	uint64_t write_stall_ns; /* output pending without progress since, or 0 */
	uint64_t next_keepalive_ns;
	bool want_write;   /* EPOLLOUT is armed */
	bool framed;	   /* the output holds DERP frames from wframe on */
	size_t wframe;	   /* start of the first frame not fully written */
	bool write_failed; /* closing because writing failed or stalled */
	bool tls_want_read_on_write;
	/* DERP */
	struct key32 key;
	bool preferred, can_mesh, watching, is_prober;
	bool not_ideal; /* sent Ideal-Node: its ideal node is another one (PeerPresent flag) */
	bool replaced;	/* closed for a newer connection with its key: not gone */
	struct heard_set heard;
	struct dqueue q, dq; /* packets, and disco packets on their own queue */
	bool ping_pending;
	uint8_t pong[8];
	double pg_tokens; /* PeerGone(not here) token bucket */
	double rl_tokens; /* receive rate limit token bucket (bytes) */
	uint64_t rl_last_ns;
	uint64_t paused_until_ns;    /* reading paused by the rate limit until then */
	struct mesh_link *mesh_wait; /* reading paused until this link drains */
	struct dconn *mesh_wait_next;
	uint64_t pg_last_ns;
	struct dconn *hnext; /* registry chain */
	bool flush_pending;  /* on the server's flush list */
	struct dconn *flush_next;
	struct dconn *closed_next; /* on the server's closed list, freed by dconn_reap */
	struct dconn *all_next, *all_prev;
	struct dconn *watch_next, *watch_prev; /* on the server's watcher list */
	uint64_t sent_pkts, recv_pkts, dropped;
};

struct derper_counters {
	uint64_t accepts, refused_pending, clients, logins, login_failures;
	uint64_t packets_relayed, bytes_relayed;
	uint64_t drop_unknown_dest, drop_queue_head, drop_queue_tail, drop_gone, drop_write;
	uint64_t peer_gone_not_here, peer_gone_disconnected, malformed, unknown_frames,
		dup_replaced;
	uint64_t home_clients; /* gauge: clients that sent NotePreferred(true) */
	uint64_t stun_requests, stun_bad;
	uint64_t write_timeouts, handshake_timeouts;
	uint64_t rate_limited_waits;
	uint64_t packets_forwarded_in, packets_forwarded_out, drop_unknown_dest_on_fwd;
};

struct derper {
	int epfd;
	SSL_CTX *tls; /* NULL: plain HTTP */
	struct key32 priv, pub;
	char pub_hex[2 * KEY_LEN + 1];
	uint64_t handshake_ms;
	uint64_t write_timeout_ms; /* -tcp-write-timeout; 0: none (mesh peers have their own) */
	struct dconn *clients[DERPER_CLIENT_HASH_BUCKETS]; /* logged-in, by key */
	struct dconn *all;				   /* every connection */
	struct dconn *watchers;	   /* sent WatchConns: told of every login and logout */
	struct dconn *flush_list;  /* got packets this loop turn: flushed once each */
	struct dconn *closed_list; /* closed this loop turn: freed by dconn_reap */
	size_t n_conns, n_pending;
	uint64_t next_id;
	uint64_t now_ns;
	struct derper_counters ctr;
	struct log_ratelimit rl_conn; /* ordinary closes */
	struct log_ratelimit rl_bad;  /* protocol violations: their own budget */
	bool has_mesh_key;
	uint8_t mesh_key[KEY_LEN];     /* -mesh-psk-file; compared in constant time */
	uint64_t rate_bps, rate_burst; /* per-client receive limit; 0 = none */
	struct mesh_link links[DERPER_MESH_MAX_LINKS];
	size_t n_links;
	struct remote *remote[DERPER_MESH_REMOTE_BUCKETS]; /* keys at mesh peers */
	struct heard *heard[DERPER_HEARD_BUCKETS];	   /* by sender key: derper_heard.c */
	SSL_CTX *mesh_tls; /* for dialling peers when we serve TLS ourselves */
	bool verify_clients;
	struct key32 *allowed; /* -verify-clients allowlist */
	size_t n_allowed;
};

/* derper_conn.c */
struct dconn *dconn_new(struct derper *s, int fd, SSL *ssl, const struct ipport *remote);
void dconn_close(struct dconn *c, const char *why);
/* Closes for a protocol violation by the peer: counted (malformed) and
 * logged at WARN with its own rate limit, so ordinary closes cannot hide it. */
void dconn_close_bad(struct dconn *c, const char *why);
void dconn_free(struct dconn *c);
void dconn_on_readable(struct dconn *c);
void dconn_on_writable(struct dconn *c);
/* Appends bytes to the output; false when it would pass DERPER_WBUF_MAX_BYTES. */
bool dconn_write(struct dconn *c, const void *p, size_t n);
bool dconn_wbuf_room(const struct dconn *c, size_t n);
void dconn_flush(struct dconn *c);
/* Flush c at the end of this loop turn (once, however many packets it
 * got): one send() for a batch instead of one per packet. */
void dconn_schedule_flush(struct dconn *c);
void dconn_flush_pending(struct derper *s);
/* Frees the connections closed since the last call. */
void dconn_reap(struct derper *s);
void dconn_tick(struct dconn *c);
/* Stops reading from c (the rate limit: until paused_until_ns; a mesh
 * link: while mesh_wait is set). */
void dconn_pause(struct dconn *c);
/* Reads c again after a pause: what is buffered first. */
void dconn_resume(struct dconn *c);
/* True while c's input is not to be read (rate limit, mesh link). */
bool dconn_paused(const struct dconn *c);
/* Grows the input buffer to hold `need` bytes (the caller bounds need). */
bool dconn_rbuf_reserve(struct dconn *c, size_t need);

/* derper_derp.c */
void derper_on_upgrade(struct dconn *c, bool fast_start);
/* Consumes frames from c->rbuf; returns bytes consumed or -1 (closed). */
long derper_on_input(struct dconn *c);
void derper_fill_output(struct dconn *c);
void derper_send_keepalive(struct dconn *c);
void derper_send_health(struct dconn *c, const char *text);
/* PeerGone(peer, reason) to c, flushed at the end of the loop turn. */
void derper_send_peer_gone(struct dconn *c, const uint8_t peer[KEY_LEN], uint8_t reason);

/* derper_clients.c */
void clients_register(struct derper *s, struct dconn *c);
void clients_unregister(struct derper *s, struct dconn *c);
struct dconn *clients_find(struct derper *s, const struct key32 *k);
/* Queues a packet from src for dst (drops at the head when full). */
void clients_enqueue(struct derper *s, struct dconn *dst, const uint8_t src[KEY_LEN],
		     const uint8_t *pkt, size_t len);
struct dpkt *dqueue_pop(struct dqueue *q);
/* disco.LooksLikeDiscoWrapper: the magic and room for a key and a nonce. */
bool clients_looks_disco(const uint8_t *p, size_t len);
void dqueue_clear(struct dqueue *q);

#endif
