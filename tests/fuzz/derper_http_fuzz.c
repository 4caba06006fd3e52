/* derper_http_fuzz: input = 2 bytes choosing a split point, then request
 * bytes. Parses the whole and the prefix before the split: a prefix that
 * parses or is refused must give what the whole gives (the parser is
 * stateless, so that is what incremental delivery sees). Then routes and
 * builds the route's response, which must fit a 4 KiB buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derper_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_MAX_INPUT_BYTES = 2 * DERPER_HTTP_MAX_HEAD_BYTES,
	FUZZ_RESPONSE_BYTES = 4096,
};

static void same_req(const struct derper_http_req *a, const struct derper_http_req *b)
{
	if (a->method != b->method || strcmp(a->method_name, b->method_name) ||
	    a->http_major != b->http_major || a->http_minor != b->http_minor ||
	    strcmp(a->path, b->path) || strcmp(a->query, b->query) || strcmp(a->host, b->host) ||
	    strcmp(a->upgrade, b->upgrade) || strcmp(a->connection, b->connection) ||
	    a->fast_start != b->fast_start || strcmp(a->challenge, b->challenge) ||
	    strcmp(a->ideal_node, b->ideal_node) || a->has_ideal_node != b->has_ideal_node ||
	    a->keep_alive != b->keep_alive || a->nheaders != b->nheaders)
		abort();
}

static size_t respond(const struct derper_http_req *r, uint8_t *buf, size_t cap)
{
	static const struct key32 pub = {{1, 2, 3}};
	static const uint8_t body[] = "derp_accepts 1\n";

	switch (derper_http_route(r)) {
	case DERPER_ROUTE_DERP_UPGRADE:
		return r->fast_start ? 1 : derper_http_101_derp(&pub, buf, cap);
	case DERPER_ROUTE_DERP_WEBSOCKET:
	case DERPER_ROUTE_DERP_NO_UPGRADE:
		return derper_http_426(r, 1700000000, buf, cap);
	case DERPER_ROUTE_PROBE:
		return derper_http_probe(r, 1700000000, buf, cap);
	case DERPER_ROUTE_PROBE_BAD_METHOD:
		return derper_http_405_probe(r, 1700000000, buf, cap);
	case DERPER_ROUTE_GENERATE_204:
		return derper_http_204(r, 1700000000, buf, cap);
	case DERPER_ROUTE_METRICS:
		return derper_http_response(r, 1700000000, 200, "text/plain", body,
					    sizeof(body) - 1, "Cache-Control: no-store\r\n", buf,
					    cap);
	case DERPER_ROUTE_ROBOTS:
		return derper_http_robots(r, 0, buf, cap);
	case DERPER_ROUTE_HOME:
		return derper_http_home(r, 0, buf, cap);
	case DERPER_ROUTE_NOT_FOUND:
		return derper_http_404(r, 0, buf, cap);
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct derper_http_req whole, part;
	uint8_t out[FUZZ_RESPONSE_BYTES];
	size_t split, cw = 0, cp = 0, n;
	int rw, rp;

	if (size < 2 || size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	data += 2;
	size -= 2;

	rw = derper_http_parse(data, size, &whole, &cw);
	rp = derper_http_parse(data, split, &part, &cp);
	if (!derper_http_strerror(rw) || !derper_http_strerror(rp))
		abort();
	if (rw == DERPER_HTTP_INCOMPLETE && cw != 0)
		abort();
	if (rw == 0 && (cw == 0 || cw > size || cw > DERPER_HTTP_MAX_HEAD_BYTES))
		abort();
	if (rw < 0 && cw > size)
		abort();
	if (rp != DERPER_HTTP_INCOMPLETE) {
		if (rp != rw || cp != cw)
			abort();
		if (rp == 0)
			same_req(&whole, &part);
	}
	if (rw == 0) {
		n = respond(&whole, out, sizeof(out));
		if (n == 0 || n > sizeof(out))
			abort();
		/* A cap one short of the whole gives nothing. */
		if (n > 1 && respond(&whole, out, n - 1) != 0 && !whole.fast_start)
			abort();
	} else if (rw < 0) {
		if (derper_http_bad_request(rw, 1700000000, out, sizeof(out)) == 0)
			abort();
	}
	return 0;
}
