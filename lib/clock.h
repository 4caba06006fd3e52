/* clock: monotonic nanoseconds, injectable so tests drive time without
 * sleeping. Code that depends on time takes `now` or a struct msock_clock. */
#ifndef MSOCK_CLOCK_H
#define MSOCK_CLOCK_H

#include <stdint.h>

#define NS_PER_MS  1000000ull
#define NS_PER_SEC 1000000000ull

struct msock_clock {
	uint64_t (*now_ns)(void *arg);
	void *arg;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t clock_mono_ns(void);
/* CLOCK_REALTIME in milliseconds since the epoch (times shown to people). */
uint64_t clock_unix_ms(void);
/* A poll timeout in ms that wakes at the deadline (rounded up, 0 if it is
 * past), at most max_ms. Both times in CLOCK_MONOTONIC ns. */
long clock_poll_ms(uint64_t now_ns, uint64_t deadline_ns, long max_ms);
/* The real clock, as a struct msock_clock. */
struct msock_clock clock_real(void);

/* A clock that only moves when told to (tests). */
struct clock_fake {
	uint64_t t_ns;
};
struct msock_clock clock_fake_make(struct clock_fake *f);

static inline uint64_t clock_now(const struct msock_clock *c)
{
	return c->now_ns(c->arg);
}

#endif
