/* capture: msockctl capture against a real broker and dataplane
 * (docs/capture.md). The test plays WireGuard, a peer p1 with a static
 * endpoint (a UDP socket), a peer p2 reached over DERP, and the derp
 * service on its packet channel; msockctl capture runs as a child and
 * tshark reads what it wrote. Checked: each direction of each path is in
 * the file with its addresses (127.3.3.40:<region> for DERP) and its path
 * comment, tshark's WireGuard and STUN dissectors read the packets, --peer
 * keeps one peer's, two captures at once each get theirs, a killed client
 * ends the capture (the dataplane closes the channel, counts nothing more),
 * a stalled client's records are dropped by the broker and a stalled
 * broker's by the dataplane, each counted in status; --pcap is read too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "addr.h"
#include "clock.h"
#include "harness.h"
#include "key.h"
#include "pktchan.h"

enum {
	REGION = 7, /* p2's home region */
	WG_TRANSPORT = 4,
	WG_LEN = 128, /* 16 of header + a multiple of 16: tshark's heuristic takes it */
};

struct world {
	struct th_broker b;
	int wg, p1;
	uint16_t wg_port, p1_port;
	struct key32 k1, k2;
	char hex1[KEY_TEXT_MAX], hex2[KEY_TEXT_MAX];
	void *zctx;
	struct pktchan *derp;
	struct ipport lo1, lo2, dp;
};

static void make_key(struct key32 *pub, char *hex, size_t cap)
{
	struct key32 priv;

	assert_int_equal(key_generate(&priv), 0);
	assert_int_equal(key_public(&priv, pub), 0);
	key_format(KEY_KIND_NODE_PUBLIC, pub, hex, cap);
}

static json_t *dataplane(json_t *st)
{
	return json_object_get(json_object_get(st, "Self"), "Dataplane");
}

static long long dp_counter(struct world *w, const char *field)
{
	json_t *st = th_status(&w->b);
	json_t *v = json_object_get(json_object_get(dataplane(st), "Counters"), field);
	long long r = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(st);
	return r;
}

static bool endpoints_ready(void *arg)
{
	struct world *w = arg;
	json_t *st = th_status(&w->b), *peers = json_object_get(st, "Peer");
	const char *a = json_string_value(
		json_object_get(json_object_get(peers, w->hex1), "LocalEndpoint"));
	const char *b = json_string_value(
		json_object_get(json_object_get(peers, w->hex2), "LocalEndpoint"));
	bool ok = a && *a && b && *b && json_is_object(dataplane(st));

	if (ok) {
		ipport_parse(a, &w->lo1);
		ipport_parse(b, &w->lo2);
		memset(&w->dp, 0, sizeof(w->dp));
		w->dp.family = AF_INET;
		w->dp.ip[0] = 127;
		w->dp.ip[3] = 1;
		w->dp.port = (uint16_t)json_integer_value(json_object_get(dataplane(st), "Port"));
	}
	json_decref(st);
	return ok;
}

struct open_wait {
	struct world *w;
	bool open;
	int clients;
};

/* The dataplane's channel is open (or closed) and the broker has that
 * many clients. */
static bool capture_is(void *arg)
{
	struct open_wait *o = arg;
	json_t *st = th_status(&o->w->b);
	bool open = json_is_true(json_object_get(dataplane(st), "CaptureOpen"));
	size_t n = json_array_size(json_object_get(json_object_get(st, "Capture"), "Clients"));
	bool ok = open == o->open && n == (size_t)o->clients;

	json_decref(st);
	return ok;
}

static void wait_capture(struct world *w, bool open, int clients)
{
	struct open_wait o = {w, open, clients};

	assert_true(th_wait(capture_is, &o));
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char extra[2048];

	if (!w)
		return -1;
	*state = w;
	w->wg = th_udp_loopback(0, &w->wg_port);
	w->p1 = th_udp_loopback(0, &w->p1_port);
	if (w->wg < 0 || w->p1 < 0)
		return -1;
	make_key(&w->k1, w->hex1, sizeof(w->hex1));
	make_key(&w->k2, w->hex2, sizeof(w->hex2));
	snprintf(extra, sizeof(extra),
		 ",\n  \"listen_port\": 0, \"wg_listen_port\": %u,\n"
		 "  \"peers\": [ {\"name\": \"p1\", \"node_key\": \"%s\", \"endpoints\": "
		 "[\"127.0.0.1:%u\"]},\n"
		 "    {\"name\": \"p2\", \"node_key\": \"%s\", \"home_derp\": %d} ],\n"
		 "  \"derp_map\": {\"Regions\": {\"%d\": {\"RegionID\": %d, \"RegionCode\": "
		 "\"lab\", \"Nodes\": [{\"Name\": \"7a\", \"RegionID\": %d, \"HostName\": "
		 "\"127.0.0.1\"}]}}}",
		 w->wg_port, w->hex1, w->p1_port, w->hex2, REGION, REGION, REGION, REGION);
	if (th_broker_start(&w->b, "[\"dataplane\"]", extra) < 0 || !th_wait(endpoints_ready, w))
		return -1;
	w->zctx = zmq_ctx_new();
	w->derp = pktchan_open(w->zctx, w->b.bus_dir, "derp", PKTCHAN_ROLE_SERVICE);
	return w->derp ? 0 : -1;
}

static int teardown(void **state);

static int setup_or_clean(void **state)
{
	if (setup(state) == 0)
		return 0;
	teardown(state);
	return -1;
}

static int teardown(void **state)
{
	struct world *w = *state;

	if (!w)
		return 0;
	*state = 0;
	pktchan_free(w->derp);
	if (w->zctx)
		zmq_ctx_term(w->zctx);
	th_broker_stop(&w->b, SIGTERM, 0);
	th_broker_cleanup(&w->b);
	if (w->wg >= 0)
		close(w->wg);
	if (w->p1 >= 0)
		close(w->p1);
	free(w);
	return 0;
}

static void send_to(int fd, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(to, &ss);

	sendto(fd, p, len, 0, (struct sockaddr *)&ss, sl);
}

/* Reads what fd has, waiting up to ms for each datagram. */
static void drain_within(int fd, int ms)
{
	uint8_t buf[2048];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (poll(&p, 1, ms) > 0 && recv(fd, buf, sizeof(buf), 0) >= 0)
		;
}

static void drain(int fd)
{
	drain_within(fd, 100);
}

/* One exchange on each path: WireGuard -> p1 (tx direct) and p1's answer
 * (rx direct), a STUN binding request from p1 (rx direct), WireGuard -> p2
 * (tx DERP, read off the derp channel) and p2's answer (rx DERP). */
static void exchange(struct world *w)
{
	uint8_t wg[WG_LEN], in[2048];
	/* A STUN binding request: type 0x0001, length 0, magic cookie, id. */
	static const uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
					 3,    4,    5,	   6,	 7,    8,    9,	   10,	 11, 12};
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_RECV, .region = REGION};
	size_t len;

	memset(wg, 0x5a, sizeof(wg));
	wg[0] = WG_TRANSPORT;
	wg[1] = wg[2] = wg[3] = 0;
	send_to(w->wg, &w->lo1, wg, sizeof(wg));
	send_to(w->p1, &w->dp, wg, sizeof(wg));
	send_to(w->p1, &w->dp, stun, sizeof(stun));
	send_to(w->wg, &w->lo2, wg, sizeof(wg));
	memcpy(h.key, w->k2.b, 32);
	pktchan_send(w->derp, &h, wg, sizeof(wg));
	for (int i = 0; i < 50 && pktchan_recv(w->derp, &h, in, sizeof(in), &len) != 0; i++)
		usleep(10000);
	drain(w->p1);
	drain(w->wg);
}

/* msockctl capture ARGS... as a child, its stderr into err_path. */
static pid_t capture_start(struct world *w, const char *err_path, const char *a1, const char *a2,
			   const char *a3, const char *a4)
{
	char bin[512];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/msockctl", th_bin_dir());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		execl(bin, bin, "--socket", w->b.control, "capture", a1, a2, a3, a4, (char *)0);
		_exit(127);
	}
	return pid;
}

static int capture_stop(pid_t pid)
{
	int st = 0;

	kill(pid, SIGINT);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* tshark's fields of every packet of file, one line each, into a string
 * the caller frees. */
static char *tshark(const char *file, const char *fields)
{
	char cmd[1024], *out = calloc(1, 1 << 16);
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "tshark -o udp.try_heuristic_first:TRUE -r %s -T fields -E separator=, %s "
		 "2>/dev/null",
		 file, fields);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, (1 << 16) - 1, f);
	out[n] = 0;
	assert_int_equal(pclose(f), 0);
	return out;
}

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)len, l);
		n += strstr(line, needle) != 0;
		l = e ? e + 1 : 0;
	}
	return n;
}

static void paths(char *file, size_t cap, struct world *w, const char *name)
{
	snprintf(file, cap, "%s/%s", w->b.dir, name);
}

/* Every path, both directions, with addresses, comments and dissectors. */
static void test_capture_paths(void **state)
{
	struct world *w = *state;
	char file[512], err[512], want[128];
	pid_t pid;

	paths(file, sizeof(file), w, "all.pcapng");
	paths(err, sizeof(err), w, "all.err");
	pid = capture_start(w, err, "-o", file, 0, 0);
	wait_capture(w, true, 1);
	exchange(w);
	usleep(300 * 1000);
	assert_int_equal(capture_stop(pid), 0);

	char *t = tshark(file, "-e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e wg.type "
			       "-e stun.type -e frame.comment");
	print_message("%s", t);
	/* tx direct: 0.0.0.0:<our port> -> p1 */
	snprintf(want, sizeof(want),
		 "0.0.0.0,%u,127.0.0.1,%u,4,,tx direct 127.0.0.1:%u wireguard peer p1", w->dp.port,
		 w->p1_port, w->p1_port);
	assert_int_equal(count_lines(t, want), 1);
	snprintf(want, sizeof(want),
		 "127.0.0.1,%u,0.0.0.0,%u,4,,rx direct 127.0.0.1:%u wireguard peer p1", w->p1_port,
		 w->dp.port, w->p1_port);
	assert_int_equal(count_lines(t, want), 1);
	snprintf(want, sizeof(want),
		 "127.0.0.1,%u,0.0.0.0,%u,,0x0001,rx direct 127.0.0.1:%u stun peer p1", w->p1_port,
		 w->dp.port, w->p1_port);
	assert_int_equal(count_lines(t, want), 1);
	snprintf(want, sizeof(want),
		 "0.0.0.0,%u,127.3.3.40,%d,4,,tx DERP region %d (127.3.3.40:%d) wireguard peer p2",
		 w->dp.port, REGION, REGION, REGION);
	assert_int_equal(count_lines(t, want), 1);
	snprintf(want, sizeof(want),
		 "127.3.3.40,%d,0.0.0.0,%u,4,,rx DERP region %d (127.3.3.40:%d) wireguard peer p2",
		 REGION, w->dp.port, REGION, REGION);
	assert_int_equal(count_lines(t, want), 1);
	free(t);
	t = 0;
	/* The last client went: the dataplane closed the channel. */
	wait_capture(w, false, 0);
	assert_true(th_log_contains(&w->b, "capture: client 0 ended"));
}

/* --pcap: the same packets, no comments, read by tshark as pcap. */
static void test_capture_pcap(void **state)
{
	struct world *w = *state;
	char file[512], err[512];
	pid_t pid;

	paths(file, sizeof(file), w, "all.pcap");
	paths(err, sizeof(err), w, "pcap.err");
	pid = capture_start(w, err, "--pcap", "-o", file, 0);
	wait_capture(w, true, 1);
	exchange(w);
	usleep(300 * 1000);
	assert_int_equal(capture_stop(pid), 0);
	char *t = tshark(file, "-e ip.dst -e udp.dstport -e wg.type");
	assert_true(count_lines(t, ",4") >= 4);
	free(t);
	FILE *f = fopen(file, "rb");
	uint8_t magic[4];
	assert_non_null(f);
	assert_int_equal(fread(magic, 1, 4, f), 4);
	fclose(f);
	assert_memory_equal(magic, "\x4d\x3c\xb2\xa1", 4); /* nanosecond pcap, little-endian */
}

/* Two at once: one of p1 only, one of everything; then the first is
 * killed and the second goes on; then it ends and nothing is counted. */
static void test_capture_filter_two_clients_killed(void **state)
{
	struct world *w = *state;
	char f1[512], f2[512], e1[512], e2[512];
	pid_t a, b;

	paths(f1, sizeof(f1), w, "p1.pcapng");
	paths(f2, sizeof(f2), w, "every.pcapng");
	paths(e1, sizeof(e1), w, "p1.err");
	paths(e2, sizeof(e2), w, "every.err");
	a = capture_start(w, e1, "--peer", "p1", "-o", f1);
	wait_capture(w, true, 1);
	b = capture_start(w, e2, "-o", f2, 0, 0);
	wait_capture(w, true, 2);
	exchange(w);
	usleep(300 * 1000);
	/* Killed: no goodbye; the broker notices at its next send. */
	kill(a, SIGKILL);
	waitpid(a, 0, 0);
	wait_capture(w, true, 1);
	exchange(w);
	usleep(300 * 1000);
	assert_int_equal(capture_stop(b), 0);
	wait_capture(w, false, 0);

	char *t1 = tshark(f1, "-e frame.comment");
	char *t2 = tshark(f2, "-e frame.comment");
	/* The killed one's file holds what it wrote: p1's packets only. */
	assert_true(count_lines(t1, "peer p1") >= 3);
	assert_int_equal(count_lines(t1, "peer p2"), 0);
	assert_int_equal(count_lines(t2, "peer p1"), 6);
	assert_int_equal(count_lines(t2, "peer p2"), 4);
	free(t1);
	free(t2);

	/* Off: the dataplane builds no record. */
	long long before = dp_counter(w, "CaptureRecords");
	exchange(w);
	sleep(3); /* counters are published every 2 s */
	assert_int_equal(dp_counter(w, "CaptureRecords"), before);
}

static long long client_dropped(struct world *w)
{
	json_t *st = th_status(&w->b);
	json_t *c = json_array_get(json_object_get(json_object_get(st, "Capture"), "Clients"), 0);
	long long r = json_integer_value(json_object_get(c, "Dropped"));

	json_decref(st);
	return r;
}

static void flood(struct world *w, int n)
{
	uint8_t wg[WG_LEN];

	memset(wg, 0x33, sizeof(wg));
	wg[0] = WG_TRANSPORT;
	wg[1] = wg[2] = wg[3] = 0;
	for (int i = 0; i < n; i++) {
		send_to(w->wg, &w->lo1, wg, sizeof(wg));
		if (i % 256 == 255) {
			usleep(2000);
			drain_within(w->p1, 0);
		}
	}
	drain(w->p1);
}

/* A client that stops reading: the broker drops its records and counts
 * them. A broker that stops reading: the dataplane drops and counts. */
static void test_capture_drops(void **state)
{
	struct world *w = *state;
	char file[512], err[512];
	long long d0;
	pid_t pid;

	paths(file, sizeof(file), w, "drops.pcapng");
	paths(err, sizeof(err), w, "drops.err");
	pid = capture_start(w, err, "-o", file, 0, 0);
	wait_capture(w, true, 1);
	kill(pid, SIGSTOP);
	flood(w, 20000);
	assert_true(client_dropped(w) > 0);
	kill(pid, SIGCONT);

	d0 = dp_counter(w, "CaptureDrops");
	kill(w->b.pid, SIGSTOP);
	flood(w, 20000);
	kill(w->b.pid, SIGCONT);
	sleep(3); /* the dataplane's counters are published every 2 s */
	assert_true(dp_counter(w, "CaptureDrops") > d0);
	assert_int_equal(capture_stop(pid), 0);
	/* The file is whole (tshark exits 0 on it) and holds what the
	 * client read. */
	char *t = tshark(file, "-e frame.number");
	assert_true(count_lines(t, "") > 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capture_paths, setup_or_clean, teardown),
		cmocka_unit_test_setup_teardown(test_capture_pcap, setup_or_clean, teardown),
		cmocka_unit_test_setup_teardown(test_capture_filter_two_clients_killed,
						setup_or_clean, teardown),
		cmocka_unit_test_setup_teardown(test_capture_drops, setup_or_clean, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0);
}
