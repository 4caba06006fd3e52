/* external: components run by a supervisor other than the broker (config
 * "supervise": "external"; docs/deploy.md). The broker starts none of them.
 * It learns each one from the bus: the ZAP handler names every connection
 * by its uid, a row's fixed user (identity.c), and hands the pid here; a
 * new pid of the same row is a restart. The broker watches that pid
 * through a pidfd, for `msockctl status` (pid, uptime, restarts, as seen
 * from the bus), and names the supervisor from the process's cgroup. */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

enum {
	CGROUP_TEXT_MAX = 4096,
};

/* The last path element of the cgroup line `line` (no newline). */
static void last_element(const char *line, size_t len, const char **el, size_t *el_len)
{
	const char *slash = 0;

	for (size_t i = 0; i < len; i++)
		if (line[i] == '/')
			slash = line + i;
	*el = slash ? slash + 1 : line + len;
	*el_len = (size_t)(line + len - *el);
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* A systemd unit's name with suffix `suffix`: the characters of systemd's
 * unit_name_is_valid() (letters, digits, ":-_.\\", '@' before a template's
 * instance) and a name before the suffix. Anything else in a cgroup path was
 * made by whoever has a delegated subtree; named as is, it would reach the
 * log, a terminal, and the status JSON (jansson refuses what is not UTF-8). */
static bool unit_name(const char *s, size_t len, const char *suffix)
{
	if (len <= strlen(suffix) || !ends_with(s, len, suffix))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    !(c && strchr(":-_.\\@", c)))
			return false;
	}
	return true;
}

static bool contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(s + i, needle, n) == 0)
			return true;
	return false;
}

void broker_supervisor_from_cgroup(const char *text, size_t len, char *out, size_t cap)
{
	const char *p = text, *end = text + len;

	snprintf(out, cap, "external");
	/* cgroup v2: "0::/system.slice/msock-disco.service"; v1 has one line
	 * per hierarchy ("1:name=systemd:/system.slice/..."): any line
	 * says it. A container runtime's scope wins over the unit it runs in. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *path, *el;
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), el_len;
		const char *colon1 = memchr(p, ':', l), *colon2;

		if (colon1 && (colon2 = memchr(colon1 + 1, ':', (size_t)(p + l - colon1 - 1)))) {
			path = colon2 + 1;
			last_element(path, (size_t)(p + l - path), &el, &el_len);
			if (contains(path, (size_t)(p + l - path), "libpod-")) {
				snprintf(out, cap, "podman");
				return;
			}
			if (contains(path, (size_t)(p + l - path), "docker")) {
				snprintf(out, cap, "docker");
				return;
			}
			/* A name that does not fit ("systemd (", ")" and the NUL
			 * take 11 bytes) is left out, not cut; the unit is still
			 * systemd's. */
			bool unit = unit_name(el, el_len, ".service");
			if (unit && cap >= 11 && el_len <= cap - 11)
				snprintf(out, cap, "systemd (%.*s)", (int)el_len, el);
			else if (unit)
				snprintf(out, cap, "systemd");
		}
		p += l + (nl ? 1 : 0);
	}
}

/* The line of cgroup text `t` for hierarchy `hier` ("0:" up to and with
 * the second colon); its path in *path, *path_len. */
static bool find_hierarchy(const char *t, size_t len, const char *hier, size_t hier_len,
			   const char **path, size_t *path_len)
{
	const char *p = t, *end = t + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l >= hier_len && memcmp(p, hier, hier_len) == 0) {
			*path = p + hier_len;
			*path_len = l - hier_len;
			return true;
		}
		p += l + (nl ? 1 : 0);
	}
	return false;
}

/* How many bytes of path a and b share, in whole "/"-separated elements. */
static size_t common_dirs(const char *a, size_t al, const char *b, size_t bl)
{
	size_t i = 0, keep = 0;

	while (i < al && i < bl && a[i] == b[i]) {
		i++;
		if (a[i - 1] == '/')
			keep = i;
	}
	/* A whole last element of the shorter one counts too. */
	if ((i == al || a[i] == '/') && (i == bl || b[i] == '/'))
		keep = i;
	return keep;
}

size_t broker_cgroup_relative(const char *text, size_t len, const char *self, size_t self_len,
			      char *out, size_t cap)
{
	const char *p = text, *end = text + len;
	size_t used = 0;

	if (!cap)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *c1, *c2, *sp = 0;
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), skip = 0, sl = 0, hl;

		c1 = memchr(p, ':', l);
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(p + l - c1 - 1)) : 0;
		if (c2) {
			hl = (size_t)(c2 + 1 - p);
			if (find_hierarchy(self, self_len, p, hl, &sp, &sl))
				skip = common_dirs(p + hl, l - hl, sp, sl);
			if (skip && used + hl < cap) {
				/* The hierarchy, then "/" and what is left. */
				memcpy(out + used, p, hl);
				used += hl;
				if (used + 1 < cap)
					out[used++] = '/';
				p += hl + skip;
				l -= hl + skip;
				if (l && *p == '/') {
					p++;
					l--;
				}
			}
		}
		if (used + l + 1 > cap) {
			/* out is full: what fits, and no more lines. */
			memcpy(out + used, p, cap - used - 1);
			used = cap - 1;
			break;
		}
		memcpy(out + used, p, l);
		used += l;
		p += l;
		if (!nl)
			break;
		if (used + 1 == cap)
			break;
		out[used++] = '\n';
		p++;
	}
	out[used] = 0;
	return used;
}

void broker_supervisor_of(pid_t pid, char *out, size_t cap)
{
	char path[64], text[CGROUP_TEXT_MAX], self[CGROUP_TEXT_MAX], rel[CGROUP_TEXT_MAX];
	size_t len, self_len = 0, rel_len;

	snprintf(out, cap, "external");
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (broker_read_small(path, text, sizeof(text), &len) < 0)
		return;
	/* Seen from the broker's own place: what both share (a container both
	 * run in, without a cgroup namespace of its own) says nothing about
	 * who runs the component. */
	broker_read_small("/proc/self/cgroup", self, sizeof(self), &self_len);
	rel_len = broker_cgroup_relative(text, len, self, self_len, rel, sizeof(rel));
	broker_supervisor_from_cgroup(rel, rel_len, out, cap);
}

void broker_external_seen(struct broker *b, const struct proc *p, pid_t pid)
{
	struct child *ch = 0;

	for (size_t i = 0; i < b->n_children && !ch; i++)
		if (b->children[i].proc == p && b->children[i].wanted)
			ch = &b->children[i];
	if (!ch || (ch->sup.pid == pid && ch->sup.state == SUP_RUNNING))
		return;
	if (pid <= 0) {
		/* Connected from a pid namespace the broker cannot see into (a
		 * container of its own): the kernel gives pid 0. Its uid says
		 * which component it is; when it exits and who restarts it the
		 * broker cannot tell (no pidfd, no cgroup). */
		if (ch->sup.ran)
			return;
		sup_started(&ch->sup, 0, b->now_ns);
		snprintf(ch->supervisor, sizeof(ch->supervisor), "another pid namespace");
		log_info("%s is on the bus from another pid namespace (no pid to watch)",
			 ch->comp.name);
		broker_child_publish(b, ch);
		return;
	}
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	ch->pidfd = pidfd_open(pid, 0);
	sup_started(&ch->sup, pid, b->now_ns);
	ch->start_ticks = 0;
	broker_proc_start_ticks(pid, &ch->start_ticks);
	broker_supervisor_of(pid, ch->supervisor, sizeof(ch->supervisor));
	log_info("%s (pid %d, run by %s) is on the bus%s", ch->comp.name, (int)pid, ch->supervisor,
		 ch->sup.restarts ? " again" : "");
	broker_child_publish(b, ch);
	broker_record_children(b);
}
