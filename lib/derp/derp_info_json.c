/* derp_info_json: the JSON inside ClientInfo and ServerInfo, written byte for
 * byte as Go's encoding/json Marshal writes Tailscale's derp.ClientInfo and
 * derp.ServerInfo, and read (with jansson) by Unmarshal's rules. */
#include "derp/derp_handshake.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* An output buffer that remembers running out of room. */
struct jw {
	uint8_t *buf;
	size_t cap, len;
	bool full;
};

static void put(struct jw *w, const void *p, size_t n)
{
	if (w->full || w->cap - w->len < n) {
		w->full = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void puts_(struct jw *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_int(struct jw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	put(w, num, (size_t)n);
}

/* The length of the well-formed UTF-8 sequence at s (Go's utf8.DecodeRune:
 * no overlongs, surrogates or code points past U+10FFFF), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		*cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		*cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if (i > 1 && (s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return need;
}

/* A JSON string as Go's encodeState.string writes it with HTML escaping on
 * (json.Marshal): \" \\ \b \f \n \r \t; other controls and < > & as
 * \u00xx (lowercase hex); U+2028 and U+2029 escaped; invalid UTF-8 as
 * \ufffd, one per bad byte. */
static void put_go_string(struct jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	put(w, "\"", 1);
	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf], 0};
			if (c == '"' || c == '\\')
				put(w, (char[]){'\\', (char)c}, 2);
			else if (c == '\b')
				put(w, "\\b", 2);
			else if (c == '\f')
				put(w, "\\f", 2);
			else if (c == '\n')
				put(w, "\\n", 2);
			else if (c == '\r')
				put(w, "\\r", 2);
			else if (c == '\t')
				put(w, "\\t", 2);
			else if (c < 0x20 || c == '<' || c == '>' || c == '&')
				put(w, esc, 6);
			else
				put(w, &c, 1);
			i++;
			continue;
		}
		k = utf8_seq(s + i, n - i, &cp);
		if (k == 0) {
			puts_(w, "\\ufffd");
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			puts_(w, cp == 0x2028 ? "\\u2028" : "\\u2029");
			i += k;
		} else {
			put(w, s + i, k);
			i += k;
		}
	}
	put(w, "\"", 1);
}

/* Writes ,"name": (no comma before the first field). */
static void put_name(struct jw *w, bool *first, const char *name)
{
	if (!*first)
		put(w, ",", 1);
	*first = false;
	put(w, "\"", 1);
	puts_(w, name);
	put(w, "\":", 2);
}

size_t derp_client_info_encode(const struct derp_client_info *ci, uint8_t *buf, size_t cap)
{
	struct jw w = {.buf = buf, .cap = buf ? cap : 0};
	bool first = true;

	if (!ci)
		return 0;
	/* Field order and names of derp.ClientInfo. */
	put(&w, "{", 1);
	if (ci->has_mesh_key && !derp_mesh_key_is_zero(ci->mesh_key)) {
		char hex[DERP_MESH_KEY_HEX_LEN + 1];
		derp_mesh_key_format(ci->mesh_key, hex, sizeof(hex));
		put_name(&w, &first, "meshKey");
		put_go_string(&w, hex, DERP_MESH_KEY_HEX_LEN);
	}
	if (ci->version != 0) {
		put_name(&w, &first, "version");
		put_int(&w, ci->version);
	}
	put_name(&w, &first, "CanAckPings");
	puts_(&w, ci->can_ack_pings ? "true" : "false");
	if (ci->is_prober) {
		put_name(&w, &first, "IsProber");
		puts_(&w, "true");
	}
	if (ci->app_name[0]) {
		put_name(&w, &first, "AppName");
		put_go_string(&w, ci->app_name, strnlen(ci->app_name, sizeof(ci->app_name)));
	}
	put(&w, "}", 1);
	return w.full ? 0 : w.len;
}

size_t derp_server_info_encode(const struct derp_server_info *si, uint8_t *buf, size_t cap)
{
	struct jw w = {.buf = buf, .cap = buf ? cap : 0};
	bool first = true;

	if (!si)
		return 0;
	put(&w, "{", 1);
	if (si->version != 0) {
		put_name(&w, &first, "version");
		put_int(&w, si->version);
	}
	if (si->token_bucket_bytes_per_second != 0) {
		put_name(&w, &first, "TokenBucketBytesPerSecond");
		put_int(&w, si->token_bucket_bytes_per_second);
	}
	if (si->token_bucket_bytes_burst != 0) {
		put_name(&w, &first, "TokenBucketBytesBurst");
		put_int(&w, si->token_bucket_bytes_burst);
	}
	put(&w, "}", 1);
	return w.full ? 0 : w.len;
}

/* Whether the nesting of [ and { (outside strings) stays within max. Runs
 * before jansson, whose parser recurses once per level. */
static bool depth_ok(const uint8_t *p, size_t len, unsigned max)
{
	unsigned depth = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return false;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return true;
}

/* json.Unmarshal into a struct: the top level must be an object (null
 * leaves the struct as it is). */
static int load(const uint8_t *p, size_t len, json_t **out)
{
	json_error_t err;
	json_t *j;

	if (!p && len > 0)
		return DERP_ERR_JSON;
	if (!depth_ok(p, len, DERP_INFO_JSON_MAX_DEPTH))
		return DERP_ERR_JSON_DEPTH;
	/* NUL escapes and any top-level value are valid JSON to Go. */
	j = json_loadb(p ? (const char *)p : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!j)
		return json_error_code(&err) == json_error_out_of_memory ? DERP_ERR_NOMEM
									 : DERP_ERR_JSON;
	if (!json_is_object(j) && !json_is_null(j)) {
		json_decref(j);
		return DERP_ERR_JSON_TYPE;
	}
	*out = j;
	return 0;
}

/* Go matches a JSON name to a field case-insensitively. */
static bool name_is(const char *key, const char *field)
{
	size_t n = strlen(field);

	if (strlen(key) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = key[i], b = field[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

/* An int field: a JSON integer (Go's strconv.ParseInt refuses 2.0 and
 * 1e3), or null for no change. */
static int get_int(json_t *v, int64_t *out)
{
	if (json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return DERP_ERR_JSON_TYPE;
	*out = json_integer_value(v);
	return 0;
}

static int get_bool(json_t *v, bool *out)
{
	if (json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return DERP_ERR_JSON_TYPE;
	*out = json_is_true(v);
	return 0;
}

/* DERPMesh.UnmarshalJSON: any value that is not a string of 64 hex digits
 * fails, null included (it runs for null too and sees ""). */
static int get_mesh_key(json_t *v, struct derp_client_info *ci)
{
	if (!json_is_string(v) || json_string_length(v) != DERP_MESH_KEY_HEX_LEN ||
	    strlen(json_string_value(v)) != DERP_MESH_KEY_HEX_LEN)
		return DERP_ERR_MESH_KEY;
	if (derp_mesh_key_parse(json_string_value(v), ci->mesh_key) < 0)
		return DERP_ERR_MESH_KEY;
	ci->has_mesh_key = !derp_mesh_key_is_zero(ci->mesh_key);
	return 0;
}

/* AppName, cut at an embedded NUL or DERP_APP_NAME_MAX_BYTES (at a UTF-8
 * boundary: jansson has checked the encoding). */
static int get_app_name(json_t *v, struct derp_client_info *ci)
{
	const char *s;
	size_t n;

	if (json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return DERP_ERR_JSON_TYPE;
	s = json_string_value(v);
	n = strlen(s);
	if (n > DERP_APP_NAME_MAX_BYTES) {
		n = DERP_APP_NAME_MAX_BYTES;
		while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(ci->app_name, s, n);
	ci->app_name[n] = 0;
	return 0;
}

static int client_field(const char *k, json_t *v, struct derp_client_info *ci)
{
	if (name_is(k, "meshKey"))
		return get_mesh_key(v, ci);
	if (name_is(k, "version"))
		return get_int(v, &ci->version);
	if (name_is(k, "CanAckPings"))
		return get_bool(v, &ci->can_ack_pings);
	if (name_is(k, "IsProber"))
		return get_bool(v, &ci->is_prober);
	if (name_is(k, "AppName"))
		return get_app_name(v, ci);
	return 0; /* unknown fields are ignored */
}

int derp_client_info_parse(const uint8_t *json, size_t len, struct derp_client_info *out)
{
	struct derp_client_info ci;
	const char *k;
	json_t *j = NULL, *v;
	int rc;

	memset(&ci, 0, sizeof(ci));
	rc = load(json, len, &j);
	if (rc < 0)
		return rc;
	json_object_foreach (j, k, v) {
		rc = client_field(k, v, &ci);
		if (rc < 0)
			goto out;
	}
	*out = ci;
out:
	json_decref(j);
	return rc;
}

int derp_server_info_parse(const uint8_t *json, size_t len, struct derp_server_info *out)
{
	struct derp_server_info si;
	const char *k;
	json_t *j = NULL, *v;
	int rc;

	memset(&si, 0, sizeof(si));
	rc = load(json, len, &j);
	if (rc < 0)
		return rc;
	json_object_foreach (j, k, v) {
		if (name_is(k, "version"))
			rc = get_int(v, &si.version);
		else if (name_is(k, "TokenBucketBytesPerSecond"))
			rc = get_int(v, &si.token_bucket_bytes_per_second);
		else if (name_is(k, "TokenBucketBytesBurst"))
			rc = get_int(v, &si.token_bucket_bytes_burst);
		if (rc < 0)
			goto out;
	}
	*out = si;
out:
	json_decref(j);
	return rc;
}
