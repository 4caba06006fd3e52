/* state_cache: a chained hash over (topic, key) plus a doubly linked list in
 * change order; see state_cache.h. */
#include "state_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	STATE_CACHE_BUCKETS_LOG2 = 16, /* the broker's: chains stay short up to the key limit */
	STATE_CACHE_BUCKETS_LOG2_MAX = 20,
	STATE_TOPIC_NAME_MAX = 48,
};

struct topic_seq {
	char name[STATE_TOPIC_NAME_MAX + 1];
	uint64_t seq;
};

struct state_cache {
	struct state_entry **buckets;
	size_t mask; /* buckets - 1 */
	struct state_entry *head, *tail;
	size_t count;
	struct topic_seq topics[STATE_CACHE_MAX_TOPICS];
	size_t n_topics;
};

struct state_cache *state_cache_new_sized(unsigned buckets_log2)
{
	struct state_cache *sc;

	if (buckets_log2 > STATE_CACHE_BUCKETS_LOG2_MAX)
		return 0;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return 0;
	sc->mask = ((size_t)1 << buckets_log2) - 1;
	sc->buckets = calloc(sc->mask + 1, sizeof(*sc->buckets));
	if (!sc->buckets) {
		free(sc);
		return 0;
	}
	return sc;
}

struct state_cache *state_cache_new(void)
{
	return state_cache_new_sized(STATE_CACHE_BUCKETS_LOG2);
}

static void entry_free(struct state_entry *e)
{
	free(e->key);
	free(e->body);
	free(e);
}

void state_cache_free(struct state_cache *sc)
{
	struct state_entry *e, *next;

	if (!sc)
		return;
	for (e = sc->head; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(sc->buckets);
	free(sc);
}

/* FNV-1a over topic, a separator and key. */
static size_t hash(const struct state_cache *sc, const char *topic, const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = topic; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)h & sc->mask;
}

static struct topic_seq *topic_get(struct state_cache *sc, const char *topic, bool create)
{
	for (size_t i = 0; i < sc->n_topics; i++)
		if (strcmp(sc->topics[i].name, topic) == 0)
			return &sc->topics[i];
	if (!create || sc->n_topics == STATE_CACHE_MAX_TOPICS ||
	    strlen(topic) > STATE_TOPIC_NAME_MAX)
		return 0;
	struct topic_seq *t = &sc->topics[sc->n_topics++];
	strcpy(t->name, topic);
	t->seq = 0;
	return t;
}

static struct state_entry **find(const struct state_cache *sc, const char *topic, const char *key)
{
	struct state_entry **pp = &sc->buckets[hash(sc, topic, key)];

	for (; *pp; pp = &(*pp)->hnext)
		if (strcmp((*pp)->topic, topic) == 0 && strcmp((*pp)->key, key) == 0)
			return pp;
	return pp;
}

static void list_unlink(struct state_cache *sc, struct state_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		sc->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		sc->tail = e->prev;
	e->prev = e->next = 0;
}

static void list_append(struct state_cache *sc, struct state_entry *e)
{
	e->prev = sc->tail;
	e->next = 0;
	if (sc->tail)
		sc->tail->next = e;
	else
		sc->head = e;
	sc->tail = e;
}

int state_cache_set(struct state_cache *sc, const char *topic, const char *key, const uint8_t *body,
		    size_t len, uint64_t *seq)
{
	struct state_entry **pp = find(sc, topic, key), *e = *pp;
	struct topic_seq *ts;
	uint8_t *copy;

	if (e && e->len == len && (len == 0 || memcmp(e->body, body, len) == 0))
		return 0;
	/* Check every limit before changing anything: a refused set leaves
	 * no trace (not even an empty topic). */
	if (!e && sc->count >= STATE_CACHE_MAX_KEYS)
		return -ENOSPC;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, body, len);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->key = strdup(key))) {
			free(e);
			free(copy);
			return -ENOMEM;
		}
	}
	ts = topic_get(sc, topic, true);
	if (!ts) {
		if (!*pp) {
			free(e->key);
			free(e);
		}
		free(copy);
		return -ENOSPC;
	}
	if (!*pp) {
		e->topic = ts->name;
		*pp = e;
		sc->count++;
	} else {
		list_unlink(sc, e);
		free(e->body);
	}
	e->body = copy;
	e->len = len;
	e->seq = ++ts->seq;
	list_append(sc, e);
	if (seq)
		*seq = e->seq;
	return 1;
}

int state_cache_del(struct state_cache *sc, const char *topic, const char *key, uint64_t *seq)
{
	struct topic_seq *ts = topic_get(sc, topic, false);
	struct state_entry **pp, *e;

	if (!ts)
		return 0;
	pp = find(sc, topic, key);
	e = *pp;
	if (!e)
		return 0;
	*pp = e->hnext;
	list_unlink(sc, e);
	entry_free(e);
	sc->count--;
	if (seq)
		*seq = ++ts->seq;
	else
		++ts->seq;
	return 1;
}

const struct state_entry *state_cache_get(const struct state_cache *sc, const char *topic,
					  const char *key)
{
	return *find(sc, topic, key);
}

uint64_t state_cache_topic_seq(const struct state_cache *sc, const char *topic)
{
	for (size_t i = 0; i < sc->n_topics; i++)
		if (strcmp(sc->topics[i].name, topic) == 0)
			return sc->topics[i].seq;
	return 0;
}

size_t state_cache_count(const struct state_cache *sc)
{
	return sc->count;
}

void state_cache_foreach(const struct state_cache *sc, const char *prefix,
			 void (*fn)(void *arg, const struct state_entry *e), void *arg)
{
	size_t pl = strlen(prefix);

	for (const struct state_entry *e = sc->head; e; e = e->next)
		if (strncmp(e->topic, prefix, pl) == 0)
			fn(arg, e);
}

void state_cache_foreach_topic(const struct state_cache *sc, const char *prefix,
			       void (*fn)(void *arg, const char *topic, uint64_t seq), void *arg)
{
	size_t pl = strlen(prefix);

	for (size_t i = 0; i < sc->n_topics; i++)
		if (strncmp(sc->topics[i].name, prefix, pl) == 0)
			fn(arg, sc->topics[i].name, sc->topics[i].seq);
}
