/* derper_keyfile: the server's private key in Tailscale derper's config
 * file format (cmd/derper: `-c FILE`, JSON {"PrivateKey": "privkey:<hex>"}
 * written with json.MarshalIndent(cfg, "", "\t") and mode 0600 on first
 * start), so operators can switch between the two servers with the same
 * file and keep the same public key. */
#ifndef MSOCK_DERPER_KEYFILE_H
#define MSOCK_DERPER_KEYFILE_H

#include <stddef.h>

#include "key.h"

/* The -c path (derper.go loadConfig): `given`, else
 * /var/lib/derper/derper.key when running as root, else -EINVAL
 * "-c <config path> not specified". */
int derper_keyfile_path(const char *given, unsigned euid, const char **path, char *err,
			size_t errcap);
/* Loads the key from path, or creates the file with a new key when it does
 * not exist. Returns 0, or -errno / -EINVAL with a message naming the file. */
int derper_keyfile_load(const char *path, struct key32 *priv, char *err, size_t errcap);
/* Pure: the file's text, as Tailscale writes it (no trailing newline).
 * Returns its length, or 0 if cap is too small. */
size_t derper_keyfile_format(const struct key32 *priv, char *buf, size_t cap);
/* Pure: parses the file's text as Go's json.Unmarshal into derper's config
 * would (a JSON object; "PrivateKey" matched ignoring case, as Go does;
 * other fields ignored), refusing a missing or all-zero key. */
int derper_keyfile_parse(const char *text, size_t len, struct key32 *priv, char *err,
			 size_t errcap);

#endif
