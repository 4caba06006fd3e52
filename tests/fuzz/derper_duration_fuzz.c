/* derper_duration_fuzz: input = a duration's text. Whatever parses must
 * print (Duration.String) to text that parses back to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derper_duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_INPUT_BYTES = 256 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[FUZZ_MAX_INPUT_BYTES + 1], text[DERPER_DURATION_TEXT_BYTES];
	int64_t ns, back;

	if (size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	memcpy(in, data, size);
	in[size] = 0;
	if (derper_duration_parse(in, &ns) != 0)
		return 0;
	derper_duration_format(ns, text, sizeof(text));
	if (derper_duration_parse(text, &back) != 0 || back != ns)
		abort();
	return 0;
}
