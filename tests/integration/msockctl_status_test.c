/* msockctl_status: `msockctl status` and `msockctl ping` against a real
 * broker and dataplane, with a peer that has no disco key (WireGuard only:
 * PATH "static (no disco key)", "static" in the JSON, and ping refused) and
 * one that has one; the JSON's non-integer numbers have at most 3
 * decimals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "key.h"

enum { OUT_MAX_BYTES = 65536 };

struct world {
	struct th_broker b;
	int wg, p1; /* UDP sockets on 127.0.0.1: WireGuard, the peer's endpoint */
	uint16_t wg_port, p1_port;
	char wg_hex[KEY_TEXT_MAX], dk_hex[KEY_TEXT_MAX]; /* "nodekey:<hex>" */
	char out[OUT_MAX_BYTES];
};

static void node_key(char *text, size_t cap)
{
	struct key32 priv, pub;

	key_generate(&priv);
	key_public(&priv, &pub);
	key_format(KEY_KIND_NODE_PUBLIC, &pub, text, cap);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	*state = w;
	w->wg = th_udp_loopback(0, &w->wg_port);
	w->p1 = th_udp_loopback(0, &w->p1_port);
	node_key(w->wg_hex, sizeof(w->wg_hex));
	node_key(w->dk_hex, sizeof(w->dk_hex));
	return w->wg < 0 || w->p1 < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	th_broker_stop(&w->b, SIGTERM, 0);
	th_broker_cleanup(&w->b);
	close(w->wg);
	close(w->p1);
	free(w);
	return 0;
}

/* Runs msockctl with args; its stdout and stderr in w->out. Returns its
 * exit status (-1 if it did not exit). */
static int ctl(struct world *w, const char *args)
{
	char cmd[1024];
	const char *bin = getenv("MSOCK_BIN_DIR");
	size_t n = 0, r;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s %s 2>&1", bin ? bin : "./bin",
		 w->b.control, args);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (n + 1 < sizeof(w->out) && (r = fread(w->out + n, 1, sizeof(w->out) - 1 - n, f)))
		n += r;
	w->out[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *peer_path(json_t *st, const char *hex)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(st, "Peer"), hex), "Path"));
}

static bool dataplane_published(void *arg)
{
	struct world *w = arg;
	json_t *st = th_status(&w->b);
	const char *p = peer_path(st, w->wg_hex);
	bool ok = p && strcmp(p, "none") != 0;

	json_decref(st);
	return ok;
}

static void start(struct world *w)
{
	char extra[2048];

	snprintf(extra, sizeof(extra),
		 ",\n  \"listen_port\": 0, \"wg_listen_port\": %u,\n"
		 "  \"peers\": [ {\"name\": \"wgonly\", \"node_key\": \"%s\", \"endpoints\": "
		 "[\"127.0.0.1:%u\"]},\n"
		 "    {\"name\": \"withdisco\", \"node_key\": \"%s\", \"disco_key\": "
		 "\"discokey:%064x\"} ]",
		 w->wg_port, w->wg_hex, w->p1_port, w->dk_hex, 7);
	assert_int_equal(th_broker_start(&w->b, "[\"dataplane\"]", extra), 0);
	assert_true(th_wait(dataplane_published, w));
}

/* The status line of the peer named name, or NULL. */
static const char *line_of(const char *out, const char *name)
{
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : 0)
		if (strncmp(l, "  ", 2) == 0 && strncmp(l + 2, name, strlen(name)) == 0)
			return l;
	return 0;
}

static void test_status_no_disco_key(void **state)
{
	struct world *w = *state;
	const char *l;
	json_t *st;

	start(w);
	assert_int_equal(ctl(w, "status"), 0);
	l = line_of(w->out, "wgonly");
	assert_non_null(l);
	assert_non_null(strstr(l, "static (no disco key)"));
	assert_true(strstr(l, "static (no disco key)") < strchr(l, '\n'));
	assert_int_equal(ctl(w, "status --json"), 0);
	st = json_loads(w->out, 0, 0);
	assert_non_null(st);
	assert_string_equal(peer_path(st, w->wg_hex), "static");
	assert_string_equal(peer_path(st, w->dk_hex), "derp"); /* no endpoint, no disco yet */
	json_decref(st);
}

/* Every number with a decimal point in text has at most 3 decimals (and
 * there is at least one: the uptimes). */
static void assert_three_decimals(const char *text)
{
	int reals = 0;

	for (const char *p = text; (p = strstr(p, "Sec\": ")); p++) {
		const char *dot, *q = p + 6;
		size_t n = 0;
		while (isdigit((unsigned char)*q))
			q++;
		if (*q != '.')
			continue;
		dot = q++;
		while (isdigit((unsigned char)*q))
			q++, n++;
		if (n > 3)
			fail_msg("%.*s has %zu decimals", (int)(q - p), p, n);
		assert_true(n >= 1 && dot > p + 6);
		reals++;
	}
	assert_true(reals >= 2); /* UptimeSec, Components.dataplane.UptimeSec */
}

static void test_status_json_rounded(void **state)
{
	struct world *w = *state;

	start(w);
	usleep(20 * 1000); /* uptimes that are not whole milliseconds */
	assert_int_equal(ctl(w, "status --json"), 0);
	assert_three_decimals(w->out);
}

static void test_ping_no_disco_key(void **state)
{
	struct world *w = *state;
	bool ok = true;
	char *text = 0;

	start(w);
	assert_int_equal(ctl(w, "ping -c 1 wgonly"), 1);
	assert_non_null(strstr(w->out, "msockctl ping: wgonly: no disco key: cannot ping"));
	assert_null(strstr(w->out, "no pong"));
	/* The broker itself refuses, for any control client. */
	assert_int_equal(th_control(&w->b, "ping", w->wg_hex + 8, &ok, &text), 0);
	assert_false(ok);
	assert_string_equal(text, "no disco key: cannot ping");
	free(text);
	/* A peer with a disco key is pinged (no disco runs here: no pong). */
	assert_int_equal(ctl(w, "ping -c 1 withdisco"), 1);
	assert_non_null(strstr(w->out, "no pong within 1 s"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_no_disco_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_json_rounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_no_disco_key, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0);
}
