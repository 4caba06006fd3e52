/* derper_access: see derper_access.h. */
#include "derper_access.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <jansson.h>

#include "derp/derp_handshake.h"
#include "errbuf.h"

int derper_mesh_key_parse(const char *text, size_t len, uint8_t out[32])
{
	char buf[DERP_MESH_KEY_HEX_LEN + 1];
	size_t b = 0, e = len;

	/* Whitespace is trimmed, as key.ParseDERPMesh does. */
	while (b < e && isspace((unsigned char)text[b]))
		b++;
	while (e > b && isspace((unsigned char)text[e - 1]))
		e--;
	if (e - b != DERP_MESH_KEY_HEX_LEN)
		return -EINVAL;
	memcpy(buf, text + b, e - b);
	buf[e - b] = 0;
	return derp_mesh_key_parse(buf, out) < 0 ? -EINVAL : 0;
}

int derper_allowlist_parse(const char *text, size_t len, struct key32 **keys, size_t *n, char *err,
			   size_t errcap)
{
	size_t cap = 0, line = 0, pos = 0;

	*keys = 0;
	*n = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len, b = pos, e = end;
		char buf[128];
		const char *why = 0;

		line++;
		pos = end + 1;
		while (b < e && isspace((unsigned char)text[b]))
			b++;
		while (e > b && isspace((unsigned char)text[e - 1]))
			e--;
		if (b == e || text[b] == '#')
			continue;
		if (e - b >= sizeof(buf)) {
			errbuf_set(err, errcap, "line %zu: too long for a node key", line);
			goto fail;
		}
		memcpy(buf, text + b, e - b);
		buf[e - b] = 0;
		if (*n == DERPER_MAX_ALLOWED_KEYS) {
			errbuf_set(err, errcap, "line %zu: more than %d keys", line,
				   DERPER_MAX_ALLOWED_KEYS);
			goto fail;
		}
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct key32 *k = realloc(*keys, nc * sizeof(**keys));
			if (!k) {
				errbuf_set(err, errcap, "out of memory");
				goto fail;
			}
			*keys = k;
			cap = nc;
		}
		if (key_parse(buf, KEY_KIND_NODE_PUBLIC, &(*keys)[*n], &why) < 0) {
			errbuf_set(err, errcap,
				   "line %zu: expected nodekey:<64 hex> or base64 (%s)", line,
				   why ? why : "invalid");
			goto fail;
		}
		(*n)++;
	}
	return 0;
fail:
	free(*keys);
	*keys = 0;
	*n = 0;
	return -EINVAL;
}

static char *read_small_file(const char *path, size_t max, size_t *len, char *err, size_t errcap)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f) {
		errbuf_set(err, errcap, "%s: %s", path, strerror(errno));
		return 0;
	}
	buf = malloc(max + 1);
	*len = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || *len > max) {
		errbuf_set(err, errcap, "%s: larger than %zu bytes", path, max);
		free(buf);
		return 0;
	}
	return buf;
}

int derper_rate_config_parse(const char *text, size_t len, uint64_t *bps, uint64_t *burst,
			     char *err, size_t errcap)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je), *v;
	const char *name;
	int rc = 0;

	*bps = *burst = 0;
	if (!root || !json_is_object(root)) {
		errbuf_set(err, errcap, "%s", root ? "expected a JSON object" : je.text);
		json_decref(root);
		return -EINVAL;
	}
	json_object_foreach (root, name, v) {
		uint64_t *dst = strcasecmp(name, "PerClientRateLimitBytesPerSec") == 0 ? bps
				: strcasecmp(name, "PerClientRateBurstBytes") == 0     ? burst
										       : 0;
		if (!dst)
			continue; /* Go ignores unknown fields */
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			errbuf_set(err, errcap, "%s: expected a non-negative integer", name);
			rc = -EINVAL;
			break;
		}
		*dst = (uint64_t)json_integer_value(v);
	}
	json_decref(root);
	return rc;
}

/* The whole file from offset 0 through fd (kept open across the sandbox:
 * the reread on SIGHUP cannot open the path). */
static char *pread_small_file(int fd, const char *path, size_t max, size_t *len, char *err,
			      size_t errcap)
{
	char *buf = malloc(max + 1);
	size_t got = 0;

	if (!buf) {
		errbuf_set(err, errcap, "%s: out of memory", path);
		return 0;
	}
	while (got < max + 1) {
		ssize_t r = pread(fd, buf + got, max + 1 - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			errbuf_set(err, errcap, "%s: %s", path, strerror(errno));
			free(buf);
			return 0;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > max) {
		errbuf_set(err, errcap, "%s: larger than %zu bytes", path, max);
		free(buf);
		return 0;
	}
	*len = got;
	return buf;
}

int derper_load_rate(struct derper *s, const struct derper_opts *o, int fd, char *err,
		     size_t errcap)
{
	uint64_t bps = o->per_client_rate_limit, burst = derper_opts_rate_burst(o);
	char why[256];
	size_t len;
	char *text;

	if (o->rate_config[0]) {
		text = fd >= 0 ? pread_small_file(fd, o->rate_config, DERPER_RATE_CONFIG_MAX_BYTES,
						  &len, err, errcap)
			       : read_small_file(o->rate_config, DERPER_RATE_CONFIG_MAX_BYTES, &len,
						 err, errcap);
		if (!text)
			return -EINVAL;
		if (derper_rate_config_parse(text, len, &bps, &burst, why, sizeof(why)) < 0) {
			errbuf_set(err, errcap, "%s: %s", o->rate_config, why);
			free(text);
			return -EINVAL;
		}
		free(text);
	}
	if (bps && burst < DERPER_RATE_MIN_BUCKET_BYTES)
		burst = DERPER_RATE_MIN_BUCKET_BYTES;
	s->rate_bps = bps;
	s->rate_burst = bps ? burst : 0;
	return 0;
}

int derper_load_mesh_and_allowlist(struct derper *s, const struct derper_opts *o, char *err,
				   size_t errcap)
{
	char why[256];
	size_t len;
	char *text;

	if (derper_load_rate(s, o, -1, err, errcap) < 0)
		return -EINVAL;

	if (o->mesh_psk_file[0]) {
		text = read_small_file(o->mesh_psk_file, 4096, &len, err, errcap);
		if (!text)
			return -EINVAL;
		if (derper_mesh_key_parse(text, len, s->mesh_key) < 0) {
			errbuf_set(err, errcap,
				   "%s: the mesh key must be 64 hexadecimal characters (whitespace "
				   "is trimmed)",
				   o->mesh_psk_file);
			free(text);
			return -EINVAL;
		}
		free(text);
		s->has_mesh_key = true;
	}
	if (!o->verify_clients)
		return 0;
	if (!o->verify_clients_file[0]) {
		errbuf_set(err, errcap,
			   "-verify-clients needs -verify-clients-file (a list of node keys); "
			   "refusing to start without one");
		return -EINVAL;
	}
	text = read_small_file(o->verify_clients_file, DERPER_ACCESS_FILE_MAX_BYTES, &len, err,
			       errcap);
	if (!text)
		return -EINVAL;
	if (derper_allowlist_parse(text, len, &s->allowed, &s->n_allowed, why, sizeof(why)) < 0) {
		errbuf_set(err, errcap, "%s: %s", o->verify_clients_file, why);
		free(text);
		return -EINVAL;
	}
	free(text);
	s->verify_clients = true;
	return 0;
}
