/* capture_fuzz: what msockctl capture parses from the broker, on arbitrary
 * bytes. The first byte picks: a stream frame's head (the rest of the
 * input; a record frame takes the rest as its body), or a capture record.
 * A record that parses must encode again to a record that parses to the
 * same fields, and must write as pcap and pcapng; a STATS or END head must
 * encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[CAPTURE_PCAPNG_EPB_MAX_BYTES + CAPTURE_MAX_REC_BYTES];

static void same(const struct capture_rec *a, const struct capture_rec *b)
{
	if (a->dir != b->dir || a->path != b->path || a->kind != b->kind ||
	    a->remote.family != b->remote.family || a->remote.port != b->remote.port ||
	    memcmp(a->remote.ip, b->remote.ip, 16) || a->local_port != b->local_port ||
	    a->region != b->region || a->sock != b->sock || a->sessions != b->sessions ||
	    a->unix_ns != b->unix_ns || memcmp(a->key, b->key, sizeof(a->key)))
		abort();
}

static void record(const uint8_t *p, size_t len)
{
	struct capture_rec r, again;
	const uint8_t *pkt;
	size_t pkt_len, hdr, n;
	char comment[CAPTURE_COMMENT_MAX_BYTES];
	uint32_t mask;

	if (capture_rec_parse(p, len, &r, &pkt, &pkt_len) != CAPTURE_OK)
		return;
	if (capture_rec_sessions(p, len, &mask) != CAPTURE_OK || mask != r.sessions)
		abort();
	hdr = (r.remote.family == AF_INET ? CAPTURE_IP4_HDR_BYTES : CAPTURE_IP6_HDR_BYTES) +
	      CAPTURE_UDP_HDR_BYTES;
	if (pkt_len < hdr)
		abort();
	n = capture_rec_encode(&r, pkt + hdr, pkt_len - hdr, buf, sizeof(buf));
	if (n != len || capture_rec_parse(buf, n, &again, 0, 0) != CAPTURE_OK)
		abort();
	same(&r, &again);
	capture_comment(&r, 0, comment, sizeof(comment));
	if (strlen(comment) >= sizeof(comment))
		abort();
	if (capture_pcapng_record(r.unix_ns, pkt, pkt_len, capture_rec_wire_len(&r), comment, buf,
				  sizeof(buf)) == 0 ||
	    capture_pcap_record(r.unix_ns, pkt, pkt_len, capture_rec_wire_len(&r), buf,
				sizeof(buf)) != CAPTURE_PCAP_REC_HDR_BYTES + pkt_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_frame f;
	uint8_t head[CAPTURE_FRAME_END_MAX_BYTES];
	size_t n, split;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		record(data + 1, size - 1);
		return 0;
	}
	/* A head of up to 64 bytes, then the body. */
	split = size - 1 < (size_t)(data[0] >> 2) ? size - 1 : (size_t)(data[0] >> 2);
	if (capture_frame_parse(data + 1, split, data + 1 + split, size - 1 - split,
				(data[0] & 2) != 0, &f) != CAPTURE_OK)
		return 0;
	if (f.type == CAPTURE_FRAME_RECORD) {
		record(f.body, f.body_len);
		return 0;
	}
	n = capture_frame_encode(&f, head, sizeof(head));
	if (f.type == CAPTURE_FRAME_STATS && (n != split || memcmp(head, data + 1, n) != 0))
		abort();
	if (f.type == CAPTURE_FRAME_END && n != split)
		abort();
	return 0;
}
