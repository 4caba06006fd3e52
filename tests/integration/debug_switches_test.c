/* debug_switches: `msockctl debug ...` on a running node (docs/bus.md,
 * "Debug switches"), each shown by its effect. A real msock-derper (TLS)
 * serves two DERP regions, 900 and 901 (the same server under two ids),
 * to a broker running only the derp component; the test stands in for
 * the dataplane on derp's packet channel.
 *   - break-derp: the derper accepts a new connection and the region is
 *     up again, the component not restarted;
 *   - pick-new-derp and force-prefer-derp: home moves as asked, and back;
 *   - log-level: derp prints a debug line per relayed packet after
 *     `log-level derp debug`, none after `log-level derp info`, same pid;
 *   - requests the broker can refuse are refused with the reason, and the
 *     ones only the component can judge (sent straight to the bus) are
 *     logged and ignored, the component still running. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "derper_proc.h"
#include "harness.h"
#include "pktchan.h"
#include "state.pb-c.h"

struct world {
	struct derper_proc d;
	struct th_broker b;
	void *zctx;
	struct pktchan *chan; /* the dataplane's end of derp's channel */
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char extra[4096];
	mode_t old;

	if (!w || derper_proc_init(&w->d, true) < 0)
		return -1;
	*state = w;
	if (derper_proc_start(&w->d, 0) < 0)
		return -1;
	/* No home_derp: home is the lowest region, 900. */
	snprintf(extra, sizeof(extra),
		 ", \"derp_ca_file\": \"%s/derp.test.crt\", \"derp_map\": {\"Regions\": {"
		 "\"900\": {\"RegionID\": 900, \"RegionCode\": \"one\", \"Nodes\": [{\"Name\": "
		 "\"900a\", \"RegionID\": 900, \"HostName\": \"derp.test\", \"IPv4\": "
		 "\"127.0.0.1\", \"DERPPort\": %d}]},"
		 "\"901\": {\"RegionID\": 901, \"RegionCode\": \"two\", \"Nodes\": [{\"Name\": "
		 "\"901a\", \"RegionID\": 901, \"HostName\": \"derp.test\", \"IPv4\": "
		 "\"127.0.0.1\", \"DERPPort\": %d}]}}}",
		 w->d.dir, w->d.port, w->d.port);
	if (th_broker_start(&w->b, "[\"derp\"]", extra) < 0)
		return -1;
	w->zctx = zmq_ctx_new();
	/* Bound as the dataplane binds it (derp_service_test.c says why). */
	old = umask(0007);
	w->chan = pktchan_open(w->zctx, w->b.bus_dir, "derp", PKTCHAN_ROLE_DATAPLANE);
	umask(old);
	return w->chan ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;

	pktchan_free(w->chan);
	if (w->zctx)
		zmq_ctx_term(w->zctx);
	th_broker_cleanup(&w->b);
	derper_proc_cleanup(&w->d);
	free(w);
	return 0;
}

static json_t *self_of(json_t *st)
{
	return json_object_get(st, "Self");
}

static long long home(struct th_broker *b)
{
	json_t *st = th_status(b);
	long long h = json_integer_value(json_object_get(self_of(st), "HomeDERP"));

	json_decref(st);
	return h;
}

struct home_is {
	struct th_broker *b;
	long long want;
};

/* HomeDERP is want and that region's connection is up and home. */
static bool home_up(void *arg)
{
	struct home_is *h = arg;
	json_t *st = th_status(h->b);
	char id[16];
	json_t *r;
	bool ok;

	snprintf(id, sizeof(id), "%lld", h->want);
	r = json_object_get(json_object_get(self_of(st), "DERP"), id);
	ok = json_integer_value(json_object_get(self_of(st), "HomeDERP")) == h->want &&
	     json_is_true(json_object_get(r, "Home")) &&
	     strcmp(json_string_value(json_object_get(r, "State")) ?: "", "up") == 0;
	json_decref(st);
	return ok;
}

static void expect_home(struct th_broker *b, long long want)
{
	struct home_is h = {b, want};

	if (!th_wait(home_up, &h))
		fail_msg("home is %lld, not %lld (up)", home(b), want);
}

/* `msockctl debug ARGS`, the real command line; asserts it succeeded (or
 * failed, with `err` in what it printed). */
static void debug(struct th_broker *b, const char *args, bool want_ok, const char *err)
{
	char cmd[1024], out[4096];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s debug %s 2>&1", th_bin_dir(),
		 b->control, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	st = pclose(p);
	if ((st == 0) != want_ok || (err && !strstr(out, err)))
		fail_msg("msockctl debug %s: status %d \"%s\", want %s%s%s", args, st, out,
			 want_ok ? "ok" : "an error", err ? " with " : "", err ? err : "");
}

struct metric {
	struct world *w;
	long long above;
};

static bool accepted_more(void *arg)
{
	struct metric *m = arg;

	return derper_proc_metric(&m->w->d, "derp_accepts_total") > m->above;
}

static void test_break_derp(void **state)
{
	struct world *w = *state;
	pid_t pid;
	struct metric m = {w, 0};

	expect_home(&w->b, 900);
	pid = th_comp_pid(&w->b, "derp");
	m.above = derper_proc_metric(&w->d, "derp_accepts_total");
	assert_true(m.above >= 1);
	debug(&w->b, "break-derp", true, "reconnect");
	/* A new connection reached the server, and home is up again. */
	assert_true(th_wait(accepted_more, &m));
	expect_home(&w->b, 900);
	assert_true(th_log_contains(&w->b, "debug break-derp: closing 1 DERP connection"));
	assert_int_equal(th_comp_pid(&w->b, "derp"), pid);
	assert_int_equal(th_comp_restarts(&w->b, "derp"), 0);
}

static void test_pick_new_and_force_prefer(void **state)
{
	struct world *w = *state;
	pid_t pid;

	expect_home(&w->b, 900);
	pid = th_comp_pid(&w->b, "derp");
	debug(&w->b, "pick-new-derp", true, 0);
	expect_home(&w->b, 901);
	assert_true(th_log_contains(&w->b, "debug pick-new-derp: home 900 -> 901"));
	/* And on: wraps back to 900. */
	debug(&w->b, "pick-new-derp", true, 0);
	expect_home(&w->b, 900);

	debug(&w->b, "force-prefer-derp 901", true, "region 901 is home");
	expect_home(&w->b, 901);
	/* pick-new-derp may move it ... */
	debug(&w->b, "force-prefer-derp 900", true, 0);
	expect_home(&w->b, 900);
	/* ... and 0 clears: home as chosen without it (the lowest, 900). */
	debug(&w->b, "force-prefer-derp 901", true, 0);
	expect_home(&w->b, 901);
	debug(&w->b, "force-prefer-derp 0", true, "cleared");
	expect_home(&w->b, 900);
	assert_int_equal(th_comp_pid(&w->b, "derp"), pid);
}

/* Lines of the broker's log (where the components' stderr goes too)
 * containing needle. */
static int log_count(struct th_broker *b, const char *needle)
{
	FILE *f = fopen(b->log, "r");
	char line[2048];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static void send_packets(struct world *w, int n)
{
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_SEND};

	memset(h.key, 0x42, KEY_LEN); /* a peer the server does not know: dropped there */
	for (int i = 0; i < n; i++)
		pktchan_send(w->chan, &h, (const uint8_t *)"debug me", 8);
}

struct lines {
	struct world *w;
	const char *needle;
	int above;
};

/* Sends a packet and looks for more lines than `above`. */
static bool more_lines(void *arg)
{
	struct lines *l = arg;

	send_packets(l->w, 1);
	return log_count(&l->w->b, l->needle) > l->above;
}

static void test_log_level(void **state)
{
	struct world *w = *state;
	const char *dbg = "derp DEBUG: sent 8 bytes to 4242... over region 900";
	struct lines l = {w, dbg, 0};
	struct timespec quarter = {0, 250 * 1000 * 1000};
	pid_t pid;
	int n;

	expect_home(&w->b, 900);
	pid = th_comp_pid(&w->b, "derp");
	/* At info (the config's default): no debug lines. */
	send_packets(w, 5);
	nanosleep(&quarter, 0);
	assert_int_equal(log_count(&w->b, dbg), 0);

	debug(&w->b, "log-level derp debug", true, "logs at debug");
	assert_true(th_wait(more_lines, &l));
	assert_true(th_log_contains(&w->b, "log level debug (was info): msockctl debug log-level"));

	debug(&w->b, "log-level derp info", true, 0);
	l.needle = "log level info (was debug)";
	l.above = 0;
	assert_true(th_wait(more_lines, &l));
	/* From now on, packets make no line. */
	n = log_count(&w->b, dbg);
	send_packets(w, 20);
	nanosleep(&quarter, 0);
	nanosleep(&quarter, 0);
	assert_int_equal(log_count(&w->b, dbg), n);
	/* All without a restart. */
	assert_int_equal(th_comp_pid(&w->b, "derp"), pid);
	assert_int_equal(th_comp_restarts(&w->b, "derp"), 0);

	/* The broker's own level. */
	debug(&w->b, "log-level broker debug", true, "broker logs at debug");
}

static void test_refused_by_the_broker(void **state)
{
	struct world *w = *state;

	expect_home(&w->b, 900);
	debug(&w->b, "force-prefer-derp 902", false, "no region 902 in the DERP map");
	debug(&w->b, "force-prefer-derp abc", false, "is not a region id");
	debug(&w->b, "force-prefer-derp -1", false, "is not a region id");
	debug(&w->b, "force-prefer-derp 99999999999", false, "is not a region id");
	debug(&w->b, "log-level derp loud", false, "is not error, warn, info or debug");
	debug(&w->b, "log-level nosuch debug", false, "no component named \"nosuch\"");
	/* The command line knows the switches and their arguments. */
	debug(&w->b, "no-such-switch", false, "usage: msockctl debug");
	debug(&w->b, "", false, "usage: msockctl debug");
	debug(&w->b, "force-prefer-derp", false, "usage: msockctl debug");
	expect_home(&w->b, 900);
}

/* Requests the broker would refuse, put on the bus directly (the test
 * runs as the broker's user: it may publish the broker's events): the
 * component logs and ignores them, and keeps running. */
static void test_malformed_on_the_bus_are_ignored(void **state)
{
	struct world *w = *state;
	struct bus *bus;
	Msock__DebugDERP d = MSOCK__DEBUG_DERP__INIT;
	Msock__DebugLogLevel l = MSOCK__DEBUG_LOG_LEVEL__INIT;
	pid_t pid;

	expect_home(&w->b, 900);
	pid = th_comp_pid(&w->b, "derp");
	bus = bus_open(w->b.bus_dir, "debug-test", 0, 0);
	assert_non_null(bus);
	/* Let the PUB connect before publishing (its first messages would
	 * otherwise be dropped). */
	for (int i = 0; i < 20 && !th_log_contains(&w->b, "debug: unknown DERP action"); i++) {
		d.action = "explode";
		bus_publish(bus, BUS_T_DebugDERP, &d.base);
		usleep(100000);
	}
	assert_true(th_log_contains(&w->b, "debug: unknown DERP action \"explode\"; ignored"));
	d.action = "force-prefer";
	d.region_id = 4242;
	for (int i = 0; i < 20 && !th_log_contains(&w->b, "force-prefer-derp 4242: no such"); i++) {
		bus_publish(bus, BUS_T_DebugDERP, &d.base);
		usleep(100000);
	}
	assert_true(th_log_contains(&w->b, "debug force-prefer-derp 4242: no such region in the "
					   "DERP map; ignored"));
	l.component = "derp";
	l.level = "shout";
	for (int i = 0; i < 20 && !th_log_contains(&w->b, "DebugLogLevel \"shout\""); i++) {
		bus_publish(bus, BUS_T_DebugLogLevel, &l.base);
		usleep(100000);
	}
	assert_true(th_log_contains(&w->b, "DebugLogLevel \"shout\" is not error, warn, info or "
					   "debug; ignored"));
	bus_free(bus);
	expect_home(&w->b, 900);
	assert_int_equal(th_comp_pid(&w->b, "derp"), pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_break_derp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_new_and_force_prefer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_by_the_broker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_on_the_bus_are_ignored, setup,
						teardown),
	};

	if (geteuid() != 0) {
		print_message("the derp service drops to its user: needs root; skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}
