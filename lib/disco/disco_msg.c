/* disco_msg: the messages inside a disco box, as Tailscale's disco/disco.go
 * parses (Parse, parse<Type>) and marshals them (AppendMarshal), and the
 * checks the disco service runs before acting on one (disco_msg_check_keys,
 * disco_endpoint_usable). */
#include <string.h>
#include <sys/socket.h>

#include "be.h"
#include "disco/disco.h"

/* An IPv4 address in 16 bytes, as Go's As16: ::ffff:a.b.c.d. */
static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)be_get32(p) << 32 | be_get32(p + 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	be_put32(p, (uint32_t)(v >> 32));
	be_put32(p + 4, (uint32_t)v);
}

/* 16 bytes of IP: a v4-mapped address becomes IPv4 (Go's Unmap). */
static void ip_get(const uint8_t *p, struct ipport *out)
{
	memset(out, 0, sizeof(*out));
	if (memcmp(p, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		out->family = AF_INET;
		memcpy(out->ip, p + sizeof(v4_mapped_prefix), 4);
	} else {
		out->family = AF_INET6;
		memcpy(out->ip, p, 16);
	}
}

/* The 16 bytes of a's IP; false if a has no family we can send. */
static bool ip_put(const struct ipport *a, uint8_t *p)
{
	if (a->family == AF_INET) {
		memcpy(p, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		memcpy(p + sizeof(v4_mapped_prefix), a->ip, 4);
		return true;
	}
	if (a->family == AF_INET6) {
		memcpy(p, a->ip, 16);
		return true;
	}
	return false;
}

bool disco_endpoints_get(const struct disco_endpoints *e, size_t i, struct ipport *out)
{
	const uint8_t *p;

	if (!e || !e->wire || i >= e->n)
		return false;
	p = e->wire + i * DISCO_EP_LEN;
	ip_get(p, out);
	out->port = be_get16(p + 16);
	return true;
}

size_t disco_endpoints_put(const struct ipport *addrs, size_t n, uint8_t *wire, size_t cap,
			   struct disco_endpoints *out)
{
	*out = (struct disco_endpoints){0};
	if (n == 0 || n > DISCO_MAX_ENDPOINTS || !addrs || !wire || cap / DISCO_EP_LEN < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = wire + i * DISCO_EP_LEN;
		if (!ip_put(&addrs[i], p))
			return 0;
		be_put16(p + 16, addrs[i].port);
	}
	out->wire = wire;
	out->n = n;
	return n * DISCO_EP_LEN;
}

/* ---- Parsers: p and n are the payload after type and version ---- */

static int parse_ping(const uint8_t *p, size_t n, struct disco_msg *m)
{
	if (n < DISCO_TXID_LEN)
		return DISCO_ERR_SHORT;
	/* Go takes any padding; a ping no packet can carry is not one a
	 * peer sent, and the encoder could not give it back. */
	if (n > DISCO_MAX_PLAINTEXT_LEN - DISCO_MSG_HEADER_LEN)
		return DISCO_ERR_TOO_LONG;
	memcpy(m->u.ping.txid, p, DISCO_TXID_LEN);
	m->u.ping.padding = n - DISCO_TXID_LEN;
	/* "Deliberately lax on longer-than-expected messages": 32 more bytes
	 * are the key, whatever follows is padding. */
	if (n >= DISCO_PING_LEN) {
		m->u.ping.has_node_key = true;
		memcpy(m->u.ping.node_key.b, p + DISCO_TXID_LEN, DISCO_KEY_LEN);
		m->u.ping.padding = n - DISCO_PING_LEN;
	}
	return 0;
}

static int parse_pong(const uint8_t *p, size_t n, struct disco_msg *m)
{
	if (n < DISCO_PONG_LEN)
		return DISCO_ERR_SHORT;
	memcpy(m->u.pong.txid, p, DISCO_TXID_LEN);
	ip_get(p + DISCO_TXID_LEN, &m->u.pong.src);
	m->u.pong.src.port = be_get16(p + DISCO_TXID_LEN + 16);
	return 0; /* bytes past the port are ignored, as in Go */
}

static int parse_call_me_maybe(uint8_t ver, const uint8_t *p, size_t n, struct disco_msg *m)
{
	/* Go: a version other than 0 is a CallMeMaybe without endpoints. */
	if (ver != 0 || n == 0)
		return 0;
	/* Go parses this as a CallMeMaybe without endpoints too; we refuse
	 * it (docs/disco.md): no Tailscale sends it. */
	if (n % DISCO_EP_LEN != 0)
		return DISCO_ERR_BAD_LENGTH;
	if (n / DISCO_EP_LEN > DISCO_MAX_ENDPOINTS)
		return DISCO_ERR_TOO_MANY_ENDPOINTS;
	m->u.call_me_maybe.my_number.wire = p;
	m->u.call_me_maybe.my_number.n = n / DISCO_EP_LEN;
	return 0;
}

/* msock's ProbeMe: version 0 only (another is a future format: ignored);
 * bytes past the endpoint are ignored, as Go does for its messages. */
static int parse_probe_me(uint8_t ver, const uint8_t *p, size_t n, struct disco_msg *m)
{
	if (ver != 0)
		return DISCO_UNKNOWN_TYPE;
	if (n < DISCO_PROBE_ME_LEN)
		return DISCO_ERR_SHORT;
	m->u.probe_me.ports = be_get16(p);
	if (m->u.probe_me.ports == 0)
		return DISCO_ERR_BAD_LENGTH;
	ip_get(p + 2, &m->u.probe_me.addr);
	m->u.probe_me.addr.port = be_get16(p + 2 + 16);
	return 0;
}

/* BindUDPRelayEndpointCommon.decode; the version is ignored, as in Go. */
static int parse_bind(const uint8_t *p, size_t n, struct disco_msg *m)
{
	struct disco_bind *b = &m->u.bind;

	if (n < DISCO_BIND_LEN)
		return DISCO_ERR_SHORT;
	b->vni = be_get32(p);
	b->generation = be_get32(p + 4);
	memcpy(b->remote_key.b, p + 8, DISCO_KEY_LEN);
	memcpy(b->challenge, p + 8 + DISCO_KEY_LEN, DISCO_CHALLENGE_LEN);
	return 0; /* extra bytes ignored */
}

/* UDPRelayEndpoint.decode: the fixed part, then at least one endpoint,
 * and nothing after the last one. */
static int parse_relay_ep(const uint8_t *p, size_t n, struct disco_relay_endpoint *e)
{
	size_t count;

	if (n < DISCO_RELAY_EP_FIXED_LEN + DISCO_EP_LEN ||
	    (n - DISCO_RELAY_EP_FIXED_LEN) % DISCO_EP_LEN != 0)
		return DISCO_ERR_SHORT; /* Go's errShort for both */
	count = (n - DISCO_RELAY_EP_FIXED_LEN) / DISCO_EP_LEN;
	if (count > DISCO_MAX_ENDPOINTS)
		return DISCO_ERR_TOO_MANY_ENDPOINTS;
	memcpy(e->server_disco.b, p, DISCO_KEY_LEN);
	memcpy(e->client_disco[0].b, p + DISCO_KEY_LEN, DISCO_KEY_LEN);
	memcpy(e->client_disco[1].b, p + 2 * DISCO_KEY_LEN, DISCO_KEY_LEN);
	p += 3 * DISCO_KEY_LEN;
	e->lamport_id = get64(p);
	e->vni = be_get32(p + 8);
	e->bind_lifetime_ns = get64(p + 12);
	e->steady_state_lifetime_ns = get64(p + 20);
	e->addrs.wire = p + 28;
	e->addrs.n = count;
	return 0;
}

static int parse_alloc_req(uint8_t ver, const uint8_t *p, size_t n, struct disco_msg *m)
{
	if (ver != 0)
		return 0; /* Go: an empty request */
	if (n < DISCO_ALLOC_REQ_LEN)
		return DISCO_ERR_SHORT;
	memcpy(m->u.alloc_req.client_disco[0].b, p, DISCO_KEY_LEN);
	memcpy(m->u.alloc_req.client_disco[1].b, p + DISCO_KEY_LEN, DISCO_KEY_LEN);
	m->u.alloc_req.generation = be_get32(p + 2 * DISCO_KEY_LEN);
	return 0; /* extra bytes ignored */
}

static int parse_alloc_resp(uint8_t ver, const uint8_t *p, size_t n, struct disco_msg *m)
{
	if (ver != 0)
		return 0; /* Go: an empty response */
	if (n < 4)
		return DISCO_ERR_SHORT;
	m->u.alloc_resp.generation = be_get32(p);
	return parse_relay_ep(p + 4, n - 4, &m->u.alloc_resp.ep);
}

int disco_msg_parse(const uint8_t *p, size_t len, struct disco_msg *out)
{
	struct disco_msg m = {0};
	const uint8_t *body;
	size_t n;
	int rc;

	if (!p || len < DISCO_MSG_HEADER_LEN)
		return DISCO_ERR_SHORT;
	m.type = p[0];
	m.version = p[1];
	body = p + DISCO_MSG_HEADER_LEN;
	n = len - DISCO_MSG_HEADER_LEN;

	switch (m.type) {
	case DISCO_TYPE_PING:
		rc = parse_ping(body, n, &m);
		break;
	case DISCO_TYPE_PONG:
		rc = parse_pong(body, n, &m);
		break;
	case DISCO_TYPE_CALL_ME_MAYBE:
		rc = parse_call_me_maybe(m.version, body, n, &m);
		break;
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		rc = parse_bind(body, n, &m);
		break;
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
		/* Go: a version other than 0 is an empty message. */
		rc = m.version != 0 ? 0 : parse_relay_ep(body, n, &m.u.call_me_maybe_via);
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		rc = parse_alloc_req(m.version, body, n, &m);
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		rc = parse_alloc_resp(m.version, body, n, &m);
		break;
	case DISCO_TYPE_MSOCK_PROBE_ME:
		rc = parse_probe_me(m.version, body, n, &m);
		break;
	default:
		rc = DISCO_UNKNOWN_TYPE;
		break;
	}
	if (rc >= 0)
		*out = m;
	return rc;
}

/* ---- Encoder ---- */

/* Whether a list can go out: n within the cap, and bytes behind it. */
static bool list_ok(const struct disco_endpoints *e)
{
	return e->n <= DISCO_MAX_ENDPOINTS && (e->n == 0 || e->wire);
}

/* The payload length of m (type and version excluded); false if m cannot
 * be sent. */
static bool body_len(const struct disco_msg *m, size_t *out)
{
	const struct disco_relay_endpoint *e = NULL;

	switch (m->type) {
	case DISCO_TYPE_PING:
		*out = m->u.ping.has_node_key ? DISCO_PING_LEN : DISCO_TXID_LEN;
		if (m->u.ping.padding > DISCO_MAX_PLAINTEXT_LEN - DISCO_MSG_HEADER_LEN - *out)
			return false;
		*out += m->u.ping.padding;
		return true;
	case DISCO_TYPE_PONG:
		*out = DISCO_PONG_LEN;
		return m->u.pong.src.family == AF_INET || m->u.pong.src.family == AF_INET6;
	case DISCO_TYPE_CALL_ME_MAYBE:
		*out = m->u.call_me_maybe.my_number.n * DISCO_EP_LEN;
		return m->version == 0 && list_ok(&m->u.call_me_maybe.my_number);
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		*out = DISCO_BIND_LEN;
		return true;
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
		e = &m->u.call_me_maybe_via;
		*out = 0;
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		*out = DISCO_ALLOC_REQ_LEN;
		return m->version == 0;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		e = &m->u.alloc_resp.ep;
		*out = 4;
		break;
	case DISCO_TYPE_MSOCK_PROBE_ME:
		*out = DISCO_PROBE_ME_LEN;
		return m->version == 0 && m->u.probe_me.ports > 0 &&
		       (m->u.probe_me.addr.family == AF_INET ||
			m->u.probe_me.addr.family == AF_INET6);
	default:
		return false;
	}
	/* A relay endpoint: Go's parser wants at least one address. */
	*out += DISCO_RELAY_EP_FIXED_LEN + e->addrs.n * DISCO_EP_LEN;
	return m->version == 0 && e->addrs.n >= 1 && list_ok(&e->addrs);
}

static void put_relay_ep(const struct disco_relay_endpoint *e, uint8_t *p)
{
	memcpy(p, e->server_disco.b, DISCO_KEY_LEN);
	memcpy(p + DISCO_KEY_LEN, e->client_disco[0].b, DISCO_KEY_LEN);
	memcpy(p + 2 * DISCO_KEY_LEN, e->client_disco[1].b, DISCO_KEY_LEN);
	p += 3 * DISCO_KEY_LEN;
	put64(p, e->lamport_id);
	be_put32(p + 8, e->vni);
	put64(p + 12, e->bind_lifetime_ns);
	put64(p + 20, e->steady_state_lifetime_ns);
	/* Verbatim: Go's Unmap then As16 gives back the same 16 bytes. */
	memcpy(p + 28, e->addrs.wire, e->addrs.n * DISCO_EP_LEN);
}

size_t disco_msg_encode(const struct disco_msg *m, uint8_t *buf, size_t cap)
{
	size_t n;
	uint8_t *p;

	if (!m || !buf || !body_len(m, &n) || cap < DISCO_MSG_HEADER_LEN ||
	    cap - DISCO_MSG_HEADER_LEN < n)
		return 0;
	buf[0] = m->type;
	buf[1] = m->version;
	p = buf + DISCO_MSG_HEADER_LEN;

	switch (m->type) {
	case DISCO_TYPE_PING:
		memcpy(p, m->u.ping.txid, DISCO_TXID_LEN);
		if (m->u.ping.has_node_key)
			memcpy(p + DISCO_TXID_LEN, m->u.ping.node_key.b, DISCO_KEY_LEN);
		memset(p + n - m->u.ping.padding, 0, m->u.ping.padding);
		break;
	case DISCO_TYPE_PONG:
		memcpy(p, m->u.pong.txid, DISCO_TXID_LEN);
		ip_put(&m->u.pong.src, p + DISCO_TXID_LEN);
		be_put16(p + DISCO_TXID_LEN + 16, m->u.pong.src.port);
		break;
	case DISCO_TYPE_CALL_ME_MAYBE:
		if (n)
			memcpy(p, m->u.call_me_maybe.my_number.wire, n);
		break;
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		be_put32(p, m->u.bind.vni);
		be_put32(p + 4, m->u.bind.generation);
		memcpy(p + 8, m->u.bind.remote_key.b, DISCO_KEY_LEN);
		memcpy(p + 8 + DISCO_KEY_LEN, m->u.bind.challenge, DISCO_CHALLENGE_LEN);
		break;
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
		put_relay_ep(&m->u.call_me_maybe_via, p);
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		memcpy(p, m->u.alloc_req.client_disco[0].b, DISCO_KEY_LEN);
		memcpy(p + DISCO_KEY_LEN, m->u.alloc_req.client_disco[1].b, DISCO_KEY_LEN);
		be_put32(p + 2 * DISCO_KEY_LEN, m->u.alloc_req.generation);
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		be_put32(p, m->u.alloc_resp.generation);
		put_relay_ep(&m->u.alloc_resp.ep, p + 4);
		break;
	case DISCO_TYPE_MSOCK_PROBE_ME:
		be_put16(p, m->u.probe_me.ports);
		ip_put(&m->u.probe_me.addr, p + 2);
		be_put16(p + 2 + 16, m->u.probe_me.addr.port);
		break;
	}
	return DISCO_MSG_HEADER_LEN + n;
}

size_t disco_msg_encoded_len(const struct disco_msg *m)
{
	size_t n;

	return m && body_len(m, &n) ? DISCO_MSG_HEADER_LEN + n : 0;
}

/* ---- Checks ---- */

static bool relay_ep_keys_ok(const struct disco_relay_endpoint *e)
{
	return !key_is_zero(&e->server_disco) && !key_is_zero(&e->client_disco[0]) &&
	       !key_is_zero(&e->client_disco[1]);
}

int disco_msg_check_keys(const struct disco_msg *m)
{
	bool ok = true;

	switch (m->type) {
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		ok = !key_is_zero(&m->u.bind.remote_key);
		break;
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
		ok = relay_ep_keys_ok(&m->u.call_me_maybe_via);
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		ok = !key_is_zero(&m->u.alloc_req.client_disco[0]) &&
		     !key_is_zero(&m->u.alloc_req.client_disco[1]);
		break;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		ok = relay_ep_keys_ok(&m->u.alloc_resp.ep);
		break;
	}
	return ok ? 0 : DISCO_ERR_ZERO_KEY;
}

bool disco_endpoint_usable(const struct ipport *a)
{
	/* Beyond the shared rule: a link-local address is on the peer's
	 * link, not ours (Tailscale's handleCallMeMaybe skips IPv6 ones), and
	 * port 0 is no destination. */
	return a && a->port != 0 && ip_unicast_usable(a) && !ip_is_link_local(a);
}

/* ---- Names ---- */

const char *disco_type_name(uint8_t type)
{
	switch (type) {
	case DISCO_TYPE_PING:
		return "ping";
	case DISCO_TYPE_PONG:
		return "pong";
	case DISCO_TYPE_CALL_ME_MAYBE:
		return "call-me-maybe";
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
		return "bind-udp-relay-endpoint";
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
		return "bind-udp-relay-endpoint-challenge";
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		return "bind-udp-relay-endpoint-answer";
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
		return "call-me-maybe-via";
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		return "allocate-udp-relay-endpoint-request";
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		return "allocate-udp-relay-endpoint-response";
	case DISCO_TYPE_MSOCK_PROBE_ME:
		return "msock-probe-me";
	}
	return "unknown";
}

const char *disco_strerror(int err)
{
	switch (err) {
	case DISCO_OK:
		return "disco: ok";
	case DISCO_UNKNOWN_TYPE:
		return "disco: unknown message type (ignored)";
	case DISCO_ERR_SHORT:
		return "disco: too short";
	case DISCO_ERR_BAD_MAGIC:
		return "disco: no TS\xf0\x9f\x92\xac magic";
	case DISCO_ERR_TOO_LONG:
		return "disco: longer than any packet carries";
	case DISCO_ERR_ZERO_KEY:
		return "disco: all-zero disco key";
	case DISCO_ERR_BOX:
		return "disco: box does not open (wrong key or tampered)";
	case DISCO_ERR_BAD_LENGTH:
		return "disco: call-me-maybe not a whole number of endpoints, or probe-me of 0 "
		       "ports";
	case DISCO_ERR_TOO_MANY_ENDPOINTS:
		return "disco: too many endpoints";
	case DISCO_ERR_BUF_TOO_SMALL:
		return "disco: buffer too small";
	case DISCO_ERR_CRYPTO:
		return "disco: low-order public key";
	case DISCO_ERR_INVALID_ARG:
		return "disco: invalid argument";
	}
	return "disco: unknown error";
}
