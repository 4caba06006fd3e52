/* derp_tc: see derp_tc.h. Blocking, with poll() timeouts; a read buffer
 * holds partial frames. */
#include "derp_tc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"
#include "errbuf.h"

enum {
	DTC_BUF_BYTES = 2 * 1024 * 1024,
	DTC_LOGIN_TIMEOUT_MS = 5000,
};

struct dtc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct key32 priv, pub, server;
	struct derp_server_info si;
	uint8_t *buf;
	size_t len;
};

static long raw_read(struct dtc *c, uint8_t *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, (int)n);
		return r > 0 ? r : -1;
	}
	ssize_t r = recv(c->fd, p, n, 0);
	return r > 0 ? r : -1;
}

int dtc_write_raw(struct dtc *c, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		long w = c->ssl ? SSL_write(c->ssl, b, (int)n) : send(c->fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more into the buffer, waiting up to timeout_ms. 1 read, 0 timeout, -1 EOF. */
static int fill(struct dtc *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	long r;

	if (c->len == DTC_BUF_BYTES)
		return -1;
	if (!(c->ssl && SSL_pending(c->ssl) > 0) && poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	r = raw_read(c, c->buf + c->len, DTC_BUF_BYTES - c->len);
	if (r < 0)
		return -1;
	c->len += (size_t)r;
	return 1;
}

int dtc_recv_frame(struct dtc *c, int timeout_ms, uint8_t *type, uint8_t *buf, size_t cap,
		   size_t *len)
{
	uint64_t end = clock_mono_ns() + (uint64_t)timeout_ms * NS_PER_MS;

	for (;;) {
		struct derp_frame_header h;
		if (derp_frame_header_parse(c->buf, c->len, &h) == 0 &&
		    c->len >= DERP_FRAME_HEADER_LEN + (size_t)h.len) {
			size_t n = h.len < cap ? h.len : cap;
			*type = h.type;
			memcpy(buf, c->buf + DERP_FRAME_HEADER_LEN, n);
			*len = n;
			memmove(c->buf, c->buf + DERP_FRAME_HEADER_LEN + h.len,
				c->len - DERP_FRAME_HEADER_LEN - h.len);
			c->len -= DERP_FRAME_HEADER_LEN + h.len;
			return 1;
		}
		uint64_t now = clock_mono_ns();
		if (now >= end)
			return 0;
		int r = fill(c, (int)((end - now) / NS_PER_MS) + 1);
		if (r < 0)
			return -1;
	}
}

int dtc_recv_packet(struct dtc *c, int timeout_ms, struct key32 *src, uint8_t *buf, size_t cap,
		    size_t *len)
{
	static uint8_t frame[DERP_FRAME_HEADER_LEN + KEY_LEN + DERP_MAX_PACKET_SIZE];
	uint64_t end = clock_mono_ns() + (uint64_t)timeout_ms * NS_PER_MS;

	for (;;) {
		uint64_t now = clock_mono_ns();
		uint8_t type;
		size_t n;
		int r;

		if (now >= end)
			return 0;
		r = dtc_recv_frame(c, (int)((end - now) / NS_PER_MS) + 1, &type, frame,
				   sizeof(frame), &n);
		if (r <= 0)
			return r;
		if (type != DERP_FRAME_RECV_PACKET || n < KEY_LEN)
			continue;
		memcpy(src->b, frame, KEY_LEN);
		*len = n - KEY_LEN < cap ? n - KEY_LEN : cap;
		memcpy(buf, frame + KEY_LEN, *len);
		return 1;
	}
}

int dtc_send_packet(struct dtc *c, const struct key32 *dst, const uint8_t *p, size_t n)
{
	static uint8_t frame[DERP_FRAME_HEADER_LEN + KEY_LEN + DERP_MAX_PACKET_SIZE];
	size_t fl = derp_encode_send_packet(dst->b, p, n, frame, sizeof(frame));

	return fl ? dtc_write_raw(c, frame, fl) : -1;
}

static int tcp_connect(const char *ip, int port)
{
	struct ipport a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	if (ip_parse(ip, &a) < 0)
		return -1;
	a.port = (uint16_t)port;
	sl = ipport_to_sockaddr(&a, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the HTTP response head (until CRLFCRLF); leaves what follows. */
static int read_http_head(struct dtc *c, char *head, size_t cap)
{
	uint64_t end = clock_mono_ns() + DTC_LOGIN_TIMEOUT_MS * NS_PER_MS;

	for (;;) {
		uint8_t *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (e) {
			size_t n = (size_t)(e - c->buf) + 4;
			snprintf(head, cap, "%.*s", (int)n, (const char *)c->buf);
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return 0;
		}
		if (clock_mono_ns() >= end || fill(c, 100) < 0)
			return -1;
	}
}

static int login(struct dtc *c, const struct dtc_opts *o, char *err, size_t errcap)
{
	static uint8_t frame[DERP_FRAME_HEADER_LEN + 65536];
	struct derp_client_info ci = {.version = DERP_PROTOCOL_VERSION, .can_ack_pings = true};
	struct derp_server_info *si = &c->si;
	uint8_t type;
	size_t n;

	if (dtc_recv_frame(c, DTC_LOGIN_TIMEOUT_MS, &type, frame, sizeof(frame), &n) != 1 ||
	    type != DERP_FRAME_SERVER_KEY || n < DERP_MAGIC_LEN + KEY_LEN) {
		errbuf_set(err, errcap, "no ServerKey frame");
		return -1;
	}
	memcpy(c->server.b, frame + DERP_MAGIC_LEN, KEY_LEN);
	if (o->no_login)
		return 0;
	if (o->mesh_key) {
		ci.has_mesh_key = true;
		memcpy(ci.mesh_key, o->mesh_key, KEY_LEN);
	}
	ci.is_prober = o->is_prober;
	if (derp_client_info_seal(&c->priv, &c->pub, &c->server, &ci, frame + DERP_FRAME_HEADER_LEN,
				  sizeof(frame) - DERP_FRAME_HEADER_LEN, &n) < 0 ||
	    !derp_frame_header_encode(DERP_FRAME_CLIENT_INFO, (uint32_t)n, frame,
				      DERP_FRAME_HEADER_LEN) ||
	    dtc_write_raw(c, frame, DERP_FRAME_HEADER_LEN + n) < 0) {
		errbuf_set(err, errcap, "cannot send ClientInfo");
		return -1;
	}
	if (dtc_recv_frame(c, DTC_LOGIN_TIMEOUT_MS, &type, frame, sizeof(frame), &n) != 1 ||
	    type != DERP_FRAME_SERVER_INFO ||
	    derp_server_info_open(&c->priv, &c->server, frame, n, si) < 0) {
		errbuf_set(err, errcap, "no valid ServerInfo frame");
		return -1;
	}
	return 0;
}

struct dtc *dtc_connect(const struct dtc_opts *o, char *err, size_t errcap)
{
	struct dtc *c = calloc(1, sizeof(*c));
	char req[512], head[2048], ideal[128] = "";

	if (!c || !(c->buf = malloc(DTC_BUF_BYTES)))
		goto fail;
	if (o->priv)
		c->priv = *o->priv;
	else
		key_generate(&c->priv);
	key_public(&c->priv, &c->pub);
	c->fd = tcp_connect(o->ip, o->port);
	if (c->fd < 0) {
		errbuf_set(err, errcap, "connect %s:%d: %s", o->ip, o->port, strerror(errno));
		goto fail;
	}
	if (o->tls) {
		c->ctx = SSL_CTX_new(TLS_client_method());
		c->ssl = c->ctx ? SSL_new(c->ctx) : 0;
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
			errbuf_set(err, errcap, "TLS handshake failed");
			goto fail;
		}
	}
	/* The request Tailscale's derphttp client sends. */
	if (o->ideal_node)
		snprintf(ideal, sizeof(ideal), "Ideal-Node: %s\r\n", o->ideal_node);
	snprintf(req, sizeof(req),
		 "GET /derp HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
		 "Upgrade: DERP\r\n%s%s\r\n",
		 o->ip, ideal, o->fast_start ? "Derp-Fast-Start: 1\r\n" : "");
	if (dtc_write_raw(c, req, strlen(req)) < 0) {
		errbuf_set(err, errcap, "cannot send the HTTP request");
		goto fail;
	}
	if (!o->fast_start) {
		if (read_http_head(c, head, sizeof(head)) < 0 ||
		    strncmp(head, "HTTP/1.1 101", 12) != 0) {
			errbuf_set(err, errcap, "no 101 Switching Protocols");
			goto fail;
		}
	}
	if (login(c, o, err, errcap) < 0)
		goto fail;
	return c;
fail:
	dtc_close(c);
	return 0;
}

void dtc_close(struct dtc *c)
{
	if (!c)
		return;
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd > 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

const struct key32 *dtc_pub(const struct dtc *c)
{
	return &c->pub;
}

const struct key32 *dtc_server_pub(const struct dtc *c)
{
	return &c->server;
}

int dtc_fd(const struct dtc *c)
{
	return c->fd;
}

const struct derp_server_info *dtc_server_info(const struct dtc *c)
{
	return &c->si;
}
