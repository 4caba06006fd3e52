/* derper_limits: msock-derper's limits as a real process on loopback (TLS
 * with a self-signed certificate, tests/support/derper_proc.h): exact
 * packet accounting for an unpaced sender, a receiver that stops reading,
 * the -verify-clients allowlist, memory under malformed input, and a
 * handshake slowloris. `--wire-client HOST PORT` makes this program the
 * plain-HTTP client of tests/integration/derper_wire.sh instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"
#include "derp_tc.h"
#include "derper_proc.h"
#include "harness.h"

enum {
	FRAME_MAX_BYTES = DERP_FRAME_HEADER_LEN + KEY_LEN + DERP_MAX_PACKET_SIZE,
	RECV_TIMEOUT_MS = 5000,	 /* one awaited frame */
	SETTLE_STEP_US = 50000,	 /* between /debug/metrics polls */
	READER_POLL_MS = 100,	 /* the reader thread checks its stop flag */
	TRICKLE_STEP_US = 50000, /* slowloris: one byte per connection per step */
};

/* The drop counters that can account for a packet queued to a client:
 * queue_head, queue_tail, gone_disconnected, write_error. */
enum { N_DROPS = 4 };

/* A slowloris connection: bytes it trickles, one at a time, all but the
 * last (so it never finishes by itself). */
struct loris {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct dtc *dtc;
	uint8_t bytes[2048];
	size_t len, sent;
	bool closed;
};

/* The fixture: the server, and every client a test opens, so that the
 * teardown closes what a failed assertion left open. */
enum { FX_MAX_CLIENTS = 8 };

struct fx {
	struct derper_proc p;
	struct dtc *c[FX_MAX_CLIENTS];
	struct loris *loris; /* test_handshake_slowloris */
	int n_loris;
};

static void loris_free(struct loris *l);

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (derper_proc_init(&f->p, true) < 0) {
		derper_proc_cleanup(&f->p);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < FX_MAX_CLIENTS; i++)
		dtc_close(f->c[i]);
	for (int i = 0; i < f->n_loris; i++)
		loris_free(&f->loris[i]);
	free(f->loris);
	derper_proc_cleanup(&f->p);
	free(f);
	return 0;
}

/* Keeps c in the fixture; a blocking write gives up after TH_WAIT_MS
 * (a server that stopped reading fails the test instead of hanging it). */
static struct dtc *fx_keep(struct fx *f, struct dtc *c)
{
	struct timeval tv = {.tv_sec = TH_WAIT_MS / 1000};

	setsockopt(dtc_fd(c), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < FX_MAX_CLIENTS; i++) {
		if (!f->c[i]) {
			f->c[i] = c;
			return c;
		}
	}
	dtc_close(c);
	fail_msg("more than %d clients at once", FX_MAX_CLIENTS);
	return 0;
}

static void fx_close(struct fx *f, struct dtc *c)
{
	for (int i = 0; i < FX_MAX_CLIENTS; i++)
		if (f->c[i] == c)
			f->c[i] = 0;
	dtc_close(c);
}

static struct dtc *login(struct fx *f, const struct key32 *priv)
{
	char err[256];
	struct dtc *c = derper_proc_client(&f->p, priv, false, err, sizeof(err));

	if (!c)
		fail_msg("login: %s", err);
	return fx_keep(f, c);
}

/* Connected and upgraded, ServerKey read; the test sends its own ClientInfo. */
static struct dtc *upgraded(struct fx *f)
{
	struct dtc_opts o = {
		.ip = "127.0.0.1", .port = f->p.port, .tls = f->p.tls, .no_login = true};
	char err[256];
	struct dtc *c = dtc_connect(&o, err, sizeof(err));

	if (!c)
		fail_msg("connect: %s", err);
	return fx_keep(f, c);
}

/* Each thread encodes into its own frame buffer (derp_tc's send helper
 * has a static one). */
static int send_pkt(struct dtc *c, const struct key32 *dst, const uint8_t *pkt, size_t n,
		    uint8_t *frame)
{
	size_t fl = derp_encode_send_packet(dst->b, pkt, n, frame, FRAME_MAX_BYTES);

	return fl ? dtc_write_raw(c, frame, fl) : -1;
}

/* Packet i: its index in the first 4 bytes, then reproducible bytes. Every
 * size holds the index, so a receiver can check order and content. */
static size_t fill_packet(uint8_t *p, uint32_t i)
{
	static const size_t sizes[] = {4, 28, 100, 576, 1280, 1400, 4000, 65535};
	size_t n = sizes[i % 8];

	for (size_t k = 4; k < n; k++)
		p[k] = (uint8_t)(i * 31 + k * 7);
	memcpy(p, &i, 4);
	return n;
}

/* Waits for the server to close c: true on EOF, false if it stayed open. */
static bool closed_by_server(struct dtc *c)
{
	uint8_t buf[256], type;
	size_t n;
	int r;

	while ((r = dtc_recv_frame(c, RECV_TIMEOUT_MS, &type, buf, sizeof(buf), &n)) == 1)
		;
	return r == -1;
}

/* A reader thread: counts RecvPackets from `src`, checking that each is the
 * packet fill_packet made for its index and that indexes only increase
 * (drops may skip some; nothing is reordered or duplicated). */
struct reader {
	struct dtc *c;
	const struct key32 *src;
	atomic_bool stop;
	atomic_ullong received, bad;
	atomic_bool eof;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(FRAME_MAX_BYTES), *want = malloc(DERP_MAX_PACKET_SIZE);
	int64_t last = -1;

	while (buf && want && !atomic_load(&r->stop)) {
		uint8_t type;
		size_t n;
		uint32_t i;
		int rc = dtc_recv_frame(r->c, READER_POLL_MS, &type, buf, FRAME_MAX_BYTES, &n);
		if (rc < 0) {
			atomic_store(&r->eof, true);
			break;
		}
		if (rc == 0 || type != DERP_FRAME_RECV_PACKET)
			continue;
		if (n < KEY_LEN + 4 || memcmp(buf, r->src->b, KEY_LEN) != 0) {
			atomic_fetch_add(&r->bad, 1);
			continue;
		}
		memcpy(&i, buf + KEY_LEN, 4);
		if ((int64_t)i <= last || fill_packet(want, i) != n - KEY_LEN ||
		    memcmp(want, buf + KEY_LEN, n - KEY_LEN) != 0)
			atomic_fetch_add(&r->bad, 1);
		last = i;
		atomic_fetch_add(&r->received, 1);
	}
	free(buf);
	free(want);
	return 0;
}

static long long sum(const long long *v, size_t n)
{
	long long s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* 1. A sends 10,000 packets of mixed sizes (4 B .. 64 KiB) to B as fast as
 * it can while B reads: every packet is either received by B or counted in
 * one of the drop counters that apply to a packet queued for B. */
static void test_unpaced_relay_accounting(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	enum { SENT = 10000 };
	static const char *const names[] = {
		"derp_packets_relayed_total",
		"derp_packets_dropped_total{reason=\"unknown_dest\"}",
		"derp_packets_dropped_total{reason=\"queue_head\"}",
		"derp_packets_dropped_total{reason=\"queue_tail\"}",
		"derp_packets_dropped_total{reason=\"gone_disconnected\"}",
		"derp_packets_dropped_total{reason=\"write_error\"}",
	};
	long long v[6] = {0};
	static uint8_t frame[FRAME_MAX_BYTES], pkt[DERP_MAX_PACKET_SIZE];
	struct reader r = {0};
	struct dtc *a, *b;
	pthread_t th;
	uint64_t t0;
	uint32_t sent = 0;
	bool settled = false;

	assert_int_equal(derper_proc_start(p, 0), 0);
	a = login(fx, 0);
	b = login(fx, 0);
	r.c = b;
	r.src = dtc_pub(a);
	assert_int_equal(pthread_create(&th, 0, reader_main, &r), 0);
	t0 = clock_mono_ns();
	for (; sent < SENT; sent++) {
		size_t n = fill_packet(pkt, sent);
		if (send_pkt(a, dtc_pub(b), pkt, n, frame) < 0)
			break;
	}
	/* Quiet: the server has read all of A's packets, and each one queued
	 * for B was delivered or dropped (a bounded wait, not a threshold:
	 * an uncounted loss never settles and fails below with the figures). */
	do {
		if (derper_proc_metrics(p, names, 6, v) == 0 && v[0] == sent &&
		    (long long)atomic_load(&r.received) + sum(v + 2, N_DROPS) == sent)
			settled = true;
		else
			usleep(SETTLE_STEP_US);
	} while (!settled && th_ms_since(t0) < 2 * TH_WAIT_MS);
	/* A little more reading: a duplicate would now show as an excess. */
	usleep(10 * SETTLE_STEP_US);
	atomic_store(&r.stop, true);
	pthread_join(th, 0);
	assert_int_equal(derper_proc_metrics(p, names, 6, v), 0);
	print_message("unpaced: sent %u, received %llu, dropped queue_head %lld queue_tail %lld "
		      "gone_disconnected %lld write_error %lld (relayed %lld, unknown_dest %lld), "
		      "%llu ms\n",
		      sent, (unsigned long long)atomic_load(&r.received), v[2], v[3], v[4], v[5],
		      v[0], v[1], (unsigned long long)th_ms_since(t0));
	assert_int_equal(sent, SENT);
	assert_false(atomic_load(&r.eof));
	assert_int_equal(atomic_load(&r.bad), 0);
	assert_int_equal(v[0], SENT);
	assert_int_equal(v[1], 0);
	assert_int_equal((long long)atomic_load(&r.received) + sum(v + 2, N_DROPS), SENT);
	fx_close(fx, a);
	fx_close(fx, b);
}

/* A flood to a receiver that never reads, in a thread of its own. */
struct flood {
	struct dtc *c;
	const struct key32 *dst;
	unsigned count;
	size_t size;
	atomic_uint sent;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;
	uint8_t *frame = malloc(FRAME_MAX_BYTES), *pkt = calloc(1, f->size);

	for (unsigned i = 0; frame && pkt && i < f->count; i++) {
		memcpy(pkt, &i, sizeof(i) < f->size ? sizeof(i) : f->size);
		if (send_pkt(f->c, f->dst, pkt, f->size, frame) < 0)
			break;
		atomic_fetch_add(&f->sent, 1);
	}
	free(frame);
	free(pkt);
	return 0;
}

/* C sends D `total` packets in windows of `window` and D reads each
 * window back; returns how many arrived intact and in order (it stops at
 * the first that does not). Asserts nothing: a flood thread is running. */
static uint32_t paced(struct dtc *c, struct dtc *d, uint32_t total, uint32_t window)
{
	static uint8_t frame[FRAME_MAX_BYTES], in[FRAME_MAX_BYTES];
	uint8_t out[256];

	for (uint32_t i = 0; i < total; i += window) {
		uint32_t end = i + window < total ? i + window : total;
		for (uint32_t k = i; k < end; k++) {
			memset(out, (int)(k & 0xff), sizeof(out));
			memcpy(out, &k, 4);
			if (send_pkt(c, dtc_pub(d), out, sizeof(out), frame) < 0)
				return i;
		}
		for (uint32_t k = i; k < end; k++) {
			uint8_t type;
			size_t n;
			do {
				if (dtc_recv_frame(d, RECV_TIMEOUT_MS, &type, in, sizeof(in), &n) !=
				    1)
					return k;
			} while (type != DERP_FRAME_RECV_PACKET);
			memset(out, (int)(k & 0xff), sizeof(out));
			memcpy(out, &k, 4);
			if (n != KEY_LEN + sizeof(out) || memcmp(in, dtc_pub(c)->b, KEY_LEN) != 0 ||
			    memcmp(in + KEY_LEN, out, sizeof(out)) != 0)
				return k;
		}
	}
	return total;
}

/* 2. B never reads. A floods B (100,000 x 1,400 bytes, unpaced) while C
 * sends D 1,000 packets paced in windows: all of C's arrive; B's packets
 * are dropped (queue head) or B is closed (write timeout); the server's
 * memory stays bounded. */
static void test_frozen_receiver(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	enum { FLOOD = 100000, FLOOD_BYTES = 1400, PACED = 1000, WINDOW = 16 };
	/* The ceiling on the server's peak RSS (VmHWM, so the moment it is
	 * read does not matter). The server holds at most, per client, the
	 * socket buffers, DERPER_WBUF_MAX_BYTES and DERPER_QUEUE_DEPTH
	 * packets (a few MiB here in all) on top of what it starts with
	 * (peaks measured: ~21 MiB with ASan, ~11 MiB without). A queue
	 * without a bound would hold much of what A sends, 133 MiB. */
	enum { RSS_CEILING_KIB = 64 * 1024 };
	static const char *const names[] = {
		"derp_packets_dropped_total{reason=\"queue_head\"}",
		"derp_write_timeouts_total",
		"derp_packets_relayed_total",
		"derp_packets_dropped_total{reason=\"unknown_dest\"}",
	};
	struct dtc *a, *b, *c, *d;
	struct flood f = {.count = FLOOD, .size = FLOOD_BYTES};
	long long v[4] = {0};
	long hwm, rss;
	uint32_t arrived;
	pthread_t th;
	uint64_t t0;

	p->small_quarantine = true;
	assert_int_equal(derper_proc_start(p, 0), 0);
	a = login(fx, 0);
	b = login(fx, 0);
	c = login(fx, 0);
	d = login(fx, 0);
	f.c = a;
	f.dst = dtc_pub(b);
	t0 = clock_mono_ns();
	assert_int_equal(pthread_create(&th, 0, flood_main, &f), 0);
	arrived = paced(c, d, PACED, WINDOW);
	pthread_join(th, 0);
	/* Until the server has taken in every packet (relayed to B's queue,
	 * or to nobody once B is closed): the peak is then behind us. */
	do {
		if (derper_proc_metrics(p, names, 4, v) == 0 && v[2] + v[3] == FLOOD + PACED)
			break;
		usleep(SETTLE_STEP_US);
	} while (th_ms_since(t0) < 2 * TH_WAIT_MS);
	hwm = derper_proc_mem_kib(p, "VmHWM");
	rss = derper_proc_mem_kib(p, "VmRSS");
	print_message("frozen receiver: %u of %d x %d B flooded, %u of %d paced arrived, %llu ms; "
		      "queue_head drops %lld, write timeouts %lld, relayed %lld, unknown_dest "
		      "%lld; server VmHWM %ld KiB, VmRSS %ld KiB (ceiling %d KiB)\n",
		      atomic_load(&f.sent), FLOOD, FLOOD_BYTES, arrived, PACED,
		      (unsigned long long)th_ms_since(t0), v[0], v[1], v[2], v[3], hwm, rss,
		      RSS_CEILING_KIB);
	assert_int_equal(atomic_load(&f.sent), FLOOD);
	assert_int_equal(arrived, PACED);
	assert_int_equal(v[2] + v[3], FLOOD + PACED);
	assert_true(v[0] > 0 || v[1] > 0);
	assert_true(hwm > 0);
	assert_true(hwm < RSS_CEILING_KIB);
	fx_close(fx, a);
	fx_close(fx, b);
	fx_close(fx, c);
	fx_close(fx, d);
}

/* Waits (bounded) until a metric reaches at least `want`; its last value. */
static long long metric_reaches(const struct derper_proc *p, const char *name, long long want)
{
	uint64_t t0 = clock_mono_ns();
	long long v;

	while ((v = derper_proc_metric(p, name)) < want && th_ms_since(t0) < TH_WAIT_MS)
		usleep(SETTLE_STEP_US);
	return v;
}

/* 2b. B stops reading while A sends it 20,000 x 1,400 bytes, and is closed
 * at the write timeout; then B reads what reached its socket. Every packet
 * the server queued for B was received by B or counted as dropped. */
static void test_frozen_receiver_packets_accounted(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	enum { SENT = 20000, BYTES = 1400 };
	static const char *const names[] = {
		"derp_packets_relayed_total",
		"derp_packets_dropped_total{reason=\"unknown_dest\"}",
		"derp_packets_dropped_total{reason=\"queue_head\"}",
		"derp_packets_dropped_total{reason=\"queue_tail\"}",
		"derp_packets_dropped_total{reason=\"gone_disconnected\"}",
		"derp_packets_dropped_total{reason=\"write_error\"}",
	};
	static uint8_t frame[FRAME_MAX_BYTES], pkt[BYTES];
	long long v[6] = {0}, timeouts;
	unsigned long long received = 0, bad = 0;
	int64_t last = -1;
	struct dtc *a, *b;
	uint64_t t0;
	uint8_t type;
	size_t n;
	int r;

	assert_int_equal(derper_proc_start(p, 0), 0);
	a = login(fx, 0);
	b = login(fx, 0);
	memset(pkt, 0x77, sizeof(pkt));
	for (uint32_t i = 0; i < SENT; i++) {
		memcpy(pkt, &i, 4);
		assert_int_equal(send_pkt(a, dtc_pub(b), pkt, sizeof(pkt), frame), 0);
	}
	/* DERPER_WRITE_TIMEOUT_MS after B's output stalled. */
	timeouts = metric_reaches(p, "derp_write_timeouts_total", 1);
	assert_int_equal(timeouts, 1);
	/* What the server wrote before closing B is in B's socket: read it
	 * all, up to the end of the stream. */
	while ((r = dtc_recv_frame(b, RECV_TIMEOUT_MS, &type, frame, sizeof(frame), &n)) == 1) {
		uint32_t i;
		if (type != DERP_FRAME_RECV_PACKET)
			continue;
		memcpy(&i, frame + KEY_LEN, 4);
		bad += n != KEY_LEN + BYTES || (int64_t)i <= last;
		last = i;
		received++;
	}
	t0 = clock_mono_ns();
	do {
		if (derper_proc_metrics(p, names, 6, v) == 0 && v[0] + v[1] == SENT)
			break;
		usleep(SETTLE_STEP_US);
	} while (th_ms_since(t0) < TH_WAIT_MS);
	print_message("frozen then closed: sent %d, relayed %lld (unknown_dest %lld); B received "
		      "%llu after the close (stream ended: %s); dropped queue_head %lld "
		      "queue_tail %lld gone_disconnected %lld write_error %lld; unaccounted "
		      "%lld\n",
		      SENT, v[0], v[1], received, r == -1 ? "EOF" : "timeout", v[2], v[3], v[4],
		      v[5], v[0] - (long long)received - sum(v + 2, N_DROPS));
	assert_int_equal(r, -1);
	assert_int_equal(bad, 0);
	assert_int_equal(v[0] + v[1], SENT);
	assert_int_equal((long long)received + sum(v + 2, N_DROPS), v[0]);
	fx_close(fx, a);
	fx_close(fx, b);
}

/* Seals a ClientInfo for priv to the server's key and sends it. */
static void send_client_info(struct dtc *c, const struct key32 *priv)
{
	struct derp_client_info ci = {.version = DERP_PROTOCOL_VERSION};
	uint8_t frame[DERP_FRAME_HEADER_LEN + 512];
	struct key32 pub;
	size_t n;

	key_public(priv, &pub);
	assert_int_equal(derp_client_info_seal(priv, &pub, dtc_server_pub(c), &ci,
					       frame + DERP_FRAME_HEADER_LEN,
					       sizeof(frame) - DERP_FRAME_HEADER_LEN, &n),
			 0);
	derp_frame_header_encode(DERP_FRAME_CLIENT_INFO, (uint32_t)n, frame, DERP_FRAME_HEADER_LEN);
	assert_int_equal(dtc_write_raw(c, frame, DERP_FRAME_HEADER_LEN + n), 0);
}

/* 3a. With -verify-clients and a file listing A's key, A logs in and B,
 * whose ClientInfo is well formed, is closed during its login. */
static void test_verify_clients_admits_only_listed(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	struct key32 ka, pa, kb;
	char text[256], hex[KEY_TEXT_MAX], path[256], flags[512];
	struct dtc *a, *b;

	key_generate(&ka);
	key_public(&ka, &pa);
	key_format(KEY_KIND_NODE_PUBLIC, &pa, hex, sizeof(hex));
	key_generate(&kb);
	snprintf(text, sizeof(text), "# the clients this server admits\n\n%s\n", hex);
	assert_int_equal(derper_proc_write_file(p, "allowed", text, path, sizeof(path)), 0);
	snprintf(flags, sizeof(flags), "-verify-clients -verify-clients-file %s", path);
	assert_int_equal(derper_proc_start(p, flags), 0);
	a = login(fx, &ka);
	b = upgraded(fx);
	send_client_info(b, &kb);
	assert_true(closed_by_server(b));
	assert_int_equal(derper_proc_metric(p, "derp_login_failures_total"), 1);
	assert_int_equal(derper_proc_metric(p, "derp_current_clients"), 1);
	fx_close(fx, a);
	fx_close(fx, b);
}

/* Runs the server where it must refuse to start; true when it exited with
 * a non-zero status and its log has `why`. */
static bool refuses_to_start(struct derper_proc *p, const char *flags, const char *why)
{
	int st = 0;

	assert_int_equal(derper_proc_run_to_exit(p, flags, &st), 0);
	print_message("%s: %s %d\n", flags, WIFEXITED(st) ? "exit status" : "signal",
		      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) != 0 && derper_proc_log_has(p, why);
}

/* 3b. -verify-clients without a file: the server does not start, and says
 * which flag is missing. */
static void test_verify_clients_without_file_refuses_to_start(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;

	assert_true(refuses_to_start(p, "-verify-clients", "-verify-clients-file"));
}

/* 3c. A bad line in the -verify-clients-file: the server does not start,
 * and names the file and the line. */
static void test_verify_clients_bad_line_refuses_to_start(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	struct key32 k, pub;
	char text[256], hex[KEY_TEXT_MAX], path[256], flags[512], why[300];

	key_generate(&k);
	key_public(&k, &pub);
	key_format(KEY_KIND_NODE_PUBLIC, &pub, hex, sizeof(hex));
	snprintf(text, sizeof(text), "%s\n# a comment\nnodekey:not-hex-at-all\n%s\n", hex, hex);
	assert_int_equal(derper_proc_write_file(p, "allowed", text, path, sizeof(path)), 0);
	snprintf(flags, sizeof(flags), "-verify-clients -verify-clients-file %s", path);
	snprintf(why, sizeof(why), "%s: line 3", path);
	assert_true(refuses_to_start(p, flags, why));
}

/* The first flight of a real TLS client (its ClientHello), from memory. */
static size_t client_hello(uint8_t *buf, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : 0;
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	int n = 0;

	if (ssl && rb && wb) {
		SSL_set_bio(ssl, rb, wb); /* ssl owns them now */
		rb = wb = 0;
		SSL_set_connect_state(ssl);
		SSL_do_handshake(ssl); /* wants to read the ServerHello */
		n = BIO_read(SSL_get_wbio(ssl), buf, (int)cap);
	}
	BIO_free(rb);
	BIO_free(wb);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return n > 0 ? (size_t)n : 0;
}

static int tcp_to(const struct derper_proc *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)p->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = RECV_TIMEOUT_MS / 1000};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

enum bad_kind {
	BAD_SEND_OVER_LIMIT,
	BAD_CLIENT_INFO_BOX,
	BAD_UNKNOWN_FRAME_JUNK,
	BAD_HTTP_GARBAGE,
	BAD_TLS_HELLO_CUT,
	BAD_KINDS,
};

/* One connection sending one malformed thing; returns when the server has
 * closed it (or, for the skipped unknown frame, has read past it). */
static void bad_input(struct fx *fx, enum bad_kind kind)
{
	const struct derper_proc *p = &fx->p;
	static uint8_t junk[1 << 20];
	struct dtc *c;
	char resp[1024];
	uint8_t buf[2048], type;
	ssize_t r;
	size_t n;
	int fd, e;

	switch (kind) {
	case BAD_SEND_OVER_LIMIT: {
		static const uint8_t hdr[] = {DERP_FRAME_SEND_PACKET, 0xff, 0xff, 0xff, 0xff};
		c = login(fx, 0);
		assert_int_equal(dtc_write_raw(c, hdr, sizeof(hdr)), 0);
		assert_true(closed_by_server(c));
		fx_close(fx, c);
		break;
	}
	case BAD_CLIENT_INFO_BOX: {
		uint8_t ci[DERP_FRAME_HEADER_LEN + 100];
		struct key32 k, pub;
		key_generate(&k);
		key_public(&k, &pub);
		derp_frame_header_encode(DERP_FRAME_CLIENT_INFO, 100, ci, sizeof(ci));
		memcpy(ci + DERP_FRAME_HEADER_LEN, pub.b, KEY_LEN);
		memset(ci + DERP_FRAME_HEADER_LEN + KEY_LEN, 0x42, 100 - KEY_LEN);
		c = upgraded(fx);
		assert_int_equal(dtc_write_raw(c, ci, sizeof(ci)), 0);
		assert_true(closed_by_server(c));
		fx_close(fx, c);
		break;
	}
	case BAD_UNKNOWN_FRAME_JUNK: {
		uint8_t hdr[DERP_FRAME_HEADER_LEN], ping[DERP_FRAME_HEADER_LEN + DERP_PING_LEN];
		static const uint8_t data[DERP_PING_LEN] = {'j', 'u', 'n', 'k', 'p', 'i', 'n', 'g'};
		derp_frame_header_encode(0x7e, sizeof(junk), hdr, sizeof(hdr));
		derp_encode_ping(data, ping, sizeof(ping));
		memset(junk, 0xa5, sizeof(junk));
		c = login(fx, 0);
		assert_int_equal(dtc_write_raw(c, hdr, sizeof(hdr)), 0);
		assert_int_equal(dtc_write_raw(c, junk, sizeof(junk)), 0);
		assert_int_equal(dtc_write_raw(c, ping, sizeof(ping)), 0);
		/* The Pong says the server skipped the whole megabyte. */
		do {
			assert_int_equal(
				dtc_recv_frame(c, RECV_TIMEOUT_MS, &type, buf, sizeof(buf), &n), 1);
		} while (type != DERP_FRAME_PONG);
		assert_memory_equal(buf, data, DERP_PING_LEN);
		fx_close(fx, c);
		break;
	}
	case BAD_HTTP_GARBAGE:
		assert_true(derper_proc_http_get(
				    p, "\x01\x02GARBAGE /\x7f HTTP/9.9\r\n\x80\x81\r\n\r\n", resp,
				    sizeof(resp)) > 0);
		if (strncmp(resp, "HTTP/1.1 4", 10) != 0)
			fail_msg("HTTP garbage answered: %.60s", resp);
		break;
	case BAD_TLS_HELLO_CUT:
		n = client_hello(buf, sizeof(buf));
		assert_true(n > 10);
		fd = tcp_to(p);
		assert_int_equal(send(fd, buf, n / 2, MSG_NOSIGNAL), (ssize_t)(n / 2));
		shutdown(fd, SHUT_WR);
		/* Closed (after a TLS alert, perhaps): EOF or a reset, not
		 * the SO_RCVTIMEO timeout. */
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		e = errno;
		close(fd);
		assert_true(r == 0 || e == ECONNRESET);
		break;
	default:
		fail();
	}
}

/* Waits (bounded) until the server holds `want` connections, the one
 * asking for /debug/metrics included. */
static bool conns_settle(const struct derper_proc *p, long long want)
{
	uint64_t t0 = clock_mono_ns();

	do {
		if (derper_proc_metric(p, "derp_current_connections") == want)
			return true;
		usleep(SETTLE_STEP_US);
	} while (th_ms_since(t0) < TH_WAIT_MS);
	return false;
}

/* 4. 200 connections, each sending one malformed thing (cycling through
 * the kinds of enum bad_kind), leave the server's memory where it was: it
 * still relays for a good pair and exits without leaks. */
static void test_bad_input_keeps_memory_flat(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	enum { CONNS = 200, WARM_CONNS = 50 };
	/* The allowed growth of VmRSS after the warm-up. Measured: ~0.1 MiB
	 * without sanitizers, ~1.3 MiB with ASan (its own bookkeeping; it
	 * grows slower than the number of connections). An open connection
	 * costs ~23 KiB (~40 KiB with ASan): keeping what 200 of them had
	 * would be 4.5 MiB (8 MiB), one buffered megabyte of junk per
	 * BAD_UNKNOWN_FRAME_JUNK connection 40 MiB. */
	enum { RSS_GROWTH_MAX_KIB = 4 * 1024 };
	static const char *const names[] = {"derp_malformed_frames_total",
					    "derp_unknown_frames_total"};
	long long before[2], after[2];
	struct dtc *a, *b;
	uint8_t buf[16];
	struct key32 src;
	long rss0, rss1;
	size_t n;

	p->small_quarantine = true;
	assert_int_equal(derper_proc_start(p, 0), 0);
	a = login(fx, 0);
	b = login(fx, 0);
	/* A round first, so that what the server allocates once and keeps
	 * (its static buffers, OpenSSL's tables, the allocator's arenas and
	 * size classes) is in the baseline: what grows after it is what the
	 * connections leave behind. */
	for (int i = 0; i < WARM_CONNS; i++)
		bad_input(fx, (enum bad_kind)(i % BAD_KINDS));
	assert_true(conns_settle(p, 3));
	assert_int_equal(derper_proc_metrics(p, names, 2, before), 0);
	rss0 = derper_proc_mem_kib(p, "VmRSS");
	for (int i = 0; i < CONNS; i++)
		bad_input(fx, (enum bad_kind)(i % BAD_KINDS));
	/* a, b and the metrics request itself. */
	assert_true(conns_settle(p, 3));
	rss1 = derper_proc_mem_kib(p, "VmRSS");
	assert_int_equal(derper_proc_metrics(p, names, 2, after), 0);
	print_message("bad input: VmRSS %ld KiB before, %ld KiB after %d connections "
		      "(growth %ld KiB, bound %d KiB); malformed +%lld, unknown frames +%lld\n",
		      rss0, rss1, CONNS, rss1 - rss0, RSS_GROWTH_MAX_KIB, after[0] - before[0],
		      after[1] - before[1]);
	assert_true(rss0 > 0);
	assert_true(rss1 - rss0 < RSS_GROWTH_MAX_KIB);
	/* Each kind was seen for what it is: three are malformed (the
	 * SendPacket over its limit, the box, the HTTP request), one skipped. */
	assert_int_equal(after[0] - before[0], 3 * CONNS / BAD_KINDS);
	assert_int_equal(after[1] - before[1], CONNS / BAD_KINDS);
	assert_int_equal(dtc_send_packet(a, dtc_pub(b), (const uint8_t *)"still here", 10), 0);
	assert_int_equal(dtc_recv_packet(b, RECV_TIMEOUT_MS, &src, buf, sizeof(buf), &n), 1);
	assert_int_equal(n, 10);
	assert_true(key_equal(&src, dtc_pub(a)));
	fx_close(fx, a);
	fx_close(fx, b);
	/* It frees everything at exit: with ASan, LeakSanitizer would make
	 * the status non-zero for anything the connections left unreachable. */
	assert_int_equal(derper_proc_stop(p), 0);
}

/* Opens slowloris i: i % 3 picks the stage it stalls in (the TLS
 * handshake, the HTTP request head, the ClientInfo frame). */
static void loris_open(const struct derper_proc *p, struct loris *l, int i)
{
	static const char head[] =
		"GET /derp HTTP/1.1\r\nHost: derp.test\r\nConnection: Upgrade\r\n"
		"Upgrade: DERP\r\n\r\n";
	struct dtc_opts o = {.ip = "127.0.0.1", .port = p->port, .tls = true, .no_login = true};
	char err[256];

	memset(l, 0, sizeof(*l));
	switch (i % 3) {
	case 0:
		l->len = client_hello(l->bytes, sizeof(l->bytes));
		assert_true(l->len > 10);
		l->fd = tcp_to(p);
		break;
	case 1:
		memcpy(l->bytes, head, sizeof(head) - 1);
		l->len = sizeof(head) - 1;
		l->fd = tcp_to(p);
		l->ctx = SSL_CTX_new(TLS_client_method());
		l->ssl = SSL_new(l->ctx);
		SSL_set_fd(l->ssl, l->fd);
		/* Under load the deadline may pass during the handshake: then
		 * it is closed already, which is what the test waits for. */
		l->closed = SSL_connect(l->ssl) != 1;
		break;
	default:
		/* A ClientInfo header announcing 200 bytes, then the bytes. */
		derp_frame_header_encode(DERP_FRAME_CLIENT_INFO, 200, l->bytes, sizeof(l->bytes));
		memset(l->bytes + DERP_FRAME_HEADER_LEN, 0x33, 200);
		l->len = DERP_FRAME_HEADER_LEN + 200;
		l->dtc = dtc_connect(&o, err, sizeof(err));
		l->fd = l->dtc ? dtc_fd(l->dtc) : -1;
		l->closed = !l->dtc;
		break;
	}
}

/* Sends the next byte unless the server has closed l. */
static void loris_step(struct loris *l)
{
	struct pollfd pfd = {.fd = l->fd, .events = POLLRDHUP};
	long w;

	if (l->closed)
		return;
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		l->closed = true;
		return;
	}
	if (l->sent + 1 >= l->len)
		return; /* the last byte is never sent */
	if (l->ssl)
		w = SSL_write(l->ssl, l->bytes + l->sent, 1);
	else if (l->dtc)
		w = dtc_write_raw(l->dtc, l->bytes + l->sent, 1) == 0 ? 1 : -1;
	else
		w = send(l->fd, l->bytes + l->sent, 1, MSG_NOSIGNAL);
	if (w == 1)
		l->sent++;
	else
		l->closed = true;
}

static void loris_free(struct loris *l)
{
	if (l->dtc) {
		dtc_close(l->dtc);
		return;
	}
	SSL_free(l->ssl);
	SSL_CTX_free(l->ctx);
	if (l->fd > 0)
		close(l->fd);
}

/* 5. 50 connections trickling their handshake (in TLS, in the HTTP head,
 * in ClientInfo) with -handshake-timeout-ms 500: the server closes every
 * one at its deadline, counts it, and a good client still logs in. */
static void test_handshake_slowloris(void **state)
{
	struct fx *fx = *state;
	struct derper_proc *p = &fx->p;
	enum { CONNS = 50, LOGIN_TRIES = 3 };
	struct dtc *good = 0;
	long long timeouts;
	uint64_t t0;
	int open;
	char err[256] = "";

	fx->loris = calloc(CONNS, sizeof(*fx->loris));
	assert_non_null(fx->loris);
	assert_int_equal(derper_proc_start(p, "-handshake-timeout-ms 500"), 0);
	for (int i = 0; i < CONNS; i++) {
		fx->n_loris = i + 1; /* freed by the teardown from here on */
		loris_open(p, &fx->loris[i], i);
	}
	t0 = clock_mono_ns();
	do {
		open = 0;
		for (int i = 0; i < CONNS; i++) {
			loris_step(&fx->loris[i]);
			open += !fx->loris[i].closed;
		}
		if (open)
			usleep(TRICKLE_STEP_US);
	} while (open && th_ms_since(t0) < TH_WAIT_MS);
	timeouts = derper_proc_metric(p, "derp_handshake_timeouts_total");
	/* The deadline also applies to this login: a few tries, in case a
	 * loaded box stalls one past 500 ms. */
	for (int t = 0; t < LOGIN_TRIES && !good; t++)
		good = derper_proc_client(p, 0, false, err, sizeof(err));
	if (good)
		fx_keep(fx, good);
	print_message(
		"slowloris: %d of %d closed by the server; derp_handshake_timeouts_total %lld; "
		"good login %s\n",
		CONNS - open, CONNS, timeouts, good ? "ok" : err);
	assert_int_equal(open, 0);
	assert_true(timeouts >= CONNS);
	assert_non_null(good);
}

/* --wire-client HOST PORT: logs in over plain HTTP, prints its public key
 * ("client-key <64 hex>"), sends itself one packet and waits for it. */
static int wire_client(const char *host, int port)
{
	struct dtc_opts o = {.ip = host, .port = port};
	static const uint8_t msg[] = "derper_wire";
	uint8_t buf[64];
	struct key32 src;
	char err[256];
	size_t n;
	struct dtc *c = dtc_connect(&o, err, sizeof(err));
	int rc = 1;

	if (!c) {
		fprintf(stderr, "wire-client: %s\n", err);
		return 1;
	}
	printf("client-key ");
	for (int i = 0; i < KEY_LEN; i++)
		printf("%02x", dtc_pub(c)->b[i]);
	printf("\n");
	if (dtc_send_packet(c, dtc_pub(c), msg, sizeof(msg)) == 0 &&
	    dtc_recv_packet(c, RECV_TIMEOUT_MS, &src, buf, sizeof(buf), &n) == 1 &&
	    n == sizeof(msg) && memcmp(buf, msg, n) == 0) {
		printf("relayed %zu bytes\n", n);
		rc = 0;
	} else {
		fprintf(stderr, "wire-client: the packet did not come back\n");
	}
	dtc_close(c);
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unpaced_relay_accounting, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_frozen_receiver, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_frozen_receiver_packets_accounted, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_verify_clients_admits_only_listed, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_verify_clients_without_file_refuses_to_start,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_verify_clients_bad_line_refuses_to_start,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_keeps_memory_flat, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_slowloris, fx_setup, fx_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "--wire-client") == 0)
		return wire_client(argv[2], atoi(argv[3]));
	/* msock-derper's own sanitizer reports count as failures too. */
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}
