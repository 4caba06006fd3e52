/* bd_client: the load generator: many DERP clients of one server on one
 * epoll loop in the bench's own process, so its CPU time is the bench's
 * (getrusage). Each logs in as Tailscale's client does with fast start
 * (no 101: ServerKey first), then sends and counts packets. */
#include "bd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/objects.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"

static const char request[] =
	"GET /derp HTTP/1.1\r\nHost: " BD_HOSTNAME "\r\nConnection: Upgrade\r\n"
	"Upgrade: DERP\r\nDerp-Fast-Start: 1\r\n\r\n";

static void cl_arm(struct drv *d, struct cl *c, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};

	if (c->out_armed == out)
		return;
	c->out_armed = out;
	epoll_ctl(d->ep, EPOLL_CTL_MOD, c->io.fd, &ev);
}

static void cl_kill(struct drv *d, struct cl *c)
{
	if (c->st == C_DEAD)
		return;
	if (c->st == C_UP)
		d->up--;
	c->st = C_DEAD;
	d->dead++;
	epoll_ctl(d->ep, EPOLL_CTL_DEL, c->io.fd, 0);
	SSL_free(c->io.ssl);
	c->io.ssl = 0;
	close(c->io.fd);
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = 0;
	c->rlen = c->wlen = 0;
}

static void cl_flush(struct drv *d, struct cl *c)
{
	size_t off = 0;

	while (off < c->wlen) {
		long w = tls_stream_write(&c->io, c->wbuf + off, c->wlen - off);
		if (w == TLS_STREAM_AGAIN)
			break;
		if (w < 0) {
			cl_kill(d, c);
			return;
		}
		off += (size_t)w;
	}
	memmove(c->wbuf, c->wbuf + off, c->wlen - off);
	c->wlen -= off;
	cl_arm(d, c, c->wlen > 0);
}

bool cl_send(struct drv *d, struct cl *c, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (c->st == C_DEAD)
		return false;
	while (!c->wlen && n) {
		long w = tls_stream_write(&c->io, b, n);
		if (w == TLS_STREAM_AGAIN)
			break;
		if (w < 0) {
			cl_kill(d, c);
			return false;
		}
		b += w;
		n -= (size_t)w;
	}
	if (!n)
		return true;
	if (c->wlen + n > BD_CL_WBUF_BYTES)
		return false;
	if (!c->wbuf && !(c->wbuf = malloc(BD_CL_WBUF_BYTES)))
		return false;
	/* A TLS retry sends the same bytes again from wbuf (moving buffer). */
	memcpy(c->wbuf + c->wlen, b, n);
	c->wlen += n;
	cl_arm(d, c, true);
	return true;
}

/* What the server chose, said once per driver: servers differ here. */
static void tls_note(struct drv *d, SSL *ssl)
{
	int nid = SSL_get_negotiated_group(ssl);
	const char *group = nid > 0 ? OBJ_nid2sn(nid) : 0;

	snprintf(d->tls_info, sizeof(d->tls_info), "%s %s %s", SSL_get_version(ssl),
		 SSL_get_cipher_name(ssl), group ? group : "?");
}

static void cl_on_frame(struct drv *d, struct cl *c, uint8_t type, const uint8_t *p, size_t n)
{
	struct derp_client_info ci = {.version = DERP_PROTOCOL_VERSION, .can_ack_pings = true};
	struct derp_server_info si;
	struct derp_frame f;
	uint8_t buf[DERP_FRAME_HEADER_LEN + 512];
	size_t len;

	switch (c->st) {
	case C_SKEY:
		if (type != DERP_FRAME_SERVER_KEY || derp_frame_parse(type, p, n, &f) < 0)
			goto bad;
		memcpy(d->server.b, f.u.server_key.key, KEY_LEN);
		if (derp_client_info_seal(&c->priv, &c->pub, &d->server, &ci,
					  buf + DERP_FRAME_HEADER_LEN,
					  sizeof(buf) - DERP_FRAME_HEADER_LEN, &len) < 0)
			goto bad;
		derp_frame_header_encode(DERP_FRAME_CLIENT_INFO, (uint32_t)len, buf,
					 DERP_FRAME_HEADER_LEN);
		if (!cl_send(d, c, buf, DERP_FRAME_HEADER_LEN + len))
			goto bad;
		c->st = C_SINFO;
		return;
	case C_SINFO:
		if (type != DERP_FRAME_SERVER_INFO ||
		    derp_server_info_open(&c->priv, &d->server, p, n, &si) < 0)
			goto bad;
		c->st = C_UP;
		d->up++;
		if (c->io.ssl && !d->tls_info[0])
			tls_note(d, c->io.ssl);
		return;
	case C_UP:
		if (type != DERP_FRAME_RECV_PACKET || n < KEY_LEN)
			return; /* keepalives and the like */
		if (memcmp(p, d->c[c->peer].pub.b, KEY_LEN) != 0)
			d->wrong_src++;
		c->recvd++;
		return;
	default:
		return;
	}
bad:
	cl_kill(d, c);
}

static void cl_read(struct drv *d, struct cl *c)
{
	for (;;) {
		size_t off = 0;
		long r;

		if (c->rlen == BD_CL_RBUF_BYTES) {
			cl_kill(d, c); /* a frame larger than any this bench expects */
			return;
		}
		r = tls_stream_read(&c->io, c->rbuf + c->rlen, BD_CL_RBUF_BYTES - c->rlen);
		if (r == TLS_STREAM_AGAIN)
			return;
		if (r <= 0) {
			cl_kill(d, c);
			return;
		}
		c->rlen += (size_t)r;
		for (;;) {
			struct derp_frame_header h;
			if (derp_frame_header_parse(c->rbuf + off, c->rlen - off, &h) < 0 ||
			    c->rlen - off < DERP_FRAME_HEADER_LEN + (size_t)h.len)
				break;
			cl_on_frame(d, c, h.type, c->rbuf + off + DERP_FRAME_HEADER_LEN, h.len);
			if (c->st == C_DEAD)
				return;
			off += DERP_FRAME_HEADER_LEN + h.len;
		}
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void cl_handshake(struct drv *d, struct cl *c)
{
	bool want_write;
	int r = tls_stream_handshake(&c->io, &want_write);

	if (r < 0) {
		cl_kill(d, c);
	} else if (r == 0) {
		cl_arm(d, c, want_write);
	} else {
		c->st = C_SKEY;
		cl_arm(d, c, false);
		cl_send(d, c, request, sizeof(request) - 1);
	}
}

static void cl_event(struct drv *d, struct cl *c, uint32_t ev)
{
	if (ev & (EPOLLERR | EPOLLHUP)) {
		cl_kill(d, c);
		return;
	}
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (!(ev & EPOLLOUT))
			return;
		if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
			cl_kill(d, c);
			return;
		}
		if (!d->tls) {
			c->st = C_SKEY;
			cl_arm(d, c, false);
			cl_send(d, c, request, sizeof(request) - 1);
			return;
		}
		c->io.ssl = SSL_new(d->tls);
		if (!c->io.ssl || SSL_set_fd(c->io.ssl, c->io.fd) != 1) {
			cl_kill(d, c);
			return;
		}
		/* Tailscale's manual cert mode serves only the SNI -hostname. */
		if (SSL_set_tlsext_host_name(c->io.ssl, BD_HOSTNAME) != 1 ||
		    SSL_set1_host(c->io.ssl, BD_HOSTNAME) != 1) {
			cl_kill(d, c);
			return;
		}
		SSL_set_connect_state(c->io.ssl);
		c->st = C_TLS;
	}
	if (c->st == C_TLS) {
		cl_handshake(d, c);
		if (c->st == C_TLS || c->st == C_DEAD)
			return;
	}
	if ((ev & EPOLLOUT) && c->wlen)
		cl_flush(d, c);
	if (c->st != C_DEAD && ((ev & EPOLLIN) || c->io.read_wants_write)) {
		c->io.read_wants_write = false;
		cl_read(d, c);
	}
}

static void cl_start(struct drv *d, struct cl *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)d->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->st = C_CONNECTING;
	c->out_armed = true;
	key_generate(&c->priv);
	key_public(&c->priv, &c->pub);
	c->io.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->rbuf = malloc(BD_CL_RBUF_BYTES);
	if (c->io.fd < 0 || !c->rbuf) {
		c->st = C_DEAD;
		d->dead++;
		if (c->io.fd >= 0)
			close(c->io.fd);
		free(c->rbuf);
		c->rbuf = 0;
		return;
	}
	setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((connect(c->io.fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) ||
	    epoll_ctl(d->ep, EPOLL_CTL_ADD, c->io.fd, &ev) < 0) {
		close(c->io.fd);
		free(c->rbuf);
		c->rbuf = 0;
		c->st = C_DEAD;
		d->dead++;
	}
}

void drv_poll(struct drv *d, int timeout_ms)
{
	struct epoll_event evs[BD_MAX_EVENTS];
	int n = epoll_wait(d->ep, evs, BD_MAX_EVENTS, timeout_ms);

	for (int i = 0; i < n; i++)
		cl_event(d, evs[i].data.ptr, evs[i].events);
	bd_check_stop();
}

int drv_open(struct drv *d, int port, SSL_CTX *tls, int cap)
{
	memset(d, 0, sizeof(*d));
	d->port = port;
	d->tls = tls;
	d->cap = cap;
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->c = calloc((size_t)cap, sizeof(*d->c));
	return d->ep >= 0 && d->c ? 0 : -1;
}

void drv_close(struct drv *d)
{
	for (int i = 0; i < d->started; i++)
		cl_kill(d, &d->c[i]);
	free(d->c);
	close(d->ep);
}

double drv_login(struct drv *d, int upto)
{
	uint64_t t0 = clock_mono_ns(), end = t0 + BD_LOGIN_TIMEOUT_MS * NS_PER_MS;

	while (d->up + d->dead < upto && clock_mono_ns() < end) {
		while (d->started < upto && d->started - d->up - d->dead < BD_LOGINS_IN_FLIGHT)
			cl_start(d, &d->c[d->started++]);
		drv_poll(d, 10);
	}
	return d->up == upto ? bd_secs_since(t0) : -1;
}

uint64_t drv_recvd(const struct drv *d)
{
	uint64_t n = 0;

	for (int i = 0; i < d->started; i++)
		n += d->c[i].recvd;
	return n;
}

uint64_t drv_sent(const struct drv *d)
{
	uint64_t n = 0;

	for (int i = 0; i < d->started; i++)
		n += d->c[i].sent;
	return n;
}

void drv_drain(struct drv *d)
{
	uint64_t end = clock_mono_ns() + BD_DRAIN_MS * NS_PER_MS;

	while (drv_recvd(d) < drv_sent(d) && clock_mono_ns() < end)
		drv_poll(d, 10);
}

SSL_CTX *bd_client_tls(void)
{
	SSL_CTX *x = SSL_CTX_new(TLS_client_method());
	char crt[128];

	if (!x)
		return 0;
	snprintf(crt, sizeof(crt), "%s/%s.crt", bd_dir(), BD_HOSTNAME);
	/* Only the bench's own certificate is trusted (not the system's CAs),
	 * and it must name BD_HOSTNAME (SSL_set1_host): what every server
	 * under test presents is checked the same way. */
	if (SSL_CTX_load_verify_locations(x, crt, 0) != 1) {
		SSL_CTX_free(x);
		return 0;
	}
	SSL_CTX_set_verify(x, SSL_VERIFY_PEER, 0);
	/* Offered in the order Tailscale's clients (Go's crypto/tls, on a CPU
	 * with AES-GCM instructions) offer them: an OpenSSL server follows the
	 * client's order, Go's its own, and both then pick AES-128-GCM. With
	 * OpenSSL's default order msock-derper would do AES-256. */
	if (SSL_CTX_set_ciphersuites(x, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
					"TLS_CHACHA20_POLY1305_SHA256") != 1) {
		SSL_CTX_free(x);
		return 0;
	}
	SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return x;
}
