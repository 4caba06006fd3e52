/* derper_derp: the DERP protocol on one connection (Tailscale's
 * derpserver.go accept/run/sendLoop): ServerKey, ClientInfo -> ServerInfo,
 * then frames. A frame of a known type over its limit, or malformed, closes
 * this connection with a logged reason and touches nothing else; a frame of
 * an unknown type is skipped without buffering, as the protocol says. */
#include "derper.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"
#include "derper_heard.h"
#include "derper_mesh.h"

enum {
	/* Output staged per fill: keeps one busy client from starving others. */
	DERPER_FILL_BYTES = 64 * 1024,
	DERPER_FRAME_SCRATCH = DERP_FRAME_HEADER_LEN + 2 * KEY_LEN + DERP_MAX_PACKET_SIZE,
};

static void next_keepalive(struct dconn *c)
{
	uint64_t jitter = (uint64_t)randombytes_uniform(DERPER_KEEPALIVE_JITTER_MS) * NS_PER_MS;

	c->next_keepalive_ns = c->srv->now_ns + DERP_KEEPALIVE_MS * NS_PER_MS + jitter;
}

void derper_on_upgrade(struct dconn *c, bool fast_start)
{
	uint8_t buf[DERP_FRAME_HEADER_LEN + DERP_MAGIC_LEN + KEY_LEN];
	size_t n = derp_encode_server_key(c->srv->pub.b, buf, sizeof(buf));

	(void)fast_start; /* the 101 (or its absence) was written by the front */
	/* From here on the output is DERP frames (see packets_in_output). */
	c->framed = true;
	c->wframe = c->out.len;
	if (!n || !dconn_write(c, buf, n)) {
		dconn_close(c, "cannot write ServerKey");
		return;
	}
	c->st = DC_LOGIN;
}

void derper_send_keepalive(struct dconn *c)
{
	uint8_t buf[DERP_FRAME_HEADER_LEN];
	size_t n = derp_encode_keepalive(buf, sizeof(buf));

	if (n && dconn_write(c, buf, n))
		next_keepalive(c);
}

void derper_send_health(struct dconn *c, const char *text)
{
	uint8_t buf[DERP_FRAME_HEADER_LEN + 256];
	size_t n = derp_encode_health(text, buf, sizeof(buf));

	if (n)
		dconn_write(c, buf, n);
}

/* Charges a received frame to the client's token bucket (Tailscale's
 * rateLimit: mesh peers exempt, a frame charged at most one bucket). An
 * empty bucket pauses reading until it has refilled to zero. */
static void rate_charge(struct dconn *c, uint32_t len)
{
	struct derper *s = c->srv;
	double rate = (double)s->rate_bps, elapsed = (double)(s->now_ns - c->rl_last_ns) / 1e9;

	if (!s->rate_bps || c->can_mesh)
		return;
	c->rl_tokens += elapsed * rate;
	if (c->rl_tokens > (double)s->rate_burst)
		c->rl_tokens = (double)s->rate_burst;
	c->rl_last_ns = s->now_ns;
	c->rl_tokens -= len < DERPER_RATE_MIN_BUCKET_BYTES ? len : DERPER_RATE_MIN_BUCKET_BYTES;
	if (c->rl_tokens >= 0)
		return;
	s->ctr.rate_limited_waits++;
	c->paused_until_ns = s->now_ns + (uint64_t)(-c->rl_tokens / rate * 1e9) + 1;
	dconn_pause(c);
}

static bool allowed(struct derper *s, const struct key32 *k)
{
	if (!s->verify_clients)
		return true;
	for (size_t i = 0; i < s->n_allowed; i++)
		if (memcmp(s->allowed[i].b, k->b, KEY_LEN) == 0)
			return true;
	return false;
}

/* ClientInfo: open the box, check the client may connect, answer
 * ServerInfo, and enter the registry. */
static int on_client_info(struct dconn *c, const uint8_t *payload, size_t len)
{
	struct derper *s = c->srv;
	struct derp_client_info ci;
	/* The version only, as Tailscale's sendServerInfo: a token bucket
	 * here would make Tailscale's client drop its own packets over the
	 * rate (derp_client.go setSendRateLimiter), where Tailscale's server
	 * paces the sender instead, as we do (rate_charge). */
	struct derp_server_info si = {.version = DERP_PROTOCOL_VERSION};
	uint8_t buf[DERP_FRAME_HEADER_LEN + 512];
	size_t n;
	int rc;

	rc = derp_client_info_open(&s->priv, payload, len, &c->key, &ci);
	if (rc < 0) {
		s->ctr.login_failures++;
		dconn_close_bad(c, derp_strerror(rc));
		return -1;
	}
	if (!allowed(s, &c->key)) {
		s->ctr.login_failures++;
		dconn_close(c, "client key not in the -verify-clients allowlist");
		return -1;
	}
	c->can_mesh =
		s->has_mesh_key && ci.has_mesh_key && derp_mesh_key_equal(ci.mesh_key, s->mesh_key);
	c->is_prober = ci.is_prober;
	if (derp_server_info_seal(&s->priv, &c->key, &si, buf + DERP_FRAME_HEADER_LEN,
				  sizeof(buf) - DERP_FRAME_HEADER_LEN, &n) < 0 ||
	    !derp_frame_header_encode(DERP_FRAME_SERVER_INFO, (uint32_t)n, buf,
				      DERP_FRAME_HEADER_LEN) ||
	    !dconn_write(c, buf, DERP_FRAME_HEADER_LEN + n)) {
		dconn_close(c, "cannot write ServerInfo");
		return -1;
	}
	s->n_pending--;
	c->st = DC_DERP;
	c->deadline_ns = 0;
	s->ctr.logins++;
	clients_register(s, c);
	next_keepalive(c);
	c->rl_tokens = (double)s->rate_burst;
	c->rl_last_ns = s->now_ns;
	return 0;
}

void derper_send_peer_gone(struct dconn *c, const uint8_t peer[KEY_LEN], uint8_t reason)
{
	uint8_t buf[DERP_FRAME_HEADER_LEN + KEY_LEN + 1];
	size_t n = derp_encode_peer_gone(peer, reason, buf, sizeof(buf));

	if (!n || !dconn_write(c, buf, n))
		return;
	if (reason == DERP_PEER_GONE_NOT_HERE)
		c->srv->ctr.peer_gone_not_here++;
	else
		c->srv->ctr.peer_gone_disconnected++;
	dconn_schedule_flush(c);
}

/* PeerGone(not here) for a packet to a key nobody in the region has: only
 * for a disco packet (the sender is trying to reach a peer directly through
 * us) and at most DERPER_PEERGONE_PER_SEC with a burst, as Tailscale's
 * requestPeerGoneWriteLimited. */
static void peer_gone_not_here(struct dconn *c, const uint8_t dst[KEY_LEN], const uint8_t *pkt,
			       size_t len)
{
	struct derper *s = c->srv;
	double elapsed = (double)(s->now_ns - c->pg_last_ns) / 1e9;

	if (!clients_looks_disco(pkt, len))
		return;
	c->pg_tokens += elapsed * DERPER_PEERGONE_PER_SEC;
	if (c->pg_tokens > DERPER_PEERGONE_BURST)
		c->pg_tokens = DERPER_PEERGONE_BURST;
	c->pg_last_ns = s->now_ns;
	if (c->pg_tokens < 1)
		return;
	c->pg_tokens -= 1;
	derper_send_peer_gone(c, dst, DERP_PEER_GONE_NOT_HERE);
}

static void on_send_packet(struct dconn *c, const struct derp_frame *f)
{
	struct derper *s = c->srv;
	struct key32 dk;
	struct dconn *dst;

	memcpy(dk.b, f->u.send_packet.dst, KEY_LEN);
	dst = clients_find(s, &dk);
	c->recv_pkts++;
	if (!dst) {
		/* Not here: maybe at another derper of the region. */
		if (mesh_forward(s, c, dk.b, f->u.send_packet.pkt, f->u.send_packet.len))
			return;
		s->ctr.drop_unknown_dest++;
		peer_gone_not_here(c, dk.b, f->u.send_packet.pkt, f->u.send_packet.len);
		return;
	}
	clients_enqueue(s, dst, c->key.b, f->u.send_packet.pkt, f->u.send_packet.len);
	s->ctr.packets_relayed++;
	s->ctr.bytes_relayed += f->u.send_packet.len;
	dconn_schedule_flush(dst);
}

/* From a mesh peer: watch, a forwarded packet, or close a client here. */
static void on_mesh_frame(struct dconn *c, const struct derp_frame *f)
{
	struct derper *s = c->srv;
	struct key32 k;
	struct dconn *dst;

	switch (f->type) {
	case DERP_FRAME_WATCH_CONNS:
		mesh_on_watch_conns(c);
		break;
	case DERP_FRAME_FORWARD_PACKET:
		memcpy(k.b, f->u.forward_packet.dst, KEY_LEN);
		s->ctr.packets_forwarded_in++;
		dst = clients_find(s, &k);
		if (!dst) {
			/* Never forwarded again: one hop only, as Tailscale,
			 * which tells the mesh peer (for a disco packet). */
			s->ctr.drop_unknown_dest_on_fwd++;
			peer_gone_not_here(c, k.b, f->u.forward_packet.pkt,
					   f->u.forward_packet.len);
			return;
		}
		clients_enqueue(s, dst, f->u.forward_packet.src, f->u.forward_packet.pkt,
				f->u.forward_packet.len);
		s->ctr.packets_relayed++;
		s->ctr.bytes_relayed += f->u.forward_packet.len;
		dconn_schedule_flush(dst);
		break;
	case DERP_FRAME_CLOSE_PEER:
		memcpy(k.b, f->u.close_peer.peer, KEY_LEN);
		dst = clients_find(s, &k);
		if (dst) /* even the asker itself, as Tailscale */
			dconn_close(dst, "closed by a mesh peer (ClosePeer)");
		break;
	default:
		break;
	}
}

static int on_frame(struct dconn *c, uint8_t type, const uint8_t *payload, uint32_t len)
{
	struct derp_frame f;
	int rc;

	if (c->st == DC_LOGIN) {
		if (type != DERP_FRAME_CLIENT_INFO) {
			dconn_close_bad(c, "the first frame must be ClientInfo");
			return -1;
		}
		return on_client_info(c, payload, len);
	}
	rc = derp_frame_parse(type, payload, len, &f);
	if (rc < 0) {
		char why[96];
		snprintf(why, sizeof(why), "frame type 0x%02x length %u: %s", type, len,
			 derp_strerror(rc));
		dconn_close_bad(c, why);
		return -1;
	}
	switch (type) {
	case DERP_FRAME_SEND_PACKET:
		on_send_packet(c, &f);
		break;
	case DERP_FRAME_NOTE_PREFERRED:
		if (f.u.note_preferred && !c->preferred)
			c->srv->ctr.home_clients++;
		else if (!f.u.note_preferred && c->preferred)
			c->srv->ctr.home_clients--;
		c->preferred = f.u.note_preferred;
		break;
	case DERP_FRAME_PING:
		/* Answered once there is room; a ping while one is unanswered
		 * is dropped (Tailscale's sendPongCh holds one: "They're
		 * pinging too fast. Ignore."). */
		if (c->ping_pending)
			break;
		memcpy(c->pong, f.u.ping, sizeof(c->pong));
		c->ping_pending = true;
		break;
	case DERP_FRAME_WATCH_CONNS:
	case DERP_FRAME_FORWARD_PACKET:
	case DERP_FRAME_CLOSE_PEER:
		/* Mesh frames from a client without the mesh key close it, as
		 * Tailscale does ("insufficient permissions"). */
		if (!c->can_mesh) {
			dconn_close_bad(c, "frame type not allowed for this client (mesh only)");
			return -1;
		}
		on_mesh_frame(c, &f);
		break;
	default:
		break;
	}
	return 0;
}

long derper_on_input(struct dconn *c)
{
	struct derp_frame_header h;
	uint32_t max;

	if (dconn_paused(c))
		return 0; /* rate limited, or a mesh link is full: the frames wait */
	if (c->skip) {
		size_t n = c->rlen < c->skip ? c->rlen : (size_t)c->skip;
		c->skip -= n;
		return (long)n;
	}
	if (derp_frame_header_parse(c->rbuf, c->rlen, &h) < 0)
		return 0; /* fewer than 5 bytes so far */
	max = derp_frame_max_len(h.type, DERP_SIDE_SERVER);
	if (max == DERP_FRAME_LEN_UNLIMITED) {
		/* A type the server does not read: skip its payload as it
		 * streams by (Tailscale's handleUnknownFrame). */
		c->srv->ctr.unknown_frames++;
		c->skip = h.len;
		if (c->st == DC_DERP)
			rate_charge(c, h.len); /* skipped bytes are still bytes */
		return DERP_FRAME_HEADER_LEN;
	}
	if (h.len > max) {
		char why[96];
		snprintf(why, sizeof(why), "frame type 0x%02x length %u over its limit %u", h.type,
			 h.len, max);
		dconn_close_bad(c, why);
		return -1;
	}
	if (c->rlen < DERP_FRAME_HEADER_LEN + (size_t)h.len) {
		if (!dconn_rbuf_reserve(c, DERP_FRAME_HEADER_LEN + (size_t)h.len)) {
			dconn_close(c, "out of memory");
			return -1;
		}
		return 0;
	}
	if (c->st == DC_DERP)
		rate_charge(c, h.len);
	if (on_frame(c, h.type, c->rbuf + DERP_FRAME_HEADER_LEN, h.len) < 0)
		return -1;
	return DERP_FRAME_HEADER_LEN + (long)h.len;
}

/* Moves queued packets (disco first) and a pending pong into the output
 * while there is room. */
void derper_fill_output(struct dconn *c)
{
	static uint8_t frame[DERPER_FRAME_SCRATCH];
	size_t staged = 0;

	if (c->ping_pending) {
		size_t n = derp_encode_pong(c->pong, frame, sizeof(frame));
		if (n && dconn_write(c, frame, n))
			c->ping_pending = false;
	}
	while (staged < DERPER_FILL_BYTES && (c->dq.n || c->q.n)) {
		struct dqueue *q = c->dq.n ? &c->dq : &c->q;
		struct dpkt *p = q->p[q->head];
		size_t n = derp_encode_recv_packet(p->src, p->data, p->len, frame, sizeof(frame));
		if (!dconn_wbuf_room(c, n))
			break;
		dconn_write(c, frame, n);
		heard_note(c->srv, c, p->src);
		free(dqueue_pop(q));
		c->sent_pkts++;
		staged += n;
	}
}
