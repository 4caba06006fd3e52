/* derp_client: one non-blocking connection to one DERP server, for an
 * event loop (the derp service; msock-derper's mesh). It connects (TCP,
 * TLS unless plain), sends Tailscale's HTTP upgrade (with Derp-Fast-Start:
 * the client then reads no 101 and speaks DERP at once, as Tailscale's
 * derphttp client does when it knows the server key — here always, since
 * the server key is checked from the ServerKey frame), logs in with the
 * boxed ClientInfo, and then sends and receives frames. It follows
 * Tailscale's client (derp_client.go) where a server may differ: a 101 is
 * accepted and skipped if one comes, Ping is answered with Pong, frames over
 * 1 MiB end the connection, short PeerGone/PeerPresent/RecvPacket/Ping/
 * Pong/Restarting frames are ignored, and the token bucket the server
 * announces in ServerInfo paces what we send (over it, a packet is dropped
 * and counted, as Tailscale's client does).
 *
 * Timers (derp_client_deadline): the login deadline, and the keepalive
 * watchdog: nothing heard for 2 x DERP_KEEPALIVE_MS means the connection is
 * dead (the server sends KeepAlive at least every DERP_KEEPALIVE_MS). */
#ifndef MSOCK_DERP_CLIENT_H
#define MSOCK_DERP_CLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"
#include "key.h"
#include "tls_certname.h"

enum {
	DERP_CLIENT_LOGIN_TIMEOUT_MS = 10000,	  /* connect + TLS + login */
	DERP_CLIENT_WBUF_MAX_BYTES = 1024 * 1024, /* queued output; past it sends fail */
	DERP_CLIENT_RBUF_MAX_BYTES = DERP_FRAME_HEADER_LEN + DERP_CLIENT_MAX_FRAME_BYTES,
	DERP_CLIENT_HOST_MAX = 256,
	DERP_CLIENT_WHY_MAX = DERP_CLIENT_HOST_MAX + 128, /* on_closed's reason, host included */
};

enum derp_client_state {
	DERP_CLIENT_INVALID = 0,
	DERP_CLIENT_CONNECTING,
	DERP_CLIENT_TLS,
	DERP_CLIENT_LOGIN, /* request sent; waiting for ServerKey, then ServerInfo */
	DERP_CLIENT_UP,
	DERP_CLIENT_CLOSED,
};

struct derp_client_cb {
	void (*on_up)(void *arg, const struct derp_server_info *si);
	void (*on_packet)(void *arg, const uint8_t src[DERP_KEY_LEN], const uint8_t *p, size_t n);
	void (*on_peer_gone)(void *arg, const uint8_t peer[DERP_KEY_LEN], uint8_t reason);
	void (*on_peer_present)(void *arg, const uint8_t peer[DERP_KEY_LEN], uint8_t flags);
	void (*on_health)(void *arg, const char *text, size_t len);
	void (*on_closed)(void *arg, const char *why);
};

struct derp_client_cfg {
	struct ipport addr;
	/* HostName: the Host header and SNI (none for an IP literal); the
	 * name the certificate must carry unless cert says otherwise. */
	char host[DERP_CLIENT_HOST_MAX];
	struct tls_certname cert; /* the node's CertName (tls_certname.h); zero: none */
	bool tls;
	SSL_CTX *ssl_ctx;  /* caller-owned; its verification settings apply */
	bool insecure;	   /* skip certificate verification (InsecureForTests) */
	struct key32 priv; /* our node private key */
	bool has_mesh_key;
	uint8_t mesh_key[DERP_MESH_KEY_LEN];
	bool preferred; /* send NotePreferred(true) after login (home region) */
};

struct derp_client_stats {
	uint64_t sent, received, send_dropped_full, send_dropped_rate, ignored_frames;
};

struct derp_client;

/* Starts connecting; NULL on immediate failure (errno set). Caller frees. */
struct derp_client *derp_client_new(const struct derp_client_cfg *cfg,
				    const struct derp_client_cb *cb, void *arg, uint64_t now_ns);
void derp_client_free(struct derp_client *c);

int derp_client_fd(const struct derp_client *c);
/* EPOLLIN / EPOLLOUT the client waits for now. */
uint32_t derp_client_events(const struct derp_client *c);
/* Make progress after the fd became ready (or at any time). */
void derp_client_on_io(struct derp_client *c, uint64_t now_ns);
/* The next time derp_client_tick must run (UINT64_MAX: none). */
uint64_t derp_client_deadline(const struct derp_client *c);
void derp_client_tick(struct derp_client *c, uint64_t now_ns);

enum derp_client_state derp_client_state(const struct derp_client *c);
const char *derp_client_state_name(enum derp_client_state s);
const struct key32 *derp_client_server_key(const struct derp_client *c);
const struct derp_client_stats *derp_client_stats(const struct derp_client *c);
/* Bytes queued and not yet written (at most DERP_CLIENT_WBUF_MAX_BYTES). */
size_t derp_client_pending(const struct derp_client *c);

/* Queue frames. 0, -ENOTCONN (not logged in), -ENOBUFS (output full: the
 * packet is dropped and counted), -EINVAL. Call derp_client_on_io (or wait
 * for EPOLLOUT) to push them out. */
int derp_client_send(struct derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *p,
		     size_t n, uint64_t now_ns);
int derp_client_note_preferred(struct derp_client *c, bool preferred);
int derp_client_watch_conns(struct derp_client *c);
int derp_client_forward(struct derp_client *c, const uint8_t src[DERP_KEY_LEN],
			const uint8_t dst[DERP_KEY_LEN], const uint8_t *p, size_t n);
int derp_client_close_peer(struct derp_client *c, const uint8_t peer[DERP_KEY_LEN]);

#endif
