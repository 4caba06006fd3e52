/* dbg_server: the listening socket (bound before the sandbox) and up to
 * DBG_MAX_CONNS connections, each read until its request head is whole,
 * answered by dbg_http_answer, written out and closed. Timers: a
 * connection's head must arrive within DBG_HEAD_TIMEOUT_MS (else 408) and
 * its response be taken within DBG_WRITE_TIMEOUT_MS (else it is closed). */
#include "dbg_server.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"

static int bind_unix(struct dbg_server *s, const char *path, long gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Replace a socket left by an earlier run; never another file. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	old = umask(0177); /* born 0600: no window in which others may connect */
	rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0)
		return -errno;
	if (gid >= 0 && (chown(path, (uid_t)-1, (gid_t)gid) < 0 || chmod(path, 0660) < 0))
		return -errno;
	return 0;
}

static int bind_tcp(struct dbg_server *s, const struct ipport *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(a, &ss);
	int one = 1;

	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 ? -errno : 0;
}

int dbg_server_listen(struct dbg_server *s, const struct debug_listen *l, long gid)
{
	char a[ADDR_TEXT_MAX];
	int rc;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < DBG_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	log_ratelimit_init(&s->rl, 10000);
	if (l->is_unix) {
		snprintf(s->where, sizeof(s->where), "%s", l->path);
		rc = bind_unix(s, l->path, gid);
	} else {
		ipport_format(&l->addr, a, sizeof(a));
		snprintf(s->where, sizeof(s->where), "%s", a);
		/* Loopback: the Host must name loopback too (DNS rebinding). */
		s->opts.check_host = !l->is_public;
		rc = bind_tcp(s, &l->addr);
	}
	if (rc == 0 && listen(s->lfd, DBG_LISTEN_BACKLOG) < 0)
		rc = -errno;
	if (rc < 0) {
		log_error("debug endpoint %s: %s", s->where, strerror(-rc));
		if (s->lfd >= 0)
			close(s->lfd);
		s->lfd = -1;
		return rc;
	}
	log_info("serving http://%s/debug/magicsock and /metrics%s", s->where,
		 l->is_public ? " (on a public address: allow_public)" : "");
	return 0;
}

static void conn_close(struct dbg_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	dbg_buf_free(&c->out);
	c->in_len = c->out_off = 0;
	c->writing = false;
}

void dbg_server_close(struct dbg_server *s)
{
	for (int i = 0; i < DBG_MAX_CONNS; i++)
		conn_close(&s->conns[i]);
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}

int dbg_server_pollitems(struct dbg_server *s, zmq_pollitem_t *it, int cap)
{
	int n = 0;

	if (cap < 1 + DBG_MAX_CONNS)
		return 0;
	it[n++] = (zmq_pollitem_t){.fd = s->lfd, .events = ZMQ_POLLIN};
	for (int i = 0; i < DBG_MAX_CONNS; i++)
		it[n++] = (zmq_pollitem_t){.fd = s->conns[i].fd,
					   .events = (short)(s->conns[i].fd < 0	   ? 0
							     : s->conns[i].writing ? ZMQ_POLLOUT
										   : ZMQ_POLLIN)};
	return n;
}

static void accept_all(struct dbg_server *s, const struct dbg_now *now)
{
	for (;;) {
		int fd = accept4(s->lfd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC), i;
		if (fd < 0)
			return;
		for (i = 0; i < DBG_MAX_CONNS && s->conns[i].fd >= 0; i++)
			;
		if (i == DBG_MAX_CONNS) {
			s->overflow++;
			log_rl(&s->rl, now->mono_ns, LOG_LEVEL_WARN,
			       "%s: more than %d connections at once: closing the new one",
			       s->where, DBG_MAX_CONNS);
			close(fd);
			continue;
		}
		s->conns[i].fd = fd;
		s->conns[i].deadline_ns = now->mono_ns + (uint64_t)DBG_HEAD_TIMEOUT_MS * NS_PER_MS;
	}
}

static void start_writing(struct dbg_server *s, struct dbg_conn *c, const struct dbg_now *now)
{
	if (c->out.failed || !c->out.len) {
		conn_close(c);
		return;
	}
	c->writing = true;
	c->out_off = 0;
	c->deadline_ns = now->mono_ns + (uint64_t)DBG_WRITE_TIMEOUT_MS * NS_PER_MS;
	(void)s;
}

static void on_read(struct dbg_server *s, struct dbg_conn *c, const struct dbg_model *m,
		    const struct dbg_now *now)
{
	size_t head_len = 0;
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	int code;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* gone before its head was whole */
		return;
	}
	c->in_len += (size_t)n;
	code = dbg_http_answer(m, now, &s->opts, c->in, c->in_len, &c->out, &head_len);
	if (code == DBG_HTTP_MORE)
		return;
	s->requests++;
	if (code >= 400) {
		s->refused++;
		log_rl(&s->rl, now->mono_ns, LOG_LEVEL_INFO,
		       "%s: answered %d (byte %zu of the head)", s->where, code, head_len);
	}
	start_writing(s, c, now);
}

static void on_write(struct dbg_conn *c)
{
	ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off == c->out.len)
		conn_close(c);
}

void dbg_server_ready(struct dbg_server *s, const zmq_pollitem_t *it, int n,
		      const struct dbg_model *m, const struct dbg_now *now)
{
	if (n < 1 + DBG_MAX_CONNS)
		return;
	for (int i = 0; i < DBG_MAX_CONNS; i++) {
		struct dbg_conn *c = &s->conns[i];
		short re = it[1 + i].revents;
		/* A slot accepted into during this pass has no revents yet. */
		if (c->fd < 0 || it[1 + i].fd != c->fd || !re)
			continue;
		if (re & (ZMQ_POLLERR)) {
			conn_close(c);
			continue;
		}
		if (c->writing)
			on_write(c);
		else
			on_read(s, c, m, now);
	}
	if (it[0].revents & ZMQ_POLLIN)
		accept_all(s, now);
}

uint64_t dbg_server_deadline(const struct dbg_server *s)
{
	uint64_t d = UINT64_MAX;

	for (int i = 0; i < DBG_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].deadline_ns < d)
			d = s->conns[i].deadline_ns;
	return d;
}

void dbg_server_tick(struct dbg_server *s, const struct dbg_now *now)
{
	for (int i = 0; i < DBG_MAX_CONNS; i++) {
		struct dbg_conn *c = &s->conns[i];
		if (c->fd < 0 || now->mono_ns < c->deadline_ns)
			continue;
		s->timeouts++;
		if (c->writing) {
			log_rl(&s->rl, now->mono_ns, LOG_LEVEL_INFO,
			       "%s: response not taken within %d ms: closed", s->where,
			       DBG_WRITE_TIMEOUT_MS);
			conn_close(c);
			continue;
		}
		log_rl(&s->rl, now->mono_ns, LOG_LEVEL_INFO,
		       "%s: no whole request head within %d ms: 408", s->where,
		       DBG_HEAD_TIMEOUT_MS);
		dbg_http_timeout(now, &c->out);
		start_writing(s, c, now);
	}
}
