/* derper_access: who may use the server. The mesh pre-shared key
 * (-mesh-psk-file: 64 hex characters, whitespace trimmed, as Tailscale's
 * key.ParseDERPMesh) lets other derpers of the region mesh; the client
 * allowlist (-verify-clients with -verify-clients-file) admits only the
 * node keys listed. Tailscale verifies clients through a local tailscaled;
 * msock has none, so the allowlist is a file, and it fails closed: with
 * -verify-clients and no readable list, the server does not start. */
#ifndef MSOCK_DERPER_ACCESS_H
#define MSOCK_DERPER_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "derper.h"
#include "derper_flags.h"

enum {
	DERPER_MAX_ALLOWED_KEYS = 1000000,
	DERPER_ACCESS_FILE_MAX_BYTES = 128 << 20, /* a million nodekey lines */
	DERPER_RATE_CONFIG_MAX_BYTES = 4096,	  /* two numbers in JSON */
};

/* Pure: "64 hex" (trimmed) -> 32 bytes. Returns 0 or -EINVAL. */
int derper_mesh_key_parse(const char *text, size_t len, uint8_t out[32]);
/* Pure: one node key per line (nodekey:<hex> or base64), '#' comments and
 * blank lines ignored. *keys is allocated (caller frees). On error returns
 * -EINVAL with err naming the line. */
int derper_allowlist_parse(const char *text, size_t len, struct key32 **keys, size_t *n, char *err,
			   size_t errcap);
/* Pure: a -rate-config file (Tailscale's RateConfig JSON:
 * PerClientRateLimitBytesPerSec, PerClientRateBurstBytes; names matched
 * ignoring case as Go does). Returns 0 or -EINVAL with err. */
int derper_rate_config_parse(const char *text, size_t len, uint64_t *bps, uint64_t *burst,
			     char *err, size_t errcap);
/* The per-client rate limit into s: -rate-config (read through fd from
 * offset 0 when fd >= 0, else opened by its path), else
 * -per-client-rate-limit/-burst; a burst below one SendPacket frame is
 * raised to DERPER_RATE_MIN_BUCKET_BYTES. On error s is left as it was (a
 * reload on SIGHUP keeps the limit in force, as Tailscale's). */
int derper_load_rate(struct derper *s, const struct derper_opts *o, int fd, char *err,
		     size_t errcap);
/* Reads both files as the options say into s, and the per-client rate
 * limit (-rate-config, else -per-client-rate-limit/-burst); a burst below
 * one SendPacket frame is raised to DERPER_RATE_MIN_BUCKET_BYTES. */
int derper_load_mesh_and_allowlist(struct derper *s, const struct derper_opts *o, char *err,
				   size_t errcap);

#endif
