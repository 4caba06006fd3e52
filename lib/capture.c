/* capture: the capture record, the pcap and pcapng writers and the stream
 * frames (capture.h; docs/capture.md). pcap: the tcpdump.org file format
 * (draft-ietf-opsawg-pcap); pcapng: draft-ietf-opsawg-pcapng (SHB, IDB,
 * EPB, opt_comment). */
#include "capture.h"
#include "be.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Record header offsets; multi-byte fields big-endian. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 1,
	OFF_DIR = 2,
	OFF_PATH = 3,
	OFF_KIND = 4,
	OFF_FAMILY = 5,
	OFF_REGION = 6,
	OFF_SOCK = 8,
	OFF_LPORT = 10,
	OFF_RPORT = 12,
	OFF_RESERVED = 14,
	OFF_SESSIONS = 16,
	OFF_ORIG_LEN = 20,
	OFF_UNIX_NS = 24,
	OFF_RIP = 32,
	OFF_KEY = 48,
	WIRE_V4 = 4,
	WIRE_V6 = 6,
	SYNTH_TTL = 64,
	SESSION_BITS = (1u << CAPTURE_MAX_SESSIONS) - 1,
};

_Static_assert(OFF_KEY + CAPTURE_KEY_BYTES == CAPTURE_HDR_BYTES, "capture header layout");

static void put64(uint8_t *p, uint64_t v)
{
	be_put32(p, (uint32_t)(v >> 32));
	be_put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)be_get32(p) << 32 | be_get32(p + 4);
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

/* The one's-complement sum of RFC 1071, folded at the end by csum_fold. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 1 < len; i += 2)
		sum += be_get16(p + i);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t ip_hdr_bytes(uint8_t family)
{
	return family == AF_INET    ? CAPTURE_IP4_HDR_BYTES
	       : family == AF_INET6 ? CAPTURE_IP6_HDR_BYTES
				    : 0;
}

/* The payload bytes that fit beside the headers. */
static size_t fit(size_t hdr, size_t len)
{
	size_t room = CAPTURE_MAX_PACKET_BYTES - hdr - CAPTURE_UDP_HDR_BYTES;

	return len < room ? len : room;
}

static bool fields_ok(const struct capture_rec *r)
{
	if (r->dir != CAPTURE_DIR_RX && r->dir != CAPTURE_DIR_TX)
		return false;
	if (r->path != CAPTURE_PATH_DIRECT && r->path != CAPTURE_PATH_DERP)
		return false;
	if (r->kind < CAPTURE_KIND_WIREGUARD || r->kind > CAPTURE_KIND_OTHER)
		return false;
	if (r->sessions == 0 || (r->sessions & ~(uint32_t)SESSION_BITS))
		return false;
	return ip_hdr_bytes(r->remote.family) != 0;
}

size_t capture_rec_size(const struct capture_rec *r, size_t len)
{
	size_t hdr = ip_hdr_bytes(r->remote.family);

	if (!hdr)
		return 0;
	return CAPTURE_HDR_BYTES + hdr + CAPTURE_UDP_HDR_BYTES + fit(hdr, len);
}

size_t capture_rec_encode(const struct capture_rec *r, const uint8_t *payload, size_t len,
			  uint8_t *buf, size_t cap)
{
	size_t hdr = ip_hdr_bytes(r->remote.family), n, total;
	static const uint8_t unspec[16];
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint8_t *ip, *udp;

	if (!fields_ok(r))
		return 0;
	n = fit(hdr, len);
	total = CAPTURE_HDR_BYTES + hdr + CAPTURE_UDP_HDR_BYTES + n;
	if (cap < total)
		return 0;
	memset(buf, 0, CAPTURE_HDR_BYTES);
	buf[OFF_MAGIC] = CAPTURE_MAGIC;
	buf[OFF_VERSION] = CAPTURE_VERSION;
	buf[OFF_DIR] = (uint8_t)r->dir;
	buf[OFF_PATH] = (uint8_t)r->path;
	buf[OFF_KIND] = (uint8_t)r->kind;
	buf[OFF_FAMILY] = r->remote.family == AF_INET ? WIRE_V4 : WIRE_V6;
	be_put16(buf + OFF_REGION, r->region);
	be_put16(buf + OFF_SOCK, r->sock);
	be_put16(buf + OFF_LPORT, r->local_port);
	be_put16(buf + OFF_RPORT, r->remote.port);
	be_put32(buf + OFF_SESSIONS, r->sessions);
	be_put32(buf + OFF_ORIG_LEN, (uint32_t)len);
	put64(buf + OFF_UNIX_NS, r->unix_ns);
	memcpy(buf + OFF_RIP, r->remote.ip, r->remote.family == AF_INET ? 4 : 16);
	memcpy(buf + OFF_KEY, r->key, CAPTURE_KEY_BYTES);

	ip = buf + CAPTURE_HDR_BYTES;
	udp = ip + hdr;
	if (r->dir == CAPTURE_DIR_RX) {
		src = r->remote.ip, dst = unspec;
		sport = r->remote.port, dport = r->local_port;
	} else {
		src = unspec, dst = r->remote.ip;
		sport = r->local_port, dport = r->remote.port;
	}
	be_put16(udp, sport);
	be_put16(udp + 2, dport);
	be_put16(udp + 4, (uint16_t)(CAPTURE_UDP_HDR_BYTES + n));
	be_put16(udp + 6, 0);
	if (n)
		memcpy(udp + CAPTURE_UDP_HDR_BYTES, payload, n);
	if (r->remote.family == AF_INET) {
		memset(ip, 0, hdr);
		ip[0] = 0x45; /* version 4, 5 words */
		be_put16(ip + 2, (uint16_t)(hdr + CAPTURE_UDP_HDR_BYTES + n));
		ip[8] = SYNTH_TTL;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		be_put16(ip + 10, csum_fold(csum_add(0, ip, hdr)));
		/* UDP over IPv4 may go without a checksum (0); nothing reads it. */
	} else {
		uint32_t sum;
		memset(ip, 0, hdr);
		ip[0] = 0x60;
		be_put16(ip + 4, (uint16_t)(CAPTURE_UDP_HDR_BYTES + n));
		ip[6] = IPPROTO_UDP;
		ip[7] = SYNTH_TTL;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		/* IPv6 requires the UDP checksum (RFC 8200 8.1): pseudo-header
		 * (addresses, length, next header), then the datagram. */
		sum = csum_add(0, ip + 8, 32);
		sum += (uint32_t)(CAPTURE_UDP_HDR_BYTES + n) + IPPROTO_UDP;
		sum = csum_add(sum, udp, CAPTURE_UDP_HDR_BYTES + n);
		uint16_t c = csum_fold(sum);
		be_put16(udp + 6, c ? c : 0xffff);
	}
	return total;
}

int capture_rec_sessions(const uint8_t *p, size_t len, uint32_t *mask)
{
	*mask = 0;
	if (len < CAPTURE_HDR_BYTES)
		return CAPTURE_ERR_SHORT;
	if (len > CAPTURE_MAX_REC_BYTES)
		return CAPTURE_ERR_TOO_BIG;
	if (p[OFF_MAGIC] != CAPTURE_MAGIC)
		return CAPTURE_ERR_MAGIC;
	if (p[OFF_VERSION] != CAPTURE_VERSION)
		return CAPTURE_ERR_VERSION;
	*mask = be_get32(p + OFF_SESSIONS);
	if (*mask == 0 || (*mask & ~(uint32_t)SESSION_BITS))
		return CAPTURE_ERR_SESSIONS;
	return CAPTURE_OK;
}

/* The IP and UDP headers against the record's header. */
static int packet_check(const struct capture_rec *r, const uint8_t *ip, size_t len)
{
	static const uint8_t unspec[16];
	size_t hdr = ip_hdr_bytes(r->remote.family), alen = r->remote.family == AF_INET ? 4 : 16;
	const uint8_t *src, *dst, *udp;
	uint16_t sport, dport;

	if (len < hdr + CAPTURE_UDP_HDR_BYTES)
		return CAPTURE_ERR_PACKET;
	if (r->remote.family == AF_INET) {
		if (ip[0] != 0x45 || be_get16(ip + 2) != len || ip[9] != IPPROTO_UDP ||
		    csum_fold(csum_add(0, ip, hdr)) != 0)
			return CAPTURE_ERR_PACKET;
		src = ip + 12, dst = ip + 16;
	} else {
		if ((ip[0] >> 4) != 6 || be_get16(ip + 4) != len - hdr || ip[6] != IPPROTO_UDP)
			return CAPTURE_ERR_PACKET;
		src = ip + 8, dst = ip + 24;
	}
	udp = ip + hdr;
	sport = be_get16(udp);
	dport = be_get16(udp + 2);
	if (be_get16(udp + 4) != len - hdr)
		return CAPTURE_ERR_PACKET;
	if (r->dir == CAPTURE_DIR_TX) {
		const uint8_t *t = src;
		uint16_t tp = sport;
		src = dst, dst = t;
		sport = dport, dport = tp;
	}
	/* src is the remote's side now. */
	if (memcmp(src, r->remote.ip, alen) != 0 || memcmp(dst, unspec, alen) != 0 ||
	    sport != r->remote.port || dport != r->local_port)
		return CAPTURE_ERR_PACKET;
	if (r->orig_len < len - hdr - CAPTURE_UDP_HDR_BYTES)
		return CAPTURE_ERR_PACKET;
	return CAPTURE_OK;
}

int capture_rec_parse(const uint8_t *p, size_t len, struct capture_rec *out, const uint8_t **pkt,
		      size_t *pkt_len)
{
	uint32_t mask;
	int err;

	memset(out, 0, sizeof(*out));
	err = capture_rec_sessions(p, len, &mask);
	if (err)
		return err;
	out->dir = (enum capture_dir)p[OFF_DIR];
	out->path = (enum capture_path)p[OFF_PATH];
	out->kind = (enum capture_kind)p[OFF_KIND];
	out->remote.family = p[OFF_FAMILY] == WIRE_V4	? AF_INET
			     : p[OFF_FAMILY] == WIRE_V6 ? AF_INET6
							: 0;
	out->region = be_get16(p + OFF_REGION);
	out->sock = be_get16(p + OFF_SOCK);
	out->local_port = be_get16(p + OFF_LPORT);
	out->remote.port = be_get16(p + OFF_RPORT);
	out->sessions = mask;
	out->orig_len = be_get32(p + OFF_ORIG_LEN);
	out->unix_ns = get64(p + OFF_UNIX_NS);
	memcpy(out->remote.ip, p + OFF_RIP, 16);
	memcpy(out->key, p + OFF_KEY, CAPTURE_KEY_BYTES);
	if (!fields_ok(out) || be_get16(p + OFF_RESERVED) != 0 ||
	    (out->remote.family == AF_INET &&
	     be_get32(p + OFF_RIP + 4) | be_get32(p + OFF_RIP + 8) | be_get32(p + OFF_RIP + 12)))
		return CAPTURE_ERR_FIELD;
	err = packet_check(out, p + CAPTURE_HDR_BYTES, len - CAPTURE_HDR_BYTES);
	if (err)
		return err;
	if (pkt)
		*pkt = p + CAPTURE_HDR_BYTES;
	if (pkt_len)
		*pkt_len = len - CAPTURE_HDR_BYTES;
	return CAPTURE_OK;
}

uint32_t capture_rec_wire_len(const struct capture_rec *r)
{
	return (uint32_t)(ip_hdr_bytes(r->remote.family) + CAPTURE_UDP_HDR_BYTES) + r->orig_len;
}

const char *capture_strerror(int err)
{
	switch (err) {
	case CAPTURE_OK:
		return "no error";
	case CAPTURE_ERR_SHORT:
		return "shorter than a capture record's header";
	case CAPTURE_ERR_MAGIC:
		return "not a capture record (magic)";
	case CAPTURE_ERR_VERSION:
		return "unsupported capture record version";
	case CAPTURE_ERR_FIELD:
		return "a header field out of range";
	case CAPTURE_ERR_PACKET:
		return "the IP/UDP packet disagrees with the header";
	case CAPTURE_ERR_TOO_BIG:
		return "larger than a capture record can be";
	case CAPTURE_ERR_FRAME:
		return "unknown stream frame, or wrong size";
	case CAPTURE_ERR_SESSIONS:
		return "session mask empty or out of range";
	default:
		return "unknown capture error";
	}
}

const char *capture_kind_name(enum capture_kind k)
{
	switch (k) {
	case CAPTURE_KIND_WIREGUARD:
		return "wireguard";
	case CAPTURE_KIND_DISCO:
		return "disco";
	case CAPTURE_KIND_STUN:
		return "stun";
	case CAPTURE_KIND_OTHER:
		return "other";
	default:
		return "?";
	}
}

/* pcap */

size_t capture_pcap_header(uint8_t *buf, size_t cap)
{
	if (cap < CAPTURE_PCAP_HDR_BYTES)
		return 0;
	le32(buf, 0xa1b23c4du); /* nanosecond timestamps */
	le16(buf + 4, 2);	/* version 2.4 */
	le16(buf + 6, 4);
	le32(buf + 8, 0);  /* reserved (was thiszone) */
	le32(buf + 12, 0); /* reserved (was sigfigs) */
	le32(buf + 16, CAPTURE_MAX_PACKET_BYTES);
	le32(buf + 20, CAPTURE_LINKTYPE_RAW);
	return CAPTURE_PCAP_HDR_BYTES;
}

size_t capture_pcap_record(uint64_t unix_ns, const uint8_t *pkt, size_t pkt_len, uint32_t orig_len,
			   uint8_t *buf, size_t cap)
{
	if (pkt_len > CAPTURE_MAX_PACKET_BYTES || cap < CAPTURE_PCAP_REC_HDR_BYTES + pkt_len)
		return 0;
	le32(buf, (uint32_t)(unix_ns / 1000000000u));
	le32(buf + 4, (uint32_t)(unix_ns % 1000000000u));
	le32(buf + 8, (uint32_t)pkt_len);
	le32(buf + 12, orig_len < pkt_len ? (uint32_t)pkt_len : orig_len);
	memcpy(buf + CAPTURE_PCAP_REC_HDR_BYTES, pkt, pkt_len);
	return CAPTURE_PCAP_REC_HDR_BYTES + pkt_len;
}

/* pcapng */

enum {
	PCAPNG_SHB = 0x0a0d0d0a,
	PCAPNG_IDB = 1,
	PCAPNG_EPB = 6,
	PCAPNG_BOM = 0x1a2b3c4d,
	PCAPNG_OPT_END = 0,
	PCAPNG_OPT_COMMENT = 1,
	PCAPNG_IF_TSRESOL = 9,
	PCAPNG_SHB_BYTES = 28,
	PCAPNG_IDB_BYTES = 32,
};

_Static_assert(PCAPNG_SHB_BYTES + PCAPNG_IDB_BYTES == CAPTURE_PCAPNG_HDR_BYTES, "pcapng head");

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

size_t capture_pcapng_header(uint8_t *buf, size_t cap)
{
	uint8_t *idb = buf + PCAPNG_SHB_BYTES;

	if (cap < CAPTURE_PCAPNG_HDR_BYTES)
		return 0;
	memset(buf, 0, CAPTURE_PCAPNG_HDR_BYTES);
	le32(buf, PCAPNG_SHB);
	le32(buf + 4, PCAPNG_SHB_BYTES);
	le32(buf + 8, PCAPNG_BOM);
	le16(buf + 12, 1); /* version 1.0 */
	le16(buf + 14, 0);
	le32(buf + 16, 0xffffffffu); /* section length: not given (a stream) */
	le32(buf + 20, 0xffffffffu);
	le32(buf + 24, PCAPNG_SHB_BYTES);
	le32(idb, PCAPNG_IDB);
	le32(idb + 4, PCAPNG_IDB_BYTES);
	le16(idb + 8, CAPTURE_LINKTYPE_RAW);
	le16(idb + 10, 0);
	le32(idb + 12, CAPTURE_MAX_PACKET_BYTES);
	le16(idb + 16, PCAPNG_IF_TSRESOL);
	le16(idb + 18, 1);
	idb[20] = 9; /* 10^-9 s */
	le16(idb + 24, PCAPNG_OPT_END);
	le16(idb + 26, 0);
	le32(idb + 28, PCAPNG_IDB_BYTES);
	return CAPTURE_PCAPNG_HDR_BYTES;
}

size_t capture_pcapng_record(uint64_t unix_ns, const uint8_t *pkt, size_t pkt_len,
			     uint32_t orig_len, const char *comment, uint8_t *buf, size_t cap)
{
	size_t clen = comment ? strnlen(comment, CAPTURE_COMMENT_MAX_BYTES - 1) : 0;
	size_t opts = clen ? 4 + pad4(clen) + 4 : 0;
	size_t total = 28 + pad4(pkt_len) + opts + 4, off;

	if (pkt_len > CAPTURE_MAX_PACKET_BYTES || cap < total)
		return 0;
	le32(buf, PCAPNG_EPB);
	le32(buf + 4, (uint32_t)total);
	le32(buf + 8, 0); /* interface 0 */
	le32(buf + 12, (uint32_t)(unix_ns >> 32));
	le32(buf + 16, (uint32_t)unix_ns);
	le32(buf + 20, (uint32_t)pkt_len);
	le32(buf + 24, orig_len < pkt_len ? (uint32_t)pkt_len : orig_len);
	memcpy(buf + 28, pkt, pkt_len);
	off = 28 + pkt_len;
	memset(buf + off, 0, pad4(pkt_len) - pkt_len);
	off = 28 + pad4(pkt_len);
	if (clen) {
		le16(buf + off, PCAPNG_OPT_COMMENT);
		le16(buf + off + 2, (uint16_t)clen);
		memcpy(buf + off + 4, comment, clen);
		memset(buf + off + 4 + clen, 0, pad4(clen) - clen);
		off += 4 + pad4(clen);
		le32(buf + off, PCAPNG_OPT_END); /* code 0, length 0 */
		off += 4;
	}
	le32(buf + off, (uint32_t)total);
	return total;
}

size_t capture_comment(const struct capture_rec *r, const char *peer_name, char *buf, size_t cap)
{
	char addr[ADDR_TEXT_MAX], peer[96];
	static const uint8_t zero[CAPTURE_KEY_BYTES];
	int n;

	if (!cap)
		return 0;
	ipport_format(&r->remote, addr, sizeof(addr));
	if (peer_name && *peer_name)
		snprintf(peer, sizeof(peer), " peer %s", peer_name);
	else if (memcmp(r->key, zero, sizeof(zero)) != 0)
		snprintf(peer, sizeof(peer), " peer nodekey:%02x%02x%02x%02x...", r->key[0],
			 r->key[1], r->key[2], r->key[3]);
	else
		peer[0] = 0;
	if (r->path == CAPTURE_PATH_DERP)
		n = snprintf(buf, cap, "%s DERP region %u (%s) %s%s",
			     r->dir == CAPTURE_DIR_RX ? "rx" : "tx", r->region, addr,
			     capture_kind_name(r->kind), peer);
	else if (r->sock)
		n = snprintf(buf, cap, "%s direct %s probe socket %u %s%s",
			     r->dir == CAPTURE_DIR_RX ? "rx" : "tx", addr, r->sock,
			     capture_kind_name(r->kind), peer);
	else
		n = snprintf(buf, cap, "%s direct %s %s%s", r->dir == CAPTURE_DIR_RX ? "rx" : "tx",
			     addr, capture_kind_name(r->kind), peer);
	if (n < 0) {
		buf[0] = 0;
		return 0;
	}
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Stream frames */

int capture_frame_parse(const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
			bool has_body, struct capture_frame *out)
{
	memset(out, 0, sizeof(*out));
	if (head_len < 1)
		return CAPTURE_ERR_FRAME;
	switch (head[0]) {
	case CAPTURE_FRAME_RECORD:
		if (head_len != CAPTURE_FRAME_RECORD_BYTES || !has_body)
			return CAPTURE_ERR_FRAME;
		out->body = body;
		out->body_len = body_len;
		break;
	case CAPTURE_FRAME_STATS:
		if (head_len != CAPTURE_FRAME_STATS_BYTES || has_body || head[1] > 1)
			return CAPTURE_ERR_FRAME;
		out->dataplane_open = head[1] == 1;
		out->dataplane_records = get64(head + 2);
		out->dataplane_drops = get64(head + 10);
		out->relayed = get64(head + 18);
		out->relay_drops = get64(head + 26);
		break;
	case CAPTURE_FRAME_END:
		if (head_len > CAPTURE_FRAME_END_MAX_BYTES || has_body)
			return CAPTURE_ERR_FRAME;
		for (size_t i = 1; i < head_len; i++)
			out->text[i - 1] = head[i] >= 0x20 && head[i] < 0x7f ? (char)head[i] : '?';
		out->text[head_len - 1] = 0;
		break;
	default:
		return CAPTURE_ERR_FRAME;
	}
	out->type = (enum capture_frame_type)head[0];
	return CAPTURE_OK;
}

size_t capture_frame_encode(const struct capture_frame *f, uint8_t *buf, size_t cap)
{
	size_t n;

	switch (f->type) {
	case CAPTURE_FRAME_RECORD:
		if (cap < CAPTURE_FRAME_RECORD_BYTES)
			return 0;
		buf[0] = CAPTURE_FRAME_RECORD;
		return CAPTURE_FRAME_RECORD_BYTES;
	case CAPTURE_FRAME_STATS:
		if (cap < CAPTURE_FRAME_STATS_BYTES)
			return 0;
		buf[0] = CAPTURE_FRAME_STATS;
		buf[1] = f->dataplane_open ? 1 : 0;
		put64(buf + 2, f->dataplane_records);
		put64(buf + 10, f->dataplane_drops);
		put64(buf + 18, f->relayed);
		put64(buf + 26, f->relay_drops);
		return CAPTURE_FRAME_STATS_BYTES;
	case CAPTURE_FRAME_END:
		n = strnlen(f->text, CAPTURE_FRAME_END_MAX_BYTES - 1);
		if (cap < 1 + n)
			return 0;
		buf[0] = CAPTURE_FRAME_END;
		memcpy(buf + 1, f->text, n);
		return 1 + n;
	default:
		return 0;
	}
}
