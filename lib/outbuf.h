/* outbuf: an output byte buffer for non-blocking writers: bytes are
 * appended at len, written from off, and the written prefix is compacted
 * away only when room is needed. Used by the DERP client and msock-derper. */
#ifndef MSOCK_OUTBUF_H
#define MSOCK_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

struct outbuf {
	uint8_t *p;
	size_t len; /* bytes appended */
	size_t off; /* bytes already written out */
	size_t cap;
};

/* Appends n bytes. The caller says how many leading bytes it still needs
 * none of (keep <= off: usually off itself); those may be discarded to make
 * room. Returns how many leading bytes were discarded (so the caller can
 * shift offsets of its own into the buffer), or -1 when out of memory
 * (nothing appended). The caller bounds the total. */
long outbuf_append(struct outbuf *b, const void *p, size_t n, size_t keep);
/* Releases the memory of an empty buffer (off == len). */
void outbuf_release(struct outbuf *b);
void outbuf_free(struct outbuf *b);

static inline size_t outbuf_pending(const struct outbuf *b)
{
	return b->len - b->off;
}

#endif
