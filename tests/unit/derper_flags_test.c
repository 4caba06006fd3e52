/* derper_flags_test: Tailscale cmd/derper's flags (derper.go) under Go's
 * flag package rules (flag.go parseOne, strconv.ParseInt base 0,
 * ParseBool), with Go's error messages, and derper.go's derived settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "derper_flags.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char home[64];

/* A known environment: HOME a fresh directory, no XDG_CACHE_HOME. */
static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/derper_flags_test.XXXXXX");
	if (!mkdtemp(home))
		return -1;
	setenv("HOME", home, 1);
	unsetenv("XDG_CACHE_HOME");
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/keys/derp-mesh.key", home);
	unlink(p);
	snprintf(p, sizeof(p), "%s/keys", home);
	rmdir(p);
	rmdir(home);
	return 0;
}

/* argv[0] is added; the list ends at NULL. */
static int parse_v(struct derper_opts *o, char *err, size_t errcap, const char *first, va_list ap)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"msock-derper";
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < 31);
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	return derper_flags_parse(argc, argv, o, err, errcap);
}

static struct derper_opts ok(const char *first, ...)
{
	struct derper_opts o;
	char err[512] = "";
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = parse_v(&o, err, sizeof(err), first, ap);
	va_end(ap);
	if (rc != 0)
		fail_msg("parse: %d: %s", rc, err);
	return o;
}

static void bad(int want_rc, const char *want_err, const char *first, ...)
{
	struct derper_opts o;
	char err[512] = "";
	va_list ap;
	int rc;

	memset(&o, 0xaa, sizeof(o));
	va_start(ap, first);
	rc = parse_v(&o, err, sizeof(err), first, ap);
	va_end(ap);
	if (rc != want_rc)
		fail_msg("want %d, got %d: %s", want_rc, rc, err);
	if (want_err)
		assert_string_equal(err, want_err);
	/* A refused command line leaves *out alone. */
	assert_int_equal(((uint8_t *)&o)[0], 0xaa);
}

static void test_defaults(void **state)
{
	(void)state;
	struct derper_opts d;
	char want[128];

	derper_opts_defaults(&d);
	assert_string_equal(d.addr, ":443");
	assert_int_equal(d.http_port, 80);
	assert_int_equal(d.stun_port, 3478);
	assert_true(d.stun);
	assert_string_equal(d.config_path, "");
	assert_string_equal(d.certmode, "letsencrypt");
	assert_false(d.certmode_set);
	snprintf(want, sizeof(want), "%s/.cache/tailscale/derper-certs", home);
	assert_string_equal(d.certdir, want);
	assert_string_equal(d.hostname, "derp.tailscale.com");
	assert_string_equal(d.mesh_with, "");
	assert_false(d.verify_clients);
	assert_string_equal(d.verify_clients_file, "");
	assert_false(d.dev);
	assert_false(d.version);
	assert_string_equal(d.rate_config, "");
	assert_int_equal(d.per_client_rate_limit, 0);
	assert_int_equal(d.per_client_rate_burst, 0);
	assert_int_equal(d.handshake_timeout_ms, 10000);
	assert_int_equal(d.tcp_keepalive_time_ns, INT64_C(600000000000));
	assert_int_equal(d.tcp_user_timeout_ns, INT64_C(15000000000));
	assert_int_equal(d.tcp_write_timeout_ns, INT64_C(2000000000));
	assert_string_equal(d.user, "msock-derper");
	assert_string_equal(d.chroot_dir, "/run/msock-derper");
	/* Tailscale's default :443 with letsencrypt serves TLS. */
	assert_true(derper_opts_tls(&d));
}

static void test_default_certdir_from_env(void **state)
{
	(void)state;
	struct derper_opts d;

	/* os.UserCacheDir: $XDG_CACHE_HOME when absolute. */
	setenv("XDG_CACHE_HOME", "/var/cache//", 1);
	derper_opts_defaults(&d);
	assert_string_equal(d.certdir, "/var/cache/tailscale/derper-certs");
	/* A relative one is an error there, so no default. */
	setenv("XDG_CACHE_HOME", "cache", 1);
	derper_opts_defaults(&d);
	assert_string_equal(d.certdir, "");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	derper_opts_defaults(&d);
	assert_string_equal(d.certdir, "");
	setenv("HOME", home, 1);
}

static void test_default_mesh_psk_file(void **state)
{
	(void)state;
	struct derper_opts d;
	char dir[128], file[160];
	FILE *f;
	struct stat st;

	if (stat("/home/derp/keys/derp-mesh.key", &st) == 0)
		skip(); /* the first candidate wins on this machine */
	derper_opts_defaults(&d);
	assert_string_equal(d.mesh_psk_file, "");
	snprintf(dir, sizeof(dir), "%s/keys", home);
	snprintf(file, sizeof(file), "%s/derp-mesh.key", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	derper_opts_defaults(&d);
	assert_string_equal(d.mesh_psk_file, file);
}

/* Every flag, in each of Go's four spellings. */
static void test_every_flag_every_syntax(void **state)
{
	(void)state;
	static const char *const forms[4][2] = {{"-", ""}, {"--", ""}, {"-", "="}, {"--", "="}};
	static const struct {
		const char *flag, *value;
	} cases[] = {
		{"a", "127.0.0.1:8443"},
		{"http-port", "8080"},
		{"stun-port", "3479"},
		{"c", "/etc/derper.json"},
		{"certmode", "manual"},
		{"certdir", "/etc/derp-certs"},
		{"hostname", "derp.example.com"},
		{"mesh-psk-file", "/etc/mesh.key"},
		{"mesh-with", "a.example.com,b.example.com/10.0.0.2"},
		{"verify-clients-file", "/etc/allowed"},
		{"rate-config", "/etc/rate.json"},
		{"per-client-rate-limit", "1250000"},
		{"per-client-rate-burst", "2500000"},
		{"handshake-timeout-ms", "250"},
		{"user", "derp"},
		{"chroot", "/var/empty"},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int f = 0; f < 4; f++) {
			char a1[128];
			struct derper_opts o;

			if (forms[f][1][0]) {
				snprintf(a1, sizeof(a1), "%s%s=%s", forms[f][0], cases[c].flag,
					 cases[c].value);
				o = ok("-certmode", "manual", a1, NULL);
			} else {
				snprintf(a1, sizeof(a1), "%s%s", forms[f][0], cases[c].flag);
				o = ok("-certmode", "manual", a1, cases[c].value, NULL);
			}
			switch (c) {
			case 0:
				assert_string_equal(o.addr, "127.0.0.1:8443");
				break;
			case 1:
				assert_int_equal(o.http_port, 8080);
				break;
			case 2:
				assert_int_equal(o.stun_port, 3479);
				break;
			case 3:
				assert_string_equal(o.config_path, "/etc/derper.json");
				break;
			case 4:
				assert_string_equal(o.certmode, "manual");
				assert_true(o.certmode_set);
				break;
			case 5:
				assert_string_equal(o.certdir, "/etc/derp-certs");
				break;
			case 6:
				assert_string_equal(o.hostname, "derp.example.com");
				break;
			case 7:
				assert_string_equal(o.mesh_psk_file, "/etc/mesh.key");
				break;
			case 8:
				assert_string_equal(o.mesh_with,
						    "a.example.com,b.example.com/10.0.0.2");
				break;
			case 9:
				assert_string_equal(o.verify_clients_file, "/etc/allowed");
				break;
			case 10:
				assert_string_equal(o.rate_config, "/etc/rate.json");
				break;
			case 11:
				assert_int_equal(o.per_client_rate_limit, 1250000);
				break;
			case 12:
				assert_int_equal(o.per_client_rate_burst, 2500000);
				break;
			case 13:
				assert_int_equal(o.handshake_timeout_ms, 250);
				break;
			case 14:
				assert_string_equal(o.user, "derp");
				break;
			case 15:
				assert_string_equal(o.chroot_dir, "/var/empty");
				break;
			}
		}
	}
	/* A value may start with '-' (Go takes the next argument whole). */
	assert_string_equal(ok("-a", ":80", "-mesh-with", "-x", NULL).mesh_with, "-x");
	/* The last of a repeated flag wins. */
	assert_int_equal(ok("-a", ":80", "-stun-port", "1", "-stun-port=2", NULL).stun_port, 2);
	/* An empty value is a value. */
	assert_string_equal(ok("-a", ":80", "-hostname=", NULL).hostname, "");
	assert_string_equal(ok("-a", ":80", "-user", "", NULL).user, "");
}

static void test_booleans(void **state)
{
	(void)state;
	static const char *const names[] = {"stun", "verify-clients", "dev"};

	for (size_t i = 0; i < 3; i++) {
		char on[64], off[64], dd[64];
		struct derper_opts o;

		snprintf(on, sizeof(on), "-%s", names[i]);
		snprintf(dd, sizeof(dd), "--%s=1", names[i]);
		snprintf(off, sizeof(off), "-%s=false", names[i]);
		o = ok("-a", ":80", on, NULL);
		assert_true(i == 0 ? o.stun : i == 1 ? o.verify_clients : o.dev);
		o = ok("-a", ":80", dd, NULL);
		assert_true(i == 0 ? o.stun : i == 1 ? o.verify_clients : o.dev);
		o = ok("-a", ":80", on, off, NULL);
		assert_false(i == 0 ? o.stun : i == 1 ? o.verify_clients : o.dev);
	}
	/* strconv.ParseBool's spellings. */
	static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
	for (size_t i = 0; i < 6; i++) {
		char a[32];
		snprintf(a, sizeof(a), "-stun=%s", f[i]);
		assert_false(ok("-a", ":80", a, NULL).stun);
		snprintf(a, sizeof(a), "-stun=%s", t[i]);
		assert_true(ok("-a", ":80", "-stun=0", a, NULL).stun);
	}
	bad(DERPER_FLAGS_E_BOOL, "invalid boolean value \"yes\" for -stun: parse error",
	    "-stun=yes", NULL);
	bad(DERPER_FLAGS_E_BOOL, "invalid boolean value \"\" for -dev: parse error", "-dev=", NULL);
}

/* Go: a boolean takes a value only with "="; "-stun false" is -stun, then
 * the first non-flag argument, which ends the flags. Tailscale's derper
 * ignores it (STUN stays on); we refuse it. */
static void test_bool_space_value_is_positional(void **state)
{
	(void)state;
	bad(DERPER_FLAGS_E_POSITIONAL,
	    "unexpected argument \"false\" after -stun (a boolean flag takes a value only as "
	    "-stun=false)",
	    "-a", ":80", "-stun", "false", NULL);
	bad(DERPER_FLAGS_E_POSITIONAL,
	    "unexpected argument \"extra\" (msock-derper takes only flags)", "-a", ":80", "extra",
	    NULL);
	/* The first non-flag ends the flags: "-dev" after it is not parsed. */
	bad(DERPER_FLAGS_E_POSITIONAL, "unexpected argument \"x\" (msock-derper takes only flags)",
	    "x", "-dev", NULL);
	/* "-" alone is not a flag. */
	bad(DERPER_FLAGS_E_POSITIONAL, "unexpected argument \"-\" (msock-derper takes only flags)",
	    "-", NULL);
}

static void test_double_dash_ends_flags(void **state)
{
	(void)state;
	struct derper_opts o = ok("-dev", "--", NULL);

	assert_true(o.dev);
	bad(DERPER_FLAGS_E_POSITIONAL,
	    "unexpected argument \"-stun\" (msock-derper takes only flags)", "-a", ":80", "--",
	    "-stun", NULL);
	/* After "--" the boolean hint does not apply. */
	bad(DERPER_FLAGS_E_POSITIONAL, "unexpected argument \"x\" (msock-derper takes only flags)",
	    "-dev", "--", "x", NULL);
}

static void test_help(void **state)
{
	(void)state;
	bad(DERPER_FLAGS_HELP, "", "-h", NULL);
	bad(DERPER_FLAGS_HELP, "", "-help", NULL);
	bad(DERPER_FLAGS_HELP, "", "--help", NULL);
	bad(DERPER_FLAGS_HELP, "", "--h=1", NULL);
	bad(DERPER_FLAGS_HELP, "", "-a", ":80", "-help", "-undefined", NULL);
}

static void test_undefined_and_syntax(void **state)
{
	(void)state;
	bad(DERPER_FLAGS_E_UNDEFINED, "flag provided but not defined: -x", "-x", NULL);
	bad(DERPER_FLAGS_E_UNDEFINED, "flag provided but not defined: -stunport", "--stunport=1",
	    NULL);
	bad(DERPER_FLAGS_E_UNDEFINED,
	    "flag provided but not defined: -bootstrap-dns-names (a Tailscale derper flag "
	    "msock-derper does not implement)",
	    "-bootstrap-dns-names", "a.example.com", NULL);
	bad(DERPER_FLAGS_E_SYNTAX, "bad flag syntax: ---a", "---a", NULL);
	bad(DERPER_FLAGS_E_SYNTAX, "bad flag syntax: -=x", "-=x", NULL);
	bad(DERPER_FLAGS_E_SYNTAX, "bad flag syntax: --=x", "--=x", NULL);
	bad(DERPER_FLAGS_E_NEEDS_ARG, "flag needs an argument: -hostname", "-a", ":80", "-hostname",
	    NULL);
}

static void test_int_forms(void **state)
{
	(void)state;
	/* strconv.ParseInt(s, 0, 64): prefixes, a leading 0 is octal, '_'
	 * between digits, a sign. */
	assert_int_equal(ok("-a", ":80", "-stun-port", "0x1F", NULL).stun_port, 31);
	assert_int_equal(ok("-a", ":80", "-stun-port", "010", NULL).stun_port, 8);
	assert_int_equal(ok("-a", ":80", "-stun-port", "0o17", NULL).stun_port, 15);
	assert_int_equal(ok("-a", ":80", "-stun-port", "0b101", NULL).stun_port, 5);
	assert_int_equal(ok("-a", ":80", "-stun-port", "3_478", NULL).stun_port, 3478);
	assert_int_equal(ok("-a", ":80", "-stun-port", "0x_1f", NULL).stun_port, 31);
	assert_int_equal(ok("-a", ":80", "-stun-port", "+7", NULL).stun_port, 7);
	assert_int_equal(ok("-a", ":80", "-stun-port", "0", NULL).stun_port, 0);
	/* derper.go: -http-port -1 disables; any negative does (> -1). */
	assert_int_equal(ok("-a", ":80", "-http-port", "-1", NULL).http_port, -1);
	assert_int_equal(ok("-a", ":80", "-http-port=-9", NULL).http_port, -1);
	assert_int_equal(
		ok("-a", ":80", "-per-client-rate-limit", "1_250_000", NULL).per_client_rate_limit,
		1250000);
	assert_int_equal(ok("-a", ":80", "-per-client-rate-limit", "18446744073709551615", NULL)
				 .per_client_rate_limit,
			 UINT64_MAX);

	bad(DERPER_FLAGS_E_VALUE, "invalid value \"abc\" for flag -http-port: parse error",
	    "-http-port", "abc", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"\" for flag -http-port: parse error",
	    "-http-port=", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"08\" for flag -stun-port: parse error",
	    "-stun-port", "08", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"0x\" for flag -stun-port: parse error",
	    "-stun-port", "0x", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"1__0\" for flag -stun-port: parse error",
	    "-stun-port", "1__0", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"_1\" for flag -stun-port: parse error",
	    "-stun-port", "_1", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"1_\" for flag -stun-port: parse error",
	    "-stun-port", "1_", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"1.5\" for flag -stun-port: parse error",
	    "-stun-port", "1.5", NULL);
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"99999999999999999999\" for flag -http-port: value out of range",
	    "-http-port", "99999999999999999999", NULL);
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"70000\" for flag -stun-port: not a port (0 to 65535)", "-stun-port",
	    "70000", NULL);
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"65536\" for flag -http-port: not a port (0 to 65535, or -1 to "
	    "disable)",
	    "-http-port", "65536", NULL);
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"0\" for flag -handshake-timeout-ms: must be 1 to 600000",
	    "-handshake-timeout-ms", "0", NULL);
	/* strconv.ParseUint takes no sign. */
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"-1\" for flag -per-client-rate-limit: parse error",
	    "-per-client-rate-limit", "-1", NULL);
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"+1\" for flag -per-client-rate-burst: parse error",
	    "-per-client-rate-burst", "+1", NULL);
	bad(DERPER_FLAGS_E_VALUE,
	    "invalid value \"18446744073709551616\" for flag -per-client-rate-burst: value out of "
	    "range",
	    "-per-client-rate-burst", "18446744073709551616", NULL);
}

static void test_string_too_long(void **state)
{
	(void)state;
	char name[300];

	memset(name, 'a', 254);
	name[254] = 0;
	bad(DERPER_FLAGS_E_VALUE, NULL, "-hostname", name, NULL);
	memset(name, 'a', 253);
	name[253] = 0;
	assert_int_equal(strlen(ok("-a", ":80", "-hostname", name, NULL).hostname), 253);
}

static void test_value_quoting(void **state)
{
	(void)state;
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"a\\\"b\\n\" for flag -stun-port: parse error",
	    "-stun-port", "a\"b\n", NULL);
}

static void test_certmode(void **state)
{
	(void)state;
	/* Tailscale's defaults (:443, letsencrypt) need ACME, which we lack. */
	bad(DERPER_FLAGS_E_CERTMODE,
	    "unsupported -certmode \"letsencrypt\" (the default): -a :443 serves TLS, and "
	    "msock-derper supports only -certmode manual (<hostname>.crt and <hostname>.key in "
	    "-certdir)",
	    NULL);
	bad(DERPER_FLAGS_E_CERTMODE,
	    "unsupported -certmode \"gcp\": msock-derper supports only -certmode manual "
	    "(<hostname>.crt and <hostname>.key in -certdir)",
	    "-certmode", "gcp", NULL);
	/* Given explicitly, refused even where Tailscale would not use it. */
	bad(DERPER_FLAGS_E_CERTMODE, NULL, "-a", ":8080", "-certmode=letsencrypt", NULL);
	/* Not given and no TLS: the default is never used, so it is fine. */
	assert_false(derper_opts_tls((const struct derper_opts[]){ok("-a", ":8080", NULL)}));
}

static void test_tls_decision(void **state)
{
	(void)state;
	struct derper_opts o;

	/* derper.go: serveTLS := tsweb.IsProd443(*addr) || *certMode == "manual" */
	o = ok("-certmode", "manual", NULL);
	assert_true(derper_opts_tls(&o));
	o = ok("-certmode", "manual", "-a", ":8443", NULL);
	assert_true(derper_opts_tls(&o));
	o = ok("-a", ":80", NULL);
	assert_false(derper_opts_tls(&o));
	o = ok("-a", "10.0.0.1:3340", NULL);
	assert_false(derper_opts_tls(&o));
	/* IsProd443 compares the port text: "443" or "https", not "0443". */
	o = ok("-a", "[::1]:0443", NULL);
	assert_false(derper_opts_tls(&o));
	derper_opts_defaults(&o);
	strcpy(o.addr, "[::]:https");
	assert_true(derper_opts_tls(&o));
	strcpy(o.addr, "no-port");
	assert_false(derper_opts_tls(&o));
	/* -dev overrides -a with :3340 (plain unless manual). */
	o = ok("-dev", "-a", ":443", NULL);
	assert_string_equal(o.addr, ":3340");
	assert_false(derper_opts_tls(&o));
	o = ok("-dev", "-certmode", "manual", NULL);
	assert_true(derper_opts_tls(&o));
	assert_false(derper_opts_tls(NULL));
}

static void test_addr(void **state)
{
	(void)state;
	char host[64], port[16], err[128];

	assert_int_equal(derper_opts_split_addr("[fe80::1%eth0]:443", host, sizeof(host), port,
						sizeof(port), err, sizeof(err)),
			 0);
	assert_string_equal(host, "fe80::1%eth0");
	assert_string_equal(port, "443");
	assert_int_equal(derper_opts_split_addr(":80", host, sizeof(host), port, sizeof(port), err,
						sizeof(err)),
			 0);
	assert_string_equal(host, "");
	assert_string_equal(port, "80");
	/* net.SplitHostPort's messages. */
	static const struct {
		const char *addr, *err;
	} badv[] = {
		{"derp.example.com", "address derp.example.com: missing port in address"},
		{"[::1]", "address [::1]: missing port in address"},
		{"[::1", "address [::1: missing ']' in address"},
		{"::1:443", "address ::1:443: too many colons in address"},
		{"[::1]:4:4", "address [::1]:4:4: too many colons in address"},
		{"[::1]x:4", "address [::1]x:4: missing port in address"},
		{"a[b:1", "address a[b:1: unexpected '[' in address"},
		{"a]b:1", "address a]b:1: unexpected ']' in address"},
		{"", "missing port in address"},
	};
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		assert_int_equal(derper_opts_split_addr(badv[i].addr, host, sizeof(host), port,
							sizeof(port), err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, badv[i].err);
	}
	bad(DERPER_FLAGS_E_ADDR, "invalid server address: address foo: missing port in address",
	    "-a", "foo", NULL);
	/* Go's "-a -dev": -dev is the value of -a. */
	bad(DERPER_FLAGS_E_ADDR, "invalid server address: address -dev: missing port in address",
	    "-a", "-dev", NULL);
	bad(DERPER_FLAGS_E_ADDR,
	    "invalid server address: port \"web\" of -a :web is not a number 0 to 65535 (or http, "
	    "https)",
	    "-a", ":web", NULL);
	struct derper_opts o;
	derper_opts_defaults(&o);
	assert_int_equal(derper_opts_listen_port(&o), 443);
	strcpy(o.addr, "[::1]:http");
	assert_int_equal(derper_opts_listen_port(&o), 80);
	strcpy(o.addr, "1.2.3.4:65535");
	assert_int_equal(derper_opts_listen_port(&o), 65535);
	strcpy(o.addr, "1.2.3.4:65536");
	assert_int_equal(derper_opts_listen_port(&o), -1);
	strcpy(o.addr, "1.2.3.4");
	assert_int_equal(derper_opts_listen_port(&o), -1);
}

static void test_cert_paths(void **state)
{
	(void)state;
	struct derper_opts o;
	char crt[128], key[128];

	o = ok("-certmode", "manual", "-certdir", "/etc/derp//", "-hostname", "derp.example.com",
	       NULL);
	assert_int_equal(derper_opts_cert_paths(&o, crt, sizeof(crt), key, sizeof(key)), 0);
	assert_string_equal(crt, "/etc/derp/derp.example.com.crt");
	assert_string_equal(key, "/etc/derp/derp.example.com.key");
	/* cert.go strips [^a-zA-Z0-9-\.]; an IP address stays as it is. */
	o = ok("-certmode", "manual", "-certdir", "certs", "-hostname", "a_b/../c:1", NULL);
	assert_int_equal(derper_opts_cert_paths(&o, crt, sizeof(crt), key, sizeof(key)), 0);
	assert_string_equal(crt, "certs/ab..c1.crt");
	o = ok("-certmode", "manual", "-certdir", "/c", "-hostname", "192.0.2.1", NULL);
	assert_int_equal(derper_opts_cert_paths(&o, crt, sizeof(crt), key, sizeof(key)), 0);
	assert_string_equal(key, "/c/192.0.2.1.key");
	assert_int_equal(derper_opts_cert_paths(&o, crt, 10, key, sizeof(key)), -ENAMETOOLONG);
	/* cert.go: "missing required --certdir flag"; checked at parse time. */
	bad(DERPER_FLAGS_E_CERT, "missing required --certdir flag", "-certmode", "manual",
	    "-certdir", "", NULL);
	bad(DERPER_FLAGS_E_CERT,
	    "-hostname \"!!\" has no characters usable in a certificate file name ([a-zA-Z0-9.-])",
	    "-certmode", "manual", "-hostname", "!!", NULL);
	/* Without TLS neither matters. */
	o = ok("-a", ":80", "-certdir", "", NULL);
	assert_int_equal(derper_opts_cert_paths(&o, crt, sizeof(crt), key, sizeof(key)), -EINVAL);
}

static void test_version_skips_checks(void **state)
{
	(void)state;
	/* derper.go prints the version before it looks at -a or certs. */
	struct derper_opts o = ok("-version", "-a", "nonsense", NULL);

	assert_true(o.version);
}

static void test_rate_burst(void **state)
{
	(void)state;
	assert_int_equal(derper_opts_rate_burst(&(struct derper_opts){.per_client_rate_limit = 0}),
			 0);
	assert_int_equal(
		derper_opts_rate_burst(&(struct derper_opts){.per_client_rate_limit = 1250000}),
		2500000);
	assert_int_equal(derper_opts_rate_burst(&(struct derper_opts){.per_client_rate_limit = 10,
								      .per_client_rate_burst = 7}),
			 7);
	assert_int_equal(
		derper_opts_rate_burst(&(struct derper_opts){.per_client_rate_limit = UINT64_MAX}),
		UINT64_MAX);
}

/* -tcp-keepalive-time, -tcp-user-timeout and -tcp-write-timeout take Go
 * durations (flag.Duration: time.ParseDuration, "parse error"). */
static void test_durations(void **state)
{
	(void)state;
	struct derper_opts o;

	o = ok("-certmode", "manual", "-certdir", "/c", "-tcp-user-timeout", "2s",
	       "-tcp-keepalive-time=-1s", "--tcp-write-timeout", "0", NULL);
	assert_int_equal(o.tcp_user_timeout_ns, INT64_C(2000000000));
	assert_int_equal(o.tcp_keepalive_time_ns, -INT64_C(1000000000));
	assert_int_equal(o.tcp_write_timeout_ns, 0);
	o = ok("-certmode", "manual", "-certdir", "/c", "-tcp-keepalive-time", "1h2m3.5s", NULL);
	assert_int_equal(o.tcp_keepalive_time_ns, INT64_C(3723500000000));
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"5\" for flag -tcp-user-timeout: parse error",
	    "-tcp-user-timeout", "5", NULL);
	bad(DERPER_FLAGS_E_VALUE, "invalid value \"1d\" for flag -tcp-write-timeout: parse error",
	    "-tcp-write-timeout", "1d", NULL);
	bad(DERPER_FLAGS_E_NEEDS_ARG, "flag needs an argument: -tcp-keepalive-time",
	    "-tcp-keepalive-time", NULL);
	/* Tailscale's derper cannot listen with it (setsockopt refuses). */
	bad(DERPER_FLAGS_E_VALUE, "-tcp-user-timeout must not be negative", "-certmode", "manual",
	    "-certdir", "/c", "-tcp-user-timeout", "-1s", NULL);
}

static void test_usage(void **state)
{
	(void)state;
	char *text = NULL, *prev = NULL, *line;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char want[256];

	assert_non_null(f);
	derper_flags_usage(f);
	fclose(f);
	assert_memory_equal(text, "Usage of msock-derper:\n  -a string\n    \tserver ", 47);
	/* Go's PrintDefaults: a string default quoted, a true bool shown, a
	 * false bool and an empty string not. */
	assert_non_null(strstr(text, "else plain HTTP. (default \":443\")\n"));
	assert_non_null(strstr(text, "\n  -c string\n    \tconfig file path"));
	assert_non_null(strstr(text, "\n  -dev\n    \trun in localhost development mode: listen on "
				     ":3340 with a throwaway key (overrides -a)\n"));
	assert_non_null(strstr(text, "\n  -http-port int\n"));
	assert_non_null(strstr(text, "-1 disables (default 80)\n"));
	assert_non_null(strstr(text, "\n  -per-client-rate-limit uint\n"));
	assert_non_null(strstr(text, "bound to the IP of -a (default true)\n"));
	assert_non_null(strstr(text, "(default 10000)\n"));
	/* Durations as Go prints them (Duration.String). */
	assert_non_null(strstr(text, "\n  -tcp-keepalive-time duration\n"));
	assert_non_null(strstr(text, "(default 10m0s)\n"));
	assert_non_null(strstr(text, "(default 15s)\n"));
	assert_non_null(strstr(text, "(default 2s)\n"));
	snprintf(want, sizeof(want), "(default \"%s/.cache/tailscale/derper-certs\")\n", home);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "(default false)"));
	assert_null(strstr(text, "(default \"\")"));
	/* Sorted by name. */
	for (line = text; (line = strstr(line, "\n  -")) != NULL; line += 4) {
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(line + 4, " \n"), line + 4);
		if (prev && strcmp(prev, name) >= 0)
			fail_msg("usage not sorted: %s before %s", prev, name);
		free(prev);
		prev = strdup(name);
	}
	free(prev);
	free(text);
}

static void test_args(void **state)
{
	(void)state;
	char *argv[] = {(char *)"msock-derper", NULL};
	char *holes[] = {(char *)"msock-derper", NULL, NULL};

	assert_int_equal(derper_flags_parse(1, argv, NULL, NULL, 0), DERPER_FLAGS_E_ARG);
	assert_int_equal(derper_flags_parse(1, NULL, &(struct derper_opts){0}, NULL, 0),
			 DERPER_FLAGS_E_ARG);
	assert_int_equal(derper_flags_parse(2, holes, &(struct derper_opts){0}, NULL, 0),
			 DERPER_FLAGS_E_ARG);
	/* A NULL err is fine. */
	assert_int_equal(
		derper_flags_parse(ARGC(argv) - 1, argv, &(struct derper_opts){0}, NULL, 0),
		DERPER_FLAGS_E_CERTMODE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_default_certdir_from_env),
		cmocka_unit_test(test_default_mesh_psk_file),
		cmocka_unit_test(test_every_flag_every_syntax),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_bool_space_value_is_positional),
		cmocka_unit_test(test_double_dash_ends_flags),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_undefined_and_syntax),
		cmocka_unit_test(test_int_forms),
		cmocka_unit_test(test_string_too_long),
		cmocka_unit_test(test_value_quoting),
		cmocka_unit_test(test_certmode),
		cmocka_unit_test(test_tls_decision),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_cert_paths),
		cmocka_unit_test(test_version_skips_checks),
		cmocka_unit_test(test_rate_burst),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
