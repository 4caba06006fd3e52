/* derp_frame: DERP frame headers, per-type length rules and encoders, after
 * Tailscale's derp/derp.go (constants, header), derp/derp_client.go (what a
 * client accepts) and derp/derpserver/derpserver.go (what a server accepts
 * and writes). */
#include "derp/derp_frame.h"
#include "be.h"

#include <string.h>

const uint8_t derp_magic[DERP_MAGIC_LEN] = {0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91};

const char *derp_strerror(int err)
{
	switch (err) {
	case DERP_OK:
		return "ok";
	case DERP_ERR_SHORT_HEADER:
		return "derp: short frame header";
	case DERP_ERR_SHORT:
		return "derp: frame too short for its type";
	case DERP_ERR_TOO_LONG:
		return "derp: frame too long for its type";
	case DERP_ERR_UNKNOWN_TYPE:
		return "derp: unknown frame type";
	case DERP_ERR_BAD_MAGIC:
		return "derp: invalid server greeting (bad magic)";
	case DERP_ERR_ZERO_KEY:
		return "derp: all-zero public key";
	case DERP_ERR_BOX:
		return "derp: cannot open naclbox";
	case DERP_ERR_JSON:
		return "derp: invalid JSON";
	case DERP_ERR_JSON_DEPTH:
		return "derp: JSON nested too deep";
	case DERP_ERR_JSON_TYPE:
		return "derp: JSON of the wrong type";
	case DERP_ERR_MESH_KEY:
		return "derp: invalid mesh key (want 64 hex digits)";
	case DERP_ERR_INVALID_ARG:
		return "derp: invalid argument";
	case DERP_ERR_BUF_TOO_SMALL:
		return "derp: buffer too small";
	case DERP_ERR_NOMEM:
		return "derp: out of memory";
	case DERP_ERR_CRYPTO:
		return "derp: cannot seal naclbox";
	}
	return "derp: unknown error";
}

int derp_frame_header_parse(const uint8_t *p, size_t len, struct derp_frame_header *out)
{
	if (!p || len < DERP_FRAME_HEADER_LEN)
		return DERP_ERR_SHORT_HEADER;
	out->type = p[0];
	out->len = be_get32(p + 1);
	return 0;
}

size_t derp_frame_header_encode(uint8_t type, uint32_t len, uint8_t *buf, size_t cap)
{
	if (!buf || cap < DERP_FRAME_HEADER_LEN)
		return 0;
	buf[0] = type;
	be_put32(buf + 1, len);
	return DERP_FRAME_HEADER_LEN;
}

static uint32_t server_max_len(uint8_t type)
{
	switch (type) {
	case DERP_FRAME_CLIENT_INFO:
		return DERP_CLIENT_INFO_MAX_BYTES;
	case DERP_FRAME_SEND_PACKET:
		return DERP_KEY_LEN + DERP_MAX_PACKET_SIZE;
	case DERP_FRAME_FORWARD_PACKET:
		return 2 * DERP_KEY_LEN + DERP_MAX_PACKET_SIZE;
	case DERP_FRAME_NOTE_PREFERRED:
		return 1;
	case DERP_FRAME_WATCH_CONNS:
		return 0;
	case DERP_FRAME_CLOSE_PEER:
		return DERP_KEY_LEN;
	case DERP_FRAME_PING:
		return DERP_PING_MAX_BYTES;
	}
	/* derpserver.go sclient.run: every other type goes to
	 * handleUnknownFrame, which discards it unread. */
	return DERP_FRAME_LEN_UNLIMITED;
}

uint32_t derp_frame_max_len(uint8_t type, enum derp_side side)
{
	switch (side) {
	case DERP_SIDE_CLIENT:
		if (type == DERP_FRAME_SERVER_KEY)
			return DERP_SERVER_KEY_MAX_BYTES;
		return DERP_CLIENT_MAX_FRAME_BYTES;
	case DERP_SIDE_SERVER:
		return server_max_len(type);
	case DERP_SIDE_INVALID:
		break;
	}
	return 0;
}

int derp_frame_header_check(const struct derp_frame_header *h, enum derp_side side)
{
	return h->len <= derp_frame_max_len(h->type, side) ? 0 : DERP_ERR_TOO_LONG;
}

/* Checks min <= len <= max. */
static int len_in(size_t len, size_t min, size_t max)
{
	if (len < min)
		return DERP_ERR_SHORT;
	if (len > max)
		return DERP_ERR_TOO_LONG;
	return 0;
}

static int parse_packet(uint8_t type, const uint8_t *p, size_t len, struct derp_frame *out)
{
	int rc;

	switch (type) {
	case DERP_FRAME_SEND_PACKET:
		/* derpserver.go recvPacket */
		rc = len_in(len, DERP_KEY_LEN, DERP_KEY_LEN + DERP_MAX_PACKET_SIZE);
		if (rc < 0)
			return rc;
		memcpy(out->u.send_packet.dst, p, DERP_KEY_LEN);
		out->u.send_packet.pkt = p + DERP_KEY_LEN;
		out->u.send_packet.len = len - DERP_KEY_LEN;
		return 0;
	case DERP_FRAME_RECV_PACKET:
		/* derp_client.go Recv: short ones are dropped; the 1 MiB frame
		 * cap is its only upper bound. */
		if (len < DERP_KEY_LEN)
			return DERP_ERR_SHORT;
		memcpy(out->u.recv_packet.src, p, DERP_KEY_LEN);
		out->u.recv_packet.pkt = p + DERP_KEY_LEN;
		out->u.recv_packet.len = len - DERP_KEY_LEN;
		return 0;
	case DERP_FRAME_FORWARD_PACKET:
		/* derpserver.go recvForwardPacket */
		rc = len_in(len, 2 * DERP_KEY_LEN, 2 * DERP_KEY_LEN + DERP_MAX_PACKET_SIZE);
		if (rc < 0)
			return rc;
		memcpy(out->u.forward_packet.src, p, DERP_KEY_LEN);
		memcpy(out->u.forward_packet.dst, p + DERP_KEY_LEN, DERP_KEY_LEN);
		out->u.forward_packet.pkt = p + 2 * DERP_KEY_LEN;
		out->u.forward_packet.len = len - 2 * DERP_KEY_LEN;
		return 0;
	}
	return DERP_ERR_UNKNOWN_TYPE;
}

static int parse_login(uint8_t type, const uint8_t *p, size_t len, struct derp_frame *out)
{
	int rc;

	switch (type) {
	case DERP_FRAME_SERVER_KEY:
		/* derp_client.go recvServerKey: "invalid server greeting". */
		if (len < DERP_SERVER_KEY_LEN)
			return DERP_ERR_SHORT;
		if (memcmp(p, derp_magic, DERP_MAGIC_LEN) != 0)
			return DERP_ERR_BAD_MAGIC;
		memcpy(out->u.server_key.key, p + DERP_MAGIC_LEN, DERP_KEY_LEN);
		return 0;
	case DERP_FRAME_CLIENT_INFO:
		/* derpserver.go recvClientKey: "short/long client info". */
		rc = len_in(len, DERP_KEY_LEN + DERP_NONCE_LEN, DERP_CLIENT_INFO_MAX_BYTES);
		if (rc < 0)
			return rc;
		memcpy(out->u.client_info.client_pub, p, DERP_KEY_LEN);
		out->u.client_info.nonce = p + DERP_KEY_LEN;
		out->u.client_info.box = p + DERP_KEY_LEN + DERP_NONCE_LEN;
		out->u.client_info.box_len = len - DERP_KEY_LEN - DERP_NONCE_LEN;
		return 0;
	case DERP_FRAME_SERVER_INFO:
		/* derp_client.go parseServerInfo: "short/long serverInfo frame". */
		rc = len_in(len, DERP_NONCE_LEN, DERP_NONCE_LEN + DERP_MAX_INFO_LEN);
		if (rc < 0)
			return rc;
		out->u.server_info.nonce = p;
		out->u.server_info.box = p + DERP_NONCE_LEN;
		out->u.server_info.box_len = len - DERP_NONCE_LEN;
		return 0;
	}
	return DERP_ERR_UNKNOWN_TYPE;
}

static int parse_peer_present(const uint8_t *p, size_t len, struct derp_frame *out)
{
	const size_t ip_port = DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN + 2;

	/* derp_client.go Recv: each optional part is read only if all of it
	 * is there; whatever follows the flags byte is for newer servers. */
	if (len < DERP_KEY_LEN)
		return DERP_ERR_SHORT;
	memcpy(out->u.peer_present.peer, p, DERP_KEY_LEN);
	out->u.peer_present.has_ip_port = len >= ip_port;
	if (out->u.peer_present.has_ip_port) {
		memcpy(out->u.peer_present.ip, p + DERP_KEY_LEN, DERP_PEER_PRESENT_IP_LEN);
		out->u.peer_present.port = be_get16(p + DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN);
	}
	out->u.peer_present.has_flags = len > ip_port;
	if (out->u.peer_present.has_flags)
		out->u.peer_present.flags = p[ip_port];
	return 0;
}

static int parse_control(uint8_t type, const uint8_t *p, size_t len, struct derp_frame *out)
{
	switch (type) {
	case DERP_FRAME_KEEP_ALIVE:
		return 0;
	case DERP_FRAME_NOTE_PREFERRED:
		/* derpserver.go: "frameNotePreferred wrong size". */
		if (len != 1)
			return len < 1 ? DERP_ERR_SHORT : DERP_ERR_TOO_LONG;
		out->u.note_preferred = p[0] != 0;
		return 0;
	case DERP_FRAME_WATCH_CONNS:
		/* derpserver.go: "handleFrameWatchConns wrong size". */
		return len == 0 ? 0 : DERP_ERR_TOO_LONG;
	case DERP_FRAME_CLOSE_PEER:
		/* derpserver.go: "handleFrameClosePeer wrong size". */
		if (len != DERP_KEY_LEN)
			return len < DERP_KEY_LEN ? DERP_ERR_SHORT : DERP_ERR_TOO_LONG;
		memcpy(out->u.close_peer.peer, p, DERP_KEY_LEN);
		return 0;
	case DERP_FRAME_PEER_GONE:
		/* Older servers sent no reason byte. */
		if (len < DERP_KEY_LEN)
			return DERP_ERR_SHORT;
		memcpy(out->u.peer_gone.peer, p, DERP_KEY_LEN);
		out->u.peer_gone.reason =
			len > DERP_KEY_LEN ? p[DERP_KEY_LEN] : DERP_PEER_GONE_DISCONNECTED;
		return 0;
	case DERP_FRAME_PEER_PRESENT:
		return parse_peer_present(p, len, out);
	case DERP_FRAME_PING:
	case DERP_FRAME_PONG:
		/* Both sides read the first 8 bytes and ignore the rest; the
		 * server's 1000-byte Ping cap is in derp_frame_max_len. */
		if (len < DERP_PING_LEN)
			return DERP_ERR_SHORT;
		memcpy(type == DERP_FRAME_PING ? out->u.ping : out->u.pong, p, DERP_PING_LEN);
		return 0;
	case DERP_FRAME_HEALTH:
		out->u.health.text = (const char *)p;
		out->u.health.len = len;
		return 0;
	case DERP_FRAME_RESTARTING:
		if (len < DERP_RESTARTING_LEN)
			return DERP_ERR_SHORT;
		out->u.restarting.reconnect_in_ms = be_get32(p);
		out->u.restarting.try_for_ms = be_get32(p + 4);
		return 0;
	}
	return DERP_ERR_UNKNOWN_TYPE;
}

int derp_frame_parse(uint8_t type, const uint8_t *payload, size_t len, struct derp_frame *out)
{
	int rc;

	if (!payload && len > 0)
		return DERP_ERR_SHORT;
	memset(out, 0, sizeof(*out));
	out->type = type;
	switch (type) {
	case DERP_FRAME_SERVER_KEY:
	case DERP_FRAME_CLIENT_INFO:
	case DERP_FRAME_SERVER_INFO:
		rc = parse_login(type, payload, len, out);
		break;
	case DERP_FRAME_SEND_PACKET:
	case DERP_FRAME_RECV_PACKET:
	case DERP_FRAME_FORWARD_PACKET:
		rc = parse_packet(type, payload, len, out);
		break;
	default:
		rc = parse_control(type, payload, len, out);
		break;
	}
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		out->type = type;
	}
	return rc;
}

/* Writes the header of a frame with `len` payload bytes if the whole frame
 * fits; returns the payload's start, or NULL. */
static uint8_t *begin(uint8_t type, size_t len, uint8_t *buf, size_t cap)
{
	if (!buf || len > UINT32_MAX || cap < DERP_FRAME_HEADER_LEN ||
	    cap - DERP_FRAME_HEADER_LEN < len)
		return NULL;
	derp_frame_header_encode(type, (uint32_t)len, buf, cap);
	return buf + DERP_FRAME_HEADER_LEN;
}

size_t derp_encode_server_key(const uint8_t server_pub[DERP_KEY_LEN], uint8_t *buf, size_t cap)
{
	uint8_t *p;

	if (!server_pub)
		return 0;
	p = begin(DERP_FRAME_SERVER_KEY, DERP_SERVER_KEY_LEN, buf, cap);
	if (!p)
		return 0;
	memcpy(p, derp_magic, DERP_MAGIC_LEN);
	memcpy(p + DERP_MAGIC_LEN, server_pub, DERP_KEY_LEN);
	return DERP_FRAME_HEADER_LEN + DERP_SERVER_KEY_LEN;
}

/* A frame of keys (n of them) followed by a packet. */
static size_t encode_keyed_packet(uint8_t type, const uint8_t *k1, const uint8_t *k2,
				  const uint8_t *pkt, size_t pkt_len, uint8_t *buf, size_t cap)
{
	size_t keys = k2 ? 2 * DERP_KEY_LEN : DERP_KEY_LEN;
	uint8_t *p;

	if (!k1 || (!pkt && pkt_len > 0) || pkt_len > DERP_MAX_PACKET_SIZE)
		return 0;
	p = begin(type, keys + pkt_len, buf, cap);
	if (!p)
		return 0;
	memcpy(p, k1, DERP_KEY_LEN);
	if (k2)
		memcpy(p + DERP_KEY_LEN, k2, DERP_KEY_LEN);
	if (pkt_len > 0)
		memmove(p + keys, pkt, pkt_len);
	return DERP_FRAME_HEADER_LEN + keys + pkt_len;
}

size_t derp_encode_send_packet(const uint8_t dst[DERP_KEY_LEN], const uint8_t *pkt, size_t pkt_len,
			       uint8_t *buf, size_t cap)
{
	return encode_keyed_packet(DERP_FRAME_SEND_PACKET, dst, NULL, pkt, pkt_len, buf, cap);
}

size_t derp_encode_recv_packet(const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t pkt_len,
			       uint8_t *buf, size_t cap)
{
	return encode_keyed_packet(DERP_FRAME_RECV_PACKET, src, NULL, pkt, pkt_len, buf, cap);
}

size_t derp_encode_forward_packet(const uint8_t src[DERP_KEY_LEN], const uint8_t dst[DERP_KEY_LEN],
				  const uint8_t *pkt, size_t pkt_len, uint8_t *buf, size_t cap)
{
	if (!dst)
		return 0;
	return encode_keyed_packet(DERP_FRAME_FORWARD_PACKET, src, dst, pkt, pkt_len, buf, cap);
}

size_t derp_encode_keepalive(uint8_t *buf, size_t cap)
{
	return begin(DERP_FRAME_KEEP_ALIVE, 0, buf, cap) ? DERP_FRAME_HEADER_LEN : 0;
}

size_t derp_encode_note_preferred(bool preferred, uint8_t *buf, size_t cap)
{
	uint8_t *p = begin(DERP_FRAME_NOTE_PREFERRED, 1, buf, cap);

	if (!p)
		return 0;
	p[0] = preferred ? 0x01 : 0x00;
	return DERP_FRAME_HEADER_LEN + 1;
}

size_t derp_encode_peer_gone(const uint8_t peer[DERP_KEY_LEN], uint8_t reason, uint8_t *buf,
			     size_t cap)
{
	uint8_t *p;

	if (!peer || (reason != DERP_PEER_GONE_DISCONNECTED && reason != DERP_PEER_GONE_NOT_HERE))
		return 0;
	p = begin(DERP_FRAME_PEER_GONE, DERP_PEER_GONE_LEN, buf, cap);
	if (!p)
		return 0;
	memcpy(p, peer, DERP_KEY_LEN);
	p[DERP_KEY_LEN] = reason;
	return DERP_FRAME_HEADER_LEN + DERP_PEER_GONE_LEN;
}

size_t derp_encode_peer_present(const uint8_t peer[DERP_KEY_LEN],
				const uint8_t ip[DERP_PEER_PRESENT_IP_LEN], uint16_t port,
				uint8_t flags, uint8_t *buf, size_t cap)
{
	uint8_t *p;

	if (!peer || !ip)
		return 0;
	p = begin(DERP_FRAME_PEER_PRESENT, DERP_PEER_PRESENT_LEN, buf, cap);
	if (!p)
		return 0;
	memcpy(p, peer, DERP_KEY_LEN);
	memcpy(p + DERP_KEY_LEN, ip, DERP_PEER_PRESENT_IP_LEN);
	be_put16(p + DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN, port);
	p[DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN + 2] = flags;
	return DERP_FRAME_HEADER_LEN + DERP_PEER_PRESENT_LEN;
}

size_t derp_encode_watch_conns(uint8_t *buf, size_t cap)
{
	return begin(DERP_FRAME_WATCH_CONNS, 0, buf, cap) ? DERP_FRAME_HEADER_LEN : 0;
}

size_t derp_encode_close_peer(const uint8_t peer[DERP_KEY_LEN], uint8_t *buf, size_t cap)
{
	uint8_t *p;

	if (!peer)
		return 0;
	p = begin(DERP_FRAME_CLOSE_PEER, DERP_KEY_LEN, buf, cap);
	if (!p)
		return 0;
	memcpy(p, peer, DERP_KEY_LEN);
	return DERP_FRAME_HEADER_LEN + DERP_KEY_LEN;
}

static size_t encode_8(uint8_t type, const uint8_t data[DERP_PING_LEN], uint8_t *buf, size_t cap)
{
	uint8_t *p;

	if (!data)
		return 0;
	p = begin(type, DERP_PING_LEN, buf, cap);
	if (!p)
		return 0;
	memmove(p, data, DERP_PING_LEN);
	return DERP_FRAME_HEADER_LEN + DERP_PING_LEN;
}

size_t derp_encode_ping(const uint8_t data[DERP_PING_LEN], uint8_t *buf, size_t cap)
{
	return encode_8(DERP_FRAME_PING, data, buf, cap);
}

size_t derp_encode_pong(const uint8_t data[DERP_PING_LEN], uint8_t *buf, size_t cap)
{
	return encode_8(DERP_FRAME_PONG, data, buf, cap);
}

size_t derp_encode_health(const char *text, uint8_t *buf, size_t cap)
{
	size_t len;
	uint8_t *p;

	if (!text)
		return 0;
	len = strnlen(text, (size_t)DERP_CLIENT_MAX_FRAME_BYTES + 1);
	if (len > DERP_CLIENT_MAX_FRAME_BYTES)
		return 0;
	p = begin(DERP_FRAME_HEALTH, len, buf, cap);
	if (!p)
		return 0;
	memmove(p, text, len);
	return DERP_FRAME_HEADER_LEN + len;
}

size_t derp_encode_restarting(uint32_t reconnect_in_ms, uint32_t try_for_ms, uint8_t *buf,
			      size_t cap)
{
	uint8_t *p = begin(DERP_FRAME_RESTARTING, DERP_RESTARTING_LEN, buf, cap);

	if (!p)
		return 0;
	be_put32(p, reconnect_in_ms);
	be_put32(p + 4, try_for_ms);
	return DERP_FRAME_HEADER_LEN + DERP_RESTARTING_LEN;
}

/* ClientInfo and ServerInfo as parsed: the box is sent as it came. */
static size_t encode_info(const struct derp_frame *f, uint8_t *buf, size_t cap)
{
	const uint8_t *nonce, *box;
	size_t box_len, pre = f->type == DERP_FRAME_CLIENT_INFO ? DERP_KEY_LEN : 0;
	uint8_t *p;

	if (f->type == DERP_FRAME_CLIENT_INFO) {
		nonce = f->u.client_info.nonce;
		box = f->u.client_info.box;
		box_len = f->u.client_info.box_len;
	} else {
		nonce = f->u.server_info.nonce;
		box = f->u.server_info.box;
		box_len = f->u.server_info.box_len;
	}
	if (!nonce || (!box && box_len > 0) ||
	    box_len > (f->type == DERP_FRAME_CLIENT_INFO
			       ? DERP_CLIENT_INFO_MAX_BYTES - DERP_KEY_LEN - DERP_NONCE_LEN
			       : DERP_MAX_INFO_LEN))
		return 0;
	p = begin(f->type, pre + DERP_NONCE_LEN + box_len, buf, cap);
	if (!p)
		return 0;
	if (pre)
		memcpy(p, f->u.client_info.client_pub, DERP_KEY_LEN);
	memmove(p + pre, nonce, DERP_NONCE_LEN);
	if (box_len > 0)
		memmove(p + pre + DERP_NONCE_LEN, box, box_len);
	return DERP_FRAME_HEADER_LEN + pre + DERP_NONCE_LEN + box_len;
}

static size_t encode_health_frame(const struct derp_frame *f, uint8_t *buf, size_t cap)
{
	uint8_t *p;

	if ((!f->u.health.text && f->u.health.len > 0) ||
	    f->u.health.len > DERP_CLIENT_MAX_FRAME_BYTES)
		return 0;
	p = begin(DERP_FRAME_HEALTH, f->u.health.len, buf, cap);
	if (!p)
		return 0;
	if (f->u.health.len > 0)
		memmove(p, f->u.health.text, f->u.health.len);
	return DERP_FRAME_HEADER_LEN + f->u.health.len;
}

size_t derp_frame_encode(const struct derp_frame *f, uint8_t *buf, size_t cap)
{
	const uint8_t *ip;

	if (!f)
		return 0;
	switch (f->type) {
	case DERP_FRAME_SERVER_KEY:
		return derp_encode_server_key(f->u.server_key.key, buf, cap);
	case DERP_FRAME_CLIENT_INFO:
	case DERP_FRAME_SERVER_INFO:
		return encode_info(f, buf, cap);
	case DERP_FRAME_SEND_PACKET:
		return derp_encode_send_packet(f->u.send_packet.dst, f->u.send_packet.pkt,
					       f->u.send_packet.len, buf, cap);
	case DERP_FRAME_RECV_PACKET:
		return derp_encode_recv_packet(f->u.recv_packet.src, f->u.recv_packet.pkt,
					       f->u.recv_packet.len, buf, cap);
	case DERP_FRAME_FORWARD_PACKET:
		return derp_encode_forward_packet(f->u.forward_packet.src, f->u.forward_packet.dst,
						  f->u.forward_packet.pkt, f->u.forward_packet.len,
						  buf, cap);
	case DERP_FRAME_KEEP_ALIVE:
		return derp_encode_keepalive(buf, cap);
	case DERP_FRAME_NOTE_PREFERRED:
		return derp_encode_note_preferred(f->u.note_preferred, buf, cap);
	case DERP_FRAME_PEER_GONE:
		return derp_encode_peer_gone(f->u.peer_gone.peer, f->u.peer_gone.reason, buf, cap);
	case DERP_FRAME_PEER_PRESENT: {
		/* Absent parts go out as zeros, as derpserver.go writes a
		 * zero AddrPort. */
		static const uint8_t zero_ip[DERP_PEER_PRESENT_IP_LEN];
		ip = f->u.peer_present.has_ip_port ? f->u.peer_present.ip : zero_ip;
		return derp_encode_peer_present(
			f->u.peer_present.peer, ip,
			f->u.peer_present.has_ip_port ? f->u.peer_present.port : 0,
			f->u.peer_present.has_flags ? f->u.peer_present.flags : 0, buf, cap);
	}
	case DERP_FRAME_WATCH_CONNS:
		return derp_encode_watch_conns(buf, cap);
	case DERP_FRAME_CLOSE_PEER:
		return derp_encode_close_peer(f->u.close_peer.peer, buf, cap);
	case DERP_FRAME_PING:
		return derp_encode_ping(f->u.ping, buf, cap);
	case DERP_FRAME_PONG:
		return derp_encode_pong(f->u.pong, buf, cap);
	case DERP_FRAME_HEALTH:
		return encode_health_frame(f, buf, cap);
	case DERP_FRAME_RESTARTING:
		return derp_encode_restarting(f->u.restarting.reconnect_in_ms,
					      f->u.restarting.try_for_ms, buf, cap);
	}
	return 0;
}
