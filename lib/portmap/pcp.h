/* pcp: the client side of the Port Control Protocol (RFC 6887): the
 * ANNOUNCE and MAP requests we send, byte for byte what Tailscale's
 * net/portmapper/pcp.go writes, and the checks on what the server
 * answers. See docs/portmap.md for the layouts and every rejection.
 *
 * A pure codec: no I/O, no logging, no allocation. The caller supplies
 * the MAP nonce (RFC 6887 section 11.1 wants it random). */
#ifndef MSOCK_PCP_H
#define MSOCK_PCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	PCP_PORT = 5351,	     /* the server listens here, RFC 6887 section 19.1 */
	PCP_VERSION = 2,	     /* RFC 6887 section 9 */
	PCP_R_BIT = 0x80,	     /* set in the opcode byte of a response, section 7.2 */
	PCP_HEADER_BYTES = 24,	     /* request and response headers, sections 7.1, 7.2 */
	PCP_NONCE_BYTES = 12,	     /* the 96-bit mapping nonce, section 11.1 */
	PCP_MAP_BYTES = 36,	     /* MAP opcode data, sections 11.1 and 11.2 */
	PCP_OPTION_HEADER_BYTES = 4, /* code, reserved, 16-bit length, section 7.3 */
	/* "maximum UDP payload length of 1100 octets", section 7; section 8.3
	 * drops longer responses. */
	PCP_MAX_MESSAGE_BYTES = 1100,
	PCP_ANNOUNCE_REQUEST_BYTES = PCP_HEADER_BYTES,
	PCP_MAP_REQUEST_BYTES = PCP_HEADER_BYTES + PCP_MAP_BYTES,
	PCP_REQUEST_MAX_BYTES = PCP_MAP_REQUEST_BYTES,
	/* The lifetime we ask for: Tailscale's pcpMapLifetimeSec, taken from
	 * NAT-PMP's recommendation (RFC 6886 section 3.3). */
	PCP_LIFETIME_S = 7200,
	/* The only protocol we map: UDP, IANA protocol number 17. */
	PCP_PROTO_UDP = 17,
};

/* Opcodes, RFC 6887 sections 14.1 and 11. */
enum {
	PCP_OP_ANNOUNCE = 0,
	PCP_OP_MAP = 1,
};

/* Result codes, RFC 6887 section 7.4 (8 bits on the wire). */
enum {
	PCP_RESULT_SUCCESS = 0,
	PCP_RESULT_UNSUPP_VERSION = 1,
	PCP_RESULT_NOT_AUTHORIZED = 2,
	PCP_RESULT_MALFORMED_REQUEST = 3,
	PCP_RESULT_UNSUPP_OPCODE = 4,
	PCP_RESULT_UNSUPP_OPTION = 5,
	PCP_RESULT_MALFORMED_OPTION = 6,
	PCP_RESULT_NETWORK_FAILURE = 7,
	PCP_RESULT_NO_RESOURCES = 8,
	PCP_RESULT_UNSUPP_PROTOCOL = 9,
	PCP_RESULT_USER_EX_QUOTA = 10,
	PCP_RESULT_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_RESULT_ADDRESS_MISMATCH = 12,
	PCP_RESULT_EXCESSIVE_REMOTE_PEERS = 13,
};

/* What pcp_response_parse returns: 0 or one of these. Not errno values. */
enum pcp_err {
	PCP_OK = 0,
	PCP_ERR_SHORT = -1,	     /* under 24 bytes, or a success without its opcode data */
	PCP_ERR_LONG = -2,	     /* over PCP_MAX_MESSAGE_BYTES */
	PCP_ERR_ALIGN = -3,	     /* length not a multiple of 4 */
	PCP_ERR_NATPMP = -4,	     /* NAT-PMP's Unsupported Version: the server has no PCP */
	PCP_ERR_VERSION = -5,	     /* version not 2 */
	PCP_ERR_NOT_RESPONSE = -6,   /* R bit clear */
	PCP_ERR_OPCODE = -7,	     /* not the opcode of our request */
	PCP_ERR_OPTION = -8,	     /* an option runs past the end */
	PCP_ERR_NONCE = -9,	     /* not our mapping nonce */
	PCP_ERR_PROTOCOL = -10,	     /* not the protocol we asked to map */
	PCP_ERR_INTERNAL_PORT = -11, /* not the internal port we asked to map */
	PCP_ERR_RESULT = -12,	     /* result code not 0: out->result holds it */
	PCP_ERR_LIFETIME = -13,	     /* lifetime 0 on a create */
	PCP_ERR_NOT_DELETED = -14,   /* a delete answered with a lifetime */
	PCP_ERR_EXTERNAL_PORT = -15, /* assigned external port 0 */
	PCP_ERR_EXTERNAL_ADDR = -16, /* assigned external address not usable */
	PCP_ERR_BAD_REQUEST = -17,   /* the request given is not one we would send */
};

/* A request. client is our own address as the server sees it (AF_INET or
 * AF_INET6; the port is not used). ANNOUNCE uses nothing else (its
 * lifetime goes out as 0). MAP maps UDP internal_port; lifetime_s 0
 * deletes the mapping. */
struct pcp_request {
	uint8_t opcode;
	uint32_t lifetime_s; /* MAP: e.g. PCP_LIFETIME_S; 0 deletes */
	struct ipport client;
	uint8_t nonce[PCP_NONCE_BYTES];
	uint16_t internal_port;		  /* not 0 (that would mean "all ports") */
	uint16_t suggested_external_port; /* 0: the server chooses */
	/* family 0: no preference, sent as the all-zeros address of the
	 * client's family (RFC 6887 section 11.1), as Tailscale does. */
	struct ipport suggested_external;
};

/* A response that passed every check against the request it answers. */
struct pcp_response {
	uint8_t opcode;	     /* the request's, without PCP_R_BIT */
	uint8_t result;	     /* PCP_RESULT_SUCCESS, or the code of PCP_ERR_RESULT */
	uint32_t lifetime_s; /* MAP: granted; on an error, how long it will last */
	uint32_t epoch_s;    /* Epoch Time (for portmap_epoch_check) */
	/* MAP only (0 otherwise). An IPv4-mapped address comes back as
	 * AF_INET. Not checked on the answer to a delete. */
	uint8_t protocol;
	uint16_t internal_port;
	struct ipport external; /* the assigned external address and port */
	size_t noptions;	/* options that followed, skipped */
};

/* Writes req: 24 bytes for ANNOUNCE, 60 for MAP. Returns that length, or
 * 0 if cap is too small or req is not a request we would send (unknown
 * opcode, client or suggested address of no known family, internal port
 * 0). */
size_t pcp_request_encode(const struct pcp_request *req, uint8_t *buf, size_t cap);

/* Parses the server's answer to sent: RFC 6887 section 8.3's length rules
 * (24 to 1100 bytes, a multiple of 4), version 2, R set, the same opcode,
 * options walked by their lengths; for MAP the same nonce, protocol and
 * internal port, then result 0; on a create a lifetime, an external port
 * and an external address ip_unicast_usable (lib/addr.h) accepts; on a delete,
 * lifetime 0. A NAT-PMP "Unsupported Version" answer (version 0, result
 * 1: the server speaks only NAT-PMP, section 9) is PCP_ERR_NATPMP.
 * Returns 0 or a negative enum pcp_err. On PCP_ERR_RESULT, out->opcode,
 * out->result, out->lifetime_s and out->epoch_s are filled and the rest
 * of *out is zero; on any other error *out is untouched. */
int pcp_response_parse(const uint8_t *p, size_t len, const struct pcp_request *sent,
		       struct pcp_response *out);

/* The RFC 6887 section 7.4 name of a result code ("NOT_AUTHORIZED"); static. */
const char *pcp_result_name(uint8_t result);
/* A static description of an enum pcp_err. */
const char *pcp_strerror(int err);

#endif
