/* debug_http: msock-debug under a real broker, beside a real dataplane,
 * on its default unix socket (<run_dir>/debug.sock, mode 0600): the page
 * names the configured peer and draws its timeline, /metrics answers, and
 * malformed requests (a bad method, a header too large, a bad path, a bad
 * peer, a NUL byte, HTTP/2, a slow client, too many connections) get clear
 * errors while the component keeps running with no restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"
#include "key.h"

enum {
	RESP_MAX_BYTES = 1 << 20,
	SLOW_WAIT_MS = 8000, /* DBG_HEAD_TIMEOUT_MS (5 s) and slack */
};

struct world {
	struct th_broker b;
	int wg;
	uint16_t wg_port;
	char peer[KEY_TEXT_MAX], hex[65];
	char sock[400];
	char resp[RESP_MAX_BYTES];
};

static int dial(const struct world *w)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", w->sock);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until EOF (the server closes after each response) or timeout. */
static size_t read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	uint64_t end = clock_mono_ns() + (uint64_t)timeout_ms * 1000000;

	while (n + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = clock_mono_ns();
		ssize_t r;
		if (now >= end || poll(&p, 1, (int)((end - now) / 1000000) + 1) <= 0)
			break;
		r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return n;
}

/* Sends req whole and returns the response's status code (0: none). */
static int ask(struct world *w, const char *req, size_t len)
{
	int fd = dial(w), code = 0;

	if (fd < 0)
		return 0;
	if (send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len) {
		read_all(fd, w->resp, sizeof(w->resp), TH_WAIT_MS);
		if (sscanf(w->resp, "HTTP/1.1 %d", &code) != 1)
			code = 0;
	}
	close(fd);
	return code;
}

static int get(struct world *w, const char *path)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: msock\r\n\r\n", path);
	return ask(w, req, strlen(req));
}

static bool page_has_peer(void *arg)
{
	struct world *w = arg;

	return get(w, "/debug/magicsock") == 200 && strstr(w->resp, w->hex) &&
	       strstr(w->resp, "class=\"lane\"");
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct key32 priv, pub;
	char extra[1024];

	if (!w)
		return -1;
	*state = w;
	w->wg = th_udp_loopback(0, &w->wg_port);
	key_generate(&priv);
	key_public(&priv, &pub);
	key_format(KEY_KIND_NODE_PUBLIC, &pub, w->peer, sizeof(w->peer));
	snprintf(w->hex, sizeof(w->hex), "%s", w->peer + strlen("nodekey:"));
	snprintf(extra, sizeof(extra),
		 ",\n  \"listen_port\": 0, \"wg_listen_port\": %u,\n"
		 "  \"peers\": [ {\"name\": \"alice<b>\", \"node_key\": \"%s\", \"endpoints\": "
		 "[\"127.0.0.1:9\"]} ]",
		 w->wg_port, w->peer);
	if (th_broker_start(&w->b, "[\"dataplane\", \"debug\"]", extra) < 0)
		return -1;
	snprintf(w->sock, sizeof(w->sock), "%s/run/debug.sock", w->b.dir);
	return th_wait(page_has_peer, w) ? 0 : -1;
}

static int teardown(void **state)
{
	struct world *w = *state;

	th_broker_stop(&w->b, SIGTERM, 0);
	th_broker_cleanup(&w->b);
	close(w->wg);
	free(w);
	return 0;
}

static void test_page(void **state)
{
	struct world *w = *state;
	struct stat st;

	assert_int_equal(stat(w->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600); /* root (or the test's user) only */
	assert_int_equal(get(w, "/debug/magicsock"), 200);
	assert_non_null(strstr(w->resp, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(w->resp, "Content-Security-Policy: default-src 'none'"));
	/* The peer's name is escaped: the bus is not trusted to write HTML. */
	assert_non_null(strstr(w->resp, "alice&lt;b&gt;"));
	assert_null(strstr(w->resp, "alice<b>"));
	assert_non_null(strstr(w->resp, "<svg class=\"timeline\" id=\"timeline-"));
	assert_non_null(strstr(w->resp, "data-path=\"direct:127.0.0.1:9\""));
	assert_non_null(strstr(w->resp, "class=\"component\" data-name=\"dataplane\""));
	assert_int_equal(get(w, "/"), 200);
	assert_non_null(strstr(w->resp, "/debug/magicsock"));
	{
		char path[128];
		snprintf(path, sizeof(path), "/debug/magicsock?peer=%s", w->hex);
		assert_int_equal(get(w, path), 200);
		assert_non_null(strstr(w->resp, "id=\"peer-"));
	}
	assert_int_equal(get(w, "/metrics"), 200);
	assert_non_null(strstr(w->resp, "text/plain; version=0.0.4"));
}

/* Each row: a request, the status it gets. */
static const struct {
	const char *name, *req;
	size_t len; /* 0: strlen */
	int code;
} bad[] = {
	{"not a method", "BREW /debug/magicsock HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
	{"POST", "POST /debug/magicsock HTTP/1.1\r\nHost: x\r\n\r\n", 0, 405},
	{"DELETE", "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0, 405},
	{"a body", "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 0, 400},
	{"no such path", "GET /debug/nope HTTP/1.1\r\nHost: x\r\n\r\n", 0, 404},
	{"a bad peer", "GET /debug/magicsock?peer=<script> HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
	{"a NUL byte", "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n", 29, 400},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 0, 505},
	{"a bare LF", "GET / HTTP/1.1\nHost: x\n\n", 0, 400},
	{"TLS on the plain socket", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, 400},
};

static void test_malformed(void **state)
{
	struct world *w = *state;
	pid_t pid = th_comp_pid(&w->b, "debug");
	static char huge[12000];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].req);
		int code = ask(w, bad[i].req, len);
		if (code != bad[i].code)
			fail_msg("%s: got %d, want %d: %.200s", bad[i].name, code, bad[i].code,
				 w->resp);
	}
	/* A head over 8192 bytes: 431. */
	snprintf(huge, sizeof(huge), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(huge + strlen(huge), 'a', 10000);
	assert_int_equal(ask(w, huge, strlen(huge)), 431);
	assert_non_null(strstr(w->resp, "Connection: close"));
	/* Still the same process, and it still answers. */
	assert_int_equal(th_comp_pid(&w->b, "debug"), pid);
	assert_int_equal(th_comp_restarts(&w->b, "debug"), 0);
	assert_int_equal(get(w, "/debug/magicsock"), 200);
}

/* A client that never finishes its head gets 408 after 5 s; meanwhile
 * others are served; a 17th connection at once is closed. */
static void test_slow_and_many(void **state)
{
	struct world *w = *state;
	int slow = dial(w), many[16], code = 0;
	uint64_t t0 = clock_mono_ns();
	size_t n;

	assert_true(slow >= 0);
	assert_int_equal(send(slow, "GET / HT", 8, MSG_NOSIGNAL), 8);
	assert_int_equal(get(w, "/metrics"), 200); /* not held up by the slow one */
	n = read_all(slow, w->resp, sizeof(w->resp), SLOW_WAIT_MS);
	assert_true(n > 0);
	assert_int_equal(sscanf(w->resp, "HTTP/1.1 %d", &code), 1);
	assert_int_equal(code, 408);
	assert_true(th_ms_since(t0) >= 4500);
	close(slow);
	for (int i = 0; i < 16; i++)
		assert_true((many[i] = dial(w)) >= 0);
	usleep(300000); /* the server accepts all 16 */
	{
		int extra = dial(w);
		/* Accepted by the kernel, then closed by the server: EOF. */
		assert_true(extra >= 0);
		assert_int_equal(read_all(extra, w->resp, sizeof(w->resp), 3000), 0);
		close(extra);
	}
	for (int i = 0; i < 16; i++)
		close(many[i]);
	usleep(200000);
	assert_int_equal(get(w, "/debug/magicsock"), 200);
	assert_int_equal(th_comp_restarts(&w->b, "debug"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_slow_and_many),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
