/* bus_frames: a multipart ZeroMQ message as an array of frames, read
 * without blocking and bounded in count, plus the pure checks shared by the
 * broker and the client: is this a well-formed event, a well-formed state
 * update, a printable name. No socket is needed for the checks (they are
 * what the bus fuzz target drives). */
#ifndef MSOCK_BUS_FRAMES_H
#define MSOCK_BUS_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "bus_topics.h"
#include "bus_wire.h"

struct bus_frames {
	zmq_msg_t f[BUS_MAX_FRAMES];
	int n;
	bool overflow; /* more than BUS_MAX_FRAMES arrived; the rest were discarded */
};

/* Reads one whole message; -EAGAIN when none is waiting. */
int bus_frames_recv(void *sock, struct bus_frames *fr);
void bus_frames_close(struct bus_frames *fr);

static inline const uint8_t *bus_frame_data(const struct bus_frames *fr, int i)
{
	return zmq_msg_data((zmq_msg_t *)&fr->f[i]);
}

static inline size_t bus_frame_len(const struct bus_frames *fr, int i)
{
	return zmq_msg_size((zmq_msg_t *)&fr->f[i]);
}

/* A view of frames as (pointer, length) pairs: what the checks take. */
struct bus_span {
	const uint8_t *p;
	size_t len;
};

enum bus_check {
	BUS_OK = 0,
	BUS_ERR_FRAMES = -1,  /* wrong number of frames */
	BUS_ERR_TOPIC = -2,   /* no such topic */
	BUS_ERR_CHANNEL = -3, /* a state topic as an event or the reverse */
	BUS_ERR_KEY = -4,     /* key not printable or too long */
	BUS_ERR_META = -5,    /* meta frame malformed */
	BUS_ERR_BODY = -6,    /* body does not decode as the topic's type */
};

const char *bus_check_str(int err);
/* True when the span is 1..max printable ASCII bytes (0 allowed if empty_ok). */
bool bus_span_printable(struct bus_span s, size_t max, bool empty_ok);
/* Copies a printable span into a NUL-terminated string; -1 if it is not. */
int bus_span_str(struct bus_span s, char *out, size_t max, bool empty_ok);
bool bus_span_is(struct bus_span s, const char *lit);
/* For log lines: up to cap-1 bytes of s, anything unprintable as '?'. */
void bus_span_sanitize(struct bus_span s, char *out, size_t cap);

/* [topic][body]: returns BUS_OK and the topic, or an error. The body is
 * decoded to check it; with `out` non-NULL the decoded message is handed
 * to the caller (free with protobuf_c_message_free_unpacked). */
int bus_check_event(const struct bus_span *f, int n, const struct bus_topic **topic,
		    ProtobufCMessage **out);
/* [topic][body][key][meta] as published by the broker. An empty key is a
 * heartbeat. The body is decoded (unless deleted or heartbeat) as above. */
int bus_check_state(const struct bus_span *f, int n, const struct bus_topic **topic, char *key,
		    struct bus_meta *meta, ProtobufCMessage **out);
/* Spans of received frames. */
int bus_frames_spans(const struct bus_frames *fr, struct bus_span *spans, int cap);

#endif
