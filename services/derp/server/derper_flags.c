/* derper_flags: Go's flag package rules (flag.go parseOne, strconv.ParseInt
 * base 0, ParseBool, PrintDefaults) over Tailscale cmd/derper/derper.go's
 * flags, with the settings derper.go derives from them. */
#include "derper_flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "derper_duration.h"
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

/* filepath.Join for plain paths: skips empty parts, one '/' between parts,
 * repeated and trailing slashes dropped ("." and ".." are left alone). */
static int join(char *dst, size_t cap, const char *const *parts, size_t nparts)
{
	size_t n = 0;

	if (cap == 0)
		return -ENAMETOOLONG;
	dst[0] = 0;
	for (size_t i = 0; i < nparts; i++) {
		const char *s = parts[i];
		if (!s || !*s)
			continue;
		if (n > 0 && dst[n - 1] != '/') {
			if (n + 1 >= cap)
				return -ENAMETOOLONG;
			dst[n++] = '/';
		}
		for (; *s; s++) {
			if (*s == '/' && n > 0 && dst[n - 1] == '/')
				continue;
			if (n + 1 >= cap)
				return -ENAMETOOLONG;
			dst[n++] = *s;
		}
	}
	while (n > 1 && dst[n - 1] == '/')
		n--;
	dst[n] = 0;
	return 0;
}

static void set_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

void derper_opts_defaults(struct derper_opts *o)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	struct stat st;
	char cand[DERPER_FLAGS_PATH_MAX_BYTES + 1];

	memset(o, 0, sizeof(*o));
	set_str(o->addr, sizeof(o->addr), ":443");
	o->http_port = 80;
	o->stun_port = 3478;
	o->stun = true;
	set_str(o->certmode, sizeof(o->certmode), "letsencrypt");
	set_str(o->hostname, sizeof(o->hostname), "derp.tailscale.com");
	o->handshake_timeout_ms = DERPER_HANDSHAKE_TIMEOUT_MS_DEFAULT;
	o->tcp_keepalive_time_ns = DERPER_TCP_KEEPALIVE_TIME_NS_DEFAULT;
	o->tcp_user_timeout_ns = DERPER_TCP_USER_TIMEOUT_NS_DEFAULT;
	o->tcp_write_timeout_ns = DERPER_TCP_WRITE_TIMEOUT_NS_DEFAULT;
	set_str(o->user, sizeof(o->user), DERPER_SANDBOX_USER_DEFAULT);
	set_str(o->chroot_dir, sizeof(o->chroot_dir), DERPER_SANDBOX_CHROOT_DEFAULT);

	/* tsweb.DefaultCertDir("derper-certs"): os.UserCacheDir() on Unix is
	 * $XDG_CACHE_HOME if set and absolute (relative is an error), else
	 * $HOME/.cache (neither set is an error); an error gives "". */
	if (xdg && *xdg) {
		if (xdg[0] == '/') {
			const char *parts[] = {xdg, "tailscale", "derper-certs"};
			if (join(o->certdir, sizeof(o->certdir), parts, 3) < 0)
				o->certdir[0] = 0;
		}
	} else if (home && *home) {
		const char *parts[] = {home, ".cache", "tailscale", "derper-certs"};
		if (join(o->certdir, sizeof(o->certdir), parts, 4) < 0)
			o->certdir[0] = 0;
	}

	/* defaultMeshPSKFile: the first candidate that os.Stat finds. */
	if (stat("/home/derp/keys/derp-mesh.key", &st) == 0) {
		set_str(o->mesh_psk_file, sizeof(o->mesh_psk_file),
			"/home/derp/keys/derp-mesh.key");
	} else {
		const char *parts[] = {home ? home : "", "keys", "derp-mesh.key"};
		if (join(cand, sizeof(cand), parts, 3) == 0 && stat(cand, &st) == 0)
			set_str(o->mesh_psk_file, sizeof(o->mesh_psk_file), cand);
	}
}

static char lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* strconv's underscoreOK: '_' only between digits or after a base prefix. */
static bool underscore_ok(const char *s)
{
	char saw = '^';
	size_t i = 0, n;
	bool hex = false;

	if (*s == '+' || *s == '-')
		s++;
	n = strlen(s);
	if (n >= 2 && s[0] == '0' &&
	    (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
		i = 2;
		saw = '0';
		hex = lower(s[1]) == 'x';
	}
	for (; i < n; i++) {
		if ((s[i] >= '0' && s[i] <= '9') ||
		    (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/* strconv.ParseUint(s, 0, 64). Returns 0, -EINVAL (syntax) or -ERANGE. */
static int parse_uint(const char *s0, uint64_t *out)
{
	const char *s = s0;
	unsigned base = 10;
	bool underscores = false;
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	if (s[0] == '0') {
		size_t n = strlen(s);
		if (n >= 3 && lower(s[1]) == 'b') {
			base = 2;
			s += 2;
		} else if (n >= 3 && lower(s[1]) == 'o') {
			base = 8;
			s += 2;
		} else if (n >= 3 && lower(s[1]) == 'x') {
			base = 16;
			s += 2;
		} else {
			base = 8;
			s += 1;
		}
	}
	for (; *s; s++) {
		unsigned d;
		char ch = *s;

		if (ch == '_') {
			underscores = true;
			continue;
		}
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (lower(ch) >= 'a' && lower(ch) <= 'z')
			d = (unsigned)(lower(ch) - 'a' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (underscores && !underscore_ok(s0))
		return -EINVAL;
	*out = v;
	return 0;
}

/* strconv.ParseInt(s, 0, 64). */
static int parse_int(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t u;
	int rc;

	if (!*s)
		return -EINVAL;
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	rc = parse_uint(s, &u);
	if (rc < 0)
		return rc;
	if (!neg && u > (uint64_t)INT64_MAX)
		return -ERANGE;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/* strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
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
		rc = parse_int(value, &i);
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
		rc = parse_uint(value, &u);
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
		if (value && parse_bool(value, &b) < 0) {
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

int derper_opts_split_addr(const char *a, char *host, size_t hostcap, char *port, size_t portcap,
			   char *err, size_t errcap)
{
	const char *last, *close, *h, *p;
	size_t hlen, j = 0, k = 0, len;
	const char *why = NULL;

	if (!a)
		return -EINVAL;
	len = strlen(a);
	last = strrchr(a, ':');
	if (!last) {
		why = "missing port in address";
		goto out;
	}
	if (a[0] == '[') {
		close = strchr(a, ']');
		if (!close) {
			why = "missing ']' in address";
			goto out;
		}
		if ((size_t)(close - a) + 1 == len) {
			why = "missing port in address";
			goto out;
		}
		if (close + 1 != last) {
			why = close[1] == ':' ? "too many colons in address"
					      : "missing port in address";
			goto out;
		}
		h = a + 1;
		hlen = (size_t)(close - a) - 1;
		j = 1;
		k = (size_t)(close - a) + 1;
	} else {
		h = a;
		hlen = (size_t)(last - a);
		if (memchr(h, ':', hlen)) {
			why = "too many colons in address";
			goto out;
		}
	}
	if (strchr(a + j, '[')) {
		why = "unexpected '[' in address";
		goto out;
	}
	if (strchr(a + k, ']')) {
		why = "unexpected ']' in address";
		goto out;
	}
	p = last + 1;
	if (hlen >= hostcap || strlen(p) >= portcap) {
		errbuf_set(err, errcap, "address %s: too long", a);
		return -ENAMETOOLONG;
	}
	memcpy(host, h, hlen);
	host[hlen] = 0;
	memcpy(port, p, strlen(p) + 1);
	return 0;
out:
	/* net.AddrError: "address <addr>: <why>" */
	if (*a)
		errbuf_set(err, errcap, "address %s: %s", a, why);
	else
		errbuf_set(err, errcap, "%s", why);
	return -EINVAL;
}

static int port_number(const char *port)
{
	long v = 0;

	if (strcmp(port, "https") == 0)
		return 443;
	if (strcmp(port, "http") == 0)
		return 80;
	if (!*port || strlen(port) > 5)
		return -1;
	for (const char *s = port; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

int derper_opts_listen_port(const struct derper_opts *o)
{
	char host[DERPER_FLAGS_ADDR_MAX_BYTES + 1], port[DERPER_FLAGS_ADDR_MAX_BYTES + 1];

	if (!o || derper_opts_split_addr(o->addr, host, sizeof(host), port, sizeof(port), NULL, 0))
		return -1;
	return port_number(port);
}

bool derper_opts_tls(const struct derper_opts *o)
{
	char host[DERPER_FLAGS_ADDR_MAX_BYTES + 1], port[DERPER_FLAGS_ADDR_MAX_BYTES + 1];

	if (!o)
		return false;
	if (strcmp(o->certmode, "manual") == 0)
		return true;
	/* IsProd443 ignores SplitHostPort's error: then the port is "". */
	if (derper_opts_split_addr(o->addr, host, sizeof(host), port, sizeof(port), NULL, 0))
		return false;
	return strcmp(port, "443") == 0 || strcmp(port, "https") == 0;
}

static size_t cert_name(const char *hostname, char *name, size_t cap);

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
	if (port_number(port) < 0) {
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
		if (cert_name(o->hostname, name, sizeof(name)) == 0) {
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

/* cert.go: the file name is the hostname without [^a-zA-Z0-9-\.]. */
static size_t cert_name(const char *hostname, char *name, size_t cap)
{
	size_t n = 0;

	for (const char *s = hostname; *s && n + 1 < cap; s++) {
		char ch = *s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')
			name[n++] = ch;
	}
	name[n] = 0;
	return n;
}

int derper_opts_cert_paths(const struct derper_opts *o, char *crt, size_t crtcap, char *key,
			   size_t keycap)
{
	char name[DERPER_FLAGS_HOSTNAME_MAX_BYTES + 8];
	const char *parts[2];
	size_t n;

	if (!o || !crt || !key || !o->certdir[0])
		return -EINVAL;
	n = cert_name(o->hostname, name, DERPER_FLAGS_HOSTNAME_MAX_BYTES + 1);
	if (n == 0)
		return -EINVAL;
	parts[0] = o->certdir;
	parts[1] = name;
	memcpy(name + n, ".crt", 5);
	if (join(crt, crtcap, parts, 2) < 0)
		return -ENAMETOOLONG;
	memcpy(name + n, ".key", 5);
	if (join(key, keycap, parts, 2) < 0)
		return -ENAMETOOLONG;
	return 0;
}

uint64_t derper_opts_rate_burst(const struct derper_opts *o)
{
	if (!o || o->per_client_rate_limit == 0)
		return 0;
	if (o->per_client_rate_burst)
		return o->per_client_rate_burst;
	return o->per_client_rate_limit > UINT64_MAX / 2 ? UINT64_MAX
							 : o->per_client_rate_limit * 2;
}
