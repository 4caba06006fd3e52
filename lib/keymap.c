/* keymap: open addressing with linear probing and backward-shift deletion
 * (no tombstones, so lookups stay short however many peers come and go).
 * A slot is [value:4][key:klen], value UINT32_MAX = empty. The hash is
 * FNV-1a over the key: keys are public keys and addresses from our own
 * config and disco, not chosen by strangers to collide. */
#include "keymap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { KEYMAP_EMPTY = UINT32_MAX };

static uint32_t hash(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h ^ (h >> 15);
}

static uint8_t *slot(const struct keymap *m, uint32_t i)
{
	return m->slots + (size_t)i * m->stride;
}

static uint32_t slot_val(const uint8_t *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

void keymap_init(struct keymap *m, uint16_t klen)
{
	memset(m, 0, sizeof(*m));
	m->klen = klen;
	m->stride = (uint16_t)((4 + klen + 3) & ~3u);
}

void keymap_free(struct keymap *m)
{
	free(m->slots);
	m->slots = 0;
	m->cap = m->n = 0;
}

size_t keymap_bytes(const struct keymap *m)
{
	return (size_t)m->cap * m->stride;
}

uint32_t keymap_get(const struct keymap *m, const void *key)
{
	if (!m->cap)
		return KEYMAP_EMPTY;
	for (uint32_t i = hash(key, m->klen) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const uint8_t *s = slot(m, i);
		uint32_t v = slot_val(s);
		if (v == KEYMAP_EMPTY)
			return KEYMAP_EMPTY;
		if (memcmp(s + 4, key, m->klen) == 0)
			return v;
	}
}

static void raw_put(struct keymap *m, const uint8_t *key, uint32_t val)
{
	for (uint32_t i = hash(key, m->klen) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		uint8_t *s = slot(m, i);
		uint32_t v = slot_val(s);
		if (v == KEYMAP_EMPTY || memcmp(s + 4, key, m->klen) == 0) {
			if (v == KEYMAP_EMPTY)
				m->n++;
			memcpy(s, &val, 4);
			memcpy(s + 4, key, m->klen);
			return;
		}
	}
}

static int grow(struct keymap *m)
{
	uint32_t old_cap = m->cap, cap = old_cap ? old_cap * 2 : 16;
	uint8_t *old = m->slots, *n = malloc((size_t)cap * m->stride);

	if (!n || cap < old_cap) {
		free(n);
		return -ENOMEM;
	}
	memset(n, 0xff, (size_t)cap * m->stride);
	m->slots = n;
	m->cap = cap;
	m->n = 0;
	for (uint32_t i = 0; i < old_cap; i++) {
		const uint8_t *s = old + (size_t)i * m->stride;
		if (slot_val(s) != KEYMAP_EMPTY)
			raw_put(m, s + 4, slot_val(s));
	}
	free(old);
	return 0;
}

int keymap_put(struct keymap *m, const void *key, uint32_t val)
{
	if (val == KEYMAP_EMPTY)
		return -EINVAL;
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -ENOMEM;
	raw_put(m, key, val);
	return 0;
}

bool keymap_del(struct keymap *m, const void *key)
{
	uint32_t mask = m->cap - 1, i, j;

	if (!m->cap)
		return false;
	for (i = hash(key, m->klen) & mask;; i = (i + 1) & mask) {
		const uint8_t *s = slot(m, i);
		if (slot_val(s) == KEYMAP_EMPTY)
			return false;
		if (memcmp(s + 4, key, m->klen) == 0)
			break;
	}
	/* Backward shift: move later members of the cluster into the hole
	 * when their home slot is not between the hole and where they are. */
	for (j = (i + 1) & mask;; j = (j + 1) & mask) {
		uint8_t *s = slot(m, j);
		uint32_t home;
		if (slot_val(s) == KEYMAP_EMPTY)
			break;
		home = hash(s + 4, m->klen) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			memcpy(slot(m, i), s, m->stride);
			i = j;
		}
	}
	memset(slot(m, i), 0xff, m->stride);
	m->n--;
	return true;
}
