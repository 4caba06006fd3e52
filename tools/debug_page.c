/* debug_page: `msockctl debug page` prints the debug page's URL from the
 * config's debug.listen; with --serve [PORT] (default 0: any) it listens
 * on 127.0.0.1:PORT, prints that URL, and forwards each connection to the
 * unix socket, byte for byte, until interrupted: a browser cannot speak to
 * a unix socket. Each connection is relayed by a child process, so one
 * slow browser tab holds up no other. */
#include "debug_page.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "debug_listen.h"

enum {
	RELAY_BUF_BYTES = 65536,
	RELAY_IDLE_MS = 60000, /* a relay with nothing moving this long ends */
};

static int dial_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Copies both ways until both sides have closed (or nothing moves). */
static void relay(int a, int b)
{
	static char buf[RELAY_BUF_BYTES];
	bool open_a = true, open_b = true;

	while (open_a || open_b) {
		struct pollfd p[2] = {{.fd = open_a ? a : -1, .events = POLLIN},
				      {.fd = open_b ? b : -1, .events = POLLIN}};
		if (poll(p, 2, RELAY_IDLE_MS) <= 0)
			return;
		for (int i = 0; i < 2; i++) {
			int from = i ? b : a, to = i ? a : b;
			ssize_t n;
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(from, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(to, SHUT_WR);
				*(i ? &open_b : &open_a) = false;
				continue;
			}
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

static int serve(const char *path, long port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "msockctl debug page: 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* the relays reap themselves */
	printf("http://127.0.0.1:%u/debug/magicsock\n", ntohs(sa.sin_port));
	printf("(forwarding to %s until interrupted)\n", path);
	fflush(stdout);
	for (;;) {
		int c = accept4(lfd, 0, 0, SOCK_CLOEXEC), u;
		if (c < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "msockctl debug page: accept: %s\n", strerror(errno));
			return 1;
		}
		if (fork() == 0) {
			close(lfd);
			u = dial_unix(path);
			if (u < 0) {
				fprintf(stderr,
					"msockctl debug page: %s: %s (is msock-debug running?)\n",
					path, strerror(errno));
				_exit(1);
			}
			relay(c, u);
			_exit(0);
		}
		close(c);
	}
}

int debug_page_main(const char *config_path, char **args, size_t n)
{
	const char *path = config_path ? config_path : DEBUG_PAGE_DEFAULT_CONFIG;
	struct cfg_diag diag = {0};
	struct msock_config *cfg;
	struct debug_listen dl;
	char err[256], a[ADDR_TEXT_MAX], *end;
	long port = -1;
	int rc = 2;

	if (n >= 1 && strcmp(args[0], "--serve") == 0) {
		port = 0;
		if (n == 2 && ((port = strtol(args[1], &end, 10)) < 0 || port > 65535 || *end))
			n = 99;
	}
	if (n > 2 || (n >= 1 && port < 0)) {
		fprintf(stderr, "usage: msockctl [--config FILE] debug page [--serve [PORT]]\n");
		return 2;
	}
	cfg = config_load(path, &diag);
	for (size_t i = 0; i < diag.n_errors; i++)
		fprintf(stderr, "%s\n", diag.errors[i]);
	cfg_diag_free(&diag);
	if (!cfg)
		return 2;
	if (debug_listen_parse(cfg->debug_listen, cfg->debug_allow_public, &dl, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "%s: debug.listen: %s\n", path, err);
		goto out;
	}
	if (!dl.is_unix) {
		ipport_format(&dl.addr, a, sizeof(a));
		printf("http://%s/debug/magicsock\n", a);
		rc = port >= 0 ? (fprintf(stderr, "msockctl debug page: --serve is for a unix "
						  "socket; open the URL above\n"),
				  2)
			       : 0;
		goto out;
	}
	if (port < 0) {
		printf("unix:%s\n", dl.path);
		printf("curl --unix-socket %s http://localhost/debug/magicsock\n", dl.path);
		printf("for a browser: msockctl debug page --serve [PORT]\n");
		rc = 0;
		goto out;
	}
	rc = serve(dl.path, port);
out:
	config_free(cfg);
	return rc;
}
