/* dbg_server: msock-debug's listening socket and connections
 * (dbg_server.c). One request per connection, answered whole. */
#ifndef MSOCK_DBG_SERVER_H
#define MSOCK_DBG_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "dbg.h"
#include "dbg_http.h"
#include "debug_listen.h"
#include "log.h"

enum {
	/* Connections at once; past it a new one is closed at once (a
	 * browser opens a handful, a scraper one). */
	DBG_MAX_CONNS = 16,
	/* A request head must arrive within this (a slow client gets 408). */
	DBG_HEAD_TIMEOUT_MS = 5000,
	/* A response must be taken within this, or the connection is closed. */
	DBG_WRITE_TIMEOUT_MS = 30000,
	/* The largest head kept: derper_http_parse refuses a larger one. */
	DBG_HEAD_MAX_BYTES = 8192,
	DBG_LISTEN_BACKLOG = 16,
};

struct dbg_conn {
	int fd; /* -1: free */
	bool writing;
	uint64_t deadline_ns;
	uint8_t in[DBG_HEAD_MAX_BYTES];
	size_t in_len;
	struct dbg_buf out;
	size_t out_off;
};

struct dbg_server {
	int lfd;
	struct dbg_http_opts opts;
	char where[DEBUG_LISTEN_PATH_MAX + 8]; /* for messages */
	struct dbg_conn conns[DBG_MAX_CONNS];
	struct log_ratelimit rl;
	/* Counted (metrics: msock_debug_http_*). */
	uint64_t requests, refused, timeouts, overflow;
};

/* Binds where `l` says (a unix socket: an old socket file there is
 * replaced; mode 0600, or 0660 of group gid when gid != -1), before the
 * sandbox. Returns 0 or -errno with a message logged. */
int dbg_server_listen(struct dbg_server *s, const struct debug_listen *l, long gid);
void dbg_server_close(struct dbg_server *s);
int dbg_server_pollitems(struct dbg_server *s, zmq_pollitem_t *it, int cap);
/* After the poll: accepts, reads, answers, writes. */
void dbg_server_ready(struct dbg_server *s, const zmq_pollitem_t *it, int n,
		      const struct dbg_model *m, const struct dbg_now *now);
/* The nearest connection deadline (UINT64_MAX: none), and its timers. */
uint64_t dbg_server_deadline(const struct dbg_server *s);
void dbg_server_tick(struct dbg_server *s, const struct dbg_now *now);

#endif
