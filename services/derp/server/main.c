/* msock-derper: a DERP relay server (+ STUN server), flag-compatible with
 * Tailscale's cmd/derper where the flags apply. One epoll loop; timers are
 * checked on a DERPER_TICK_MS tick (handshake deadlines, write stalls,
 * keepalives: all coarse, none needs better). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "derper.h"
#include "derper_access.h"
#include "derper_flags.h"
#include "derper_front.h"
#include "derper_keyfile.h"
#include "derper_mesh.h"
#include "derper_sandbox.h"
#include "derper_stun.h"
#include "derper_tls.h"

enum {
	DERPER_TICK_MS = 250,
	DERPER_LISTEN_BACKLOG = 4096,
	DERPER_MAX_LISTENERS = 4,
	/* Go's keepalive defaults (net/dial.go): the idle time when
	 * -tcp-keepalive-time is 0, the probe interval, the probe count. */
	DERPER_TCP_KEEPALIVE_DEFAULT_S = 15,
	DERPER_TCP_KEEPALIVE_INTERVAL_S = 15,
	DERPER_TCP_KEEPALIVE_COUNT = 9,
	DERPER_TCP_KEEPIDLE_MAX_S = 32767, /* the kernel's MAX_TCP_KEEPIDLE */
};

struct ctx {
	struct derper s;
	struct derper_opts opts;
	int user_timeout_ms;  /* TCP_USER_TIMEOUT of accepted sockets; 0: the kernel's */
	int keepalive_idle_s; /* TCP_KEEPIDLE of accepted sockets; < 0: no keepalive */
	struct evsrc src[DERPER_MAX_LISTENERS + 2];
	size_t n_src;
	int rate_fd; /* -rate-config, open for the reread on SIGHUP; -1: none */
	bool stop;
};

/* A listening socket on host:port; no host: all addresses, dual-stack.
 * Names are not resolved (derper is given addresses). */
static int listen_on(const char *host, int port, char *err, size_t errcap)
{
	int one = 1, zero = 0, fd;
	struct sockaddr_storage ss = {0};
	socklen_t sl;

	if (!host[0] || strcmp(host, "::") == 0) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		sl = sizeof(*a);
	} else {
		struct ipport ip;
		if (ip_parse(host, &ip) < 0) {
			snprintf(err, errcap,
				 "-a: %s is not an IP address (names are not resolved)", host);
			return -EINVAL;
		}
		ip.port = (uint16_t)port;
		sl = ipport_to_sockaddr(&ip, &ss);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, DERPER_LISTEN_BACKLOG) < 0) {
		int e = errno;
		snprintf(err, errcap, "listen on [%s]:%d: %s", host, port, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

static int add_src(struct ctx *x, enum ev_kind kind, int fd)
{
	struct evsrc *e = &x->src[x->n_src++];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};

	e->kind = kind;
	e->fd = fd;
	return epoll_ctl(x->s.epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* What Tailscale's derper sets on its listeners (-tcp-user-timeout) and
 * Go on each accepted connection (-tcp-keepalive-time: idle time, then
 * probes every 15 s, 9 of them): a client gone without a FIN is found
 * when data to it goes unacknowledged for the user timeout, not after the
 * kernel's ~15 minutes of retransmissions. */
static void tcp_liveness(const struct ctx *x, int fd)
{
	int one = 1, intvl = DERPER_TCP_KEEPALIVE_INTERVAL_S, cnt = DERPER_TCP_KEEPALIVE_COUNT;

	if (x->user_timeout_ms > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &x->user_timeout_ms,
			   sizeof(x->user_timeout_ms));
	if (x->keepalive_idle_s < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &x->keepalive_idle_s,
		   sizeof(x->keepalive_idle_s));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void on_accept(struct ctx *x, struct evsrc *e)
{
	struct derper *s = &x->s;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct ipport remote;
		SSL *ssl = 0;
		int one = 1;
		int fd = accept4(e->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		s->ctr.accepts++;
		if (s->n_pending >= DERPER_MAX_PENDING_HANDSHAKES) {
			/* Unfinished logins cost memory and a TLS handshake each. */
			s->ctr.refused_pending++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tcp_liveness(x, fd);
		ipport_from_sockaddr((struct sockaddr *)&ss, sl, &remote);
		if (e->kind == EV_LISTEN_TLS) {
			ssl = SSL_new(s->tls);
			if (!ssl || SSL_set_fd(ssl, fd) != 1) {
				SSL_free(ssl);
				close(fd);
				continue;
			}
			SSL_set_accept_state(ssl);
		}
		if (!dconn_new(s, fd, ssl, &remote)) {
			SSL_free(ssl);
			close(fd);
		}
	}
}

/* SIGHUP with -rate-config: read it again (Tailscale's watchRateConfig);
 * a file that does not parse leaves the limit in force. */
static void reload_rate(struct ctx *x)
{
	char err[512];

	log_info("derper: SIGHUP: reloading the rate config from %s", x->opts.rate_config);
	if (derper_load_rate(&x->s, &x->opts, x->rate_fd, err, sizeof(err)) < 0)
		log_warn("derper: rate config reload failed (the old one stays): %s", err);
	else
		log_info("derper: rate config applied: client-rate=%llu bytes/sec, "
			 "client-burst=%llu bytes",
			 (unsigned long long)x->s.rate_bps, (unsigned long long)x->s.rate_burst);
}

static void reap(struct derper *s)
{
	dconn_flush_pending(s);
	dconn_reap(s);
}

static void tick(struct derper *s)
{
	for (struct dconn *c = s->all; c; c = c->all_next)
		dconn_tick(c);
}

static int run(struct ctx *x)
{
	struct derper *s = &x->s;
	struct epoll_event evs[DERPER_MAX_EVENTS];
	uint64_t next_tick = clock_mono_ns();

	while (!x->stop) {
		int n, timeout;

		s->now_ns = clock_mono_ns();
		if (s->now_ns >= next_tick) {
			tick(s);
			reap(s);
			next_tick = s->now_ns + DERPER_TICK_MS * NS_PER_MS;
		}
		timeout = (int)((next_tick - s->now_ns) / NS_PER_MS) + 1;
		n = epoll_wait(s->epfd, evs, DERPER_MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		s->now_ns = clock_mono_ns();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			struct evsrc *e = p;
			struct dconn *c = p;
			switch (*(enum ev_kind *)p) {
			case EV_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(e->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						reload_rate(x);
					else
						x->stop = true;
				}
				break;
			}
			case EV_STUN:
				derper_stun_on_readable(s, e->fd);
				break;
			case EV_LISTEN_TLS:
			case EV_LISTEN_PLAIN:
				on_accept(x, e);
				break;
			case EV_MESH:
				mesh_link_on_io((struct mesh_link *)p);
				break;
			case EV_CONN:
				if (c->st == DC_CLOSED)
					break;
				if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
					dconn_close(c, 0);
					break;
				}
				if (evs[i].events & EPOLLOUT)
					dconn_on_writable(c);
				if (c->st != DC_CLOSED && (evs[i].events & (EPOLLIN | EPOLLRDHUP)))
					dconn_on_readable(c);
				break;
			default:
				break;
			}
		}
		mesh_tick(s);
		reap(s);
	}
	return 0;
}

/* Frees everything. (LeakSanitizer cannot check at exit in the sandbox; it
 * checks before it: derper_sandbox.c.) */
static void teardown(struct ctx *x)
{
	struct derper *s = &x->s;

	for (struct dconn *c = s->all; c; c = c->all_next)
		dconn_close(c, 0);
	reap(s);
	for (size_t i = 0; i < x->n_src; i++)
		close(x->src[i].fd);
	close(s->epfd);
	if (x->rate_fd >= 0)
		close(x->rate_fd);
	mesh_free(s);
	SSL_CTX_free(s->tls);
	SSL_CTX_free(s->mesh_tls);
	free(s->allowed);
}

static int setup_signals(struct ctx *x)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Only with -rate-config, as Tailscale's derper: otherwise SIGHUP
	 * ends the process as its default does. */
	if (x->opts.rate_config[0])
		sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, 0);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : add_src(x, EV_SIGNAL, fd);
}

static int load_key(struct ctx *x, char *err, size_t errcap)
{
	struct derper *s = &x->s;
	const char *path;

	if (x->opts.dev) {
		key_generate(&s->priv); /* -dev: a throwaway key, as Tailscale's */
	} else {
		if (derper_keyfile_path(x->opts.config_path, (unsigned)geteuid(), &path, err,
					errcap) < 0)
			return -EINVAL;
		if (!x->opts.config_path[0])
			log_info("no config path specified; using %s", path);
		if (derper_keyfile_load(path, &s->priv, err, errcap) < 0)
			return -EINVAL;
	}
	key_public(&s->priv, &s->pub);
	for (int i = 0; i < KEY_LEN; i++)
		snprintf(s->pub_hex + 2 * i, 3, "%02x", s->pub.b[i]);
	return 0;
}

static int setup(struct ctx *x, char *err, size_t errcap)
{
	struct derper *s = &x->s;
	const struct derper_opts *o = &x->opts;
	char host[DERPER_FLAGS_ADDR_MAX_BYTES + 1], port[16];
	uint64_t user_ms;
	int fd;

	s->handshake_ms = (uint64_t)o->handshake_timeout_ms;
	/* A write timeout under 1 ms is 1 ms, not none. */
	if (o->tcp_write_timeout_ns > 0)
		s->write_timeout_ms =
			((uint64_t)o->tcp_write_timeout_ns + NS_PER_MS - 1) / NS_PER_MS;
	/* The kernel takes milliseconds and whole seconds (Go rounds the
	 * keepalive time up); -tcp-user-timeout is not negative (flags). */
	user_ms = (uint64_t)o->tcp_user_timeout_ns / NS_PER_MS;
	x->user_timeout_ms = user_ms > INT32_MAX ? INT32_MAX : (int)user_ms;
	if (o->tcp_keepalive_time_ns < 0) {
		x->keepalive_idle_s = -1;
	} else if (o->tcp_keepalive_time_ns == 0) {
		x->keepalive_idle_s = DERPER_TCP_KEEPALIVE_DEFAULT_S;
	} else {
		uint64_t secs = ((uint64_t)o->tcp_keepalive_time_ns + NS_PER_SEC - 1) / NS_PER_SEC;
		x->keepalive_idle_s =
			secs > DERPER_TCP_KEEPIDLE_MAX_S ? DERPER_TCP_KEEPIDLE_MAX_S : (int)secs;
	}
	log_ratelimit_init(&s->rl_conn, 1000);
	log_ratelimit_init(&s->rl_bad, 1000);
	if (load_key(x, err, errcap) < 0)
		return -1;
	if (derper_opts_tls(o)) {
		char crt[1024], key[1024];
		if (derper_opts_cert_paths(o, crt, sizeof(crt), key, sizeof(key)) < 0) {
			snprintf(err, errcap,
				 "-certdir %.400s -hostname %.253s: no usable certificate path",
				 o->certdir, o->hostname);
			return -1;
		}
		s->tls = derper_tls_new(crt, key, err, errcap);
		if (!s->tls)
			return -1;
	}
	if (derper_load_mesh_and_allowlist(s, o, err, errcap) < 0)
		return -1;
	if (mesh_setup(s, o->mesh_with, o->hostname, derper_opts_listen_port(o), err, errcap) < 0)
		return -1;
	if (s->tls && s->n_links) {
		/* Mesh peers serve TLS too: trust the system's CAs and the
		 * chain this server uses (a region often shares one CA). */
		char crt[1024], key[1024];
		s->mesh_tls = SSL_CTX_new(TLS_client_method());
		derper_opts_cert_paths(o, crt, sizeof(crt), key, sizeof(key));
		if (!s->mesh_tls || SSL_CTX_set_default_verify_paths(s->mesh_tls) != 1 ||
		    SSL_CTX_load_verify_locations(s->mesh_tls, crt, 0) != 1) {
			snprintf(err, errcap, "mesh: cannot set up TLS trust (%.900s)", crt);
			return -1;
		}
		/* The DERP client retries a write after WANT_WRITE from its
		 * output buffer, which may have grown and moved since: without
		 * these OpenSSL fails the retry ("bad write retry") and the
		 * link drops under load (as the derp component sets them). */
		SSL_CTX_set_mode(s->mesh_tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
						      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0 || setup_signals(x) < 0)
		return -1;
	if (derper_opts_split_addr(o->addr, host, sizeof(host), port, sizeof(port), err, errcap) <
	    0)
		return -1;
	fd = listen_on(host, derper_opts_listen_port(o), err, errcap);
	if (fd < 0 || add_src(x, s->tls ? EV_LISTEN_TLS : EV_LISTEN_PLAIN, fd) < 0)
		return -1;
	/* Beside HTTPS, plain HTTP (captive-portal checks, probes) on the
	 * same IP, as Tailscale's -http-port. */
	if (s->tls && o->http_port > 0) {
		fd = listen_on(host, o->http_port, err, errcap);
		if (fd < 0 || add_src(x, EV_LISTEN_PLAIN, fd) < 0)
			return -1;
	}
	if (o->stun && o->stun_port > 0) {
		struct ipport ip = {0};
		if (host[0] && strcmp(host, "::") != 0 && ip_parse(host, &ip) < 0) {
			snprintf(err, errcap, "-a: %s is not an IP address", host);
			return -1;
		}
		fd = derper_stun_open(&ip, o->stun_port);
		if (fd < 0) {
			snprintf(err, errcap, "STUN on port %d: %s", o->stun_port, strerror(-fd));
			return -1;
		}
		add_src(x, EV_STUN, fd);
	}
	log_info("derper: public key nodekey:%s, listening on %s (%s)%s", s->pub_hex, o->addr,
		 s->tls ? "TLS" : "plain HTTP", o->stun ? ", STUN on" : "");
	return 0;
}

/* After setup: everything the server reads from files is read, or (the
 * -rate-config for SIGHUP) held open; what it holds is listed and kept. An
 * editor that replaces -rate-config by a new file (rename) leaves the old
 * one behind this fd: docs/derper.md says to rewrite it in place. */
static int enter_sandbox(struct ctx *x, char *err, size_t errcap)
{
	int fds[DERPER_SANDBOX_MAX_FDS];
	size_t n = 0;

	if (x->opts.rate_config[0]) {
		x->rate_fd = open(x->opts.rate_config, O_RDONLY | O_CLOEXEC);
		if (x->rate_fd < 0) {
			snprintf(err, errcap, "-rate-config %.900s: %s", x->opts.rate_config,
				 strerror(errno));
			return -1;
		}
		fds[n++] = x->rate_fd;
	}
	fds[n++] = x->s.epfd;
	for (size_t i = 0; i < x->n_src && n < DERPER_SANDBOX_MAX_FDS; i++)
		fds[n++] = x->src[i].fd;
	return derper_sandbox_enter(x->opts.user, x->opts.chroot_dir, fds, n, x->s.n_links > 0, err,
				    errcap);
}

#ifdef MSOCK_TEST_BUILD
/* $MSOCK_DERPER_SELFTEST (derper_sandbox.h): the paths the server was
 * given must be out of reach now. */
static int selftest(const struct ctx *x, const char *what)
{
	const char *paths[] = {x->opts.rate_config, x->opts.config_path, x->opts.certdir,
			       x->opts.verify_clients_file, x->opts.mesh_psk_file};
	const char *given[5];
	size_t n = 0;

	for (size_t i = 0; i < 5; i++)
		if (paths[i][0])
			given[n++] = paths[i];
	return derper_sandbox_selftest(what, given, n);
}
#endif

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer's check at exit needs ptrace and a non-thread clone, which
 * the seccomp filter (derper_sandbox.h) refuses. Off by default, so a start
 * does not pay for a check; an ASAN_OPTIONS that turns it on gets it before
 * the sandbox instead, in place of the one at exit (derper_sandbox.c). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

int main(int argc, char **argv)
{
	static struct ctx x = {.rate_fd = -1};
	char err[1024] = "";
	int rc;

	log_init("derper");
	if (sodium_init() < 0)
		return 1;
	rc = derper_flags_parse(argc, argv, &x.opts, err, sizeof(err));
	if (rc == DERPER_FLAGS_HELP) {
		derper_flags_usage(stdout);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		derper_flags_usage(stderr);
		return 2;
	}
	if (setup(&x, err, sizeof(err)) < 0 || enter_sandbox(&x, err, sizeof(err)) < 0) {
		log_error("%s", err[0] ? err : strerror(errno));
		return 1;
	}
#ifdef MSOCK_TEST_BUILD
	if (getenv(DERPER_SANDBOX_SELFTEST_ENV))
		return selftest(&x, getenv(DERPER_SANDBOX_SELFTEST_ENV));
#endif
	rc = run(&x);
	log_info("derper: exiting");
	teardown(&x);
	return rc < 0 ? 1 : 0;
}
