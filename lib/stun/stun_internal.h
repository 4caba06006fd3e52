/* stun_internal: helpers shared by the files of lib/stun/, not part of the
 * module's API. */
#ifndef MSOCK_STUN_INTERNAL_H
#define MSOCK_STUN_INTERNAL_H

#include <stdint.h>

#include "stun/stun.h"

/* Big-endian loads and stores; p must hold 2 or 4 bytes. */
uint16_t stun_get16(const uint8_t *p);
uint32_t stun_get32(const uint8_t *p);
void stun_put16(uint8_t *p, uint16_t v);
void stun_put32(uint8_t *p, uint32_t v);
/* Writes the 20-byte header; p must hold STUN_HEADER_BYTES. */
void stun_put_header(uint8_t *p, uint16_t type, uint16_t attrs_len,
		     const uint8_t txid[STUN_TXID_BYTES]);

#endif
