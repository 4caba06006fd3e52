/* derper_front: see derper_front.h. Every answer other than the DERP
 * upgrade closes the connection once written (no keep-alive: nothing here
 * is worth a second request). */
#include "derper_front.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "derper_http.h"
#include "derper_metrics.h"

enum {
	FRONT_REPLY_MAX_BYTES = 2048,
	FRONT_METRICS_MAX_BYTES = 16384,
};

/* /debug/metrics only for the local machine, as Tailscale keeps /debug/
 * off the public internet. */
static bool local(const struct dconn *c)
{
	static const uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	if (c->remote.family == AF_INET)
		return c->remote.ip[0] == 127;
	return memcmp(c->remote.ip, v6_loop, 16) == 0;
}

static size_t metrics(struct dconn *c, const struct derper_http_req *req, time_t now, uint8_t *out,
		      size_t cap)
{
	static char body[FRONT_METRICS_MAX_BYTES];
	size_t n;

	if (!local(c))
		return derper_http_error(req, now, 403, "debug endpoints are local only", out, cap);
	n = derper_metrics_text(c->srv, body, sizeof(body));
	return derper_http_response(req, now, 200, "text/plain; version=0.0.4",
				    (const uint8_t *)body, n, 0, out, cap);
}

static void reply(struct dconn *c, const uint8_t *p, size_t n)
{
	if (!n || !dconn_write(c, p, n)) {
		dconn_close(c, "cannot write the HTTP answer");
		return;
	}
	c->st = DC_HTTP_REPLY;
}

long front_on_input(struct dconn *c)
{
	static uint8_t out[FRONT_METRICS_MAX_BYTES + FRONT_REPLY_MAX_BYTES];
	struct derper_http_req req;
	time_t now = time(0);
	size_t used = 0, n = 0;
	int rc = derper_http_parse(c->rbuf, c->rlen, &req, &used);

	if (rc == DERPER_HTTP_INCOMPLETE)
		return 0;
	if (rc < 0) {
		c->srv->ctr.malformed++;
		log_rl(&c->srv->rl_conn, c->srv->now_ns, LOG_LEVEL_INFO,
		       "conn %llu: bad request: %s", (unsigned long long)c->id,
		       derper_http_strerror(rc));
		reply(c, out, derper_http_bad_request(rc, now, out, sizeof(out)));
		return 0;
	}
	switch (derper_http_route(&req)) {
	case DERPER_ROUTE_DERP_UPGRADE:
		/* Ideal-Node: the client dialled another node of the region
		 * first (watchers see the NotIdeal flag). */
		c->not_ideal = req.has_ideal_node;
		if (!req.fast_start) {
			n = derper_http_101_derp(&c->srv->pub, out, sizeof(out));
			if (!n || !dconn_write(c, out, n)) {
				dconn_close(c, "cannot write 101");
				return -1;
			}
		}
		derper_on_upgrade(c, req.fast_start);
		return c->st == DC_CLOSED ? -1 : (long)used;
	case DERPER_ROUTE_DERP_WEBSOCKET:
	case DERPER_ROUTE_DERP_NO_UPGRADE:
		n = derper_http_426(&req, now, out, sizeof(out));
		break;
	case DERPER_ROUTE_PROBE:
		n = derper_http_probe(&req, now, out, sizeof(out));
		break;
	case DERPER_ROUTE_PROBE_BAD_METHOD:
		n = derper_http_405_probe(&req, now, out, sizeof(out));
		break;
	case DERPER_ROUTE_GENERATE_204:
		n = derper_http_204(&req, now, out, sizeof(out));
		break;
	case DERPER_ROUTE_METRICS:
		n = metrics(c, &req, now, out, sizeof(out));
		break;
	case DERPER_ROUTE_ROBOTS:
		n = derper_http_robots(&req, now, out, sizeof(out));
		break;
	case DERPER_ROUTE_HOME:
		n = derper_http_home(&req, now, out, sizeof(out));
		break;
	default:
		n = derper_http_404(&req, now, out, sizeof(out));
		break;
	}
	reply(c, out, n);
	return 0;
}
