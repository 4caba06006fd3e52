/* bus_frames: receiving multipart messages and checking their shape
 * (bus_frames.h). */
#include "bus_frames.h"

#include <errno.h>
#include <string.h>

int bus_frames_recv(void *sock, struct bus_frames *fr)
{
	int more = 1;
	size_t sz = sizeof(more);

	fr->n = 0;
	fr->overflow = false;
	while (more) {
		zmq_msg_t tmp, *m = fr->n < BUS_MAX_FRAMES ? &fr->f[fr->n] : &tmp;
		zmq_msg_init(m);
		/* Only the first frame may be absent: the rest of a multipart
		 * message arrive with it. */
		if (zmq_msg_recv(m, sock, fr->n == 0 && m != &tmp ? ZMQ_DONTWAIT : 0) < 0) {
			int e = errno;
			zmq_msg_close(m);
			bus_frames_close(fr);
			return -e;
		}
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
		if (m == &tmp) {
			fr->overflow = true;
			zmq_msg_close(m);
		} else {
			fr->n++;
		}
	}
	return 0;
}

void bus_frames_close(struct bus_frames *fr)
{
	for (int i = 0; i < fr->n; i++)
		zmq_msg_close(&fr->f[i]);
	fr->n = 0;
}

int bus_frames_spans(const struct bus_frames *fr, struct bus_span *spans, int cap)
{
	int n = fr->n < cap ? fr->n : cap;

	for (int i = 0; i < n; i++)
		spans[i] = (struct bus_span){bus_frame_data(fr, i), bus_frame_len(fr, i)};
	return fr->overflow ? BUS_MAX_FRAMES + 1 : n;
}

const char *bus_check_str(int err)
{
	switch (err) {
	case BUS_OK:
		return "ok";
	case BUS_ERR_FRAMES:
		return "wrong number of frames";
	case BUS_ERR_TOPIC:
		return "unknown topic";
	case BUS_ERR_CHANNEL:
		return "a state topic sent as an event, or an event topic as state";
	case BUS_ERR_KEY:
		return "key is not 1-128 printable bytes";
	case BUS_ERR_META:
		return "sequence frame is not 9 bytes with known flags";
	case BUS_ERR_BODY:
		return "body does not decode as the topic's protobuf type";
	default:
		return "unknown error";
	}
}

bool bus_span_printable(struct bus_span s, size_t max, bool empty_ok)
{
	if (s.len > max || (s.len == 0 && !empty_ok))
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < 0x20 || s.p[i] >= 0x7f)
			return false;
	return true;
}

int bus_span_str(struct bus_span s, char *out, size_t max, bool empty_ok)
{
	if (!bus_span_printable(s, max, empty_ok))
		return -1;
	memcpy(out, s.p, s.len);
	out[s.len] = 0;
	return 0;
}

bool bus_span_is(struct bus_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

void bus_span_sanitize(struct bus_span s, char *out, size_t cap)
{
	size_t k;

	if (cap == 0)
		return;
	for (k = 0; k < s.len && k + 1 < cap; k++)
		out[k] = s.p[k] >= 0x20 && s.p[k] < 0x7f ? (char)s.p[k] : '?';
	out[k] = 0;
}

static int decode(const struct bus_topic *t, struct bus_span body, ProtobufCMessage **out)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(t->desc, 0, body.len, body.p);

	if (!m)
		return BUS_ERR_BODY;
	if (out)
		*out = m;
	else
		protobuf_c_message_free_unpacked(m, 0);
	return BUS_OK;
}

int bus_check_event(const struct bus_span *f, int n, const struct bus_topic **topic,
		    ProtobufCMessage **out)
{
	const struct bus_topic *t;

	if (n != 2)
		return BUS_ERR_FRAMES;
	t = bus_topic_find((const char *)f[0].p, f[0].len);
	if (!t)
		return BUS_ERR_TOPIC;
	*topic = t;
	if (t->kind != BUS_TOPIC_EVENT)
		return BUS_ERR_CHANNEL;
	return decode(t, f[1], out);
}

int bus_check_state(const struct bus_span *f, int n, const struct bus_topic **topic, char *key,
		    struct bus_meta *meta, ProtobufCMessage **out)
{
	const struct bus_topic *t;

	if (n != 4)
		return BUS_ERR_FRAMES;
	t = bus_topic_find((const char *)f[0].p, f[0].len);
	if (!t)
		return BUS_ERR_TOPIC;
	*topic = t;
	if (t->kind != BUS_TOPIC_STATE)
		return BUS_ERR_CHANNEL;
	if (bus_span_str(f[2], key, BUS_KEY_MAX, true) < 0)
		return BUS_ERR_KEY;
	if (bus_meta_parse(f[3].p, f[3].len, meta) < 0)
		return BUS_ERR_META;
	if (!key[0] || (meta->flags & BUS_META_DELETED))
		return f[1].len == 0 ? BUS_OK : BUS_ERR_BODY;
	return decode(t, f[1], out);
}
