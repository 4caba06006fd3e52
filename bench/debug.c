/* bench/debug: the cost of msock-debug's /metrics scraped every second at
 * 10,000 peers, in process (services/debug's model and dbg_http_answer,
 * the path a scrape takes once its bytes are read): the time to answer one
 * GET /metrics, the response size, and the CPU share of one scrape a
 * second (time / 1 s); beside the same at 2 peers (the baseline), and
 * the /debug/magicsock page at both sizes. The model holds what 90 s of
 * traffic leaves: 45 DataplanePeer publications a peer. The component's
 * real share adds two syscalls a scrape (accept, a write or two) and its
 * bus reads. Usage: bench-debug [peers] (default 10000). Prints; never
 * fails on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbg.h"
#include "dbg_http.h"

enum {
	SAMPLES_PER_PEER = 45,
	RUNS = 30,
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fill(struct dbg_model *m, size_t peers)
{
	Msock__DataplanePeer d = MSOCK__DATAPLANE_PEER__INIT;
	Msock__Endpoint e = MSOCK__ENDPOINT__INIT;
	Msock__HomeDERP h = MSOCK__HOME_DERP__INIT;
	uint8_t ip[4] = {198, 18, 0, 0};
	struct bus_msg b = {.kind = BUS_MSG_STATE, .key = "k"};

	dbg_model_init(m, 0);
	e.ip = (ProtobufCBinaryData){4, ip};
	e.port = 41641;
	d.direct = &e;
	b.topic = bus_topic_find(BUS_T_DataplanePeer, strlen(BUS_T_DataplanePeer));
	for (size_t i = 0; i < peers; i++) {
		memset(b.node_key, 0, 32);
		memcpy(b.node_key, &i, sizeof(i));
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
		for (int s = 0; s < SAMPLES_PER_PEER; s++) {
			d.path = s % 15 == 7 ? "direct+derp" : "direct";
			d.rx_packets = d.tx_packets = 1000u * (unsigned)s;
			d.rx_bytes = d.tx_bytes = 1400000u * (unsigned)s;
			d.rx_derp_packets = d.tx_derp_packets = 10u * (unsigned)s;
			b.msg = &d.base;
			dbg_model_state(m, &b, 2000 * s, (uint64_t)s * 2000000000ull);
		}
	}
	h.region_id = 900;
	b.topic = bus_topic_find(BUS_T_HomeDERP, strlen(BUS_T_HomeDERP));
	b.key = "self";
	b.msg = &h.base;
	dbg_model_state(m, &b, 0, 0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median ms and the size of RUNS answers to req. */
static double measure(const struct dbg_model *m, const char *req, size_t *size)
{
	struct dbg_now now = {.unix_ms = 100000, .mono_ns = 100000000000ull};
	struct dbg_http_opts opts = {0};
	double t[RUNS];

	for (int i = 0; i < RUNS; i++) {
		struct dbg_buf out = {0};
		size_t head;
		double t0 = now_ms();
		dbg_http_answer(m, &now, &opts, (const uint8_t *)req, strlen(req), &out, &head);
		t[i] = now_ms() - t0;
		*size = out.len;
		dbg_buf_free(&out);
	}
	qsort(t, RUNS, sizeof(t[0]), cmp);
	return t[RUNS / 2];
}

static void row(const char *what, const struct dbg_model *m, const char *req)
{
	size_t size = 0;
	double ms = measure(m, req, &size);

	printf("%-18s %7zu peers  %9.3f ms  %10zu bytes  %7.3f %% of a core at 1/s\n", what,
	       m->n_peers, ms, size, ms / 10.0);
}

int main(int argc, char **argv)
{
	size_t peers = argc > 1 ? strtoul(argv[1], 0, 10) : 10000;
	const char *metrics = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
		   *page = "GET /debug/magicsock HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct dbg_model small, big;
	double t0 = now_ms(), fill_ms;

	fill(&big, peers);
	fill_ms = now_ms() - t0;
	fill(&small, 2);
	printf("bench-debug: model of %zu peers x %d samples built in %.0f ms (%.1f us a "
	       "publication)\n",
	       peers, SAMPLES_PER_PEER, fill_ms,
	       fill_ms * 1000 / (double)(peers * SAMPLES_PER_PEER));
	printf("median of %d answers, in process:\n", RUNS);
	row("/metrics", &small, metrics);
	row("/metrics", &big, metrics);
	row("/debug/magicsock", &small, page);
	row("/debug/magicsock", &big, page);
	dbg_model_free(&small);
	dbg_model_free(&big);
	return 0;
}
