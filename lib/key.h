/* key: Curve25519 keys for node, disco and machine identities, in
 * Tailscale's text forms (types/key: "nodekey:<hex>", "discokey:<hex>",
 * "mkey:<hex>", "privkey:<hex>") and WireGuard's base64. */
#ifndef MSOCK_KEY_H
#define MSOCK_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	KEY_LEN = 32,
	KEY_HEX_LEN = 64,
	KEY_B64_LEN = 44,	  /* 32 bytes in standard base64 with one '=' */
	KEY_TEXT_MAX = 80,	  /* longest prefix + 64 hex + NUL, rounded up */
	KEY_FILE_MAX_BYTES = 256, /* a key file is one line; more is not a key file */
};

enum key_kind {
	KEY_KIND_INVALID = 0,
	KEY_KIND_NODE_PUBLIC,	 /* "nodekey:" */
	KEY_KIND_DISCO_PUBLIC,	 /* "discokey:" */
	KEY_KIND_MACHINE_PUBLIC, /* "mkey:" */
	KEY_KIND_PRIVATE,	 /* "privkey:" (node or machine private key) */
};

struct key32 {
	uint8_t b[KEY_LEN];
};

/* Parses `s` as a key of `kind`: the kind's "prefix:<64 hex>" form, or
 * WireGuard's 44-character base64. Returns 0, or -EINVAL with *why (if not
 * NULL) set to a static description of what was wrong. */
int key_parse(const char *s, enum key_kind kind, struct key32 *out, const char **why);
/* Writes "prefix:<64 lowercase hex>" with a NUL; returns its length, or 0 if
 * cap is too small. */
size_t key_format(enum key_kind kind, const struct key32 *k, char *buf, size_t cap);
/* WireGuard's base64 (44 chars + NUL); cap must be > KEY_B64_LEN. */
size_t key_to_base64(const struct key32 *k, char *buf, size_t cap);
/* The text prefix of a kind, e.g. "nodekey:". */
const char *key_kind_prefix(enum key_kind kind);

bool key_is_zero(const struct key32 *k);
bool key_equal(const struct key32 *a, const struct key32 *b);

/* A new private key (libsodium randombytes), clamped as WireGuard does. */
int key_generate(struct key32 *priv);
/* The Curve25519 public key of a private key. */
int key_public(const struct key32 *priv, struct key32 *pub);

/* The bare 64 lowercase hex digits of a key (the bus's state keys name
 * peers so), NUL-terminated. */
void key_hex_format(const uint8_t k[KEY_LEN], char out[KEY_HEX_LEN + 1]);
/* Exactly 64 hex digits (either case) into k. Returns 0 or -EINVAL. */
int key_hex_parse(const char *hex, uint8_t k[KEY_LEN]);

/* Reads a private key file: WireGuard's base64 (so `wg` reads the same
 * file), optionally followed by a newline; "privkey:<hex>" is accepted too.
 * Refuses a file readable or writable by group or other. On error returns
 * -errno or -EINVAL and writes a message naming the file into err. */
int key_file_read(const char *path, struct key32 *priv, char *err, size_t errcap);
/* Creates `path` with mode 0600 (refusing to overwrite an existing file)
 * holding WireGuard's base64 and a newline. */
int key_file_write(const char *path, const struct key32 *priv, char *err, size_t errcap);
/* Reads the key file, or, when it does not exist, makes a new key and
 * writes it there (first start: a node or disco key that then survives
 * restarts). *created says which happened. Errors as key_file_read. */
int key_file_load_or_create(const char *path, struct key32 *priv, bool *created, char *err,
			    size_t errcap);

#endif
