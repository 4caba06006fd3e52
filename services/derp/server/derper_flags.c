/* derper_flags: Go's flag package rules (flag.go parseOne, PrintDefaults)
 * over Tailscale cmd/derper/derper.go's flags: the flag table, parsing
 * argv into struct derper_opts, derper.go's checks after flag.Parse, and
 * the usage text. Numbers and booleans are derper_flags_strconv.c's,
 * defaults and derived settings derper_flags_opts.c's. No timers. */
#include "derper_flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "derper_duration.h"
#include "derper_flags_internal.h"
#include "derper_sandbox.h"
#include "errbuf.h"

enum {
	/* A value quoted into a message is cut here (Go quotes it whole). */
	QUOTE_MAX_BYTES = 128,
	/* The longest flag name ("per-client-rate-limit" is 21). */
	NAME_MAX_BYTES = 64,
};

enum ftype { FT_INVALID = 0, FT_STRING, FT_INT, FT_UINT, FT_BOOL, FT_DURATION };

struct flag {
	const char *name;
	enum ftype type;
	size_t off;	  /* of the field in struct derper_opts */
	size_t size;	  /* FT_STRING: the field's size (max length + 1) */
	int64_t min, max; /* FT_INT: accepted range */
	const char *range_why;
	const char *help;
};

#define STR(f) \
	FT_STRING, offsetof(struct derper_opts, f), sizeof(((struct derper_opts *)0)->f), 0, 0, NULL
#define BOOL(f)		    FT_BOOL, offsetof(struct derper_opts, f), 0, 0, 0, NULL
#define UINT(f)		    FT_UINT, offsetof(struct derper_opts, f), 0, 0, 0, NULL
#define DURATION(f)	    FT_DURATION, offsetof(struct derper_opts, f), 0, 0, 0, NULL
#define INT(f, lo, hi, why) FT_INT, offsetof(struct derper_opts, f), 0, lo, hi, why

/* Sorted by name, as Go's PrintDefaults lists them. The help texts are
 * ours; the names, types and defaults are derper.go's. */
static const struct flag flags[] = {
	{"a", STR(addr),
	 "server HTTP/HTTPS listen address: \":port\", \"ip:port\" or \"[ipv6]:port\"; without an "
	 "IP it listens on all interfaces. Serves HTTPS if the port is 443 or -certmode is manual, "
	 "else plain HTTP."},
	{"c", STR(config_path),
	 "config file path: JSON {\"PrivateKey\": \"privkey:<hex>\"}, created with a new key if "
	 "missing"},
	{"certdir", STR(certdir),
	 "directory holding the TLS certificate <hostname>.crt and key <hostname>.key for "
	 "-certmode manual"},
	{"certmode", STR(certmode),
	 "how to get the TLS certificate; msock-derper supports only manual (files in -certdir)"},
	{"chroot", STR(chroot_dir),
	 "msock: empty directory, root's and writable by no one else, to chroot to after "
	 "start-up when started as root (created 0755 if missing); \"\" for none"},
	{"dev", BOOL(dev),
	 "run in localhost development mode: listen on :3340 with a throwaway key (overrides -a)"},
	{"handshake-timeout-ms",
	 INT(handshake_timeout_ms, 1, DERPER_HANDSHAKE_TIMEOUT_MS_MAX, "must be 1 to 600000"),
	 "msock: milliseconds a client has to finish TLS, the HTTP upgrade and the DERP "
	 "handshake"},
	{"hostname", STR(hostname),
	 "TLS host name: names the certificate files in -certdir; with -certmode manual it may be "
	 "an IP address"},
	{"http-port", INT(http_port, INT64_MIN, 65535, "not a port (0 to 65535, or -1 to disable)"),
	 "port for plain HTTP next to HTTPS, bound to the IP of -a if any; -1 disables"},
	{"mesh-psk-file", STR(mesh_psk_file),
	 "file holding the mesh pre-shared key: 64 lowercase hex characters, whitespace trimmed"},
	{"mesh-with", STR(mesh_with),
	 "comma-separated hostnames to mesh with (this server's own may be listed); "
	 "\"host/dialhost\" dials dialhost"},
	{"per-client-rate-burst", UINT(per_client_rate_burst),
	 "per-client receive burst in bytes; 0 means twice -per-client-rate-limit"},
	{"per-client-rate-limit", UINT(per_client_rate_limit),
	 "per-client receive rate limit in bytes/second; 0 is unlimited. Mesh peers are exempt."},
	{"rate-config", STR(rate_config),
	 "JSON file of per-client rate limits (PerClientRateLimitBytesPerSec, "
	 "PerClientRateBurstBytes), reread on SIGHUP"},
	{"stun", BOOL(stun), "whether to run a STUN server on -stun-port, bound to the IP of -a"},
	{"stun-port", INT(stun_port, 0, 65535, "not a port (0 to 65535)"),
	 "UDP port for STUN, bound to the IP of -a if any"},
	{"tcp-keepalive-time", DURATION(tcp_keepalive_time_ns),
	 "TCP keepalive of client connections: idle time before the first probe (then one every "
	 "15s); 0 is 15s, negative disables"},
	{"tcp-user-timeout", DURATION(tcp_user_timeout_ns),
	 "TCP user timeout of client connections: sent data unacknowledged this long closes the "
	 "connection; 0 leaves the kernel's default"},
	{"tcp-write-timeout", DURATION(tcp_write_timeout_ns),
	 "how long a client may leave our output unread before it is closed (mesh peers: 30s); "
	 "0 is no timeout"},
	{"user", STR(user),
	 "msock: user to run as after start-up when started as root (nobody, with a warning, if "
	 "the default " DERPER_SANDBOX_USER_DEFAULT " does not exist: msockctl setup-users "
	 "makes it); \"\" keeps the user of an unprivileged start"},
	{"verify-clients", BOOL(verify_clients),
	 "admit only the clients listed in -verify-clients-file"},
	{"verify-clients-file", STR(verify_clients_file),
	 "msock: file of the node public keys -verify-clients admits"},
	{"version", BOOL(version), "print version and exit"},
};

/* Tailscale derper flags msock-derper does not have: named in the error so
 * an operator switching over knows it is not a typo. */
static const char *const tailscale_only[] = {
	"accept-connection-burst",
	"accept-connection-limit",
	"ace",
	"acme-eab-key",
	"acme-eab-kid",
	"acme-email",
	"acme-ip-certs",
	"bootstrap-dns-names",
	"derp",
	"home",
	"secrets-cache-dir",
	"secrets-path-prefix",
	"secrets-url",
	"socket",
	"unpublished-bootstrap-dns-names",
	"verify-client-url",
	"verify-client-url-fail-open",
};

/* Go's %q for messages: escapes quotes, backslashes and control bytes. */
static void quote(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	if (cap < 3)
		return;
	out[n++] = '"';
	for (; *s && n + 6 < cap && n < QUOTE_MAX_BYTES; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else if (ch == '\t') {
			out[n++] = '\\';
			out[n++] = 't';
		} else if (ch == '\r') {
			out[n++] = '\\';
			out[n++] = 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\x%02x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n++] = '"';
	out[n] = 0;
}

static const struct flag *lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcmp(flags[i].name, name) == 0)
			return &flags[i];
	return NULL;
}

static int bad_value(const struct flag *f, const char *value, const char *why, char *err,
		     size_t errcap)
{
	char q[QUOTE_MAX_BYTES + 8];

	quote(value, q, sizeof(q));
	errbuf_set(err, errcap, "invalid value %s for flag -%s: %s", q, f->name, why);
	return DERPER_FLAGS_E_VALUE;
}

/* flag.Value.Set for the non-boolean types. */
static int set_value(const struct flag *f, const char *value, struct derper_opts *o, char *err,
		     size_t errcap)
{
	char *field = (char *)o + f->off;
	int64_t i;
	uint64_t u;
	int rc;

	switch (f->type) {
	case FT_DURATION:
		rc = derper_duration_parse(value, &i);
		if (rc < 0)
			return bad_value(f, value, "parse error", err, errcap);
		memcpy(field, &i, sizeof(i));
		return 0;
	case FT_STRING:
		if (strlen(value) >= f->size) {
			char why[64];
			snprintf(why, sizeof(why), "longer than %zu bytes", f->size - 1);
			return bad_value(f, value, why, err, errcap);
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case FT_INT:
		rc = derper_flags_parse_int(value, &i);
		if (rc < 0)
			return bad_value(f, value,
					 rc == -ERANGE ? "value out of range" : "parse error", err,
					 errcap);
		if (i < f->min || i > f->max)
			return bad_value(f, value, f->range_why, err, errcap);
		if (i < 0)
			i = -1; /* -http-port: any negative disables (derper.go: > -1) */
		memcpy(field, &(int){(int)i}, sizeof(int));
		return 0;
	case FT_UINT:
		rc = derper_flags_parse_uint(value, &u);
		if (rc < 0)
			return bad_value(f, value,
					 rc == -ERANGE ? "value out of range" : "parse error", err,
					 errcap);
		memcpy(field, &u, sizeof(u));
		return 0;
	default:
		abort(); /* booleans are set in parse_one */
	}
}

static bool is_tailscale_only(const char *name)
{
	for (size_t i = 0; i < sizeof(tailscale_only) / sizeof(tailscale_only[0]); i++)
		if (strcmp(tailscale_only[i], name) == 0)
			return true;
	return false;
}

enum { ONE_END = 0, ONE_PARSED = 2 }; /* apart from DERPER_FLAGS_HELP */

/* flag.FlagSet.parseOne. Returns ONE_PARSED for a flag, ONE_END at the end
 * of the flags (*i left at the first non-flag), DERPER_FLAGS_HELP, or an
 * error.
 * *bool_bare is set when the flag was a boolean given without "=". */
static int parse_one(int argc, char **argv, int *i, struct derper_opts *o, const char **bool_bare,
		     char *err, size_t errcap)
{
	const char *s = argv[*i], *name, *eq, *value = NULL;
	char nbuf[NAME_MAX_BYTES + 1];
	const struct flag *f;
	size_t nlen;
	int minuses = 1;

	*bool_bare = NULL;
	if (strlen(s) < 2 || s[0] != '-')
		return ONE_END;
	if (s[1] == '-') {
		minuses = 2;
		if (s[2] == 0) { /* "--" ends the flags */
			(*i)++;
			return ONE_END;
		}
	}
	name = s + minuses;
	if (name[0] == '-' || name[0] == '=') {
		errbuf_set(err, errcap, "bad flag syntax: %s", s);
		return DERPER_FLAGS_E_SYNTAX;
	}
	(*i)++;
	eq = strchr(name + 1, '='); /* "=" cannot be the first byte of a name */
	nlen = eq ? (size_t)(eq - name) : strlen(name);
	if (eq)
		value = eq + 1;
	if (nlen > NAME_MAX_BYTES) {
		errbuf_set(err, errcap, "flag provided but not defined: -%.*s", NAME_MAX_BYTES,
			   name);
		return DERPER_FLAGS_E_UNDEFINED;
	}
	memcpy(nbuf, name, nlen);
	nbuf[nlen] = 0;
	f = lookup(nbuf);
	if (!f) {
		if (strcmp(nbuf, "help") == 0 || strcmp(nbuf, "h") == 0)
			return DERPER_FLAGS_HELP;
		if (is_tailscale_only(nbuf))
			errbuf_set(err, errcap,
				   "flag provided but not defined: -%s (a Tailscale derper flag "
				   "msock-derper does not implement)",
				   nbuf);
		else
			errbuf_set(err, errcap, "flag provided but not defined: -%s", nbuf);
		return DERPER_FLAGS_E_UNDEFINED;
	}
	if (f->type == FT_BOOL) {
		bool b = true;
		if (value && derper_flags_parse_bool(value, &b) < 0) {
			char q[QUOTE_MAX_BYTES + 8];
			quote(value, q, sizeof(q));
			errbuf_set(err, errcap, "invalid boolean value %s for -%s: parse error", q,
				   f->name);
			return DERPER_FLAGS_E_BOOL;
		}
		if (!value)
			*bool_bare = f->name;
		memcpy((char *)o + f->off, &b, sizeof(b));
		return ONE_PARSED;
	}
	if (!value) {
		if (*i >= argc) {
			errbuf_set(err, errcap, "flag needs an argument: -%s", f->name);
			return DERPER_FLAGS_E_NEEDS_ARG;
		}
		value = argv[(*i)++];
	}
	if (strcmp(f->name, "certmode") == 0)
		o->certmode_set = true;
	return set_value(f, value, o, err, errcap) < 0 ? DERPER_FLAGS_E_VALUE : ONE_PARSED;
}

/* derper.go's checks after flag.Parse, in its order. */
static int validate(struct derper_opts *o, char *err, size_t errcap)
{
	char host[DERPER_FLAGS_ADDR_MAX_BYTES + 1], port[DERPER_FLAGS_ADDR_MAX_BYTES + 1];
	char why[DERPER_FLAGS_ADDR_MAX_BYTES + 64], q[QUOTE_MAX_BYTES + 8];

	if (o->dev)
		snprintf(o->addr, sizeof(o->addr), ":%d", DERPER_DEV_PORT);
	if (derper_opts_split_addr(o->addr, host, sizeof(host), port, sizeof(port), why,
				   sizeof(why)) < 0) {
		errbuf_set(err, errcap, "invalid server address: %s", why);
		return DERPER_FLAGS_E_ADDR;
	}
	if (derper_opts_port_number(port) < 0) {
		quote(port, q, sizeof(q));
		errbuf_set(err, errcap,
			   "invalid server address: port %s of -a %s is not a number 0 to 65535 "
			   "(or http, https)",
			   q, o->addr);
		return DERPER_FLAGS_E_ADDR;
	}
	if (strcmp(o->certmode, "manual") != 0 && (o->certmode_set || derper_opts_tls(o))) {
		quote(o->certmode, q, sizeof(q));
		if (o->certmode_set)
			errbuf_set(err, errcap,
				   "unsupported -certmode %s: msock-derper supports only -certmode "
				   "manual (<hostname>.crt and <hostname>.key in -certdir)",
				   q);
		else
			errbuf_set(
				err, errcap,
				"unsupported -certmode %s (the default): -a %s serves TLS, and "
				"msock-derper supports only -certmode manual (<hostname>.crt and "
				"<hostname>.key in -certdir)",
				q, o->addr);
		return DERPER_FLAGS_E_CERTMODE;
	}
	if (o->tcp_user_timeout_ns < 0) {
		/* Tailscale's derper fails to listen: setsockopt refuses it. */
		errbuf_set(err, errcap, "-tcp-user-timeout must not be negative");
		return DERPER_FLAGS_E_VALUE;
	}
	if (derper_opts_tls(o)) {
		/* cert.go's checks, made here so that they name the flag. */
		char name[DERPER_FLAGS_HOSTNAME_MAX_BYTES + 1];
		if (!o->certdir[0]) {
			errbuf_set(err, errcap, "missing required --certdir flag");
			return DERPER_FLAGS_E_CERT;
		}
		if (derper_opts_cert_name(o->hostname, name, sizeof(name)) == 0) {
			quote(o->hostname, q, sizeof(q));
			errbuf_set(
				err, errcap,
				"-hostname %s has no characters usable in a certificate file name "
				"([a-zA-Z0-9.-])",
				q);
			return DERPER_FLAGS_E_CERT;
		}
	}
	return 0;
}

int derper_flags_parse(int argc, char **argv, struct derper_opts *out, char *err, size_t errcap)
{
	struct derper_opts o;
	const char *bool_bare = NULL, *bare;
	char q[QUOTE_MAX_BYTES + 8];
	int i = 1, rc;

	if (!out || (argc > 0 && !argv))
		return DERPER_FLAGS_E_ARG;
	if (err && errcap)
		err[0] = 0;
	derper_opts_defaults(&o);
	while (i < argc) {
		if (!argv[i])
			return DERPER_FLAGS_E_ARG;
		rc = parse_one(argc, argv, &i, &o, &bare, err, errcap);
		if (rc < 0 || rc == DERPER_FLAGS_HELP)
			return rc;
		if (rc == ONE_END)
			break;
		bool_bare = bare; /* the last flag was a boolean without "=" */
	}
	if (i < argc) {
		/* After "--" the hint about booleans no longer applies. */
		bool after_dashes = strcmp(argv[i - 1], "--") == 0;
		quote(argv[i], q, sizeof(q));
		if (bool_bare && !after_dashes)
			errbuf_set(err, errcap,
				   "unexpected argument %s after -%s (a boolean flag takes a value "
				   "only as -%s=%s)",
				   q, bool_bare, bool_bare, argv[i]);
		else
			errbuf_set(err, errcap,
				   "unexpected argument %s (msock-derper takes only flags)", q);
		return DERPER_FLAGS_E_POSITIONAL;
	}
	if (!o.version) {
		rc = validate(&o, err, errcap);
		if (rc < 0)
			return rc;
	}
	*out = o;
	return 0;
}

void derper_flags_usage(FILE *fp)
{
	struct derper_opts d;
	char q[DERPER_FLAGS_LIST_MAX_BYTES + 8];

	derper_opts_defaults(&d);
	fprintf(fp, "Usage of msock-derper:\n");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const struct flag *f = &flags[i];
		const char *field = (const char *)&d + f->off;
		const char *type = f->type == FT_STRING	    ? "string"
				   : f->type == FT_INT	    ? "int"
				   : f->type == FT_UINT	    ? "uint"
				   : f->type == FT_DURATION ? "duration"
							    : "";
		size_t n = 3 + strlen(f->name) + (*type ? 1 + strlen(type) : 0);

		fprintf(fp, "  -%s%s%s", f->name, *type ? " " : "", type);
		/* Go puts the help of a one-letter boolean on the same line. */
		fputs(n <= 4 ? "\t" : "\n    \t", fp);
		fputs(f->help, fp);
		switch (f->type) {
		case FT_STRING:
			if (field[0]) {
				quote(field, q, sizeof(q));
				fprintf(fp, " (default %s)", q);
			}
			break;
		case FT_INT: {
			int v;
			memcpy(&v, field, sizeof(v));
			if (v)
				fprintf(fp, " (default %d)", v);
			break;
		}
		case FT_UINT: {
			uint64_t v;
			memcpy(&v, field, sizeof(v));
			if (v)
				fprintf(fp, " (default %llu)", (unsigned long long)v);
			break;
		}
		case FT_BOOL: {
			bool v;
			memcpy(&v, field, sizeof(v));
			if (v)
				fprintf(fp, " (default true)");
			break;
		}
		case FT_DURATION: {
			char text[DERPER_DURATION_TEXT_BYTES];
			int64_t v;
			memcpy(&v, field, sizeof(v));
			if (v)
				fprintf(fp, " (default %s)",
					derper_duration_format(v, text, sizeof(text)));
			break;
		}
		default:
			break;
		}
		fputc('\n', fp);
	}
}
