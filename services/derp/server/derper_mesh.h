/* derper_mesh: regional mesh of derpers (see derper_mesh.c). */
#ifndef MSOCK_DERPER_MESH_H
#define MSOCK_DERPER_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derper.h"

/* Reads -mesh-with into links (dialled from mesh_tick). */
int mesh_setup(struct derper *s, const char *mesh_with, const char *self_hostname, int listen_port,
	       char *err, size_t errcap);
void mesh_free(struct derper *s);
/* A mesh client asked to watch connections. */
void mesh_on_watch_conns(struct dconn *w);
/* w is closing: off the watcher list. */
void mesh_unwatch(struct dconn *w);
/* A client logged in (present) or left: tell the watchers. */
void mesh_on_client_change(struct derper *s, struct dconn *c, bool present);
/* A packet from client `from` for dst, which is not here: forward it if a
 * mesh peer has dst (and stop reading `from` while that link is full).
 * Returns false when no peer has it. */
bool mesh_forward(struct derper *s, struct dconn *from, const uint8_t dst[KEY_LEN],
		  const uint8_t *p, size_t n);
/* c is closing while it waits for a link to drain. */
void mesh_unwait(struct dconn *c);
/* Whether a mesh peer has announced key k (and not withdrawn it). */
bool mesh_has(struct derper *s, const uint8_t k[KEY_LEN]);
void mesh_link_on_io(struct mesh_link *l);
/* Redials, watchdogs, and epoll interest of the links; every loop turn. */
void mesh_tick(struct derper *s);

#endif
