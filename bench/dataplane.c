/* bench/dataplane: msock-dataplane's figures beside baselines measured in
 * the same run (the machine is shared and noisy: read the ratios).
 *   1. forwarding rate of 1,400-byte packets, WireGuard side -> peer and
 *      peer -> WireGuard side, through the dataplane (a real broker and
 *      dataplane, 10,000 peers configured) vs. a bare relay process doing
 *      recvmmsg -> sendmmsg between the same two sockets, and one that
 *      sends each batch as UDP GSO sends as the dataplane does (the most
 *      this machine moves through one extra process);
 *   2. round-trip latency WireGuard -> peer -> WireGuard: direct (no
 *      hop), through the bare relay, through the dataplane; the dataplane's
 *      added latency per packet is half of (dataplane - direct);
 *   3. the dataplane's RSS with 10,000 peers vs. with 2, per peer, and its
 *      peak while the 10,000 peers were applied and published
 *      (Tailscale budgets 64 KiB of heap per peer);
 *   4. one peer change in a 10,000-peer netmap: applied inside the
 *      forwarding table (in process), and end to end (config rewrite ->
 *      msockctl reload -> visible in status);
 *   5. the forwarding rate WireGuard -> peer with no capture and while a
 *      `msockctl capture -o /dev/null` runs (docs/capture.md), one after
 *      the other in the same run: the ratio is what capture costs.
 * Usage: bench-dataplane [seconds per rate run] [peers]  (defaults 3, 10000).
 * Needs root (the broker binds the loopback device). Prints; never fails on
 * time. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "dp.h"
#include "key.h"

enum {
	PKT = 1400,
	BURST = 64,
	LAT_SAMPLES = 2000,
};

static char bin_dir[PATH_MAX], dir[64], sock_path[128];
static pid_t broker_pid = -1;

static int udp_on(uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 8 << 20;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	if (bound)
		*bound = ntohs(sa.sin_port);
	return fd;
}

static struct sockaddr_in sin_of(const struct ipport *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(a->port)};
	memcpy(&s.sin_addr, a->ip, 4);
	return s;
}

/* ---- the broker and its dataplane ---- */

static json_t *status(void)
{
	char cmd[PATH_MAX + 256], *text = 0;
	size_t len = 0, cap = 0;
	FILE *f;
	json_t *j;

	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s status --json 2>/dev/null", bin_dir,
		 sock_path);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	for (;;) {
		if (len + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			text = realloc(text, cap);
		}
		size_t n = fread(text + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	pclose(f);
	text[len] = 0;
	j = json_loads(text, 0, 0);
	free(text);
	return j;
}

static void write_config(int n_peers, uint16_t wg_port, uint16_t peer_port, const char *p1_hex,
			 const char *p1_endpoint)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/msock.json", dir);
	f = fopen(path, "w");
	fprintf(f,
		"{\"run_dir\": \"%s/run\", \"state_dir\": \"%s/state\", \"control_socket\": "
		"\"%s\",\n \"user\": \"nobody\", \"listen_port\": 0, \"wg_listen_port\": %u,\n"
		" \"components\": [\"dataplane\"],\n \"peers\": [\n"
		"  {\"name\": \"p1\", \"node_key\": \"%s\", \"endpoints\": [\"%s\"]}",
		dir, dir, sock_path, wg_port, p1_hex, p1_endpoint);
	(void)peer_port;
	for (int i = 1; i < n_peers; i++) {
		struct key32 k;
		char hex[KEY_TEXT_MAX];
		/* Deterministic filler peers: the same netmap on every run. */
		memset(&k, 0, sizeof(k));
		k.b[0] = (uint8_t)(i >> 16);
		k.b[1] = (uint8_t)(i >> 8);
		k.b[2] = (uint8_t)i;
		k.b[31] = 0x5a;
		key_format(KEY_KIND_NODE_PUBLIC, &k, hex, sizeof(hex));
		fprintf(f,
			",\n  {\"name\": \"n%d\", \"node_key\": \"%s\", \"endpoints\": "
			"[\"198.18.%d.%d:41641\"]}",
			i, hex, (i >> 8) & 0xff, i & 0xff);
	}
	fprintf(f, "\n ]}\n");
	fclose(f);
}

static void stop_broker(void)
{
	if (broker_pid > 0) {
		kill(broker_pid, SIGTERM);
		waitpid(broker_pid, 0, 0);
	}
	broker_pid = -1;
}

static void start_broker(void)
{
	char path[PATH_MAX + 32], cfg[128];

	snprintf(path, sizeof(path), "%s/msock-broker", bin_dir);
	snprintf(cfg, sizeof(cfg), "%s/msock.json", dir);
	broker_pid = fork();
	if (broker_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		freopen("/dev/null", "w", stderr);
		execl(path, path, "--config", cfg, (char *)0);
		_exit(127);
	}
}

/* Waits until the dataplane published p1's endpoint and n peers; returns
 * the dataplane's pid and fills lo (p1's endpoint) and dp (its UDP port). */
static pid_t wait_ready(const char *p1_hex, int n_peers, struct ipport *lo, struct ipport *dp)
{
	uint64_t t0 = clock_mono_ns();

	while (clock_mono_ns() - t0 < 60ull * NS_PER_SEC) {
		json_t *st = status();
		json_t *self_dp = json_object_get(json_object_get(st, "Self"), "Dataplane");
		const char *ep = json_string_value(json_object_get(
			json_object_get(json_object_get(st, "Peer"), p1_hex), "LocalEndpoint"));
		long long peers = json_integer_value(json_object_get(self_dp, "Peers"));
		pid_t pid = (pid_t)json_integer_value(json_object_get(
			json_object_get(json_object_get(st, "Components"), "dataplane"), "PID"));
		if (ep && *ep && peers == n_peers && ipport_parse(ep, lo) == 0) {
			memset(dp, 0, sizeof(*dp));
			dp->family = AF_INET;
			dp->ip[0] = 127;
			dp->ip[3] = 1;
			dp->port = (uint16_t)json_integer_value(json_object_get(self_dp, "Port"));
			json_decref(st);
			return pid;
		}
		json_decref(st);
		usleep(100000);
	}
	fprintf(stderr, "bench-dataplane: the dataplane did not come up (see %s)\n", dir);
	return -1;
}

/* A field of /proc/<pid>/status in KiB: "VmRSS:" now, "VmHWM:" the peak. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			kib = atol(line + strlen(field));
	if (f)
		fclose(f);
	return kib;
}

/* ---- the bare relay: recvmmsg on one socket, sendmmsg to a fixed address ---- */

/* Sends the N datagrams of MM to TO as UDP GSO sends: runs of one size,
 * each at most 64 KiB, go out as one sendmsg with UDP_SEGMENT. */
static void relay_send_gso(int fd, struct iovec *iov, int n, struct sockaddr_in *to)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} c;
	for (int i = 0; i < n;) {
		size_t seg = iov[i].iov_len, total = 0;
		int j = i;
		while (j < n && iov[j].iov_len == seg && total + seg <= 65000)
			total += iov[j++].iov_len;
		struct msghdr m = {.msg_name = to,
				   .msg_namelen = sizeof(*to),
				   .msg_iov = &iov[i],
				   .msg_iovlen = (size_t)(j - i)};
		if (j - i > 1) {
			uint16_t gso = (uint16_t)seg;
			m.msg_control = c.buf;
			m.msg_controllen = sizeof(c.buf);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		}
		sendmsg(fd, &m, 0);
		i = j;
	}
}

/* Runs in its own process, as the dataplane does, until killed. With GSO,
 * what it received in one batch goes out as UDP_SEGMENT sends, as the
 * dataplane's do; without, as one sendmmsg. */
static void relay_main(int in, struct sockaddr_in to, bool gso)
{
	static uint8_t bufs[BURST][2048];
	struct mmsghdr mm[BURST];
	struct iovec iov[BURST];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		struct pollfd p = {.fd = in, .events = POLLIN};
		if (poll(&p, 1, -1) <= 0)
			continue;
		for (int i = 0; i < BURST; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(in, mm, BURST, MSG_DONTWAIT, 0);
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = mm[i].msg_len;
			mm[i].msg_hdr.msg_name = &to;
			mm[i].msg_hdr.msg_namelen = sizeof(to);
		}
		if (n > 0 && gso)
			relay_send_gso(in, iov, n, &to);
		else if (n > 0)
			sendmmsg(in, mm, (unsigned)n, 0);
	}
}

/* Starts a bare relay from IN to TO (its own process); returns its pid. */
static pid_t relay_start(int in, const struct ipport *to, bool gso)
{
	pid_t pid = fork();
	if (pid == 0)
		relay_main(in, sin_of(to), gso);
	return pid;
}

static void relay_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, 0, 0);
}

/* ---- rate: a sender thread bursts, the caller counts what arrives ---- */

struct sender {
	int fd;
	struct sockaddr_in to;
	atomic_bool stop;
	uint64_t sent;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	static uint8_t pkt[PKT];
	struct mmsghdr mm[BURST];
	struct iovec iov = {pkt, PKT};

	memset(pkt, 0x11, sizeof(pkt));
	pkt[0] = 4; /* a WireGuard transport message */
	for (int i = 0; i < BURST; i++) {
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_iov = &iov;
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &s->to;
		mm[i].msg_hdr.msg_namelen = sizeof(s->to);
	}
	while (!atomic_load(&s->stop)) {
		int n = sendmmsg(s->fd, mm, BURST, 0);
		if (n > 0)
			s->sent += (uint64_t)n;
	}
	return 0;
}

/* Returns packets/s received on rx while a sender floods `to` from tx. */
static double rate(int tx, const struct ipport *to, int rx, double secs, double *loss)
{
	struct sender s = {.fd = tx, .to = sin_of(to)};
	static uint8_t bufs[BURST][2048];
	struct mmsghdr mm[BURST];
	struct iovec iov[BURST];
	pthread_t th;
	uint64_t got = 0, t0, warm;

	/* Drain leftovers from an earlier run. */
	while (recv(rx, bufs[0], sizeof(bufs[0]), MSG_DONTWAIT) >= 0)
		;
	pthread_create(&th, 0, sender_main, &s);
	warm = clock_mono_ns() + 300 * NS_PER_MS;
	while (clock_mono_ns() < warm)
		recv(rx, bufs[0], sizeof(bufs[0]), MSG_DONTWAIT);
	uint64_t sent0 = s.sent;
	t0 = clock_mono_ns();
	while ((double)(clock_mono_ns() - t0) / 1e9 < secs) {
		struct pollfd p = {.fd = rx, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		for (int i = 0; i < BURST; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(rx, mm, BURST, MSG_DONTWAIT, 0);
		if (n > 0)
			got += (uint64_t)n;
	}
	double el = (double)(clock_mono_ns() - t0) / 1e9;
	uint64_t sent = s.sent - sent0;
	atomic_store(&s.stop, true);
	pthread_join(th, 0);
	/* Packets in flight when counting began can make got > sent. */
	*loss = sent && got < sent ? 1.0 - (double)got / (double)sent : 0;
	return (double)got / el;
}

/* ---- latency: one packet out, echoed back by the peer socket ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* RTTs (ns) of `wg` -> `to` -> (peer echoes to `back`) -> wg; p50/p99. */
static int rtt(int wg, const struct ipport *to, int peer, const struct ipport *back, uint64_t *p50,
	       uint64_t *p99)
{
	static uint64_t s[LAT_SAMPLES];
	struct sockaddr_in t = sin_of(to), b = sin_of(back);
	uint8_t pkt[PKT], in[2048];
	int n = 0;

	memset(pkt, 0x22, sizeof(pkt));
	pkt[0] = 4;
	for (int i = 0; i < LAT_SAMPLES + 100; i++) {
		struct pollfd p = {.fd = peer, .events = POLLIN};
		uint64_t t0 = clock_mono_ns();
		sendto(wg, pkt, sizeof(pkt), 0, (struct sockaddr *)&t, sizeof(t));
		if (poll(&p, 1, 200) <= 0 || recv(peer, in, sizeof(in), 0) < 0)
			continue;
		sendto(peer, pkt, sizeof(pkt), 0, (struct sockaddr *)&b, sizeof(b));
		p.fd = wg;
		if (poll(&p, 1, 200) <= 0 || recv(wg, in, sizeof(in), 0) < 0)
			continue;
		if (i >= 100 && n < LAT_SAMPLES) /* the first 100 warm up */
			s[n++] = clock_mono_ns() - t0;
	}
	qsort(s, (size_t)n, sizeof(s[0]), cmp_u64);
	*p50 = n ? s[n / 2] : 0;
	*p99 = n ? s[n * 99 / 100] : 0;
	return n;
}

/* ---- 5: capture off vs on ---- */

static bool capture_open(void)
{
	json_t *st = status();
	bool open = json_is_true(json_object_get(
		json_object_get(json_object_get(st, "Self"), "Dataplane"), "CaptureOpen"));

	json_decref(st);
	return open;
}

/* Self.Dataplane.Counters.<field> from status, -1 if absent. */
static long long dp_counter(const char *field)
{
	json_t *st = status();
	json_t *v = json_object_get(
		json_object_get(json_object_get(json_object_get(st, "Self"), "Dataplane"),
				"Counters"),
		field);
	long long r = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(st);
	return r;
}

/* msockctl capture -o /dev/null, running once the dataplane has the
 * channel open; -1 if it did not get there. */
static pid_t capture_start(void)
{
	char bin[PATH_MAX + 16];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/msockctl", bin_dir);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2);
		execl(bin, bin, "--socket", sock_path, "capture", "-o", "/dev/null", (char *)0);
		_exit(127);
	}
	for (int i = 0; pid > 0 && i < 500; i++) {
		if (capture_open())
			return pid;
		usleep(10000);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, 0, 0);
	}
	return -1;
}

/* ---- 4: one peer change ---- */

static double table_change_us(int n_peers)
{
	static struct dp d;
	struct ipport ep = {.family = AF_INET, .ip = {198, 18, 9, 9}, .port = 41641};
	uint64_t t0, total = 0;
	int reps = 1000;

	dp_init(&d);
	d.udp4 = 3;
	for (int i = 0; i < n_peers; i++) {
		uint8_t k[32] = {(uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		dp_peer_add(&d, k, 0)->known = true;
	}
	for (int r = 0; r < reps; r++) {
		uint8_t k[32] = {0, (uint8_t)(r >> 8), (uint8_t)r};
		ep.port = (uint16_t)(1000 + r);
		t0 = clock_mono_ns();
		dp_peer_set_statics(&d, dp_peer_by_key(&d, k), &ep, 1);
		total += clock_mono_ns() - t0;
	}
	dp_free(&d);
	return (double)total / reps / 1e3;
}

static bool direct_is(const char *hex, const char *want)
{
	json_t *st = status();
	const char *v = json_string_value(
		json_object_get(json_object_get(json_object_get(st, "Peer"), hex), "DirectAddr"));
	bool ok = v && strcmp(v, want) == 0;

	json_decref(st);
	return ok;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	int n_peers = argc > 2 ? atoi(argv[2]) : 10000;
	char self[PATH_MAX], p1_hex[KEY_TEXT_MAX], p1_ep[64];
	struct key32 priv, p1;
	struct ipport lo, dp, peer_addr = {.family = AF_INET, .ip = {127, 0, 0, 1}};
	uint16_t wg_port, peer_port, relay_port;
	int wg, peer, relay_sock;
	double loss;

	if (geteuid() != 0) {
		fprintf(stderr, "bench-dataplane: needs root\n");
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 2;
	self[n] = 0;
	snprintf(bin_dir, sizeof(bin_dir), "%s", dirname(self));
	snprintf(dir, sizeof(dir), "/tmp/msock-bench-dp-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	chmod(dir, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	wg = udp_on(0, &wg_port);
	peer = udp_on(0, &peer_port);
	relay_sock = udp_on(0, &relay_port);
	peer_addr.port = peer_port;
	key_generate(&priv);
	key_public(&priv, &p1);
	key_format(KEY_KIND_NODE_PUBLIC, &p1, p1_hex, sizeof(p1_hex));
	snprintf(p1_ep, sizeof(p1_ep), "127.0.0.1:%u", peer_port);

	printf("bench-dataplane: %d peers, %d-byte packets, %.0f s per rate run\n", n_peers, PKT,
	       secs);
	/* 3 (first half): RSS with 2 peers. */
	write_config(2, wg_port, peer_port, p1_hex, p1_ep);
	start_broker();
	pid_t pid = wait_ready(p1_hex, 2, &lo, &dp);
	long rss_small = pid > 0 ? status_kib(pid, "VmRSS:") : -1;
	stop_broker();
	/* Everything else with n_peers. */
	write_config(n_peers, wg_port, peer_port, p1_hex, p1_ep);
	start_broker();
	pid = wait_ready(p1_hex, n_peers, &lo, &dp);
	if (pid <= 0) {
		stop_broker();
		return 1;
	}

	/* 1. rates: through the dataplane, then through the bare relay. */
	double dp_out = rate(wg, &lo, peer, secs, &loss);
	double dp_out_loss = loss;
	double dp_in = rate(peer, &dp, wg, secs, &loss);
	double dp_in_loss = loss;
	/* 3 (second half): read after the netmap's burst of publications has
	 * settled (the rate runs take 2 x secs) and the packets have flowed;
	 * the peak covers the burst. */
	long rss_big = status_kib(pid, "VmRSS:"), hwm_big = status_kib(pid, "VmHWM:");
	struct ipport relay_addr = {.family = AF_INET, .ip = {127, 0, 0, 1}, .port = relay_port};
	pid_t relay = relay_start(relay_sock, &peer_addr, false);
	double base = rate(wg, &relay_addr, peer, secs, &loss);
	double base_loss = loss;
	relay_stop(relay);
	relay = relay_start(relay_sock, &peer_addr, true);
	double gbase = rate(wg, &relay_addr, peer, secs, &loss);
	double gbase_loss = loss;
	relay_stop(relay);
	relay = relay_start(relay_sock, &peer_addr, false);

	/* 2. latency: direct, bare relay, dataplane. */
	struct ipport wg_addr = {.family = AF_INET, .ip = {127, 0, 0, 1}, .port = wg_port};
	uint64_t d50, d99, r50, r99, m50, m99;
	int nd, nr, nm;
	nd = rtt(wg, &peer_addr, peer, &wg_addr, &d50, &d99);
	/* The relay forwards only towards the peer; the echo goes back direct. */
	nr = rtt(wg, &relay_addr, peer, &wg_addr, &r50, &r99);
	relay_stop(relay);
	nm = rtt(wg, &lo, peer, &dp, &m50, &m99);

	/* 5. capture: off, on, back to back on the same dataplane. */
	double cap_off = rate(wg, &lo, peer, secs, &loss), cap_on = 0, cap_on_loss = 0;
	double cap_off_loss = loss;
	long long rec0 = 0, drop0 = 0, recs = 0, drops = 0;
	pid_t cap = capture_start();
	if (cap > 0) {
		rec0 = dp_counter("CaptureRecords");
		drop0 = dp_counter("CaptureDrops");
		cap_on = rate(wg, &lo, peer, secs, &loss);
		cap_on_loss = loss;
		usleep(2500 * 1000); /* the dataplane publishes its counters every 2 s */
		recs = dp_counter("CaptureRecords") - rec0;
		drops = dp_counter("CaptureDrops") - drop0;
		kill(cap, SIGINT);
		waitpid(cap, 0, 0);
	}

	/* 4. one peer change, end to end: rewrite p1's endpoint, reload. */
	char new_ep[64], cmd[PATH_MAX + 256];
	snprintf(new_ep, sizeof(new_ep), "127.0.0.1:%u", relay_port);
	write_config(n_peers, wg_port, peer_port, p1_hex, new_ep);
	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s reload >/dev/null 2>&1", bin_dir,
		 sock_path);
	uint64_t t0 = clock_mono_ns();
	int rc = system(cmd);
	uint64_t t_reload = clock_mono_ns() - t0;
	while (rc == 0 && !direct_is(p1_hex, new_ep) && clock_mono_ns() - t0 < 30 * NS_PER_SEC)
		usleep(2000);
	uint64_t t_visible = clock_mono_ns() - t0;
	double apply_us = table_change_us(n_peers);
	stop_broker();

	printf("\n1. forwarding rate, %d-byte packets (pps received; Gbit/s of payload):\n", PKT);
	printf("   bare relay recvmmsg->sendmmsg (baseline)  %9.0f pps %6.2f Gbit/s  loss "
	       "%4.1f%%\n",
	       base, base * PKT * 8 / 1e9, base_loss * 100);
	printf("   bare relay recvmmsg->GSO sends (baseline) %9.0f pps %6.2f Gbit/s  loss "
	       "%4.1f%%\n",
	       gbase, gbase * PKT * 8 / 1e9, gbase_loss * 100);
	printf("   dataplane WireGuard -> peer (UDP)         %9.0f pps %6.2f Gbit/s  loss %4.1f%%  "
	       "%.2fx / %.2fx the baselines\n",
	       dp_out, dp_out * PKT * 8 / 1e9, dp_out_loss * 100, base ? dp_out / base : 0,
	       gbase ? dp_out / gbase : 0);
	printf("   dataplane peer (UDP) -> WireGuard         %9.0f pps %6.2f Gbit/s  loss %4.1f%%  "
	       "%.2fx / %.2fx the baselines\n",
	       dp_in, dp_in * PKT * 8 / 1e9, dp_in_loss * 100, base ? dp_in / base : 0,
	       gbase ? dp_in / gbase : 0);
	printf("\n2. round trip WireGuard -> peer -> WireGuard (p50 / p99, us):\n");
	printf("   direct, no hop             %7.1f / %7.1f  (%d samples)\n", d50 / 1e3, d99 / 1e3,
	       nd);
	printf("   bare relay (one hop)       %7.1f / %7.1f  (%d samples)\n", r50 / 1e3, r99 / 1e3,
	       nr);
	printf("   dataplane (two hops)       %7.1f / %7.1f  (%d samples)\n", m50 / 1e3, m99 / 1e3,
	       nm);
	printf("   added per packet by the dataplane: p50 %.1f us, p99 %.1f us "
	       "(bare relay adds %.1f / %.1f)\n",
	       (double)(m50 > d50 ? m50 - d50 : 0) / 2e3, (double)(m99 > d99 ? m99 - d99 : 0) / 2e3,
	       (double)(r50 > d50 ? r50 - d50 : 0) / 1e3,
	       (double)(r99 > d99 ? r99 - d99 : 0) / 1e3);
	printf("\n3. dataplane RSS: %ld KiB with 2 peers, %ld KiB with %d peers: %.0f bytes per "
	       "peer (Tailscale's budget: 65536)\n",
	       rss_small, rss_big, n_peers,
	       n_peers > 2 ? (double)(rss_big - rss_small) * 1024 / (n_peers - 2) : 0);
	printf("   peak while the %d peers' netmap was applied and published: %ld KiB (%.0f bytes "
	       "per peer)\n",
	       n_peers, hwm_big,
	       n_peers > 2 ? (double)(hwm_big - rss_small) * 1024 / (n_peers - 2) : 0);
	printf("\n4. one peer change in a %d-peer netmap:\n", n_peers);
	printf("   forwarding table update (in process)      %8.2f us\n", apply_us);
	printf("   end to end: msockctl reload returned in   %8.1f ms\n", t_reload / 1e6);
	printf("   end to end: visible in status after       %8.1f ms (includes parsing the "
	       "whole config and status polling)\n",
	       t_visible / 1e6);
	printf("   (Tailscale's own benchmark: 32 ms at 10k peers)\n");
	printf("\n5. capture (msockctl capture -o /dev/null), WireGuard -> peer, same run:\n");
	printf("   no capture (baseline)                     %9.0f pps %6.2f Gbit/s  loss "
	       "%4.1f%%\n",
	       cap_off, cap_off * PKT * 8 / 1e9, cap_off_loss * 100);
	if (cap_on > 0)
		printf("   capture running, every packet             %9.0f pps %6.2f Gbit/s  loss "
		       "%4.1f%%  %.2fx the baseline\n",
		       cap_on, cap_on * PKT * 8 / 1e9, cap_on_loss * 100,
		       cap_off ? cap_on / cap_off : 0);
	if (cap_on > 0)
		printf("   records built %lld, dropped on the full capture channel %lld (%.1f%%); "
		       "the "
		       "broker and msockctl share the machine's cores with the dataplane\n",
		       recs, drops,
		       recs + drops ? 100.0 * (double)drops / (double)(recs + drops) : 0);
	else
		printf("   capture running: the capture did not start (no figure)\n");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-dataplane: could not remove %s\n", dir);
	return 0;
}
