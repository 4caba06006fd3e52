/* dbg_http: msock-debug's routes (dbg_http.c). Pure: the connection code
 * (dbg_server.c) and the fuzz target call it. */
#ifndef MSOCK_DBG_HTTP_H
#define MSOCK_DBG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbg.h"

enum {
	DBG_HTTP_MORE = -1, /* the head is not complete: call again with more bytes */
};

struct dbg_http_opts {
	/* The Host header must name loopback (a TCP listener on loopback:
	 * DNS rebinding). Not for the unix socket or an explicitly public
	 * address. */
	bool check_host;
};

/* Answers the request whose head starts p[0..len). Returns DBG_HTTP_MORE
 * (nothing written; *head_len 0), or the status code of the whole
 * response now in *out (freed and replaced; out->failed when it could not
 * be built: the caller closes). *head_len: the head's length, or where a
 * refused head went wrong. Every response says Connection: close. */
int dbg_http_answer(const struct dbg_model *m, const struct dbg_now *now,
		    const struct dbg_http_opts *opts, const uint8_t *p, size_t len,
		    struct dbg_buf *out, size_t *head_len);

/* 408 Request Timeout, for a client too slow to send its head. */
void dbg_http_timeout(const struct dbg_now *now, struct dbg_buf *out);

#endif
