/* key_test: text forms, Curve25519 vectors (RFC 7748 section 6.1 and
 * Tailscale's types/key node_test.go) and key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"

/* RFC 7748 section 6.1: Alice's private key and its public key. */
#define RFC_PRIV_HEX "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define RFC_PUB_HEX  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define RFC_PRIV_B64 "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define RFC_PUB_B64  "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
/* Tailscale types/key TestNodeSerialization: a private key and its public key. */
#define TS_PRIV	   "privkey:40ab1b58e9076c7a4d9d07291f5edf9d1aa017eb949624ba683317f48a640369"
#define TS_PUB	   "nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f765"
#define TS_PUB_HEX "50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f765"

static struct key32 must_parse(const char *s, enum key_kind kind)
{
	struct key32 k;
	const char *why = NULL;

	if (key_parse(s, kind, &k, &why) != 0)
		fail_msg("key_parse(%s): %s", s, why);
	return k;
}

static void expect_bad(const char *s, enum key_kind kind, const char *want_why)
{
	struct key32 k;
	const char *why = NULL;

	memset(&k, 0xaa, sizeof(k));
	assert_int_equal(key_parse(s, kind, &k, &why), -EINVAL);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	/* A failed parse leaves the output alone. */
	assert_int_equal(k.b[0], 0xaa);
}

static void test_round_trip_every_kind(void **state)
{
	(void)state;
	static const enum key_kind kinds[] = {KEY_KIND_NODE_PUBLIC, KEY_KIND_DISCO_PUBLIC,
					      KEY_KIND_MACHINE_PUBLIC, KEY_KIND_PRIVATE};
	struct key32 k, back;
	char text[KEY_TEXT_MAX], b64[KEY_B64_LEN + 1];

	assert_int_equal(key_generate(&k), 0);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = key_format(kinds[i], &k, text, sizeof(text));
		assert_int_equal(n, strlen(key_kind_prefix(kinds[i])) + KEY_HEX_LEN);
		assert_int_equal(strlen(text), n);
		assert_memory_equal(text, key_kind_prefix(kinds[i]),
				    strlen(key_kind_prefix(kinds[i])));
		back = must_parse(text, kinds[i]);
		assert_true(key_equal(&k, &back));
		/* Every kind also reads WireGuard's base64. */
		assert_int_equal(key_to_base64(&k, b64, sizeof(b64)), KEY_B64_LEN);
		back = must_parse(b64, kinds[i]);
		assert_true(key_equal(&k, &back));
	}
}

static void test_prefixes(void **state)
{
	(void)state;
	assert_string_equal(key_kind_prefix(KEY_KIND_NODE_PUBLIC), "nodekey:");
	assert_string_equal(key_kind_prefix(KEY_KIND_DISCO_PUBLIC), "discokey:");
	assert_string_equal(key_kind_prefix(KEY_KIND_MACHINE_PUBLIC), "mkey:");
	assert_string_equal(key_kind_prefix(KEY_KIND_PRIVATE), "privkey:");
	assert_string_equal(key_kind_prefix(KEY_KIND_INVALID), "");
}

static void test_rfc7748_public(void **state)
{
	(void)state;
	struct key32 priv = must_parse("privkey:" RFC_PRIV_HEX, KEY_KIND_PRIVATE);
	struct key32 want = must_parse("nodekey:" RFC_PUB_HEX, KEY_KIND_NODE_PUBLIC);
	struct key32 pub;

	assert_int_equal(key_public(&priv, &pub), 0);
	assert_true(key_equal(&pub, &want));
}

static void test_rfc7748_base64_hex(void **state)
{
	(void)state;
	struct key32 a = must_parse(RFC_PRIV_B64, KEY_KIND_PRIVATE);
	struct key32 b = must_parse("privkey:" RFC_PRIV_HEX, KEY_KIND_PRIVATE);
	char text[KEY_TEXT_MAX], b64[KEY_B64_LEN + 1];

	assert_true(key_equal(&a, &b));
	assert_int_equal(key_to_base64(&b, b64, sizeof(b64)), KEY_B64_LEN);
	assert_string_equal(b64, RFC_PRIV_B64);
	a = must_parse(RFC_PUB_B64, KEY_KIND_NODE_PUBLIC);
	assert_true(key_format(KEY_KIND_NODE_PUBLIC, &a, text, sizeof(text)) > 0);
	assert_string_equal(text, "nodekey:" RFC_PUB_HEX);
}

static void test_tailscale_vector(void **state)
{
	(void)state;
	struct key32 priv = must_parse(TS_PRIV, KEY_KIND_PRIVATE);
	struct key32 want = must_parse(TS_PUB, KEY_KIND_NODE_PUBLIC);
	struct key32 pub, disco, machine;
	char text[KEY_TEXT_MAX];

	assert_int_equal(priv.b[0], 0x40);
	assert_int_equal(priv.b[31], 0x69);
	assert_int_equal(want.b[0], 0x50);
	assert_int_equal(want.b[31], 0x65);
	assert_int_equal(key_public(&priv, &pub), 0);
	assert_true(key_equal(&pub, &want));
	key_format(KEY_KIND_PRIVATE, &priv, text, sizeof(text));
	assert_string_equal(text, TS_PRIV);
	/* disco_test.go and machine_test.go use the same bytes. */
	disco = must_parse("discokey:" TS_PUB_HEX, KEY_KIND_DISCO_PUBLIC);
	machine = must_parse("mkey:" TS_PUB_HEX, KEY_KIND_MACHINE_PUBLIC);
	assert_true(key_equal(&disco, &want));
	assert_true(key_equal(&machine, &want));
}

static void test_uppercase_hex_accepted(void **state)
{
	(void)state;
	/* Tailscale's fromHexChar accepts A-F; formatting is lowercase. */
	struct key32 k = must_parse(
		"nodekey:50D20B455ECF12BC453F83C2CFDB2A24925D06CF2598DCAA54E91AF82CE9F765",
		KEY_KIND_NODE_PUBLIC);
	char text[KEY_TEXT_MAX];

	key_format(KEY_KIND_NODE_PUBLIC, &k, text, sizeof(text));
	assert_string_equal(text, TS_PUB);
}

static void test_generate_clamped_distinct(void **state)
{
	(void)state;
	struct key32 a, b, pa, pb;

	assert_int_equal(key_generate(&a), 0);
	assert_int_equal(key_generate(&b), 0);
	assert_false(key_equal(&a, &b));
	assert_false(key_is_zero(&a));
	for (int i = 0; i < 2; i++) {
		const struct key32 *k = i ? &b : &a;
		assert_int_equal(k->b[0] & 7, 0);
		assert_int_equal(k->b[31] & 0x80, 0);
		assert_int_equal(k->b[31] & 0x40, 0x40);
	}
	assert_int_equal(key_public(&a, &pa), 0);
	assert_int_equal(key_public(&b, &pb), 0);
	assert_false(key_equal(&pa, &pb));
}

static void test_zero_and_equal(void **state)
{
	(void)state;
	struct key32 z = {{0}}, pub, k = must_parse(TS_PUB, KEY_KIND_NODE_PUBLIC);

	assert_true(key_is_zero(&z));
	assert_false(key_is_zero(&k));
	assert_false(key_equal(&z, &k));
	assert_int_equal(key_public(&z, &pub), -EINVAL);
}

static void test_format_small_buffers(void **state)
{
	(void)state;
	struct key32 k = must_parse(TS_PUB, KEY_KIND_NODE_PUBLIC);
	char buf[KEY_TEXT_MAX];

	assert_int_equal(key_format(KEY_KIND_NODE_PUBLIC, &k, buf, 8 + 64), 0);
	assert_int_equal(key_format(KEY_KIND_NODE_PUBLIC, &k, buf, 8 + 64 + 1), 72);
	assert_int_equal(key_format(KEY_KIND_INVALID, &k, buf, sizeof(buf)), 0);
	assert_int_equal(key_to_base64(&k, buf, KEY_B64_LEN), 0);
	assert_int_equal(key_to_base64(&k, buf, KEY_B64_LEN + 1), KEY_B64_LEN);
}

static void test_bad_hex_63(void **state)
{
	(void)state;
	expect_bad("nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f76",
		   KEY_KIND_NODE_PUBLIC, "hex part is too short: want 64 characters");
}

static void test_bad_hex_65(void **state)
{
	(void)state;
	expect_bad("nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f7650",
		   KEY_KIND_NODE_PUBLIC, "hex part is too long: want 64 characters");
}

static void test_bad_hex_char(void **state)
{
	(void)state;
	expect_bad("nodekey:50d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f7g5",
		   KEY_KIND_NODE_PUBLIC, "invalid hex character");
	expect_bad("nodekey: 0d20b455ecf12bc453f83c2cfdb2a24925d06cf2598dcaa54e91af82ce9f765",
		   KEY_KIND_NODE_PUBLIC, "invalid hex character");
}

static void test_bad_prefix_for_kind(void **state)
{
	(void)state;
	expect_bad("discokey:" TS_PUB_HEX, KEY_KIND_NODE_PUBLIC, "wrong prefix: expected nodekey:");
	expect_bad(TS_PUB, KEY_KIND_DISCO_PUBLIC, "wrong prefix: expected discokey:");
	expect_bad(TS_PUB, KEY_KIND_MACHINE_PUBLIC, "wrong prefix: expected mkey:");
	expect_bad(TS_PUB, KEY_KIND_PRIVATE, "wrong prefix: expected privkey:");
	/* The prefix is case-sensitive, as in Tailscale. */
	expect_bad("NODEKEY:" TS_PUB_HEX, KEY_KIND_NODE_PUBLIC, "wrong prefix: expected nodekey:");
}

static void test_bad_no_prefix(void **state)
{
	(void)state;
	expect_bad(TS_PUB_HEX, KEY_KIND_NODE_PUBLIC, "64 hex digits need the nodekey: prefix");
	expect_bad("hello", KEY_KIND_NODE_PUBLIC,
		   "neither prefix:<64 hex> nor 44-character base64");
}

static void test_bad_base64_padding(void **state)
{
	(void)state;
	/* 44 characters, but the '=' is missing and a character doubled. */
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoo", KEY_KIND_NODE_PUBLIC,
		   "base64 does not decode to 32 bytes");
	/* Non-zero bits under the padding. */
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", KEY_KIND_NODE_PUBLIC,
		   "invalid base64 (bad character or padding)");
	/* 43 and 45 characters. */
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", KEY_KIND_NODE_PUBLIC,
		   "neither prefix:<64 hex> nor 44-character base64");
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==", KEY_KIND_NODE_PUBLIC,
		   "neither prefix:<64 hex> nor 44-character base64");
	expect_bad("=SDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", KEY_KIND_NODE_PUBLIC,
		   "invalid base64 (bad character or padding)");
}

static void test_bad_base64_char(void **state)
{
	(void)state;
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=", KEY_KIND_NODE_PUBLIC,
		   "invalid base64 (bad character or padding)");
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb mo=", KEY_KIND_NODE_PUBLIC,
		   "invalid base64 (bad character or padding)");
	/* libsodium 1.0.18 alone would read a byte >= 0x80 as '/'. */
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2\xb9Og0mOBr066SpjqqbTmo=", KEY_KIND_NODE_PUBLIC,
		   "invalid base64 (bad character or padding)");
}

static void test_bad_base64_31_bytes(void **state)
{
	(void)state;
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTg==", KEY_KIND_NODE_PUBLIC,
		   "base64 does not decode to 32 bytes");
}

static void test_bad_base64_33_bytes(void **state)
{
	(void)state;
	expect_bad("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA", KEY_KIND_NODE_PUBLIC,
		   "base64 does not decode to 32 bytes");
}

static void test_bad_empty_and_null(void **state)
{
	(void)state;
	struct key32 k;

	expect_bad("", KEY_KIND_NODE_PUBLIC, "empty key");
	expect_bad(NULL, KEY_KIND_NODE_PUBLIC, "empty key");
	expect_bad(TS_PUB, KEY_KIND_INVALID, "unknown key kind");
	/* why may be NULL. */
	assert_int_equal(key_parse("x", KEY_KIND_NODE_PUBLIC, &k, NULL), -EINVAL);
}

/* Key files, each test in its own mkdtemp directory. */
struct tmp {
	char dir[64];
	char path[128];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/key_test.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/node.key", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_file_round_trip(void **state)
{
	struct tmp *t = *state;
	struct key32 k, back;
	char err[256] = "", b64[KEY_B64_LEN + 1], contents[128];
	struct stat st;
	int fd;
	ssize_t n;

	assert_int_equal(key_generate(&k), 0);
	assert_int_equal(key_file_write(t->path, &k, err, sizeof(err)), 0);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	fd = open(t->path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, contents, sizeof(contents) - 1);
	close(fd);
	assert_int_equal(n, KEY_B64_LEN + 1);
	contents[n] = 0;
	key_to_base64(&k, b64, sizeof(b64));
	assert_memory_equal(contents, b64, KEY_B64_LEN);
	assert_int_equal(contents[KEY_B64_LEN], '\n');
	assert_int_equal(key_file_read(t->path, &back, err, sizeof(err)), 0);
	assert_true(key_equal(&k, &back));
}

/* First start makes the key (0600); later starts load the same one; a bad
 * file is an error, not replaced. */
static void test_file_load_or_create(void **state)
{
	struct tmp *t = *state;
	struct key32 a, b;
	char err[256] = "";
	bool created = false;
	struct stat st;

	assert_int_equal(key_file_load_or_create(t->path, &a, &created, err, sizeof(err)), 0);
	assert_true(created);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(key_file_load_or_create(t->path, &b, &created, err, sizeof(err)), 0);
	assert_false(created);
	assert_true(key_equal(&a, &b));
	assert_int_equal(chmod(t->path, 0644), 0);
	assert_true(key_file_load_or_create(t->path, &b, &created, err, sizeof(err)) < 0);
	assert_false(created);
	assert_non_null(strstr(err, t->path));
}

/* Bare hex (the bus's state keys): round trip; exactly 64 hex digits. */
static void test_bare_hex(void **state)
{
	(void)state;
	struct key32 k;
	uint8_t back[KEY_LEN];
	char hex[KEY_HEX_LEN + 1], bad[KEY_HEX_LEN + 2];

	assert_int_equal(key_generate(&k), 0);
	key_hex_format(k.b, hex);
	assert_int_equal(strlen(hex), KEY_HEX_LEN);
	assert_int_equal(key_hex_parse(hex, back), 0);
	assert_memory_equal(back, k.b, KEY_LEN);
	hex[0] = 'A'; /* either case */
	assert_int_equal(key_hex_parse(hex, back), 0);
	assert_int_equal(key_hex_parse("", back), -EINVAL);
	memcpy(bad, hex, KEY_HEX_LEN - 1);
	bad[KEY_HEX_LEN - 1] = 0;
	assert_int_equal(key_hex_parse(bad, back), -EINVAL); /* 63 */
	memcpy(bad, hex, KEY_HEX_LEN);
	bad[KEY_HEX_LEN] = '0';
	bad[KEY_HEX_LEN + 1] = 0;
	assert_int_equal(key_hex_parse(bad, back), -EINVAL); /* 65 */
	bad[KEY_HEX_LEN] = 0;
	bad[10] = 'g';
	assert_int_equal(key_hex_parse(bad, back), -EINVAL);
	bad[10] = ' ';
	assert_int_equal(key_hex_parse(bad, back), -EINVAL);
}

static void test_file_privkey_hex_and_whitespace(void **state)
{
	struct tmp *t = *state;
	static const char text[] = TS_PRIV "\r\n \t\n";
	struct key32 k, want = must_parse(TS_PRIV, KEY_KIND_PRIVATE);
	char err[256] = "";

	write_file(t->path, text, sizeof(text) - 1, 0600);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), 0);
	assert_true(key_equal(&k, &want));
}

static void test_file_refuses_0644(void **state)
{
	struct tmp *t = *state;
	struct key32 k;
	char err[512], want[512];

	write_file(t->path, RFC_PRIV_B64 "\n", KEY_B64_LEN + 1, 0644);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "%s: key file is accessible by group or other (mode 0644); chmod 600 %s", t->path,
		 t->path);
	assert_string_equal(err, want);
}

static void test_file_refuses_0640(void **state)
{
	struct tmp *t = *state;
	struct key32 k;
	char err[512], want[512];

	write_file(t->path, RFC_PRIV_B64 "\n", KEY_B64_LEN + 1, 0640);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want),
		 "%s: key file is accessible by group or other (mode 0640); chmod 600 %s", t->path,
		 t->path);
	assert_string_equal(err, want);
}

static void test_file_refuses_overwrite(void **state)
{
	struct tmp *t = *state;
	struct key32 k, back;
	char err[512], want[512];

	assert_int_equal(key_generate(&k), 0);
	assert_int_equal(key_file_write(t->path, &k, err, sizeof(err)), 0);
	assert_int_equal(key_file_write(t->path, &k, err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "%s exists; refusing to overwrite", t->path);
	assert_string_equal(err, want);
	/* The first key is untouched. */
	assert_int_equal(key_file_read(t->path, &back, err, sizeof(err)), 0);
	assert_true(key_equal(&k, &back));
}

static void test_file_missing(void **state)
{
	struct tmp *t = *state;
	struct key32 k;
	char err[512], want[512];

	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", t->path);
	assert_string_equal(err, want);
}

static void test_file_oversized(void **state)
{
	struct tmp *t = *state;
	char big[KEY_FILE_MAX_BYTES + 10], err[512], want[512];
	struct key32 k;

	memset(big, 'A', sizeof(big));
	write_file(t->path, big, sizeof(big), 0600);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EFBIG);
	snprintf(want, sizeof(want), "%s: %zu bytes, more than a key file's %d", t->path,
		 sizeof(big), KEY_FILE_MAX_BYTES);
	assert_string_equal(err, want);
}

static void test_file_garbage(void **state)
{
	struct tmp *t = *state;
	char err[512], want[512];
	struct key32 k;

	write_file(t->path, "hello world\n", 12, 0600);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: not a private key: neither prefix:<64 hex> nor 44-character base64", t->path);
	assert_string_equal(err, want);
}

static void test_file_public_prefix(void **state)
{
	struct tmp *t = *state;
	char err[512], want[512];
	struct key32 k;

	write_file(t->path, TS_PUB "\n", strlen(TS_PUB) + 1, 0600);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: not a private key: wrong prefix: expected privkey:", t->path);
	assert_string_equal(err, want);
}

static void test_file_empty(void **state)
{
	struct tmp *t = *state;
	char err[512], want[512];
	struct key32 k;

	write_file(t->path, "\n", 1, 0600);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: empty; expected a base64 private key", t->path);
	assert_string_equal(err, want);
}

static void test_file_nul_byte(void **state)
{
	struct tmp *t = *state;
	char err[512], want[512];
	struct key32 k;

	write_file(t->path, RFC_PRIV_B64 "\0x\n", KEY_B64_LEN + 3, 0600);
	assert_int_equal(key_file_read(t->path, &k, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: contains a NUL byte; not a key file", t->path);
	assert_string_equal(err, want);
}

static void test_file_not_regular(void **state)
{
	struct tmp *t = *state;
	char err[512], want[512];
	struct key32 k;

	assert_int_equal(chmod(t->dir, 0700), 0);
	assert_int_equal(key_file_read(t->dir, &k, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", t->dir);
	assert_string_equal(err, want);
}

static void test_file_write_ignores_umask(void **state)
{
	struct tmp *t = *state;
	struct key32 k;
	struct stat st;
	mode_t old = umask(0);

	assert_int_equal(key_generate(&k), 0);
	assert_int_equal(key_file_write(t->path, &k, NULL, 0), 0);
	umask(old);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_kind),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_rfc7748_public),
		cmocka_unit_test(test_rfc7748_base64_hex),
		cmocka_unit_test(test_tailscale_vector),
		cmocka_unit_test(test_uppercase_hex_accepted),
		cmocka_unit_test(test_generate_clamped_distinct),
		cmocka_unit_test(test_zero_and_equal),
		cmocka_unit_test(test_format_small_buffers),
		cmocka_unit_test(test_bad_hex_63),
		cmocka_unit_test(test_bad_hex_65),
		cmocka_unit_test(test_bad_hex_char),
		cmocka_unit_test(test_bad_prefix_for_kind),
		cmocka_unit_test(test_bad_no_prefix),
		cmocka_unit_test(test_bad_base64_padding),
		cmocka_unit_test(test_bad_base64_char),
		cmocka_unit_test(test_bad_base64_31_bytes),
		cmocka_unit_test(test_bad_base64_33_bytes),
		cmocka_unit_test(test_bad_empty_and_null),
		cmocka_unit_test(test_bare_hex),
		T(test_file_round_trip),
		T(test_file_load_or_create),
		T(test_file_privkey_hex_and_whitespace),
		T(test_file_refuses_0644),
		T(test_file_refuses_0640),
		T(test_file_refuses_overwrite),
		T(test_file_missing),
		T(test_file_oversized),
		T(test_file_garbage),
		T(test_file_public_prefix),
		T(test_file_empty),
		T(test_file_nul_byte),
		T(test_file_not_regular),
		T(test_file_write_ignores_umask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
