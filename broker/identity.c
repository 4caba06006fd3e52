/* identity: the broker's ZAP handler, which names who is on the other end
 * of every bus and control connection from the kernel's peer credentials,
 * never from what the peer says (docs/design.md, "Who is who on the bus";
 * the facts about libzmq are in tests/integration/bus_identity_test.c).
 *
 * A connection is named, in this order:
 *   1. its pid is a component the broker started: that component's program
 *      (covers a config with one `user` for all and an unprivileged broker,
 *      where uids cannot tell components apart);
 *   2. with a user per component, its uid is a row's user: that row;
 *   3. its uid is the broker's own or root's: BUS_USER_ID_ADMIN, a tool
 *      (msockctl, a test) that could do anything to the broker anyway;
 *   4. anything else is refused (ZAP status 400) and counted: libzmq then
 *      gives the connection up.
 * The control socket admits only 3. */
#include "broker.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_frames.h"
#include "bus_ident.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* DRAFT in zmq.h 4.3.4; src/options.cpp handles it */
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

enum {
	ZAP_FRAMES = 6, /* ZAP 1.0 with the NULL mechanism: no credentials frame */
};

int broker_zap_open(struct broker *b)
{
	b->zap = bus_socket(b->zctx, ZMQ_REP, 4096);
	if (!b->zap || zmq_bind(b->zap, ZAP_ENDPOINT) < 0) {
		log_error("bus: cannot bind the ZAP handler: %s", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

int broker_zap_require(void *s, const char *domain)
{
	int on = 1;

	/* Without ENFORCE a peer is let in unchecked whenever no handler is
	 * bound; with it, never. */
	if (zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) < 0 ||
	    zmq_setsockopt(s, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof(on)) < 0) {
		log_error("bus: cannot require ZAP on a socket: %s", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static const struct child *child_by_pid(const struct broker *b, pid_t pid)
{
	for (size_t i = 0; i < b->n_children; i++)
		if (b->children[i].sup.pid == pid)
			return &b->children[i];
	return 0;
}

static const struct proc *row_by_uid(const struct broker *b, uid_t uid)
{
	if (b->users != BROKER_USERS_PER_COMPONENT)
		return 0;
	for (size_t i = 0; i < b->n_row_uids; i++)
		if (b->row_uids[i].uid == uid)
			return b->row_uids[i].proc;
	return 0;
}

/* The User-Id for creds on `domain`, or NULL with a reason in *why. */
static const char *name_peer(const struct broker *b, struct bus_span domain,
			     const struct bus_peer_creds *c, const char **why)
{
	bool admin = c->uid == 0 || c->uid == geteuid();
	const struct child *ch;
	const struct proc *p;

	if (bus_span_is(domain, BROKER_ZAP_CONTROL)) {
		*why = "the control socket is for the broker's user and root";
		return admin ? BUS_USER_ID_ADMIN : 0;
	}
	if (!bus_span_is(domain, BROKER_ZAP_BUS)) {
		*why = "unknown ZAP domain";
		return 0;
	}
	if (c->pid > 0 && (ch = child_by_pid(b, c->pid)))
		return ch->comp.program;
	if ((p = row_by_uid(b, c->uid)))
		return p->program;
	if (admin)
		return BUS_USER_ID_ADMIN;
	*why = "no component runs as that user";
	return 0;
}

/* One ZAP request: [version][request id][domain][address][identity]
 * [mechanism] -> [version][request id][status][text][user id][metadata]. */
static int answer(struct broker *b)
{
	struct bus_frames fr;
	struct bus_span f[BUS_MAX_FRAMES];
	char domain[32] = "", addr[128] = "", text[160];
	struct bus_peer_creds c = {0};
	const char *why = "malformed ZAP request", *user = 0;

	if (bus_frames_recv(b->zap, &fr) < 0)
		return -1;
	if (bus_frames_spans(&fr, f, BUS_MAX_FRAMES) == ZAP_FRAMES) {
		/* For the log; the checks read the frames themselves. */
		bus_span_sanitize(f[2], domain, sizeof(domain));
		bus_span_sanitize(f[3], addr, sizeof(addr));
		if (bus_peer_creds_parse((const char *)f[3].p, f[3].len, &c, &why) == 0)
			user = name_peer(b, f[2], &c, &why);
	}
	if (!user) {
		b->ctr.unknown_peer++;
		snprintf(text, sizeof(text), "refused: %s", why);
		log_rl(&b->rl_refused, b->now_ns, LOG_LEVEL_WARN,
		       "bus: refused a connection to %s from uid %u gid %u pid %d (\"%s\"): %s",
		       domain[0] ? domain : "?", (unsigned)c.uid, (unsigned)c.gid, (int)c.pid, addr,
		       why);
	} else {
		const struct proc *row;
		snprintf(text, sizeof(text), "OK");
		log_debug("bus: %s connection from uid %u pid %d is %s", domain, (unsigned)c.uid,
			  (int)c.pid, user);
		if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL &&
		    bus_span_is(f[2], BROKER_ZAP_BUS) && (row = row_by_uid(b, c.uid)))
			broker_external_seen(b, row, c.pid);
	}
	zmq_send(b->zap, "1.0", 3, ZMQ_SNDMORE);
	if (fr.n >= 2)
		zmq_send(b->zap, zmq_msg_data(&fr.f[1]), zmq_msg_size(&fr.f[1]), ZMQ_SNDMORE);
	else
		zmq_send(b->zap, "", 0, ZMQ_SNDMORE);
	zmq_send(b->zap, user ? "200" : "400", 3, ZMQ_SNDMORE);
	zmq_send(b->zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(b->zap, user ? user : "", user ? strlen(user) : 0, ZMQ_SNDMORE);
	zmq_send(b->zap, "", 0, 0);
	bus_frames_close(&fr);
	return 0;
}

void broker_on_zap(struct broker *b)
{
	/* REP: one request, one answer, in turn. */
	while (answer(b) == 0)
		;
}

void broker_sender(zmq_msg_t *m, struct bus_sender *s)
{
	bus_sender_from_user_id(zmq_msg_gets(m, "User-Id"), s);
}

int broker_users_setup(struct broker *b)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	b->n_row_uids = 0;
	for (size_t i = 0; i < n && b->n_row_uids < BROKER_MAX_ROWS; i++) {
		const struct passwd *pw;
		if (!procs[i].user)
			continue;
		pw = getpwnam(procs[i].user);
		if (!pw)
			continue; /* checked where it is needed: a configured component */
		b->row_uids[b->n_row_uids].proc = &procs[i];
		b->row_uids[b->n_row_uids].uid = pw->pw_uid;
		b->row_uids[b->n_row_uids].gid = pw->pw_gid;
		b->n_row_uids++;
	}
	return 0;
}
