/* derper_http_internal: what derper_http.c (routes, responses) and
 * derper_http_parse.c (the request head) share with one another and with
 * nothing else. */
#ifndef MSOCK_DERPER_HTTP_INTERNAL_H
#define MSOCK_DERPER_HTTP_INTERNAL_H

#include <stdbool.h>

/* ASCII-only case-insensitive equality of two strings (no locale): header
 * names in derper_http_parse.c, the Upgrade token in derper_http_route. */
bool derper_http_eq_nocase(const char *a, const char *b);

#endif
