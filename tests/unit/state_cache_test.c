/* state_cache_test: the broker's state cache (broker/state_cache.h): last
 * value per (topic, key), per-topic sequence numbers, replay in the order of
 * the last change, prefix filters and the limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state_cache.h"

enum {
	REPLAY_MAX = 64,	/* entries a replay recorder keeps */
	ROUND_TRIP_KEYS = 10000 /* the netmap size the design aims at */
};

/* What state_cache_foreach handed out, in order. */
struct replay {
	char topic[REPLAY_MAX][64];
	char key[REPLAY_MAX][64];
	uint64_t seq[REPLAY_MAX];
	size_t n;
};

static void record(void *arg, const struct state_entry *e)
{
	struct replay *r = arg;

	assert_true(r->n < REPLAY_MAX);
	snprintf(r->topic[r->n], sizeof(r->topic[0]), "%s", e->topic);
	snprintf(r->key[r->n], sizeof(r->key[0]), "%s", e->key);
	r->seq[r->n] = e->seq;
	r->n++;
}

static void record_topic(void *arg, const char *topic, uint64_t seq)
{
	struct replay *r = arg;

	assert_true(r->n < REPLAY_MAX);
	snprintf(r->topic[r->n], sizeof(r->topic[0]), "%s", topic);
	r->seq[r->n] = seq;
	r->n++;
}

static void count_entries(void *arg, const struct state_entry *e)
{
	(void)e;
	(*(size_t *)arg)++;
}

/* Sets a NUL-terminated string value; returns state_cache_set's result. */
static int set_str(struct state_cache *sc, const char *topic, const char *key, const char *val,
		   uint64_t *seq)
{
	return state_cache_set(sc, topic, key, (const uint8_t *)val, strlen(val), seq);
}

static void assert_value(const struct state_cache *sc, const char *topic, const char *key,
			 const char *val)
{
	const struct state_entry *e = state_cache_get(sc, topic, key);

	assert_non_null(e);
	assert_string_equal(e->topic, topic);
	assert_string_equal(e->key, key);
	assert_int_equal(e->len, strlen(val));
	assert_memory_equal(e->body, val, strlen(val));
}

static void assert_replay(const struct state_cache *sc, const char *prefix, const char *const *keys,
			  size_t n)
{
	struct replay r = {0};

	state_cache_foreach(sc, prefix, record, &r);
	assert_int_equal(r.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(r.key[i], keys[i]);
}

static int setup(void **state)
{
	*state = state_cache_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	state_cache_free(*state);
	return 0;
}

static void test_set_get(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 0;

	assert_null(state_cache_get(sc, "Prefs", "self"));
	assert_int_equal(state_cache_count(sc), 0);
	assert_int_equal(set_str(sc, "Prefs", "self", "abc", &seq), 1);
	assert_int_equal(seq, 1);
	assert_value(sc, "Prefs", "self", "abc");
	assert_int_equal(state_cache_get(sc, "Prefs", "self")->seq, 1);
	assert_int_equal(state_cache_count(sc), 1);
	/* Same key, other topic; same topic, other key: both distinct. */
	assert_null(state_cache_get(sc, "DERPMap", "self"));
	assert_null(state_cache_get(sc, "Prefs", "other"));
}

static void test_body_is_copied(void **state)
{
	struct state_cache *sc = *state;
	char buf[] = "value";

	assert_int_equal(set_str(sc, "Prefs", "self", buf, NULL), 1);
	buf[0] = 'X';
	assert_value(sc, "Prefs", "self", "value");
}

static void test_last_value_wins(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 0;

	assert_int_equal(set_str(sc, "DERPMap", "1", "one", &seq), 1);
	assert_int_equal(seq, 1);
	assert_int_equal(set_str(sc, "DERPMap", "1", "uno", &seq), 1);
	assert_int_equal(seq, 2);
	assert_value(sc, "DERPMap", "1", "uno");
	/* A shorter and a longer value replace it too. */
	assert_int_equal(set_str(sc, "DERPMap", "1", "u", &seq), 1);
	assert_value(sc, "DERPMap", "1", "u");
	assert_int_equal(set_str(sc, "DERPMap", "1", "a much longer value", &seq), 1);
	assert_int_equal(seq, 4);
	assert_value(sc, "DERPMap", "1", "a much longer value");
	assert_int_equal(state_cache_get(sc, "DERPMap", "1")->seq, 4);
	assert_int_equal(state_cache_count(sc), 1);
}

static void test_identical_value_is_not_a_change(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 0;

	assert_int_equal(set_str(sc, "Prefs", "self", "same", &seq), 1);
	assert_int_equal(seq, 1);
	seq = 777;
	assert_int_equal(set_str(sc, "Prefs", "self", "same", &seq), 0);
	assert_int_equal(state_cache_topic_seq(sc, "Prefs"), 1);
	assert_int_equal(state_cache_get(sc, "Prefs", "self")->seq, 1);
	/* Same length, different bytes: a change. */
	assert_int_equal(set_str(sc, "Prefs", "self", "sama", &seq), 1);
	assert_int_equal(seq, 2);
	assert_int_equal(state_cache_topic_seq(sc, "Prefs"), 2);
}

static void test_identical_value_keeps_replay_position(void **state)
{
	struct state_cache *sc = *state;
	static const char *const order[] = {"a", "b"};

	assert_int_equal(set_str(sc, "T", "a", "1", NULL), 1);
	assert_int_equal(set_str(sc, "T", "b", "2", NULL), 1);
	assert_int_equal(set_str(sc, "T", "a", "1", NULL), 0);
	assert_replay(sc, "", order, 2);
}

static void test_sequence_per_topic(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 0;

	assert_int_equal(state_cache_topic_seq(sc, "A"), 0);
	assert_int_equal(set_str(sc, "A", "k1", "x", &seq), 1);
	assert_int_equal(seq, 1);
	assert_int_equal(set_str(sc, "A", "k2", "x", &seq), 1);
	assert_int_equal(seq, 2);
	assert_int_equal(set_str(sc, "B", "k1", "x", &seq), 1);
	assert_int_equal(seq, 1);
	assert_int_equal(set_str(sc, "A", "k1", "y", &seq), 1);
	assert_int_equal(seq, 3);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 3);
	assert_int_equal(state_cache_topic_seq(sc, "B"), 1);
	assert_int_equal(state_cache_topic_seq(sc, "C"), 0);
	assert_int_equal(state_cache_get(sc, "A", "k2")->seq, 2);
	assert_int_equal(state_cache_get(sc, "A", "k1")->seq, 3);
	assert_int_equal(state_cache_get(sc, "B", "k1")->seq, 1);
}

static void test_delete_bumps_sequence(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 0;

	assert_int_equal(set_str(sc, "A", "k1", "x", &seq), 1);
	assert_int_equal(set_str(sc, "B", "k1", "x", &seq), 1);
	assert_int_equal(state_cache_del(sc, "A", "k1", &seq), 1);
	assert_int_equal(seq, 2);
	assert_null(state_cache_get(sc, "A", "k1"));
	assert_non_null(state_cache_get(sc, "B", "k1"));
	assert_int_equal(state_cache_topic_seq(sc, "A"), 2);
	assert_int_equal(state_cache_topic_seq(sc, "B"), 1);
	assert_int_equal(state_cache_count(sc), 1);
	/* Without a seq pointer the sequence still moves. */
	assert_int_equal(set_str(sc, "A", "k1", "x", &seq), 1);
	assert_int_equal(seq, 3);
	assert_int_equal(state_cache_del(sc, "A", "k1", NULL), 1);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 4);
	/* Set again after a delete: a new change with the next number. */
	assert_int_equal(set_str(sc, "A", "k1", "x", &seq), 1);
	assert_int_equal(seq, 5);
}

static void test_delete_missing(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 99;

	/* Unknown topic. */
	assert_int_equal(state_cache_del(sc, "A", "k1", &seq), 0);
	assert_int_equal(seq, 99);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 0);
	/* Known topic, unknown key; and a key deleted twice. */
	assert_int_equal(set_str(sc, "A", "k1", "x", NULL), 1);
	assert_int_equal(state_cache_del(sc, "A", "nope", &seq), 0);
	assert_int_equal(seq, 99);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 1);
	assert_int_equal(state_cache_del(sc, "A", "k1", &seq), 1);
	assert_int_equal(seq, 2);
	assert_int_equal(state_cache_del(sc, "A", "k1", &seq), 0);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 2);
	/* The key of another topic is not this topic's key. */
	assert_int_equal(set_str(sc, "B", "k2", "x", NULL), 1);
	assert_int_equal(state_cache_del(sc, "A", "k2", NULL), 0);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 2);
	assert_non_null(state_cache_get(sc, "B", "k2"));
}

static void test_replay_order(void **state)
{
	struct state_cache *sc = *state;
	static const char *const first[] = {"a", "b", "c", "d"};
	static const char *const moved[] = {"a", "c", "d", "b"};
	static const char *const deleted[] = {"a", "d", "b"};
	static const char *const readded[] = {"a", "d", "b", "c"};
	struct replay r = {0};

	assert_int_equal(set_str(sc, "T", "a", "1", NULL), 1);
	assert_int_equal(set_str(sc, "U", "b", "1", NULL), 1);
	assert_int_equal(set_str(sc, "T", "c", "1", NULL), 1);
	assert_int_equal(set_str(sc, "U", "d", "1", NULL), 1);
	assert_replay(sc, "", first, 4);
	/* An update moves the key to the end. */
	assert_int_equal(set_str(sc, "U", "b", "2", NULL), 1);
	assert_replay(sc, "", moved, 4);
	assert_int_equal(set_str(sc, "T", "c", "2", NULL), 1);
	assert_int_equal(state_cache_del(sc, "T", "c", NULL), 1);
	assert_replay(sc, "", deleted, 3);
	assert_int_equal(set_str(sc, "T", "c", "3", NULL), 1);
	assert_replay(sc, "", readded, 4);
	/* The entries carry their topic and sequence number. */
	state_cache_foreach(sc, "", record, &r);
	assert_string_equal(r.topic[0], "T");
	assert_string_equal(r.topic[1], "U");
	assert_int_equal(r.seq[1], 2); /* U/d: U's second change */
	assert_int_equal(r.seq[2], 3); /* U/b updated: U's third */
	assert_int_equal(r.seq[3], 5); /* T/c: set, set, del, set after T/a */
}

static void test_foreach_prefix(void **state)
{
	struct state_cache *sc = *state;
	static const char *const node[] = {"n1", "n2"};
	static const char *const all[] = {"n1", "d1", "n2", "m1"};
	static const char *const exact[] = {"d1"};

	assert_int_equal(set_str(sc, "NodeViewsUpdate", "n1", "1", NULL), 1);
	assert_int_equal(set_str(sc, "DERPMap", "d1", "1", NULL), 1);
	assert_int_equal(set_str(sc, "NodeViewsUpdate", "n2", "1", NULL), 1);
	assert_int_equal(set_str(sc, "NodeMutations", "m1", "1", NULL), 1);
	assert_replay(sc, "NodeV", node, 2);
	assert_replay(sc, "", all, 4);
	assert_replay(sc, "DERPMap", exact, 1);
	assert_replay(sc, "X", NULL, 0);
	/* A prefix longer than the topic does not match it. */
	assert_replay(sc, "DERPMapX", NULL, 0);
	/* Prefix matching is case-sensitive. */
	assert_replay(sc, "derp", NULL, 0);
}

static void test_foreach_topic_prefix(void **state)
{
	struct state_cache *sc = *state;
	struct replay r = {0};
	bool seen_a = false, seen_b = false;

	assert_int_equal(set_str(sc, "TestCounter", "k", "1", NULL), 1);
	assert_int_equal(set_str(sc, "TestCounter", "k", "2", NULL), 1);
	assert_int_equal(set_str(sc, "TestOther", "k", "1", NULL), 1);
	assert_int_equal(set_str(sc, "Prefs", "self", "1", NULL), 1);
	state_cache_foreach_topic(sc, "Test", record_topic, &r);
	assert_int_equal(r.n, 2);
	for (size_t i = 0; i < r.n; i++) {
		if (strcmp(r.topic[i], "TestCounter") == 0) {
			assert_int_equal(r.seq[i], 2);
			seen_a = true;
		} else if (strcmp(r.topic[i], "TestOther") == 0) {
			assert_int_equal(r.seq[i], 1);
			seen_b = true;
		}
	}
	assert_true(seen_a && seen_b);
	r.n = 0;
	state_cache_foreach_topic(sc, "", record_topic, &r);
	assert_int_equal(r.n, 3);
	r.n = 0;
	state_cache_foreach_topic(sc, "Prefsx", record_topic, &r);
	assert_int_equal(r.n, 0);
	r.n = 0;
	state_cache_foreach_topic(sc, "Prefs", record_topic, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.topic[0], "Prefs");
	assert_int_equal(r.seq[0], 1);
}

static void test_topic_keeps_sequence_when_empty(void **state)
{
	struct state_cache *sc = *state;
	struct replay r = {0};

	assert_int_equal(set_str(sc, "A", "k", "1", NULL), 1);
	assert_int_equal(state_cache_del(sc, "A", "k", NULL), 1);
	assert_int_equal(state_cache_count(sc), 0);
	/* No entries, but the topic's number lives on for subscribers. */
	state_cache_foreach_topic(sc, "", record_topic, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.topic[0], "A");
	assert_int_equal(r.seq[0], 2);
}

static void test_zero_length_body(void **state)
{
	struct state_cache *sc = *state;
	static const uint8_t empty[1] = {0};
	uint64_t seq = 0;
	const struct state_entry *e;

	assert_int_equal(state_cache_set(sc, "A", "k", empty, 0, &seq), 1);
	assert_int_equal(seq, 1);
	e = state_cache_get(sc, "A", "k");
	assert_non_null(e);
	assert_int_equal(e->len, 0);
	/* Empty again: identical, no change. */
	assert_int_equal(state_cache_set(sc, "A", "k", empty, 0, &seq), 0);
	assert_int_equal(state_cache_topic_seq(sc, "A"), 1);
	/* Empty -> one zero byte is a change, and back. */
	assert_int_equal(state_cache_set(sc, "A", "k", empty, 1, &seq), 1);
	assert_int_equal(state_cache_get(sc, "A", "k")->len, 1);
	assert_int_equal(state_cache_set(sc, "A", "k", empty, 0, &seq), 1);
	assert_int_equal(seq, 3);
	assert_int_equal(state_cache_get(sc, "A", "k")->len, 0);
	/* An empty key is a key like any other. */
	assert_int_equal(set_str(sc, "A", "", "v", &seq), 1);
	assert_value(sc, "A", "", "v");
}

/* An empty body given as (NULL, 0), as callers holding "no bytes" do. */
static void test_zero_length_body_null(void **state)
{
	struct state_cache *sc = *state;
	uint64_t seq = 0;

	assert_int_equal(state_cache_set(sc, "A", "k", NULL, 0, &seq), 1);
	assert_int_equal(seq, 1);
	assert_int_equal(state_cache_get(sc, "A", "k")->len, 0);
	assert_int_equal(state_cache_set(sc, "A", "k", NULL, 0, &seq), 0);
}

static void test_count(void **state)
{
	struct state_cache *sc = *state;

	assert_int_equal(state_cache_count(sc), 0);
	assert_int_equal(set_str(sc, "A", "1", "x", NULL), 1);
	assert_int_equal(set_str(sc, "A", "2", "x", NULL), 1);
	assert_int_equal(set_str(sc, "B", "1", "x", NULL), 1);
	assert_int_equal(state_cache_count(sc), 3);
	/* Updates and identical sets do not add. */
	assert_int_equal(set_str(sc, "A", "1", "y", NULL), 1);
	assert_int_equal(set_str(sc, "A", "2", "x", NULL), 0);
	assert_int_equal(state_cache_count(sc), 3);
	assert_int_equal(state_cache_del(sc, "A", "1", NULL), 1);
	assert_int_equal(state_cache_del(sc, "A", "1", NULL), 0);
	assert_int_equal(state_cache_count(sc), 2);
}

static void test_max_keys(void **state)
{
	struct state_cache *sc = *state;
	char key[32];
	uint64_t seq = 0;
	size_t n = 0;

	for (int i = 0; i < STATE_CACHE_MAX_KEYS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(state_cache_set(sc, "A", key, (const uint8_t *)"v", 1, NULL), 1);
	}
	assert_int_equal(state_cache_count(sc), STATE_CACHE_MAX_KEYS);
	assert_int_equal(state_cache_topic_seq(sc, "A"), STATE_CACHE_MAX_KEYS);
	/* One more key is refused, in this topic or another one already
	 * known, and nothing changes. */
	assert_int_equal(set_str(sc, "A", "one-too-many", "v", &seq), -ENOSPC);
	assert_null(state_cache_get(sc, "A", "one-too-many"));
	assert_int_equal(state_cache_count(sc), STATE_CACHE_MAX_KEYS);
	assert_int_equal(state_cache_topic_seq(sc, "A"), STATE_CACHE_MAX_KEYS);
	/* Existing keys can still be updated at the limit. */
	assert_int_equal(set_str(sc, "A", "k0", "w", &seq), 1);
	assert_int_equal(seq, STATE_CACHE_MAX_KEYS + 1);
	/* A deletion makes room for exactly one. */
	assert_int_equal(state_cache_del(sc, "A", "k1", NULL), 1);
	assert_int_equal(set_str(sc, "A", "one-too-many", "v", NULL), 1);
	assert_int_equal(set_str(sc, "A", "two-too-many", "v", NULL), -ENOSPC);
	state_cache_foreach(sc, "", count_entries, &n);
	assert_int_equal(n, STATE_CACHE_MAX_KEYS);
}

static void test_refused_set_leaves_no_topic(void **state)
{
	struct state_cache *sc = *state;
	struct replay r = {0};
	char key[32];

	for (int i = 0; i < STATE_CACHE_MAX_KEYS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(state_cache_set(sc, "A", key, (const uint8_t *)"v", 1, NULL), 1);
	}
	/* A new topic's first key past the limit: refused, and the cache is
	 * as it was: no topic "B" to heartbeat or to use up a topic slot. */
	assert_int_equal(set_str(sc, "B", "k", "v", NULL), -ENOSPC);
	assert_null(state_cache_get(sc, "B", "k"));
	assert_int_equal(state_cache_topic_seq(sc, "B"), 0);
	state_cache_foreach_topic(sc, "", record_topic, &r);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.topic[0], "A");
}

static void test_max_topics(void **state)
{
	struct state_cache *sc = *state;
	char topic[32];
	struct replay r = {0};

	for (int i = 0; i < STATE_CACHE_MAX_TOPICS; i++) {
		snprintf(topic, sizeof(topic), "Topic%d", i);
		assert_int_equal(set_str(sc, topic, "k", "v", NULL), 1);
	}
	assert_int_equal(set_str(sc, "OneTooMany", "k", "v", NULL), -ENOSPC);
	assert_null(state_cache_get(sc, "OneTooMany", "k"));
	assert_int_equal(state_cache_topic_seq(sc, "OneTooMany"), 0);
	assert_int_equal(state_cache_count(sc), STATE_CACHE_MAX_TOPICS);
	/* Known topics still take new keys. */
	assert_int_equal(set_str(sc, "Topic0", "k2", "v", NULL), 1);
	assert_int_equal(state_cache_topic_seq(sc, "Topic0"), 2);
	state_cache_foreach_topic(sc, "", record_topic, &r);
	assert_int_equal(r.n, STATE_CACHE_MAX_TOPICS);
	/* A topic emptied by deletes keeps its slot (its number must last). */
	assert_int_equal(state_cache_del(sc, "Topic1", "k", NULL), 1);
	assert_int_equal(set_str(sc, "OneTooMany", "k", "v", NULL), -ENOSPC);
}

static void test_round_trip_10000(void **state)
{
	struct state_cache *sc = *state;
	char key[72], val[48];
	uint64_t seq;
	size_t n = 0;

	for (int i = 0; i < ROUND_TRIP_KEYS; i++) {
		snprintf(key, sizeof(key), "%064x", i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		assert_int_equal(set_str(sc, "NodeViewsUpdate", key, val, &seq), 1);
		assert_int_equal(seq, (uint64_t)i + 1);
		assert_int_equal(set_str(sc, "PathChanged", key, val, NULL), 1);
	}
	assert_int_equal(state_cache_count(sc), 2 * ROUND_TRIP_KEYS);
	for (int i = 0; i < ROUND_TRIP_KEYS; i++) {
		snprintf(key, sizeof(key), "%064x", i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		assert_value(sc, "NodeViewsUpdate", key, val);
		assert_value(sc, "PathChanged", key, val);
		assert_int_equal(state_cache_get(sc, "NodeViewsUpdate", key)->seq, (uint64_t)i + 1);
	}
	state_cache_foreach(sc, "NodeViews", count_entries, &n);
	assert_int_equal(n, ROUND_TRIP_KEYS);
	/* Delete every other key of one topic; the rest is untouched. */
	for (int i = 0; i < ROUND_TRIP_KEYS; i += 2) {
		snprintf(key, sizeof(key), "%064x", i);
		assert_int_equal(state_cache_del(sc, "NodeViewsUpdate", key, NULL), 1);
	}
	for (int i = 0; i < ROUND_TRIP_KEYS; i++) {
		snprintf(key, sizeof(key), "%064x", i);
		if (i % 2)
			assert_non_null(state_cache_get(sc, "NodeViewsUpdate", key));
		else
			assert_null(state_cache_get(sc, "NodeViewsUpdate", key));
		assert_non_null(state_cache_get(sc, "PathChanged", key));
	}
	assert_int_equal(state_cache_count(sc), ROUND_TRIP_KEYS + ROUND_TRIP_KEYS / 2);
	assert_int_equal(state_cache_topic_seq(sc, "NodeViewsUpdate"),
			 ROUND_TRIP_KEYS + ROUND_TRIP_KEYS / 2);
}

static void test_free_with_entries(void **state)
{
	struct state_cache *sc = state_cache_new();

	(void)state;
	assert_non_null(sc);
	for (int i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(set_str(sc, i % 2 ? "A" : "B", key, "some body", NULL), 1);
	}
	assert_int_equal(state_cache_del(sc, "B", "k0", NULL), 1);
	assert_int_equal(set_str(sc, "A", "k1", "another body", NULL), 1);
	/* ASan's leak check at exit says whether everything went. */
	state_cache_free(sc);
	state_cache_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_is_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_value_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identical_value_is_not_a_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_identical_value_keeps_replay_position, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sequence_per_topic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_bumps_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach_topic_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_keeps_sequence_when_empty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_set_leaves_no_topic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_topics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_10000, setup, teardown),
		cmocka_unit_test(test_free_with_entries),
		/* Last: if UBSan stops the program here, the rest have run. */
		cmocka_unit_test_setup_teardown(test_zero_length_body_null, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
