/* state_cache: the broker's cache of state topics (zguide clone pattern),
 * and each component's record of the state it set (lib/bus.c, which
 * re-publishes it to a restarted broker):
 * the last value per (topic, key), a sequence number per topic that goes up
 * with every change (deletions too), and replay in the order of the last
 * change. Identical values do not count as changes, so republishing the
 * whole config publishes only what changed. */
#ifndef MSOCK_STATE_CACHE_H
#define MSOCK_STATE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* 10,000 peers x (NodeViewsUpdate, PathChanged) + regions + the rest,
	 * with room to spare; past it a set is refused and logged. */
	STATE_CACHE_MAX_KEYS = 200000,
	STATE_CACHE_MAX_TOPICS = 64,
};

struct state_entry {
	const char *topic; /* points into the cache's topic table */
	char *key;
	uint8_t *body;
	size_t len;
	uint64_t seq;			 /* the topic's sequence number at the last change */
	struct state_entry *hnext;	 /* hash chain */
	struct state_entry *prev, *next; /* change order, oldest first */
};

struct state_cache;

/* The broker's: 2^16 hash buckets. */
struct state_cache *state_cache_new(void);
/* 2^buckets_log2 buckets (at most 2^20), for a smaller cache. */
struct state_cache *state_cache_new_sized(unsigned buckets_log2);
void state_cache_free(struct state_cache *sc);

/* Sets (topic, key) to body. Returns 1 when the value changed (*seq gets the
 * topic's new sequence number), 0 when it was identical (nothing to
 * publish), or -ENOSPC / -ENOMEM. */
int state_cache_set(struct state_cache *sc, const char *topic, const char *key, const uint8_t *body,
		    size_t len, uint64_t *seq);
/* Deletes (topic, key). Returns 1 when it existed (*seq as above), else 0. */
int state_cache_del(struct state_cache *sc, const char *topic, const char *key, uint64_t *seq);
const struct state_entry *state_cache_get(const struct state_cache *sc, const char *topic,
					  const char *key);
/* The topic's sequence number (0 if never changed). */
uint64_t state_cache_topic_seq(const struct state_cache *sc, const char *topic);
size_t state_cache_count(const struct state_cache *sc);

/* Calls fn for each entry whose topic starts with prefix, oldest change
 * first. fn must not modify the cache. */
void state_cache_foreach(const struct state_cache *sc, const char *prefix,
			 void (*fn)(void *arg, const struct state_entry *e), void *arg);
/* Calls fn for every topic that has a sequence number and starts with prefix. */
void state_cache_foreach_topic(const struct state_cache *sc, const char *prefix,
			       void (*fn)(void *arg, const char *topic, uint64_t seq), void *arg);

#endif
