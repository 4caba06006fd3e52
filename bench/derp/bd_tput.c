/* bd_tput: one throughput run against one server: client pairs with a
 * window of packets in flight, the rate at which they arrive, and whose CPU
 * went into it. Split over several generator processes, it shows whether
 * one generator was holding the rate down. */
#include "bd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_frame.h"

enum {
	MAX_PKT_BYTES = 1400,
};

/* Blocks until one byte comes on fd (or it closes). */
static void wait_byte(int fd)
{
	char b;

	while (read(fd, &b, 1) < 0)
		;
}

static void put_byte(int fd)
{
	char b = 1;

	while (write(fd, &b, 1) < 0)
		;
}

/* One generator. With sync fds (>= 0) it says "logged in" on ready_w and
 * starts when go_r says so, so that split generators measure together. */
static struct bd_tput run_one(pid_t srv, int port, SSL_CTX *tls, int pairs, size_t len, int ms,
			      int ready_w, int go_r)
{
	static uint8_t batch[BD_MAX_PAIRS]
			    [BD_WINDOW_PKTS * (DERP_FRAME_HEADER_LEN + KEY_LEN + MAX_PKT_BYTES)];
	uint8_t pkt[MAX_PKT_BYTES];
	struct bd_tput t = {0};
	struct drv d;
	size_t flen = DERP_FRAME_HEADER_LEN + KEY_LEN + len;
	uint64_t t_meas, t_stop, r0 = 0, r1;
	double cpu0 = 0, gen0 = 0, secs;
	bool measuring = false, up;

	if (pairs > BD_MAX_PAIRS || len > MAX_PKT_BYTES)
		abort(); /* the tables of bench/derp.c ask for no more: our bug */
	up = drv_open(&d, port, tls, 2 * pairs) == 0 && drv_login(&d, 2 * pairs) >= 0;
	if (ready_w >= 0) {
		put_byte(ready_w);
		wait_byte(go_r);
	}
	if (!up) {
		drv_close(&d);
		return t;
	}
	memset(pkt, 0xa5, len); /* not disco ("TS💬"): the ordinary queue */
	for (int p = 0; p < pairs; p++) {
		d.c[2 * p].peer = 2 * p + 1;
		d.c[2 * p + 1].peer = 2 * p;
		for (int k = 0; k < BD_WINDOW_PKTS; k++)
			derp_encode_send_packet(d.c[2 * p + 1].pub.b, pkt, len,
						batch[p] + (size_t)k * flen, flen);
	}
	t_meas = clock_mono_ns() + BD_WARMUP_MS * NS_PER_MS;
	t_stop = t_meas + (uint64_t)ms * NS_PER_MS;
	for (;;) {
		uint64_t now = clock_mono_ns();
		if (!measuring && now >= t_meas) {
			r0 = drv_recvd(&d);
			cpu0 = bd_cpu_secs(srv);
			gen0 = bd_self_cpu_secs();
			measuring = true;
		}
		if (now >= t_stop)
			break;
		for (int p = 0; p < pairs; p++) {
			struct cl *s = &d.c[2 * p];
			uint64_t inflight = s->sent - d.c[2 * p + 1].recvd;
			if (inflight < BD_WINDOW_PKTS &&
			    cl_send(&d, s, batch[p], (BD_WINDOW_PKTS - inflight) * flen))
				s->sent += BD_WINDOW_PKTS - inflight;
		}
		drv_poll(&d, 1);
	}
	r1 = drv_recvd(&d);
	secs = bd_secs_since(t_meas);
	t.srv_cpu = (bd_cpu_secs(srv) - cpu0) / secs;
	t.gen_cpu = (bd_self_cpu_secs() - gen0) / secs;
	t.pps = (double)(r1 - r0) / secs;
	t.mbps = t.pps * (double)len / 1e6;
	drv_drain(&d);
	t.drops = drv_sent(&d) - drv_recvd(&d);
	t.wrong = d.wrong_src;
	t.ok = d.dead == 0;
	drv_close(&d);
	return t;
}

/* ngen processes, pairs / ngen pairs each; they log in, then start at one
 * word from here. The server's CPU is what they saw on average. */
static struct bd_tput run_split(pid_t srv, int port, SSL_CTX *tls, int pairs, size_t len, int ms,
				int ngen)
{
	struct bd_tput sum = {.ok = true};
	int ready[2], go[2], res[BD_MAX_GENERATORS][2], started = 0;
	pid_t kid[BD_MAX_GENERATORS];

	if (pipe(ready) < 0 || pipe(go) < 0)
		return (struct bd_tput){0};
	for (; started < ngen; started++) {
		int g = started;
		if (pipe(res[g]) < 0)
			break;
		kid[g] = bd_fork_helper();
		if (kid[g] == 0) {
			struct bd_tput t =
				run_one(srv, port, tls, pairs / ngen, len, ms, ready[1], go[0]);
			if (write(res[g][1], &t, sizeof(t)) != (ssize_t)sizeof(t))
				_exit(1);
			bd_helper_exit();
		}
		close(res[g][1]);
		if (kid[g] < 0) {
			close(res[g][0]);
			break;
		}
	}
	for (int g = 0; g < started; g++)
		wait_byte(ready[0]);
	for (int g = 0; g < started; g++)
		put_byte(go[1]);
	for (int g = 0; g < started; g++) {
		struct bd_tput t = {0};
		if (read(res[g][0], &t, sizeof(t)) != (ssize_t)sizeof(t))
			t.ok = false;
		close(res[g][0]);
		bd_reap(kid[g]);
		sum.pps += t.pps;
		sum.mbps += t.mbps;
		sum.gen_cpu += t.gen_cpu;
		sum.srv_cpu += t.srv_cpu / started;
		sum.drops += t.drops;
		sum.wrong += t.wrong;
		sum.ok = sum.ok && t.ok;
	}
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	if (started < ngen)
		sum.ok = false;
	return sum;
}

struct bd_tput bd_tput_run(pid_t srv, int port, SSL_CTX *tls, int pairs, size_t len, int ms,
			   int ngen)
{
	if (ngen <= 1)
		return run_one(srv, port, tls, pairs, len, ms, -1, -1);
	if (ngen > BD_MAX_GENERATORS)
		ngen = BD_MAX_GENERATORS;
	return run_split(srv, port, tls, pairs, len, ms, ngen);
}
