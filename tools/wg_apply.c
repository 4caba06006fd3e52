/* wg_apply: msockctl wg-config --apply (see wg_apply.h for why peers are
 * re-created rather than modified). wg(8) runs as a child with a bounded
 * wait; its stderr is ours, so its own message reaches the person. */
#include "wg_apply.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"

enum {
	RUN_READ_CHUNK_BYTES = 64 * 1024,
	RUN_POLL_MS = 10,	/* how often a child that closed its stdout is checked for exit */
	RUN_EXIT_NOT_RUN = 127, /* the shell's status for a command that could not run */
};

static int cmp_want(const void *a, const void *b)
{
	const struct wg_want *x = *(const struct wg_want *const *)a;
	const struct wg_want *y = *(const struct wg_want *const *)b;
	int c = memcmp(x->key.b, y->key.b, KEY_LEN);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

static int parse_want(const char *line, size_t n, size_t lineno, struct wg_want *w, char *err,
		      size_t errcap)
{
	const char *sp = memchr(line, ' ', n), *why = "";

	if (!sp || (size_t)(sp - line) != KEY_B64_LEN) {
		errbuf_set(err, errcap, "line %zu: not \"<44-character base64 key> <endpoint>\"",
			   lineno);
		return -EINVAL;
	}
	memcpy(w->key_b64, line, KEY_B64_LEN);
	w->key_b64[KEY_B64_LEN] = 0;
	if (memchr(w->key_b64, ':', KEY_B64_LEN) ||
	    key_parse(w->key_b64, KEY_KIND_NODE_PUBLIC, &w->key, &why) < 0) {
		errbuf_set(err, errcap, "line %zu: key \"%s\": %s", lineno, w->key_b64,
			   *why ? why : "not base64");
		return -EINVAL;
	}
	n -= KEY_B64_LEN + 1;
	if (n == 0 || n >= sizeof(w->endpoint_text)) {
		errbuf_set(err, errcap, "line %zu: no endpoint, or one too long", lineno);
		return -EINVAL;
	}
	memcpy(w->endpoint_text, sp + 1, n);
	w->endpoint_text[n] = 0;
	if (ipport_parse(w->endpoint_text, &w->endpoint) < 0) {
		errbuf_set(err, errcap, "line %zu: endpoint \"%s\": not ip:port or [ip6]:port",
			   lineno, w->endpoint_text);
		return -EINVAL;
	}
	return 0;
}

int wg_wants_parse(const char *text, struct wg_want **out, size_t *n, char *err, size_t errcap)
{
	const char *p = text, *end = text + strlen(text);
	struct wg_want *w = NULL, **sorted = NULL;
	size_t lines = 0, k = 0, lineno = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	lines += end > text && end[-1] != '\n';
	if (lines == 0)
		return 0;
	w = calloc(lines, sizeof(*w));
	sorted = calloc(lines, sizeof(*sorted));
	if (!w || !sorted) {
		errbuf_set(err, errcap, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		rc = parse_want(p, len, lineno, &w[k], err, errcap);
		if (rc < 0)
			goto out;
		sorted[k] = &w[k];
		k++;
		p += len + 1;
	}
	qsort(sorted, k, sizeof(*sorted), cmp_want);
	for (size_t i = 1; i < k; i++) {
		if (key_equal(&sorted[i - 1]->key, &sorted[i]->key)) {
			errbuf_set(err, errcap, "line %zu: peer %s again (line %zu has it)",
				   (size_t)(sorted[i] - w) + 1, sorted[i]->key_b64,
				   (size_t)(sorted[i - 1] - w) + 1);
			rc = -EINVAL;
			goto out;
		}
	}
	*out = w;
	*n = k;
	w = NULL;
out:
	free(w);
	free(sorted);
	return rc;
}

void wg_plan(const struct wg_want *wants, size_t n, const struct wg_dump *d, struct wg_step *steps)
{
	for (size_t i = 0; i < n; i++) {
		const struct wg_dump_peer *have = wg_dump_find(d, &wants[i].key);

		steps[i].want = &wants[i];
		steps[i].have = have;
		if (!have)
			steps[i].action = WG_ACTION_CREATE;
		else if (have->has_endpoint && !have->endpoint_scoped &&
			 ipport_equal(&have->endpoint, &wants[i].endpoint))
			steps[i].action = WG_ACTION_UNCHANGED;
		else
			steps[i].action = WG_ACTION_RECREATE;
	}
}

static bool has_psk(const struct wg_step *s)
{
	return s->action == WG_ACTION_RECREATE && s->have->has_preshared_key;
}

size_t wg_batch_end(const struct wg_step *steps, size_t from, size_t n)
{
	size_t peers = 0, psks = 0, i;

	for (i = from; i < n; i++) {
		if (steps[i].action == WG_ACTION_UNCHANGED)
			continue;
		if (peers == WG_PEERS_PER_CALL || (has_psk(&steps[i]) && psks == WG_PSKS_PER_CALL))
			break;
		peers++;
		psks += has_psk(&steps[i]);
	}
	return i;
}

static void call_start(struct wg_call *c, const char *iface)
{
	c->argc = 0;
	c->n_psk = 0;
	c->argv[c->argc++] = "wg";
	c->argv[c->argc++] = "set";
	c->argv[c->argc++] = (char *)iface;
}

size_t wg_call_remove(struct wg_call *c, const char *iface, const struct wg_step *steps,
		      size_t from, size_t to)
{
	size_t k = 0;

	call_start(c, iface);
	for (size_t i = from; i < to; i++) {
		if (steps[i].action != WG_ACTION_RECREATE)
			continue;
		c->argv[c->argc++] = "peer";
		c->argv[c->argc++] = (char *)steps[i].want->key_b64;
		c->argv[c->argc++] = "remove";
		k++;
	}
	c->argv[c->argc] = NULL;
	return k;
}

size_t wg_call_add(struct wg_call *c, const char *iface, const struct wg_step *steps, size_t from,
		   size_t to)
{
	size_t k = 0;

	call_start(c, iface);
	for (size_t i = from; i < to; i++) {
		const struct wg_step *s = &steps[i];

		if (s->action != WG_ACTION_CREATE && s->action != WG_ACTION_RECREATE)
			continue;
		c->argv[c->argc++] = "peer";
		c->argv[c->argc++] = (char *)s->want->key_b64;
		c->argv[c->argc++] = "endpoint";
		c->argv[c->argc++] = (char *)s->want->endpoint_text;
		if (s->action == WG_ACTION_RECREATE && s->have->allowed_ips) {
			c->argv[c->argc++] = "allowed-ips";
			c->argv[c->argc++] = s->have->allowed_ips;
		}
		if (s->action == WG_ACTION_RECREATE && s->have->persistent_keepalive_s) {
			snprintf(c->keepalive[k], sizeof(c->keepalive[k]), "%u",
				 s->have->persistent_keepalive_s);
			c->argv[c->argc++] = "persistent-keepalive";
			c->argv[c->argc++] = c->keepalive[k];
		}
		if (has_psk(s)) {
			c->psk_path[c->n_psk][0] = 0; /* wg_apply names the pipe */
			c->psk[c->n_psk] = &s->have->preshared_key;
			c->argv[c->argc++] = "preshared-key";
			c->argv[c->argc++] = c->psk_path[c->n_psk++];
		}
		k++;
	}
	c->argv[c->argc] = NULL;
	return k;
}

/* Appends [p, p+n) to *buf, growing it by copies so that no freed block
 * keeps a secret (the dump holds private and preshared keys). */
static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n > *cap) {
		size_t ncap = *cap ? *cap * 2 : RUN_READ_CHUNK_BYTES;
		char *nb;

		while (ncap < *len + n)
			ncap *= 2;
		nb = malloc(ncap);
		if (!nb)
			return -ENOMEM;
		if (*buf) {
			memcpy(nb, *buf, *len);
			sodium_memzero(*buf, *cap);
			free(*buf);
		}
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

static void wipe_free(char *buf, size_t cap)
{
	if (buf)
		sodium_memzero(buf, cap);
	free(buf);
}

/* Runs wg with argv: its stdout into *out (when out is not NULL; at most
 * WG_DUMP_MAX_BYTES), keep[0..n_keep) left open for it. Waits at most
 * WG_CALL_TIMEOUT_MS, then kills it. Returns 0 when it exited 0, else -1
 * with err saying what happened ("what" names the call in it). */
static int run_wg(char *const argv[], const int *keep, size_t n_keep, char **out, size_t *out_len,
		  size_t *out_cap, const char *what, char *err, size_t errcap)
{
	uint64_t deadline = clock_mono_ns() + (uint64_t)WG_CALL_TIMEOUT_MS * NS_PER_MS;
	int pfd[2] = {-1, -1}, status = 0, rc = -1;
	bool exited = false;
	char chunk[4096];
	pid_t pid;

	if (out && pipe2(pfd, O_CLOEXEC) < 0) {
		errbuf_set(err, errcap, "%s: pipe: %s", what, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		errbuf_set(err, errcap, "%s: fork: %s", what, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (out && dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(RUN_EXIT_NOT_RUN);
		for (size_t i = 0; i < n_keep; i++)
			fcntl(keep[i], F_SETFD, 0);
		execvp("wg", argv);
		dprintf(STDERR_FILENO, "msockctl: cannot run wg (from wireguard-tools): %s\n",
			strerror(errno));
		_exit(RUN_EXIT_NOT_RUN);
	}
	if (out) {
		close(pfd[1]);
		pfd[1] = -1;
	}
	while (!exited) {
		uint64_t now = clock_mono_ns();

		if (now >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			errbuf_set(err, errcap,
				   "%s did not finish within %d s and was killed (does the "
				   "WireGuard process of the interface hang?)",
				   what, WG_CALL_TIMEOUT_MS / 1000);
			goto out;
		}
		if (pfd[0] >= 0) {
			struct pollfd p = {.fd = pfd[0], .events = POLLIN};
			ssize_t n;

			if (poll(&p, 1, clock_poll_ms(now, deadline, 1000)) <= 0)
				continue;
			n = read(pfd[0], chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[0]);
				pfd[0] = -1;
				continue;
			}
			if (*out_len + (size_t)n > WG_DUMP_MAX_BYTES ||
			    append(out, out_len, out_cap, chunk, (size_t)n) < 0) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				errbuf_set(err, errcap,
					   "%s: more output than %d bytes, or no memory", what,
					   WG_DUMP_MAX_BYTES);
				goto out;
			}
			continue;
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			exited = true;
		else if (w < 0 && errno != EINTR)
			break;
		else
			nanosleep(&(struct timespec){.tv_nsec = RUN_POLL_MS * (long)NS_PER_MS}, 0);
	}
	if (!exited)
		errbuf_set(err, errcap, "%s: waitpid: %s", what, strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == RUN_EXIT_NOT_RUN)
		errbuf_set(err, errcap, "%s: wg could not run (is wireguard-tools installed?)",
			   what);
	else if (WIFEXITED(status))
		errbuf_set(err, errcap, "%s failed (exit status %d; wg's message is above)", what,
			   WEXITSTATUS(status));
	else
		errbuf_set(err, errcap, "%s was killed by signal %d", what,
			   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	sodium_memzero(chunk, sizeof(chunk));
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return rc;
}

/* Each preshared key of the call into a pipe of its own, which wg reads
 * as /dev/fd/N: the key never appears on a command line (ps shows those)
 * nor in a file. A pipe holds far more than 45 bytes, so the write does
 * not block; the write end is closed, so wg reads to EOF. */
static int psk_pipes(struct wg_call *c, int *fds, char *err, size_t errcap)
{
	char text[KEY_B64_LEN + 2];
	int p[2];

	for (size_t i = 0; i < c->n_psk; i++) {
		if (pipe2(p, O_CLOEXEC) < 0) {
			errbuf_set(err, errcap, "a pipe for a preshared key: %s", strerror(errno));
			return -1;
		}
		fds[i] = p[0];
		key_to_base64(c->psk[i], text, sizeof(text));
		text[KEY_B64_LEN] = '\n';
		ssize_t n = write(p[1], text, KEY_B64_LEN + 1);
		sodium_memzero(text, sizeof(text));
		close(p[1]);
		if (n != KEY_B64_LEN + 1) {
			errbuf_set(err, errcap, "writing a preshared key to its pipe failed");
			return -1;
		}
		snprintf(c->psk_path[i], sizeof(c->psk_path[i]), "/dev/fd/%d", p[0]);
	}
	return 0;
}

static void append_err(char *err, size_t errcap, const char *more)
{
	size_t len = strlen(err);

	if (len + 1 < errcap)
		snprintf(err + len, errcap - len, "%s", more);
}

/* After a failed call: the peers of [from, to) that were removed and may
 * not be back, with what they had, so a person can put them back. */
static void lost_peers(const char *iface, const struct wg_step *steps, size_t from, size_t to,
		       char *err, size_t errcap)
{
	size_t len = strlen(err);

	for (size_t i = from; i < to && len + 1 < errcap; i++) {
		const struct wg_step *s = &steps[i];
		int w;

		if (s->action != WG_ACTION_RECREATE)
			continue;
		w = snprintf(err + len, errcap - len, "\n  wg set %s peer %s endpoint %s", iface,
			     s->want->key_b64, s->want->endpoint_text);
		len += w > 0 ? (size_t)w : 0;
		if (len + 1 < errcap && s->have->allowed_ips) {
			w = snprintf(err + len, errcap - len, " allowed-ips %s",
				     s->have->allowed_ips);
			len += w > 0 ? (size_t)w : 0;
		}
		if (len + 1 < errcap && s->have->persistent_keepalive_s) {
			w = snprintf(err + len, errcap - len, " persistent-keepalive %u",
				     s->have->persistent_keepalive_s);
			len += w > 0 ? (size_t)w : 0;
		}
		if (len + 1 < errcap && s->have->has_preshared_key) {
			w = snprintf(err + len, errcap - len, " preshared-key FILE (it had one)");
			len += w > 0 ? (size_t)w : 0;
		}
	}
}

static int apply_batch(const char *iface, struct wg_call *c, const struct wg_step *steps,
		       size_t from, size_t to, char *err, size_t errcap)
{
	int fds[WG_PSKS_PER_CALL];
	char what[128];
	size_t removed, added;
	int rc = -1;

	removed = wg_call_remove(c, iface, steps, from, to);
	snprintf(what, sizeof(what), "wg set %s removing %zu peer%s", iface, removed,
		 removed == 1 ? "" : "s");
	if (removed && run_wg(c->argv, NULL, 0, NULL, NULL, NULL, what, err, errcap) < 0) {
		append_err(err, errcap, "\nSome of them may be removed; each can be put back with");
		lost_peers(iface, steps, from, to, err, errcap);
		return -1;
	}
	added = wg_call_add(c, iface, steps, from, to);
	if (added == 0)
		return 0;
	snprintf(what, sizeof(what), "wg set %s adding %zu peer%s", iface, added,
		 added == 1 ? "" : "s");
	for (size_t i = 0; i < WG_PSKS_PER_CALL; i++)
		fds[i] = -1;
	if (psk_pipes(c, fds, err, errcap) == 0 &&
	    run_wg(c->argv, fds, c->n_psk, NULL, NULL, NULL, what, err, errcap) == 0)
		rc = 0;
	for (size_t i = 0; i < c->n_psk; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	if (rc < 0 && removed) {
		char line[160];
		snprintf(line, sizeof(line),
			 "\n%zu of these peers were removed to be re-created and may be missing "
			 "now; each can be put back with",
			 removed);
		append_err(err, errcap, line);
		lost_peers(iface, steps, from, to, err, errcap);
	}
	return rc;
}

int wg_apply(const char *iface, const struct wg_want *wants, size_t n, struct wg_apply_result *r,
	     char *err, size_t errcap)
{
	char *argv[] = {"wg", "show", (char *)iface, "dump", NULL};
	char what[64], perr[WG_DUMP_ERR_MAX];
	struct wg_dump d = {0};
	struct wg_step *steps = NULL;
	struct wg_call *c = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	snprintf(what, sizeof(what), "wg show %s dump", iface);
	if (run_wg(argv, NULL, 0, &text, &len, &cap, what, err, errcap) < 0)
		goto out;
	if (wg_dump_parse(text, len, &d, perr, sizeof(perr)) < 0) {
		errbuf_set(err, errcap, "%s: %s", what, perr);
		goto out;
	}
	steps = calloc(n ? n : 1, sizeof(*steps));
	c = malloc(sizeof(*c));
	if (!steps || !c) {
		errbuf_set(err, errcap, "out of memory");
		goto out;
	}
	wg_plan(wants, n, &d, steps);
	r->peers = n;
	for (size_t i = 0; i < n; i++) {
		r->created += steps[i].action == WG_ACTION_CREATE;
		r->recreated += steps[i].action == WG_ACTION_RECREATE;
		r->unchanged += steps[i].action == WG_ACTION_UNCHANGED;
	}
	for (size_t from = 0, to; from < n; from = to) {
		to = wg_batch_end(steps, from, n);
		if (apply_batch(iface, c, steps, from, to, err, errcap) < 0)
			goto out;
	}
	rc = 0;
out:
	wipe_free(text, cap);
	free(c);
	free(steps);
	wg_dump_free(&d);
	return rc;
}
