/* supervise: the restart policy (supervise.h). */
#include "supervise.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"

void sup_init(struct sup_child *c)
{
	memset(c, 0, sizeof(*c));
	c->state = SUP_STOPPED;
	c->backoff_ns = SUP_BACKOFF_INITIAL_MS * NS_PER_MS;
}

void sup_started(struct sup_child *c, pid_t pid, uint64_t now)
{
	if (c->ran)
		c->restarts++;
	c->ran = true;
	c->starts_ns[c->n_starts % SUP_INTENSITY_MAX_STARTS] = now;
	c->n_starts++;
	c->state = SUP_RUNNING;
	c->pid = pid;
	c->started_ns = now;
}

static uint32_t starts_in_window(const struct sup_child *c, uint64_t now)
{
	uint32_t n =
		c->n_starts < SUP_INTENSITY_MAX_STARTS ? c->n_starts : SUP_INTENSITY_MAX_STARTS;
	uint32_t in = 0;

	for (uint32_t i = 0; i < n; i++)
		if (now - c->starts_ns[i] < SUP_INTENSITY_WINDOW_MS * NS_PER_MS)
			in++;
	return in;
}

void sup_exited(struct sup_child *c, int status, uint64_t now, uint32_t rnd)
{
	uint64_t delay;

	sup_describe_exit(status, c->last_exit, sizeof(c->last_exit));
	c->pid = 0;
	if (c->state == SUP_STOPPING) {
		c->state = SUP_STOPPED;
		return;
	}
	/* Ran long enough to count as healthy: start again from the bottom. */
	if (now - c->started_ns >= SUP_STABLE_AFTER_MS * NS_PER_MS)
		c->backoff_ns = SUP_BACKOFF_INITIAL_MS * NS_PER_MS;
	/* Another start would be one too many in the window: give up. */
	if (starts_in_window(c, now) >= SUP_INTENSITY_MAX_STARTS) {
		c->state = SUP_FAILED;
		return;
	}
	/* Jitter of -25 %..+25 % so components that died together do not
	 * come back in lockstep. */
	delay = c->backoff_ns * 3 / 4 +
		(uint64_t)((unsigned __int128)(c->backoff_ns / 2) * rnd / UINT32_MAX);
	c->next_start_ns = now + delay;
	c->state = SUP_BACKOFF;
	c->backoff_ns *= 2;
	if (c->backoff_ns > SUP_BACKOFF_MAX_MS * NS_PER_MS)
		c->backoff_ns = SUP_BACKOFF_MAX_MS * NS_PER_MS;
}

bool sup_due(const struct sup_child *c, uint64_t now)
{
	return c->state == SUP_BACKOFF && now >= c->next_start_ns;
}

void sup_stopping(struct sup_child *c, uint64_t now)
{
	c->state = SUP_STOPPING;
	c->stop_deadline_ns = now + SUP_STOP_TIMEOUT_MS * NS_PER_MS;
}

void sup_reset(struct sup_child *c)
{
	c->n_starts = 0;
	memset(c->starts_ns, 0, sizeof(c->starts_ns));
	c->backoff_ns = SUP_BACKOFF_INITIAL_MS * NS_PER_MS;
	c->next_start_ns = 0;
	if (c->state == SUP_FAILED)
		c->state = SUP_BACKOFF;
}

bool sup_crash_loop(const struct sup_child *c, uint64_t now)
{
	if (c->state == SUP_FAILED)
		return true;
	if (c->state == SUP_RUNNING && now - c->started_ns >= SUP_STABLE_AFTER_MS * NS_PER_MS)
		return false;
	/* Each quick exit doubled the backoff; a stable run reset it. */
	return c->backoff_ns >= (uint64_t)SUP_BACKOFF_INITIAL_MS * NS_PER_MS
					<< SUP_CRASH_LOOP_EXITS;
}

const char *sup_state_name(enum sup_state s)
{
	switch (s) {
	case SUP_STOPPED:
		return "stopped";
	case SUP_RUNNING:
		return "running";
	case SUP_BACKOFF:
		return "backoff";
	case SUP_FAILED:
		return "failed";
	case SUP_STOPPING:
		return "stopping";
	default:
		return "invalid";
	}
}

void sup_describe_exit(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		/* SIGSYS is what the seccomp filter kills with (lib/sandbox.c):
		 * say so; the component's log names the call in test builds. */
		snprintf(buf, cap, "killed by signal %d (SIG%s)%s%s", WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
			 WTERMSIG(status) == SIGSYS ? " (seccomp)" : "",
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, cap, "wait status 0x%x", status);
}
