/* pb_field: reading a protobuf-c message's plain uint64 fields through its
 * descriptor, for counters whose field names are their names outside
 * (DiscoStats: msock-debug's label values, `msockctl status`'s keys), so
 * that a counter added to the .proto needs no second list of names. */
#ifndef MSOCK_PB_FIELD_H
#define MSOCK_PB_FIELD_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <string.h>

/* The value of field f of msg if it is a singular uint64 (proto3, no
 * presence); 0 for any other field, or when msg is NULL (not received). */
static inline uint64_t pb_field_u64(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	uint64_t v = 0;

	if (msg && f->type == PROTOBUF_C_TYPE_UINT64 && f->label == PROTOBUF_C_LABEL_NONE)
		memcpy(&v, (const uint8_t *)msg + f->offset, sizeof(v));
	return v;
}

#endif
