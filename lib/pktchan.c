/* pktchan: the packet-channel header codec (pure: no I/O, no logging, no
 * allocation) and the ZeroMQ PUSH/PULL links between the dataplane and one
 * service. Wire layout and rules: pktchan.h, docs/packet-channels.md. */
#include "pktchan.h"
#include "be.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <zmq.h>

#include "clock.h"
#include "log.h"

/* Header offsets in bytes; multi-byte fields are big-endian. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 1, /* 2 bytes */
	OFF_KIND = 3,
	OFF_FLAGS = 4,
	OFF_FAMILY = 5,
	OFF_PORT = 6,	 /* 2 bytes */
	OFF_IP = 8,	 /* 16 bytes; IPv4 in the first 4 */
	OFF_REGION = 24, /* 2 bytes */
	OFF_SOCK = 26,	 /* 2 bytes */
	OFF_KEY = 28,	 /* 32 bytes */
};

/* Address family on the wire: the IP version, not the host's AF_* value. */
enum {
	WIRE_FAMILY_NONE = 0,
	WIRE_FAMILY_V4 = 4,
	WIRE_FAMILY_V6 = 6,
};

_Static_assert(OFF_KEY + PKTCHAN_KEY_BYTES == PKTCHAN_HDR_BYTES, "pktchan header layout");

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The per-kind rules. Shared by parse and encode, so encode never writes a
 * header that parse would reject. */
static int hdr_check(const struct pktchan_hdr *h)
{
	const struct ipport *a = &h->addr;

	switch (h->kind) {
	case PKTCHAN_UDP_SEND:
	case PKTCHAN_UDP_RECV:
		if (a->family != AF_INET && a->family != AF_INET6)
			return PKTCHAN_ERR_FAMILY;
		if (a->port == 0)
			return PKTCHAN_ERR_PORT;
		if (a->family == AF_INET && !all_zero(a->ip + 4, sizeof(a->ip) - 4))
			return PKTCHAN_ERR_ADDR;
		if (h->region != 0)
			return PKTCHAN_ERR_REGION;
		if (!all_zero(h->key, sizeof(h->key)))
			return PKTCHAN_ERR_KEY;
		if (h->sock > PKTCHAN_MAX_SOCK)
			return PKTCHAN_ERR_SOCK;
		return PKTCHAN_OK;
	case PKTCHAN_DERP_SEND:
	case PKTCHAN_DERP_RECV:
		if (a->family != 0)
			return PKTCHAN_ERR_FAMILY;
		if (a->port != 0 || !all_zero(a->ip, sizeof(a->ip)))
			return PKTCHAN_ERR_ADDR;
		/* derp always knows which region a packet came in on; only a
		 * send may leave the choice (0 = the peer's home region). */
		if (h->kind == PKTCHAN_DERP_RECV && h->region == 0)
			return PKTCHAN_ERR_REGION;
		if (all_zero(h->key, sizeof(h->key)))
			return PKTCHAN_ERR_KEY;
		if (h->sock != 0)
			return PKTCHAN_ERR_SOCK;
		return PKTCHAN_OK;
	default:
		return PKTCHAN_ERR_KIND;
	}
}

int pktchan_hdr_parse(const uint8_t *p, size_t len, struct pktchan_hdr *out,
		      const uint8_t **payload, size_t *payload_len)
{
	int err;

	memset(out, 0, sizeof(*out));
	if (len < PKTCHAN_HDR_BYTES)
		return PKTCHAN_ERR_SHORT;
	if (p[OFF_MAGIC] != PKTCHAN_MAGIC)
		return PKTCHAN_ERR_MAGIC;
	if (be_get16(p + OFF_VERSION) != PKTCHAN_VERSION)
		return PKTCHAN_ERR_VERSION;
	if (p[OFF_KIND] < PKTCHAN_UDP_SEND || p[OFF_KIND] > PKTCHAN_DERP_RECV)
		return PKTCHAN_ERR_KIND;
	if (p[OFF_FLAGS] != 0)
		return PKTCHAN_ERR_FLAGS;
	out->kind = (enum pktchan_kind)p[OFF_KIND];
	switch (p[OFF_FAMILY]) {
	case WIRE_FAMILY_NONE:
		out->addr.family = 0;
		break;
	case WIRE_FAMILY_V4:
		out->addr.family = AF_INET;
		break;
	case WIRE_FAMILY_V6:
		out->addr.family = AF_INET6;
		break;
	default:
		return PKTCHAN_ERR_FAMILY;
	}
	out->addr.port = be_get16(p + OFF_PORT);
	memcpy(out->addr.ip, p + OFF_IP, sizeof(out->addr.ip));
	out->region = be_get16(p + OFF_REGION);
	out->sock = be_get16(p + OFF_SOCK);
	memcpy(out->key, p + OFF_KEY, sizeof(out->key));
	err = hdr_check(out);
	if (err)
		return err;
	if (len - PKTCHAN_HDR_BYTES > PKTCHAN_MAX_PAYLOAD_BYTES)
		return PKTCHAN_ERR_TOO_BIG;
	if (payload)
		*payload = p + PKTCHAN_HDR_BYTES;
	if (payload_len)
		*payload_len = len - PKTCHAN_HDR_BYTES;
	return PKTCHAN_OK;
}

size_t pktchan_hdr_encode(const struct pktchan_hdr *h, uint8_t *buf, size_t cap)
{
	uint8_t family;

	if (cap < PKTCHAN_HDR_BYTES || hdr_check(h) != PKTCHAN_OK)
		return 0;
	/* hdr_check allowed only these three. */
	family = h->addr.family == AF_INET    ? WIRE_FAMILY_V4
		 : h->addr.family == AF_INET6 ? WIRE_FAMILY_V6
					      : WIRE_FAMILY_NONE;
	buf[OFF_MAGIC] = PKTCHAN_MAGIC;
	be_put16(buf + OFF_VERSION, PKTCHAN_VERSION);
	buf[OFF_KIND] = (uint8_t)h->kind;
	buf[OFF_FLAGS] = 0;
	buf[OFF_FAMILY] = family;
	be_put16(buf + OFF_PORT, h->addr.port);
	memcpy(buf + OFF_IP, h->addr.ip, sizeof(h->addr.ip));
	be_put16(buf + OFF_REGION, h->region);
	be_put16(buf + OFF_SOCK, h->sock);
	memcpy(buf + OFF_KEY, h->key, sizeof(h->key));
	return PKTCHAN_HDR_BYTES;
}

const char *pktchan_strerror(int err)
{
	switch (err) {
	case PKTCHAN_OK:
		return "no error";
	case PKTCHAN_ERR_SHORT:
		return "header too short";
	case PKTCHAN_ERR_MAGIC:
		return "bad magic byte (not a packet-channel message)";
	case PKTCHAN_ERR_VERSION:
		return "unsupported header version";
	case PKTCHAN_ERR_KIND:
		return "unknown packet kind";
	case PKTCHAN_ERR_FLAGS:
		return "reserved flags set";
	case PKTCHAN_ERR_SOCK:
		return "socket index out of range, or set on a DERP kind";
	case PKTCHAN_ERR_FAMILY:
		return "address family wrong for the packet kind";
	case PKTCHAN_ERR_PORT:
		return "UDP packet with port 0";
	case PKTCHAN_ERR_ADDR:
		return "address bytes wrong for the family or packet kind";
	case PKTCHAN_ERR_REGION:
		return "DERP region wrong for the packet kind";
	case PKTCHAN_ERR_KEY:
		return "peer key wrong for the packet kind";
	case PKTCHAN_ERR_TOO_BIG:
		return "payload larger than 65535 bytes";
	default:
		return "unknown packet-channel error";
	}
}

/* The channel. */

enum {
	/* "ipc://" + a unix socket path with its NUL (sun_path, 108 on Linux):
	 * libzmq refuses a longer path, we refuse it first with a clear errno. */
	ENDPOINT_MAX_BYTES = sizeof("ipc://") - 1 + sizeof(((struct sockaddr_un *)0)->sun_path),
};

struct pktchan {
	void *tx; /* PUSH */
	void *rx; /* PULL */
	/* The link we receive on ("disco-up" in the dataplane, "disco-down" in
	 * disco), to name it in logs. */
	char rx_name[PKTCHAN_SERVICE_MAX_BYTES + sizeof("-down")];
	struct pktchan_stats stats;
	struct log_ratelimit rl;
};

static bool service_ok(const char *s)
{
	size_t n = strnlen(s, PKTCHAN_SERVICE_MAX_BYTES);

	if (n == 0 || n == PKTCHAN_SERVICE_MAX_BYTES)
		return false;
	/* It becomes part of a file name. */
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int endpoint(char *buf, size_t cap, const char *dir, const char *service, const char *link)
{
	int n = snprintf(buf, cap, "ipc://%s/ch-%s/pkt-%s-%s.ipc", dir, service, service, link);

	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static void *open_socket(void *zmq_ctx, int type, const char *ep, bool bind)
{
	/* The default (infinite) would make zmq_ctx_term wait forever for a
	 * peer to take packets that are stale by then. */
	const int linger = 0;
	/* Bounded queues: when one is full, a send fails with EAGAIN and we
	 * drop instead of blocking or growing. */
	const int hwm = PKTCHAN_QUEUE_PACKETS;
	/* Queue nothing for a peer that is not connected: a connecting PUSH
	 * would otherwise fill its queue while the dataplane is down and
	 * deliver stale packets when it comes back. */
	const int immediate = 1;
	/* libzmq disconnects a peer that announces a bigger message, before
	 * reading it: a bad peer costs us at most one packet's memory. */
	const int64_t maxmsg = PKTCHAN_MAX_MSG_BYTES;
	void *s;
	int e;

	s = zmq_socket(zmq_ctx, type);
	if (!s)
		return NULL;
	if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0)
		goto fail;
	if (type == ZMQ_PUSH) {
		if (zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
		    zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate)) < 0)
			goto fail;
	} else {
		if (zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) < 0 ||
		    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0)
			goto fail;
	}
	if ((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) < 0)
		goto fail;
	return s;
fail:
	e = zmq_errno();
	zmq_close(s);
	errno = e;
	return NULL;
}

struct pktchan *pktchan_open(void *zmq_ctx, const char *dir, const char *service,
			     enum pktchan_role role)
{
	char up[ENDPOINT_MAX_BYTES], down[ENDPOINT_MAX_BYTES];
	struct pktchan *c = NULL;
	bool dp = role == PKTCHAN_ROLE_DATAPLANE;
	int e;

	if (!zmq_ctx || !dir || !service || !service_ok(service) ||
	    (role != PKTCHAN_ROLE_DATAPLANE && role != PKTCHAN_ROLE_SERVICE)) {
		errno = EINVAL;
		return NULL;
	}
	if (endpoint(up, sizeof(up), dir, service, "up") < 0 ||
	    endpoint(down, sizeof(down), dir, service, "down") < 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->rx_name, sizeof(c->rx_name), "%s-%s", service, dp ? "up" : "down");
	log_ratelimit_init(&c->rl, PKTCHAN_LOG_INTERVAL_MS);
	/* The dataplane binds both links; a service connects to both. */
	c->rx = open_socket(zmq_ctx, ZMQ_PULL, dp ? up : down, dp);
	if (!c->rx)
		goto fail;
	c->tx = open_socket(zmq_ctx, ZMQ_PUSH, dp ? down : up, dp);
	if (!c->tx)
		goto fail;
	return c;
fail:
	e = errno;
	pktchan_free(c);
	errno = e;
	return NULL;
}

void pktchan_free(struct pktchan *c)
{
	if (!c)
		return;
	if (c->tx)
		zmq_close(c->tx);
	if (c->rx)
		zmq_close(c->rx);
	free(c);
}

int pktchan_send(struct pktchan *c, const struct pktchan_hdr *h, const uint8_t *payload, size_t len)
{
	uint8_t hdr[PKTCHAN_HDR_BYTES];
	zmq_msg_t m;
	uint8_t *d;
	int e;

	if (len > PKTCHAN_MAX_PAYLOAD_BYTES)
		return -EMSGSIZE;
	if (pktchan_hdr_encode(h, hdr, sizeof(hdr)) == 0)
		return -EINVAL;
	/* One message, one copy of the payload. */
	if (zmq_msg_init_size(&m, sizeof(hdr) + len) < 0)
		return -zmq_errno();
	d = zmq_msg_data(&m);
	memcpy(d, hdr, sizeof(hdr));
	if (len)
		memcpy(d + sizeof(hdr), payload, len);
	if (zmq_msg_send(&m, c->tx, ZMQ_DONTWAIT) < 0) {
		e = zmq_errno();
		zmq_msg_close(&m);
		if (e == EAGAIN) {
			c->stats.dropped_full++;
			return -EAGAIN;
		}
		return -e;
	}
	c->stats.sent++;
	return 0;
}

/* Reads and discards the remaining parts of a multipart message (ZeroMQ
 * delivers a message whole, so they are already here). Returns their size. */
static size_t drain_parts(void *s)
{
	size_t total = 0;
	zmq_msg_t m;
	int more;

	do {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		total += zmq_msg_size(&m);
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	} while (more);
	return total;
}

static void dropped(struct pktchan *c, size_t size, const char *why)
{
	log_rl(&c->rl, clock_mono_ns(), LOG_LEVEL_WARN, "pktchan %s: dropped %zu-byte message: %s",
	       c->rx_name, size, why);
}

int pktchan_recv(struct pktchan *c, struct pktchan_hdr *h, uint8_t *buf, size_t cap, size_t *len)
{
	const uint8_t *payload;
	size_t size, payload_len;
	zmq_msg_t m;
	int rc, err;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->rx, ZMQ_DONTWAIT) < 0) {
		rc = -zmq_errno();
		goto out;
	}
	size = zmq_msg_size(&m);
	if (zmq_msg_more(&m)) {
		/* We never send multipart; drain it so the next call starts on
		 * a fresh message. */
		size += drain_parts(c->rx);
		c->stats.malformed++;
		dropped(c, size, "multipart message");
		rc = -EBADMSG;
		goto out;
	}
	err = pktchan_hdr_parse(zmq_msg_data(&m), size, h, &payload, &payload_len);
	if (err) {
		c->stats.malformed++;
		dropped(c, size, pktchan_strerror(err));
		rc = -EBADMSG;
		goto out;
	}
	if (payload_len > cap) {
		c->stats.dropped_cap++;
		dropped(c, size, "payload larger than the receive buffer");
		rc = -EMSGSIZE;
		goto out;
	}
	if (payload_len)
		memcpy(buf, payload, payload_len);
	*len = payload_len;
	c->stats.received++;
	rc = 0;
out:
	zmq_msg_close(&m);
	return rc;
}

void *pktchan_socket_rx(struct pktchan *c)
{
	return c->rx;
}

void pktchan_stats(const struct pktchan *c, struct pktchan_stats *out)
{
	*out = c->stats;
}
