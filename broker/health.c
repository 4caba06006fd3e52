/* health: the broker's own health warnings (crash-loop, clock-jump; the
 * table is lib/health.c's) and the status's Health array, read from the
 * cache: every component's warnings, malformed ones counted and left out.
 *
 * Timers: none of its own; broker_health_tick runs every loop pass (at
 * least once a second: the heartbeat) and compares the clocks then. */
#include "broker.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "health.h"
#include "state.pb-c.h"

static int sink_set(void *arg, const char *key, const ProtobufCMessage *m)
{
	return broker_state_set_msg(arg, BUS_T_Health, key, m);
}

static int sink_del(void *arg, const char *key)
{
	broker_state_del(arg, BUS_T_Health, key);
	return 0;
}

void broker_health_init(struct broker *b)
{
	health_init(&b->health, "broker", &(const struct health_sink){sink_set, sink_del, b});
	b->clock_watch = (struct clock_watch){0};
}

int64_t broker_clock_check(struct clock_watch *w, uint64_t mono_ns, int64_t real_ms)
{
	int64_t offset = real_ms - (int64_t)(mono_ns / NS_PER_MS), jump;

	if (!w->primed) {
		w->primed = true;
		w->offset_ms = offset;
		return 0;
	}
	jump = offset - w->offset_ms;
	w->offset_ms = offset;
	if (jump > -BROKER_CLOCK_JUMP_MIN_MS && jump < BROKER_CLOCK_JUMP_MIN_MS)
		return 0; /* NTP's slewing, or our own lateness: not a jump */
	w->jumped_mono_ns = mono_ns;
	w->jump_ms = jump;
	w->jump_at_real_ms = real_ms;
	return jump;
}

/* crash-loop: one warning naming every component in a loop. */
static void crash_loop(struct broker *b)
{
	char text[HEALTH_TEXT_MAX];
	size_t n = 0, k = 0;

	text[0] = 0;
	for (size_t i = 0; i < b->n_children; i++) {
		const struct child *ch = &b->children[i];
		if (!ch->wanted || !sup_crash_loop(&ch->sup, b->now_ns) || n >= sizeof(text))
			continue;
		k++;
		if (ch->sup.state == SUP_FAILED)
			n += (size_t)snprintf(
				text + n, sizeof(text) - n,
				"%s%s failed after %d starts in %d s (last: %s); "
				"msockctl restart %s tries again",
				k > 1 ? "; " : "", ch->comp.name, SUP_INTENSITY_MAX_STARTS,
				SUP_INTENSITY_WINDOW_MS / 1000, ch->sup.last_exit, ch->comp.name);
		else
			n += (size_t)snprintf(
				text + n, sizeof(text) - n,
				"%s%s is restarting in a loop (%u restarts; last: %s)",
				k > 1 ? "; " : "", ch->comp.name, ch->sup.restarts,
				ch->sup.last_exit[0] ? ch->sup.last_exit : "?");
	}
	health_set(&b->health, HEALTH_CRASH_LOOP, k > 0, "%s", text);
}

static void clock_jump(struct broker *b)
{
	struct clock_watch *w = &b->clock_watch;
	int64_t jump = broker_clock_check(w, b->now_ns, (int64_t)clock_unix_ms());
	bool on = w->jumped_mono_ns &&
		  b->now_ns - w->jumped_mono_ns < (uint64_t)BROKER_CLOCK_JUMP_SHOW_MS * NS_PER_MS;
	time_t at = (time_t)(w->jump_at_real_ms / 1000);
	struct tm tm;
	char when[32] = "?";

	if (jump)
		log_warn("the system clock jumped %s by %lld ms", jump > 0 ? "forward" : "back",
			 (long long)(jump > 0 ? jump : -jump));
	if (on && gmtime_r(&at, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	health_set(&b->health, HEALTH_CLOCK_JUMP, on,
		   "The system clock jumped %s by %.1f s at %s (set by hand, or the machine "
		   "slept): paths and DERP connections may take a moment to recover.",
		   w->jump_ms > 0 ? "forward" : "back",
		   (double)(w->jump_ms > 0 ? w->jump_ms : -w->jump_ms) / 1000, when);
}

void broker_health_tick(struct broker *b)
{
	crash_loop(b);
	clock_jump(b);
}

struct health_rows {
	struct broker *b;
	json_t *rows[BROKER_HEALTH_MAX_SHOWN];
	size_t n;
	uint64_t ignored;
};

static void health_row(void *arg, const struct state_entry *e)
{
	struct health_rows *r = arg;
	Msock__Health *m;
	const char *why = "does not decode as msock.Health";

	if (strcmp(e->topic, BUS_T_Health) != 0)
		return;
	m = msock__health__unpack(0, e->len, e->body);
	if (m && m->ok) {
		msock__health__free_unpacked(m, 0); /* cleared: as if deleted */
		return;
	}
	if (!m || health_msg_check(e->key, m, &why) < 0 || r->n == BROKER_HEALTH_MAX_SHOWN) {
		r->ignored++;
		log_rl(&r->b->rl_health, r->b->now_ns, LOG_LEVEL_WARN,
		       "status: Health key \"%.64s\" ignored: %s", e->key,
		       r->n == BROKER_HEALTH_MAX_SHOWN ? "too many warnings" : why);
		if (m)
			msock__health__free_unpacked(m, 0);
		return;
	}
	r->rows[r->n++] = json_pack("{s:s,s:s,s:s,s:s,s:I}", "Component", m->component, "Code",
				    m->code, "Severity", m->severity, "Text", m->text,
				    "SinceUnixMs", (json_int_t)m->since_unix_ms);
	msock__health__free_unpacked(m, 0);
	if (!r->rows[r->n - 1]) {
		r->n--; /* jansson refused it (out of memory): counted */
		r->ignored++;
	}
}

static int severity_rank(const char *s)
{
	return strcmp(s, "high") == 0 ? 0 : strcmp(s, "medium") == 0 ? 1 : 2;
}

/* Most severe first, then by component and code: a stable order. */
static int row_cmp(const void *pa, const void *pb)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int d = severity_rank(json_string_value(json_object_get(a, "Severity"))) -
		severity_rank(json_string_value(json_object_get(b, "Severity")));

	if (d)
		return d;
	d = strcmp(json_string_value(json_object_get(a, "Component")),
		   json_string_value(json_object_get(b, "Component")));
	return d ? d
		 : strcmp(json_string_value(json_object_get(a, "Code")),
			  json_string_value(json_object_get(b, "Code")));
}

json_t *broker_health_json(struct broker *b, uint64_t *ignored)
{
	struct health_rows *r = calloc(1, sizeof(*r)); /* 1,024 pointers: off the stack */
	json_t *arr = json_array();

	*ignored = 0;
	if (!r)
		return arr;
	r->b = b;
	state_cache_foreach(b->cache, BUS_T_Health, health_row, r);
	qsort(r->rows, r->n, sizeof(r->rows[0]), row_cmp);
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(arr, r->rows[i]);
	*ignored = r->ignored;
	free(r);
	return arr;
}
