/* bench/derp: msock-derper beside Tailscale's derper (cmd/derper, v1.102.5)
 * and a minimal relay, all measured in one run (the machine is shared: read
 * the ratios, not the times):
 *   1. relay throughput between 1, 4 and 16 client pairs, 100- and
 *      1,400-byte packets, <= BD_WINDOW_PKTS in flight per pair, plain HTTP
 *      and TLS, with each server's and the load generator's CPU;
 *   2. the server's RSS per idle logged-in TLS client (1,000, then 10,000);
 *   3. a load like Tailscale's derper load test: 10,000 TLS connections,
 *      LOAD_PPS packets/s of 100 bytes, and the server's CPU time;
 *   4. whether the load generator (this process, one thread) was the limit.
 * Parts: bench/derp/ (bd.h). Prints; never fails on time.
 * Usage: bench-derp [--quick] [--seconds S] [--tailscale-derper PATH]
 * (bench-derp --relay FD TLS DIR is the minimal relay's own process.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <unistd.h>

#include "clock.h"
#include "derp/bd.h"
#include "derp/derp_frame.h"

enum {
	MAX_ROWS = 2 * 2 * 3, /* links x sizes x pair counts */
	IDLE_CLIENTS = 10000,
	IDLE_CLIENTS_QUICK = 1000,
	IDLE_FIRST_STEP = 1000,
	LOAD_PPS = 40000, /* aggregate, as Tailscale's derper load test */
	LOAD_PKT_BYTES = 100,
	LOAD_SECONDS = 10,
	LOAD_SECONDS_QUICK = 2,
	LOAD_RUNS_MAX = 2,
	LOAD_SENT_ENOUGH_PCT = 95, /* of what was asked: else the generator fell behind */
	TPUT_MS = 2000,
	TPUT_MS_QUICK = 1000,
	TPUT_ROUNDS = 2, /* best of: the machine is shared */
	SETTLE_MS = 500,
	GEN_BUSY_PCT = 90, /* a generator above this share of its core may be the limit */
	SPLIT_GENERATORS = 2,
};

static const char *const srv_name[BD_N_SERVERS] = {
	[BD_RELAY] = "minimal relay",
	[BD_MSOCK] = "msock-derper",
	[BD_TAILSCALE] = "Tailscale",
};

/* What this run compares: servers[0..n) in column order. */
struct run {
	enum bd_server servers[BD_N_SERVERS];
	int n;
	bool ts; /* Tailscale's derper is among them */
	const char *ts_path;
	SSL_CTX *ctls;
};

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* ---- 1. throughput ---- */

struct row {
	bool tls;
	size_t len;
	int pairs;
	struct bd_tput t[BD_N_SERVERS]; /* by enum bd_server */
};

/* Keeps the best rate of the rounds (with that round's CPU) and the sum of
 * what went wrong. */
static void tput_keep(struct bd_tput *best, const struct bd_tput *t, int round)
{
	if (round == 0 || t->pps > best->pps) {
		best->pps = t->pps;
		best->mbps = t->mbps;
		best->srv_cpu = t->srv_cpu;
		best->gen_cpu = t->gen_cpu;
	}
	best->drops += t->drops;
	best->wrong += t->wrong;
	best->ok = (round == 0 || best->ok) && t->ok;
}

static void tput_header(const struct run *rn)
{
	printf("  %-17s", "");
	for (int i = 0; i < rn->n; i++)
		printf("| %-33s", srv_name[rn->servers[i]]);
	printf("|\n  %-5s %5s %3s  ", "link", "bytes", "N");
	for (int i = 0; i < rn->n; i++)
		printf("| %10s %8s %5s %5s ", "pkt/s", "MB/s", "srv", "gen");
	printf("| %8s %8s\n", rn->ts ? "msock/TS" : "", "msock/min");
}

/* The servers' rounds alternate, so a slow moment of the machine hits all;
 * the best of each is kept. ngen: generator processes. */
static void tput_measure(const struct run *rn, const pid_t *pid, const int *port, struct row *w,
			 int ms, int rounds, int ngen)
{
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < rn->n; i++) {
			enum bd_server k = rn->servers[i];
			struct bd_tput x = bd_tput_run(pid[k], port[k], w->tls ? rn->ctls : 0,
						       w->pairs, w->len, ms, ngen);
			tput_keep(&w->t[k], &x, r);
		}
	}
}

static void tput_print(const struct run *rn, const struct row *w)
{
	char note[160] = "";
	size_t nl = 0;

	printf("  %-5s %5zu %3d  ", w->tls ? "TLS" : "plain", w->len, w->pairs);
	for (int i = 0; i < rn->n; i++) {
		const struct bd_tput *t = &w->t[rn->servers[i]];
		printf("| %10.0f %8.1f %4.0f%% %4.0f%% ", t->pps, t->mbps, 100 * t->srv_cpu,
		       100 * t->gen_cpu);
		if ((t->drops || t->wrong || !t->ok) && nl < sizeof(note))
			nl += (size_t)snprintf(
				note + nl, sizeof(note) - nl, "  (%s: %llu drops%s)",
				srv_name[rn->servers[i]], (unsigned long long)t->drops,
				!t->ok || t->wrong ? ", lost connections or wrong sources" : "");
	}
	if (rn->ts)
		printf("| %7.2fx", ratio(w->t[BD_MSOCK].pps, w->t[BD_TAILSCALE].pps));
	else
		printf("| %8s", "");
	printf(" %7.2fx%s\n", ratio(w->t[BD_MSOCK].pps, w->t[BD_RELAY].pps), note);
	fflush(stdout);
}

/* The msock/Tailscale ratios at a glance: of rates, and of packets per
 * second of server CPU (Go's derper may use more than one core). */
static void tput_summary(const struct run *rn, const struct row *rows, int nrows)
{
	double lo = 0, hi = 0, clo = 0, chi = 0;

	if (!rn->ts)
		return;
	for (int r = 0; r < nrows; r++) {
		const struct bd_tput *m = &rows[r].t[BD_MSOCK], *t = &rows[r].t[BD_TAILSCALE];
		double x = ratio(m->pps, t->pps);
		double c = ratio(ratio(m->pps, m->srv_cpu), ratio(t->pps, t->srv_cpu));
		lo = r == 0 || x < lo ? x : lo;
		hi = r == 0 || x > hi ? x : hi;
		clo = r == 0 || c < clo ? c : clo;
		chi = r == 0 || c > chi ? c : chi;
	}
	printf("  msock/TS: pkt/s and MB/s %.2fx to %.2fx; packets per server CPU-second %.2fx "
	       "to %.2fx\n",
	       lo, hi, clo, chi);
}

/* ---- 2. idle memory and 3. load ---- */

struct idle_load {
	bool ok;
	long rss0, rss[2];
	int n[2];
	double login_s[2];
	double login_cpu, login_gen_cpu;     /* server's and generator's, all logins */
	uint64_t asked, sent, recvd, unsent; /* of the load run kept */
	double secs, cpu, self_cpu;
	int conns, load_runs;
	char tls_info[BD_TLS_INFO_MAX];
};

static bool enough(const struct idle_load *o)
{
	return o->sent * 100 >= o->asked * LOAD_SENT_ENOUGH_PCT;
}

/* Every client sends to its partner, LOAD_PPS packets/s in all, for secs;
 * o gets this run's counts. */
static void load_run(struct drv *d, pid_t pid, int secs, struct idle_load *o)
{
	uint64_t sent0 = drv_sent(d), recvd0 = drv_recvd(d), unsent0 = d->unsent;
	uint8_t pkt[LOAD_PKT_BYTES], frame[DERP_FRAME_HEADER_LEN + KEY_LEN + LOAD_PKT_BYTES];
	uint64_t total = (uint64_t)secs * LOAD_PPS, done = 0, t0;
	double cpu0, self0;
	int n = d->started, cursor = 0;

	memset(pkt, 0xa5, sizeof(pkt));
	for (int i = 0; i < n; i++)
		d->c[i].peer = (i ^ 1) < n ? i ^ 1 : i;
	cpu0 = bd_cpu_secs(pid);
	self0 = bd_self_cpu_secs();
	t0 = clock_mono_ns();
	while (done < total && bd_secs_since(t0) < secs + 1.0) {
		uint64_t due = (uint64_t)(bd_secs_since(t0) * LOAD_PPS);
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
	o->secs = bd_secs_since(t0);
	o->cpu = bd_cpu_secs(pid) - cpu0;
	o->self_cpu = bd_self_cpu_secs() - self0;
	drv_drain(d);
	o->asked = total;
	o->sent = drv_sent(d) - sent0;
	o->recvd = drv_recvd(d) - recvd0;
	o->unsent = d->unsent - unsent0;
	o->conns = d->up;
}

/* Starts a TLS server, measures its RSS with no client, with steps[0] idle
 * clients, then steps[1]; then runs the load over those clients. */
static struct idle_load idle_and_load(const struct run *rn, enum bd_server kind, const int steps[2],
				      int secs)
{
	struct idle_load o = {0};
	struct drv d;
	int port;
	pid_t pid = bd_start(kind, true, rn->ts_path, &port);

	if (pid < 0)
		return o;
	usleep(SETTLE_MS * 1000);
	o.rss0 = bd_rss_kb(pid);
	if (drv_open(&d, port, rn->ctls, steps[1]) < 0)
		goto out;
	for (int s = 0; s < 2; s++) {
		double cpu0 = bd_cpu_secs(pid), gen0 = bd_self_cpu_secs();
		o.n[s] = steps[s];
		o.login_s[s] = drv_login(&d, steps[s]);
		o.login_cpu += bd_cpu_secs(pid) - cpu0;
		o.login_gen_cpu += bd_self_cpu_secs() - gen0;
		if (o.login_s[s] < 0) {
			fprintf(stderr, "bench-derp: %s: %d of %d clients logged in (%d failed)\n",
				srv_name[kind], d.up, steps[s], d.dead);
			goto out;
		}
		usleep(SETTLE_MS * 1000);
		drv_poll(&d, 0);
		o.rss[s] = bd_rss_kb(pid);
	}
	snprintf(o.tls_info, sizeof(o.tls_info), "%s", d.tls_info);
	/* A generator that could not send what was asked (the machine is
	 * shared: it was starved) gets another go; the run that sent more is
	 * kept, and both are counted. */
	for (o.load_runs = 1;; o.load_runs++) {
		struct idle_load x = o;
		load_run(&d, pid, secs, &x);
		if (o.load_runs == 1 || x.sent > o.sent)
			o = x;
		if (o.load_runs == LOAD_RUNS_MAX || enough(&o))
			break;
	}
	o.ok = true;
out:
	bd_stop(pid); /* the server closes first: no TIME_WAIT on our ports */
	drv_close(&d);
	return o;
}

/* One line of a per-server table: label, a value per server, and the
 * msock/Tailscale ratio when `with_ratio`. */
static void table_line(const struct run *rn, const char *label, const double *v, int decimals,
		       const char *unit, bool with_ratio)
{
	printf("  %-36s", label);
	for (int i = 0; i < rn->n; i++) {
		char cell[32];
		snprintf(cell, sizeof(cell), "%.*f%s", decimals, v[rn->servers[i]], unit);
		printf(" %14s", cell);
	}
	if (with_ratio && rn->ts)
		printf(" %9.2fx", ratio(v[BD_MSOCK], v[BD_TAILSCALE]));
	printf("\n");
}

static void table_header(const struct run *rn, const char *ratio_label)
{
	printf("  %-36s", "");
	for (int i = 0; i < rn->n; i++)
		printf(" %14s", srv_name[rn->servers[i]]);
	if (rn->ts)
		printf(" %10s", ratio_label);
	printf("\n");
}

static void print_idle(const struct run *rn, const struct idle_load *o)
{
	double v[BD_N_SERVERS] = {0};
	char label[64];

	table_header(rn, "msock/TS");
	for (int i = 0; i < rn->n; i++)
		v[rn->servers[i]] = (double)o[rn->servers[i]].rss0;
	table_line(rn, "RSS with no client, KB", v, 0, "", false);
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < rn->n; i++)
			v[rn->servers[i]] = (double)o[rn->servers[i]].rss[s];
		snprintf(label, sizeof(label), "RSS with %d idle clients, KB", o[BD_MSOCK].n[s]);
		table_line(rn, label, v, 0, "", false);
		for (int i = 0; i < rn->n; i++) {
			const struct idle_load *x = &o[rn->servers[i]];
			v[rn->servers[i]] = (double)(x->rss[s] - x->rss0) / x->n[s];
		}
		snprintf(label, sizeof(label), "  KB per idle client (%d)", o[BD_MSOCK].n[s]);
		table_line(rn, label, v, 1, "", true);
	}
	for (int i = 0; i < rn->n; i++) {
		const struct idle_load *x = &o[rn->servers[i]];
		v[rn->servers[i]] = x->n[1] / (x->login_s[0] + x->login_s[1]);
	}
	table_line(rn, "logins/s (TLS + DERP, 128 at once)", v, 0, "", true);
	for (int i = 0; i < rn->n; i++) {
		const struct idle_load *x = &o[rn->servers[i]];
		v[rn->servers[i]] = 1e6 * x->login_cpu / x->n[1];
	}
	table_line(rn, "  server CPU per login, us", v, 0, "", true);
	for (int i = 0; i < rn->n; i++) {
		const struct idle_load *x = &o[rn->servers[i]];
		v[rn->servers[i]] = 100 * x->login_gen_cpu / (x->login_s[0] + x->login_s[1]);
	}
	table_line(rn, "  generator CPU while logging in", v, 0, "%", false);
	for (int i = 0; i < rn->n; i++)
		printf("  TLS with %-14s %s\n", srv_name[rn->servers[i]],
		       o[rn->servers[i]].tls_info);
}

static void print_load(const struct run *rn, const struct idle_load *o)
{
	double v[BD_N_SERVERS] = {0};

#define LOAD_LINE(label, expr, decimals, unit, with_ratio)              \
	do {                                                            \
		for (int i = 0; i < rn->n; i++) {                       \
			const struct idle_load *x = &o[rn->servers[i]]; \
			v[rn->servers[i]] = (double)(expr);             \
		}                                                       \
		table_line(rn, label, v, decimals, unit, with_ratio);   \
	} while (0)

	table_header(rn, "msock/TS");
	LOAD_LINE("connections", x->conns, 0, "", false);
	LOAD_LINE("packets sent", x->sent, 0, "", false);
	LOAD_LINE("sent per second", x->sent / x->secs, 0, "", false);
	LOAD_LINE("packets received", x->recvd, 0, "", false);
	LOAD_LINE("drops (sent - received)", x->sent - x->recvd, 0, "", false);
	LOAD_LINE("not sent (client full)", x->unsent, 0, "", false);
	LOAD_LINE("server CPU, % of one core", 100 * x->cpu / x->secs, 1, "%", true);
	LOAD_LINE("  server CPU per packet, us", 1e6 * x->cpu / (double)x->recvd, 1, "", true);
	LOAD_LINE("generator CPU, % of one core", 100 * x->self_cpu / x->secs, 1, "%", false);
	LOAD_LINE("load runs (a second if < 95 % sent)", x->load_runs, 0, "", false);
#undef LOAD_LINE
}

/* ---- 4. the generator ---- */

/* The generator is one thread: where it used most of its core it may have
 * set the rate; where the minimal relay went faster with the same
 * generator, the generator was not what held that server back. */
static void print_generator(const struct run *rn, const struct row *rows, int nrows,
			    const struct idle_load *o)
{
	double max_gen = 0;
	int max_at = 0;

	for (int r = 0; r < nrows; r++) {
		for (int i = 0; i < rn->n; i++) {
			if (rows[r].t[rn->servers[i]].gen_cpu > max_gen) {
				max_gen = rows[r].t[rn->servers[i]].gen_cpu;
				max_at = r;
			}
		}
	}
	printf("  busiest generator in section 1: %.0f%% of one core (%s %zu B, %d pairs)\n",
	       100 * max_gen, rows[max_at].tls ? "TLS" : "plain", rows[max_at].len,
	       rows[max_at].pairs);
	for (int i = 0; i < rn->n; i++) {
		enum bd_server k = rn->servers[i];
		int below = 0, busy = 0;
		if (k == BD_RELAY)
			continue;
		for (int r = 0; r < nrows; r++) {
			const struct bd_tput *t = &rows[r].t[k];
			if (t->pps < rows[r].t[BD_RELAY].pps)
				below++;
			else if (t->gen_cpu * 100 >= GEN_BUSY_PCT)
				busy++;
		}
		printf("  %-14s rows below the minimal relay's rate (same generator): %d of %d;"
		       " others with the generator over %d%%: %d\n",
		       srv_name[k], below, nrows, GEN_BUSY_PCT, busy);
	}
	for (int i = 0; i < rn->n; i++) {
		const struct idle_load *x = &o[rn->servers[i]];
		printf("  load, %-14s sent %.0f/s of %d/s asked, %llu not sent, generator "
		       "%.0f%%%s\n",
		       srv_name[rn->servers[i]], x->sent / x->secs, LOAD_PPS,
		       (unsigned long long)x->unsent, 100 * x->self_cpu / x->secs,
		       !enough(x) ? "  (fell behind: starved of CPU?)" : "");
	}
}

static void print_split(const struct run *rn, const struct row *rows, const struct row *split,
			const int *split_of, int nsplit)
{
	printf("  the rows with the most pairs again, the pairs split over %d generator processes "
	       "started together:\n  %-17s",
	       SPLIT_GENERATORS, "");
	for (int i = 0; i < rn->n; i++)
		printf("| %-31s", srv_name[rn->servers[i]]);
	printf("|\n  %-5s %5s %3s  ", "link", "bytes", "N");
	for (int i = 0; i < rn->n; i++)
		printf("| %9s %9s %5s %5s ", "1 gen", "2 gens", "", "gen");
	printf("|%s\n", rn->ts ? " msock/TS, 1 gen -> 2 gens" : "");
	for (int j = 0; j < nsplit; j++) {
		const struct row *a = &rows[split_of[j]], *b = &split[j];
		printf("  %-5s %5zu %3d  ", b->tls ? "TLS" : "plain", b->len, b->pairs);
		for (int i = 0; i < rn->n; i++) {
			enum bd_server k = rn->servers[i];
			printf("| %9.0f %9.0f %+4.0f%% %4.0f%% ", a->t[k].pps, b->t[k].pps,
			       100 * (ratio(b->t[k].pps, a->t[k].pps) - 1), 100 * b->t[k].gen_cpu);
		}
		printf("|");
		if (rn->ts)
			printf(" %5.2fx -> %5.2fx",
			       ratio(a->t[BD_MSOCK].pps, a->t[BD_TAILSCALE].pps),
			       ratio(b->t[BD_MSOCK].pps, b->t[BD_TAILSCALE].pps));
		printf("\n");
	}
	printf("  (a server held back by one generator would speed up with two; gen: the two "
	       "processes' CPU, summed)\n");
}

/* ---- main ---- */

static const char *find_tailscale(const char *flag)
{
	static char path[BD_PATH_MAX];
	const char *bin = getenv("MSOCK_INTEROP_BIN");

	if (flag)
		return access(flag, X_OK) == 0 ? flag : 0;
	if (!bin || !*bin)
		return 0;
	snprintf(path, sizeof(path), "%s/derper", bin);
	return access(path, X_OK) == 0 ? path : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-derp [--quick] [--seconds S] [--tailscale-derper PATH]\n"
			"  PATH defaults to $MSOCK_INTEROP_BIN/derper "
			"(bash tests/interop/build.sh DIR builds it)\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const int pairs_full[] = {1, 4, 16}, pairs_quick[] = {1, 4};
	static const size_t sizes[] = {100, 1400};
	static struct row rows[MAX_ROWS], split[MAX_ROWS];
	int split_of[MAX_ROWS], nsplit = 0;
	static struct idle_load il[BD_N_SERVERS];
	struct run rn = {0};
	bool quick = false;
	const char *ts_flag = 0;
	int secs = 0, idle, steps[2], port[2][BD_N_SERVERS], ms, npairs, rounds, nrows = 0;
	const int *pairs;
	pid_t pid[2][BD_N_SERVERS];
	uint64_t t_start = clock_mono_ns();

	if (argc == 5 && strcmp(argv[1], "--relay") == 0)
		bd_relay_main(atoi(argv[2]), argv[3][0] == '1', argv[4]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			secs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--tailscale-derper") == 0 && i + 1 < argc)
			ts_flag = argv[++i];
		else
			return usage();
	}
	if (secs <= 0 || secs > 3600)
		secs = quick ? LOAD_SECONDS_QUICK : LOAD_SECONDS;
	ms = quick ? TPUT_MS_QUICK : TPUT_MS;
	rounds = quick ? 1 : TPUT_ROUNDS;
	pairs = quick ? pairs_quick : pairs_full;
	npairs = quick ? 2 : 3;
	rn.ts_path = find_tailscale(ts_flag);
	if (ts_flag && !rn.ts_path) {
		fprintf(stderr, "bench-derp: %s: not an executable\n", ts_flag);
		return 2;
	}
	rn.servers[rn.n++] = BD_RELAY;
	rn.servers[rn.n++] = BD_MSOCK;
	if (rn.ts_path) {
		rn.servers[rn.n++] = BD_TAILSCALE;
		rn.ts = true;
	}
	if (sodium_init() < 0 || bd_proc_init() < 0)
		return 1;
	idle = bd_raise_nofile(quick ? IDLE_CLIENTS_QUICK : IDLE_CLIENTS);
	steps[1] = idle;
	steps[0] = idle > IDLE_FIRST_STEP ? IDLE_FIRST_STEP : idle / 2;
	if (bd_make_cert() < 0 || !(rn.ctls = bd_client_tls())) {
		fprintf(stderr, "bench-derp: no TLS (openssl CLI?)\n");
		return 1;
	}
	if (rn.ts)
		printf("Tailscale's derper: %s\n", rn.ts_path);
	else
		printf("Tailscale's derper: not given (--tailscale-derper PATH, or "
		       "MSOCK_INTEROP_BIN): its columns are left out\n");

	for (int l = 0; l < 2; l++) {
		for (int i = 0; i < rn.n; i++) {
			enum bd_server k = rn.servers[i];
			pid[l][k] = bd_start(k, l == 1, rn.ts_path, &port[l][k]);
			if (pid[l][k] < 0)
				return 1;
		}
	}
	printf("\n1. relay throughput: N pairs, A->B, <= %d packets in flight per pair, %.1f s a "
	       "run, best of %d (servers alternate)\n",
	       BD_WINDOW_PKTS, ms / 1e3, rounds);
	printf("   srv, gen: CPU of the server (all threads) and of the load generator (this "
	       "process), %% of one core; msock/TS: the pkt/s ratio, and so the MB/s ratio\n");
	tput_header(&rn);
	for (int l = 0; l < 2; l++) {
		for (size_t s = 0; s < 2; s++) {
			for (int i = 0; i < npairs; i++) {
				if (quick && l == 1 && pairs[i] == 1)
					continue; /* a smoke run: TLS at 4 pairs only */
				rows[nrows] = (struct row){
					.tls = l == 1, .len = sizes[s], .pairs = pairs[i]};
				tput_measure(&rn, pid[l], port[l], &rows[nrows], ms, rounds, 1);
				tput_print(&rn, &rows[nrows]);
				nrows++;
			}
		}
	}
	tput_summary(&rn, rows, nrows);
	/* The generator check (printed in section 4) while these servers run:
	 * the rows with the most pairs again, over SPLIT_GENERATORS processes. */
	for (int r = 0; r < nrows; r++) {
		int l = rows[r].tls ? 1 : 0;
		if (rows[r].pairs != pairs[npairs - 1] || (quick && (l || rows[r].len != 100)))
			continue;
		split[nsplit] = (struct row){
			.tls = rows[r].tls, .len = rows[r].len, .pairs = rows[r].pairs};
		tput_measure(&rn, pid[l], port[l], &split[nsplit], ms, rounds, SPLIT_GENERATORS);
		split_of[nsplit++] = r;
	}
	for (int l = 0; l < 2; l++)
		for (int i = 0; i < rn.n; i++)
			bd_stop(pid[l][rn.servers[i]]);

	for (int i = 0; i < rn.n; i++) {
		il[rn.servers[i]] = idle_and_load(&rn, rn.servers[i], steps, secs);
		if (!il[rn.servers[i]].ok)
			return 1;
	}
	printf("\n2. memory per idle logged-in TLS client (server VmRSS; RLIMIT_NOFILE raised "
	       "before the servers start)\n");
	print_idle(&rn, il);
	printf("\n3. load: %d TLS connections (%d pairs, both ways), %d packets/s of %d bytes in "
	       "all, %d s\n",
	       il[BD_MSOCK].conns, il[BD_MSOCK].conns / 2, LOAD_PPS, LOAD_PKT_BYTES, secs);
	print_load(&rn, il);
	printf("\n4. the load generator (one thread, in this process, on the same machine)\n");
	print_generator(&rn, rows, nrows, il);
	print_split(&rn, rows, split, split_of, nsplit);
	printf("\nbench-derp: %.0f s\n", bd_secs_since(t_start));
	SSL_CTX_free(rn.ctls);
	return 0;
}
