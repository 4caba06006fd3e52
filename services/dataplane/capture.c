/* capture: packet capture in the dataplane (docs/capture.md; Tailscale's
 * InstallCaptureHook). While the broker's Capture state names at least one
 * session, every UDP payload the dataplane sends or receives, over UDP or
 * DERP, becomes a capture record (lib/capture.h) pushed to the broker on
 * the capture channel, <bus>/ch-capture/capture.ipc, which the broker binds;
 * the dataplane connects only while a capture runs and closes the socket
 * when the last session goes. The packet path checks d->cap only: NULL
 * costs one predictable branch per packet. Sends never wait: a full
 * channel drops the record and counts it (capture_drops). */
#include "dp.h"
#include "be.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "state.pb-c.h"

static void cap_close(struct dp *d)
{
	if (d->capst.sock)
		zmq_close(d->capst.sock);
	memset(&d->capst, 0, sizeof(d->capst));
	d->cap = 0;
}

static int cap_open(struct dp *d, void *zctx, const char *bus_dir)
{
	const int linger = 0, hwm = DP_CAPTURE_QUEUE_RECORDS;
	char ep[300];
	void *s;
	int e;

	if (snprintf(ep, sizeof(ep), "ipc://%s/%s/%s", bus_dir, CAPTURE_CHANNEL_DIR,
		     CAPTURE_CHANNEL_FILE) >= (int)sizeof(ep))
		return -ENAMETOOLONG;
	s = zmq_socket(zctx, ZMQ_PUSH);
	if (!s)
		return -zmq_errno();
	/* Queued records are stale once the capture ends: never linger. A
	 * bounded queue, so a slow broker costs drops, not memory. */
	if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 || zmq_connect(s, ep) < 0) {
		e = zmq_errno();
		zmq_close(s);
		return -e;
	}
	d->capst.sock = s;
	return 0;
}

int dp_capture_set(struct dp *d, void *zctx, const char *bus_dir, const struct Msock__Capture *c)
{
	void *sock = d->capst.sock;
	int rc;

	if (!c || c->n_sessions == 0) {
		if (d->cap)
			log_info("capture: stopped (%llu records, %llu dropped since start)",
				 (unsigned long long)d->c.capture_records,
				 (unsigned long long)d->c.capture_drops);
		cap_close(d);
		return 0;
	}
	memset(&d->capst, 0, sizeof(d->capst));
	d->capst.sock = sock;
	for (size_t i = 0; i < c->n_sessions; i++) {
		const Msock__CaptureSession *s = c->sessions[i];
		uint32_t bit;
		if (s->slot >= CAPTURE_MAX_SESSIONS)
			continue;
		bit = 1u << s->slot;
		if (s->n_peers == 0) {
			d->capst.all |= bit;
			continue;
		}
		uint32_t k = d->capst.n_sessions++;
		d->capst.s[k].bit = bit;
		for (size_t j = 0; j < s->n_peers && d->capst.s[k].n_peers < CAPTURE_MAX_PEERS; j++)
			if (s->peers[j].len == 32)
				memcpy(d->capst.s[k].peers[d->capst.s[k].n_peers++],
				       s->peers[j].data, 32);
	}
	if (!d->capst.sock) {
		rc = cap_open(d, zctx, bus_dir);
		if (rc < 0) {
			log_warn("capture: cannot open the capture channel: %s", strerror(-rc));
			cap_close(d);
			return rc;
		}
		log_info("capture: started");
	}
	d->cap = &d->capst;
	return 0;
}

/* The sessions that want a packet of peer `key` (NULL: not known). */
static uint32_t sessions_for(const struct dp_capture *c, const uint8_t *key)
{
	uint32_t m = c->all;

	for (uint32_t i = 0; key && i < c->n_sessions; i++)
		for (uint32_t j = 0; j < c->s[i].n_peers; j++)
			if (memcmp(c->s[i].peers[j], key, 32) == 0)
				m |= c->s[i].bit;
	return m;
}

static enum capture_kind kind_of(const uint8_t *p, size_t len)
{
	struct dp_classified k;

	dp_classify(p, len, &k);
	if (k.geneve)
		return CAPTURE_KIND_OTHER;
	switch (k.cls) {
	case DP_CLASS_WIREGUARD:
		return CAPTURE_KIND_WIREGUARD;
	case DP_CLASS_DISCO:
		return CAPTURE_KIND_DISCO;
	case DP_CLASS_STUN:
		return CAPTURE_KIND_STUN;
	default:
		return CAPTURE_KIND_OTHER;
	}
}

static void emit(struct dp *d, struct capture_rec *r, const uint8_t *p, size_t len)
{
	struct timespec ts;
	size_t size;
	zmq_msg_t m;

	clock_gettime(CLOCK_REALTIME, &ts);
	r->unix_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	r->kind = kind_of(p, len);
	size = capture_rec_size(r, len);
	if (!size || zmq_msg_init_size(&m, size) < 0) {
		d->c.capture_drops++;
		return;
	}
	if (capture_rec_encode(r, p, len, zmq_msg_data(&m), size) != size ||
	    zmq_msg_send(&m, d->cap->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		d->c.capture_drops++;
		return;
	}
	d->c.capture_records++;
}

void dp_capture_udp(struct dp *d, enum capture_dir dir, const struct ipport *remote, uint16_t sock,
		    const uint8_t *p, size_t len)
{
	struct dp_peer *peer = dp_peer_by_addr(d, remote);
	struct capture_rec r = {.dir = dir, .path = CAPTURE_PATH_DIRECT, .remote = *remote};

	r.sessions = sessions_for(d->cap, peer ? peer->key : 0);
	if (!r.sessions)
		return;
	if (peer)
		memcpy(r.key, peer->key, 32);
	r.sock = sock;
	r.local_port = sock && sock <= DP_PROBE_SOCKS ? d->probe[sock - 1].port : d->port;
	emit(d, &r, p, len);
}

void dp_capture_derp(struct dp *d, enum capture_dir dir, const uint8_t key[32], uint16_t region,
		     const uint8_t *p, size_t len)
{
	struct capture_rec r = {.dir = dir, .path = CAPTURE_PATH_DERP};
	const struct dp_peer *peer;

	r.sessions = sessions_for(d->cap, key);
	if (!r.sessions)
		return;
	/* derp sends a packet without a region to where it last heard the
	 * peer, else to its home region: the home region is our best guess. */
	if (!region && (peer = dp_peer_by_key(d, key)))
		region = peer->home_derp;
	memcpy(r.key, key, 32);
	r.region = region;
	r.remote.family = AF_INET;
	be_put32(r.remote.ip, CAPTURE_DERP_MAGIC_IP);
	r.remote.port = region;
	r.local_port = d->port;
	emit(d, &r, p, len);
}
