/* wg_dump: `wg show IFACE dump` parsed strictly (wireguard-tools show.c,
 * dump_print, is what prints it). Every field is checked against what wg
 * prints, so a truncated or garbled dump is refused rather than read as
 * peers without settings. */
#include "wg_dump.h"

#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

enum {
	FIELD_QUOTE_MAX = 48,				  /* of a bad field, in a message */
	FIELD_TEXT_MAX = ADDR_TEXT_MAX + IF_NAMESIZE + 1, /* the longest endpoint with a scope */
	ALLOWED_IP_TEXT_MAX = 64,			  /* an IPv6 address, "/128", rounded up */
	U64_DIGITS_MAX = 20,				  /* 18446744073709551615 */
};

struct field {
	const char *p;
	size_t n;
};

static const char *const peer_field_names[WG_DUMP_PEER_FIELDS] = {
	"public-key",	    "preshared-key", "endpoint", "allowed-ips",
	"latest-handshake", "rx bytes",	     "tx bytes", "persistent-keepalive",
};

/* A bad field for a message: at most FIELD_QUOTE_MAX characters, anything
 * unprintable as '?'. Keys never come here (a private or preshared key
 * must not reach a message). */
static const char *quote(const struct field *f, char *buf, size_t cap)
{
	size_t n = f->n < FIELD_QUOTE_MAX ? f->n : FIELD_QUOTE_MAX, i;

	if (cap < FIELD_QUOTE_MAX + 4)
		return "";
	for (i = 0; i < n; i++)
		buf[i] = isprint((unsigned char)f->p[i]) ? f->p[i] : '?';
	if (n < f->n) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

static bool is(const struct field *f, const char *s)
{
	return f->n == strlen(s) && memcmp(f->p, s, f->n) == 0;
}

/* Copies a field into buf as a C string; false if it does not fit. */
static bool copy(const struct field *f, char *buf, size_t cap)
{
	if (f->n >= cap)
		return false;
	memcpy(buf, f->p, f->n);
	buf[f->n] = 0;
	return true;
}

/* Decimal as wg prints it (%llu, %u): digits only, no sign, no leading
 * zero, at most max. */
static bool parse_uint(const struct field *f, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (f->n == 0 || f->n > U64_DIGITS_MAX || (f->n > 1 && f->p[0] == '0'))
		return false;
	for (size_t i = 0; i < f->n; i++) {
		unsigned d = (unsigned)(f->p[i] - '0');
		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

/* A key as wg prints it: 44 characters of base64, or "(none)". The
 * message never shows the field: it may be a secret. */
static int parse_key(const struct field *f, bool *has, struct key32 *k, const char **why)
{
	char buf[KEY_B64_LEN + 1];
	int rc;

	if (is(f, "(none)")) {
		*has = false;
		return 0;
	}
	if (f->n != KEY_B64_LEN || memchr(f->p, ':', f->n)) {
		*why = "not a 44-character base64 key or \"(none)\"";
		return -EINVAL;
	}
	copy(f, buf, sizeof(buf));
	rc = key_parse(buf, KEY_KIND_NODE_PUBLIC, k, why);
	sodium_memzero(buf, sizeof(buf));
	*has = rc == 0;
	return rc;
}

/* "ip:port", "[ip6]:port" or "[ip6%scope]:port" (getnameinfo's form of a
 * link-local address), or "(none)". */
static int parse_endpoint(const struct field *f, struct wg_dump_peer *p)
{
	char buf[FIELD_TEXT_MAX];
	char *pct, *close;

	if (is(f, "(none)"))
		return 0;
	if (!copy(f, buf, sizeof(buf)))
		return -EINVAL;
	pct = strchr(buf, '%');
	if (pct) {
		close = strchr(pct, ']');
		if (buf[0] != '[' || !close || close == pct + 1 ||
		    (size_t)(close - pct - 1) >= IF_NAMESIZE)
			return -EINVAL;
		for (char *c = pct + 1; c < close; c++) {
			if (!isalnum((unsigned char)*c) && !strchr("_-.@", *c))
				return -EINVAL;
		}
		memmove(pct, close, strlen(close) + 1);
		p->endpoint_scoped = true;
	}
	if (ipport_parse(buf, &p->endpoint) < 0)
		return -EINVAL;
	p->has_endpoint = true;
	return 0;
}

/* One "ip/cidr" of allowed-ips. */
static bool parse_allowed_ip(const char *s, size_t n)
{
	char buf[ALLOWED_IP_TEXT_MAX];
	struct field cidr;
	struct ipport a;
	uint64_t bits;
	char *slash;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = 0;
	cidr.p = slash + 1;
	cidr.n = strlen(slash + 1);
	if (ip_parse(buf, &a) < 0)
		return false;
	return parse_uint(&cidr, a.family == AF_INET ? 32 : 128, &bits);
}

/* "(none)" or ip/cidr[,ip/cidr...]; kept as wg printed it. */
static int parse_allowed_ips(const struct field *f, char **out)
{
	const char *s = f->p, *end = f->p + f->n;

	if (is(f, "(none)"))
		return 0;
	if (f->n == 0)
		return -EINVAL;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end;
		if (!parse_allowed_ip(s, (size_t)(e - s)))
			return -EINVAL;
		if (!comma)
			break;
		s = comma + 1;
	}
	*out = strndup(f->p, f->n);
	return *out ? 0 : -ENOMEM;
}

/* Splits line [p, p+n) at tabs into at most max fields; returns how many
 * there are (max + 1 when there are more). */
static size_t split(const char *p, size_t n, struct field *out, size_t max)
{
	size_t k = 0;
	const char *end = p + n;

	for (;;) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *e = tab ? tab : end;
		if (k == max)
			return max + 1;
		out[k].p = p;
		out[k++].n = (size_t)(e - p);
		if (!tab)
			return k;
		p = tab + 1;
	}
}

static int parse_iface(const char *p, size_t n, struct wg_dump *d, char *err, size_t errcap)
{
	struct field f[WG_DUMP_IFACE_FIELDS];
	struct key32 k;
	const char *why = "";
	char q[FIELD_QUOTE_MAX + 4];
	uint64_t v;
	bool has;
	size_t nf = split(p, n, f, WG_DUMP_IFACE_FIELDS);

	if (nf != WG_DUMP_IFACE_FIELDS) {
		errbuf_set(err, errcap,
			   "line 1: %s%zu field%s, expected %d (the interface: private-key, "
			   "public-key, listen-port, fwmark)",
			   nf > WG_DUMP_IFACE_FIELDS ? "more than " : "",
			   nf > WG_DUMP_IFACE_FIELDS ? (size_t)WG_DUMP_IFACE_FIELDS : nf,
			   nf == 1 ? "" : "s", WG_DUMP_IFACE_FIELDS);
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++) {
		int rc = parse_key(&f[i], &has, &k, &why);
		sodium_memzero(&k, sizeof(k));
		if (rc < 0) {
			errbuf_set(err, errcap, "line 1: %s: %s", i ? "public-key" : "private-key",
				   why);
			return -EINVAL;
		}
	}
	if (!parse_uint(&f[2], UINT16_MAX, &v)) {
		errbuf_set(err, errcap, "line 1: listen-port \"%s\": not a number 0-65535",
			   quote(&f[2], q, sizeof(q)));
		return -EINVAL;
	}
	d->listen_port = (uint16_t)v;
	if (is(&f[3], "off")) {
		d->fwmark = 0;
		return 0;
	}
	if (f[3].n < 3 || f[3].n > 10 || memcmp(f[3].p, "0x", 2) != 0 || f[3].p[2] == '0') {
		errbuf_set(err, errcap, "line 1: fwmark \"%s\": not \"off\" or 0x<hex>",
			   quote(&f[3], q, sizeof(q)));
		return -EINVAL;
	}
	d->fwmark = 0;
	for (size_t i = 2; i < f[3].n; i++) {
		char c = f[3].p[i];
		if (!isxdigit((unsigned char)c) || isupper((unsigned char)c)) {
			errbuf_set(err, errcap, "line 1: fwmark \"%s\": not \"off\" or 0x<hex>",
				   quote(&f[3], q, sizeof(q)));
			return -EINVAL;
		}
		d->fwmark = d->fwmark * 16 +
			    (uint32_t)(isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
	}
	return 0;
}

static int parse_peer(const char *p, size_t n, size_t line, struct wg_dump_peer *peer, char *err,
		      size_t errcap)
{
	struct field f[WG_DUMP_PEER_FIELDS];
	const char *why = "";
	char q[FIELD_QUOTE_MAX + 4];
	uint64_t v;
	bool has;
	size_t nf = split(p, n, f, WG_DUMP_PEER_FIELDS);
	int bad = -1, rc;

	if (nf != WG_DUMP_PEER_FIELDS) {
		errbuf_set(err, errcap,
			   "line %zu: %s%zu field%s, expected %d (a peer: public-key, "
			   "preshared-key, endpoint, allowed-ips, latest-handshake, rx, tx, "
			   "persistent-keepalive)",
			   line, nf > WG_DUMP_PEER_FIELDS ? "more than " : "",
			   nf > WG_DUMP_PEER_FIELDS ? (size_t)WG_DUMP_PEER_FIELDS : nf,
			   nf == 1 ? "" : "s", WG_DUMP_PEER_FIELDS);
		return -EINVAL;
	}
	peer->line = line;
	rc = parse_key(&f[0], &has, &peer->public_key, &why);
	if (rc == 0 && !has)
		why = "\"(none)\", but every peer has one";
	if (rc < 0 || !has) {
		errbuf_set(err, errcap, "line %zu: public-key: %s", line, why);
		return -EINVAL;
	}
	if (parse_key(&f[1], &peer->has_preshared_key, &peer->preshared_key, &why) < 0) {
		errbuf_set(err, errcap, "line %zu: preshared-key: %s", line, why);
		return -EINVAL;
	}
	if (parse_endpoint(&f[2], peer) < 0) {
		errbuf_set(err, errcap,
			   "line %zu: endpoint \"%s\": not ip:port, [ip6]:port or \"(none)\"", line,
			   quote(&f[2], q, sizeof(q)));
		return -EINVAL;
	}
	rc = parse_allowed_ips(&f[3], &peer->allowed_ips);
	if (rc == -ENOMEM) {
		errbuf_set(err, errcap, "line %zu: out of memory", line);
		return rc;
	}
	if (rc < 0) {
		errbuf_set(err, errcap,
			   "line %zu: allowed-ips \"%s\": not ip/cidr[,ip/cidr...] or \"(none)\"",
			   line, quote(&f[3], q, sizeof(q)));
		return -EINVAL;
	}
	if (!parse_uint(&f[4], UINT64_MAX, &peer->latest_handshake_s))
		bad = 4;
	else if (!parse_uint(&f[5], UINT64_MAX, &peer->rx_bytes))
		bad = 5;
	else if (!parse_uint(&f[6], UINT64_MAX, &peer->tx_bytes))
		bad = 6;
	if (bad >= 0) {
		errbuf_set(err, errcap, "line %zu: %s \"%s\": not a number", line,
			   peer_field_names[bad], quote(&f[bad], q, sizeof(q)));
		return -EINVAL;
	}
	if (is(&f[7], "off")) {
		peer->persistent_keepalive_s = 0;
	} else if (parse_uint(&f[7], UINT16_MAX, &v) && v > 0) {
		peer->persistent_keepalive_s = (uint16_t)v;
	} else {
		errbuf_set(err, errcap,
			   "line %zu: persistent-keepalive \"%s\": not \"off\" or 1-65535", line,
			   quote(&f[7], q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

static int cmp_peer(const void *a, const void *b)
{
	const struct wg_dump_peer *x = a, *y = b;
	int c = memcmp(x->public_key.b, y->public_key.b, KEY_LEN);

	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

int wg_dump_parse(const char *text, size_t len, struct wg_dump *out, char *err, size_t errcap)
{
	const char *p = text, *end = text + len;
	size_t lines = 0, line;

	memset(out, 0, sizeof(*out));
	if (len > WG_DUMP_MAX_BYTES) {
		errbuf_set(err, errcap, "%zu bytes, more than the %d this reads", len,
			   WG_DUMP_MAX_BYTES);
		return -EINVAL;
	}
	if (len == 0) {
		errbuf_set(err, errcap, "empty: expected the interface's line");
		return -EINVAL;
	}
	if (memchr(text, 0, len)) {
		line = 1;
		for (const char *c = text; *c; c++)
			line += *c == '\n';
		errbuf_set(err, errcap, "line %zu: a NUL byte", line);
		return -EINVAL;
	}
	for (const char *c = text; c < end; c++)
		lines += *c == '\n';
	if (text[len - 1] != '\n') {
		errbuf_set(err, errcap, "line %zu: no newline at its end (output cut short?)",
			   lines + 1);
		return -EINVAL;
	}
	out->peers = calloc(lines, sizeof(*out->peers));
	if (!out->peers) {
		errbuf_set(err, errcap, "out of memory for %zu lines", lines);
		return -ENOMEM;
	}
	for (line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		int rc;

		if (line == 1)
			rc = parse_iface(p, n, out, err, errcap);
		else
			rc = parse_peer(p, n, line, &out->peers[out->n_peers++], err, errcap);
		if (rc < 0)
			return rc;
		p = nl + 1;
	}
	qsort(out->peers, out->n_peers, sizeof(*out->peers), cmp_peer);
	for (size_t i = 1; i < out->n_peers; i++) {
		if (key_equal(&out->peers[i - 1].public_key, &out->peers[i].public_key)) {
			errbuf_set(err, errcap, "line %zu: the peer of line %zu again",
				   out->peers[i].line, out->peers[i - 1].line);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmp_key(const void *k, const void *peer)
{
	return memcmp(k, ((const struct wg_dump_peer *)peer)->public_key.b, KEY_LEN);
}

const struct wg_dump_peer *wg_dump_find(const struct wg_dump *d, const struct key32 *k)
{
	if (d->n_peers == 0)
		return NULL;
	return bsearch(k->b, d->peers, d->n_peers, sizeof(*d->peers), cmp_key);
}

void wg_dump_free(struct wg_dump *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowed_ips);
	if (d->peers)
		sodium_memzero(d->peers, d->n_peers * sizeof(*d->peers));
	free(d->peers);
	memset(d, 0, sizeof(*d));
}
