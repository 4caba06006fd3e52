/* supervise: restart policy for one component, as pure state transitions
 * driven by the caller's clock (no I/O): exponential backoff with jitter, a
 * restart-intensity limit like systemd's default (5 starts in 10 s), and a
 * "failed" state that only `msockctl restart NAME` clears.
 *
 * Timers: next_start_ns (when a component in BACKOFF is due to start) and,
 * in the broker, the SIGKILL deadline of a component being stopped. */
#ifndef MSOCK_SUPERVISE_H
#define MSOCK_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	SUP_BACKOFF_INITIAL_MS = 200,
	SUP_BACKOFF_MAX_MS = 30000,
	SUP_INTENSITY_MAX_STARTS = 5,	 /* systemd's StartLimitBurst default */
	SUP_INTENSITY_WINDOW_MS = 10000, /* systemd's StartLimitIntervalSec default */
	SUP_STABLE_AFTER_MS =
		10000, /* up this long: the next crash starts from the initial backoff */
	SUP_STOP_TIMEOUT_MS = 5000, /* SIGTERM, then SIGKILL after this */
	SUP_EXIT_TEXT_MAX = 96,
	/* Quick exits in a row (each within SUP_STABLE_AFTER_MS of its
	 * start) that make a crash loop: the crash-loop health warning. */
	SUP_CRASH_LOOP_EXITS = 3,
};

enum sup_state {
	SUP_INVALID = 0,
	SUP_STOPPED, /* not started yet, or stopped on purpose */
	SUP_RUNNING,
	SUP_BACKOFF,  /* exited; waiting for next_start_ns */
	SUP_FAILED,   /* gave up: too many starts in the window */
	SUP_STOPPING, /* sent SIGTERM; waiting for it to exit */
};

struct sup_child {
	enum sup_state state;
	pid_t pid;
	uint32_t restarts;   /* starts after the first */
	bool ran;	     /* started at least once */
	uint64_t started_ns; /* of the current or last run */
	uint64_t next_start_ns;
	uint64_t backoff_ns; /* the delay before the next restart, before jitter */
	uint64_t stop_deadline_ns;
	uint64_t starts_ns[SUP_INTENSITY_MAX_STARTS]; /* ring of the latest start times */
	uint32_t n_starts;
	char last_exit[SUP_EXIT_TEXT_MAX];
};

void sup_init(struct sup_child *c);
/* The component was started (pid) at now. */
void sup_started(struct sup_child *c, pid_t pid, uint64_t now);
/* It exited with wait status `status`. `rnd` is a uniform random 32-bit
 * number for the jitter. Moves to BACKOFF (next_start_ns set) or FAILED;
 * from STOPPING, to STOPPED. */
void sup_exited(struct sup_child *c, int status, uint64_t now, uint32_t rnd);
/* True when a BACKOFF component is due to start. (A new component is put
 * in BACKOFF with next_start_ns 0 to start it at once.) */
bool sup_due(const struct sup_child *c, uint64_t now);
/* SIGTERM was sent at now. */
void sup_stopping(struct sup_child *c, uint64_t now);
/* Clears FAILED (and the backoff): the next start is immediate. */
void sup_reset(struct sup_child *c);
const char *sup_state_name(enum sup_state s);
/* Is c in a crash loop at now? Failed (given up), or SUP_CRASH_LOOP_EXITS
 * quick exits in a row (its backoff has doubled that often) and not yet
 * up for SUP_STABLE_AFTER_MS since. sup_reset (msockctl restart) ends it. */
bool sup_crash_loop(const struct sup_child *c, uint64_t now);
/* Describes a wait status: "exited with status 3", "killed by signal 9 (SIGKILL)". */
void sup_describe_exit(int status, char *buf, size_t cap);

#endif
