/* key: Curve25519 keys in Tailscale's typed hex forms (types/key/node.go,
 * disco.go, machine.go, util.go parseHex) and WireGuard's base64, plus the
 * private key files both `wg` and msock read. */
#include "key.h"

#include <errno.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errbuf.h"

enum {
	KEY_B64_DECODE_MAX = KEY_LEN + 2, /* room to tell 33 decoded bytes from 32 */
	KEY_FILE_MODE = 0600,
	KEY_FILE_FORBIDDEN_MODE = 0077, /* group or other may read or write */
};

static const char *const prefixes[] = {
	[KEY_KIND_NODE_PUBLIC] = "nodekey:",
	[KEY_KIND_DISCO_PUBLIC] = "discokey:",
	[KEY_KIND_MACHINE_PUBLIC] = "mkey:",
	[KEY_KIND_PRIVATE] = "privkey:",
};

/* Static reasons for key_parse's *why, one per kind, so the message can name
 * the prefix that was expected. */
static const char *const wrong_prefix[] = {
	[KEY_KIND_NODE_PUBLIC] = "wrong prefix: expected nodekey:",
	[KEY_KIND_DISCO_PUBLIC] = "wrong prefix: expected discokey:",
	[KEY_KIND_MACHINE_PUBLIC] = "wrong prefix: expected mkey:",
	[KEY_KIND_PRIVATE] = "wrong prefix: expected privkey:",
};

static const char *const missing_prefix[] = {
	[KEY_KIND_NODE_PUBLIC] = "64 hex digits need the nodekey: prefix",
	[KEY_KIND_DISCO_PUBLIC] = "64 hex digits need the discokey: prefix",
	[KEY_KIND_MACHINE_PUBLIC] = "64 hex digits need the mkey: prefix",
	[KEY_KIND_PRIVATE] = "64 hex digits need the privkey: prefix",
};

static bool kind_valid(enum key_kind kind)
{
	return kind > KEY_KIND_INVALID && kind <= KEY_KIND_PRIVATE;
}

const char *key_kind_prefix(enum key_kind kind)
{
	return kind_valid(kind) ? prefixes[kind] : "";
}

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Tailscale accepts upper- and lowercase hex digits (util.go fromHexChar). */
static int parse_hex(const char *hex, struct key32 *out, const char **why)
{
	size_t len = strlen(hex), bin_len = 0;
	const char *end = NULL;

	if (len < KEY_HEX_LEN)
		return fail(why, "hex part is too short: want 64 characters");
	if (len > KEY_HEX_LEN)
		return fail(why, "hex part is too long: want 64 characters");
	if (!all_hex(hex, len))
		return fail(why, "invalid hex character");
	if (sodium_hex2bin(out->b, KEY_LEN, hex, len, NULL, &bin_len, &end) != 0 ||
	    bin_len != KEY_LEN || end != hex + len)
		return fail(why, "invalid hex character");
	return 0;
}

static int parse_base64(const char *s, struct key32 *out, const char **why)
{
	uint8_t bin[KEY_B64_DECODE_MAX];
	size_t bin_len = 0;
	const char *end = NULL;
	int rc = 0;

	/* libsodium checks the padding and that the unused low bits are zero,
	 * but (1.0.18) decodes every byte >= 0x80 as '/': check the alphabet. */
	for (size_t i = 0; i < KEY_B64_LEN; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			rc = fail(why, "invalid base64 (bad character or padding)");
			goto out;
		}
	}
	if (sodium_base642bin(bin, sizeof(bin), s, KEY_B64_LEN, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + KEY_B64_LEN) {
		rc = fail(why, "invalid base64 (bad character or padding)");
		goto out;
	}
	if (bin_len != KEY_LEN) {
		rc = fail(why, "base64 does not decode to 32 bytes");
		goto out;
	}
	memcpy(out->b, bin, KEY_LEN);
out:
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

/* A prefix of some kind of key (or anything before a ':'), so that the
 * message says "wrong prefix" rather than "not base64". */
static bool looks_prefixed(const char *s)
{
	for (int k = KEY_KIND_NODE_PUBLIC; k <= KEY_KIND_PRIVATE; k++)
		if (strncmp(s, prefixes[k], strlen(prefixes[k])) == 0)
			return true;
	return strchr(s, ':') != NULL;
}

int key_parse(const char *s, enum key_kind kind, struct key32 *out, const char **why)
{
	struct key32 k;
	size_t plen, len;
	int rc;

	if (!kind_valid(kind))
		return fail(why, "unknown key kind");
	if (!s || !*s)
		return fail(why, "empty key");
	plen = strlen(prefixes[kind]);
	len = strlen(s);
	/* The prefix is case-sensitive, as Tailscale's mem.HasPrefix is. */
	if (strncmp(s, prefixes[kind], plen) == 0)
		rc = parse_hex(s + plen, &k, why);
	else if (looks_prefixed(s))
		rc = fail(why, wrong_prefix[kind]);
	else if (len == KEY_B64_LEN)
		rc = parse_base64(s, &k, why);
	else if (len == KEY_HEX_LEN && all_hex(s, len))
		rc = fail(why, missing_prefix[kind]);
	else
		rc = fail(why, "neither prefix:<64 hex> nor 44-character base64");
	if (rc == 0)
		*out = k;
	sodium_memzero(&k, sizeof(k));
	return rc;
}

size_t key_format(enum key_kind kind, const struct key32 *k, char *buf, size_t cap)
{
	size_t plen;

	if (!kind_valid(kind))
		return 0;
	plen = strlen(prefixes[kind]);
	if (cap < plen + KEY_HEX_LEN + 1)
		return 0;
	memcpy(buf, prefixes[kind], plen);
	sodium_bin2hex(buf + plen, KEY_HEX_LEN + 1, k->b, KEY_LEN);
	return plen + KEY_HEX_LEN;
}

void key_hex_format(const uint8_t k[KEY_LEN], char out[KEY_HEX_LEN + 1])
{
	sodium_bin2hex(out, KEY_HEX_LEN + 1, k, KEY_LEN);
}

int key_hex_parse(const char *hex, uint8_t k[KEY_LEN])
{
	struct key32 tmp;

	if (parse_hex(hex, &tmp, NULL) < 0)
		return -EINVAL;
	memcpy(k, tmp.b, KEY_LEN);
	return 0;
}

size_t key_to_base64(const struct key32 *k, char *buf, size_t cap)
{
	if (cap <= KEY_B64_LEN)
		return 0;
	sodium_bin2base64(buf, cap, k->b, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	return KEY_B64_LEN;
}

bool key_is_zero(const struct key32 *k)
{
	return sodium_is_zero(k->b, KEY_LEN) == 1;
}

bool key_equal(const struct key32 *a, const struct key32 *b)
{
	return sodium_memcmp(a->b, b->b, KEY_LEN) == 0;
}

int key_generate(struct key32 *priv)
{
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(priv->b, KEY_LEN);
	/* Clamped as WireGuard and Tailscale (util.go clamp25519Private) do. */
	priv->b[0] &= 248;
	priv->b[31] &= 127;
	priv->b[31] |= 64;
	return 0;
}

int key_public(const struct key32 *priv, struct key32 *pub)
{
	if (sodium_init() < 0)
		return -EIO;
	/* Tailscale refuses the public key of a zero private key; so do we. */
	if (key_is_zero(priv))
		return -EINVAL;
	if (crypto_scalarmult_base(pub->b, priv->b) != 0)
		return -EINVAL;
	return 0;
}

static int check_key_file_stat(int fd, const char *path, char *err, size_t errcap)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;
		errbuf_set(err, errcap, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(err, errcap, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & KEY_FILE_FORBIDDEN_MODE) {
		errbuf_set(err, errcap,
			   "%s: key file is accessible by group or other (mode %04o); chmod 600 %s",
			   path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if (st.st_size > KEY_FILE_MAX_BYTES) {
		errbuf_set(err, errcap, "%s: %lld bytes, more than a key file's %d", path,
			   (long long)st.st_size, KEY_FILE_MAX_BYTES);
		return -EFBIG;
	}
	return 0;
}

/* Reads at most KEY_FILE_MAX_BYTES (a file that grew since fstat is caught
 * here) and NUL-terminates; buf has room for KEY_FILE_MAX_BYTES + 2. */
static int read_small(int fd, const char *path, char *buf, size_t *len, char *err, size_t errcap)
{
	size_t n = 0;

	while (n <= KEY_FILE_MAX_BYTES) {
		ssize_t r = read(fd, buf + n, KEY_FILE_MAX_BYTES + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			errbuf_set(err, errcap, "%s: %s", path, strerror(e));
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > KEY_FILE_MAX_BYTES) {
		errbuf_set(err, errcap, "%s: more than a key file's %d bytes", path,
			   KEY_FILE_MAX_BYTES);
		return -EFBIG;
	}
	buf[n] = 0;
	*len = n;
	return 0;
}

static int parse_key_text(char *buf, size_t len, const char *path, struct key32 *priv, char *err,
			  size_t errcap)
{
	const char *why = NULL;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		buf[--len] = 0;
	if (len == 0) {
		errbuf_set(err, errcap, "%s: empty; expected a base64 private key", path);
		return -EINVAL;
	}
	if (memchr(buf, 0, len)) {
		errbuf_set(err, errcap, "%s: contains a NUL byte; not a key file", path);
		return -EINVAL;
	}
	if (key_parse(buf, KEY_KIND_PRIVATE, priv, &why) < 0) {
		errbuf_set(err, errcap, "%s: not a private key: %s", path, why);
		return -EINVAL;
	}
	return 0;
}

int key_file_read(const char *path, struct key32 *priv, char *err, size_t errcap)
{
	char buf[KEY_FILE_MAX_BYTES + 2];
	size_t len = 0;
	int fd, rc;

	/* O_NONBLOCK so that a FIFO put in the key's place cannot hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		errbuf_set(err, errcap, "%s: %s", path, strerror(e));
		return -e;
	}
	rc = check_key_file_stat(fd, path, err, errcap);
	if (rc < 0)
		goto out;
	rc = read_small(fd, path, buf, &len, err, errcap);
	if (rc < 0)
		goto out;
	rc = parse_key_text(buf, len, path, priv, err, errcap);
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	if (rc < 0)
		sodium_memzero(priv, sizeof(*priv));
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_key_fd(int fd, const struct key32 *priv)
{
	char line[KEY_B64_LEN + 2];
	int rc;

	/* umask may have cleared bits but never adds them; fchmod makes sure. */
	if (fchmod(fd, KEY_FILE_MODE) < 0)
		return -errno;
	key_to_base64(priv, line, sizeof(line));
	line[KEY_B64_LEN] = '\n';
	rc = write_all(fd, line, KEY_B64_LEN + 1);
	sodium_memzero(line, sizeof(line));
	if (rc < 0)
		return rc;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

int key_file_write(const char *path, const struct key32 *priv, char *err, size_t errcap)
{
	int fd, rc;

	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY, KEY_FILE_MODE);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			errbuf_set(err, errcap, "%s exists; refusing to overwrite", path);
		else
			errbuf_set(err, errcap, "%s: %s", path, strerror(e));
		return -e;
	}
	rc = write_key_fd(fd, priv);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		errbuf_set(err, errcap, "%s: %s", path, strerror(-rc));
		/* A half-written key file would make the next start fail. */
		unlink(path);
	}
	return rc;
}

int key_file_load_or_create(const char *path, struct key32 *priv, bool *created, char *err,
			    size_t errcap)
{
	int rc = key_file_read(path, priv, err, errcap);

	*created = false;
	if (rc != -ENOENT)
		return rc;
	rc = key_generate(priv);
	if (rc < 0) {
		snprintf(err, errcap, "%s: cannot make a key", path);
		return rc;
	}
	rc = key_file_write(path, priv, err, errcap);
	*created = rc == 0;
	return rc;
}
