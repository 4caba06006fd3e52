/* adopt: a restarted broker takes over the components an earlier broker
 * started (issue 16, docs/deploy.md). The broker keeps a record of the
 * components it runs in <run_dir>/children (adopt_record.c has the
 * layout), rewritten whenever one starts or exits and removed when the
 * broker exits cleanly. A broker that finds the record at start-up adopts
 * every component in it that is still the same process (its pid's start
 * time matches), runs the program the config names, and is configured:
 * it watches it through a pidfd (it is not its child: when the old broker
 * died it went to init), signals it through the pidfd, and takes the
 * dataplane's UDP sockets back from it with pidfd_getfd(2), so that a
 * later restart of the dataplane keeps its ports. */
#ifndef MSOCK_ADOPT_H
#define MSOCK_ADOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	ADOPT_NAME_MAX = 32,
	ADOPT_MAX_ENTRIES = 64,
	/* A line is at most ~150 bytes (two names of 31, numbers at their
	 * largest): room for every entry and the comment line. */
	ADOPT_RECORD_MAX_BYTES = ADOPT_MAX_ENTRIES * 160 + 256,
	ADOPT_STAT_MAX_BYTES = 2048, /* /proc/<pid>/stat is well under this */
};

struct adopt_entry {
	char name[ADOPT_NAME_MAX];
	char program[ADOPT_NAME_MAX];
	pid_t pid;
	uint64_t start_ticks; /* /proc/<pid>/stat field 22: tells a reused pid */
	uint32_t restarts;
	uint64_t started_ns; /* CLOCK_MONOTONIC (system-wide) at its start */
	int fds[3];	     /* the broker's udp4, udp6, wg as the component has them; -1 */
};

/* Parses a record; on error returns -EINVAL with "line N: what" in err and
 * *n undefined (adopt nothing). */
int adopt_record_parse(const char *text, size_t len, struct adopt_entry *out, size_t cap, size_t *n,
		       char *err, size_t errcap);
/* Writes the record of e[0..n) into buf; returns its length or -ENOSPC. */
int adopt_record_format(const struct adopt_entry *e, size_t n, char *buf, size_t cap);
/* The start time in clock ticks since boot, from the text of
 * /proc/<pid>/stat; -EINVAL when it does not parse. */
int adopt_proc_start_ticks(const char *stat, size_t len, uint64_t *ticks);

#endif
