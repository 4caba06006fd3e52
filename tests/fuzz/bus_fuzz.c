/* bus_fuzz: the bus's frame checks (lib/bus_frames.h) on arbitrary frames.
 * Input: [count][len:2 BE][bytes]... with count % BUS_MAX_FRAMES + 1 frames
 * (a short input gives fewer); each frame gets its own exact-size copy so
 * ASan sees any read past it. The whole input also goes to bus_meta_parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus_frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded body must be the topic's type and pack to its announced size.
 * (Not that it unpacks again: protobuf-c 1.4 accepts an over-long tag for
 * field 0, e.g. 80 00 09, keeps it as an unknown field and then refuses
 * its own canonical re-encoding, 00 09.) */
static void check_body(const struct bus_topic *t, ProtobufCMessage *m)
{
	size_t n;
	uint8_t *buf;

	if (m->descriptor != t->desc)
		abort();
	n = protobuf_c_message_get_packed_size(m);
	buf = malloc(n ? n : 1);
	if (!buf)
		abort();
	if (protobuf_c_message_pack(m, buf) != n)
		abort();
	free(buf);
}

static void check_event(const struct bus_span *f, int n)
{
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	int rc = bus_check_event(f, n, &t, &out);

	if (rc == BUS_OK) {
		if (!t || t->kind != BUS_TOPIC_EVENT || !out || n != 2)
			abort();
		if (!bus_span_is(f[0], t->name))
			abort();
		check_body(t, out);
		protobuf_c_message_free_unpacked(out, NULL);
	} else if (out || rc > 0 || rc < BUS_ERR_BODY) {
		abort();
	}
	/* The same answer without an out pointer. */
	if (bus_check_event(f, n, &t, NULL) != rc)
		abort();
}

static void check_state(const struct bus_span *f, int n)
{
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	struct bus_meta meta;
	char key[BUS_KEY_MAX + 1];
	int rc = bus_check_state(f, n, &t, key, &meta, &out);

	if (rc == BUS_OK) {
		if (!t || t->kind != BUS_TOPIC_STATE || n != 4)
			abort();
		if (strlen(key) != f[2].len || memcmp(key, f[2].p, f[2].len) != 0 ||
		    !bus_span_printable(f[2], BUS_KEY_MAX, true))
			abort();
		if (f[3].len != BUS_META_BYTES || meta.seq != bus_get_be64(f[3].p) ||
		    meta.flags != f[3].p[8] || (meta.flags & ~BUS_META_DELETED))
			abort();
		/* Heartbeats and deletions carry no body; the rest decode. */
		if (!key[0] || (meta.flags & BUS_META_DELETED)) {
			if (out || f[1].len != 0)
				abort();
		} else {
			if (!out)
				abort();
			check_body(t, out);
			protobuf_c_message_free_unpacked(out, NULL);
		}
	} else if (out || rc > 0 || rc < BUS_ERR_BODY) {
		abort();
	}
	if (bus_check_state(f, n, &t, key, &meta, NULL) != rc)
		abort();
}

static void check_spans(const struct bus_span *f, int n)
{
	char out[BUS_KEY_MAX + 1];

	for (int i = 0; i < n; i++) {
		bool ok = bus_span_printable(f[i], BUS_KEY_MAX, true);
		if ((bus_span_str(f[i], out, BUS_KEY_MAX, true) == 0) != ok)
			abort();
		if (ok && (strlen(out) != f[i].len || memcmp(out, f[i].p, f[i].len) != 0))
			abort();
	}
}

static void check_meta(const uint8_t *data, size_t size)
{
	struct bus_meta m;
	uint8_t again[BUS_META_BYTES];

	if (bus_meta_parse(data, size, &m) < 0)
		return;
	if (size != BUS_META_BYTES)
		abort();
	bus_meta_encode(&m, again);
	if (memcmp(again, data, BUS_META_BYTES) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bus_span f[BUS_MAX_FRAMES] = {0};
	uint8_t *copies[BUS_MAX_FRAMES] = {0};
	size_t off = 1;
	int want, n = 0;

	check_meta(data, size);
	if (size < 1)
		return 0;
	want = data[0] % BUS_MAX_FRAMES + 1;
	while (n < want && off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off; /* truncated: take what is there */
		copies[n] = malloc(len ? len : 1);
		if (!copies[n])
			abort();
		if (len)
			memcpy(copies[n], data + off, len);
		f[n] = (struct bus_span){copies[n], len};
		off += len;
		n++;
	}
	check_event(f, n);
	check_state(f, n);
	check_spans(f, n);
	/* Messages of the right shape but the other channel. */
	if (n >= 2)
		check_event(f, 2);
	if (n >= 4)
		check_state(f, 4);
	for (int i = 0; i < n; i++)
		free(copies[i]);
	return 0;
}
