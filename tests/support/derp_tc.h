/* derp_tc: a small blocking DERP client for tests of msock-derper: TCP or
 * TLS, the HTTP upgrade (with or without Derp-Fast-Start), the login, and
 * frames. The real, non-blocking client is the derp service's. */
#ifndef MSOCK_TEST_DERP_TC_H
#define MSOCK_TEST_DERP_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/derp_handshake.h"
#include "key.h"

struct dtc;

struct dtc_opts {
	const char *ip; /* "127.0.0.1" */
	int port;
	bool tls;		  /* TLS without verifying the certificate (tests) */
	bool fast_start;	  /* Derp-Fast-Start: 1 */
	const struct key32 *priv; /* NULL: a new key */
	const uint8_t *mesh_key;  /* 32 bytes or NULL */
	bool no_login;		  /* stop after ServerKey: the test sends its own ClientInfo */
	bool is_prober;		  /* ClientInfo IsProber */
	const char *ideal_node;	  /* an Ideal-Node header (the client's ideal node), or NULL */
};

/* Connects and logs in. Returns NULL with err set. Caller frees with dtc_close. */
struct dtc *dtc_connect(const struct dtc_opts *o, char *err, size_t errcap);
void dtc_close(struct dtc *c);
const struct key32 *dtc_pub(const struct dtc *c);
const struct key32 *dtc_server_pub(const struct dtc *c);
/* The ServerInfo the server sent at login. */
const struct derp_server_info *dtc_server_info(const struct dtc *c);
/* The raw fd (tests that stop reading, or shut down). */
int dtc_fd(const struct dtc *c);

int dtc_send_packet(struct dtc *c, const struct key32 *dst, const uint8_t *p, size_t n);
/* Writes bytes as they are (malformed-frame tests). */
int dtc_write_raw(struct dtc *c, const void *p, size_t n);
/* The next frame: returns 1 with type/payload, 0 on timeout, -1 on EOF or
 * error. */
int dtc_recv_frame(struct dtc *c, int timeout_ms, uint8_t *type, uint8_t *buf, size_t cap,
		   size_t *len);
/* The next RecvPacket, skipping other frames (KeepAlive, ...). */
int dtc_recv_packet(struct dtc *c, int timeout_ms, struct key32 *src, uint8_t *buf, size_t cap,
		    size_t *len);

#endif
