/* msockctl_wg_dump_fuzz: wg_dump_parse on arbitrary bytes, and
 * wg_wants_parse (the broker's wg-config lines) on them as text. A dump
 * that parses is printed again as wg prints it (show.c, dump_print) and
 * must parse to the same peers; every peer must be found by its key. Not
 * byte-for-byte: an IPv6 address has many spellings ("::0:1", "::1") and
 * wg's order of peers is not kept (they come back sorted by key). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_apply.h"
#include "wg_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_MAX_INPUT_BYTES = 1 << 16,
};

static void print_key(FILE *f, bool has, const struct key32 *k)
{
	char b64[KEY_B64_LEN + 1];

	if (!has) {
		fputs("(none)", f);
		return;
	}
	key_to_base64(k, b64, sizeof(b64));
	fputs(b64, f);
}

/* Prints d as wg would; scoped endpoints get a scope ("%s0") again. */
static char *print_dump(const struct wg_dump *d, size_t *len)
{
	char *buf = NULL, ep[ADDR_TEXT_MAX];
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	fprintf(f, "(none)\t(none)\t%u\t", d->listen_port);
	if (d->fwmark)
		fprintf(f, "0x%x\n", d->fwmark);
	else
		fputs("off\n", f);
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct wg_dump_peer *p = &d->peers[i];

		print_key(f, true, &p->public_key);
		fputc('\t', f);
		print_key(f, p->has_preshared_key, &p->preshared_key);
		fputc('\t', f);
		if (!p->has_endpoint) {
			fputs("(none)", f);
		} else {
			ipport_format(&p->endpoint, ep, sizeof(ep));
			if (p->endpoint_scoped) {
				char *close = strchr(ep, ']');
				if (!close)
					abort();
				*close = 0;
				fprintf(f, "%s%%s0]%s", ep, close + 1);
			} else {
				fputs(ep, f);
			}
		}
		fprintf(f, "\t%s\t%llu\t%llu\t%llu\t", p->allowed_ips ? p->allowed_ips : "(none)",
			(unsigned long long)p->latest_handshake_s, (unsigned long long)p->rx_bytes,
			(unsigned long long)p->tx_bytes);
		if (p->persistent_keepalive_s)
			fprintf(f, "%u\n", p->persistent_keepalive_s);
		else
			fputs("off\n", f);
	}
	fclose(f);
	return buf;
}

static bool same_peer(const struct wg_dump_peer *a, const struct wg_dump_peer *b)
{
	return key_equal(&a->public_key, &b->public_key) &&
	       a->has_preshared_key == b->has_preshared_key &&
	       (!a->has_preshared_key || key_equal(&a->preshared_key, &b->preshared_key)) &&
	       a->has_endpoint == b->has_endpoint &&
	       (!a->has_endpoint || ipport_equal(&a->endpoint, &b->endpoint)) &&
	       a->endpoint_scoped == b->endpoint_scoped && !a->allowed_ips == !b->allowed_ips &&
	       (!a->allowed_ips || strcmp(a->allowed_ips, b->allowed_ips) == 0) &&
	       a->latest_handshake_s == b->latest_handshake_s && a->rx_bytes == b->rx_bytes &&
	       a->tx_bytes == b->tx_bytes && a->persistent_keepalive_s == b->persistent_keepalive_s;
}

static void check_dump(const uint8_t *data, size_t size)
{
	char err[WG_DUMP_ERR_MAX] = "";
	struct wg_dump d, back;
	char *text;
	size_t len;

	if (wg_dump_parse((const char *)data, size, &d, err, sizeof(err)) != 0) {
		if (strncmp(err, "line ", 5) != 0 && strncmp(err, "empty", 5) != 0)
			abort(); /* every refusal names its line */
		wg_dump_free(&d);
		return;
	}
	for (size_t i = 0; i < d.n_peers; i++) {
		if (wg_dump_find(&d, &d.peers[i].public_key) != &d.peers[i])
			abort();
	}
	text = print_dump(&d, &len);
	if (wg_dump_parse(text, len, &back, err, sizeof(err)) != 0 || back.n_peers != d.n_peers ||
	    back.listen_port != d.listen_port || back.fwmark != d.fwmark)
		abort();
	for (size_t i = 0; i < d.n_peers; i++) {
		if (!same_peer(&d.peers[i], &back.peers[i]))
			abort();
	}
	free(text);
	wg_dump_free(&back);
	wg_dump_free(&d);
}

static void check_wants(const uint8_t *data, size_t size)
{
	char err[256], b64[KEY_B64_LEN + 1], *s = malloc(size + 1);
	struct wg_want *w;
	size_t n;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = 0;
	if (wg_wants_parse(s, &w, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++) {
			key_to_base64(&w[i].key, b64, sizeof(b64));
			if (strcmp(b64, w[i].key_b64) != 0)
				abort();
		}
		free(w);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	check_dump(data, size);
	check_wants(data, size);
	return 0;
}
