/* debug_listen: the debug endpoint's address rule (debug_listen.h). */
#include "debug_listen.h"

#include <stdio.h>
#include <string.h>

int debug_listen_parse(const char *s, bool allow_public, struct debug_listen *out, char *err,
		       size_t errcap)
{
	char a[ADDR_TEXT_MAX];

	memset(out, 0, sizeof(*out));
	if (!s || !*s) {
		snprintf(err, errcap, "empty: expected a unix socket path or a loopback ip:port");
		return -1;
	}
	if (s[0] == '/') {
		if (strlen(s) >= DEBUG_LISTEN_PATH_MAX) {
			snprintf(err, errcap, "%zu bytes long; a unix socket path is at most %d",
				 strlen(s), DEBUG_LISTEN_PATH_MAX - 1);
			return -1;
		}
		out->is_unix = true;
		snprintf(out->path, sizeof(out->path), "%s", s);
		return 0;
	}
	if (ipport_parse(s, &out->addr) < 0) {
		snprintf(err, errcap,
			 "\"%.64s\" is neither an absolute unix socket path nor an ip:port "
			 "(\"127.0.0.1:8081\", \"[::1]:8081\")",
			 s);
		return -1;
	}
	out->is_public = !ip_is_loopback(&out->addr);
	if (out->is_public && !allow_public) {
		ipport_format(&out->addr, a, sizeof(a));
		snprintf(err, errcap,
			 "%s is not a loopback address: the debug endpoint shows the node's "
			 "peers and paths to whoever reaches it; set debug.allow_public to "
			 "serve it there anyway",
			 a);
		return -1;
	}
	return 0;
}
