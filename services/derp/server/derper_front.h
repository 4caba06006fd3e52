/* derper_front: the HTTP request in front of DERP on a connection: parse
 * the head (derper_http_parse.c), answer the plain endpoints, or switch the
 * connection to DERP (101, or nothing under Derp-Fast-Start). */
#ifndef MSOCK_DERPER_FRONT_H
#define MSOCK_DERPER_FRONT_H

#include "derper.h"

/* Returns the bytes of the head consumed when the connection moved on to
 * DERP, 0 when more bytes are needed or a reply is being written (the
 * connection closes after it). */
long front_on_input(struct dconn *c);

#endif
