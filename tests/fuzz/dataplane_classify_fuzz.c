/* dataplane_classify_fuzz: dp_classify on arbitrary bytes must keep its
 * result inside the input and agree with magicsock's rules (classify.c);
 * the same bytes, read as 5-byte records (op, 4-byte key), drive a keymap
 * against a plain array of (key, value) pairs. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disco/disco.h"
#include "dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	REC_BYTES = 5,	/* one map operation: op byte + 4-byte key */
	MAX_OPS = 4096, /* bounds the reference and the quadratic check */
	ABSENT = UINT32_MAX,
};

static bool is_stun_binding(const uint8_t *p, size_t len)
{
	return len >= 20 && (p[0] & 0xc0) == 0 && p[1] == 0x01 && p[4] == 0x21 && p[5] == 0x12 &&
	       p[6] == 0xa4 && p[7] == 0x42;
}

static bool is_disco(const uint8_t *p, size_t len)
{
	return len >= DISCO_HEADER_LEN && memcmp(p, disco_magic, DISCO_MAGIC_LEN) == 0;
}

static void check_classify(const uint8_t *data, size_t size)
{
	struct dp_classified c;

	dp_classify(data, size, &c);
	if (c.cls < DP_CLASS_WIREGUARD || c.cls > DP_CLASS_DISCO_JUNK)
		abort();
	if (c.len > size || (size && (c.p < data || c.p + c.len != data + size)))
		abort();
	if (c.geneve) {
		/* Version 0, reserved bits and byte 7 zero, a protocol we know. */
		if (size < DP_GENEVE_HEADER_LEN || c.p != data + DP_GENEVE_HEADER_LEN ||
		    (data[0] & 0xc0) || (data[1] & 0x3f) || data[7] || c.cls == DP_CLASS_STUN)
			abort();
		uint16_t proto = (uint16_t)(data[2] << 8 | data[3]);
		if (proto != (c.cls == DP_CLASS_WIREGUARD ? DP_GENEVE_PROTO_WIREGUARD
							  : DP_GENEVE_PROTO_DISCO))
			abort();
	} else if (c.p != data || c.len != size) {
		abort();
	}
	switch (c.cls) {
	case DP_CLASS_STUN:
		if (!is_stun_binding(data, size))
			abort();
		break;
	case DP_CLASS_DISCO:
	case DP_CLASS_DISCO_JUNK:
		if (!is_disco(c.p, c.len) ||
		    (c.len >= DISCO_SEALED_HEADER_LEN) != (c.cls == DP_CLASS_DISCO))
			abort();
		break;
	case DP_CLASS_WIREGUARD:
		/* Naked WireGuard is what is neither STUN nor disco. */
		if (!c.geneve && (is_stun_binding(data, size) || is_disco(data, size)))
			abort();
		break;
	}
	if (c.geneve && is_stun_binding(data, size))
		abort();
}

struct ref {
	uint32_t key[MAX_OPS];
	uint32_t val[MAX_OPS];
	size_t n;
};

static size_t ref_find(const struct ref *r, uint32_t key)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->key[i] == key)
			return i;
	return r->n;
}

static uint32_t ref_get(const struct ref *r, uint32_t key)
{
	size_t i = ref_find(r, key);
	return i < r->n ? r->val[i] : ABSENT;
}

static void check_map(const uint8_t *data, size_t size)
{
	static struct ref r;
	struct keymap m;
	size_t ops = size / REC_BYTES;

	if (ops > MAX_OPS)
		ops = MAX_OPS;
	r.n = 0;
	keymap_init(&m, 4);
	for (size_t op = 0; op < ops; op++) {
		const uint8_t *rec = data + op * REC_BYTES;
		uint32_t key, val = (uint32_t)op * 7 + rec[0];
		size_t i;
		/* Keys from the input's bytes as they are: the fuzzer finds
		 * the collisions. */
		memcpy(&key, rec + 1, 4);
		i = ref_find(&r, key);
		switch (rec[0] % 4) {
		case 0:
		case 1:
			if (keymap_put(&m, &key, val) != 0)
				abort();
			if (i == r.n) {
				r.key[r.n] = key;
				r.n++;
			}
			r.val[i] = val;
			break;
		case 2:
			if (keymap_del(&m, &key) != (i < r.n))
				abort();
			if (i < r.n) {
				r.n--;
				r.key[i] = r.key[r.n];
				r.val[i] = r.val[r.n];
			}
			/* A deletion moves entries: every key must stay found. */
			for (size_t j = 0; j < r.n; j++)
				if (keymap_get(&m, &r.key[j]) != r.val[j])
					abort();
			break;
		default:
			if (keymap_get(&m, &key) != ref_get(&r, key))
				abort();
			break;
		}
		if (m.n != r.n || (m.cap && m.n * 2 > m.cap))
			abort();
	}
	keymap_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_classify(data, size);
	check_map(data, size);
	return 0;
}
