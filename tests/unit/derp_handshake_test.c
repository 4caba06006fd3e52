/* derp_handshake_test: the DERP login. JSON vectors follow Go's
 * encoding/json on Tailscale's derp.ClientInfo / derp.ServerInfo (field
 * order, tags, omitempty/omitzero) and derp/derp_test.go's
 * TestClientInfoUnmarshal; mesh keys from derpserver_test.go; boxes round
 * trip with real keys and are checked against libsodium directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "derp/derp_handshake.h"
#include "key.h"

/* derpserver_test.go / derp_test.go testMeshKey. */
#define TEST_MESH_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* derp_test.go TestClientInfoUnmarshal's key. */
#define OTHER_MESH_KEY "6d529e9d4ef632d22d4a4214cb49da8f1ba1b72697061fb24e312984c35ec8d8"

struct keys {
	struct key32 client_priv, client_pub, server_priv, server_pub;
};

static struct keys new_keys(void)
{
	struct keys k;

	assert_int_equal(key_generate(&k.client_priv), 0);
	assert_int_equal(key_public(&k.client_priv, &k.client_pub), 0);
	assert_int_equal(key_generate(&k.server_priv), 0);
	assert_int_equal(key_public(&k.server_priv, &k.server_pub), 0);
	return k;
}

/* A ClientInfo payload boxing arbitrary bytes (what a hostile client can
 * send). Returns its length; the caller frees *out. */
static size_t box_client_raw(const struct keys *k, const void *msg, size_t msg_len, uint8_t **out)
{
	size_t n = 32 + 24 + 16 + msg_len;
	uint8_t *p = malloc(n);

	assert_non_null(p);
	memcpy(p, k->client_pub.b, 32);
	randombytes_buf(p + 32, 24);
	assert_int_equal(
		crypto_box_easy(p + 56, msg, msg_len, p + 32, k->server_pub.b, k->client_priv.b),
		0);
	*out = p;
	return n;
}

static size_t box_server_raw(const struct keys *k, const void *msg, size_t msg_len, uint8_t **out)
{
	size_t n = 24 + 16 + msg_len;
	uint8_t *p = malloc(n);

	assert_non_null(p);
	randombytes_buf(p, 24);
	assert_int_equal(
		crypto_box_easy(p + 24, msg, msg_len, p, k->client_pub.b, k->server_priv.b), 0);
	*out = p;
	return n;
}

/* Field by field: struct padding is not part of the value. */
static void assert_ci_equal(const struct derp_client_info *a, const struct derp_client_info *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->has_mesh_key, b->has_mesh_key);
	assert_memory_equal(a->mesh_key, b->mesh_key, sizeof(a->mesh_key));
	assert_int_equal(a->can_ack_pings, b->can_ack_pings);
	assert_int_equal(a->is_prober, b->is_prober);
	assert_string_equal(a->app_name, b->app_name);
}

static int parse_ci(const char *json, struct derp_client_info *ci)
{
	return derp_client_info_parse((const uint8_t *)json, strlen(json), ci);
}

static void assert_ci_encodes(const struct derp_client_info *ci, const char *want)
{
	uint8_t buf[DERP_CLIENT_INFO_JSON_MAX_BYTES];
	size_t n = derp_client_info_encode(ci, buf, sizeof(buf));

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static void test_client_info_json_vectors(void **state)
{
	(void)state;
	struct derp_client_info ci;

	/* What derp_client.go sendClientKey marshals for a plain client. */
	memset(&ci, 0, sizeof(ci));
	ci.version = DERP_PROTOCOL_VERSION;
	ci.can_ack_pings = true;
	assert_ci_encodes(&ci, "{\"version\":2,\"CanAckPings\":true}");

	/* Every field, in derp.ClientInfo's order. */
	assert_int_equal(derp_mesh_key_parse(TEST_MESH_KEY, ci.mesh_key), 0);
	ci.has_mesh_key = true;
	ci.is_prober = true;
	strcpy(ci.app_name, "derpprobe");
	assert_ci_encodes(&ci, "{\"meshKey\":\"" TEST_MESH_KEY "\",\"version\":2,"
			       "\"CanAckPings\":true,\"IsProber\":true,\"AppName\":\"derpprobe\"}");

	/* The zero value: only CanAckPings has no omitempty. */
	memset(&ci, 0, sizeof(ci));
	assert_ci_encodes(&ci, "{\"CanAckPings\":false}");

	/* A zero mesh key is omitted (omitzero) even if flagged. */
	ci.has_mesh_key = true;
	ci.version = -1;
	assert_ci_encodes(&ci, "{\"version\":-1,\"CanAckPings\":false}");
}

static void test_client_info_json_escapes(void **state)
{
	(void)state;
	struct derp_client_info ci, back;

	memset(&ci, 0, sizeof(ci));
	/* Go's json.Marshal (HTML-safe): <, >, & and controls as \u00xx,
	 * U+2028 escaped, an invalid byte as \ufffd, DEL and é raw. */
	strcpy(ci.app_name, "a<b>&\"\\\n\t\x01\x7f\xc3\xa9\xe2\x80\xa8\xff/");
	assert_ci_encodes(&ci, "{\"CanAckPings\":false,\"AppName\":\"a\\u003cb\\u003e\\u0026"
			       "\\\"\\\\\\n\\t\\u0001\x7f\xc3\xa9\\u2028\\ufffd/\"}");

	/* A truncated 3-byte sequence and a surrogate: one \ufffd per byte. */
	strcpy(ci.app_name, "\xe2\x82 \xed\xa0\x80");
	assert_ci_encodes(&ci, "{\"CanAckPings\":false,\"AppName\":\"\\ufffd\\ufffd "
			       "\\ufffd\\ufffd\\ufffd\"}");

	/* \b and \f as Go 1.22+ writes them; parsing gives them back. */
	strcpy(ci.app_name, "\b\f");
	assert_ci_encodes(&ci, "{\"CanAckPings\":false,\"AppName\":\"\\b\\f\"}");
	assert_int_equal(parse_ci("{\"AppName\":\"\\b\\f\"}", &back), 0);
	assert_string_equal(back.app_name, "\b\f");
}

static void test_client_info_json_longest(void **state)
{
	(void)state;
	struct derp_client_info ci;
	uint8_t buf[DERP_CLIENT_INFO_JSON_MAX_BYTES];

	memset(&ci, 0, sizeof(ci));
	ci.version = INT64_MIN;
	ci.has_mesh_key = true;
	memset(ci.mesh_key, 0xff, sizeof(ci.mesh_key));
	ci.can_ack_pings = false;
	ci.is_prober = true;
	memset(ci.app_name, 0xff, DERP_APP_NAME_MAX_BYTES);
	assert_true(derp_client_info_encode(&ci, buf, sizeof(buf)) > 0);
	assert_int_equal(derp_client_info_encode(&ci, buf, 20), 0);
}

static void test_server_info_json_vectors(void **state)
{
	(void)state;
	struct derp_server_info si = {.version = DERP_PROTOCOL_VERSION}, back;
	uint8_t buf[DERP_SERVER_INFO_JSON_MAX_BYTES];
	const char *want = "{\"version\":2}";
	const char *full = "{\"version\":2,\"TokenBucketBytesPerSecond\":1000,"
			   "\"TokenBucketBytesBurst\":65568}";
	size_t n;

	/* derpserver.go sendServerInfo. */
	n = derp_server_info_encode(&si, buf, sizeof(buf));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);

	si.token_bucket_bytes_per_second = 1000;
	si.token_bucket_bytes_burst = 65568;
	n = derp_server_info_encode(&si, buf, sizeof(buf));
	assert_int_equal(n, strlen(full));
	assert_memory_equal(buf, full, n);
	assert_int_equal(derp_server_info_parse(buf, n, &back), 0);
	assert_memory_equal(&back, &si, sizeof(si));

	memset(&si, 0, sizeof(si));
	assert_int_equal(derp_server_info_encode(&si, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "{}", 2);

	/* The longest fits the seal's buffer. */
	si.version = si.token_bucket_bytes_per_second = si.token_bucket_bytes_burst = INT64_MIN;
	assert_true(derp_server_info_encode(&si, buf, sizeof(buf)) > 0);
}

/* derp_test.go TestClientInfoUnmarshal. */
static void test_client_info_unmarshal_tailscale(void **state)
{
	(void)state;
	struct derp_client_info ci, zero;
	uint8_t want_key[32];

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(parse_ci("{}", &ci), 0);
	assert_ci_equal(&ci, &zero);

	assert_int_equal(derp_mesh_key_parse(OTHER_MESH_KEY, want_key), 0);
	assert_int_equal(parse_ci("{\"Version\":5,\"MeshKey\":\"" OTHER_MESH_KEY "\"}", &ci), 0);
	assert_int_equal(ci.version, 5);
	assert_true(ci.has_mesh_key);
	assert_memory_equal(ci.mesh_key, want_key, 32);

	assert_int_equal(parse_ci("{\"version\":5,\"meshKey\":\"" OTHER_MESH_KEY "\"}", &ci), 0);
	assert_int_equal(ci.version, 5);
	assert_memory_equal(ci.mesh_key, want_key, 32);

	assert_int_equal(parse_ci("{\"version\":5,\"meshKey\":\"abcdefg\"}", &ci),
			 DERP_ERR_MESH_KEY);
	assert_int_equal(parse_ci("{\"version\":5,\"meshKey\":\"ffffffffffffffffffffffffffffffffff"
				  "ffffffffffffffffffffffffffffffffff\"}",
				  &ci),
			 DERP_ERR_MESH_KEY);
}

static void test_client_info_parse_go_rules(void **state)
{
	(void)state;
	struct derp_client_info ci, zero;

	memset(&zero, 0, sizeof(zero));
	/* Every field, any case, unknown fields ignored. */
	assert_int_equal(parse_ci(" {\"VERSION\":2,\"canackpings\":true,\"isPROBER\":true,"
				  "\"appname\":\"x\\u00e9\",\"Future\":{\"a\":[1,2,{}]}} ",
				  &ci),
			 0);
	assert_int_equal(ci.version, 2);
	assert_true(ci.can_ack_pings);
	assert_true(ci.is_prober);
	assert_string_equal(ci.app_name, "x\xc3\xa9");
	assert_false(ci.has_mesh_key);

	/* null leaves a field alone; a top-level null is all zeros. */
	assert_int_equal(parse_ci("{\"version\":null,\"CanAckPings\":null,\"AppName\":null}", &ci),
			 0);
	assert_ci_equal(&ci, &zero);
	assert_int_equal(parse_ci("null", &ci), 0);
	assert_ci_equal(&ci, &zero);

	/* A zero mesh key is no mesh key; upper-case hex is fine. */
	assert_int_equal(parse_ci("{\"meshKey\":\"00000000000000000000000000000000"
				  "00000000000000000000000000000000\"}",
				  &ci),
			 0);
	assert_false(ci.has_mesh_key);
	assert_int_equal(parse_ci("{\"meshKey\":\"ABCDEF0123456789ABCDEF0123456789"
				  "ABCDEF0123456789ABCDEF0123456789\"}",
				  &ci),
			 0);
	assert_true(ci.has_mesh_key);
	assert_int_equal(ci.mesh_key[0], 0xab);
}

static void test_client_info_parse_wrong_types(void **state)
{
	(void)state;
	static const char *bad_type[] = {
		"[]",
		"5",
		"\"s\"",
		"{\"version\":\"2\"}",
		"{\"version\":2.0}",
		"{\"version\":1e3}",
		"{\"CanAckPings\":1}",
		"{\"IsProber\":\"true\"}",
		"{\"AppName\":7}",
	};
	struct derp_client_info ci;

	for (size_t i = 0; i < sizeof(bad_type) / sizeof(bad_type[0]); i++)
		assert_int_equal(parse_ci(bad_type[i], &ci), DERP_ERR_JSON_TYPE);
	/* DERPMesh.UnmarshalJSON runs for null and for non-strings too. */
	assert_int_equal(parse_ci("{\"meshKey\":null}", &ci), DERP_ERR_MESH_KEY);
	assert_int_equal(parse_ci("{\"meshKey\":5}", &ci), DERP_ERR_MESH_KEY);
}

static void test_client_info_parse_not_json(void **state)
{
	(void)state;
	static const char *bad[] = {"", "not json", "{", "{\"version\":2}x",
				    "{\"version\":99999999999999999999}"};
	struct derp_client_info ci;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_ci(bad[i], &ci), DERP_ERR_JSON);
}

static char *nested(size_t depth)
{
	/* {"x": [[[ ... ]]] } with `depth` levels in all. */
	size_t n = depth - 1, len = 6 + 2 * n + 1;
	char *s = malloc(len + 1), *p = s;

	assert_non_null(s);
	memcpy(p, "{\"x\":", 5);
	p += 5;
	memset(p, '[', n);
	p += n;
	memset(p, ']', n);
	p += n;
	*p++ = '}';
	*p = 0;
	return s;
}

static void test_client_info_parse_depth(void **state)
{
	(void)state;
	struct derp_client_info ci;
	char *s;

	s = nested(DERP_INFO_JSON_MAX_DEPTH);
	assert_int_equal(parse_ci(s, &ci), 0);
	free(s);
	s = nested(DERP_INFO_JSON_MAX_DEPTH + 1);
	assert_int_equal(parse_ci(s, &ci), DERP_ERR_JSON_DEPTH);
	free(s);
	/* Brackets inside strings do not count. */
	assert_int_equal(
		parse_ci("{\"AppName\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[\"}", &ci), 0);
}

static void test_app_name_truncated(void **state)
{
	(void)state;
	char json[400];
	struct derp_client_info ci;

	/* 127 ASCII bytes then é: the cut falls inside é, which is dropped. */
	strcpy(json, "{\"AppName\":\"");
	memset(json + strlen(json), 'a', 127);
	strcpy(json + 12 + 127, "\xc3\xa9zz\"}");
	assert_int_equal(parse_ci(json, &ci), 0);
	assert_int_equal(strlen(ci.app_name), 127);
	/* An embedded NUL ends the name. */
	assert_int_equal(parse_ci("{\"AppName\":\"ab\\u0000cd\"}", &ci), 0);
	assert_string_equal(ci.app_name, "ab");
}

static void test_handshake_round_trip(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci, got;
	struct derp_server_info si = {.version = 2, .token_bucket_bytes_per_second = 5000}, sgot;
	struct key32 who;
	uint8_t buf[1024];
	size_t n;

	memset(&ci, 0, sizeof(ci));
	ci.version = DERP_PROTOCOL_VERSION;
	ci.can_ack_pings = true;
	ci.is_prober = true;
	ci.has_mesh_key = true;
	assert_int_equal(derp_mesh_key_parse(TEST_MESH_KEY, ci.mesh_key), 0);
	strcpy(ci.app_name, "msock");

	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, &ci,
					       buf, sizeof(buf), &n),
			 0);
	assert_memory_equal(buf, k.client_pub.b, 32);
	assert_int_equal(derp_client_info_open(&k.server_priv, buf, n, &who, &got), 0);
	assert_true(key_equal(&who, &k.client_pub));
	assert_ci_equal(&got, &ci);

	assert_int_equal(
		derp_server_info_seal(&k.server_priv, &k.client_pub, &si, buf, sizeof(buf), &n), 0);
	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, buf, n, &sgot), 0);
	assert_memory_equal(&sgot, &si, sizeof(si));
}

/* The layout Tailscale uses: pub || nonce || box.Seal(json), box.Seal being
 * crypto_box_easy (tag then ciphertext). */
static void test_client_info_layout(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci = {.version = 2, .can_ack_pings = true};
	const char *json = "{\"version\":2,\"CanAckPings\":true}";
	uint8_t nonce[24], buf[256], plain[64];
	size_t n;

	for (size_t i = 0; i < 24; i++)
		nonce[i] = (uint8_t)i;
	assert_int_equal(derp_client_info_seal_with_nonce(&k.client_priv, &k.client_pub,
							  &k.server_pub, &ci, nonce, buf,
							  sizeof(buf), &n),
			 0);
	assert_int_equal(n, 32 + 24 + 16 + strlen(json));
	assert_memory_equal(buf, k.client_pub.b, 32);
	assert_memory_equal(buf + 32, nonce, 24);
	assert_int_equal(crypto_box_open_easy(plain, buf + 56, n - 56, nonce, k.client_pub.b,
					      k.server_priv.b),
			 0);
	assert_memory_equal(plain, json, strlen(json));

	/* Same for ServerInfo: nonce || box. */
	struct derp_server_info si = {.version = 2};
	assert_int_equal(derp_server_info_seal_with_nonce(&k.server_priv, &k.client_pub, &si, nonce,
							  buf, sizeof(buf), &n),
			 0);
	assert_int_equal(n, 24 + 16 + 13);
	assert_memory_equal(buf, nonce, 24);
	assert_int_equal(crypto_box_open_easy(plain, buf + 24, n - 24, nonce, k.server_pub.b,
					      k.client_priv.b),
			 0);
	assert_memory_equal(plain, "{\"version\":2}", 13);
}

static void test_client_info_too_short(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci;
	struct key32 who;
	uint8_t p[32 + 24 + 15];

	memset(p, 1, sizeof(p));
	assert_int_equal(derp_client_info_open(&k.server_priv, p, 55, &who, &ci), DERP_ERR_SHORT);
	/* Long enough for the frame, too short for a box's tag. */
	assert_int_equal(derp_client_info_open(&k.server_priv, p, 56, &who, &ci), DERP_ERR_BOX);
	assert_int_equal(derp_client_info_open(&k.server_priv, p, sizeof(p), &who, &ci),
			 DERP_ERR_BOX);
}

static void test_client_info_too_long(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci;
	struct key32 who;
	size_t json_len = (256 << 10) - 72 + 1;
	char *json = malloc(json_len);
	uint8_t *p;
	size_t n;

	/* A valid box of valid JSON, one byte over the server's limit. */
	assert_non_null(json);
	memset(json, ' ', json_len);
	memcpy(json, "{}", 2);
	n = box_client_raw(&k, json, json_len, &p);
	assert_int_equal(n, (256 << 10) + 1);
	assert_int_equal(derp_client_info_open(&k.server_priv, p, n, &who, &ci), DERP_ERR_TOO_LONG);
	/* One byte less opens. */
	free(p);
	n = box_client_raw(&k, json, json_len - 1, &p);
	assert_int_equal(derp_client_info_open(&k.server_priv, p, n, &who, &ci), 0);
	free(p);
	free(json);
}

static void test_client_info_flipped_byte(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci = {.version = 2};
	struct key32 who;
	uint8_t buf[256];
	size_t n;

	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, &ci,
					       buf, sizeof(buf), &n),
			 0);
	/* Any byte of key, nonce, tag or ciphertext. */
	for (size_t i = 0; i < n; i++) {
		buf[i] ^= 0x01;
		assert_int_equal(derp_client_info_open(&k.server_priv, buf, n, &who, &ci),
				 DERP_ERR_BOX);
		buf[i] ^= 0x01;
	}
	assert_int_equal(derp_client_info_open(&k.server_priv, buf, n, &who, &ci), 0);
}

static void test_client_info_wrong_key(void **state)
{
	(void)state;
	struct keys k = new_keys(), other = new_keys();
	struct derp_client_info ci = {.version = 2};
	struct key32 who;
	uint8_t buf[256];
	size_t n;

	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, &ci,
					       buf, sizeof(buf), &n),
			 0);
	assert_int_equal(derp_client_info_open(&other.server_priv, buf, n, &who, &ci),
			 DERP_ERR_BOX);
	/* A client claiming someone else's key cannot box for it. */
	memcpy(buf, other.client_pub.b, 32);
	assert_int_equal(derp_client_info_open(&k.server_priv, buf, n, &who, &ci), DERP_ERR_BOX);
}

static void test_client_info_zero_key(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci = {.version = 2};
	struct key32 who, zero;
	uint8_t buf[256];
	size_t n;

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, &ci,
					       buf, sizeof(buf), &n),
			 0);
	memset(buf, 0, 32);
	assert_int_equal(derp_client_info_open(&k.server_priv, buf, n, &who, &ci),
			 DERP_ERR_ZERO_KEY);
	/* Go's SealTo panics on zero keys; we refuse them. */
	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &zero, &ci, buf,
					       sizeof(buf), &n),
			 DERP_ERR_ZERO_KEY);
	assert_int_equal(derp_server_info_seal(&zero, &k.client_pub, &(struct derp_server_info){0},
					       buf, sizeof(buf), &n),
			 DERP_ERR_ZERO_KEY);
}

static void test_client_info_deep_json(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci;
	struct key32 who;
	char *json = nested(100000);
	uint8_t *p;
	size_t n = box_client_raw(&k, json, strlen(json), &p);

	assert_int_equal(derp_client_info_open(&k.server_priv, p, n, &who, &ci),
			 DERP_ERR_JSON_DEPTH);
	free(p);
	free(json);
	/* Past jansson's own 2048 too, but below our cap it would open. */
	json = nested(3000);
	n = box_client_raw(&k, json, strlen(json), &p);
	assert_int_equal(derp_client_info_open(&k.server_priv, p, n, &who, &ci),
			 DERP_ERR_JSON_DEPTH);
	free(p);
	free(json);
}

static void test_client_info_not_json(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci;
	struct key32 who;
	uint8_t *p;
	size_t n = box_client_raw(&k, "version=2", 9, &p);

	assert_int_equal(derp_client_info_open(&k.server_priv, p, n, &who, &ci), DERP_ERR_JSON);
	free(p);
	/* An empty box: empty input is not JSON either. */
	n = box_client_raw(&k, "", 0, &p);
	assert_int_equal(n, 72);
	assert_int_equal(derp_client_info_open(&k.server_priv, p, n, &who, &ci), DERP_ERR_JSON);
	free(p);
}

static void test_client_info_seal_small_buffer(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_client_info ci = {.version = 2};
	uint8_t buf[128];
	size_t n;
	/* {"version":2,"CanAckPings":false} is 33 bytes: 32+24+16+33. */
	const size_t need = 105;

	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, &ci,
					       buf, need - 1, &n),
			 DERP_ERR_BUF_TOO_SMALL);
	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, &ci,
					       buf, need, &n),
			 0);
	assert_int_equal(n, need);
	assert_int_equal(derp_client_info_seal(&k.client_priv, &k.client_pub, &k.server_pub, NULL,
					       buf, sizeof(buf), &n),
			 DERP_ERR_INVALID_ARG);
}

static void test_server_info_too_short(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_server_info si;
	uint8_t p[24 + 15];

	memset(p, 2, sizeof(p));
	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, p, 23, &si),
			 DERP_ERR_SHORT);
	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, p, sizeof(p), &si),
			 DERP_ERR_BOX);
}

static void test_server_info_too_long(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_server_info si;
	size_t n = 24 + (1 << 20) + 1;
	uint8_t *p = calloc(1, n);

	assert_non_null(p);
	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, p, n, &si),
			 DERP_ERR_TOO_LONG);
	free(p);
}

static void test_server_info_flipped_byte(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_server_info si = {.version = 2};
	uint8_t buf[128];
	size_t n;

	assert_int_equal(
		derp_server_info_seal(&k.server_priv, &k.client_pub, &si, buf, sizeof(buf), &n), 0);
	for (size_t i = 0; i < n; i++) {
		buf[i] ^= 0x80;
		assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, buf, n, &si),
				 DERP_ERR_BOX);
		buf[i] ^= 0x80;
	}
}

static void test_server_info_wrong_key(void **state)
{
	(void)state;
	struct keys k = new_keys(), other = new_keys();
	struct derp_server_info si = {.version = 2};
	uint8_t buf[128];
	size_t n;

	assert_int_equal(
		derp_server_info_seal(&k.server_priv, &k.client_pub, &si, buf, sizeof(buf), &n), 0);
	assert_int_equal(derp_server_info_open(&other.client_priv, &k.server_pub, buf, n, &si),
			 DERP_ERR_BOX);
	assert_int_equal(derp_server_info_open(&k.client_priv, &other.server_pub, buf, n, &si),
			 DERP_ERR_BOX);
}

static void test_server_info_bad_json(void **state)
{
	(void)state;
	struct keys k = new_keys();
	struct derp_server_info si;
	char *json = nested(5000);
	uint8_t *p;
	size_t n = box_server_raw(&k, json, strlen(json), &p);

	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, p, n, &si),
			 DERP_ERR_JSON_DEPTH);
	free(p);
	free(json);
	n = box_server_raw(&k, "{\"version\":", 11, &p);
	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, p, n, &si),
			 DERP_ERR_JSON);
	free(p);
	n = box_server_raw(&k, "{\"TokenBucketBytesBurst\":\"1\"}", 29, &p);
	assert_int_equal(derp_server_info_open(&k.client_priv, &k.server_pub, p, n, &si),
			 DERP_ERR_JSON_TYPE);
	free(p);
}

/* derpserver_test.go TestSetMeshKey / TestIsMeshPeer. */
static void test_mesh_key(void **state)
{
	(void)state;
	uint8_t a[32], b[32], zero[32] = {0};
	char text[65];

	assert_int_equal(derp_mesh_key_parse(TEST_MESH_KEY, a), 0);
	assert_int_equal(a[0], 0x01);
	assert_int_equal(a[31], 0xef);
	assert_int_equal(derp_mesh_key_format(a, text, sizeof(text)), 64);
	assert_string_equal(text, TEST_MESH_KEY);
	assert_int_equal(derp_mesh_key_format(a, text, 64), 0);

	/* ParseDERPMesh trims whitespace. */
	assert_int_equal(derp_mesh_key_parse(" \t" TEST_MESH_KEY "\n", b), 0);
	assert_true(derp_mesh_key_equal(a, b));
	assert_int_equal(derp_mesh_key_parse(OTHER_MESH_KEY, b), 0);
	assert_false(derp_mesh_key_equal(a, b));
	assert_false(derp_mesh_key_is_zero(a));
	assert_true(derp_mesh_key_is_zero(zero));
	b[31] ^= 1;
	assert_false(derp_mesh_key_equal(b, zero));
}

static void test_mesh_key_bad(void **state)
{
	(void)state;
	static const char *bad[] = {
		"badf00d",
		"",
		TEST_MESH_KEY "0",
		TEST_MESH_KEY "00",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
		"0123456789abcdef0123456789abcdef 123456789abcdef0123456789abcdef",
	};
	uint8_t k[32];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(k, 0xaa, sizeof(k));
		assert_int_equal(derp_mesh_key_parse(bad[i], k), DERP_ERR_MESH_KEY);
		assert_int_equal(k[0], 0xaa);
	}
	assert_int_equal(derp_mesh_key_parse(NULL, k), DERP_ERR_MESH_KEY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_info_json_vectors),
		cmocka_unit_test(test_client_info_json_escapes),
		cmocka_unit_test(test_client_info_json_longest),
		cmocka_unit_test(test_server_info_json_vectors),
		cmocka_unit_test(test_client_info_unmarshal_tailscale),
		cmocka_unit_test(test_client_info_parse_go_rules),
		cmocka_unit_test(test_client_info_parse_wrong_types),
		cmocka_unit_test(test_client_info_parse_not_json),
		cmocka_unit_test(test_client_info_parse_depth),
		cmocka_unit_test(test_app_name_truncated),
		cmocka_unit_test(test_handshake_round_trip),
		cmocka_unit_test(test_client_info_layout),
		cmocka_unit_test(test_client_info_too_short),
		cmocka_unit_test(test_client_info_too_long),
		cmocka_unit_test(test_client_info_flipped_byte),
		cmocka_unit_test(test_client_info_wrong_key),
		cmocka_unit_test(test_client_info_zero_key),
		cmocka_unit_test(test_client_info_deep_json),
		cmocka_unit_test(test_client_info_not_json),
		cmocka_unit_test(test_client_info_seal_small_buffer),
		cmocka_unit_test(test_server_info_too_short),
		cmocka_unit_test(test_server_info_too_long),
		cmocka_unit_test(test_server_info_flipped_byte),
		cmocka_unit_test(test_server_info_wrong_key),
		cmocka_unit_test(test_server_info_bad_json),
		cmocka_unit_test(test_mesh_key),
		cmocka_unit_test(test_mesh_key_bad),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
