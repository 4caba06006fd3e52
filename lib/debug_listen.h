/* debug_listen: where msock-debug serves (docs/debug.md): a unix socket
 * path, or a TCP address that must be loopback unless the config says
 * allow_public. One rule for the config (lib/config.c) and the component
 * (services/debug/main.c), which checks again what it is handed. */
#ifndef MSOCK_DEBUG_LISTEN_H
#define MSOCK_DEBUG_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

enum {
	DEBUG_LISTEN_PATH_MAX = 108, /* sun_path, with its NUL */
};

struct debug_listen {
	bool is_unix;
	char path[DEBUG_LISTEN_PATH_MAX]; /* is_unix */
	struct ipport addr;		  /* otherwise */
	bool is_public;			  /* addr is not loopback (allowed by allow_public) */
};

/* Parses `s`: an absolute path is a unix socket, "ip:port" or "[v6]:port"
 * TCP. Returns 0, or -1 with a message for people in err (without the
 * field's name: the caller says which field). */
int debug_listen_parse(const char *s, bool allow_public, struct debug_listen *out, char *err,
		       size_t errcap);

#endif
