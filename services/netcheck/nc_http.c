/* nc_http: one non-blocking HTTP(S) GET for netcheck's probes. Timers: the
 * probe's deadline (NC_HTTP_TIMEOUT_MS after the start) fails it. */
#include "nc_http.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_head.h"

/* Fails the probe: WHAT, then ": DETAIL" when DETAIL is given. */
static void fail(struct nc_http *h, const char *what, const char *detail)
{
	snprintf(h->error, sizeof(h->error), "%s%s%s", what, detail ? ": " : "",
		 detail ? detail : "");
	h->st = NC_HTTP_FAILED;
	nc_http_close(h);
}

static int on_header(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	struct nc_http_head *out = arg;

	/* Header names compare case-insensitively (RFC 9110 section 5.1). */
	if (nl != strlen("X-Tailscale-Response") ||
	    strncasecmp(name, "X-Tailscale-Response", nl) != 0)
		return 0;
	if (vl >= sizeof(out->ts_response))
		return -EINVAL;
	memcpy(out->ts_response, v, vl);
	out->ts_response[vl] = 0;
	return 0;
}

int nc_http_parse_head(const char *p, size_t len, struct nc_http_head *out, const char **why)
{
	/* A DERP server writes CRLF (Go's net/http); read_head has found
	 * the empty line within NC_HTTP_HEAD_MAX_BYTES. */
	static const struct http_head_limits lim = {
		.max_head_bytes = NC_HTTP_HEAD_MAX_BYTES,
		.crlf_only = true,
	};
	struct http_head h;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = http_head_parse((const uint8_t *)p, len, &lim, on_header, out, &h);
	if (rc == HTTP_HEAD_MORE || rc == HTTP_HEAD_E_TOO_LARGE) {
		*why = "the head does not end with an empty line";
		return -EINVAL;
	}
	if (rc == HTTP_HEAD_E_CALLBACK) {
		*why = "X-Tailscale-Response is too long";
		return -EINVAL;
	}
	if (rc != 0) {
		*why = http_head_strerror(rc);
		return -EINVAL;
	}
	if (h.status > 599) {
		*why = "the status line is not HTTP/1.x NNN";
		return -EINVAL;
	}
	if (h.head_len != len) {
		*why = "bytes after the empty line";
		return -EINVAL;
	}
	out->status = h.status;
	return 0;
}

static bool token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int nc_http_start(struct nc_http *h, SSL_CTX *tls_ctx, bool insecure,
		  const struct tls_certname *cert, const struct ipport *addr, const char *host,
		  const char *path, const char *challenge, uint64_t now_ns)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(addr, &ss);
	int one = 1, n;

	memset(h, 0, sizeof(*h));
	h->io.fd = -1;
	if (cert)
		h->cert = *cert;
	h->start_ns = now_ns;
	h->deadline_ns = now_ns + (uint64_t)NC_HTTP_TIMEOUT_MS * NS_PER_MS;
	if (!sl || !token_ok(host, NC_HTTP_HOST_MAX - 1) || !token_ok(path, 128) ||
	    (challenge && !token_ok(challenge, NC_HTTP_CHALLENGE_MAX))) {
		fail(h, "bad address, host, path or challenge", 0);
		return -EINVAL;
	}
	n = snprintf(h->req, sizeof(h->req),
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: msock-netcheck\r\n%s%s%s"
		     "Connection: close\r\n\r\n",
		     path, host, challenge ? "X-Tailscale-Challenge: " : "",
		     challenge ? challenge : "", challenge ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(h->req)) {
		fail(h, "request too long", 0);
		return -EINVAL;
	}
	h->req_len = (size_t)n;
	snprintf(h->host, sizeof(h->host), "%s", host);
	h->io.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->io.fd < 0) {
		int e = errno;
		fail(h, "socket", strerror(e));
		return -e;
	}
	setsockopt(h->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(h->io.fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		fail(h, "connect", strerror(e));
		return -e;
	}
	if (tls_ctx) {
		h->tls = true;
		h->io.ssl = SSL_new(tls_ctx);
		if (!h->io.ssl) {
			fail(h, "SSL_new failed", 0);
			return -ENOMEM;
		}
		SSL_set_fd(h->io.ssl, h->io.fd);
		SSL_set_connect_state(h->io.ssl);
		if (tls_certname_setup(h->io.ssl, host, &h->cert, insecure) < 0) {
			fail(h, "TLS set-up (SNI, verified name) failed", 0);
			return -ENOMEM;
		}
	}
	h->st = NC_HTTP_CONNECTING;
	h->want_write = true;
	return 0;
}

int nc_http_fd(const struct nc_http *h)
{
	return nc_http_finished(h) ? -1 : h->io.fd;
}

short nc_http_events(const struct nc_http *h)
{
	return h->want_write ? POLLOUT : POLLIN;
}

bool nc_http_finished(const struct nc_http *h)
{
	return h->st == NC_HTTP_DONE || h->st == NC_HTTP_FAILED || h->st == 0;
}

static void on_connected(struct nc_http *h)
{
	struct pollfd p = {.fd = h->io.fd, .events = POLLOUT};
	int err = 0;
	socklen_t el = sizeof(err);

	/* Callers may step a probe whose socket is not ready: a connect in
	 * progress reports no error yet, so ask whether it finished. */
	if (poll(&p, 1, 0) <= 0)
		return;

	if (getsockopt(h->io.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err) {
		fail(h, "connect", strerror(err));
		return;
	}
	h->st = h->tls ? NC_HTTP_HANDSHAKE : NC_HTTP_SENDING;
}

static void on_head(struct nc_http *h)
{
	const char *why;
	uint64_t t = clock_mono_ns();

	if (nc_http_parse_head(h->head, h->head_len, &h->resp, &why) < 0) {
		fail(h, "bad response", why);
		return;
	}
	h->rtt_ns = t - h->sent_ns;
	h->total_ns = t - h->start_ns;
	h->st = NC_HTTP_DONE;
	nc_http_close(h);
}

static void read_head(struct nc_http *h)
{
	/* Byte by byte up to the empty line would be slow; read what is there
	 * and stop at the first CRLFCRLF (the body, if any, is not wanted). */
	while (h->st == NC_HTTP_READING) {
		size_t room = sizeof(h->head) - h->head_len;
		long n;
		char *end;
		if (room == 0) {
			fail(h, "response head over 8 KiB", 0);
			return;
		}
		n = tls_stream_read(&h->io, h->head + h->head_len, room);
		if (n == TLS_STREAM_AGAIN) {
			h->want_write = h->io.read_wants_write;
			return;
		}
		if (n <= 0) {
			fail(h, n == 0 ? "closed before the response head ended" : "read failed",
			     0);
			return;
		}
		h->head_len += (size_t)n;
		end = memmem(h->head, h->head_len, "\r\n\r\n", 4);
		if (end) {
			h->head_len = (size_t)(end + 4 - h->head);
			on_head(h);
		}
	}
}

void nc_http_step(struct nc_http *h, uint64_t now_ns)
{
	if (nc_http_finished(h))
		return;
	if (now_ns >= h->deadline_ns) {
		fail(h, "timed out", 0);
		return;
	}
	if (h->st == NC_HTTP_CONNECTING)
		on_connected(h);
	if (h->st == NC_HTTP_HANDSHAKE) {
		bool ww = false;
		int rc = tls_stream_handshake(&h->io, &ww);
		if (rc < 0) {
			unsigned long e = ERR_peek_last_error();
			fail(h, "TLS handshake", e ? ERR_reason_error_string(e) : "failed");
			return;
		}
		if (rc == 0) {
			h->want_write = ww;
			return;
		}
		const char *why = 0;
		if (tls_certname_check(h->io.ssl, h->host, &h->cert, &why) < 0) {
			fail(h, "TLS", why);
			return;
		}
		h->st = NC_HTTP_SENDING;
	}
	if (h->st == NC_HTTP_SENDING) {
		/* The clock, not now_ns: the answer can arrive within this
		 * same step (a fast server), and the RTT must still count. */
		if (h->req_off == 0)
			h->sent_ns = clock_mono_ns();
		while (h->req_off < h->req_len) {
			long n = tls_stream_write(&h->io, h->req + h->req_off,
						  h->req_len - h->req_off);
			if (n == TLS_STREAM_AGAIN) {
				h->want_write = true;
				return;
			}
			if (n <= 0) {
				fail(h, "write failed", 0);
				return;
			}
			h->req_off += (size_t)n;
		}
		h->st = NC_HTTP_READING;
		h->want_write = false;
	}
	if (h->st == NC_HTTP_READING)
		read_head(h);
}

void nc_http_close(struct nc_http *h)
{
	if (h->io.ssl) {
		SSL_free(h->io.ssl);
		h->io.ssl = 0;
	}
	if (h->io.fd >= 0) {
		close(h->io.fd);
		h->io.fd = -1;
	}
}
