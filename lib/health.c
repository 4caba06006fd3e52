/* health: the table of health codes and the helper that sets and deletes
 * them (health.h). Codes, severities and texts follow Tailscale's
 * health/warnings.go where it has an equivalent. */
#include "health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "clock.h"

/* docs/bus.md's "Health warnings" table lists these; health_test checks
 * that it does. */
static const struct health_warnable table[] = {
	{HEALTH_NETWORK_STATUS, "network-status", "dataplane", "medium", "network-status",
	 "msock cannot connect because the network is down: no usable link. Check your "
	 "Internet connection."},
	{HEALTH_NO_DERP_HOME, "no-derp-home", "derp", "medium", "no-derp-home",
	 "msock has no home relay server: the DERP map has no region that may be home."},
	{HEALTH_NO_DERP_CONNECTION, "no-derp-connection", "derp", "medium", "no-derp-connection",
	 "msock could not connect to its home relay server. Your Internet connection might be "
	 "down, or the server might be temporarily unavailable."},
	{HEALTH_UDP_BLOCKED, "udp-blocked", "netcheck", "medium", "",
	 "UDP is blocked: no STUN server answered, though relay servers answer over HTTPS. "
	 "Peers are reached over DERP only."},
	{HEALTH_NO_STUN_ANSWER, "no-stun-answer", "netcheck", "medium", "",
	 "No STUN server answered and no relay server could be measured: msock cannot learn "
	 "its public address."},
	{HEALTH_PORTMAP_FAILED, "portmap-failed", "portmapper", "low", "",
	 "The gateway speaks a port-mapping protocol, but no mapping could be made."},
	{HEALTH_CRASH_LOOP, "crash-loop", "broker", "high", "",
	 "A component is restarting in a loop."},
	{HEALTH_CLOCK_JUMP, "clock-jump", "broker", "low", "",
	 "The system clock jumped (set by hand, or the machine slept)."},
};

const struct health_warnable *health_warnable(enum health_code c)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == c)
			return &table[i];
	return 0;
}

const struct health_warnable *health_warnable_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return 0;
}

static int bus_set(void *arg, const char *key, const ProtobufCMessage *m)
{
	return bus_state_set(arg, BUS_T_Health, key, m);
}

static int bus_del(void *arg, const char *key)
{
	return bus_state_del(arg, BUS_T_Health, key);
}

static void key_of(const struct health *h, const struct health_warnable *w, char *key)
{
	snprintf(key, HEALTH_KEY_MAX, "%s/%s", h->program, w->name);
}

void health_init(struct health *h, const char *program, const struct health_sink *sink)
{
	char key[HEALTH_KEY_MAX];

	memset(h, 0, sizeof(*h));
	h->sink = *sink;
	h->unix_ms = clock_unix_ms;
	snprintf(h->program, sizeof(h->program), "%s", program);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].owner, h->program) == 0) {
			key_of(h, &table[i], key);
			h->sink.del(h->sink.arg, key);
		}
}

void health_init_bus(struct health *h, struct bus *b, const char *program)
{
	health_init(h, program, &(const struct health_sink){bus_set, bus_del, b});
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 (a stray or
 * overlong byte, a surrogate, past U+10FFFF, or cut short by the NUL). */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Replaces control bytes with spaces and cuts the text before the first
 * byte that is not valid UTF-8 (a multi-byte character vsnprintf cut in
 * two): JSON carries UTF-8 only. */
static void one_line_utf8(char *text)
{
	unsigned char *p = (unsigned char *)text;

	while (*p) {
		size_t n = utf8_len(p);
		if (!n) {
			*p = 0;
			return;
		}
		if (n == 1 && (*p < 0x20 || *p == 0x7f))
			*p = ' ';
		p += n;
	}
}

int health_set(struct health *h, enum health_code c, bool bad, const char *fmt, ...)
{
	const struct health_warnable *w = health_warnable(c);
	Msock__Health m = MSOCK__HEALTH__INIT;
	char key[HEALTH_KEY_MAX], text[HEALTH_TEXT_MAX];
	va_list ap;

	if (!w || strcmp(w->owner, h->program) != 0)
		return -EINVAL;
	key_of(h, w, key);
	if (!bad) {
		if (!h->w[c].on)
			return 0;
		h->w[c].on = false;
		h->sink.del(h->sink.arg, key);
		return 1;
	}
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
	} else {
		snprintf(text, sizeof(text), "%s", w->text);
	}
	/* One line: a newline or other control byte would break status. */
	one_line_utf8(text);
	if (h->w[c].on && strcmp(h->w[c].text, text) == 0)
		return 0;
	if (!h->w[c].on)
		h->w[c].since_unix_ms = (int64_t)h->unix_ms();
	h->w[c].on = true;
	snprintf(h->w[c].text, sizeof(h->w[c].text), "%s", text);
	m.component = h->program;
	m.code = (char *)w->name;
	m.severity = (char *)w->severity;
	m.text = h->w[c].text;
	m.since_unix_ms = h->w[c].since_unix_ms;
	h->sink.set(h->sink.arg, key, &m.base);
	return 1;
}

bool health_on(const struct health *h, enum health_code c)
{
	return c > HEALTH_INVALID && c < HEALTH_CODE_COUNT && h->w[c].on;
}

static bool code_ok(const char *s, size_t n)
{
	if (n == 0 || n > HEALTH_CODE_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

int health_msg_check(const char *key, const Msock__Health *m, const char **why)
{
	const char *slash = key ? strchr(key, '/') : 0;
	size_t plen;

	*why = 0;
	if (!slash || slash == key) {
		*why = "key is not <component>/<code>";
		return -EINVAL;
	}
	plen = (size_t)(slash - key);
	if (!m->component || strlen(m->component) != plen || memcmp(m->component, key, plen) != 0) {
		*why = "component is not the key's";
		return -EINVAL;
	}
	if (!code_ok(slash + 1, strlen(slash + 1)) || !m->code || strcmp(m->code, slash + 1) != 0) {
		*why = "code is not the key's, or not lowercase-with-dashes";
		return -EINVAL;
	}
	if (!m->severity ||
	    (strcmp(m->severity, "low") != 0 && strcmp(m->severity, "medium") != 0 &&
	     strcmp(m->severity, "high") != 0)) {
		*why = "severity is not low, medium or high";
		return -EINVAL;
	}
	if (!m->text || !m->text[0] || strlen(m->text) >= HEALTH_TEXT_MAX) {
		*why = "text is empty or too long";
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)m->text; *p;) {
		size_t n = utf8_len(p);
		if (!n) {
			*why = "text is not UTF-8";
			return -EINVAL;
		}
		if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
			*why = "text has a control character";
			return -EINVAL;
		}
		p += n;
	}
	return 0;
}
