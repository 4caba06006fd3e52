/* keymap: a small open-addressing hash map from fixed-length byte keys to
 * uint32 values (peer indexes: the dataplane's forwarding table, disco's
 * peers). Linear probing with backward-shift deletion; grows at 1/2 load. */
#ifndef MSOCK_KEYMAP_H
#define MSOCK_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What keymap_get returns for a missing key; never a value. */
#define KEYMAP_ABSENT UINT32_MAX

struct keymap {
	uint8_t *slots;
	uint32_t cap, n; /* cap is a power of two (0 before the first insert) */
	uint16_t klen, stride;
};

void keymap_init(struct keymap *m, uint16_t klen);
void keymap_free(struct keymap *m); /* the map is empty after, and usable */
/* Returns the value, or KEYMAP_ABSENT. */
uint32_t keymap_get(const struct keymap *m, const void *key);
/* Insert or replace. Returns 0, -EINVAL for the value UINT32_MAX, or
 * -ENOMEM (the map is unchanged). The load is checked before the key is
 * looked for, so a replace can grow the map (and fail) too; but the first
 * put after a keymap_del that found its key never allocates. */
int keymap_put(struct keymap *m, const void *key, uint32_t val);
/* Whether the key was there; never allocates. */
bool keymap_del(struct keymap *m, const void *key);
size_t keymap_bytes(const struct keymap *m);

#endif
