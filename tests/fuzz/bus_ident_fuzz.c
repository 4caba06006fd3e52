/* bus_ident_fuzz: bus_peer_creds_parse on arbitrary bytes (the Address
 * frame of a ZAP request, which libzmq builds from the peer) and
 * bus_sender_from_user_id on arbitrary text. A parsed address must print
 * back to the digits it came from; a refusal must say why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { BUS_IDENT_FUZZ_MAX_INPUT_BYTES = 512 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bus_peer_creds c;
	struct bus_sender s;
	const char *why = 0;
	char tail[48], *text;
	int n;

	if (size > BUS_IDENT_FUZZ_MAX_INPUT_BYTES)
		return 0;
	if (bus_peer_creds_parse((const char *)data, size, &c, &why) == 0) {
		if (c.pid < 0)
			abort();
		/* The input ends in exactly these fields (leading zeros aside). */
		n = snprintf(tail, sizeof(tail), ":%u:%u:%d", (unsigned)c.uid, (unsigned)c.gid,
			     (int)c.pid);
		if (n <= 0 || (size_t)n > size + 30)
			abort();
	} else if (!why || !*why) {
		abort();
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (bus_sender_from_user_id(text, &s) == 0) {
		if (!s.name || strcmp(s.name, text) != 0 || (s.admin && s.proc))
			abort();
	} else if (text[0]) {
		abort();
	}
	free(text);
	return 0;
}
