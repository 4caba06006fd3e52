/* msockctl_wg_apply_test: what `msockctl wg-config --apply` asks of wg(8)
 * (no wg runs here): the broker's lines parsed strictly, each peer planned
 * (unchanged, created, re-created), the remove and add command lines (a
 * re-created peer keeps its allowed-ips, keepalive and preshared key, the
 * key never on the command line), and the batches' limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_apply.h"

#define K1  "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2  "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3  "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define K4  "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
#define PSK "ERERERERERERERERERERERERERERERERERERERERERE="

static void wants_ok(const char *text, struct wg_want **w, size_t *n)
{
	char err[256] = "";
	int rc = wg_wants_parse(text, w, n, err, sizeof(err));

	if (rc != 0)
		fail_msg("wg_wants_parse: %d: %s", rc, err);
}

static void test_wants(void **state)
{
	struct wg_want *w;
	struct ipport ep;
	size_t n;

	(void)state;
	wants_ok(K2 " 127.64.0.2:41642\n" K1 " [::1]:5\n", &w, &n);
	assert_int_equal(n, 2);
	assert_string_equal(w[0].key_b64, K2); /* the broker's order */
	assert_string_equal(w[0].endpoint_text, "127.64.0.2:41642");
	assert_int_equal(ipport_parse("127.64.0.2:41642", &ep), 0);
	assert_true(ipport_equal(&w[0].endpoint, &ep));
	assert_string_equal(w[1].endpoint_text, "[::1]:5");
	free(w);

	wants_ok("", &w, &n);
	assert_int_equal(n, 0);
	assert_null(w);
	wants_ok(K1 " 127.64.0.1:41642", &w, &n); /* the last newline may be missing */
	assert_int_equal(n, 1);
	free(w);
}

static const struct {
	const char *text, *want;
} bad_wants[] = {
	{K1 "\n", "line 1: not \"<44-character base64 key> <endpoint>\""},
	{K1 " 127.64.0.1:41642\n\n", "line 2: not"},
	{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ= 127.64.0.1:1\n", "line 1: not"},
	{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF= 127.64.0.1:1\n", "line 1: key \"AQEB"},
	{K1 " \n", "line 1: no endpoint"},
	{K1 " 127.64.0.1\n", "line 1: endpoint \"127.64.0.1\""},
	{K1 "  127.64.0.1:1\n", "line 1: endpoint \" 127.64.0.1:1\""},
	{K1 " 127.64.0.1:1\n" K2 " 127.64.0.2:1\n" K1 " 127.64.0.3:1\n",
	 "line 3: peer " K1 " again (line 1 has it)"},
};

static void test_wants_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_wants) / sizeof(bad_wants[0]); i++) {
		char err[256] = "";
		struct wg_want *w = (struct wg_want *)1;
		size_t n = 99;
		int rc = wg_wants_parse(bad_wants[i].text, &w, &n, err, sizeof(err));

		if (rc != -EINVAL || strncmp(err, bad_wants[i].want, strlen(bad_wants[i].want)))
			fail_msg("row %zu: rc %d, message \"%s\", expected one starting \"%s\"", i,
				 rc, err, bad_wants[i].want);
		assert_null(w);
		assert_int_equal(n, 0);
	}
}

/* The interface: K1 at msock's endpoint already, K2 elsewhere with a
 * preshared key, keepalive and two allowed-ips, K4 with no endpoint and no
 * allowed-ips; K3 is not there. msock wants K1, K2, K3, K4. */
static const char dump_text[] =
	"(none)\t(none)\t51820\toff\n" K1
	"\t(none)\t127.64.0.1:41642\t10.99.0.1/32\t0\t0\t0\toff\n" K2 "\t" PSK
	"\t198.18.2.1:41641\t10.99.0.2/32,fd00::2/128\t1700000000\t10\t20\t25\n" K4
	"\t(none)\t(none)\t(none)\t0\t0\t0\toff\n";
static const char wants_text[] = K1 " 127.64.0.1:41642\n" K2 " 127.64.0.2:41642\n" K3
				    " 127.64.0.3:41642\n" K4 " 127.64.0.4:41642\n";

struct plan {
	struct wg_dump d;
	struct wg_want *w;
	size_t n;
	struct wg_step steps[4];
	struct wg_call c;
};

static int plan_setup(void **state)
{
	struct plan *p = calloc(1, sizeof(*p));
	char err[256];

	if (!p || wg_dump_parse(dump_text, strlen(dump_text), &p->d, err, sizeof(err)) < 0 ||
	    wg_wants_parse(wants_text, &p->w, &p->n, err, sizeof(err)) < 0 || p->n != 4)
		return -1;
	wg_plan(p->w, p->n, &p->d, p->steps);
	*state = p;
	return 0;
}

static int plan_teardown(void **state)
{
	struct plan *p = *state;

	wg_dump_free(&p->d);
	free(p->w);
	free(p);
	return 0;
}

static void test_plan(void **state)
{
	struct plan *p = *state;

	assert_int_equal(p->steps[0].action, WG_ACTION_UNCHANGED);
	assert_int_equal(p->steps[1].action, WG_ACTION_RECREATE);
	assert_int_equal(p->steps[2].action, WG_ACTION_CREATE);
	assert_int_equal(p->steps[3].action, WG_ACTION_RECREATE);
	assert_ptr_equal(p->steps[1].have, wg_dump_find(&p->d, &p->w[1].key));
	assert_null(p->steps[2].have);
	assert_int_equal(wg_batch_end(p->steps, 0, 4), 4);
}

/* argv as one string, words separated by spaces. */
static void joined(const struct wg_call *c, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	assert_null(c->argv[c->argc]);
	for (size_t i = 0; i < c->argc; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", c->argv[i]);
	assert_true(len < cap);
}

static void test_remove_call(void **state)
{
	struct plan *p = *state;
	char s[1024];

	/* Only the peers to re-create, each with its own "remove" (boringtun
	 * keeps `remove` set for the peers after it in one call). */
	assert_int_equal(wg_call_remove(&p->c, "wg0", p->steps, 0, 4), 2);
	joined(&p->c, s, sizeof(s));
	assert_string_equal(s, "wg set wg0 peer " K2 " remove peer " K4 " remove");
	assert_int_equal(p->c.n_psk, 0);
	assert_int_equal(wg_call_remove(&p->c, "wg0", p->steps, 0, 1), 0);
}

static void test_add_call(void **state)
{
	struct plan *p = *state;
	struct key32 psk;
	const char *why;
	char s[2048];

	assert_int_equal(wg_call_add(&p->c, "wg0", p->steps, 0, 4), 3);
	assert_int_equal(p->c.n_psk, 1);
	snprintf(p->c.psk_path[0], sizeof(p->c.psk_path[0]), "/dev/fd/7");
	joined(&p->c, s, sizeof(s));
	assert_string_equal(s, "wg set wg0"
			       " peer " K2 " endpoint 127.64.0.2:41642"
			       " allowed-ips 10.99.0.2/32,fd00::2/128 persistent-keepalive 25"
			       " preshared-key /dev/fd/7"
			       " peer " K3 " endpoint 127.64.0.3:41642"
			       " peer " K4 " endpoint 127.64.0.4:41642");
	/* The key goes to the pipe; nothing of it is on the command line. */
	assert_int_equal(key_parse(PSK, KEY_KIND_NODE_PUBLIC, &psk, &why), 0);
	assert_true(key_equal(p->c.psk[0], &psk));
	assert_null(strstr(s, "ERERERERERERER"));
}

/* n steps of ACTION; the have of each (when RECREATE) from haves. */
static void fill_steps(struct wg_step *st, size_t from, size_t to, enum wg_action a,
		       const struct wg_dump_peer *have)
{
	for (size_t i = from; i < to; i++) {
		st[i].action = a;
		st[i].have = a == WG_ACTION_RECREATE ? have : NULL;
	}
}

static void test_batches(void **state)
{
	enum { N = 2 * WG_PEERS_PER_CALL + 150 };
	struct wg_step *st = calloc(N, sizeof(*st));
	struct wg_dump_peer with_psk = {.has_preshared_key = true};
	struct wg_dump_peer without = {0};

	(void)state;
	assert_non_null(st);
	/* Peers per call. */
	fill_steps(st, 0, N, WG_ACTION_CREATE, NULL);
	assert_int_equal(wg_batch_end(st, 0, N), WG_PEERS_PER_CALL);
	assert_int_equal(wg_batch_end(st, WG_PEERS_PER_CALL, N), 2 * WG_PEERS_PER_CALL);
	assert_int_equal(wg_batch_end(st, 2 * WG_PEERS_PER_CALL, N), N);
	/* Unchanged peers are in no call and count for none. */
	fill_steps(st, 0, 100, WG_ACTION_UNCHANGED, NULL);
	assert_int_equal(wg_batch_end(st, 0, N), 100 + WG_PEERS_PER_CALL);
	fill_steps(st, 0, N, WG_ACTION_UNCHANGED, NULL);
	assert_int_equal(wg_batch_end(st, 0, N), N);
	/* Preshared keys per call: each is an open pipe. */
	fill_steps(st, 0, N, WG_ACTION_RECREATE, &with_psk);
	assert_int_equal(wg_batch_end(st, 0, N), WG_PSKS_PER_CALL);
	fill_steps(st, 10, 20, WG_ACTION_RECREATE, &without);
	assert_int_equal(wg_batch_end(st, 0, N), WG_PSKS_PER_CALL + 10);
	/* The largest calls fit argv: every peer with all its settings. */
	static struct wg_call c;
	static struct wg_want want = {.key_b64 = K1, .endpoint_text = "127.64.0.1:1"};
	struct wg_dump_peer full = {.allowed_ips = "10.0.0.1/32",
				    .persistent_keepalive_s = 25,
				    .has_preshared_key = true};
	struct wg_dump_peer no_psk = {.allowed_ips = "10.0.0.1/32", .persistent_keepalive_s = 25};
	for (size_t i = 0; i < N; i++)
		st[i].want = &want;
	fill_steps(st, 0, N, WG_ACTION_RECREATE, &full);
	assert_int_equal(wg_call_add(&c, "wg0", st, 0, wg_batch_end(st, 0, N)), WG_PSKS_PER_CALL);
	assert_int_equal(c.argc, 3 + WG_ARGS_PER_PEER * WG_PSKS_PER_CALL);
	assert_int_equal(c.n_psk, WG_PSKS_PER_CALL);
	fill_steps(st, WG_PSKS_PER_CALL, N, WG_ACTION_RECREATE, &no_psk);
	assert_int_equal(wg_call_add(&c, "wg0", st, 0, wg_batch_end(st, 0, N)), WG_PEERS_PER_CALL);
	assert_int_equal(c.argc,
			 3 + WG_ARGS_PER_PEER * WG_PSKS_PER_CALL +
				 (WG_ARGS_PER_PEER - 2) * (WG_PEERS_PER_CALL - WG_PSKS_PER_CALL));
	assert_string_equal(c.argv[c.argc - 1], "25");
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants),
		cmocka_unit_test(test_wants_malformed),
		cmocka_unit_test_setup_teardown(test_plan, plan_setup, plan_teardown),
		cmocka_unit_test_setup_teardown(test_remove_call, plan_setup, plan_teardown),
		cmocka_unit_test_setup_teardown(test_add_call, plan_setup, plan_teardown),
		cmocka_unit_test(test_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
