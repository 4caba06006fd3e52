/* bus_wire: how messages are laid out on the bus (docs/bus.md). Shared by
 * the client (lib/bus.c) and the broker.
 *
 * Sockets, all ipc:// files in the bus directory (<run_dir>/bus, root's,
 * 0750, group msock):
 *   pub.ipc  broker XSUB binds; components PUB connect.  Events:
 *            [topic][protobuf body]
 *   sub.ipc  broker XPUB binds; components SUB connect.  Events as above,
 *            state as [topic][body][key][meta]
 *   req.ipc  broker ROUTER binds; components DEALER connect (no routing
 *            id of their own: the broker's ZAP handler names each
 *            connection from its peer credentials, broker/identity.c).
 *            Requests and replies:
 *            [SET][topic][key][body]   set a state key (the broker numbers,
 *                                      caches and republishes it)
 *            [DEL][topic][key]         delete a state key
 *            [SNAP][prefix]            snapshot of the state topics whose
 *                                      name starts with prefix; answered by
 *                                      [TSEQ][topic][seq:8][epoch:8] per
 *                                      topic (epoch: the broker's, random
 *                                      per process), then
 *                                      [KV][topic][body][key][meta] per key
 *                                      (oldest change first), then
 *                                      [END][prefix]
 *            [ERR][text]               a request was refused (says why)
 */
#ifndef MSOCK_BUS_WIRE_H
#define MSOCK_BUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define BUS_EP_PUB "pub.ipc"
#define BUS_EP_SUB "sub.ipc"
#define BUS_EP_REQ "req.ipc"

#define BUS_VERB_SET  "SET"
#define BUS_VERB_DEL  "DEL"
#define BUS_VERB_SNAP "SNAP"
#define BUS_VERB_TSEQ "TSEQ"
#define BUS_VERB_KV   "KV"
#define BUS_VERB_END  "END"
#define BUS_VERB_ERR  "ERR"

enum {
	/* Per frame. State is keyed per item (per peer, per region), so no
	 * message grows with the netmap; a peer sending more is disconnected
	 * by libzmq (ZMQ_MAXMSGSIZE) and the broker counts the disconnect. */
	BUS_MAX_MSG_BYTES = 256 * 1024,
	BUS_MAX_FRAMES = 8,
	BUS_META_BYTES = 9, /* seq (8, big-endian) + flags (1) */
	BUS_META_DELETED = 1,
	/* PUB/XPUB drop silently past the high-water mark; subscribers notice
	 * the gap in sequence numbers and resync from the cache. */
	BUS_PUB_HWM_MSGS = 100000,
	/* ROUTER drops silently too; a snapshot of 10,000 peers x a few
	 * topics x 5 frames must fit. */
	BUS_REQ_HWM_MSGS = 1000000,
	BUS_SNAPSHOT_TIMEOUT_MS = 5000,
};

struct bus_meta {
	uint64_t seq;
	uint8_t flags;
};

static inline void bus_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t bus_get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void bus_meta_encode(const struct bus_meta *m, uint8_t out[BUS_META_BYTES])
{
	bus_put_be64(out, m->seq);
	out[8] = m->flags;
}

/* Returns 0 or -1 when the frame is not a meta frame. */
static inline int bus_meta_parse(const uint8_t *p, size_t len, struct bus_meta *out)
{
	if (len != BUS_META_BYTES || (p[8] & ~BUS_META_DELETED))
		return -1;
	out->seq = bus_get_be64(p);
	out->flags = p[8];
	return 0;
}

#endif
