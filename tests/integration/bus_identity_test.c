/* bus_identity_test: spike for issue 15, item 2 — identity from the kernel,
 * not from the component. Real processes: the test (root) binds the bus
 * sockets in a temporary directory and answers ZAP in its own poll loop,
 * as the broker would; each peer is this program re-executed as a child
 * ("--child ...") that drops to a uid of its own and then connects.
 * Nothing in lib/ or broker/ is used or changed.
 *
 * Facts from libzmq 4.3.4 (the version here: Debian 4.3.4-6; tag v4.3.4 of
 * zeromq/libzmq; get_peer_address is the same on master), asserted below:
 *
 * - The ":uid:gid:pid": src/stream_engine_base.cpp:66-100,
 *   get_peer_address(): for a PF_UNIX connection it reads SO_PEERCRED and
 *   appends ":" uid ":" gid ":" pid (line 79) to the host part, which
 *   get_peer_ip_address() (src/ip.cpp:169-193) gets from getnameinfo(...,
 *   NI_NUMERICHOST) on the unnamed peer socket: glibc answers "localhost".
 *   So the address of every ipc:// peer is exactly
 *   "localhost:<uid>:<gid>:<pid>": the connecting process's euid, egid and
 *   pid when it called connect(2). (musl's getnameinfo refuses AF_UNIX with
 *   EAI_FAMILY; there libzmq clears the address and appends nothing.)
 * - It is the ZAP request's Address frame (src/zap_client.cpp:105-111;
 *   frames "1.0", "1", domain, address, identity, "NULL", no credentials
 *   for NULL: null_mechanism.cpp:229) and, on every message, the property
 *   "Peer-Address" (init_properties, stream_engine_base.cpp:734).
 * - The ZAP Identity frame is the binding socket's OWN routing id
 *   (zap_client.cpp:113-116, options.routing_id), not the peer's claim.
 * - ZAP needs a ZAP domain on the binding socket: with NULL,
 *   zap_required() is `!options.zap_domain.empty()` (mechanism_base.cpp:79).
 *   If nothing is bound to "inproc://zeromq.zap.01" in the socket's
 *   context, zap_connect() (session_base.cpp:360) fails and
 *   null_mechanism_t::next_handshake_command() (null_mechanism.cpp:73-83)
 *   skips ZAP and ACCEPTS the peer, unless ZMQ_ZAP_ENFORCE_DOMAIN (93;
 *   DRAFT in zmq.h, but options.cpp:758 handles it in every build) is set.
 *   Enforced, the handshake stalls (the engine stops writing,
 *   stream_engine_base.cpp:347-352) until ZMQ_HANDSHAKE_IVL (30 s) expires.
 * - The handler's User-Id frame (zap_client.cpp:212, set_user_id,
 *   mechanism.cpp:63) is the property "User-Id" (ZMQ_MSG_PROPERTY_USER_ID)
 *   of every message of that connection: zmq_msg_gets(&msg, "User-Id").
 *   ROUTER's routing-id frame carries it only when zmq_poll did not
 *   prefetch the message (router.cpp:353 in xrecv, not in xhas_in:371):
 *   read it from a body frame.
 * - mechanism_ready() (stream_engine_base.cpp:573-584) builds the
 *   properties in this order: Peer-Address, ZAP's, then whatever the peer
 *   put in its READY command (parse_metadata, mechanism.cpp:237-290,
 *   accepts any name); std::map insert keeps the first. So WITHOUT ZAP a
 *   peer chooses its own "User-Id"; with ZAP the handler's wins;
 *   Peer-Address cannot be forged.
 * - A status other than 200: the server sends ERROR and emits
 *   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH with the status (zap_client.cpp:255).
 *   A libzmq peer then gives up (protocol_error: no reconnect,
 *   session_base.cpp:486); a hand-made one may retry at will.
 *
 * See docs/bus.md, "Identity from the kernel (spike)". */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "clock.h"
#include "bus_ident.h"
#include "harness.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* DRAFT in zmq.h 4.3.4; src/options.cpp handles it */
#endif

enum {
	WAIT_MS = TH_WAIT_MS,	/* fail a test that waits longer than this */
	STEP_MS = 10,		/* one poll of a bounded wait */
	CHILD_SEND_MS = 10,	/* a child sends one message this often */
	CHILD_LIFE_MS = 120000, /* a child the test forgot exits on its own */
	WANT_MSGS = 20,		/* messages a test waits for per sender */
	CHILDREN_MAX = 4,
	RX_LOG_MAX = 8192,  /* received messages recorded; past it only counted */
	ZAP_LOG_MAX = 256,  /* ZAP requests recorded; past it only counted */
	ZAP_FRAMES_MAX = 8, /* a ZAP 1.0 request has 6 frames with NULL */
	NAME_BYTES = 32,
	ADDR_BYTES = 96,
	FORGE_READ_BYTES = 512, /* the broker's greeting and READY fit */
	ZMTP_GREETING_BYTES = 64,
};

/* The table the broker would hold: uid -> component (issue 15, item 3's
 * fixed uids). The gids differ from the uids so that the address's field
 * order is tested, not assumed. */
static const struct user {
	uid_t uid;
	gid_t gid;
	const char *name;
} users[] = {
	{61001, 62001, "dataplane"},
	{61002, 62002, "disco"},
};
static const struct user stranger = {61099, 62099, NULL}; /* in no row */
#define DATAPLANE (&users[0])
#define DISCO	  (&users[1])

#define ZAP_DOMAIN   "msock-bus"
#define BOUND_RID    "broker" /* the binding socket's own routing id */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct zap_req {
	char domain[NAME_BYTES];
	char addr[ADDR_BYTES];
	char identity[NAME_BYTES];
	char mechanism[NAME_BYTES];
	int nframes;
	int status; /* what the handler answered */
};

struct rx {
	char tag[NAME_BYTES];  /* the sender's claim, from the payload "tag:seq" */
	char rid[NAME_BYTES];  /* ROUTER: the routing id (also a claim) */
	char user[NAME_BYTES]; /* User-Id, "" */
	bool has_user;	       /* zmq_msg_gets found User-Id */
	bool frames_agree;     /* ROUTER: the routing-id frame does not disagree */
	char peer[ADDR_BYTES]; /* Peer-Address */
};

struct child {
	pid_t pid;
	int stdin_w; /* closing it tells the child to exit */
	int status;
	bool reaped;
};

struct fix {
	char dir[64];
	char path[120];
	char endpoint[128]; /* ipc:// path */
	void *ctx;
	void *zap; /* REP on inproc://zeromq.zap.01, or NULL: no handler */
	void *bound;
	int type; /* of bound */
	void *mon;
	int mon_seq;
	struct zap_req zlog[ZAP_LOG_MAX];
	int zap_requests;
	int zap_refused;
	struct rx *rxlog;
	int rx_count;
	int handshake_ms; /* ZMQ_HANDSHAKE_IVL of the next bound_open; 0: libzmq's 30 s */
	int accepted, hs_ok, hs_auth_failed, hs_no_detail, hs_protocol, last_auth_status;
	struct child kids[CHILDREN_MAX];
	int nkids;
};

/* ---- the child side --------------------------------------------------- */

static uint64_t child_deadline_ns;

/* True when the test closed our stdin (or it is readable at all), after
 * waiting up to CHILD_SEND_MS: the child's pacing. */
static bool child_told_to_stop(void)
{
	zmq_pollitem_t in = {NULL, STDIN_FILENO, ZMQ_POLLIN, 0};

	if (clock_mono_ns() > child_deadline_ns)
		return true;
	return zmq_poll(&in, 1, CHILD_SEND_MS) != 0;
}

/* A PUB or DEALER (routing id = tag) that sends "tag:seq" until told. */
static int child_zmq(int type, const char *endpoint, const char *tag)
{
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, type);
	int zero = 0, rc = 0;
	unsigned seq = 0;
	char msg[64];

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (type == ZMQ_DEALER)
		zmq_setsockopt(s, ZMQ_ROUTING_ID, tag, strlen(tag));
	if (zmq_connect(s, endpoint) != 0)
		rc = 4;
	while (rc == 0 && !child_told_to_stop()) {
		int n = snprintf(msg, sizeof(msg), "%s:%u", tag, seq++);

		zmq_send(s, msg, (size_t)n, ZMQ_DONTWAIT);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}

static size_t zmtp_prop(uint8_t *p, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	p[0] = (uint8_t)nl;
	memcpy(p + 1, name, nl);
	p[1 + nl] = 0;
	p[2 + nl] = 0;
	p[3 + nl] = 0;
	p[4 + nl] = (uint8_t)vl;
	memcpy(p + 5 + nl, value, vl);
	return 5 + nl + vl;
}

/* A hand-made ZMTP 3.1 PUB (RFC 37) whose READY claims "User-Id: <tag>"
 * and "Peer-Address: forged"; then sends "tag:seq" until told. */
static int child_forge(const char *path, const char *tag)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint8_t greeting[ZMTP_GREETING_BYTES] = {0xff, 0,    0, 0, 0,	0,   0,	  0,
						 1,    0x7f, 3, 1, 'N', 'U', 'L', 'L'};
	uint8_t ready[256], in[FORGE_READ_BYTES];
	size_t len = 2, got = 0;
	unsigned seq = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return 4;
	memcpy(ready + len, "\5READY", 6);
	len += 6;
	len += zmtp_prop(ready + len, "Socket-Type", "PUB");
	len += zmtp_prop(ready + len, "User-Id", tag);
	len += zmtp_prop(ready + len, "Peer-Address", "forged");
	ready[0] = 0x04; /* a short command */
	ready[1] = (uint8_t)(len - 2);
	if (send(fd, greeting, sizeof(greeting), MSG_NOSIGNAL) != (ssize_t)sizeof(greeting) ||
	    send(fd, ready, len, MSG_NOSIGNAL) != (ssize_t)len)
		return 5;
	/* A message that arrives before the server's own READY is taken as a
	 * handshake command and fails it: wait for the server's READY. */
	while (!memmem(in, got, "\5READY", 6)) {
		ssize_t n;

		if (got == sizeof(in) || child_told_to_stop())
			return 6;
		n = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (n == 0)
			return 7;
		if (n > 0)
			got += (size_t)n;
	}
	while (!child_told_to_stop()) {
		uint8_t frame[2 + 62];
		int n = snprintf((char *)frame + 2, sizeof(frame) - 2, "%s:%u", tag, seq++);

		frame[0] = 0; /* a short message, no more */
		frame[1] = (uint8_t)n;
		if (send(fd, frame, 2 + (size_t)n, MSG_NOSIGNAL) < 0)
			break;
	}
	close(fd);
	return 0;
}

/* --child pub|dealer|forge ENDPOINT UID GID TAG: drop to uid/gid (the
 * credentials the kernel will vouch for), then run the role. */
static int child_main(int argc, char **argv)
{
	uid_t uid;
	gid_t gid;

	if (argc != 7)
		return 2;
	uid = (uid_t)strtoul(argv[4], NULL, 10);
	gid = (gid_t)strtoul(argv[5], NULL, 10);
	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		return 3;
	if (getuid() != uid || geteuid() != uid || getgid() != gid)
		return 3;
	child_deadline_ns = clock_mono_ns() + CHILD_LIFE_MS * NS_PER_MS;
	if (strcmp(argv[2], "pub") == 0)
		return child_zmq(ZMQ_PUB, argv[3], argv[6]);
	if (strcmp(argv[2], "dealer") == 0)
		return child_zmq(ZMQ_DEALER, argv[3], argv[6]);
	if (strcmp(argv[2], "forge") == 0 && strncmp(argv[3], "ipc://", 6) == 0)
		return child_forge(argv[3] + 6, argv[6]);
	return 2;
}

/* ---- the ZAP handler (what the broker would run) ----------------------- */

static const char *user_name(uid_t uid)
{
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (users[i].uid == uid)
			return users[i].name;
	}
	return NULL;
}

static void frame_copy(char *dst, size_t cap, zmq_msg_t *m)
{
	size_t n = zmq_msg_size(m) < cap - 1 ? zmq_msg_size(m) : cap - 1;

	memcpy(dst, zmq_msg_data(m), n);
	dst[n] = '\0';
}

/* Answers one ZAP request: 200 with the row's name as User-Id, or 400 for
 * a uid in no row (or an address that does not parse). */
static void zap_answer(struct fix *f)
{
	zmq_msg_t fr[ZAP_FRAMES_MAX];
	struct zap_req r = {.status = 400};
	const char *name = NULL;
	char status[4];
	int n = 0, more = 1;
	struct bus_peer_creds creds;
	const char *why;

	while (more && n < ZAP_FRAMES_MAX) {
		size_t len = sizeof(more);

		zmq_msg_init(&fr[n]);
		assert_true(zmq_msg_recv(&fr[n], f->zap, 0) >= 0);
		zmq_getsockopt(f->zap, ZMQ_RCVMORE, &more, &len);
		n++;
	}
	assert_false(more); /* ZAP 1.0 with NULL: 6 frames */
	r.nframes = n;
	assert_true(n >= 6);
	assert_int_equal(zmq_msg_size(&fr[0]), 3);
	assert_memory_equal(zmq_msg_data(&fr[0]), "1.0", 3);
	frame_copy(r.domain, sizeof(r.domain), &fr[2]);
	frame_copy(r.addr, sizeof(r.addr), &fr[3]);
	frame_copy(r.identity, sizeof(r.identity), &fr[4]);
	frame_copy(r.mechanism, sizeof(r.mechanism), &fr[5]);
	if (strcmp(r.domain, ZAP_DOMAIN) == 0 &&
	    bus_peer_creds_parse(r.addr, strlen(r.addr), &creds, &why) == 0)
		name = user_name(creds.uid);
	if (name)
		r.status = 200;
	snprintf(status, sizeof(status), "%d", r.status);
	zmq_send(f->zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(f->zap, zmq_msg_data(&fr[1]), zmq_msg_size(&fr[1]), ZMQ_SNDMORE); /* request id */
	zmq_send(f->zap, status, 3, ZMQ_SNDMORE);
	zmq_send(f->zap, name ? "OK" : "unknown uid", name ? 2 : 11, ZMQ_SNDMORE);
	zmq_send(f->zap, name ? name : "", name ? strlen(name) : 0, ZMQ_SNDMORE); /* User-Id */
	zmq_send(f->zap, "", 0, 0);						  /* metadata */
	for (int i = 0; i < n; i++)
		zmq_msg_close(&fr[i]);
	if (f->zap_requests < ZAP_LOG_MAX)
		f->zlog[f->zap_requests] = r;
	f->zap_requests++;
	if (r.status != 200)
		f->zap_refused++;
}

/* ---- the bound side ---------------------------------------------------- */

static void rx_record(struct fix *f, zmq_msg_t *m, const char *rid, const char *rid_user)
{
	struct rx *r;
	const char *user = zmq_msg_gets(m, "User-Id");
	const char *peer = zmq_msg_gets(m, "Peer-Address");
	char payload[NAME_BYTES];
	char *colon;

	if (f->rx_count >= RX_LOG_MAX) {
		f->rx_count++;
		return;
	}
	r = &f->rxlog[f->rx_count++];
	memset(r, 0, sizeof(*r));
	frame_copy(payload, sizeof(payload), m);
	colon = strchr(payload, ':');
	if (colon)
		*colon = '\0';
	snprintf(r->tag, sizeof(r->tag), "%s", payload);
	snprintf(r->rid, sizeof(r->rid), "%s", rid ? rid : "");
	r->has_user = user != NULL;
	snprintf(r->user, sizeof(r->user), "%s", user ? user : "");
	snprintf(r->peer, sizeof(r->peer), "%s", peer ? peer : "");
	/* the routing-id frame ROUTER makes carries the peer's properties only
	 * when zmq_poll did not prefetch the message (router.cpp: xrecv sets
	 * them, xhas_in does not): absent or the same */
	r->frames_agree = !rid_user || (user && strcmp(rid_user, user) == 0);
}

static void bound_read(struct fix *f)
{
	zmq_msg_t m, m2;
	char rid[NAME_BYTES], rid_user[NAME_BYTES];
	const char *u;

	zmq_msg_init(&m);
	assert_true(zmq_msg_recv(&m, f->bound, ZMQ_DONTWAIT) >= 0);
	if (f->type != ZMQ_ROUTER) {
		assert_false(zmq_msg_more(&m));
		rx_record(f, &m, NULL, NULL);
		zmq_msg_close(&m);
		return;
	}
	/* ROUTER: [routing id][payload] */
	assert_true(zmq_msg_more(&m));
	frame_copy(rid, sizeof(rid), &m);
	u = zmq_msg_gets(&m, "User-Id");
	snprintf(rid_user, sizeof(rid_user), "%s", u ? u : "");
	zmq_msg_init(&m2);
	assert_true(zmq_msg_recv(&m2, f->bound, ZMQ_DONTWAIT) >= 0);
	assert_false(zmq_msg_more(&m2));
	rx_record(f, &m2, rid, u ? rid_user : NULL);
	zmq_msg_close(&m2);
	zmq_msg_close(&m);
}

static void mon_read(struct fix *f)
{
	zmq_msg_t ev, ep;
	uint16_t event;
	uint32_t value;

	zmq_msg_init(&ev);
	zmq_msg_init(&ep);
	assert_int_equal(zmq_msg_recv(&ev, f->mon, 0), 6);
	assert_true(zmq_msg_recv(&ep, f->mon, 0) >= 0);
	memcpy(&event, zmq_msg_data(&ev), 2);
	memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
	zmq_msg_close(&ev);
	zmq_msg_close(&ep);
	if (event == ZMQ_EVENT_ACCEPTED)
		f->accepted++;
	if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
		f->hs_ok++;
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
		f->hs_auth_failed++;
		f->last_auth_status = (int)value;
	}
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		f->hs_no_detail++;
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
		f->hs_protocol++;
}

/* One bounded step of the loop the broker would run: ZAP, bus, monitor. */
static void pump(struct fix *f, long ms)
{
	zmq_pollitem_t it[3];
	void *socks[3];
	int n = 0;

	if (f->zap)
		socks[n++] = f->zap;
	if (f->bound)
		socks[n++] = f->bound;
	if (f->mon)
		socks[n++] = f->mon;
	for (int i = 0; i < n; i++)
		it[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
	assert_true(zmq_poll(it, n, ms) >= 0);
	for (int i = 0; i < n; i++) {
		if (!(it[i].revents & ZMQ_POLLIN))
			continue;
		if (socks[i] == f->zap)
			zap_answer(f);
		else if (socks[i] == f->bound)
			bound_read(f);
		else
			mon_read(f);
	}
}

static bool pump_until(struct fix *f, bool (*done)(struct fix *f, const void *arg), const void *arg)
{
	uint64_t t0 = clock_mono_ns();

	while (!done(f, arg)) {
		if (th_ms_since(t0) > WAIT_MS)
			return false;
		pump(f, STEP_MS);
	}
	return true;
}

static int rx_count_tag(const struct fix *f, const char *tag)
{
	int n = 0;

	for (int i = 0; i < f->rx_count && i < RX_LOG_MAX; i++)
		n += strcmp(f->rxlog[i].tag, tag) == 0;
	return n;
}

static bool got_msgs_from(struct fix *f, const void *tag)
{
	return rx_count_tag(f, tag) >= WANT_MSGS;
}

static bool got_auth_failure(struct fix *f, const void *arg)
{
	(void)arg;
	return f->zap_refused >= 1 && f->hs_auth_failed >= 1;
}

static bool got_zap_requests(struct fix *f, const void *want)
{
	return f->zap_requests >= *(const int *)want;
}

static bool got_accepted(struct fix *f, const void *want)
{
	return f->accepted >= *(const int *)want;
}

static void zap_bind(struct fix *f)
{
	f->zap = zmq_socket(f->ctx, ZMQ_REP);
	assert_non_null(f->zap);
	assert_int_equal(zmq_bind(f->zap, ZAP_ENDPOINT), 0);
}

/* Binds f->bound (type) on dir/name with our ZAP domain (unless !domain)
 * and ZMQ_ZAP_ENFORCE_DOMAIN = enforce, readable by the children's uids. */
static void bound_open(struct fix *f, int type, const char *name, bool domain, bool enforce)
{
	int zero = 0, on = enforce;
	char mon_ep[32];

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	snprintf(f->endpoint, sizeof(f->endpoint), "ipc://%s", f->path);
	f->type = type;
	f->bound = zmq_socket(f->ctx, type);
	assert_non_null(f->bound);
	zmq_setsockopt(f->bound, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_setsockopt(f->bound, ZMQ_ROUTING_ID, BOUND_RID, strlen(BOUND_RID)), 0);
	if (domain)
		assert_int_equal(
			zmq_setsockopt(f->bound, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)),
			0);
	assert_int_equal(zmq_setsockopt(f->bound, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof(on)), 0);
	if (f->handshake_ms)
		assert_int_equal(zmq_setsockopt(f->bound, ZMQ_HANDSHAKE_IVL, &f->handshake_ms,
						sizeof(f->handshake_ms)),
				 0);
	snprintf(mon_ep, sizeof(mon_ep), "inproc://mon-%d", f->mon_seq++);
	assert_int_equal(zmq_socket_monitor(f->bound, mon_ep,
					    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
						    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
						    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
						    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL),
			 0);
	f->mon = zmq_socket(f->ctx, ZMQ_PAIR);
	assert_int_equal(zmq_connect(f->mon, mon_ep), 0);
	assert_int_equal(zmq_bind(f->bound, f->endpoint), 0);
	/* connect(2) on a unix socket needs write access to its file */
	assert_int_equal(chmod(f->path, 0666), 0);
	if (type == ZMQ_XSUB)
		assert_int_equal(zmq_send(f->bound, "\1", 1, 0), 1); /* everything */
}

/* Closes the bus side as a broker that exits would: monitor, sockets,
 * ZAP handler, context. */
static void bus_close(struct fix *f)
{
	if (f->mon && f->bound)
		zmq_socket_monitor(f->bound, NULL, 0);
	if (f->mon)
		zmq_close(f->mon);
	if (f->bound)
		zmq_close(f->bound);
	if (f->zap)
		zmq_close(f->zap);
	f->mon = f->bound = f->zap = NULL;
	if (f->ctx)
		zmq_ctx_term(f->ctx);
	f->ctx = NULL;
}

static void bus_new_ctx(struct fix *f)
{
	f->ctx = zmq_ctx_new();
	assert_non_null(f->ctx);
}

/* Starts this program as a child in role, as u, sending tag. */
static pid_t child_start(struct fix *f, const char *role, const struct user *u, const char *tag)
{
	struct child *k;
	char uid[16], gid[16], asan[512];
	const char *old = getenv("ASAN_OPTIONS");
	int p[2];

	assert_true(f->nkids < CHILDREN_MAX);
	k = &f->kids[f->nkids];
	snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)u->gid);
	/* LeakSanitizer cannot stop the world in a process that changed its
	 * uid (as broker/children.c does for components). */
	snprintf(asan, sizeof(asan), "%s%sdetect_leaks=0", old ? old : "", old ? ":" : "");
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		dup2(p[0], STDIN_FILENO);
		setenv("ASAN_OPTIONS", asan, 1);
		execl("/proc/self/exe", "bus_identity_child", "--child", role, f->endpoint, uid,
		      gid, tag, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	k->stdin_w = p[1];
	f->nkids++;
	return k->pid;
}

static bool child_reaped(void *arg)
{
	struct child *k = arg;

	if (!k->reaped && waitpid(k->pid, &k->status, WNOHANG) == k->pid)
		k->reaped = true;
	return k->reaped;
}

/* Tells every child to exit and waits; kills one that does not. */
static void children_stop(struct fix *f)
{
	for (int i = 0; i < f->nkids; i++) {
		struct child *k = &f->kids[i];

		if (k->stdin_w >= 0)
			close(k->stdin_w);
		k->stdin_w = -1;
	}
	for (int i = 0; i < f->nkids; i++) {
		struct child *k = &f->kids[i];

		if (k->pid > 0 && !th_wait(child_reaped, k)) {
			kill(k->pid, SIGKILL);
			waitpid(k->pid, &k->status, 0);
			k->reaped = true;
		}
	}
}

/* Every child exited 0: it dropped its uid and its role ran. */
static void assert_children_clean(struct fix *f)
{
	children_stop(f);
	for (int i = 0; i < f->nkids; i++) {
		struct child *k = &f->kids[i];

		if (!WIFEXITED(k->status) || WEXITSTATUS(k->status) != 0)
			print_error("child %d: wait status %#x\n", (int)k->pid, k->status);
		assert_true(WIFEXITED(k->status));
		assert_int_equal(WEXITSTATUS(k->status), 0);
	}
}

static void addr_of(char *dst, size_t cap, const struct user *u, pid_t pid)
{
	snprintf(dst, cap, "localhost:%u:%u:%d", (unsigned)u->uid, (unsigned)u->gid, (int)pid);
}

/* The ZAP request from that address, or NULL. */
static const struct zap_req *zap_find(const struct fix *f, const char *addr)
{
	for (int i = 0; i < f->zap_requests && i < ZAP_LOG_MAX; i++) {
		if (strcmp(f->zlog[i].addr, addr) == 0)
			return &f->zlog[i];
	}
	return NULL;
}

static int zap_count(const struct fix *f, const char *addr)
{
	int n = 0;

	for (int i = 0; i < f->zap_requests && i < ZAP_LOG_MAX; i++)
		n += strcmp(f->zlog[i].addr, addr) == 0;
	return n;
}

/* Every message tagged tag carried User-Id user (and Peer-Address peer,
 * when given). Returns how many. */
static int assert_attributed(const struct fix *f, const char *tag, const char *user,
			     const char *peer)
{
	int n = 0;

	for (int i = 0; i < f->rx_count && i < RX_LOG_MAX; i++) {
		const struct rx *r = &f->rxlog[i];

		if (strcmp(r->tag, tag) != 0)
			continue;
		assert_true(r->has_user);
		assert_string_equal(r->user, user);
		assert_true(r->frames_agree);
		if (peer)
			assert_string_equal(r->peer, peer);
		n++;
	}
	return n;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->rxlog = calloc(RX_LOG_MAX, sizeof(*f->rxlog));
	assert_non_null(f->rxlog);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bus-identity-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* the children (other uids) must reach the socket files */
	assert_int_equal(chmod(f->dir, 0711), 0);
	bus_new_ctx(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	children_stop(f);
	bus_close(f);
	th_remove_tree(f->dir);
	free(f->rxlog);
	free(f);
	return 0;
}

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("needs root: the children setuid() to other uids\n");
		skip();
	}
}

/* ---- the tests --------------------------------------------------------- */

/* 1. Events: XSUB + ZAP; a PUB in a child running as disco's uid. The
 * handler sees "localhost:uid:gid:pid" and every message says User-Id
 * disco. */
static void test_xsub_user_id_from_uid(void **state)
{
	struct fix *f = *state;
	const struct zap_req *z;
	char addr[ADDR_BYTES];
	pid_t pid;

	need_root();
	zap_bind(f);
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	pid = child_start(f, "pub", DISCO, "ev");
	assert_true(pump_until(f, got_msgs_from, "ev"));

	addr_of(addr, sizeof(addr), DISCO, pid);
	z = zap_find(f, addr);
	assert_non_null(z);
	assert_string_equal(z->domain, ZAP_DOMAIN);
	assert_string_equal(z->mechanism, "NULL");
	assert_int_equal(z->nframes, 6); /* NULL has no credentials frame */
	/* the Identity frame is the binding socket's own routing id */
	assert_string_equal(z->identity, BOUND_RID);
	assert_int_equal(z->status, 200);
	assert_int_equal(f->zap_requests, 1);
	assert_true(assert_attributed(f, "ev", "disco", addr) >= WANT_MSGS);
	assert_int_equal(f->hs_ok, 1);
	assert_children_clean(f);
}

/* 2. State: a DEALER that claims to be the dataplane (its routing id)
 * while running as disco's uid: each frame the ROUTER hands over says
 * User-Id disco, so the claim can be checked per message. */
static void test_router_user_id_beats_routing_id(void **state)
{
	struct fix *f = *state;
	const struct zap_req *z;
	char addr[ADDR_BYTES];
	pid_t pid;

	need_root();
	zap_bind(f);
	bound_open(f, ZMQ_ROUTER, "req.ipc", true, true);
	pid = child_start(f, "dealer", DISCO, "dataplane");
	assert_true(pump_until(f, got_msgs_from, "dataplane"));

	addr_of(addr, sizeof(addr), DISCO, pid);
	z = zap_find(f, addr);
	assert_non_null(z);
	/* the handler never sees the claimed routing id */
	assert_string_equal(z->identity, BOUND_RID);
	assert_true(assert_attributed(f, "dataplane", "disco", addr) >= WANT_MSGS);
	for (int i = 0; i < f->rx_count && i < RX_LOG_MAX; i++)
		assert_string_equal(f->rxlog[i].rid, "dataplane");
	assert_children_clean(f);
}

/* 3. A uid in no row: the handler answers 400, the handshake fails with
 * HANDSHAKE_FAILED_AUTH 400, and nothing it sends arrives, while an
 * accepted peer started after it gets through. */
static void test_refused_uid_never_arrives(void **state)
{
	struct fix *f = *state;
	char addr[ADDR_BYTES];
	pid_t pid;

	need_root();
	zap_bind(f);
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	pid = child_start(f, "pub", &stranger, "stranger");
	assert_true(pump_until(f, got_auth_failure, NULL));
	assert_int_equal(f->last_auth_status, 400);
	addr_of(addr, sizeof(addr), &stranger, pid);
	assert_non_null(zap_find(f, addr));
	assert_int_equal(zap_find(f, addr)->status, 400);

	/* the stranger keeps calling zmq_send all along; the accepted peer's
	 * messages prove the loop ran while none of the stranger's arrived */
	child_start(f, "pub", DISCO, "ev");
	assert_true(pump_until(f, got_msgs_from, "ev"));
	assert_int_equal(rx_count_tag(f, "stranger"), 0);
	assert_int_equal(f->hs_ok, 1);
	print_message("refused peer: %d ZAP request(s), %d auth failure(s) while the accepted "
		      "peer sent %d messages\n",
		      zap_count(f, addr), f->hs_auth_failed, rx_count_tag(f, "ev"));
	assert_int_equal(f->zap_refused, zap_count(f, addr)); /* only the stranger's */
	assert_true(f->hs_auth_failed >= 1 && f->hs_auth_failed <= f->zap_refused);
	assert_children_clean(f);
}

/* 4. Two uids on one XSUB, interleaved: each message carries its own
 * sender's User-Id. */
static void test_two_uids_interleaved(void **state)
{
	struct fix *f = *state;
	char addr_a[ADDR_BYTES], addr_b[ADDR_BYTES];
	int switches = 0;

	need_root();
	zap_bind(f);
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	addr_of(addr_a, sizeof(addr_a), DATAPLANE, child_start(f, "pub", DATAPLANE, "a"));
	addr_of(addr_b, sizeof(addr_b), DISCO, child_start(f, "pub", DISCO, "b"));
	assert_true(pump_until(f, got_msgs_from, "a"));
	assert_true(pump_until(f, got_msgs_from, "b"));

	assert_true(assert_attributed(f, "a", "dataplane", addr_a) >= WANT_MSGS);
	assert_true(assert_attributed(f, "b", "disco", addr_b) >= WANT_MSGS);
	for (int i = 1; i < f->rx_count && i < RX_LOG_MAX; i++)
		switches += strcmp(f->rxlog[i].tag, f->rxlog[i - 1].tag) != 0;
	assert_true(switches >= 2); /* a, b, a at least: really interleaved */
	assert_int_equal(f->zap_requests, 2);
	assert_children_clean(f);
}

/* 5. A broker restart: the bus side closes (context and all) and binds
 * again; the child's PUB reconnects by path and goes through ZAP again. */
static void test_reconnect_goes_through_zap_again(void **state)
{
	struct fix *f = *state;
	char addr[ADDR_BYTES];
	int one = 1;

	need_root();
	zap_bind(f);
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	addr_of(addr, sizeof(addr), DISCO, child_start(f, "pub", DISCO, "ev"));
	assert_true(pump_until(f, got_msgs_from, "ev"));
	assert_int_equal(f->zap_requests, 1);

	bus_close(f);
	memset(f->zlog, 0, sizeof(f->zlog));
	f->zap_requests = f->rx_count = f->hs_ok = 0;
	bus_new_ctx(f);
	zap_bind(f); /* before the bus socket: no connection without ZAP */
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	assert_true(pump_until(f, got_zap_requests, &one));
	assert_true(pump_until(f, got_msgs_from, "ev"));

	assert_int_equal(f->zap_requests, 1);
	assert_int_equal(f->zlog[0].status, 200);
	assert_string_equal(f->zlog[0].addr, addr); /* same process, same creds */
	assert_true(assert_attributed(f, "ev", "disco", addr) >= WANT_MSGS);
	assert_int_equal(f->hs_ok, 1);
	assert_children_clean(f);
}

/* 6. A hand-made peer puts "User-Id: dataplane" and "Peer-Address: forged"
 * in its READY. With ZAP the handler's User-Id wins and Peer-Address is
 * the kernel's. */
static void test_forged_user_id_loses_to_zap(void **state)
{
	struct fix *f = *state;
	char addr[ADDR_BYTES];

	need_root();
	zap_bind(f);
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	addr_of(addr, sizeof(addr), DISCO, child_start(f, "forge", DISCO, "dataplane"));
	assert_true(pump_until(f, got_msgs_from, "dataplane"));
	assert_true(assert_attributed(f, "dataplane", "disco", addr) >= WANT_MSGS);
	assert_int_equal(f->hs_protocol, 0); /* the extra properties are no error */
	assert_children_clean(f);
}

/* 7. The hole: without ZAP a real PUB's messages have no User-Id, and the
 * hand-made peer's say whatever it chose. Here: a domain but no handler
 * bound, ZMQ_ZAP_ENFORCE_DOMAIN off; with no domain at all ZAP is never
 * asked (zap_required), the same. */
static void test_without_zap_user_id_is_forged(void **state)
{
	struct fix *f = *state;
	char addr_f[ADDR_BYTES], addr_p[ADDR_BYTES];

	need_root();
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, false); /* domain, no handler, not enforced */
	addr_of(addr_f, sizeof(addr_f), DISCO, child_start(f, "forge", DISCO, "dataplane"));
	addr_of(addr_p, sizeof(addr_p), DISCO, child_start(f, "pub", DISCO, "ev"));
	assert_true(pump_until(f, got_msgs_from, "dataplane"));
	assert_true(pump_until(f, got_msgs_from, "ev"));

	assert_true(assert_attributed(f, "dataplane", "dataplane", addr_f) >= WANT_MSGS);
	for (int i = 0; i < f->rx_count && i < RX_LOG_MAX; i++) {
		const struct rx *r = &f->rxlog[i];

		if (strcmp(r->tag, "ev") == 0) {
			assert_false(r->has_user);
			assert_string_equal(r->peer, addr_p); /* Peer-Address is still there */
		}
	}
	assert_int_equal(f->hs_ok, 2);
	assert_children_clean(f);
}

/* 8. ZMQ_ZAP_ENFORCE_DOMAIN closes the hole: with no handler bound no
 * handshake completes. It fails by stalling, not by closing:
 * null_mechanism_t::next_handshake_command returns -1 and the engine just
 * stops writing, so the connection hangs until ZMQ_HANDSHAKE_IVL (30 s by
 * default; 200 ms here) and the peer then reconnects. Once the handler is
 * bound the next attempt goes through ZAP. */
static void test_enforced_domain_fails_closed(void **state)
{
	struct fix *f = *state;
	char addr[ADDR_BYTES];
	int two = 2, before;

	need_root();
	f->handshake_ms = 200;
	bound_open(f, ZMQ_XSUB, "pub.ipc", true, true);
	addr_of(addr, sizeof(addr), DISCO, child_start(f, "pub", DISCO, "ev"));
	assert_true(pump_until(f, got_accepted, &two)); /* the first attempt timed out */
	assert_true(f->hs_no_detail >= 1);
	assert_int_equal(f->rx_count, 0);
	assert_int_equal(f->hs_ok, 0);

	before = f->accepted;
	zap_bind(f);
	assert_true(pump_until(f, got_msgs_from, "ev"));
	assert_true(f->zap_requests >= 1);
	for (int i = 0; i < f->zap_requests && i < ZAP_LOG_MAX; i++)
		assert_string_equal(f->zlog[i].addr, addr);
	assert_true(assert_attributed(f, "ev", "disco", addr) >= WANT_MSGS);
	print_message("no handler, enforced: %d connection(s) accepted and none handshaken "
		      "before the handler came\n",
		      before);
	assert_children_clean(f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_xsub_user_id_from_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_router_user_id_beats_routing_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refused_uid_never_arrives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_uids_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_goes_through_zap_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forged_user_id_loses_to_zap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_zap_user_id_is_forged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_enforced_domain_fails_closed, setup, teardown),
	};
	int failed;

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	/* all skipped without root: say so to ctest (SKIP_RETURN_CODE 77) */
	return failed ? 1 : geteuid() != 0 ? 77 : 0;
}
