/* derp_client: see derp_client.h. */
#include "derp/derp_client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_head.h"
#include "outbuf.h"
#include "tls_stream.h"

enum {
	RBUF_START_BYTES = 4096,
	HTTP_HEAD_MAX_BYTES = 8192, /* a 101 we skip is never longer */
};

struct derp_client {
	struct derp_client_cfg cfg;
	struct derp_client_cb cb;
	void *arg;
	enum derp_client_state st;
	struct tls_stream io;
	bool connect_pending, tls_want_write, skipping_http;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct outbuf w; /* queued output */
	struct key32 pub, server;
	bool have_server_key;
	uint64_t login_deadline_ns, last_heard_ns;
	/* The server's token bucket for what we send (0 = no limit). */
	double bucket, rate, burst;
	uint64_t bucket_ns;
	struct derp_client_stats stats;
	char why[DERP_CLIENT_WHY_MAX];
};

static void closed(struct derp_client *c, const char *why)
{
	if (c->st == DERP_CLIENT_CLOSED)
		return;
	c->st = DERP_CLIENT_CLOSED;
	snprintf(c->why, sizeof(c->why), "%s", why);
	if (c->cb.on_closed)
		c->cb.on_closed(c->arg, c->why);
}

static bool out(struct derp_client *c, const void *p, size_t n)
{
	if (outbuf_pending(&c->w) + n > DERP_CLIENT_WBUF_MAX_BYTES)
		return false;
	return outbuf_append(&c->w, p, n, c->w.off) >= 0;
}

static int start_tcp(struct derp_client *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(&c->cfg.addr, &ss);
	int one = 1, fd;

	if (!sl)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->io.fd = fd;
	c->connect_pending = true;
	return 0;
}

struct derp_client *derp_client_new(const struct derp_client_cfg *cfg,
				    const struct derp_client_cb *cb, void *arg, uint64_t now_ns)
{
	struct derp_client *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return 0;
	c->cfg = *cfg;
	c->cb = *cb;
	c->arg = arg;
	c->io.fd = -1;
	c->rbuf = malloc(RBUF_START_BYTES);
	c->rcap = RBUF_START_BYTES;
	if (!c->rbuf || key_public(&cfg->priv, &c->pub) < 0)
		goto fail;
	if ((rc = start_tcp(c)) < 0) {
		errno = -rc;
		goto fail;
	}
	c->st = DERP_CLIENT_CONNECTING;
	c->login_deadline_ns = now_ns + DERP_CLIENT_LOGIN_TIMEOUT_MS * NS_PER_MS;
	c->last_heard_ns = now_ns;
	return c;
fail:
	derp_client_free(c);
	return 0;
}

void derp_client_free(struct derp_client *c)
{
	if (!c)
		return;
	SSL_free(c->io.ssl);
	if (c->io.fd >= 0)
		close(c->io.fd);
	free(c->rbuf);
	outbuf_free(&c->w);
	free(c);
}

int derp_client_fd(const struct derp_client *c)
{
	return c->io.fd;
}

uint32_t derp_client_events(const struct derp_client *c)
{
	if (c->st == DERP_CLIENT_CLOSED)
		return 0;
	if (c->connect_pending)
		return EPOLLOUT;
	if (c->st == DERP_CLIENT_TLS)
		return c->tls_want_write ? EPOLLOUT : EPOLLIN;
	return EPOLLIN | (c->w.off < c->w.len || c->io.read_wants_write ? EPOLLOUT : 0);
}

enum derp_client_state derp_client_state(const struct derp_client *c)
{
	return c->st;
}

const char *derp_client_state_name(enum derp_client_state s)
{
	switch (s) {
	case DERP_CLIENT_CONNECTING:
		return "connecting";
	case DERP_CLIENT_TLS:
		return "tls";
	case DERP_CLIENT_LOGIN:
		return "login";
	case DERP_CLIENT_UP:
		return "up";
	case DERP_CLIENT_CLOSED:
		return "closed";
	default:
		return "invalid";
	}
}

const struct key32 *derp_client_server_key(const struct derp_client *c)
{
	return c->have_server_key ? &c->server : 0;
}

const struct derp_client_stats *derp_client_stats(const struct derp_client *c)
{
	return &c->stats;
}

size_t derp_client_pending(const struct derp_client *c)
{
	return outbuf_pending(&c->w);
}

/* Tailscale's derphttp request, with Derp-Fast-Start (see the header). */
static void send_request(struct derp_client *c)
{
	char req[512];
	int n = snprintf(
		req, sizeof(req),
		"GET /derp HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n"
		"Derp-Fast-Start: 1\r\n\r\n",
		c->cfg.host);

	out(c, req, (size_t)n);
	c->st = DERP_CLIENT_LOGIN;
}

static int start_tls(struct derp_client *c)
{
	c->io.ssl = SSL_new(c->cfg.ssl_ctx);
	if (!c->io.ssl || SSL_set_fd(c->io.ssl, c->io.fd) != 1)
		return -1;
	SSL_set_connect_state(c->io.ssl);
	/* The certificate must name the host (or IP) we dialled, or what
	 * the node's CertName says. */
	if (tls_certname_setup(c->io.ssl, c->cfg.host, &c->cfg.cert, c->cfg.insecure) < 0)
		return -1;
	c->st = DERP_CLIENT_TLS;
	return 0;
}

static void send_client_info(struct derp_client *c)
{
	struct derp_client_info ci = {.version = DERP_PROTOCOL_VERSION, .can_ack_pings = true};
	uint8_t frame[DERP_FRAME_HEADER_LEN + DERP_NONCE_LEN + DERP_BOX_OVERHEAD +
		      DERP_CLIENT_INFO_JSON_MAX_BYTES + DERP_KEY_LEN];
	size_t n;

	ci.has_mesh_key = c->cfg.has_mesh_key;
	memcpy(ci.mesh_key, c->cfg.mesh_key, sizeof(ci.mesh_key));
	if (derp_client_info_seal(&c->cfg.priv, &c->pub, &c->server, &ci,
				  frame + DERP_FRAME_HEADER_LEN,
				  sizeof(frame) - DERP_FRAME_HEADER_LEN, &n) < 0 ||
	    !derp_frame_header_encode(DERP_FRAME_CLIENT_INFO, (uint32_t)n, frame,
				      DERP_FRAME_HEADER_LEN) ||
	    !out(c, frame, DERP_FRAME_HEADER_LEN + n))
		closed(c, "cannot build ClientInfo");
}

static void on_server_info(struct derp_client *c, const uint8_t *p, size_t n)
{
	struct derp_server_info si;
	int rc = derp_server_info_open(&c->cfg.priv, &c->server, p, n, &si);

	if (rc < 0)
		return closed(c, derp_strerror(rc));
	c->st = DERP_CLIENT_UP;
	if (si.token_bucket_bytes_per_second > 0) {
		c->rate = (double)si.token_bucket_bytes_per_second;
		c->burst = (double)si.token_bucket_bytes_burst;
		c->bucket = c->burst;
		c->bucket_ns = c->last_heard_ns;
	}
	if (c->cfg.preferred)
		derp_client_note_preferred(c, true);
	if (c->cb.on_up)
		c->cb.on_up(c->arg, &si);
}

static void on_frame(struct derp_client *c, uint8_t type, const uint8_t *p, size_t n)
{
	struct derp_frame f;
	uint8_t pong[DERP_FRAME_HEADER_LEN + DERP_PING_LEN];
	int rc;

	if (c->st == DERP_CLIENT_LOGIN) {
		if (!c->have_server_key) {
			if (type != DERP_FRAME_SERVER_KEY || derp_frame_parse(type, p, n, &f) < 0)
				return closed(c,
					      "the server's first frame is not a valid ServerKey");
			memcpy(c->server.b, f.u.server_key.key, DERP_KEY_LEN);
			c->have_server_key = true;
			return send_client_info(c);
		}
		if (type != DERP_FRAME_SERVER_INFO)
			return closed(c, "expected ServerInfo");
		return on_server_info(c, p, n);
	}
	rc = derp_frame_parse(type, p, n, &f);
	if (rc == DERP_ERR_UNKNOWN_TYPE || rc == DERP_ERR_SHORT) {
		c->stats.ignored_frames++; /* Tailscale's client reads on */
		return;
	}
	if (rc < 0)
		return closed(c, derp_strerror(rc));
	switch (type) {
	case DERP_FRAME_RECV_PACKET:
		c->stats.received++;
		if (c->cb.on_packet)
			c->cb.on_packet(c->arg, f.u.recv_packet.src, f.u.recv_packet.pkt,
					f.u.recv_packet.len);
		break;
	case DERP_FRAME_PEER_GONE:
		if (c->cb.on_peer_gone)
			c->cb.on_peer_gone(c->arg, f.u.peer_gone.peer, f.u.peer_gone.reason);
		break;
	case DERP_FRAME_PEER_PRESENT:
		if (c->cb.on_peer_present)
			c->cb.on_peer_present(c->arg, f.u.peer_present.peer,
					      f.u.peer_present.has_flags ? f.u.peer_present.flags
									 : 0);
		break;
	case DERP_FRAME_PING:
		if (derp_encode_pong(f.u.ping, pong, sizeof(pong)))
			out(c, pong, sizeof(pong));
		break;
	case DERP_FRAME_HEALTH:
		if (c->cb.on_health)
			c->cb.on_health(c->arg, f.u.health.text, f.u.health.len);
		break;
	default:
		c->stats.ignored_frames++; /* KeepAlive, Restarting, ... */
		break;
	}
}

/* A server that ignores fast start answers 101 first: skip that head
 * (Tailscale's derper writes it with CRLF, derpserver/handler.go). */
static long skip_http(struct derp_client *c)
{
	static const struct http_head_limits lim = {
		.max_head_bytes = HTTP_HEAD_MAX_BYTES,
		.crlf_only = true,
	};
	struct http_head h;
	int rc = http_head_parse(c->rbuf, c->rlen, &lim, NULL, NULL, &h);

	if (rc == HTTP_HEAD_MORE)
		return 0;
	if (rc != HTTP_HEAD_OK || h.status != 101 || h.http_minor != 1)
		return -1;
	c->skipping_http = false;
	return (long)h.head_len;
}

static void process(struct derp_client *c)
{
	size_t off = 0;

	if (c->st == DERP_CLIENT_LOGIN && !c->have_server_key && c->rlen >= 5 &&
	    memcmp(c->rbuf, "HTTP/", 5) == 0)
		c->skipping_http = true;
	if (c->skipping_http) {
		long n = skip_http(c);
		if (n < 0) {
			char line[64];
			snprintf(line, sizeof(line), "the server answered: %.40s", (char *)c->rbuf);
			return closed(c, strtok(line, "\r"));
		}
		off = (size_t)n;
		if (!n)
			return;
	}
	while (c->st != DERP_CLIENT_CLOSED) {
		struct derp_frame_header h;
		if (derp_frame_header_parse(c->rbuf + off, c->rlen - off, &h) < 0)
			break;
		if (derp_frame_header_check(&h, DERP_SIDE_CLIENT) < 0)
			return closed(c, "the server sent a frame over 1 MiB");
		if (c->rlen - off < DERP_FRAME_HEADER_LEN + (size_t)h.len) {
			size_t need = DERP_FRAME_HEADER_LEN + (size_t)h.len;
			if (need > c->rcap) {
				uint8_t *nb;
				memmove(c->rbuf, c->rbuf + off, c->rlen - off);
				c->rlen -= off;
				off = 0;
				nb = realloc(c->rbuf, need);
				if (!nb)
					return closed(c, "out of memory");
				c->rbuf = nb;
				c->rcap = need;
			}
			break;
		}
		on_frame(c, h.type, c->rbuf + off + DERP_FRAME_HEADER_LEN, h.len);
		off += DERP_FRAME_HEADER_LEN + h.len;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
}

static void do_read(struct derp_client *c, uint64_t now_ns)
{
	for (int rounds = 0; rounds < 64 && c->st != DERP_CLIENT_CLOSED; rounds++) {
		if (c->rlen == c->rcap) {
			size_t cap = c->rcap * 2;
			uint8_t *nb;
			if (cap > DERP_CLIENT_RBUF_MAX_BYTES)
				return closed(c, "input buffer limit");
			nb = realloc(c->rbuf, cap);
			if (!nb)
				return closed(c, "out of memory");
			c->rbuf = nb;
			c->rcap = cap;
		}
		long r = tls_stream_read(&c->io, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (r == TLS_STREAM_AGAIN)
			return;
		if (r <= 0)
			return closed(c,
				      r == 0 ? "the server closed the connection" : "read error");
		c->rlen += (size_t)r;
		c->last_heard_ns = now_ns;
		process(c);
	}
}

static void do_write(struct derp_client *c)
{
	while (c->w.off < c->w.len && c->st != DERP_CLIENT_CLOSED) {
		long w = tls_stream_write(&c->io, c->w.p + c->w.off, c->w.len - c->w.off);
		if (w == TLS_STREAM_AGAIN)
			return;
		if (w < 0)
			return closed(c, "write error");
		c->w.off += (size_t)w;
	}
}

/* Tailscale's client insists on TLS, and so do we; a server that serves
 * plain HTTP on the port (msock-derper and Tailscale's derper do, unless
 * the port is 443 or -certmode manual is given) is named as such. */
static void tls_failed(struct derp_client *c, int r)
{
	char why[sizeof(c->why)];
	bool v6 = strchr(c->cfg.host, ':') != 0;

	if (r != TLS_STREAM_HS_PLAIN_HTTP)
		return closed(c, "TLS handshake failed (certificate not trusted for this host?)");
	snprintf(why, sizeof(why),
		 "%s%s%s:%u: the server speaks plain HTTP, not TLS: run msock-derper with "
		 "-certmode manual",
		 v6 ? "[" : "", c->cfg.host, v6 ? "]" : "", c->cfg.addr.port);
	closed(c, why);
}

void derp_client_on_io(struct derp_client *c, uint64_t now_ns)
{
	if (c->connect_pending) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err == EINPROGRESS)
			return;
		if (err) {
			char why[96];
			snprintf(why, sizeof(why), "connect: %s", strerror(err));
			return closed(c, why);
		}
		c->connect_pending = false;
		if (c->cfg.tls) {
			if (start_tls(c) < 0)
				return closed(c, "cannot set up TLS");
		} else {
			send_request(c);
		}
	}
	if (c->st == DERP_CLIENT_TLS) {
		int r = tls_stream_handshake(&c->io, &c->tls_want_write);
		if (r < 0)
			return tls_failed(c, r);
		if (r == 0)
			return;
		const char *why = 0;
		if (tls_certname_check(c->io.ssl, c->cfg.host, &c->cfg.cert, &why) < 0)
			return closed(c, why);
		send_request(c);
	}
	c->io.read_wants_write = false;
	do_write(c);
	do_read(c, now_ns);
	do_write(c);
}

uint64_t derp_client_deadline(const struct derp_client *c)
{
	if (c->st == DERP_CLIENT_CLOSED)
		return UINT64_MAX;
	if (c->st != DERP_CLIENT_UP)
		return c->login_deadline_ns;
	return c->last_heard_ns + 2 * DERP_KEEPALIVE_MS * NS_PER_MS;
}

void derp_client_tick(struct derp_client *c, uint64_t now_ns)
{
	if (c->st == DERP_CLIENT_CLOSED || now_ns < derp_client_deadline(c))
		return;
	closed(c, c->st == DERP_CLIENT_UP ? "nothing heard from the server for 2 keepalive periods"
					  : "login not finished in time");
}

static int queue_frame(struct derp_client *c, const uint8_t *frame, size_t n)
{
	if (c->st != DERP_CLIENT_UP)
		return -ENOTCONN;
	if (!n)
		return -EINVAL;
	return out(c, frame, n) ? 0 : -ENOBUFS;
}

/* Tailscale's client: over the announced bucket, the packet is dropped. */
static bool rate_allows(struct derp_client *c, size_t n, uint64_t now_ns)
{
	if (c->rate <= 0)
		return true;
	c->bucket += (double)(now_ns - c->bucket_ns) / 1e9 * c->rate;
	if (c->bucket > c->burst)
		c->bucket = c->burst;
	c->bucket_ns = now_ns;
	if (c->bucket < (double)n)
		return false;
	c->bucket -= (double)n;
	return true;
}

int derp_client_send(struct derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *p,
		     size_t n, uint64_t now_ns)
{
	static uint8_t frame[DERP_FRAME_HEADER_LEN + DERP_KEY_LEN + DERP_MAX_PACKET_SIZE];
	size_t fl = derp_encode_send_packet(dst, p, n, frame, sizeof(frame));
	int rc;

	if (c->st == DERP_CLIENT_UP && !rate_allows(c, fl, now_ns)) {
		c->stats.send_dropped_rate++;
		return -ENOBUFS;
	}
	rc = queue_frame(c, frame, fl);
	if (rc == 0)
		c->stats.sent++;
	else if (rc == -ENOBUFS)
		c->stats.send_dropped_full++;
	return rc;
}

int derp_client_note_preferred(struct derp_client *c, bool preferred)
{
	uint8_t frame[DERP_FRAME_HEADER_LEN + 1];

	return queue_frame(c, frame, derp_encode_note_preferred(preferred, frame, sizeof(frame)));
}

int derp_client_watch_conns(struct derp_client *c)
{
	uint8_t frame[DERP_FRAME_HEADER_LEN];

	return queue_frame(c, frame, derp_encode_watch_conns(frame, sizeof(frame)));
}

int derp_client_forward(struct derp_client *c, const uint8_t src[DERP_KEY_LEN],
			const uint8_t dst[DERP_KEY_LEN], const uint8_t *p, size_t n)
{
	static uint8_t frame[DERP_FRAME_HEADER_LEN + 2 * DERP_KEY_LEN + DERP_MAX_PACKET_SIZE];

	return queue_frame(c, frame,
			   derp_encode_forward_packet(src, dst, p, n, frame, sizeof(frame)));
}

int derp_client_close_peer(struct derp_client *c, const uint8_t peer[DERP_KEY_LEN])
{
	uint8_t frame[DERP_FRAME_HEADER_LEN + DERP_KEY_LEN];

	return queue_frame(c, frame, derp_encode_close_peer(peer, frame, sizeof(frame)));
}
