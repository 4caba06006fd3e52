/* reload_wait: `msockctl reload --wait`, msock's bus barrier (the seed
 * magicsock's Synchronize; docs/bus.md, "The config barrier"). The broker
 * counts config generations (b->config_gen) and sends the current one in
 * every BrokerHeartbeat, at once after a reload; each component says
 * which one it has applied (ConfigApplied, set by lib/bus); a waiting
 * control request is answered when every running component has reached
 * its reload's generation, or at its deadline with the ones that have not.
 * Timers: each wait's deadline_ns (broker_reload_waits_deadline). */
#include "broker.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "state.pb-c.h"

enum broker_wait_verdict broker_wait_verdict(const struct broker *b, const struct child *ch,
					     uint64_t gen)
{
	if (!ch->wanted)
		return BROKER_WAIT_GONE;
	if (b->cfg->supervise == CFG_SUPERVISE_BROKER) {
		switch (ch->sup.state) {
		case SUP_RUNNING:
			break;
		case SUP_BACKOFF: /* due to start: it starts with the new config */
			return BROKER_WAIT_PENDING;
		case SUP_STOPPING: /* a restart (a new key, a rebind) or a stop */
			return ch->restart_after_stop ? BROKER_WAIT_PENDING : BROKER_WAIT_SKIPPED;
		default:
			return BROKER_WAIT_SKIPPED;
		}
	} else if (!ch->sup.ran || ch->sup.state != SUP_RUNNING) {
		/* Supervised from outside: "waiting" or "exited"; when its
		 * supervisor starts it again, it starts with the new config. */
		return BROKER_WAIT_SKIPPED;
	}
	/* An acknowledgement counts for the run it came from: one heard
	 * before this run started was the previous process's. */
	return ch->applied_gen >= gen && ch->applied_ns >= ch->sup.started_ns ? BROKER_WAIT_DONE
									      : BROKER_WAIT_PENDING;
}

void broker_config_applied(struct broker *b, const char *key, const uint8_t *body, size_t len)
{
	Msock__ConfigApplied *m = msock__config_applied__unpack(0, len, body);

	if (!m)
		return;
	/* Another broker's generation means nothing here: a component sets
	 * its state again after a broker restart, this key too. */
	for (size_t i = 0; m->epoch == b->epoch && i < b->n_children; i++) {
		struct child *ch = &b->children[i];
		size_t np = strlen(ch->comp.program);
		if (strncmp(key, ch->comp.program, np) != 0 || key[np] != '/' ||
		    strcmp(key + np + 1, ch->comp.name) != 0)
			continue;
		ch->applied_gen = m->generation;
		ch->applied_ns = b->now_ns;
		break;
	}
	msock__config_applied__free_unpacked(m, 0);
}

/* Appends to out[0..cap) at *n, cut (NUL-terminated) when full. */
static void add(char *out, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(char *out, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(out + *n, cap - *n, fmt, ap);
	va_end(ap);
	*n = k < 0 ? cap : *n + (size_t)k;
}

size_t broker_wait_report(const struct broker *b, uint64_t gen, const char *reloaded,
			  uint32_t wait_ms, bool timed_out, char *out, size_t cap)
{
	size_t n = 0, pending = 0, listed = 0, skipped = 0;

	if (!cap)
		return 0;
	out[0] = 0;
	for (size_t i = 0; i < b->n_children; i++)
		pending += broker_wait_verdict(b, &b->children[i], gen) == BROKER_WAIT_PENDING;
	if (pending && timed_out) {
		add(out, cap, &n,
		    "%s (generation %llu), but not applied within %.1f s by:", reloaded,
		    (unsigned long long)gen, wait_ms / 1000.0);
		for (size_t i = 0; i < b->n_children; i++) {
			const struct child *ch = &b->children[i];
			char at[32] = "none yet";
			if (broker_wait_verdict(b, ch, gen) != BROKER_WAIT_PENDING)
				continue;
			if (ch->applied_gen && ch->applied_ns >= ch->sup.started_ns)
				snprintf(at, sizeof(at), "%llu",
					 (unsigned long long)ch->applied_gen);
			add(out, cap, &n, "%s %s (%s, pid %d, at generation %s)",
			    listed++ ? "," : "", ch->comp.name, broker_child_state_name(b, ch),
			    (int)ch->sup.pid, at);
		}
	} else if (!pending) {
		add(out, cap, &n,
		    "%s; applied by every running component (generation %llu):", reloaded,
		    (unsigned long long)gen);
		for (size_t i = 0; i < b->n_children; i++)
			if (broker_wait_verdict(b, &b->children[i], gen) == BROKER_WAIT_DONE)
				add(out, cap, &n, "%s %s", listed++ ? "," : "",
				    b->children[i].comp.name);
		if (!listed)
			add(out, cap, &n, " none running");
	}
	for (size_t i = 0; (!pending || timed_out) && i < b->n_children; i++) {
		const struct child *ch = &b->children[i];
		if (broker_wait_verdict(b, ch, gen) != BROKER_WAIT_SKIPPED)
			continue;
		add(out, cap, &n, "%s %s (%s)",
		    skipped++ ? "," : "; not running, not waited for:", ch->comp.name,
		    broker_child_state_name(b, ch));
	}
	return pending;
}

bool broker_reload_wait_free(const struct broker *b)
{
	for (size_t i = 0; i < BROKER_RELOAD_WAITS; i++)
		if (!b->waits[i].used)
			return true;
	return false;
}

void broker_reload_wait_start(struct broker *b, const void *id, size_t id_len, uint32_t wait_ms,
			      const char *reloaded)
{
	for (size_t i = 0; i < BROKER_RELOAD_WAITS; i++) {
		struct reload_wait *w = &b->waits[i];
		if (w->used)
			continue;
		if (id_len > sizeof(w->id))
			break;
		memset(w, 0, sizeof(*w));
		w->used = true;
		memcpy(w->id, id, id_len);
		w->id_len = id_len;
		w->gen = b->config_gen;
		w->wait_ms = wait_ms;
		w->deadline_ns = b->now_ns + (uint64_t)wait_ms * NS_PER_MS;
		snprintf(w->reloaded, sizeof(w->reloaded), "%s", reloaded);
		log_info("reload: waiting up to %u ms for the components to apply generation "
			 "%llu",
			 wait_ms, (unsigned long long)w->gen);
		broker_reload_waits_tick(b); /* nothing to wait for: the answer now */
		return;
	}
	/* control.c checked for room first; a routing id over ZeroMQ's limit
	 * cannot come from libzmq. */
	broker_control_reply(b, id, id_len, false, "no room to wait for the components", 0);
}

void broker_reload_waits_tick(struct broker *b)
{
	char text[4096];

	for (size_t i = 0; i < BROKER_RELOAD_WAITS; i++) {
		struct reload_wait *w = &b->waits[i];
		bool late;
		size_t pending;

		if (!w->used)
			continue;
		if (b->stopping) {
			snprintf(text, sizeof(text), "%s, but the broker is stopping", w->reloaded);
			broker_control_reply(b, w->id, w->id_len, false, text, 0);
			w->used = false;
			continue;
		}
		late = b->now_ns >= w->deadline_ns;
		pending = broker_wait_report(b, w->gen, w->reloaded, w->wait_ms, late, text,
					     sizeof(text));
		if (pending && !late)
			continue;
		if (pending)
			log_warn("reload --wait: %s", text);
		broker_control_reply(b, w->id, w->id_len, pending == 0, pending ? text : 0,
				     pending ? 0 : text);
		w->used = false;
	}
}

uint64_t broker_reload_waits_deadline(const struct broker *b)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < BROKER_RELOAD_WAITS; i++)
		if (b->waits[i].used && b->waits[i].deadline_ns < next)
			next = b->waits[i].deadline_ns;
	return next;
}
