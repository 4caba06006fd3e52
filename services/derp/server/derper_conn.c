/* derper_conn: one accepted connection: TLS or plain bytes in and out
 * through bounded buffers, the state machine (TLS -> HTTP -> DERP), and the
 * timers of derper.h. Nothing here understands DERP frames (derper_derp.c)
 * or HTTP (derper_front.c). */
#include "derper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "derper_front.h"
#include "derper_mesh.h"

/* Registers what we wait for: input unless paused (the rate limit, a full
 * mesh link: TCP flow control pushes back on the sender), output when some
 * is pending. A paused client's half-close waits too: level-triggered, it
 * would wake the loop over and over. */
static void rearm(struct dconn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	if (!dconn_paused(c))
		ev.events |= EPOLLIN | EPOLLRDHUP;
	if (c->want_write)
		ev.events |= EPOLLOUT;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->io.fd, &ev);
}

static uint64_t packets_in_output(const struct dconn *c);

static void arm(struct dconn *c, bool want_write)
{
	if (c->want_write == want_write)
		return;
	c->want_write = want_write;
	rearm(c);
}

bool dconn_paused(const struct dconn *c)
{
	return c->paused_until_ns || c->mesh_wait;
}

void dconn_pause(struct dconn *c)
{
	rearm(c);
}

struct dconn *dconn_new(struct derper *s, int fd, SSL *ssl, const struct ipport *remote)
{
	struct dconn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

	if (!c)
		return 0;
	/* The input buffer is allocated on the first read (and released
	 * again while the client is idle: see dconn_tick). */
	c->kind = EV_CONN;
	c->srv = s;
	c->io.fd = fd;
	c->io.ssl = ssl;
	c->remote = *remote;
	c->id = ++s->next_id;
	c->st = ssl ? DC_TLS : DC_HTTP;
	c->deadline_ns = s->now_ns + s->handshake_ms * NS_PER_MS;
	c->pg_tokens = DERPER_PEERGONE_BURST;
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c->rbuf);
		free(c);
		return 0;
	}
	c->all_next = s->all;
	if (s->all)
		s->all->all_prev = c;
	s->all = c;
	s->n_conns++;
	s->n_pending++;
	return c;
}

/* Marks the connection closed; the loop frees it after the current event
 * (so no pointer to it is used after free). */
void dconn_close(struct dconn *c, const char *why)
{
	char addr[ADDR_TEXT_MAX];

	if (c->st == DC_CLOSED)
		return;
	if (c->mesh_wait)
		mesh_unwait(c);
	mesh_unwatch(c);
	if (why) {
		ipport_format(&c->remote, addr, sizeof(addr));
		log_rl(&c->srv->rl_conn, c->srv->now_ns, LOG_LEVEL_INFO, "conn %llu %s: closed: %s",
		       (unsigned long long)c->id, addr, why);
	}
	if (c->st == DC_DERP) {
		uint64_t lost = packets_in_output(c);
		if (c->write_failed)
			c->srv->ctr.drop_write += lost;
		else
			c->srv->ctr.drop_gone += lost;
		clients_unregister(c->srv, c);
	} else
		c->srv->n_pending--;
	c->st = DC_CLOSED;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->io.fd, 0);
	c->closed_next = c->srv->closed_list;
	c->srv->closed_list = c;
}

void dconn_reap(struct derper *s)
{
	/* Nothing else points at a closed connection once the flush list is
	 * empty (it is emptied before this runs). */
	while (s->closed_list) {
		struct dconn *c = s->closed_list;
		s->closed_list = c->closed_next;
		dconn_free(c);
	}
}

void dconn_schedule_flush(struct dconn *c)
{
	/* A half-full queue is flushed now: one read burst from a sender
	 * must not overflow it before the end of the turn. */
	if (c->q.n + c->dq.n >= DERPER_QUEUE_DEPTH / 2) {
		dconn_flush(c);
		return;
	}
	if (c->flush_pending || c->st == DC_CLOSED)
		return;
	c->flush_pending = true;
	c->flush_next = c->srv->flush_list;
	c->srv->flush_list = c;
}

void dconn_flush_pending(struct derper *s)
{
	while (s->flush_list) {
		struct dconn *c = s->flush_list;
		s->flush_list = c->flush_next;
		c->flush_pending = false;
		dconn_flush(c);
	}
}

void dconn_close_bad(struct dconn *c, const char *why)
{
	char addr[ADDR_TEXT_MAX];

	if (c->st == DC_CLOSED)
		return;
	c->srv->ctr.malformed++;
	ipport_format(&c->remote, addr, sizeof(addr));
	log_rl(&c->srv->rl_bad, c->srv->now_ns, LOG_LEVEL_WARN, "conn %llu %s: closed: %s",
	       (unsigned long long)c->id, addr, why);
	dconn_close(c, 0);
}

void dconn_free(struct dconn *c)
{
	struct derper *s = c->srv;

	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		s->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	s->n_conns--;
	SSL_free(c->io.ssl);
	close(c->io.fd);
	dqueue_clear(&c->q);
	dqueue_clear(&c->dq);
	free(c->rbuf);
	outbuf_free(&c->out);
	free(c);
}

bool dconn_wbuf_room(const struct dconn *c, size_t n)
{
	size_t max = c->can_mesh ? DERPER_MESH_WBUF_MAX_BYTES : DERPER_WBUF_MAX_BYTES;

	return outbuf_pending(&c->out) + n <= max;
}

bool dconn_write(struct dconn *c, const void *p, size_t n)
{
	/* Keep the frame being written, so what is lost on a close can be
	 * counted (packets_in_output). */
	size_t keep = c->framed && c->wframe < c->out.off ? c->wframe : c->out.off;
	long removed;

	if (!dconn_wbuf_room(c, n))
		return false;
	removed = outbuf_append(&c->out, p, n, keep);
	if (removed < 0)
		return false;
	if (c->framed)
		c->wframe -= (size_t)removed;
	return true;
}

static uint32_t frame_len_at(const struct dconn *c, size_t off)
{
	const uint8_t *p = c->out.p + off + 1;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Moves wframe past the frames written completely. */
static void advance_frames(struct dconn *c)
{
	while (c->framed && c->wframe + DERPER_FRAME_HDR_BYTES <= c->out.len) {
		size_t end = c->wframe + DERPER_FRAME_HDR_BYTES + frame_len_at(c, c->wframe);
		if (end > c->out.off)
			break;
		c->wframe = end;
	}
}

/* Packets (RecvPacket frames) staged for a client and not fully written:
 * lost when it closes, so counted as drops like Tailscale's. */
static uint64_t packets_in_output(const struct dconn *c)
{
	uint64_t n = 0;

	for (size_t off = c->wframe; c->framed && off + DERPER_FRAME_HDR_BYTES <= c->out.len;
	     off += DERPER_FRAME_HDR_BYTES + frame_len_at(c, off))
		n += c->out.p[off] == DERPER_FRAME_RECV_PACKET;
	return n;
}

void dconn_flush(struct dconn *c)
{
	if (c->st == DC_CLOSED || c->st == DC_TLS)
		return;
	for (;;) {
		if (c->st == DC_DERP)
			derper_fill_output(c);
		if (c->out.off == c->out.len)
			break;
		long w = tls_stream_write(&c->io, c->out.p + c->out.off, c->out.len - c->out.off);
		if (w == TLS_STREAM_AGAIN)
			break;
		if (w < 0) {
			c->write_failed = true;
			dconn_close(c, "write failed");
			return;
		}
		c->out.off += (size_t)w;
		c->write_stall_ns = 0;
		advance_frames(c);
	}
	if (c->out.off == c->out.len) {
		/* An idle client keeps no output buffer. */
		outbuf_release(&c->out);
		c->wframe = 0;
		c->write_stall_ns = 0;
		arm(c, false);
		if (c->st == DC_HTTP_REPLY)
			dconn_close(c, 0);
		return;
	}
	if (!c->write_stall_ns)
		c->write_stall_ns = c->srv->now_ns;
	arm(c, true);
}

static void tls_handshake(struct dconn *c)
{
	bool want_write;
	int r = tls_stream_handshake(&c->io, &want_write);

	if (r == 1)
		c->st = DC_HTTP;
	else if (r == 0)
		arm(c, want_write);
	else
		dconn_close(c, "TLS handshake failed");
}

/* Makes room for at least `need` bytes in rbuf (bounded by the caller). */
static bool rbuf_reserve(struct dconn *c, size_t need)
{
	size_t cap = c->rcap ? c->rcap : DERPER_RBUF_MIN_BYTES;
	uint8_t *nb;

	if (need <= c->rcap)
		return true;
	while (cap < need)
		cap *= 2;
	nb = realloc(c->rbuf, cap);
	if (!nb)
		return false;
	c->rbuf = nb;
	c->rcap = cap;
	return true;
}

bool dconn_rbuf_reserve(struct dconn *c, size_t need)
{
	return rbuf_reserve(c, need);
}

static void consume(struct dconn *c, size_t n)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
	/* Shrink back after a large frame so idle clients stay small. */
	if (c->rcap > DERPER_RBUF_MIN_BYTES * 4 && c->rlen <= DERPER_RBUF_MIN_BYTES) {
		uint8_t *nb = realloc(c->rbuf, DERPER_RBUF_MIN_BYTES);
		if (nb) {
			c->rbuf = nb;
			c->rcap = DERPER_RBUF_MIN_BYTES;
		}
	}
}

/* Runs the protocol over what is buffered. */
static void process(struct dconn *c)
{
	if (!c->rlen)
		return;
	for (;;) {
		long used = 0;
		if (c->st == DC_HTTP)
			used = front_on_input(c);
		else if (c->st == DC_LOGIN || c->st == DC_DERP)
			used = derper_on_input(c);
		else
			return;
		if (used < 0 || c->st == DC_CLOSED)
			return;
		if (used == 0)
			return;
		consume(c, (size_t)used);
	}
}

void dconn_on_readable(struct dconn *c)
{
	if (dconn_paused(c))
		return;
	if (c->st == DC_TLS) {
		tls_handshake(c);
		if (c->st != DC_HTTP)
			return;
	}
	for (int rounds = 0; rounds < 64 && c->st != DC_CLOSED && !dconn_paused(c); rounds++) {
		c->read_recently = true;
		if (c->rlen == c->rcap &&
		    !rbuf_reserve(c, c->rcap ? c->rcap * 2 : DERPER_RBUF_MIN_BYTES)) {
			dconn_close(c, "out of memory");
			return;
		}
		long r = tls_stream_read(&c->io, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (r == TLS_STREAM_AGAIN)
			break;
		if (r <= 0) {
			dconn_close(c, r == 0 ? 0 : "read error");
			return;
		}
		c->rlen += (size_t)r;
		process(c);
	}
	if (c->st != DC_CLOSED)
		dconn_flush(c);
}

void dconn_resume(struct dconn *c)
{
	if (c->st == DC_CLOSED || dconn_paused(c))
		return;
	rearm(c);
	process(c);
	if (c->st != DC_CLOSED)
		dconn_on_readable(c);
}

void dconn_on_writable(struct dconn *c)
{
	if (c->st == DC_TLS) {
		tls_handshake(c);
		return;
	}
	if (c->io.read_wants_write) {
		c->io.read_wants_write = false;
		dconn_on_readable(c);
		return;
	}
	dconn_flush(c);
}

void dconn_tick(struct dconn *c)
{
	struct derper *s = c->srv;
	/* Mesh peers get longer, as Tailscale's privileged clients: a
	 * watcher's first dump can be large. */
	uint64_t stall_ms = c->can_mesh ? DERPER_MESH_WRITE_TIMEOUT_MS : s->write_timeout_ms;

	if (c->st == DC_CLOSED)
		return;
	/* Nothing read since the last tick and nothing buffered: an idle
	 * client keeps no input buffer either. */
	if (!c->read_recently && !c->rlen && c->rbuf && !dconn_paused(c)) {
		free(c->rbuf);
		c->rbuf = 0;
		c->rcap = 0;
	}
	c->read_recently = false;
	if (c->deadline_ns && s->now_ns >= c->deadline_ns && c->st != DC_DERP) {
		s->ctr.handshake_timeouts++;
		dconn_close(c, "handshake not finished in time");
		return;
	}
	if (c->write_stall_ns && stall_ms &&
	    s->now_ns - c->write_stall_ns >= stall_ms * NS_PER_MS) {
		s->ctr.write_timeouts++;
		c->write_failed = true;
		dconn_close(c, "write timeout: the client stopped reading");
		return;
	}
	if (c->paused_until_ns && s->now_ns >= c->paused_until_ns) {
		/* The bucket has refilled: take up what is buffered, then read. */
		c->paused_until_ns = 0;
		dconn_resume(c);
		if (c->st == DC_CLOSED)
			return;
	}
	if (c->st == DC_DERP && s->now_ns >= c->next_keepalive_ns) {
		derper_send_keepalive(c);
		dconn_flush(c);
	}
}
