/* health_warnings: health warnings set by real conditions and cleared when
 * they end (docs/bus.md, "Health warnings"), seen in `status --json`'s
 * Health and in `msockctl status`'s "# Health check:" lines.
 *   - derp's home region unreachable (a node on a closed port):
 *     no-derp-connection after 10 s; force-prefer-derp to a region that
 *     works clears it.
 *   - a component crashing in a loop: the broker's crash-loop, naming it;
 *     removed by a reload, the warning goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "derper_proc.h"
#include "harness.h"

enum {
	/* no-derp-connection shows after 10 s (DERP_SVC_HEALTH_DOWN_MS): wait
	 * longer than TH_WAIT_MS for it. */
	WAIT_HEALTH_MS = 30000,
};

struct world {
	struct derper_proc d;
	struct th_broker b;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w || derper_proc_init(&w->d, true) < 0)
		return -1;
	*state = w;
	return derper_proc_start(&w->d, 0);
}

static int teardown(void **state)
{
	struct world *w = *state;

	th_broker_cleanup(&w->b);
	derper_proc_cleanup(&w->d);
	free(w);
	return 0;
}

/* The Health entry with this component and code in status, or NULL (a
 * new reference the caller drops). */
static json_t *warning(struct th_broker *b, const char *component, const char *code)
{
	json_t *st = th_status(b), *w, *found = 0;
	size_t i;

	json_array_foreach (json_object_get(st, "Health"), i, w)
		if (strcmp(json_string_value(json_object_get(w, "Component")) ?: "", component) ==
			    0 &&
		    strcmp(json_string_value(json_object_get(w, "Code")) ?: "", code) == 0)
			found = json_incref(w);
	json_decref(st);
	return found;
}

struct want {
	struct th_broker *b;
	const char *component, *code;
	bool on;
};

static bool is(void *arg)
{
	struct want *x = arg;
	json_t *w = warning(x->b, x->component, x->code);

	json_decref(w);
	return (w != 0) == x->on;
}

static bool wait_for(struct want *x, int ms)
{
	uint64_t t0 = clock_mono_ns();

	while (th_ms_since(t0) < (uint64_t)ms) {
		if (is(x))
			return true;
		usleep(100000);
	}
	return false;
}

/* `msockctl ARGS` output (stdout and stderr) into out. Returns its exit
 * status. */
static int msockctl(struct th_broker *b, const char *args, char *out, size_t cap)
{
	char cmd[1024];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s %s 2>&1", th_bin_dir(), b->control,
		 args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	return pclose(p);
}

/* A TCP port on 127.0.0.1 nothing listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_home_region_unreachable(void **state)
{
	struct world *w = *state;
	struct want x = {&w->b, "derp", "no-derp-connection", true};
	char extra[4096], out[16384];
	json_t *h;
	uint64_t t0;

	/* Home is 902, whose only node refuses connections. */
	snprintf(extra, sizeof(extra),
		 ", \"home_derp\": 902, \"derp_ca_file\": \"%s/derp.test.crt\", \"derp_map\": "
		 "{\"Regions\": {"
		 "\"900\": {\"RegionID\": 900, \"RegionCode\": \"good\", \"Nodes\": [{\"Name\": "
		 "\"900a\", \"RegionID\": 900, \"HostName\": \"derp.test\", \"IPv4\": "
		 "\"127.0.0.1\", \"DERPPort\": %d}]},"
		 "\"902\": {\"RegionID\": 902, \"RegionCode\": \"gone\", \"Nodes\": [{\"Name\": "
		 "\"902a\", \"RegionID\": 902, \"HostName\": \"derp.test\", \"IPv4\": "
		 "\"127.0.0.1\", \"DERPPort\": %d}]}}}",
		 w->d.dir, w->d.port, closed_port());
	t0 = clock_mono_ns();
	assert_int_equal(th_broker_start(&w->b, "[\"derp\"]", extra), 0);
	assert_true(wait_for(&x, WAIT_HEALTH_MS));
	/* Not before its 10 s: a connection takes a moment. */
	assert_true(th_ms_since(t0) >= 10000);
	h = warning(&w->b, "derp", "no-derp-connection");
	assert_string_equal(json_string_value(json_object_get(h, "Severity")), "medium");
	assert_non_null(strstr(json_string_value(json_object_get(h, "Text")),
			       "could not connect to the 'gone' relay server (region 902)"));
	assert_true(json_integer_value(json_object_get(h, "SinceUnixMs")) > 1700000000000LL);
	json_decref(h);
	/* As tailscale status prints it: last, after a blank line. */
	assert_int_equal(msockctl(&w->b, "status", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\n\n# Health check:\n#     - msock could not connect to the "
				    "'gone' relay server (region 902)"));
	/* Home on a region that works: the warning goes. */
	assert_int_equal(msockctl(&w->b, "debug force-prefer-derp 900", out, sizeof(out)), 0);
	x.on = false;
	assert_true(wait_for(&x, WAIT_HEALTH_MS));
	assert_int_equal(msockctl(&w->b, "status", out, sizeof(out)), 0);
	assert_null(strstr(out, "# Health check:"));
}

static const char *crashy = "[{\"name\": \"crashy\", \"program\": \"testcomp\", \"args\": "
			    "[\"--crash-after-ms\", \"30\"]}, \"testcomp\"]";

static bool crashy_failed(void *arg)
{
	return th_comp_state_is(arg, "crashy", "failed");
}

static void test_crash_loop(void **state)
{
	struct world *w = *state;
	struct want x = {&w->b, "broker", "crash-loop", true};
	char out[16384];
	json_t *h;

	assert_int_equal(th_broker_start(&w->b, crashy, ""), 0);
	assert_true(wait_for(&x, WAIT_HEALTH_MS));
	h = warning(&w->b, "broker", "crash-loop");
	assert_string_equal(json_string_value(json_object_get(h, "Severity")), "high");
	assert_non_null(strstr(json_string_value(json_object_get(h, "Text")), "crashy "));
	assert_null(strstr(json_string_value(json_object_get(h, "Text")), "testcomp "));
	json_decref(h);
	/* Given up, it says how to try again. */
	assert_true(th_wait(crashy_failed, &w->b));
	h = warning(&w->b, "broker", "crash-loop");
	assert_non_null(strstr(json_string_value(json_object_get(h, "Text")),
			       "crashy failed after 5 starts in 10 s"));
	assert_non_null(strstr(json_string_value(json_object_get(h, "Text")),
			       "msockctl restart crashy tries again"));
	json_decref(h);
	/* The crashing component removed: no more loop. */
	assert_int_equal(th_write_config(&w->b, "[\"testcomp\"]", ""), 0);
	assert_int_equal(msockctl(&w->b, "reload", out, sizeof(out)), 0);
	x.on = false;
	assert_true(wait_for(&x, WAIT_HEALTH_MS));
}

/* The netcheck config: region 900 on 127.0.0.1, its STUN and DERP (HTTPS)
 * ports as given. */
static void netcheck_config(struct world *w, int stun_port, int derp_port, bool start)
{
	char extra[4096];

	snprintf(extra, sizeof(extra),
		 ", \"listen_port\": 0, \"derp_ca_file\": \"%s/derp.test.crt\", \"derp_map\": "
		 "{\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": \"lab\", "
		 "\"Nodes\": [{\"Name\": \"900a\", \"RegionID\": 900, \"HostName\": "
		 "\"derp.test\", \"IPv4\": \"127.0.0.1\", \"IPv6\": \"none\", \"STUNPort\": %d, "
		 "\"DERPPort\": %d}]}}}",
		 w->d.dir, stun_port, derp_port);
	if (start)
		assert_int_equal(th_broker_start(&w->b, "[\"dataplane\", \"netcheck\"]", extra), 0);
	else
		assert_int_equal(th_write_config(&w->b, "[\"dataplane\", \"netcheck\"]", extra), 0);
}

/* A new report now, with the config as it is. */
static void reload_and_restun(struct world *w)
{
	char out[4096];

	assert_int_equal(msockctl(&w->b, "reload --wait", out, sizeof(out)), 0);
	assert_int_equal(msockctl(&w->b, "netcheck --json", out, sizeof(out)), 0);
}

/* netcheck: a STUN server that never answers (a bound UDP socket nobody
 * reads) and no HTTPS either: no-stun-answer; HTTPS answering (the
 * derper): udp-blocked instead; STUN answering (the derper's STUN
 * server): neither. */
static void test_netcheck_udp(void **state)
{
	struct world *w = *state;
	struct want none = {&w->b, "netcheck", "no-stun-answer", true};
	struct want blocked = {&w->b, "netcheck", "udp-blocked", true};
	uint16_t silent;
	int fd = th_udp_loopback(0, &silent);
	json_t *h;

	assert_true(fd >= 0);
	netcheck_config(w, silent, closed_port(), true);
	assert_true(wait_for(&none, WAIT_HEALTH_MS));
	h = warning(&w->b, "netcheck", "no-stun-answer");
	assert_string_equal(json_string_value(json_object_get(h, "Severity")), "medium");
	json_decref(h);
	blocked.on = false;
	assert_true(is(&blocked));

	/* HTTPS reaches the region; UDP still gets nothing. */
	netcheck_config(w, silent, w->d.port, false);
	reload_and_restun(w);
	blocked.on = true;
	assert_true(wait_for(&blocked, WAIT_HEALTH_MS));
	none.on = false;
	assert_true(wait_for(&none, WAIT_HEALTH_MS));
	h = warning(&w->b, "netcheck", "udp-blocked");
	assert_non_null(strstr(json_string_value(json_object_get(h, "Text")),
			       "though 1 relay region answered over HTTPS"));
	json_decref(h);

	/* A STUN server that answers: nothing wrong. */
	netcheck_config(w, w->d.stun_port, w->d.port, false);
	reload_and_restun(w);
	blocked.on = false;
	assert_true(wait_for(&blocked, WAIT_HEALTH_MS));
	assert_true(is(&none));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_home_region_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netcheck_udp, setup, teardown),
	};

	if (geteuid() != 0) {
		print_message("the derp service drops to its user: needs root; skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}
