/* key_fuzz: key_parse on arbitrary text for every kind; whatever parses must
 * format and parse back to the same key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { KEY_FUZZ_MAX_INPUT_BYTES = 4096 };

static void check_kind(const char *s, enum key_kind kind)
{
	struct key32 k, back;
	char text[KEY_TEXT_MAX], b64[KEY_B64_LEN + 1];
	const char *why = NULL;

	if (key_parse(s, kind, &k, &why) != 0) {
		if (!why)
			abort();
		return;
	}
	if (key_format(kind, &k, text, sizeof(text)) == 0)
		abort();
	if (key_parse(text, kind, &back, &why) != 0 || !key_equal(&k, &back))
		abort();
	if (key_to_base64(&k, b64, sizeof(b64)) != KEY_B64_LEN)
		abort();
	if (key_parse(b64, kind, &back, &why) != 0 || !key_equal(&k, &back))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > KEY_FUZZ_MAX_INPUT_BYTES)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	for (int kind = KEY_KIND_INVALID; kind <= KEY_KIND_PRIVATE; kind++)
		check_kind(s, (enum key_kind)kind);
	free(s);
	return 0;
}
