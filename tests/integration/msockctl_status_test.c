/* msockctl_status: `msockctl status` and `msockctl ping` against a real
 * broker and dataplane, with a peer that has no disco key (WireGuard only:
 * PATH "static (no disco key)", "static" in the JSON, and ping refused) and
 * one that has one; the JSON's non-integer numbers have at most 3
 * decimals; `wg-config --apply` against a stand-in wg(8): a peer at
 * another endpoint re-created with its settings (preshared key through a
 * pipe), nothing done when all is right, a malformed dump refused, and a
 * failed re-add reported with how to put each peer back. */
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
#include <sys/stat.h>
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

/* A stand-in for wg(8) in DIR: `wg show IFACE dump` prints DIR/dump; `wg
 * set ...` appends its arguments to DIR/wg.log, and what each
 * preshared-key file holds; with DIR/fail-add, a call that adds fails. */
static const char stub_wg[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")\n"
	"case $1 in\n"
	"show) [ \"$3\" = dump ] || exit 2; cat \"$d/dump\" ;;\n"
	"set)\n"
	"  echo \"$*\" >>\"$d/wg.log\"\n"
	"  case \" $* \" in *\" endpoint \"*) [ ! -e \"$d/fail-add\" ] || exit 1 ;; esac\n"
	"  while [ $# -gt 1 ]; do\n"
	"    [ \"$1\" != preshared-key ] || echo \"psk from ${2%/*}: $(cat \"$2\")\" "
	">>\"$d/wg.log\"\n"
	"    shift\n"
	"  done ;;\n"
	"*) exit 2 ;;\n"
	"esac\n";

#define STUB_PSK   "ERERERERERERERERERERERERERERERERERERERERERE="
#define STUB_OTHER "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define STUB_IFACE "(none)\t(none)\t51820\toff\n"
#define STUB_IPS   "10.99.0.2/32,fd00::2/128"

struct stub {
	char dir[400], dump[480], log[480], fail[480];
	char key[2][KEY_B64_LEN + 1], ep[2][64]; /* the broker's peers, its order */
};

static void write_file(const char *path, const char *text)
{
	assert_int_equal(th_write_file(path, text), 0);
}

static char *slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return buf;
}

static void test_wg_config_apply(void **state)
{
	struct world *w = *state;
	struct stub stub = {0}, *s = &stub;
	char path[1200], want[2048], log[4096], dump[1024], line[256];
	const char *old_path = getenv("PATH");
	const char *l = NULL;
	int i = 0, keep, other;

	start(w);
	/* Without --apply: the lines, in the broker's order. */
	assert_int_equal(ctl(w, "wg-config --iface wgt"), 0);
	for (l = w->out;
	     i < 2 && sscanf(l, "wg set wgt peer %44s endpoint %63s", s->key[i], s->ep[i]) == 2;
	     i++)
		l = strchr(l, '\n') + 1;
	assert_int_equal(i, 2);
	assert_string_equal(l, "");

	snprintf(s->dir, sizeof(s->dir), "%s/stub", w->b.dir);
	assert_int_equal(mkdir(s->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/wg", s->dir);
	write_file(path, stub_wg);
	assert_int_equal(chmod(path, 0700), 0);
	snprintf(s->dump, sizeof(s->dump), "%s/dump", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/wg.log", s->dir);
	snprintf(s->fail, sizeof(s->fail), "%s/fail-add", s->dir);
	snprintf(path, sizeof(path), "%s:%s", s->dir, old_path ? old_path : "/usr/bin:/bin");
	setenv("PATH", path, 1);

	/* The broker's first peer is on the interface at another endpoint,
	 * with a preshared key, keepalive and allowed-ips; its second is not
	 * there; a third peer, not msock's, is left alone. */
	keep = 0;
	other = 1;
	snprintf(dump, sizeof(dump),
		 STUB_IFACE "%s\t" STUB_PSK "\t127.0.0.1:9\t" STUB_IPS
			    "\t1700000000\t5\t6\t25\n" STUB_OTHER
			    "\t(none)\t198.18.0.9:51820\t10.99.0.9/32\t0\t0\t0\toff\n",
		 s->key[keep]);
	write_file(s->dump, dump);
	assert_int_equal(ctl(w, "wg-config --apply wgt"), 0);
	assert_non_null(strstr(w->out, "set the endpoints of 2 peers on wgt (1 re-created, 0 "
				       "unchanged)"));
	snprintf(want, sizeof(want),
		 "set wgt peer %s remove\n"
		 "set wgt peer %s endpoint %s allowed-ips " STUB_IPS
		 " persistent-keepalive 25 preshared-key /dev/fd/",
		 s->key[keep], s->key[0], s->ep[0]);
	slurp(s->log, log, sizeof(log));
	if (strncmp(log, want, strlen(want)) != 0)
		fail_msg("wg calls:\n%s\nexpected them to start:\n%s", log, want);
	l = strchr(log + strlen(want), '\n');
	assert_non_null(l);
	snprintf(line, sizeof(line), " peer %s endpoint %s\npsk from /dev/fd: " STUB_PSK "\n",
		 s->key[other], s->ep[other]);
	assert_string_equal(strchr(log + strlen(want), ' '), line);
	/* The key reached wg through the pipe only, not its command line. */
	assert_ptr_equal(strstr(log, STUB_PSK),
			 strstr(log, "psk from /dev/fd: ") + strlen("psk from /dev/fd: "));

	/* Both at msock's endpoints: nothing to do, no wg set. */
	unlink(s->log);
	snprintf(dump, sizeof(dump),
		 STUB_IFACE
		 "%s\t(none)\t%s\t(none)\t0\t0\t0\toff\n%s\t(none)\t%s\t(none)\t0\t0\t0\t"
		 "off\n",
		 s->key[1], s->ep[1], s->key[0], s->ep[0]);
	write_file(s->dump, dump);
	assert_int_equal(ctl(w, "wg-config --apply wgt"), 0);
	assert_non_null(strstr(w->out, "set the endpoints of 2 peers on wgt (0 re-created, 2 "
				       "unchanged)"));
	assert_int_equal(access(s->log, F_OK), -1);

	/* A malformed dump: refused, naming its line; nothing changed. */
	snprintf(dump, sizeof(dump), STUB_IFACE "%s\t(none)\t%s\t(none)\t0\t0\toff\n", s->key[0],
		 s->ep[0]);
	write_file(s->dump, dump);
	assert_int_equal(ctl(w, "wg-config --apply wgt"), 1);
	assert_non_null(strstr(w->out, "msockctl wg-config: wg show wgt dump: line 2: 7 fields, "
				       "expected 8"));
	assert_int_equal(access(s->log, F_OK), -1);

	/* Adding back fails: the message says which peers may be missing and
	 * how to put each back (its key not shown). */
	snprintf(dump, sizeof(dump),
		 STUB_IFACE "%s\t" STUB_PSK "\t127.0.0.1:9\t" STUB_IPS "\t0\t0\t0\t25\n",
		 s->key[keep]);
	write_file(s->dump, dump);
	write_file(s->fail, "");
	assert_int_equal(ctl(w, "wg-config --apply wgt"), 1);
	snprintf(want, sizeof(want),
		 "wg set wgt peer %s endpoint %s allowed-ips " STUB_IPS
		 " persistent-keepalive 25 preshared-key FILE (it had one)",
		 s->key[keep], s->ep[keep]);
	if (!strstr(w->out, "1 of these peers were removed to be re-created and may be missing") ||
	    !strstr(w->out, want) || strstr(w->out, STUB_PSK))
		fail_msg("msockctl said:\n%s", w->out);

	setenv("PATH", old_path ? old_path : "/usr/bin:/bin", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_no_disco_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_json_rounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_no_disco_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wg_config_apply, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0);
}
