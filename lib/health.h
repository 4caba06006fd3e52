/* health: msock's health warnings (Tailscale's health.Warnable) on the bus's
 * Health topic, key "<program>/<code>": the one table of codes, and the
 * helper a component (or the broker) calls with the condition each time it
 * may have changed: health_set(h, HEALTH_UDP_BLOCKED, !report.udp, "...").
 * A warning is set when its condition starts and its key deleted when it
 * ends (docs/bus.md, "Health warnings"). The helper sends only changes. */
#ifndef MSOCK_HEALTH_H
#define MSOCK_HEALTH_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.pb-c.h"

/* The codes. Zero is invalid; the order is the table's, not a wire value
 * (the bus carries the code's text). */
enum health_code {
	HEALTH_INVALID = 0,
	HEALTH_NETWORK_STATUS,
	HEALTH_NO_DERP_HOME,
	HEALTH_NO_DERP_CONNECTION,
	HEALTH_UDP_BLOCKED,
	HEALTH_NO_STUN_ANSWER,
	HEALTH_PORTMAP_FAILED,
	HEALTH_CRASH_LOOP,
	HEALTH_CLOCK_JUMP,
	HEALTH_CODE_COUNT,
};

enum {
	HEALTH_CODE_MAX = 48,  /* bytes of a code: a bus key's part */
	HEALTH_TEXT_MAX = 512, /* bytes of a text, NUL included */
	HEALTH_PROGRAM_MAX = 32,
	/* A Health key: "<program>/<code>". */
	HEALTH_KEY_MAX = HEALTH_PROGRAM_MAX + 1 + HEALTH_CODE_MAX,
};

struct health_warnable {
	enum health_code code;
	const char *name;      /* the code on the bus: "udp-blocked" */
	const char *owner;     /* the program that sets it ("broker" for the broker) */
	const char *severity;  /* "low", "medium", "high" */
	const char *tailscale; /* Tailscale's equivalent Warnable code, or "" */
	const char *text;      /* the text when the caller gives none */
};

/* The row of code c, or NULL for an invalid code. */
const struct health_warnable *health_warnable(enum health_code c);
/* The row named `name`, or NULL. */
const struct health_warnable *health_warnable_by_name(const char *name);

/* Where a helper sends its changes: the bus (health_init_bus) or the
 * broker's own cache. set gets a packed msock.Health; both return 0 or
 * -errno. */
struct health_sink {
	int (*set)(void *arg, const char *key, const ProtobufCMessage *m);
	int (*del)(void *arg, const char *key);
	void *arg;
};

struct health {
	struct health_sink sink;
	char program[HEALTH_PROGRAM_MAX];
	uint64_t (*unix_ms)(void); /* the clock for since_unix_ms: clock_unix_ms */
	struct {
		bool on;
		int64_t since_unix_ms;
		char text[HEALTH_TEXT_MAX];
	} w[HEALTH_CODE_COUNT];
};

struct bus;

/* A helper for `program`'s warnings, sending to sink. Deletes the keys of
 * every code `program` owns first: a warning a previous run set is gone
 * unless this run sets it again. */
void health_init(struct health *h, const char *program, const struct health_sink *sink);
/* The same, sending on bus b (bus_state_set, bus_state_del). */
void health_init_bus(struct health *h, struct bus *b, const char *program);
/* The condition of code c holds (`bad`) or not. Sets the warning (its text
 * from fmt, or the table's when fmt is NULL) when it starts or its text
 * changed; deletes its key when it ends; sends nothing otherwise. Returns
 * 1 when something was sent, 0 when not, -EINVAL for a code the helper's
 * program does not own. */
int health_set(struct health *h, enum health_code c, bool bad, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Is code c's warning on? */
bool health_on(const struct health *h, enum health_code c);

/* A Health value as a reader takes it: its key and body checked (key
 * "<component>/<code>", the body's component and code the key's, a code
 * of lowercase letters, digits and dashes, a known severity, a text of
 * printable characters in valid UTF-8). 0, or -EINVAL with why in *why (a static
 * string). ok=true is valid: the reader skips it as cleared. */
int health_msg_check(const char *key, const Msock__Health *m, const char **why);

#endif
