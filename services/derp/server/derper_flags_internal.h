/* derper_flags_internal: what derper_flags.c, derper_flags_strconv.c and
 * derper_flags_opts.c share with one another and with nothing else. */
#ifndef MSOCK_DERPER_FLAGS_INTERNAL_H
#define MSOCK_DERPER_FLAGS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* derper_flags_strconv.c: Go's strconv.ParseUint(s, 0, 64),
 * strconv.ParseInt(s, 0, 64) and strconv.ParseBool. Each returns 0 with
 * *out set, -EINVAL (syntax) or -ERANGE (the integers only). */
int derper_flags_parse_uint(const char *s, uint64_t *out);
int derper_flags_parse_int(const char *s, int64_t *out);
int derper_flags_parse_bool(const char *s, bool *out);

/* derper_flags_opts.c: the number of -a's port: "http", "https", or up
 * to 5 digits at most 65535; else -1. */
int derper_opts_port_number(const char *port);
/* derper_flags_opts.c: cert.go's certificate file name for hostname (its
 * [a-zA-Z0-9.-] bytes) into name[cap]; returns its length, 0 if none. */
size_t derper_opts_cert_name(const char *hostname, char *name, size_t cap);

#endif
