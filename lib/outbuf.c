/* outbuf: see outbuf.h. */
#include "outbuf.h"

#include <stdlib.h>
#include <string.h>

enum {
	OUTBUF_START_BYTES = 4096,
};

long outbuf_append(struct outbuf *b, const void *p, size_t n, size_t keep)
{
	size_t removed = 0;

	if (keep && keep == b->len) {
		/* Everything written and nothing kept: start over. */
		b->len = b->off = 0;
		removed = keep;
		keep = 0;
	}
	if (b->len + n > b->cap) {
		/* Compact first, grow only if still needed. */
		if (keep) {
			memmove(b->p, b->p + keep, b->len - keep);
			b->len -= keep;
			b->off -= keep;
			removed += keep;
		}
		if (b->len + n > b->cap) {
			size_t cap = b->cap ? b->cap : OUTBUF_START_BYTES;
			uint8_t *nb;
			while (cap < b->len + n)
				cap *= 2;
			nb = realloc(b->p, cap);
			if (!nb)
				return -1;
			b->p = nb;
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return (long)removed;
}

void outbuf_release(struct outbuf *b)
{
	if (b->off != b->len)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void outbuf_free(struct outbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
