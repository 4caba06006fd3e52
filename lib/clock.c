/* clock: the real monotonic clock and a fake one for tests. */
#include "clock.h"

#include <time.h>

uint64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t clock_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

long clock_poll_ms(uint64_t now_ns, uint64_t deadline_ns, long max_ms)
{
	uint64_t ms;

	if (deadline_ns <= now_ns)
		return 0;
	ms = (deadline_ns - now_ns) / NS_PER_MS + 1;
	return ms > (uint64_t)max_ms ? max_ms : (long)ms;
}

static uint64_t real_now(void *arg)
{
	(void)arg;
	return clock_mono_ns();
}

struct msock_clock clock_real(void)
{
	return (struct msock_clock){real_now, 0};
}

static uint64_t fake_now(void *arg)
{
	return ((struct clock_fake *)arg)->t_ns;
}

struct msock_clock clock_fake_make(struct clock_fake *f)
{
	return (struct msock_clock){fake_now, f};
}
