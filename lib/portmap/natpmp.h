/* natpmp: the client side of NAT-PMP (RFC 6886): the two requests we send
 * (external address, port mapping) and the checks on what the gateway
 * answers, byte for byte what Tailscale's net/portmapper sends. See
 * docs/portmap.md for the layouts and every rejection.
 *
 * A pure codec: no I/O, no logging, no allocation. */
#ifndef MSOCK_NATPMP_H
#define MSOCK_NATPMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	NATPMP_PORT = 5351,    /* the gateway listens here, RFC 6886 section 3.1 */
	NATPMP_VERSION = 0,    /* RFC 6886 section 3 */
	NATPMP_OP_REPLY = 128, /* added to the request's opcode in the answer, section 3 */
	/* Every response starts with version, opcode, 16-bit result and
	 * Seconds Since Start of Epoch; the Unsupported Version answer of
	 * section 3.5 is only that. */
	NATPMP_HEADER_BYTES = 8,
	NATPMP_EXTERNAL_ADDR_REQUEST_BYTES = 2, /* section 3.2 */
	NATPMP_EXTERNAL_ADDR_RESPONSE_BYTES = 12,
	NATPMP_MAP_REQUEST_BYTES = 12, /* section 3.3 */
	NATPMP_MAP_RESPONSE_BYTES = 16,
	NATPMP_REQUEST_MAX_BYTES = NATPMP_MAP_REQUEST_BYTES,
	/* The mapping lifetime we ask for: RFC 6886 section 3.3 recommends
	 * two hours, and Tailscale asks for that (pmpMapLifetimeSec). */
	NATPMP_LIFETIME_S = 7200,
};

/* Opcodes of requests (RFC 6886 sections 3.2 and 3.3); the answer's is
 * NATPMP_OP_REPLY + this. */
enum {
	NATPMP_OP_EXTERNAL_ADDR = 0,
	NATPMP_OP_MAP_UDP = 1,
	NATPMP_OP_MAP_TCP = 2,
};

/* Result codes, RFC 6886 section 3.5 (16 bits on the wire). Any other
 * value is a fatal error of the request too (same section). */
enum {
	NATPMP_RESULT_SUCCESS = 0,
	NATPMP_RESULT_UNSUPPORTED_VERSION = 1,
	NATPMP_RESULT_NOT_AUTHORIZED = 2, /* "Not Authorized/Refused" */
	NATPMP_RESULT_NETWORK_FAILURE = 3,
	NATPMP_RESULT_OUT_OF_RESOURCES = 4,
	NATPMP_RESULT_UNSUPPORTED_OPCODE = 5,
};

/* What natpmp_response_parse returns: 0 or one of these. Not errno values. */
enum natpmp_err {
	NATPMP_OK = 0,
	NATPMP_ERR_SHORT = -1,		/* shorter than the answer to our request */
	NATPMP_ERR_LONG = -2,		/* longer than the answer to our request */
	NATPMP_ERR_VERSION = -3,	/* version not 0 */
	NATPMP_ERR_OPCODE = -4,		/* opcode not NATPMP_OP_REPLY + ours */
	NATPMP_ERR_RESULT = -5,		/* result code not 0: out->result holds it */
	NATPMP_ERR_INTERNAL_PORT = -6,	/* not the internal port we asked to map */
	NATPMP_ERR_EXTERNAL_PORT = -7,	/* mapped external port 0 on a create */
	NATPMP_ERR_LIFETIME = -8,	/* lifetime 0 on a create */
	NATPMP_ERR_NOT_DELETED = -9,	/* a delete answered with a lifetime */
	NATPMP_ERR_EXTERNAL_ADDR = -10, /* external address not usable */
	NATPMP_ERR_BAD_REQUEST = -11,	/* the request given is not one we would send */
};

/* A request. opcode NATPMP_OP_EXTERNAL_ADDR uses no other field;
 * NATPMP_OP_MAP_UDP / _TCP use all of them. lifetime_s 0 asks to delete
 * the mapping of internal_port (then suggested_external_port must be 0,
 * RFC 6886 section 3.4), or every mapping of the protocol if internal_port
 * is 0 too. */
struct natpmp_request {
	uint8_t opcode;
	uint16_t internal_port;
	uint16_t suggested_external_port; /* 0: the gateway chooses */
	uint32_t lifetime_s;		  /* e.g. NATPMP_LIFETIME_S; 0 deletes */
};

/* A response that passed every check against the request it answers. */
struct natpmp_response {
	uint8_t opcode;	  /* NATPMP_OP_REPLY + the request's */
	uint16_t result;  /* NATPMP_RESULT_SUCCESS, or the code of NATPMP_ERR_RESULT */
	uint32_t epoch_s; /* Seconds Since Start of Epoch (for portmap_epoch_check) */
	/* The external address (AF_INET, port 0) of an external-address
	 * answer; family 0 in a map answer. */
	struct ipport external;
	/* Map answers only (0 otherwise). */
	uint16_t internal_port;
	uint16_t external_port; /* the mapped external port */
	uint32_t lifetime_s;	/* the lifetime granted */
};

/* Writes req: 2 bytes for the external-address request, 12 for a map
 * request. Returns that length, or 0 if cap is too small or req is not a
 * request we would send (unknown opcode; internal port 0 on a create; a
 * delete with a suggested external port). */
size_t natpmp_request_encode(const struct natpmp_request *req, uint8_t *buf, size_t cap);

/* Parses the gateway's answer to sent (the request as given to
 * natpmp_request_encode): exact length, version 0, the matching opcode,
 * result 0, the same internal port; on a create, a mapped port and a
 * lifetime; on a delete, lifetime 0; an external address that
 * ip_unicast_usable (lib/addr.h) accepts. Returns 0 or a negative enum natpmp_err.
 * On NATPMP_ERR_RESULT, out->opcode, out->result and out->epoch_s are
 * filled (the epoch of an error answer still counts, RFC 6886 section
 * 3.5) and the rest of *out is zero; on any other error *out is untouched.
 * A caller that sent both requests tries this with each: the opcode tells
 * them apart (NATPMP_ERR_OPCODE). */
int natpmp_response_parse(const uint8_t *p, size_t len, const struct natpmp_request *sent,
			  struct natpmp_response *out);

/* The RFC 6886 name of a result code ("Not Authorized/Refused"); static. */
const char *natpmp_result_name(uint16_t result);
/* A static description of an enum natpmp_err. */
const char *natpmp_strerror(int err);

#endif
