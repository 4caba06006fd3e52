/* capture: `msockctl capture` in the broker (docs/capture.md). The broker
 * binds the capture channel (<bus>/ch-capture/capture.ipc, a PULL the
 * dataplane connects to while a capture runs), keeps up to
 * CAPTURE_MAX_SESSIONS clients of the control socket, and relays each
 * record to the clients its session mask names, as bytes: it reads the
 * record's header for the mask (capture_rec_sessions) and nothing of the
 * packet. The Capture state tells the dataplane which sessions want what;
 * it is deleted when the last client goes. Timers: each client gets a
 * STATS frame every BROKER_CAPTURE_STATS_MS, which is also how a client
 * that went away is noticed (ZMQ_ROUTER_MANDATORY: EHOSTUNREACH). */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "capture.h"
#include "clock.h"
#include "control.pb-c.h"
#include "key.h"
#include "state.pb-c.h"

/* The group of the capture channel's directory: the dataplane's own when
 * each component has its user, the components' otherwise. */
static gid_t channel_gid(const struct broker *b)
{
	for (size_t i = 0; b->users == BROKER_USERS_PER_COMPONENT && i < b->n_row_uids; i++)
		if (broker_takes_sockets(b->row_uids[i].proc))
			return b->row_uids[i].gid;
	return b->gid;
}

static void publish(struct broker *b);

int broker_capture_open(struct broker *b)
{
	char dir[PATH_MAX + 32], path[PATH_MAX + 64], addr[PATH_MAX + 80];
	const int hwm = BROKER_CAPTURE_QUEUE_RECORDS;
	gid_t gid = channel_gid(b);
	mode_t old;
	int rc;

	log_ratelimit_init(&b->cap.rl, LOG_RATELIMIT_DEFAULT_MS);
	snprintf(dir, sizeof(dir), "%s/%s", b->bus_dir, CAPTURE_CHANNEL_DIR);
	snprintf(path, sizeof(path), "%s/%s", dir, CAPTURE_CHANNEL_FILE);
	snprintf(addr, sizeof(addr), "ipc://%s", path);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_error("capture: %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Root's, of the dataplane's group: only the dataplane (and root)
	 * reach the channel; each record's sender is checked besides. */
	if (b->drop && (chown(dir, 0, gid) < 0 || chmod(dir, 0750) < 0)) {
		log_error("capture: %s: %s", dir, strerror(errno));
		return -1;
	}
	b->cap.pull = bus_socket(b->zctx, ZMQ_PULL, CAPTURE_MAX_REC_BYTES);
	if (!b->cap.pull || broker_zap_require(b->cap.pull, BROKER_ZAP_BUS) < 0 ||
	    zmq_setsockopt(b->cap.pull, ZMQ_RCVHWM, &hwm, sizeof(hwm)) < 0)
		return -1;
	unlink(path); /* a stale file from a broker that died */
	old = umask(0117);
	rc = zmq_bind(b->cap.pull, addr);
	umask(old);
	if (rc < 0) {
		log_error("capture: cannot bind %s: %s", addr, zmq_strerror(errno));
		return -1;
	}
	if (b->drop && chown(path, (uid_t)-1, gid) < 0) {
		log_error("capture: chown %s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, b->drop ? 0660 : 0600);
	publish(b); /* no session yet */
	return 0;
}

void broker_capture_close(struct broker *b)
{
	if (b->cap.pull)
		zmq_close(b->cap.pull);
	b->cap.pull = 0;
}

/* The Capture state from the clients; with none, a Capture of no session
 * rather than no key, so that a dataplane that still captures for an
 * earlier broker (whose clients went with it) hears it is over when it
 * asks the new broker for its snapshots. */
static void publish(struct broker *b)
{
	Msock__Capture c = MSOCK__CAPTURE__INIT;
	Msock__CaptureSession s[CAPTURE_MAX_SESSIONS], *sp[CAPTURE_MAX_SESSIONS];
	ProtobufCBinaryData peers[CAPTURE_MAX_SESSIONS][CAPTURE_MAX_PEERS];
	uint8_t buf[2048];
	size_t len;

	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++) {
		const struct capture_client *cl = &b->cap.clients[i];
		if (!cl->used)
			continue;
		msock__capture_session__init(&s[c.n_sessions]);
		s[c.n_sessions].slot = (uint32_t)i;
		for (size_t j = 0; j < cl->n_peers; j++)
			peers[i][j] =
				(ProtobufCBinaryData){.len = 32, .data = (uint8_t *)cl->peers[j]};
		s[c.n_sessions].peers = peers[i];
		s[c.n_sessions].n_peers = cl->n_peers;
		sp[c.n_sessions] = &s[c.n_sessions];
		c.n_sessions++;
	}
	c.sessions = sp;
	len = msock__capture__get_packed_size(&c);
	if (len > sizeof(buf))
		return; /* 8 sessions of 8 keys: ~600 bytes */
	msock__capture__pack(&c, buf);
	broker_state_set(b, BUS_T_Capture, "self", buf, len);
}

static void client_end(struct broker *b, struct capture_client *cl, const char *why)
{
	log_info("capture: client %d ended (%s): %llu records relayed, %llu dropped",
		 (int)(cl - b->cap.clients), why, (unsigned long long)cl->relayed,
		 (unsigned long long)cl->dropped);
	memset(cl, 0, sizeof(*cl));
	publish(b);
}

/* Sends [id][""][head] and, when body, [body] to a client. 0, or -errno
 * (EAGAIN: its queue is full; EHOSTUNREACH: it is gone). */
static int client_send(struct broker *b, const struct capture_client *cl, const uint8_t *head,
		       size_t head_len, zmq_msg_t *body)
{
	int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;

	if (zmq_send(b->control, cl->id, cl->id_len, more) < 0)
		return -zmq_errno();
	/* The first frame decides: the rest of the message goes with it. */
	zmq_send(b->control, "", 0, more);
	zmq_send(b->control, head, head_len, body ? more : ZMQ_DONTWAIT);
	if (body)
		zmq_msg_send(body, b->control, ZMQ_DONTWAIT);
	return 0;
}

static void end_frame(struct broker *b, struct capture_client *cl, const char *why)
{
	struct capture_frame f = {.type = CAPTURE_FRAME_END};
	uint8_t head[CAPTURE_FRAME_END_MAX_BYTES];

	snprintf(f.text, sizeof(f.text), "%s", why);
	client_send(b, cl, head, capture_frame_encode(&f, head, sizeof(head)), 0);
}

int broker_capture_start(struct broker *b, const void *id, size_t id_len,
			 const struct Msock__ControlRequest *req, char *err, size_t cap)
{
	struct capture_client *cl = 0;
	Msock__DataplaneState *dp;

	if (req->n_args > CAPTURE_MAX_PEERS) {
		snprintf(err, cap, "at most %d peers per capture", CAPTURE_MAX_PEERS);
		return -1;
	}
	if (id_len > sizeof(cl->id) || !id_len) {
		snprintf(err, cap, "no routing id to stream to");
		return -1;
	}
	for (int i = 0; i < CAPTURE_MAX_SESSIONS && !cl; i++)
		if (!b->cap.clients[i].used)
			cl = &b->cap.clients[i];
	if (!cl) {
		snprintf(err, cap, "%d captures already run: try again later",
			 CAPTURE_MAX_SESSIONS);
		return -1;
	}
	for (size_t i = 0; i < req->n_args; i++)
		if (key_hex_parse(req->args[i], cl->peers[i]) < 0) {
			snprintf(err, cap, "not a node key in hex: \"%.80s\"", req->args[i]);
			memset(cl, 0, sizeof(*cl));
			return -1;
		}
	cl->used = true;
	cl->n_peers = req->n_args;
	memcpy(cl->id, id, id_len);
	cl->id_len = id_len;
	cl->started_ns = b->now_ns;
	if (!b->cap.next_stats_ns || b->cap.next_stats_ns < b->now_ns)
		b->cap.next_stats_ns = b->now_ns + (uint64_t)BROKER_CAPTURE_STATS_MS * NS_PER_MS;
	dp = (Msock__DataplaneState *)broker_cached(b, BUS_T_DataplaneState, "self",
						    &msock__dataplane_state__descriptor);
	snprintf(err, cap, "capturing as client %d%s", (int)(cl - b->cap.clients),
		 dp ? "" : " (no dataplane runs yet: packets come once it does)");
	if (dp)
		protobuf_c_message_free_unpacked(&dp->base, 0);
	log_info("capture: client %d started (%zu peer filter%s)", (int)(cl - b->cap.clients),
		 cl->n_peers, cl->n_peers == 1 ? "" : "s");
	return 0;
}

/* After the reply to the request: the dataplane learns of the new session. */
void broker_capture_started(struct broker *b)
{
	publish(b);
}

/* One record: to each client its mask names. */
static void relay(struct broker *b, zmq_msg_t *m)
{
	uint32_t mask;
	int err = capture_rec_sessions(zmq_msg_data(m), zmq_msg_size(m), &mask);

	if (err) {
		b->cap.malformed++;
		log_rl(&b->cap.rl, b->now_ns, LOG_LEVEL_WARN,
		       "capture: dropped a %zu-byte record: %s", zmq_msg_size(m),
		       capture_strerror(err));
		return;
	}
	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++) {
		struct capture_client *cl = &b->cap.clients[i];
		const uint8_t head[CAPTURE_FRAME_RECORD_BYTES] = {CAPTURE_FRAME_RECORD};
		zmq_msg_t copy;
		int rc;
		if (!(mask & (1u << i)))
			continue;
		if (!cl->used) {
			b->cap.unrouted++; /* a client that just ended */
			continue;
		}
		/* A copy shares the bytes (reference counted): no packet copy. */
		zmq_msg_init(&copy);
		zmq_msg_copy(&copy, m);
		rc = client_send(b, cl, head, sizeof(head), &copy);
		zmq_msg_close(&copy);
		if (rc == 0) {
			cl->relayed++;
			b->cap.relayed++;
		} else if (rc == -EAGAIN) {
			cl->dropped++;
		} else {
			client_end(b, cl, "gone");
		}
	}
}

void broker_on_capture(struct broker *b)
{
	for (int n = 0; b->cap.pull && n < BROKER_CAPTURE_DRAIN_RECORDS; n++) {
		struct bus_sender s;
		zmq_msg_t m;
		int more;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, b->cap.pull, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		more = zmq_msg_more(&m);
		broker_sender(&m, &s);
		/* Only the dataplane builds records; the channel's directory
		 * keeps others out, and this holds with one user for all. */
		if (more || !s.proc || !broker_takes_sockets(s.proc)) {
			b->cap.refused++;
			log_rl(&b->cap.rl, b->now_ns, LOG_LEVEL_WARN,
			       "capture: refused a %s from %s",
			       more ? "multipart message" : "record",
			       s.name ? s.name : "an unnamed peer");
		} else {
			relay(b, &m);
		}
		zmq_msg_close(&m);
		while (more) { /* the rest of a multipart message */
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, b->cap.pull, ZMQ_DONTWAIT) < 0)
				more = 0;
			else
				more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		}
	}
}

void broker_capture_tick(struct broker *b)
{
	struct capture_frame f = {.type = CAPTURE_FRAME_STATS};
	uint8_t head[CAPTURE_FRAME_STATS_BYTES];
	Msock__DataplaneState *dp;
	bool any = false;

	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++)
		any |= b->cap.clients[i].used;
	if (!any || b->now_ns < b->cap.next_stats_ns)
		return;
	b->cap.next_stats_ns = b->now_ns + (uint64_t)BROKER_CAPTURE_STATS_MS * NS_PER_MS;
	dp = (Msock__DataplaneState *)broker_cached(b, BUS_T_DataplaneState, "self",
						    &msock__dataplane_state__descriptor);
	if (dp) {
		f.dataplane_open = dp->capture_open;
		f.dataplane_records = dp->capture_records;
		f.dataplane_drops = dp->capture_drops;
		protobuf_c_message_free_unpacked(&dp->base, 0);
	}
	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++) {
		struct capture_client *cl = &b->cap.clients[i];
		if (!cl->used)
			continue;
		f.relayed = cl->relayed;
		f.relay_drops = cl->dropped;
		int rc = client_send(b, cl, head, capture_frame_encode(&f, head, sizeof(head)), 0);
		if (rc < 0 && rc != -EAGAIN)
			client_end(b, cl, "gone");
	}
}

void broker_capture_end_all(struct broker *b, const char *why)
{
	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++) {
		struct capture_client *cl = &b->cap.clients[i];
		if (!cl->used)
			continue;
		end_frame(b, cl, why);
		client_end(b, cl, why);
	}
}

uint64_t broker_capture_deadline(const struct broker *b)
{
	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++)
		if (b->cap.clients[i].used)
			return b->cap.next_stats_ns;
	return UINT64_MAX;
}

json_t *broker_capture_json(const struct broker *b)
{
	json_t *clients = json_array();
	char hex[KEY_HEX_LEN + 1], text[KEY_HEX_LEN + 16];

	for (int i = 0; i < CAPTURE_MAX_SESSIONS; i++) {
		const struct capture_client *cl = &b->cap.clients[i];
		json_t *peers = json_array();
		if (!cl->used) {
			json_decref(peers);
			continue;
		}
		for (size_t j = 0; j < cl->n_peers; j++) {
			key_hex_format(cl->peers[j], hex);
			snprintf(text, sizeof(text), "nodekey:%s", hex);
			json_array_append_new(peers, json_string(text));
		}
		json_array_append_new(clients,
				      json_pack("{s:i,s:o,s:I,s:I,s:f}", "Client", i, "Peers",
						peers, "Relayed", (json_int_t)cl->relayed,
						"Dropped", (json_int_t)cl->dropped, "SinceSec",
						(double)(b->now_ns - cl->started_ns) / 1e9));
	}
	return json_pack("{s:o,s:I,s:I,s:I,s:I}", "Clients", clients, "Relayed",
			 (json_int_t)b->cap.relayed, "Refused", (json_int_t)b->cap.refused,
			 "Malformed", (json_int_t)b->cap.malformed, "Unrouted",
			 (json_int_t)b->cap.unrouted);
}
