/* msockctl_health_fuzz: Health warnings from untrusted bytes, both ways
 * they arrive. Mode 0 (first byte even): "<key>\0<body>" is a Health value
 * set on the bus: it goes into a broker's cache, and the status's Health
 * array is made from it (broker_health_json: decode, health_msg_check)
 * and printed as msockctl prints it; a value the check accepts must be
 * shown, one it refuses counted. Mode 1: the rest is a status JSON text,
 * printed by status_text_health. Nothing may crash or print a line break
 * inside a warning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "status_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_MAX_INPUT_BYTES = 1 << 16,
};

/* Prints st's health lines into memory; each line must be one line. */
static void print_checked(json_t *st)
{
	char *out = 0;
	size_t len = 0, ignored;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		abort();
	status_text_health(st, f, &ignored);
	fclose(f);
	for (char *p = out; p && *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			abort();
	free(out);
}

static void from_bus(const uint8_t *data, size_t size)
{
	static struct broker b; /* large: not on the stack */
	const uint8_t *nul = memchr(data, 0, size);
	char key[BUS_KEY_MAX + 1];
	size_t klen = nul ? (size_t)(nul - data) : size;
	const uint8_t *body = nul ? nul + 1 : data + size;
	size_t blen = nul ? size - klen - 1 : 0;
	uint64_t seq, ignored;
	json_t *arr, *st;

	if (klen == 0 || klen > BUS_KEY_MAX)
		return;
	memcpy(key, data, klen);
	key[klen] = 0;
	if (strlen(key) != klen)
		return;
	memset(&b, 0, sizeof(b));
	b.cache = state_cache_new();
	if (!b.cache)
		abort();
	log_ratelimit_init(&b.rl_health, LOG_RATELIMIT_DEFAULT_MS);
	state_cache_set(b.cache, BUS_T_Health, key, body, blen, &seq);
	arr = broker_health_json(&b, &ignored);
	if (json_array_size(arr) + ignored > 1)
		abort();
	{
		Msock__Health *m = msock__health__unpack(0, blen, body);
		const char *why;
		bool valid = m && !m->ok && health_msg_check(key, m, &why) == 0;
		bool cleared = m && m->ok;
		if (valid != (json_array_size(arr) == 1) || (!valid && !cleared && ignored != 1))
			abort();
		if (m)
			msock__health__free_unpacked(m, 0);
	}
	st = json_object();
	json_object_set_new(st, "Health", arr);
	json_object_set_new(st, "HealthIgnored", json_integer((json_int_t)ignored));
	print_checked(st);
	json_decref(st);
	state_cache_free(b.cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *st;

	if (size < 1 || size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	log_set_level(LOG_LEVEL_ERROR); /* the rate-limited warnings: not here */
	if (data[0] % 2 == 0) {
		from_bus(data + 1, size - 1);
		return 0;
	}
	st = json_loadb((const char *)data + 1, size - 1, 0, 0);
	if (st)
		print_checked(st);
	json_decref(st);
	return 0;
}
