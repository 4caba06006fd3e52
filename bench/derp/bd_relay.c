/* bd_relay: the minimal relay, bench-derp's reference: one epoll loop that
 * does the same login as the servers under test (lib/derp) and turns
 * SendPacket into RecvPacket with one write per destination per loop turn;
 * no queues, timers, keepalives or metrics. If it relays faster than a
 * server, the load generator can drive that server faster than it does. */
#include "bd.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"

enum {
	RELAY_BUCKETS = 1 << 14,	   /* the key table */
	RELAY_IN_BYTES = 256 * 1024,	   /* read scratch */
	RELAY_WBUF_MAX_BYTES = 256 * 1024, /* as msock-derper's DERPER_WBUF_MAX_BYTES */
	RELAY_HEAD_MAX_BYTES = 8192,	   /* an HTTP request head */
	RELAY_ACCEPTS_PER_TURN = 64,
};

enum r_state { R_INVALID = 0, R_TLS, R_HTTP, R_LOGIN, R_UP, R_DEAD };

struct rconn {
	struct tls_stream io;
	enum r_state st;
	struct key32 key;
	uint8_t *carry, *wbuf; /* a partial frame between reads; unsent output */
	size_t clen, wlen, wcap;
	bool out_armed, dirty;
	struct rconn *hnext, *dnext;
};

struct relay {
	int ep, lfd;
	SSL_CTX *tls;
	struct key32 priv, pub;
	struct rconn *tab[RELAY_BUCKETS];
	struct rconn *dirty; /* output to write at the end of this loop turn */
	uint8_t in[RELAY_IN_BYTES];
};

static struct rconn **r_slot(struct relay *r, const uint8_t *key)
{
	return &r->tab[(key[0] | key[1] << 8) & (RELAY_BUCKETS - 1)];
}

static void r_arm(struct relay *r, struct rconn *c, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};

	if (c->out_armed == out)
		return;
	c->out_armed = out;
	epoll_ctl(r->ep, EPOLL_CTL_MOD, c->io.fd, &ev);
}

static void r_mark(struct relay *r, struct rconn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->dnext = r->dirty;
		r->dirty = c;
	}
}

/* Closes c; a connection on the dirty list is freed when the list is. */
static void r_drop(struct relay *r, struct rconn *c)
{
	if (c->st == R_UP) {
		for (struct rconn **pp = r_slot(r, c->key.b); *pp; pp = &(*pp)->hnext) {
			if (*pp == c) {
				*pp = c->hnext;
				break;
			}
		}
	}
	c->st = R_DEAD;
	epoll_ctl(r->ep, EPOLL_CTL_DEL, c->io.fd, 0);
	SSL_free(c->io.ssl);
	close(c->io.fd);
	free(c->carry);
	free(c->wbuf);
	if (!c->dirty)
		free(c);
}

/* Room for n more output bytes; false past RELAY_WBUF_MAX_BYTES. */
static bool r_room(struct rconn *c, size_t n)
{
	size_t cap = c->wcap ? c->wcap : 16384;
	uint8_t *nb;

	if (c->wlen + n > RELAY_WBUF_MAX_BYTES)
		return false;
	if (c->wlen + n <= c->wcap)
		return true;
	while (cap < c->wlen + n)
		cap *= 2;
	nb = realloc(c->wbuf, cap);
	if (!nb)
		return false;
	c->wbuf = nb;
	c->wcap = cap;
	return true;
}

static void r_put(struct relay *r, struct rconn *c, const void *p, size_t n)
{
	if (!r_room(c, n))
		return; /* dropped, as a full queue drops */
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	r_mark(r, c);
}

/* Consumes what it can of p[0..n): bytes used, or -1 to close. */
static long r_take(struct relay *r, struct rconn *c, const uint8_t *p, size_t n)
{
	struct derp_frame_header h;
	uint8_t buf[DERP_FRAME_HEADER_LEN + 512];
	size_t len;

	if (c->st == R_HTTP) {
		const uint8_t *e = memmem(p, n, "\r\n\r\n", 4);
		if (!e)
			return n > RELAY_HEAD_MAX_BYTES ? -1 : 0;
		r_put(r, c, buf, derp_encode_server_key(r->pub.b, buf, sizeof(buf)));
		c->st = R_LOGIN;
		return e + 4 - p;
	}
	if (derp_frame_header_parse(p, n, &h) < 0)
		return 0;
	if (h.len > KEY_LEN + DERP_MAX_PACKET_SIZE)
		return -1;
	if (n < DERP_FRAME_HEADER_LEN + (size_t)h.len)
		return 0;
	p += DERP_FRAME_HEADER_LEN;
	if (c->st == R_LOGIN) {
		struct derp_client_info ci;
		struct derp_server_info si = {.version = DERP_PROTOCOL_VERSION};
		if (h.type != DERP_FRAME_CLIENT_INFO ||
		    derp_client_info_open(&r->priv, p, h.len, &c->key, &ci) < 0 ||
		    derp_server_info_seal(&r->priv, &c->key, &si, buf + DERP_FRAME_HEADER_LEN,
					  sizeof(buf) - DERP_FRAME_HEADER_LEN, &len) < 0)
			return -1;
		derp_frame_header_encode(DERP_FRAME_SERVER_INFO, (uint32_t)len, buf,
					 DERP_FRAME_HEADER_LEN);
		r_put(r, c, buf, DERP_FRAME_HEADER_LEN + len);
		c->hnext = *r_slot(r, c->key.b);
		*r_slot(r, c->key.b) = c;
		c->st = R_UP;
	} else if (h.type == DERP_FRAME_SEND_PACKET && h.len >= KEY_LEN) {
		struct rconn *dst = *r_slot(r, p);
		while (dst && memcmp(dst->key.b, p, KEY_LEN) != 0)
			dst = dst->hnext;
		if (dst && r_room(dst, DERP_FRAME_HEADER_LEN + h.len)) {
			/* RecvPacket: the same length, the source key for the destination's. */
			derp_frame_header_encode(DERP_FRAME_RECV_PACKET, h.len,
						 dst->wbuf + dst->wlen, DERP_FRAME_HEADER_LEN);
			memcpy(dst->wbuf + dst->wlen + DERP_FRAME_HEADER_LEN, c->key.b, KEY_LEN);
			memcpy(dst->wbuf + dst->wlen + DERP_FRAME_HEADER_LEN + KEY_LEN, p + KEY_LEN,
			       h.len - KEY_LEN);
			dst->wlen += DERP_FRAME_HEADER_LEN + h.len;
			r_mark(r, dst);
		}
	}
	return DERP_FRAME_HEADER_LEN + (long)h.len;
}

static void r_read(struct relay *r, struct rconn *c)
{
	for (;;) {
		size_t have = c->clen, n, off = 0;
		long got;

		if (have)
			memcpy(r->in, c->carry, have); /* carry is NULL when nothing is carried */
		got = tls_stream_read(&c->io, r->in + have, sizeof(r->in) - have);
		if (got == TLS_STREAM_AGAIN)
			return;
		if (got <= 0) {
			r_drop(r, c);
			return;
		}
		free(c->carry);
		c->carry = 0;
		c->clen = 0;
		n = have + (size_t)got;
		while (off < n) {
			long used = r_take(r, c, r->in + off, n - off);
			if (used < 0) {
				r_drop(r, c);
				return;
			}
			if (used == 0)
				break;
			off += (size_t)used;
		}
		if (off < n) {
			c->carry = malloc(n - off);
			if (!c->carry) {
				r_drop(r, c);
				return;
			}
			memcpy(c->carry, r->in + off, n - off);
			c->clen = n - off;
		}
	}
}

static void r_flush(struct relay *r)
{
	while (r->dirty) {
		struct rconn *c = r->dirty;
		size_t off = 0;

		r->dirty = c->dnext;
		c->dirty = false;
		if (c->st == R_DEAD) {
			free(c);
			continue;
		}
		while (off < c->wlen) {
			long w = tls_stream_write(&c->io, c->wbuf + off, c->wlen - off);
			if (w == TLS_STREAM_AGAIN)
				break;
			if (w < 0) {
				r_drop(r, c);
				break;
			}
			off += (size_t)w;
		}
		if (c->st == R_DEAD)
			continue;
		memmove(c->wbuf, c->wbuf + off, c->wlen - off);
		c->wlen -= off;
		if (!c->wlen) {
			free(c->wbuf); /* an idle connection keeps no buffer */
			c->wbuf = 0;
			c->wcap = 0;
		}
		r_arm(r, c, c->wlen > 0);
	}
}

static void r_accept(struct relay *r)
{
	for (int i = 0; i < RELAY_ACCEPTS_PER_TURN; i++) {
		struct epoll_event ev = {.events = EPOLLIN};
		int one = 1, fd = accept4(r->lfd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct rconn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->io.fd = fd;
		c->st = R_HTTP;
		if (r->tls) {
			c->io.ssl = SSL_new(r->tls);
			SSL_set_fd(c->io.ssl, fd);
			SSL_set_accept_state(c->io.ssl);
			c->st = R_TLS;
		}
		ev.data.ptr = c;
		epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

static void r_event(struct relay *r, struct rconn *c, uint32_t ev)
{
	if (c->st == R_DEAD)
		return;
	if (ev & (EPOLLERR | EPOLLHUP)) {
		r_drop(r, c);
		return;
	}
	if (c->st == R_TLS) {
		bool want_write;
		int rc = tls_stream_handshake(&c->io, &want_write);
		if (rc < 0) {
			r_drop(r, c);
			return;
		}
		if (rc == 0) {
			r_arm(r, c, want_write);
			return;
		}
		c->st = R_HTTP;
		r_arm(r, c, false);
	}
	if (ev & EPOLLOUT)
		r_mark(r, c);
	if ((ev & EPOLLIN) || c->io.read_wants_write) {
		c->io.read_wants_write = false;
		r_read(r, c);
	}
}

static SSL_CTX *server_tls(const char *dir)
{
	SSL_CTX *x = SSL_CTX_new(TLS_server_method());
	char crt[128], key[128];

	if (!x)
		return 0;
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, BD_HOSTNAME);
	snprintf(key, sizeof(key), "%s/%s.key", dir, BD_HOSTNAME);
	/* msock-derper's settings (derper_tls.c), so the TLS work is the same. */
	SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
	SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(x, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM) != 1) {
		SSL_CTX_free(x);
		return 0;
	}
	return x;
}

int bd_relay_main(int lfd, bool tls, const char *dir)
{
	struct epoll_event evs[BD_MAX_EVENTS], ev = {.events = EPOLLIN, .data.ptr = 0};
	struct relay *r = calloc(1, sizeof(*r));

	signal(SIGPIPE, SIG_IGN);
	if (!r || sodium_init() < 0)
		_exit(1);
	r->lfd = lfd;
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	key_generate(&r->priv);
	key_public(&r->priv, &r->pub);
	if (tls && !(r->tls = server_tls(dir)))
		_exit(1);
	if (r->ep < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		_exit(1);
	for (;;) {
		int n = epoll_wait(r->ep, evs, BD_MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				r_accept(r);
			else
				r_event(r, evs[i].data.ptr, evs[i].events);
		}
		r_flush(r);
	}
}
