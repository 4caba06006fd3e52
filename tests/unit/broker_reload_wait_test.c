/* broker_reload_wait_test: the config barrier's rules (broker/reload_wait.c)
 * on a broker built by hand, no process, no socket: which components a
 * reload --wait waits for (one row per supervision state), which
 * ConfigApplied counts for which component (one row per malformed or
 * misdirected one), and the answer's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "state.pb-c.h"

#define EPOCH 0x1122334455667788ull
#define T0    (1000 * NS_PER_SEC)

struct fixture {
	struct broker b;
	struct msock_config cfg;
};

static struct child *add_child(struct broker *b, const char *name, const char *program)
{
	struct child *ch = &b->children[b->n_children++];

	memset(ch, 0, sizeof(*ch));
	snprintf(ch->comp.name, sizeof(ch->comp.name), "%s", name);
	snprintf(ch->comp.program, sizeof(ch->comp.program), "%s", program);
	ch->wanted = true;
	ch->pidfd = -1;
	ch->sup.state = SUP_RUNNING;
	ch->sup.ran = true;
	ch->sup.pid = 100 + (int)b->n_children;
	ch->sup.started_ns = T0;
	return ch;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->b.cfg = &f->cfg;
	f->cfg.supervise = CFG_SUPERVISE_BROKER;
	f->b.epoch = EPOCH;
	f->b.now_ns = T0 + 5 * NS_PER_SEC;
	f->b.config_gen = 3;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* One component in one situation, and what a wait for generation 3
 * makes of it. */
struct verdict_row {
	enum cfg_supervise supervise;
	enum sup_state st;
	bool ran, wanted, restart_after_stop;
	uint64_t applied_gen, applied_ns;
	enum broker_wait_verdict want;
};

#define R(sv, st, ran, wanted, ras, gen, at, want)                                          \
	{                                                                                   \
		CFG_SUPERVISE_##sv, SUP_##st, ran, wanted, ras, gen, at, BROKER_WAIT_##want \
	}
#define AFTER  (T0 + NS_PER_SEC) /* heard after this run started */
#define BEFORE (T0 - NS_PER_SEC) /* heard from the run before */

static const struct verdict_row verdicts[] = {
	/* under the broker */
	R(BROKER, RUNNING, true, true, false, 3, AFTER, DONE),
	R(BROKER, RUNNING, true, true, false, 4, AFTER, DONE), /* a later reload's */
	R(BROKER, RUNNING, true, true, false, 2, AFTER, PENDING),
	R(BROKER, RUNNING, true, true, false, 0, 0, PENDING),
	R(BROKER, RUNNING, true, true, false, 3, BEFORE, PENDING), /* the old process's */
	R(BROKER, BACKOFF, true, true, false, 3, AFTER, PENDING),  /* about to start */
	R(BROKER, STOPPING, true, true, true, 3, AFTER, PENDING),  /* restarting */
	R(BROKER, STOPPING, true, true, false, 3, AFTER, SKIPPED), /* stopping for good */
	R(BROKER, FAILED, true, true, false, 0, 0, SKIPPED),
	R(BROKER, STOPPED, false, true, false, 0, 0, SKIPPED),
	R(BROKER, RUNNING, true, false, false, 0, 0, GONE), /* a reload removed it */
	/* supervised from outside */
	R(EXTERNAL, RUNNING, true, true, false, 3, AFTER, DONE),
	R(EXTERNAL, RUNNING, true, true, false, 1, AFTER, PENDING),
	R(EXTERNAL, STOPPED, false, true, false, 0, 0, SKIPPED),    /* "waiting" */
	R(EXTERNAL, BACKOFF, true, true, false, 3, AFTER, SKIPPED), /* "exited" */
};

#undef R

static void test_verdicts(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		const struct verdict_row *r = &verdicts[i];
		struct child *ch;
		f->b.n_children = 0;
		ch = add_child(&f->b, "c", "testcomp");
		f->cfg.supervise = r->supervise;
		ch->sup.state = r->st;
		ch->sup.ran = r->ran;
		ch->wanted = r->wanted;
		ch->restart_after_stop = r->restart_after_stop;
		ch->applied_gen = r->applied_gen;
		ch->applied_ns = r->applied_ns;
		enum broker_wait_verdict got = broker_wait_verdict(&f->b, ch, 3);
		if (got != r->want)
			fail_msg("row %zu: verdict %d, want %d", i, (int)got, (int)r->want);
	}
}

static size_t applied_body(uint64_t epoch, uint64_t gen, uint8_t *buf)
{
	Msock__ConfigApplied m = MSOCK__CONFIG_APPLIED__INIT;

	m.epoch = epoch;
	m.generation = gen;
	return msock__config_applied__pack(&m, buf);
}

/* A ConfigApplied, and whether it counts for t2 (the others never). */
struct applied_row {
	const char *key;
	const uint8_t *body; /* NULL: applied_body(epoch, 7) */
	size_t len;
	uint64_t epoch;
	bool counts;
};

static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
static const uint8_t truncated[] = {0x08, 0x88}; /* field 1, varint cut short */

static const struct applied_row applied[] = {
	{"testcomp/t2", 0, 0, EPOCH, true},
	{"testcomp/t2", 0, 0, EPOCH + 1, false}, /* another broker's */
	{"testcomp/t2", 0, 0, 0, false},
	{"testcomp/t", 0, 0, EPOCH, false},   /* a prefix of the name */
	{"testcomp/t2x", 0, 0, EPOCH, false}, /* the name, and more */
	{"testcomp/t2/x", 0, 0, EPOCH, false},
	{"testcomp", 0, 0, EPOCH, false}, /* no name */
	{"testcomp/", 0, 0, EPOCH, false},
	{"dataplane/t2", 0, 0, EPOCH, false}, /* another program */
	{"testcompt2", 0, 0, EPOCH, false},
	{"", 0, 0, EPOCH, false},
	{"testcomp/t2", junk, sizeof(junk), EPOCH, false},
	{"testcomp/t2", truncated, sizeof(truncated), EPOCH, false},
	{"testcomp/t2", (const uint8_t *)"", 0, EPOCH, false}, /* empty: epoch 0 */
};

static void test_config_applied(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(applied) / sizeof(applied[0]); i++) {
		const struct applied_row *r = &applied[i];
		uint8_t buf[64];
		const uint8_t *body = r->body ? r->body : buf;
		size_t len = r->body ? r->len : applied_body(r->epoch, 7, buf);
		f->b.n_children = 0;
		struct child *tc = add_child(&f->b, "testcomp", "testcomp");
		struct child *t2 = add_child(&f->b, "t2", "testcomp");
		struct child *dp = add_child(&f->b, "dataplane", "dataplane");
		broker_config_applied(&f->b, r->key, body, len);
		if ((t2->applied_gen == 7) != r->counts || tc->applied_gen || dp->applied_gen)
			fail_msg("row %zu (%s): t2 at %llu, testcomp %llu, dataplane %llu", i,
				 r->key, (unsigned long long)t2->applied_gen,
				 (unsigned long long)tc->applied_gen,
				 (unsigned long long)dp->applied_gen);
		if (r->counts)
			assert_int_equal(t2->applied_ns, f->b.now_ns);
	}
}

static void test_report(void **state)
{
	struct fixture *f = *state;
	struct child *a, *b2, *c;
	char out[1024];

	f->b.n_children = 0;
	a = add_child(&f->b, "dataplane", "dataplane");
	b2 = add_child(&f->b, "t2", "testcomp");
	c = add_child(&f->b, "crashy", "testcomp");
	c->sup.state = SUP_FAILED;
	a->applied_gen = 3;
	a->applied_ns = AFTER;
	b2->applied_gen = 2;
	b2->applied_ns = AFTER;

	/* t2 is behind: no answer yet, then the one naming it. */
	assert_int_equal(broker_wait_report(&f->b, 3, "reloaded x", 2500, false, out, sizeof(out)),
			 1);
	assert_string_equal(out, "");
	assert_int_equal(broker_wait_report(&f->b, 3, "reloaded x", 2500, true, out, sizeof(out)),
			 1);
	assert_string_equal(out, "reloaded x (generation 3), but not applied within 2.5 s by: t2 "
				 "(running, pid 102, at generation 2); not running, not waited "
				 "for: crashy (failed)");

	/* Caught up. */
	b2->applied_gen = 3;
	assert_int_equal(broker_wait_report(&f->b, 3, "reloaded x", 2500, false, out, sizeof(out)),
			 0);
	assert_string_equal(out, "reloaded x; applied by every running component (generation "
				 "3): dataplane, t2; not running, not waited for: crashy (failed)");

	/* Nothing runs. */
	f->b.n_children = 0;
	assert_int_equal(broker_wait_report(&f->b, 3, "reloaded x", 2500, false, out, sizeof(out)),
			 0);
	assert_string_equal(out, "reloaded x; applied by every running component (generation 3): "
				 "none running");

	/* Cut to fit, still a string. */
	assert_int_equal(broker_wait_report(&f->b, 3, "reloaded x", 2500, false, out, 12), 0);
	assert_string_equal(out, "reloaded x;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verdicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}
