/* derp_client: the non-blocking DERP client (lib/derp/derp_client.h)
 * against a real msock-derper on loopback: login over TLS with the
 * certificate verified against a CA file (and refused without it) or
 * pinned by CertName (sha256-raw), TLS to a plain HTTP server named as
 * such, plain HTTP, packets both ways in an epoll loop, PeerGone,
 * NotePreferred, the server going away; and against a scripted server (no
 * server we run announces one, as Tailscale's does not), the announced
 * token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_client.h"
#include "derp/derp_handshake.h"
#include "derper_proc.h"
#include "harness.h"

struct srv {
	struct derper_proc p; /* tests/support/derper_proc.h */
	SSL_CTX *trusting;    /* trusts the test certificate */
	SSL_CTX *system;      /* the system's CAs only */
};

struct peer {
	struct derp_client *c;
	struct key32 priv, pub;
	bool up, closed;
	char why[128];
	int packets, gone;
	uint8_t last[256];
	size_t last_len;
	uint8_t last_src[32];
	int64_t bucket_rate;
};

static void on_up(void *arg, const struct derp_server_info *si)
{
	struct peer *p = arg;
	p->up = true;
	p->bucket_rate = si->token_bucket_bytes_per_second;
}

static void on_packet(void *arg, const uint8_t src[32], const uint8_t *d, size_t n)
{
	struct peer *p = arg;
	p->packets++;
	p->last_len = n < sizeof(p->last) ? n : sizeof(p->last);
	memcpy(p->last, d, p->last_len);
	memcpy(p->last_src, src, 32);
}

static void on_gone(void *arg, const uint8_t peer[32], uint8_t reason)
{
	(void)peer;
	(void)reason;
	((struct peer *)arg)->gone++;
}

static void on_closed(void *arg, const char *why)
{
	struct peer *p = arg;
	p->closed = true;
	snprintf(p->why, sizeof(p->why), "%s", why);
}

static const struct derp_client_cb cb = {
	.on_up = on_up, .on_packet = on_packet, .on_peer_gone = on_gone, .on_closed = on_closed};

/* tls: -certmode manual with the test certificate; else plain HTTP. */
static void start(struct srv *s, bool tls, const char *extra)
{
	s->p.tls = tls;
	assert_int_equal(derper_proc_start(&s->p, extra), 0);
}

static void stop(struct srv *s)
{
	derper_proc_stop(&s->p);
}

static int setup(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	char crt[128];

	if (!s || derper_proc_init(&s->p, true) < 0)
		return -1;
	snprintf(crt, sizeof(crt), "%s/derp.test.crt", s->p.dir);
	s->trusting = SSL_CTX_new(TLS_client_method());
	s->system = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_load_verify_locations(s->trusting, crt, 0) != 1)
		return -1;
	SSL_CTX_set_default_verify_paths(s->system);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct srv *s = *state;

	derper_proc_cleanup(&s->p);
	SSL_CTX_free(s->trusting);
	SSL_CTX_free(s->system);
	free(s);
	return 0;
}

/* cert: the node's CertName, NULL for none. */
static void connect_peer_cert(struct srv *s, struct peer *p, bool tls, SSL_CTX *ctx, bool insecure,
			      const struct tls_certname *cert)
{
	struct derp_client_cfg cfg = {.tls = tls, .ssl_ctx = ctx, .insecure = insecure};

	memset(p, 0, sizeof(*p));
	key_generate(&p->priv);
	key_public(&p->priv, &p->pub);
	cfg.priv = p->priv;
	ip_parse("127.0.0.1", &cfg.addr);
	cfg.addr.port = (uint16_t)s->p.port;
	snprintf(cfg.host, sizeof(cfg.host), "derp.test");
	if (cert)
		cfg.cert = *cert;
	p->c = derp_client_new(&cfg, &cb, p, clock_mono_ns());
	assert_non_null(p->c);
}

static void connect_peer(struct srv *s, struct peer *p, bool tls, SSL_CTX *ctx, bool insecure)
{
	connect_peer_cert(s, p, tls, ctx, insecure, 0);
}

/* Drives the clients until pred or ~5 s. */
static bool pump(struct peer **ps, int n, bool (*pred)(void *), void *arg)
{
	int ep = epoll_create1(0);
	uint64_t end = clock_mono_ns() + 5 * NS_PER_SEC;
	bool ok = false;

	while (!(ok = pred(arg)) && clock_mono_ns() < end) {
		struct epoll_event evs[8];
		for (int i = 0; i < n; i++) {
			struct epoll_event ev = {.events = derp_client_events(ps[i]->c),
						 .data.ptr = ps[i]};
			if (epoll_ctl(ep, EPOLL_CTL_MOD, derp_client_fd(ps[i]->c), &ev) < 0)
				epoll_ctl(ep, EPOLL_CTL_ADD, derp_client_fd(ps[i]->c), &ev);
		}
		int k = epoll_wait(ep, evs, 8, 20);
		for (int i = 0; i < k; i++)
			derp_client_on_io(((struct peer *)evs[i].data.ptr)->c, clock_mono_ns());
		for (int i = 0; i < n; i++)
			derp_client_tick(ps[i]->c, clock_mono_ns());
	}
	close(ep);
	return ok;
}

struct two {
	struct peer *a, *b;
	int want;
};

static bool both_up(void *arg)
{
	struct two *t = arg;
	return t->a->up && t->b->up;
}

static bool b_has(void *arg)
{
	struct two *t = arg;
	return t->b->packets >= t->want;
}

static bool a_gone(void *arg)
{
	struct two *t = arg;
	return t->a->gone >= 1;
}

static bool a_closed(void *arg)
{
	struct two *t = arg;
	return t->a->closed;
}

static void relay_both_ways(struct srv *s, bool tls, SSL_CTX *ctx, bool insecure)
{
	struct peer a, b;
	struct peer *ps[] = {&a, &b};
	struct two t = {&a, &b, 1};

	connect_peer(s, &a, tls, ctx, insecure);
	connect_peer(s, &b, tls, ctx, insecure);
	assert_true(pump(ps, 2, both_up, &t));
	assert_true(key_equal(derp_client_server_key(a.c), derp_client_server_key(b.c)));
	for (int i = 0; i < 100; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "packet %d", i);
		assert_int_equal(derp_client_send(a.c, b.pub.b, (const uint8_t *)msg, (size_t)n,
						  clock_mono_ns()),
				 0);
	}
	t.want = 100;
	assert_true(pump(ps, 2, b_has, &t));
	assert_int_equal(b.packets, 100);
	assert_memory_equal(b.last, "packet 99", 9);
	assert_memory_equal(b.last_src, a.pub.b, 32);
	derp_client_free(a.c);
	derp_client_free(b.c);
}

static void test_tls_verified_against_ca_file(void **state)
{
	struct srv *s = *state;

	start(s, true, 0);
	relay_both_ways(s, true, s->trusting, false);
}

static void test_tls_untrusted_certificate_refused(void **state)
{
	struct srv *s = *state;
	struct peer a, b;
	struct peer *ps[] = {&a};
	struct two t = {&a, &b, 0};

	start(s, true, 0);
	connect_peer(s, &a, true, s->system, false);
	assert_true(pump(ps, 1, a_closed, &t));
	assert_false(a.up);
	assert_non_null(strstr(a.why, "TLS handshake failed"));
	assert_null(strstr(a.why, "plain HTTP"));
	derp_client_free(a.c);
}

/* TLS dialled to a derper serving plain HTTP (no -certmode manual): it
 * answers the ClientHello with an HTTP 400, and the reason says so. */
static void test_tls_to_plain_http_server(void **state)
{
	struct srv *s = *state;
	struct peer a, b;
	struct peer *ps[] = {&a};
	struct two t = {&a, &b, 0};
	char want[128];

	start(s, false, 0);
	connect_peer(s, &a, true, s->trusting, false);
	assert_true(pump(ps, 1, a_closed, &t));
	assert_false(a.up);
	snprintf(want, sizeof(want),
		 "derp.test:%d: the server speaks plain HTTP, not TLS: run msock-derper with "
		 "-certmode manual",
		 s->p.port);
	assert_string_equal(a.why, want);
	derp_client_free(a.c);
}

/* CertName "sha256-raw:<hex>" of the server's certificate (what Tailscale's
 * derper logs for a self-signed IP certificate): trusted without any CA;
 * another hash is refused even by a context that trusts the certificate. */
static void test_pinned_cert_name(void **state)
{
	struct srv *s = *state;
	struct peer a, b;
	struct peer *ps[] = {&a, &b};
	struct two t = {&a, &b, 1};
	struct tls_certname pin;
	char path[128], name[128];
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	FILE *f;
	X509 *x;
	int n;

	snprintf(path, sizeof(path), "%s/derp.test.crt", s->p.dir);
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, 0, 0, 0);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(X509_digest(x, EVP_sha256(), d, &dl), 1);
	X509_free(x);
	n = snprintf(name, sizeof(name), "sha256-raw:");
	for (unsigned int i = 0; i < dl; i++)
		n += snprintf(name + n, sizeof(name) - (size_t)n, "%02x", d[i]);
	assert_int_equal(tls_certname_parse(name, &pin), 0);

	start(s, true, 0);
	connect_peer_cert(s, &a, true, s->system, false, &pin);
	connect_peer_cert(s, &b, true, s->system, false, &pin);
	assert_true(pump(ps, 2, both_up, &t));
	assert_int_equal(
		derp_client_send(a.c, b.pub.b, (const uint8_t *)"pinned", 6, clock_mono_ns()), 0);
	assert_true(pump(ps, 2, b_has, &t));
	derp_client_free(a.c);
	derp_client_free(b.c);

	pin.sha256[0] ^= 1;
	connect_peer_cert(s, &a, true, s->trusting, false, &pin);
	assert_true(pump(ps, 1, a_closed, &t));
	assert_false(a.up);
	assert_string_equal(a.why, "the certificate's SHA-256 is not CertName's sha256-raw");
	derp_client_free(a.c);
}

static void test_insecure_for_tests(void **state)
{
	struct srv *s = *state;

	start(s, true, 0);
	relay_both_ways(s, true, s->system, true);
}

static void test_plain_http(void **state)
{
	struct srv *s = *state;

	start(s, false, 0);
	relay_both_ways(s, false, 0, false);
}

static void test_peer_gone_and_server_gone(void **state)
{
	struct srv *s = *state;
	struct peer a, b;
	struct peer *ps[] = {&a};
	struct two t = {&a, &b, 0};
	struct key32 nobody;

	start(s, false, 0);
	connect_peer(s, &a, false, 0, false);
	t.b = &a;
	assert_true(pump(ps, 1, both_up, &t));
	key_generate(&nobody);
	/* A disco packet: the only kind a server answers with PeerGone(not
	 * here), as Tailscale's. */
	uint8_t disco[6 + 32 + 24 + 16] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
	assert_int_equal(derp_client_send(a.c, nobody.b, disco, sizeof(disco), clock_mono_ns()), 0);
	assert_true(pump(ps, 1, a_gone, &t));
	stop(s);
	assert_true(pump(ps, 1, a_closed, &t));
	print_message("closed: %s\n", a.why);
	assert_int_equal(derp_client_send(a.c, nobody.b, (const uint8_t *)"x", 1, clock_mono_ns()),
			 -ENOTCONN);
	derp_client_free(a.c);
}

/* Reads exactly n bytes (blocking); false at EOF or error. */
static bool read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* A scripted plain-HTTP DERP server for one connection (a child process):
 * the login, with a ServerInfo that announces a token bucket of `rate`
 * bytes/s and twice that burst; then it reads until EOF. */
static void scripted_server(int lfd, int64_t rate)
{
	static uint8_t buf[65536];
	struct derp_server_info si = {.version = 2,
				      .token_bucket_bytes_per_second = rate,
				      .token_bucket_bytes_burst = 2 * rate};
	struct derp_client_info ci;
	struct key32 priv, pub, client;
	struct derp_frame_header h;
	size_t n = 0, len;
	int fd = accept(lfd, 0, 0);

	key_generate(&priv);
	key_public(&priv, &pub);
	while (fd >= 0 && n < sizeof(buf) && read(fd, buf + n, 1) == 1)
		if (++n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
			break; /* the request head; Derp-Fast-Start: no 101 */
	n = derp_encode_server_key(pub.b, buf, sizeof(buf));
	if (fd < 0 || write(fd, buf, n) != (ssize_t)n ||
	    !read_full(fd, buf, DERP_FRAME_HEADER_LEN) ||
	    derp_frame_header_parse(buf, DERP_FRAME_HEADER_LEN, &h) < 0 || h.len > sizeof(buf) ||
	    !read_full(fd, buf, h.len) ||
	    derp_client_info_open(&priv, buf, h.len, &client, &ci) < 0 ||
	    derp_server_info_seal(&priv, &client, &si, buf + DERP_FRAME_HEADER_LEN,
				  sizeof(buf) - DERP_FRAME_HEADER_LEN, &len) < 0 ||
	    !derp_frame_header_encode(DERP_FRAME_SERVER_INFO, (uint32_t)len, buf,
				      DERP_FRAME_HEADER_LEN) ||
	    write(fd, buf, DERP_FRAME_HEADER_LEN + len) != (ssize_t)(DERP_FRAME_HEADER_LEN + len))
		_exit(1);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

/* A bucket a server announces paces what the client sends: over it a
 * packet is dropped and counted (Tailscale's client, setSendRateLimiter). */
static void test_token_bucket_announced(void **state)
{
	struct srv *s = *state;
	struct peer a;
	struct peer *ps[] = {&a};
	struct two t = {&a, &a, 0};
	static uint8_t big[60000];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int dropped = 0, lfd = socket(AF_INET, SOCK_STREAM, 0), st;
	pid_t pid;

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		scripted_server(lfd, 100000);
	}
	close(lfd);
	s->p.port = ntohs(sa.sin_port);
	connect_peer(s, &a, false, 0, false);
	assert_true(pump(ps, 1, both_up, &t));
	assert_int_equal(a.bucket_rate, 100000);
	/* A burst of 200,000 bytes: sending 20 x 60 KB at once must run dry. */
	for (int i = 0; i < 20; i++)
		dropped += derp_client_send(a.c, a.pub.b, big, sizeof(big), clock_mono_ns()) ==
			   -ENOBUFS;
	assert_true(dropped > 0);
	assert_int_equal(derp_client_stats(a.c)->send_dropped_rate, (uint64_t)dropped);
	derp_client_free(a.c);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_verified_against_ca_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_untrusted_certificate_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pinned_cert_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_to_plain_http_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insecure_for_tests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_and_server_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bucket_announced, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	/* msock-derper's own sanitizer reports count as failures too. */
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}
