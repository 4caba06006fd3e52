/* bench/derp: msock-derper beside a minimal relay measured in the same run
 * (the machine is shared: read the ratios, not the times).
 *   1. relay throughput between N client pairs, <= WINDOW_PKTS packets in
 *      flight per pair (under the server's 32-deep queues), plain and TLS;
 *   2. the server's RSS per idle logged-in TLS client (1,000, then 10,000);
 *   3. a load like Tailscale's derper load test: 10,000 TLS connections,
 *      LOAD_PPS packets/s of 100 bytes, and the server's CPU time.
 * The baseline ("minimal relay") is this program re-executed as a child: one
 * epoll loop that does the same login (lib/derp) and turns SendPacket into
 * RecvPacket with one write per destination per loop turn. It is a process,
 * not a thread, so its descriptors and CPU time are counted as the server's.
 * Usage: bench-derp [--quick] [--seconds S]. Prints; never fails on time.
 * (bench-derp --relay FD TLS DIR is the baseline's own process.) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"
#include "key.h"
#include "tls_stream.h"

enum {
	WINDOW_PKTS = 16,	     /* in flight per pair: half msock-derper's queue depth */
	LOGINS_IN_FLIGHT = 128,	     /* under msock-derper's 1,024 unfinished handshakes */
	CL_RBUF_BYTES = 16384,	     /* a client's input; the largest frame here is ~1.5 KB */
	CL_WBUF_BYTES = 64 * 1024,   /* a client's unsent output; past it a packet is not sent */
	RELAY_BUCKETS = 1 << 14,     /* the minimal relay's key table */
	RELAY_IN_BYTES = 256 * 1024, /* the minimal relay's read scratch */
	RELAY_WBUF_MAX_BYTES = 256 * 1024, /* as msock-derper's DERPER_WBUF_MAX_BYTES */
	RELAY_HEAD_MAX_BYTES = 8192,	   /* an HTTP request head */
	MAX_EVENTS = 256,
	MAX_PAIRS = 16,
	IDLE_CLIENTS = 10000,
	IDLE_CLIENTS_QUICK = 1000,
	IDLE_FIRST_STEP = 1000,
	LOAD_PPS = 40000, /* aggregate, as Tailscale's derper load test */
	LOAD_PKT_BYTES = 100,
	LOAD_SECONDS = 10,
	LOAD_SECONDS_QUICK = 2,
	TPUT_MS = 2000,
	TPUT_MS_QUICK = 1000,
	TPUT_ROUNDS = 2, /* best of: the machine is shared */
	WARMUP_MS = 200,
	DRAIN_MS = 1000,
	SETTLE_MS = 500,
	LOGIN_TIMEOUT_MS = 120000,
	START_TIMEOUT_MS = 5000,
	STOP_TIMEOUT_MS = 5000,
	FD_SPARE = 64,
	MAX_KIDS = 8,
};

#define TAILSCALE_IDLE_KB 14.5 /* quoted: Go derper per idle client, after its memory work */

static const char request[] = "GET /derp HTTP/1.1\r\nHost: derp.test\r\nConnection: Upgrade\r\n"
			      "Upgrade: DERP\r\nDerp-Fast-Start: 1\r\n\r\n";

/* What the exit paths clean up: children to kill, a directory to remove. */
static struct {
	pid_t kids[MAX_KIDS];
	char dir[64];
} g;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void check_stop(void)
{
	if (g_stop) {
		fprintf(stderr, "bench-derp: interrupted\n");
		exit(130); /* atexit: cleanup */
	}
}

static void cleanup(void)
{
	char cmd[128];

	for (int i = 0; i < MAX_KIDS; i++) {
		if (g.kids[i] > 0) {
			kill(g.kids[i], SIGKILL);
			waitpid(g.kids[i], 0, 0);
			g.kids[i] = 0;
		}
	}
	if (g.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-derp: cannot remove %s\n", g.dir);
		g.dir[0] = 0;
	}
}

static void kid_add(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++) {
		if (g.kids[i] <= 0) {
			g.kids[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	abort(); /* more children than MAX_KIDS: our bug */
}

static void kid_stop(pid_t pid)
{
	uint64_t end = clock_mono_ns() + STOP_TIMEOUT_MS * NS_PER_MS;

	kill(pid, SIGTERM);
	while (waitpid(pid, 0, WNOHANG) == 0) {
		if (clock_mono_ns() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, 0, 0);
			break;
		}
		usleep(10000);
	}
	for (int i = 0; i < MAX_KIDS; i++)
		if (g.kids[i] == pid)
			g.kids[i] = 0;
}

static double secs_since(uint64_t t0)
{
	return (double)(clock_mono_ns() - t0) / 1e9;
}

/* VmRSS of pid in KB, or -1. */
static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* utime + stime of pid in seconds, or -1. */
static double cpu_secs(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime (fields 3..15 of proc(5)). */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* A listening socket on 127.0.0.1 and a free port; *port gets the port. */
static int listen_loopback(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* ---- the client driver: many DERP clients on one epoll loop ---- */

enum cl_state {
	C_INVALID = 0,
	C_CONNECTING,
	C_TLS,
	C_SKEY,	 /* request sent (fast start: no 101); waiting for ServerKey */
	C_SINFO, /* ClientInfo sent; waiting for ServerInfo */
	C_UP,
	C_DEAD,
};

struct cl {
	struct tls_stream io;
	enum cl_state st;
	struct key32 priv, pub;
	uint8_t *rbuf, *wbuf;
	size_t rlen, wlen;
	bool out_armed;
	int peer; /* index of the client it sends to */
	uint64_t sent, recvd;
};

struct drv {
	int ep, port;
	SSL_CTX *tls;	     /* NULL: plain HTTP */
	struct key32 server; /* from ServerKey: one server per driver */
	struct cl *c;
	int cap, started, up, dead;
	uint64_t wrong_src, unsent;
};

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

/* Writes p (or queues it behind earlier output); false if it does not fit. */
static bool cl_send(struct drv *d, struct cl *c, const void *p, size_t n)
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
	if (c->wlen + n > CL_WBUF_BYTES)
		return false;
	if (!c->wbuf && !(c->wbuf = malloc(CL_WBUF_BYTES)))
		return false;
	/* A TLS retry sends the same bytes again from wbuf (moving buffer). */
	memcpy(c->wbuf + c->wlen, b, n);
	c->wlen += n;
	cl_arm(d, c, true);
	return true;
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

		if (c->rlen == CL_RBUF_BYTES) {
			cl_kill(d, c); /* a frame larger than any this bench expects */
			return;
		}
		r = tls_stream_read(&c->io, c->rbuf + c->rlen, CL_RBUF_BYTES - c->rlen);
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
	c->rbuf = malloc(CL_RBUF_BYTES);
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

static void drv_poll(struct drv *d, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(d->ep, evs, MAX_EVENTS, timeout_ms);

	for (int i = 0; i < n; i++)
		cl_event(d, evs[i].data.ptr, evs[i].events);
	check_stop();
}

static int drv_open(struct drv *d, int port, SSL_CTX *tls, int cap)
{
	memset(d, 0, sizeof(*d));
	d->port = port;
	d->tls = tls;
	d->cap = cap;
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->c = calloc((size_t)cap, sizeof(*d->c));
	return d->ep >= 0 && d->c ? 0 : -1;
}

static void drv_close(struct drv *d)
{
	for (int i = 0; i < d->started; i++)
		cl_kill(d, &d->c[i]);
	free(d->c);
	close(d->ep);
}

/* Starts clients until `upto` have been started, LOGINS_IN_FLIGHT at a
 * time, and waits for their logins. Returns the seconds it took, or -1 if
 * some did not log in. */
static double drv_login(struct drv *d, int upto)
{
	uint64_t t0 = clock_mono_ns(), end = t0 + LOGIN_TIMEOUT_MS * NS_PER_MS;

	while (d->up + d->dead < upto && clock_mono_ns() < end) {
		while (d->started < upto && d->started - d->up - d->dead < LOGINS_IN_FLIGHT)
			cl_start(d, &d->c[d->started++]);
		drv_poll(d, 10);
	}
	return d->up == upto ? secs_since(t0) : -1;
}

static uint64_t drv_recvd(const struct drv *d)
{
	uint64_t n = 0;

	for (int i = 0; i < d->started; i++)
		n += d->c[i].recvd;
	return n;
}

static uint64_t drv_sent(const struct drv *d)
{
	uint64_t n = 0;

	for (int i = 0; i < d->started; i++)
		n += d->c[i].sent;
	return n;
}

/* Polls until every sent packet has arrived or DRAIN_MS passed. */
static void drv_drain(struct drv *d)
{
	uint64_t end = clock_mono_ns() + DRAIN_MS * NS_PER_MS;

	while (drv_recvd(d) < drv_sent(d) && clock_mono_ns() < end)
		drv_poll(d, 10);
}

/* ---- the minimal relay (the baseline), run in a forked child ---- */

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

		memcpy(r->in, c->carry, have);
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
	for (int i = 0; i < 64; i++) {
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
	snprintf(crt, sizeof(crt), "%s/derp.test.crt", dir);
	snprintf(key, sizeof(key), "%s/derp.test.key", dir);
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

/* The minimal relay's process: `bench-derp --relay FD TLS DIR` (exec'd, so
 * its RSS is its own and not pages inherited from this bench). */
static int __attribute__((noreturn)) relay_main(int lfd, bool tls, const char *dir)
{
	struct epoll_event evs[MAX_EVENTS], ev = {.events = EPOLLIN, .data.ptr = 0};
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
		int n = epoll_wait(r->ep, evs, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				r_accept(r);
			else
				r_event(r, evs[i].data.ptr, evs[i].events);
		}
		r_flush(r);
	}
}

static pid_t start_relay(bool tls, int *port)
{
	int lfd = listen_loopback(port);
	pid_t parent = getpid(), pid;
	char exe[512], fd[16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (lfd < 0 || n <= 0)
		return -1;
	exe[n] = 0;
	snprintf(fd, sizeof(fd), "%d", lfd);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* kept across exec */
		if (getppid() != parent)
			_exit(1);
		fcntl(lfd, F_SETFD, 0); /* the listening socket goes across exec */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execl(exe, exe, "--relay", fd, tls ? "1" : "0", g.dir, (char *)0);
		_exit(127);
	}
	close(lfd);
	if (pid > 0)
		kid_add(pid);
	return pid;
}

/* ---- msock-derper ---- */

static pid_t start_derper(bool tls, int *port)
{
	char exe[512], addr[64], key[128], log[128];
	const char *argv[16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
	uint64_t end;
	int lfd, i = 0;
	pid_t pid;

	lfd = listen_loopback(port); /* a free port: taken back just below */
	if (n <= 0 || lfd < 0)
		return -1;
	close(lfd);
	exe[n] = 0;
	strcpy(strrchr(exe, '/') + 1, "msock-derper");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", *port);
	snprintf(key, sizeof(key), "%s/derper.key", g.dir);
	snprintf(log, sizeof(log), "%s/derper-%d.log", g.dir, *port);
	argv[i++] = exe;
	argv[i++] = "-a";
	argv[i++] = addr;
	argv[i++] = "-c";
	argv[i++] = key;
	argv[i++] = "-http-port";
	argv[i++] = "-1";
	argv[i++] = "-stun=false";
	if (tls) {
		argv[i++] = "-certmode";
		argv[i++] = "manual";
		argv[i++] = "-certdir";
		argv[i++] = g.dir;
		argv[i++] = "-hostname";
		argv[i++] = "derp.test";
	}
	argv[i] = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0)
			dup2(fd, 2);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	kid_add(pid);
	end = clock_mono_ns() + START_TIMEOUT_MS * NS_PER_MS;
	while (!port_open(*port)) {
		if (clock_mono_ns() >= end || waitpid(pid, 0, WNOHANG) != 0) {
			fprintf(stderr, "bench-derp: %s did not start (see %s)\n", exe, log);
			return -1;
		}
		usleep(10000);
	}
	return pid;
}

/* ---- 1. throughput ---- */

struct tput {
	double pps, mbps;
	uint64_t drops, wrong;
	bool ok;
};

/* pairs senders (even clients) each send len-byte packets to their odd
 * partner, keeping at most WINDOW_PKTS in flight; counts what arrives in
 * `ms` after a warm-up. */
static struct tput tput_run(int port, SSL_CTX *tls, int pairs, size_t len, int ms)
{
	static uint8_t batch[MAX_PAIRS][WINDOW_PKTS * (DERP_FRAME_HEADER_LEN + KEY_LEN + 1400)];
	uint8_t pkt[1400];
	struct tput t = {0};
	struct drv d;
	size_t flen = DERP_FRAME_HEADER_LEN + KEY_LEN + len;
	uint64_t t0, t_meas, t_stop, r0 = 0, r1;
	bool measuring = false;

	if (drv_open(&d, port, tls, 2 * pairs) < 0 || drv_login(&d, 2 * pairs) < 0) {
		drv_close(&d);
		return t;
	}
	memset(pkt, 0xa5, len); /* not disco ("TS💬"): the ordinary queue */
	for (int p = 0; p < pairs; p++) {
		d.c[2 * p].peer = 2 * p + 1;
		d.c[2 * p + 1].peer = 2 * p;
		for (int k = 0; k < WINDOW_PKTS; k++)
			derp_encode_send_packet(d.c[2 * p + 1].pub.b, pkt, len,
						batch[p] + (size_t)k * flen, flen);
	}
	t0 = clock_mono_ns();
	t_meas = t0 + WARMUP_MS * NS_PER_MS;
	t_stop = t_meas + (uint64_t)ms * NS_PER_MS;
	for (;;) {
		uint64_t now = clock_mono_ns();
		if (!measuring && now >= t_meas) {
			r0 = drv_recvd(&d);
			measuring = true;
		}
		if (now >= t_stop)
			break;
		for (int p = 0; p < pairs; p++) {
			struct cl *s = &d.c[2 * p];
			uint64_t inflight = s->sent - d.c[2 * p + 1].recvd;
			if (inflight < WINDOW_PKTS &&
			    cl_send(&d, s, batch[p], (WINDOW_PKTS - inflight) * flen))
				s->sent += WINDOW_PKTS - inflight;
		}
		drv_poll(&d, 1);
	}
	r1 = drv_recvd(&d);
	t.pps = (double)(r1 - r0) / ((double)(clock_mono_ns() - t_meas) / 1e9);
	t.mbps = t.pps * (double)len / 1e6;
	drv_drain(&d);
	t.drops = drv_sent(&d) - drv_recvd(&d);
	t.wrong = d.wrong_src;
	t.ok = d.dead == 0;
	drv_close(&d);
	return t;
}

/* Keeps the best rate of the rounds and the sum of what went wrong. */
static void tput_keep(struct tput *best, const struct tput *t, int round)
{
	if (round == 0 || t->pps > best->pps) {
		best->pps = t->pps;
		best->mbps = t->mbps;
	}
	best->drops += t->drops;
	best->wrong += t->wrong;
	best->ok = (round == 0 || best->ok) && t->ok;
}

/* rounds alternate baseline and msock-derper, so a slow moment of the
 * machine hits both; the best of each is printed. */
static void tput_row(int port_b, int port_d, SSL_CTX *tls, int pairs, size_t len, int ms,
		     int rounds)
{
	struct tput b = {0}, m = {0};

	for (int r = 0; r < rounds; r++) {
		struct tput x = tput_run(port_b, tls, pairs, len, ms);
		struct tput y = tput_run(port_d, tls, pairs, len, ms);
		tput_keep(&b, &x, r);
		tput_keep(&m, &y, r);
	}
	printf("  %5zu %3d  %-5s %10.0f %8.1f | %10.0f %8.1f %6llu | %6.2fx%s%s\n", len, pairs,
	       tls ? "TLS" : "plain", b.pps, b.mbps, m.pps, m.mbps, (unsigned long long)m.drops,
	       b.pps > 0 ? m.pps / b.pps : 0, b.drops ? "  (baseline drops!)" : "",
	       !b.ok || !m.ok || b.wrong || m.wrong ? "  (lost connections or wrong sources)" : "");
	fflush(stdout);
}

/* ---- 2. idle memory and 3. load ---- */

struct idle_load {
	bool ok;
	long rss0, rss[2];
	int n[2];
	double login_s[2];
	uint64_t sent, recvd, unsent;
	double secs, cpu, self_cpu;
	int conns;
};

/* Every client sends to its partner, LOAD_PPS packets/s in all, for secs. */
static void load_run(struct drv *d, pid_t pid, int secs, struct idle_load *o)
{
	uint8_t pkt[LOAD_PKT_BYTES], frame[DERP_FRAME_HEADER_LEN + KEY_LEN + LOAD_PKT_BYTES];
	uint64_t total = (uint64_t)secs * LOAD_PPS, done = 0, t0;
	double cpu0, self0;
	int n = d->started, cursor = 0;

	memset(pkt, 0xa5, sizeof(pkt));
	for (int i = 0; i < n; i++)
		d->c[i].peer = (i ^ 1) < n ? i ^ 1 : i;
	cpu0 = cpu_secs(pid);
	self0 = self_cpu_secs();
	t0 = clock_mono_ns();
	while (done < total && secs_since(t0) < secs + 1.0) {
		uint64_t due = (uint64_t)(secs_since(t0) * LOAD_PPS);
		for (int tries = 0; done < due && done < total && tries < n; tries++) {
			int i = cursor;
			struct cl *c = &d->c[i];
			cursor = (cursor + 1) % n;
			if (c->peer == i || c->st != C_UP || d->c[c->peer].st != C_UP)
				continue;
			derp_encode_send_packet(d->c[c->peer].pub.b, pkt, sizeof(pkt), frame,
						sizeof(frame));
			if (cl_send(d, c, frame, sizeof(frame)))
				c->sent++;
			else
				d->unsent++;
			done++;
			tries = 0;
		}
		drv_poll(d, 1);
	}
	o->secs = secs_since(t0);
	o->cpu = cpu_secs(pid) - cpu0;
	o->self_cpu = self_cpu_secs() - self0;
	drv_drain(d);
	o->sent = drv_sent(d);
	o->recvd = drv_recvd(d);
	o->unsent = d->unsent;
	o->conns = d->up;
}

/* Starts a TLS server (msock-derper or the minimal relay), measures its RSS
 * with no client, with steps[0] idle clients, then steps[1]; then runs the
 * load over those clients. */
static struct idle_load idle_and_load(bool derper, const int steps[2], int secs, SSL_CTX *ctls)
{
	struct idle_load o = {0};
	struct drv d;
	int port;
	pid_t pid = derper ? start_derper(true, &port) : start_relay(true, &port);

	if (pid < 0)
		return o;
	usleep(SETTLE_MS * 1000);
	o.rss0 = rss_kb(pid);
	if (drv_open(&d, port, ctls, steps[1]) < 0)
		goto out;
	for (int s = 0; s < 2; s++) {
		o.n[s] = steps[s];
		o.login_s[s] = drv_login(&d, steps[s]);
		if (o.login_s[s] < 0) {
			fprintf(stderr, "bench-derp: %d of %d clients logged in (%d failed)\n",
				d.up, steps[s], d.dead);
			goto out;
		}
		usleep(SETTLE_MS * 1000);
		drv_poll(&d, 0);
		o.rss[s] = rss_kb(pid);
	}
	load_run(&d, pid, secs, &o);
	o.ok = true;
out:
	kid_stop(pid); /* the server closes first: no TIME_WAIT on our ports */
	drv_close(&d);
	return o;
}

static void print_idle(const struct idle_load *m, const struct idle_load *b)
{
	printf("  %-34s %14s %10s | %14s %10s | %s\n", "", "derper RSS KB", "KB/client",
	       "base RSS KB", "KB/client", "derper/base");
	printf("  %-34s %14ld %10s | %14ld %10s |\n", "no client", m->rss0, "", b->rss0, "");
	for (int s = 0; s < 2; s++) {
		double km = (double)(m->rss[s] - m->rss0) / m->n[s];
		double kb = (double)(b->rss[s] - b->rss0) / b->n[s];
		char label[64];
		snprintf(label, sizeof(label), "%d idle clients", m->n[s]);
		printf("  %-34s %14ld %10.1f | %14ld %10.1f | %6.2fx\n", label, m->rss[s], km,
		       b->rss[s], kb, kb > 0 ? km / kb : 0);
	}
	printf("  %-34s %14.0f %10s | %14.0f %10s |\n", "logins/s (TLS + DERP, 128 at once)",
	       m->n[1] / (m->login_s[0] + m->login_s[1]), "",
	       b->n[1] / (b->login_s[0] + b->login_s[1]), "");
	printf("  Tailscale's Go derper, quoted (not measured): ~%.1f KB per idle client\n",
	       TAILSCALE_IDLE_KB);
}

static void print_load(const struct idle_load *m, const struct idle_load *b)
{
	printf("  %-24s %12s | %12s\n", "", "msock-derper", "minimal relay");
	printf("  %-24s %12d | %12d\n", "connections", m->conns, b->conns);
	printf("  %-24s %12llu | %12llu\n", "packets sent", (unsigned long long)m->sent,
	       (unsigned long long)b->sent);
	printf("  %-24s %12.0f | %12.0f\n", "sent per second", m->sent / m->secs,
	       b->sent / b->secs);
	printf("  %-24s %12llu | %12llu\n", "packets received", (unsigned long long)m->recvd,
	       (unsigned long long)b->recvd);
	printf("  %-24s %12llu | %12llu\n", "drops (sent - received)",
	       (unsigned long long)(m->sent - m->recvd), (unsigned long long)(b->sent - b->recvd));
	printf("  %-24s %12llu | %12llu\n", "not sent (client full)", (unsigned long long)m->unsent,
	       (unsigned long long)b->unsent);
	printf("  %-24s %11.1f%% | %11.1f%%   (%.2fx)\n", "server CPU, one core",
	       100 * m->cpu / m->secs, 100 * b->cpu / b->secs, b->cpu > 0 ? m->cpu / b->cpu : 0);
	printf("  %-24s %11.1f%% | %11.1f%%\n", "bench clients' CPU", 100 * m->self_cpu / m->secs,
	       100 * b->self_cpu / b->secs);
}

/* ---- main ---- */

static int make_cert(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=derp.test -keyout %s/derp.test.key -out %s/derp.test.crt 2>/dev/null",
		 g.dir, g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Raises RLIMIT_NOFILE to its hard limit (servers started later inherit it);
 * returns how many idle clients fit. */
static int raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + FD_SPARE) {
		int fit = (int)rl.rlim_cur - FD_SPARE;
		fprintf(stderr, "bench-derp: RLIMIT_NOFILE is %llu: %d idle clients, not %d\n",
			(unsigned long long)rl.rlim_cur, fit, want);
		return fit & ~1;
	}
	return want;
}

static SSL_CTX *client_tls(void)
{
	SSL_CTX *x = SSL_CTX_new(TLS_client_method());

	if (x) {
		SSL_CTX_set_verify(x, SSL_VERIFY_NONE, 0); /* our own self-signed certificate */
		SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
					    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	return x;
}

int main(int argc, char **argv)
{
	static const int pairs_full[] = {1, 4, 16}, pairs_quick[] = {1, 4};
	static const size_t sizes[] = {100, 1400};
	struct sigaction sa = {.sa_handler = on_signal};
	bool quick = false;
	int secs = 0, idle, steps[2], port[4], ms, npairs, rounds;
	const int *pairs;
	struct idle_load m, b;
	SSL_CTX *ctls;
	pid_t pid[4];

	if (argc == 5 && strcmp(argv[1], "--relay") == 0)
		return relay_main(atoi(argv[2]), argv[3][0] == '1', argv[4]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			secs = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: bench-derp [--quick] [--seconds S]\n");
			return 2;
		}
	}
	if (secs <= 0 || secs > 3600)
		secs = quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS;
	ms = quick ? TPUT_MS_QUICK : TPUT_MS;
	rounds = quick ? 1 : TPUT_ROUNDS;
	pairs = quick ? pairs_quick : pairs_full;
	npairs = quick ? 2 : 3;
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, 0);
	sigaction(SIGTERM, &sa, 0);
	idle = raise_nofile(quick ? IDLE_CLIENTS_QUICK : IDLE_CLIENTS);
	steps[1] = idle;
	steps[0] = idle > IDLE_FIRST_STEP ? IDLE_FIRST_STEP : idle / 2;
	snprintf(g.dir, sizeof(g.dir), "/tmp/msock-bench-XXXXXX");
	if (!mkdtemp(g.dir))
		return 1;
	atexit(cleanup);
	ctls = client_tls();
	if (!ctls || make_cert() < 0) {
		fprintf(stderr, "bench-derp: no TLS (openssl CLI?)\n");
		return 1;
	}

	pid[0] = start_relay(false, &port[0]);
	pid[1] = start_derper(false, &port[1]);
	pid[2] = start_relay(true, &port[2]);
	pid[3] = start_derper(true, &port[3]);
	for (int i = 0; i < 4; i++)
		if (pid[i] < 0)
			return 1;
	printf("1. relay throughput: N pairs, A->B, <= %d packets in flight per pair, %.1f s a "
	       "run, best of %d (baseline and derper alternate)\n",
	       WINDOW_PKTS, ms / 1e3, rounds);
	printf("   baseline: the minimal relay (same login and framing, one write per "
	       "destination per loop turn)\n");
	printf("  %5s %3s  %-5s %10s %8s | %10s %8s %6s | %s\n", "bytes", "N", "link", "base pkt/s",
	       "MB/s", "derp pkt/s", "MB/s", "drops", "derper/base");
	for (size_t s = 0; s < 2; s++) {
		for (int i = 0; i < npairs; i++)
			tput_row(port[0], port[1], 0, pairs[i], sizes[s], ms, rounds);
		tput_row(port[2], port[3], ctls, 4, sizes[s], ms, rounds);
	}
	for (int i = 0; i < 4; i++)
		kid_stop(pid[i]);

	m = idle_and_load(true, steps, secs, ctls);
	b = idle_and_load(false, steps, secs, ctls);
	if (!m.ok || !b.ok)
		return 1;
	printf("\n2. memory per idle logged-in TLS client (server VmRSS; RLIMIT_NOFILE raised "
	       "before the servers start)\n");
	print_idle(&m, &b);
	printf("\n3. load: %d TLS connections (%d pairs, both ways), %d packets/s of %d bytes in "
	       "all, %d s\n",
	       m.conns, m.conns / 2, LOAD_PPS, LOAD_PKT_BYTES, secs);
	print_load(&m, &b);
	SSL_CTX_free(ctls);
	return 0;
}
