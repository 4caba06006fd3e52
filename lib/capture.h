/* capture: packet capture records (msockctl capture; docs/capture.md), pure
 * codecs: no I/O, no logging, no allocation.
 *
 * The dataplane builds one record per UDP payload it sends or receives
 * (WireGuard, disco, STUN; over UDP or DERP): a fixed header naming the
 * path, then the payload as a synthetic IPv4/IPv6 + UDP packet carrying the
 * real peer address and port and our local port, so that tshark's own
 * dissectors read it (LINKTYPE_RAW). DERP-path packets carry Tailscale's
 * magic DERP address, 127.3.3.40:<region> (tailcfg.DerpMagicIP), as the
 * peer. The broker relays records to msockctl reading only the header's
 * session mask (capture_rec_sessions); msockctl parses them
 * (capture_rec_parse) and writes them as pcap or pcapng (the writers
 * below; pcapng with a per-packet comment from capture_comment).
 *
 * Between the broker and msockctl each message after the first reply is a
 * stream frame (capture_frame_parse): a record, the counters, or the end. */
#ifndef MSOCK_CAPTURE_H
#define MSOCK_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	CAPTURE_MAGIC = 0x43, /* 'C' */
	CAPTURE_VERSION = 1,
	/* magic 1 + version 1 + dir 1 + path 1 + kind 1 + family 1 + region 2
	 * + sock 2 + local port 2 + remote port 2 + reserved 2 + sessions 4
	 * + orig_len 4 + unix_ns 8 + remote ip 16 + key 32 */
	CAPTURE_HDR_BYTES = 80,
	CAPTURE_KEY_BYTES = 32,
	/* Clients capturing at once: one bit each in a record's session mask. */
	CAPTURE_MAX_SESSIONS = 8,
	/* --peer filters per client. */
	CAPTURE_MAX_PEERS = 8,
	CAPTURE_IP4_HDR_BYTES = 20,
	CAPTURE_IP6_HDR_BYTES = 40,
	CAPTURE_UDP_HDR_BYTES = 8,
	/* The synthetic packet, headers included: IPv4's total length is 16
	 * bits, so a larger payload is cut (orig_len keeps its size), as a
	 * snap length would cut it. */
	CAPTURE_MAX_PACKET_BYTES = 65535,
	CAPTURE_MAX_REC_BYTES = CAPTURE_HDR_BYTES + CAPTURE_MAX_PACKET_BYTES,
	/* Tailscale's DERP magic address in captures (tailcfg.DerpMagicIP,
	 * 127.3.3.40); the port is the region id. */
	CAPTURE_DERP_MAGIC_IP = 0x7f030328u,
	/* LINKTYPE_RAW (tcpdump.org/linktypes.html): the packet starts with
	 * an IPv4 or IPv6 header. */
	CAPTURE_LINKTYPE_RAW = 101,
	CAPTURE_PCAP_HDR_BYTES = 24,
	CAPTURE_PCAP_REC_HDR_BYTES = 16,
	/* Section header 28 + interface description 32 (linktype, snaplen,
	 * if_tsresol = 9: nanoseconds). */
	CAPTURE_PCAPNG_HDR_BYTES = 60,
	CAPTURE_COMMENT_MAX_BYTES = 256, /* a pcapng comment, NUL included */
	/* An enhanced packet block: 28 of head, the packet padded to 4, the
	 * comment option (4 + padded text), end of options 4, trailer 4. */
	CAPTURE_PCAPNG_EPB_MAX_BYTES =
		28 + CAPTURE_MAX_PACKET_BYTES + 3 + 4 + CAPTURE_COMMENT_MAX_BYTES + 4 + 4,
	/* Stream frames (broker -> msockctl): the head frame's sizes. */
	CAPTURE_FRAME_RECORD_BYTES = 1,
	CAPTURE_FRAME_STATS_BYTES = 1 + 1 + 4 * 8,
	CAPTURE_FRAME_END_MAX_BYTES = 1 + 200, /* 'E' and the reason's text */
};

/* The capture channel, dataplane -> broker: the broker binds a PULL socket
 * on this file in the bus directory (the directory root's, of the
 * dataplane's group, 0750) and the dataplane connects a PUSH while a capture
 * runs. One record per message. */
#define CAPTURE_CHANNEL_DIR  "ch-capture"
#define CAPTURE_CHANNEL_FILE "capture.ipc"

/* Wire values; zero is invalid. */
enum capture_dir {
	CAPTURE_DIR_INVALID = 0,
	CAPTURE_DIR_RX = 1, /* arrived from the network (UDP or DERP) */
	CAPTURE_DIR_TX = 2, /* sent to the network */
};

enum capture_path {
	CAPTURE_PATH_INVALID = 0,
	CAPTURE_PATH_DIRECT = 1, /* our UDP socket (the main one or a probe socket) */
	CAPTURE_PATH_DERP = 2,	 /* through the derp component */
};

/* What the dataplane classified it as (services/dataplane/classify.c). */
enum capture_kind {
	CAPTURE_KIND_INVALID = 0,
	CAPTURE_KIND_WIREGUARD = 1,
	CAPTURE_KIND_DISCO = 2,
	CAPTURE_KIND_STUN = 3,
	CAPTURE_KIND_OTHER = 4, /* disco junk, Geneve */
};

enum capture_err {
	CAPTURE_OK = 0,
	CAPTURE_ERR_SHORT = -1,	   /* shorter than its header */
	CAPTURE_ERR_MAGIC = -2,	   /* not a capture record */
	CAPTURE_ERR_VERSION = -3,  /* another version */
	CAPTURE_ERR_FIELD = -4,	   /* dir, path, kind, family or reserved out of range */
	CAPTURE_ERR_PACKET = -5,   /* the IP/UDP packet disagrees with the header */
	CAPTURE_ERR_TOO_BIG = -6,  /* over CAPTURE_MAX_REC_BYTES */
	CAPTURE_ERR_FRAME = -7,	   /* a stream frame of unknown type or size */
	CAPTURE_ERR_SESSIONS = -8, /* no session, or one past CAPTURE_MAX_SESSIONS */
};

struct capture_rec {
	enum capture_dir dir;
	enum capture_path path;
	enum capture_kind kind;
	/* The peer's side: its address (direct), or 127.3.3.40:<region> (DERP). */
	struct ipport remote;
	uint16_t local_port;		/* our UDP port the packet left from or came to */
	uint16_t region;		/* DERP path: the region (0: derp's choice) */
	uint16_t sock;			/* direct path: 0 the main socket, 1..256 a probe socket */
	uint32_t sessions;		/* bit i: client slot i wants it */
	uint32_t orig_len;		/* the UDP payload's length on the wire */
	uint64_t unix_ns;		/* CLOCK_REALTIME */
	uint8_t key[CAPTURE_KEY_BYTES]; /* the peer's node key; zero: not known */
};

/* The bytes capture_rec_encode writes for a payload of len bytes (the
 * payload cut to fit CAPTURE_MAX_PACKET_BYTES); 0 for a remote family that
 * is neither IPv4 nor IPv6. */
size_t capture_rec_size(const struct capture_rec *r, size_t len);
/* Writes the header, then the synthetic packet: rx is remote -> local,
 * tx local -> remote; the local address is unspecified (0.0.0.0 or ::),
 * the local port r->local_port. IPv4's header checksum and IPv6's UDP
 * checksum are computed (IPv4's UDP checksum is 0: none). Returns the
 * bytes written, or 0 when a field is invalid or cap is too small.
 * r->orig_len is ignored: the record carries len. */
size_t capture_rec_encode(const struct capture_rec *r, const uint8_t *payload, size_t len,
			  uint8_t *buf, size_t cap);
/* Checks a whole record; on success *pkt points into p at the IP packet
 * (pkt and pkt_len may be NULL). */
int capture_rec_parse(const uint8_t *p, size_t len, struct capture_rec *out, const uint8_t **pkt,
		      size_t *pkt_len);
/* What the broker reads to route a record: the session mask, after
 * checking magic, version and size only (it never parses the packet). */
int capture_rec_sessions(const uint8_t *p, size_t len, uint32_t *mask);
/* The synthetic packet's length had nothing been cut: headers + orig_len
 * (a pcap record's original length). */
uint32_t capture_rec_wire_len(const struct capture_rec *r);
const char *capture_strerror(int err);
const char *capture_kind_name(enum capture_kind k);

/* pcap (nanosecond timestamps: magic 0xa1b23c4d), little-endian, of
 * LINKTYPE_RAW. The header: CAPTURE_PCAP_HDR_BYTES, or 0 if cap is short. */
size_t capture_pcap_header(uint8_t *buf, size_t cap);
/* One record: its 16-byte header and the packet; 0 if cap is short or
 * pkt_len is over CAPTURE_MAX_PACKET_BYTES. */
size_t capture_pcap_record(uint64_t unix_ns, const uint8_t *pkt, size_t pkt_len, uint32_t orig_len,
			   uint8_t *buf, size_t cap);
/* pcapng, little-endian: a section header and one interface (LINKTYPE_RAW,
 * nanosecond timestamps); CAPTURE_PCAPNG_HDR_BYTES, or 0. */
size_t capture_pcapng_header(uint8_t *buf, size_t cap);
/* An enhanced packet block with `comment` (NULL or "": none; cut to
 * CAPTURE_COMMENT_MAX_BYTES - 1) as its opt_comment. 0 if cap is short or
 * pkt_len too big. */
size_t capture_pcapng_record(uint64_t unix_ns, const uint8_t *pkt, size_t pkt_len,
			     uint32_t orig_len, const char *comment, uint8_t *buf, size_t cap);
/* The path of record r as a person reads it, for a pcapng comment:
 * "rx direct 198.51.100.7:41641 wireguard peer alice" or
 * "tx DERP region 1 (127.3.3.40:1) disco peer nodekey:1a2b3c4d...";
 * peer_name NULL: the key's first bytes. Returns strlen, cut to cap. */
size_t capture_comment(const struct capture_rec *r, const char *peer_name, char *buf, size_t cap);

/* Stream frames, broker -> msockctl, each after an empty delimiter: a head
 * frame, and a body frame for a record. */
enum capture_frame_type {
	CAPTURE_FRAME_INVALID = 0,
	CAPTURE_FRAME_RECORD = 'R', /* body: one record */
	CAPTURE_FRAME_STATS = 'S',  /* about once a second: the counters */
	CAPTURE_FRAME_END = 'E',    /* the broker ends the capture; the text says why */
};

struct capture_frame {
	enum capture_frame_type type;
	/* STATS */
	bool dataplane_open;	    /* the dataplane has the capture channel open */
	uint64_t dataplane_records; /* records the dataplane built (all clients) */
	uint64_t dataplane_drops;   /* records the dataplane dropped: channel full */
	uint64_t relayed;	    /* records the broker sent this client */
	uint64_t relay_drops;	    /* records the broker dropped: this client's queue full */
	/* END: the reason, NUL-terminated */
	char text[CAPTURE_FRAME_END_MAX_BYTES];
	/* RECORD: the body, as given */
	const uint8_t *body;
	size_t body_len;
};

/* Parses a head frame (and, for a record, its body: checked with
 * capture_rec_parse by the caller). */
int capture_frame_parse(const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
			bool has_body, struct capture_frame *out);
/* Encodes a STATS (text unused) or END (body unused) head; 0 if cap is short. */
size_t capture_frame_encode(const struct capture_frame *f, uint8_t *buf, size_t cap);

#endif
