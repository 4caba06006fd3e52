/* keymap_test: the hash map of lib/keymap.c (the dataplane's forwarding
 * table and disco's peers use it): empty, replace, the value UINT32_MAX
 * refused, each key length we use, growth, and random operations checked
 * against a plain array after every deletion (backward shifting). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_rand.h"
#include "keymap.h"

enum {
	ABSENT = UINT32_MAX, /* what keymap_get returns for a missing key */
	RANDOM_OPS = 20000,  /* operations per randomized map run */
	/* The dataplane's address key (struct dp_addrkey, checked in
	 * dataplane_peers_test.c): family, ip[16], port[2]. */
	ADDR_KEY_BYTES = 19,
};

/* An address key as the dataplane's dp_addrkey makes it: the family, the
 * IP (IPv4 zero-padded to 16 bytes), the port big-endian. */
static void addr_key(uint8_t *k, uint8_t family, const uint8_t *ip, uint16_t port)
{
	memset(k, 0, ADDR_KEY_BYTES);
	k[0] = family;
	memcpy(k + 1, ip, family == AF_INET ? 4 : 16);
	k[17] = (uint8_t)(port >> 8);
	k[18] = (uint8_t)port;
}

static void test_keymap_empty(void **state)
{
	struct keymap m;
	uint32_t k = 7;

	(void)state;
	keymap_init(&m, 4);
	assert_int_equal(m.cap, 0);
	assert_int_equal(KEYMAP_ABSENT, ABSENT);
	assert_int_equal(keymap_bytes(&m), 0);
	assert_int_equal(keymap_get(&m, &k), ABSENT);
	assert_false(keymap_del(&m, &k));
	keymap_free(&m);
	keymap_free(&m); /* twice is fine */
}

static void test_keymap_basic(void **state)
{
	struct keymap m;
	uint32_t a = 1, b = 2, c = 3;

	(void)state;
	keymap_init(&m, 4);
	assert_int_equal(m.stride, 8);
	assert_int_equal(keymap_put(&m, &a, 10), 0);
	assert_int_equal(keymap_put(&m, &b, 20), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(keymap_get(&m, &a), 10);
	assert_int_equal(keymap_get(&m, &b), 20);
	assert_int_equal(keymap_get(&m, &c), ABSENT);
	/* Replace keeps the count. */
	assert_int_equal(keymap_put(&m, &a, 11), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(keymap_get(&m, &a), 11);
	/* Value 0 is a value; UINT32_MAX is the empty mark and refused. */
	assert_int_equal(keymap_put(&m, &c, 0), 0);
	assert_int_equal(keymap_get(&m, &c), 0);
	assert_int_equal(keymap_put(&m, &c, ABSENT), -EINVAL);
	assert_int_equal(keymap_get(&m, &c), 0);
	assert_true(keymap_del(&m, &a));
	assert_false(keymap_del(&m, &a));
	assert_int_equal(keymap_get(&m, &a), ABSENT);
	assert_int_equal(keymap_get(&m, &b), 20);
	assert_int_equal(m.n, 2);
	assert_true(keymap_del(&m, &b));
	assert_true(keymap_del(&m, &c));
	assert_int_equal(m.n, 0);
	keymap_free(&m);
}

/* Keys that differ only in their last byte, of each length we use: the
 * whole key is compared, not a prefix or the padded stride. */
static void test_keymap_key_lengths(void **state)
{
	static const uint16_t lens[] = {4, ADDR_KEY_BYTES, 32};
	static const uint16_t strides[] = {8, 24, 36};
	uint8_t k[32];

	(void)state;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		struct keymap m;
		keymap_init(&m, lens[l]);
		assert_int_equal(m.stride, strides[l]);
		memset(k, 0x5a, sizeof(k));
		for (uint32_t v = 0; v < 256; v++) {
			k[lens[l] - 1] = (uint8_t)v;
			assert_int_equal(keymap_put(&m, k, v), 0);
		}
		/* A byte past the key does not matter. */
		k[lens[l] - 1] = 9;
		if (lens[l] < sizeof(k))
			k[lens[l]] = 0x11;
		assert_int_equal(keymap_get(&m, k), 9);
		for (uint32_t v = 0; v < 256; v++) {
			k[lens[l] - 1] = (uint8_t)v;
			assert_int_equal(keymap_get(&m, k), v);
		}
		k[0] ^= 1;
		assert_int_equal(keymap_get(&m, k), ABSENT);
		assert_int_equal(m.n, 256);
		keymap_free(&m);
	}
}

/* Grows at half load, in powers of two, and keeps everything. */
static void test_keymap_growth(void **state)
{
	struct keymap m;
	uint32_t last_cap = 0, grows = 0;

	(void)state;
	keymap_init(&m, 4);
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t k = i * 2654435761u;
		assert_int_equal(keymap_put(&m, &k, i), 0);
		assert_int_equal(m.n, i + 1);
		assert_true(m.cap >= 16 && (m.cap & (m.cap - 1)) == 0);
		assert_true(m.n * 2 <= m.cap);
		if (m.cap != last_cap) {
			grows++;
			last_cap = m.cap;
		}
	}
	assert_int_equal(m.cap, 32768);
	assert_int_equal(grows, 12); /* 16, 32, ..., 32768 */
	assert_int_equal(keymap_bytes(&m), (size_t)m.cap * m.stride);
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t k = i * 2654435761u;
		assert_int_equal(keymap_get(&m, &k), i);
	}
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t k = i * 2654435761u;
		assert_true(keymap_del(&m, &k));
		assert_int_equal(keymap_get(&m, &k), ABSENT);
	}
	assert_int_equal(m.n, 0);
	keymap_free(&m);
}

/* What keymap.h promises about allocation (disco's dsc_peer.c relies on it to
 * renumber a peer without failing): at half load a replace grows the map,
 * but a put right after a del that found its key does not. */
static void test_keymap_put_after_del(void **state)
{
	struct keymap m;
	uint32_t k;

	(void)state;
	keymap_init(&m, 4);
	for (k = 0; k < 8; k++)
		assert_int_equal(keymap_put(&m, &k, k), 0);
	assert_int_equal(m.cap, 16);
	k = 3;
	assert_true(keymap_del(&m, &k));
	assert_int_equal(keymap_put(&m, &k, 33), 0);
	assert_int_equal(m.cap, 16);
	assert_int_equal(m.n, 8);
	assert_int_equal(keymap_get(&m, &k), 33);
	assert_int_equal(keymap_put(&m, &k, 34), 0); /* a plain replace */
	assert_int_equal(m.cap, 32);
	assert_int_equal(m.n, 8);
	for (k = 0; k < 8; k++)
		assert_int_equal(keymap_get(&m, &k), k == 3 ? 34 : k);
	keymap_free(&m);
}

/* nkeys distinct keys of klen bytes: for 19, real address keys. */
static uint8_t *make_keys(uint64_t *s, uint16_t klen, size_t nkeys)
{
	uint8_t *keys = calloc(nkeys, klen);

	assert_non_null(keys);
	for (size_t i = 0; i < nkeys; i++) {
		uint8_t *k = keys + i * klen;
		if (klen == ADDR_KEY_BYTES) {
			uint8_t family = i % 3 ? AF_INET : AF_INET6, ip[16];
			th_rnd_bytes(s, ip, family == AF_INET ? 4 : 16);
			/* distinct by construction */
			addr_key(k, family, ip, (uint16_t)(i + 1));
		} else {
			th_rnd_bytes(s, k, klen);
			k[i % 2 ? 0 : klen - 2] = (uint8_t)(i >> 8);
			k[i % 2 ? 1 : klen - 1] = (uint8_t)i;
		}
	}
	for (size_t i = 0; i < nkeys; i++)
		for (size_t j = 0; j < i; j++)
			assert_memory_not_equal(keys + i * klen, keys + j * klen, klen);
	return keys;
}

static void check_all(const struct keymap *m, const uint8_t *keys, uint16_t klen,
		      const uint32_t *ref, size_t nkeys)
{
	uint32_t n = 0;

	for (size_t i = 0; i < nkeys; i++) {
		assert_int_equal(keymap_get(m, keys + i * klen), ref[i]);
		n += ref[i] != ABSENT;
	}
	assert_int_equal(m->n, n);
}

/* RANDOM_OPS puts, replaces, deletes and gets against a plain array; after
 * every deletion (where backward shifting moves entries) every key is
 * checked. Few keys keep the table small, with clusters that wrap. */
static void random_run(uint16_t klen, size_t nkeys, uint64_t seed)
{
	uint64_t s = seed;
	uint8_t *keys = make_keys(&s, klen, nkeys);
	uint32_t *ref = malloc(nkeys * sizeof(*ref));
	struct keymap m;
	size_t dels = 0;

	assert_non_null(ref);
	for (size_t i = 0; i < nkeys; i++)
		ref[i] = ABSENT;
	keymap_init(&m, klen);
	for (int op = 0; op < RANDOM_OPS; op++) {
		uint64_t r = th_rnd(&s);
		size_t i = (size_t)(r >> 8) % nkeys;
		const uint8_t *k = keys + i * klen;
		/* Deletions a little rarer than puts, so the map fills up
		 * and empties in waves. */
		switch (r % 8) {
		case 0:
		case 1:
		case 2: {
			uint32_t v = (uint32_t)(r >> 32) % 0xfffffff0u;
			assert_int_equal(keymap_put(&m, k, v), 0);
			ref[i] = v;
			break;
		}
		case 3:
		case 4:
			assert_int_equal(keymap_del(&m, k), ref[i] != ABSENT);
			dels += ref[i] != ABSENT;
			ref[i] = ABSENT;
			check_all(&m, keys, klen, ref, nkeys);
			break;
		default:
			assert_int_equal(keymap_get(&m, k), ref[i]);
			break;
		}
		assert_true(m.n * 2 <= m.cap);
	}
	check_all(&m, keys, klen, ref, nkeys);
	assert_true(dels > RANDOM_OPS / 10); /* most deletions hit */
	/* Empty it: every deletion keeps the rest findable. */
	for (size_t i = 0; i < nkeys; i++) {
		assert_int_equal(keymap_del(&m, keys + i * klen), ref[i] != ABSENT);
		ref[i] = ABSENT;
	}
	check_all(&m, keys, klen, ref, nkeys);
	keymap_free(&m);
	free(ref);
	free(keys);
}

static void test_keymap_random_4(void **state)
{
	(void)state;
	random_run(4, 512, 1);
	random_run(4, 24, 2);
}

static void test_keymap_random_addrkey(void **state)
{
	(void)state;
	random_run(ADDR_KEY_BYTES, 512, 3);
	random_run(ADDR_KEY_BYTES, 24, 4);
}

static void test_keymap_random_32(void **state)
{
	(void)state;
	random_run(32, 512, 5);
	random_run(32, 24, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keymap_empty),
		cmocka_unit_test(test_keymap_basic),
		cmocka_unit_test(test_keymap_key_lengths),
		cmocka_unit_test(test_keymap_growth),
		cmocka_unit_test(test_keymap_put_after_del),
		cmocka_unit_test(test_keymap_random_4),
		cmocka_unit_test(test_keymap_random_addrkey),
		cmocka_unit_test(test_keymap_random_32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
