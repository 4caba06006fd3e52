/* pktchan: the packet channels between the dataplane and the derp, disco and
 * netcheck processes (DESIGN.md, "The bus", item 2 "Packets"): a fixed
 * header codec and point-to-point ZeroMQ PUSH/PULL links over ipc://.
 *
 * Links. A service S and the dataplane are joined by two one-way links in
 * the channel's directory in the bus directory (ch-S, 2750 of group
 * msock-ch-S, created by the broker, not by us; docs/packet-channels.md):
 *
 *   <dir>/ch-S/pkt-S-up.ipc    S -> dataplane: dataplane binds PULL, S connects PUSH
 *   <dir>/ch-S/pkt-S-down.ipc  dataplane -> S: dataplane binds PUSH, S connects PULL
 *
 * The dataplane binds everything and services only connect, so either side
 * may restart: a bind replaces a stale socket file, and ZeroMQ reconnects a
 * service on its own. Packets never go through the broker.
 *
 * Message. Every packet is ONE ZeroMQ message: PKTCHAN_HDR_BYTES of header
 * (layout in docs/packet-channels.md and pktchan.c) followed by the payload.
 *
 * Drop, don't block. pktchan_send never waits: when the peer is absent or
 * its queue is full the packet is dropped and counted, like a full NIC
 * queue. pktchan_recv never waits either; malformed messages are dropped,
 * counted and logged rate-limited. */
#ifndef MSOCK_PKTCHAN_H
#define MSOCK_PKTCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	PKTCHAN_MAGIC = 0x4d, /* 'M' */
	PKTCHAN_VERSION = 1,
	PKTCHAN_KEY_BYTES = 32,
	/* The dataplane's probe sockets (birthday-paradox hole punching,
	 * docs/disco.md): UDP kinds name 0 (the main socket) or 1..this. */
	PKTCHAN_MAX_SOCK = 256,
	/* magic 1 + version 2 + kind 1 + flags 1 + family 1 + port 2 + ip 16
	 * + region 2 + sock 2 + key 32 */
	PKTCHAN_HDR_BYTES = 60,
	/* The most one UDP datagram can carry (16-bit length). Tailscale's DERP
	 * allows 64 KiB (tailscale/tailscale derp/derp.go: "MaxPacketSize is
	 * the maximum size of a packet sent over DERP", MaxPacketSize =
	 * 64 << 10); a 65536-byte DERP packet could never leave by UDP, so we
	 * keep the UDP limit for both. */
	PKTCHAN_MAX_PAYLOAD_BYTES = 65535,
	PKTCHAN_MAX_MSG_BYTES = PKTCHAN_HDR_BYTES + PKTCHAN_MAX_PAYLOAD_BYTES,
	/* ZeroMQ high-water mark of each socket, in packets: absorbs a receiver
	 * that is descheduled for a moment (~6 MiB of 1500-byte packets); past
	 * it a late packet is worth less than the memory, so we drop. */
	PKTCHAN_QUEUE_PACKETS = 4096,
	/* A service name is a short lowercase word ("derp", "disco", ...). */
	PKTCHAN_SERVICE_MAX_BYTES = 32,
	PKTCHAN_LOG_INTERVAL_MS = 10000, /* one malformed-message line per 10 s */
};

/* Wire values; zero is invalid. The kind says what to do or what happened;
 * the link says who sent it. pktchan does not tie one to the other: the
 * dataplane may, for example, pass disco's DERP_SEND on to derp, or derp's
 * DERP_RECV of a disco packet on to disco. The receiver's dispatch decides. */
enum pktchan_kind {
	PKTCHAN_KIND_INVALID = 0,
	PKTCHAN_UDP_SEND = 1, /* service -> dataplane: send payload from our UDP socket to addr */
	PKTCHAN_UDP_RECV =
		2, /* dataplane -> service: payload arrived on our UDP socket from addr */
	PKTCHAN_DERP_SEND =
		3, /* dataplane -> derp: send payload to peer key via region (0 = home) */
	PKTCHAN_DERP_RECV = 4, /* derp -> dataplane: payload arrived from peer key via region */
};

/* What pktchan_hdr_parse returns: 0 or one of these. Not errno values. */
enum pktchan_err {
	PKTCHAN_OK = 0,
	PKTCHAN_ERR_SHORT = -1,	  /* fewer than PKTCHAN_HDR_BYTES */
	PKTCHAN_ERR_MAGIC = -2,	  /* first byte is not PKTCHAN_MAGIC */
	PKTCHAN_ERR_VERSION = -3, /* version is not PKTCHAN_VERSION */
	PKTCHAN_ERR_KIND = -4,	  /* kind 0 or unknown */
	PKTCHAN_ERR_FLAGS = -5,	  /* flags byte not 0 */
	PKTCHAN_ERR_SOCK = -6,	  /* sock over PKTCHAN_MAX_SOCK, or not 0 on a DERP kind */
	PKTCHAN_ERR_FAMILY = -7,  /* UDP kind without family 4/6, or DERP kind with one */
	PKTCHAN_ERR_PORT = -8,	  /* UDP kind with port 0 */
	PKTCHAN_ERR_ADDR = -9, /* IPv4 with bytes after the first 4, or DERP kind with an address */
	PKTCHAN_ERR_REGION = -10,  /* region on a UDP kind, or DERP_RECV with region 0 */
	PKTCHAN_ERR_KEY = -11,	   /* DERP kind with a zero key, or UDP kind with a key */
	PKTCHAN_ERR_TOO_BIG = -12, /* payload over PKTCHAN_MAX_PAYLOAD_BYTES */
};

struct pktchan_hdr {
	enum pktchan_kind kind;
	struct ipport addr; /* UDP kinds: family AF_INET/AF_INET6, port != 0; DERP: all zero */
	uint16_t region;    /* DERP kinds: region id (DERP_SEND: 0 = peer's home); UDP: 0 */
	uint8_t key[PKTCHAN_KEY_BYTES]; /* DERP kinds: the peer's node key; UDP: zero */
	/* UDP kinds: which of the dataplane's sockets (0: the main one of the
	 * address's family; 1..PKTCHAN_MAX_SOCK: an IPv4 probe socket, opened
	 * on the first send). DERP kinds: 0. */
	uint16_t sock;
};

/* Parses one message. On success *payload points into p (no copy) and
 * *payload_len is its length; payload and payload_len may be NULL. Every
 * field is checked, so a header that parses re-encodes to the same bytes. */
int pktchan_hdr_parse(const uint8_t *p, size_t len, struct pktchan_hdr *out,
		      const uint8_t **payload, size_t *payload_len);
/* Writes the PKTCHAN_HDR_BYTES header (the payload is the caller's to
 * append). Returns PKTCHAN_HDR_BYTES, or 0 if cap is too small or the header
 * would not pass pktchan_hdr_parse. */
size_t pktchan_hdr_encode(const struct pktchan_hdr *h, uint8_t *buf, size_t cap);
/* A static description of a pktchan_err ("header too short", ...). */
const char *pktchan_strerror(int err);

enum pktchan_role {
	PKTCHAN_ROLE_INVALID = 0,
	PKTCHAN_ROLE_DATAPLANE, /* binds both links of one service */
	PKTCHAN_ROLE_SERVICE,	/* connects to both links */
};

struct pktchan;

struct pktchan_stats {
	uint64_t sent;	       /* messages handed to ZeroMQ */
	uint64_t received;     /* good packets returned by pktchan_recv */
	uint64_t dropped_full; /* sends dropped: no peer connected or queue full */
	uint64_t malformed;    /* received messages dropped as malformed */
	uint64_t dropped_cap;  /* good packets dropped: larger than the caller's buffer */
};

/* Opens the two links between the dataplane and `service` (1 to 31 of
 * [a-z0-9_]: it becomes part of a file name) in `dir`, on the caller's
 * ZeroMQ context. Returns what the caller frees with pktchan_free,
 * or NULL with errno set (EINVAL: bad role or service name; ENAMETOOLONG:
 * path too long for a unix socket; or ZeroMQ's errno). */
struct pktchan *pktchan_open(void *zmq_ctx, const char *dir, const char *service,
			     enum pktchan_role role);
/* Closes both sockets without lingering. NULL-safe. */
void pktchan_free(struct pktchan *c);

/* Sends one packet; never blocks. Returns 0, -EAGAIN when dropped (no peer
 * or queue full; counted in dropped_full), -EINVAL for a header that does
 * not encode, -EMSGSIZE for len > PKTCHAN_MAX_PAYLOAD_BYTES, or another
 * negative errno from ZeroMQ. */
int pktchan_send(struct pktchan *c, const struct pktchan_hdr *h, const uint8_t *payload,
		 size_t len);
/* Receives one packet into buf (cap bytes; PKTCHAN_MAX_PAYLOAD_BYTES always
 * suffices); never blocks. Returns 0 with *h and *len set, -EAGAIN when
 * nothing is waiting, -EBADMSG when a malformed message was dropped (call
 * again to keep draining), -EMSGSIZE when a packet larger than cap was
 * dropped, or another negative errno from ZeroMQ. */
int pktchan_recv(struct pktchan *c, struct pktchan_hdr *h, uint8_t *buf, size_t cap, size_t *len);
/* The receiving socket, for zmq_poll (ZMQ_POLLIN). Owned by c. */
void *pktchan_socket_rx(struct pktchan *c);
void pktchan_stats(const struct pktchan *c, struct pktchan_stats *out);

#endif
