/* netcheck_http_fuzz: the HTTP probe's response-head parser on arbitrary
 * bytes: no crash, no read past the input, and what parses is sane. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nc_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nc_http_head h;
	const char *why = 0;
	char *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (nc_http_parse_head(copy, size, &h, &why) == 0) {
		if (h.status < 100 || h.status > 599 ||
		    strlen(h.ts_response) >= sizeof(h.ts_response))
			abort();
	} else if (!why) {
		abort();
	}
	free(copy);
	return 0;
}
