/* capture_cli: `msockctl capture` (docs/capture.md; Tailscale's `tailscale
 * debug capture`). Asks the broker for a capture on the control socket (a
 * DEALER, so that one request gets a stream), then writes each record the
 * broker relays as pcapng (default: a comment per packet names its path)
 * or pcap (--pcap) until SIGINT or SIGTERM, -c N packets, the output
 * closing (EPIPE), or the broker ending the stream; the file is whole at
 * each record, and complete when it stops. */
#include "capture_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "capture.h"
#include "config.h"
#include "control.pb-c.h"
#include "key.h"

enum {
	CAP_REPLY_WAIT_MS = 10000, /* the broker's answer to the request */
	/* The broker sends counters every second: this long without any
	 * frame means it is gone. */
	CAP_SILENCE_MS = 5000,
	CAP_POLL_MS = 200,
	CAP_NAME_MAX = 64,
	CAP_MAX_FRAMES = 3, /* [""][head][body] */
};

#define CAPTURE_USAGE                                                                       \
	"usage: msockctl capture [--peer PEER]... [-o FILE|-] [--pcap] [-c COUNT]\n"        \
	"  PEER: a peer's name or nodekey: (at most 8); FILE: - (the default) is stdout,\n" \
	"  which must not be a terminal; pcapng unless --pcap\n"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct peer_name {
	uint8_t key[32];
	char name[CAP_NAME_MAX];
};

struct cap {
	const char *out_path;
	FILE *out;
	bool pcap;
	long count; /* 0: no limit */
	uint8_t peers[CAPTURE_MAX_PEERS][32];
	size_t n_peers;
	struct peer_name *names;
	size_t n_names;
	uint8_t *buf; /* one output record */
	uint64_t written, malformed;
	bool have_stats;
	struct capture_frame first, last; /* STATS */
};

static int cmp_name(const void *a, const void *b)
{
	return memcmp(((const struct peer_name *)a)->key, ((const struct peer_name *)b)->key, 32);
}

/* The peers' names from status, sorted by key for the comments. */
static int load_names(struct cap *c, json_t *st)
{
	json_t *peers = json_object_get(st, "Peer"), *p;
	const char *k;

	c->names = calloc(json_object_size(peers) + 1, sizeof(*c->names));
	if (!c->names)
		return -ENOMEM;
	json_object_foreach (peers, k, p) {
		struct peer_name *n = &c->names[c->n_names];
		const char *name = json_string_value(json_object_get(p, "Name"));
		if (strncmp(k, "nodekey:", 8) != 0 || key_hex_parse(k + 8, n->key) < 0)
			continue;
		snprintf(n->name, sizeof(n->name), "%s", name && *name ? name : "");
		c->n_names++;
	}
	qsort(c->names, c->n_names, sizeof(*c->names), cmp_name);
	return 0;
}

static const char *name_of(const struct cap *c, const uint8_t key[32])
{
	struct peer_name want, *n;

	memcpy(want.key, key, 32);
	n = bsearch(&want, c->names, c->n_names, sizeof(*c->names), cmp_name);
	return n && n->name[0] ? n->name : 0;
}

/* --peer: a name, "nodekey:<hex>" or the hex alone. */
static int resolve_peer(struct cap *c, json_t *st, const char *want, uint8_t key[32])
{
	json_t *peers = json_object_get(st, "Peer"), *p;
	const char *k;

	json_object_foreach (peers, k, p) {
		const char *name = json_string_value(json_object_get(p, "Name"));
		if ((name && strcmp(name, want) == 0) || strcmp(k, want) == 0 ||
		    (strncmp(k, "nodekey:", 8) == 0 && strcmp(k + 8, want) == 0))
			return strncmp(k, "nodekey:", 8) == 0 ? key_hex_parse(k + 8, key) : -1;
	}
	(void)c;
	return -1;
}

static int args(struct cap *c, int argc, char **argv, const char **peer_args)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
		if (strcmp(a, "--pcap") == 0) {
			c->pcap = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "msockctl capture: \"%s\" needs a value\n" CAPTURE_USAGE,
				a);
			return 2;
		}
		if (strcmp(a, "--peer") == 0 && c->n_peers < CAPTURE_MAX_PEERS) {
			peer_args[c->n_peers++] = v;
		} else if (strcmp(a, "-o") == 0) {
			c->out_path = v;
		} else if (strcmp(a, "-c") == 0) {
			char *end;
			errno = 0;
			c->count = strtol(v, &end, 10);
			if (errno || *end || end == v || c->count < 1) {
				fprintf(stderr, "msockctl capture: -c \"%s\": a count from 1\n", v);
				return 2;
			}
		} else {
			fprintf(stderr, "msockctl capture: unexpected \"%s\"%s\n" CAPTURE_USAGE, a,
				strcmp(a, "--peer") == 0 ? " (at most 8 peers)" : "");
			return 2;
		}
		i++;
	}
	return 0;
}

static int open_out(struct cap *c)
{
	int fd;

	if (!c->out_path || strcmp(c->out_path, "-") == 0) {
		c->out_path = "-";
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "msockctl capture: not writing a binary capture to a "
					"terminal: use -o FILE, or pipe it (| tshark -r -)\n");
			return 2;
		}
		c->out = stdout;
		return 0;
	}
	/* Addresses and timings of every peer: the operator's only. */
	fd = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(c->out = fdopen(fd, "wb"))) {
		fprintf(stderr, "msockctl capture: %s: %s\n", c->out_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	return 0;
}

/* Writes n bytes of c->buf; false when the output is gone (EPIPE) or
 * failing. */
static bool put(struct cap *c, size_t n)
{
	if (n && fwrite(c->buf, 1, n, c->out) == n)
		return true;
	fprintf(stderr, "msockctl capture: writing %s: %s\n", c->out_path,
		errno == EPIPE ? "the reader went away" : strerror(errno));
	return false;
}

static bool write_record(struct cap *c, const struct capture_frame *f)
{
	struct capture_rec r;
	const uint8_t *pkt;
	size_t pkt_len, n;
	int err = capture_rec_parse(f->body, f->body_len, &r, &pkt, &pkt_len);

	if (err) {
		if (!c->malformed++)
			fprintf(stderr, "msockctl capture: skipped a record: %s\n",
				capture_strerror(err));
		return true;
	}
	if (c->pcap) {
		n = capture_pcap_record(r.unix_ns, pkt, pkt_len, capture_rec_wire_len(&r), c->buf,
					CAPTURE_PCAPNG_EPB_MAX_BYTES);
	} else {
		char comment[CAPTURE_COMMENT_MAX_BYTES];
		uint8_t zero[32] = {0};
		capture_comment(&r, memcmp(r.key, zero, 32) ? name_of(c, r.key) : 0, comment,
				sizeof(comment));
		n = capture_pcapng_record(r.unix_ns, pkt, pkt_len, capture_rec_wire_len(&r),
					  comment, c->buf, CAPTURE_PCAPNG_EPB_MAX_BYTES);
	}
	if (!put(c, n))
		return false;
	c->written++;
	return true;
}

/* One message from the broker into f[0..*n) (*n <= CAP_MAX_FRAMES).
 * Returns 0, 1 when it had more frames (those dropped: malformed), or
 * -errno when nothing waits. */
static int recv_msg(void *s, zmq_msg_t *f, int *n)
{
	bool extra = false;

	*n = 0;
	for (int more = 1; more;) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, *n || extra ? 0 : ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			if (!*n)
				return -zmq_errno();
			break;
		}
		more = zmq_msg_more(&m);
		if (*n < CAP_MAX_FRAMES) {
			zmq_msg_init(&f[*n]);
			zmq_msg_move(&f[(*n)++], &m);
		} else {
			extra = true;
		}
		zmq_msg_close(&m);
	}
	return extra ? 1 : 0;
}

static void close_msg(zmq_msg_t *f, int n)
{
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}

/* The broker's answer to the request: 0, 1 refused (said), 3 none. */
static int await_reply(void *s, const char *sock)
{
	uint64_t waited = 0;

	while (waited < CAP_REPLY_WAIT_MS && !stop_signal) {
		zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
		zmq_msg_t f[CAP_MAX_FRAMES];
		Msock__ControlReply *rep;
		int n, rc;
		if (zmq_poll(&it, 1, CAP_POLL_MS) <= 0) {
			waited += CAP_POLL_MS;
			continue;
		}
		if (recv_msg(s, f, &n) != 0) {
			close_msg(f, n);
			continue;
		}
		rep = n == 2 && zmq_msg_size(&f[0]) == 0
			      ? msock__control_reply__unpack(0, zmq_msg_size(&f[1]),
							     zmq_msg_data(&f[1]))
			      : 0;
		close_msg(f, n);
		if (!rep) {
			fprintf(stderr, "msockctl capture: the broker's reply does not decode\n");
			return 1;
		}
		if (rep->ok)
			fprintf(stderr, "msockctl capture: %s (^C to stop)\n", rep->text);
		else
			fprintf(stderr, "msockctl capture: %s\n", rep->error);
		rc = rep->ok ? 0 : 1;
		msock__control_reply__free_unpacked(rep, 0);
		return rc;
	}
	if (!stop_signal)
		fprintf(stderr, "msockctl capture: no answer from the broker at %s within %d s\n",
			sock, CAP_REPLY_WAIT_MS / 1000);
	return stop_signal ? 0 : 3;
}

/* Reads frames until something ends the capture. Returns the exit status. */
static int stream(struct cap *c, void *s)
{
	uint64_t silent = 0;

	while (!stop_signal) {
		zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
		int got = zmq_poll(&it, 1, CAP_POLL_MS);
		if (got <= 0) {
			silent += got == 0 ? CAP_POLL_MS : 0;
			if (silent >= CAP_SILENCE_MS) {
				fprintf(stderr,
					"msockctl capture: nothing from the broker for %d s: "
					"it is gone\n",
					CAP_SILENCE_MS / 1000);
				return 1;
			}
			continue;
		}
		silent = 0;
		for (;;) {
			zmq_msg_t f[CAP_MAX_FRAMES];
			struct capture_frame fr;
			int n, err, rx = recv_msg(s, f, &n);
			if (rx < 0)
				break;
			err = rx == 0 && n >= 2 && zmq_msg_size(&f[0]) == 0
				      ? capture_frame_parse(
						zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
						n == 3 ? zmq_msg_data(&f[2]) : 0,
						n == 3 ? zmq_msg_size(&f[2]) : 0, n == 3, &fr)
				      : CAPTURE_ERR_FRAME;
			bool go = true;
			if (err) {
				if (!c->malformed++)
					fprintf(stderr, "msockctl capture: skipped a frame: %s\n",
						capture_strerror(err));
			} else if (fr.type == CAPTURE_FRAME_RECORD) {
				go = write_record(c, &fr);
			} else if (fr.type == CAPTURE_FRAME_STATS) {
				if (!c->have_stats)
					c->first = fr;
				c->last = fr;
				c->have_stats = true;
			} else {
				fprintf(stderr, "msockctl capture: the broker ended it: %s\n",
					fr.text);
				close_msg(f, n);
				return 1;
			}
			close_msg(f, n);
			if (!go)
				return 0; /* the reader closed the pipe: the end */
			if (c->count && (long)c->written >= c->count)
				return 0;
		}
		if (fflush(c->out) != 0) {
			fprintf(stderr, "msockctl capture: writing %s: %s\n", c->out_path,
				errno == EPIPE ? "the reader went away" : strerror(errno));
			return 0;
		}
	}
	return 0;
}

static void summary(const struct cap *c)
{
	fprintf(stderr, "msockctl capture: %llu packet%s written to %s",
		(unsigned long long)c->written, c->written == 1 ? "" : "s",
		strcmp(c->out_path, "-") ? c->out_path : "stdout");
	if (c->have_stats)
		fprintf(stderr,
			"; dropped meanwhile: %llu by the dataplane (channel full, all captures), "
			"%llu by the broker (this capture's queue full)",
			(unsigned long long)(c->last.dataplane_drops - c->first.dataplane_drops),
			(unsigned long long)c->last.relay_drops);
	if (c->malformed)
		fprintf(stderr, "; %llu malformed skipped", (unsigned long long)c->malformed);
	fprintf(stderr, "\n");
}

int capture_cli(const char *sock, int argc, char **argv, json_t *(*get_status)(const char *))
{
	Msock__ControlRequest req = MSOCK__CONTROL_REQUEST__INIT;
	const char *peer_args[CAPTURE_MAX_PEERS];
	char hex[CAPTURE_MAX_PEERS][KEY_HEX_LEN + 1], *hexp[CAPTURE_MAX_PEERS];
	struct cap c = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	char addr[CFG_PATH_MAX + 8];
	void *ctx = 0, *s = 0;
	json_t *st = 0;
	uint8_t *reqbuf = 0;
	size_t len;
	int rc = args(&c, argc, argv, peer_args);

	if (rc)
		return rc;
	if (!(st = get_status(sock)))
		return 3;
	rc = 1;
	if (load_names(&c, st) < 0)
		goto out;
	for (size_t i = 0; i < c.n_peers; i++) {
		if (resolve_peer(&c, st, peer_args[i], c.peers[i]) < 0) {
			fprintf(stderr,
				"msockctl capture: no peer named \"%s\" (msockctl status lists "
				"them)\n",
				peer_args[i]);
			goto out;
		}
		key_hex_format(c.peers[i], hex[i]);
		hexp[i] = hex[i];
	}
	c.buf = malloc(CAPTURE_PCAPNG_EPB_MAX_BYTES);
	if (!c.buf || (rc = open_out(&c)) != 0)
		goto out;
	rc = 1;
	/* Not SA_RESTART: the poll returns at once with EINTR. SIGPIPE is
	 * ignored: a closed pipe is an EPIPE on write, and ends it as ^C. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, 0);
	sigaction(SIGTERM, &sa, 0);
	signal(SIGPIPE, SIG_IGN);
	len = c.pcap ? capture_pcap_header(c.buf, CAPTURE_PCAPNG_EPB_MAX_BYTES)
		     : capture_pcapng_header(c.buf, CAPTURE_PCAPNG_EPB_MAX_BYTES);
	if (!put(&c, len) || fflush(c.out) != 0)
		goto out;
	ctx = zmq_ctx_new();
	s = bus_socket(ctx, ZMQ_DEALER, CAPTURE_MAX_REC_BYTES + 64);
	snprintf(addr, sizeof(addr), "ipc://%s", sock);
	req.command = "capture";
	req.args = hexp;
	req.n_args = c.n_peers;
	len = msock__control_request__get_packed_size(&req);
	reqbuf = malloc(len ? len : 1);
	if (!s || !reqbuf || access(sock, F_OK) < 0 || zmq_connect(s, addr) < 0) {
		fprintf(stderr, "msockctl: cannot reach the broker at %s: %s\n", sock,
			strerror(errno));
		rc = 3;
		goto out;
	}
	msock__control_request__pack(&req, reqbuf);
	/* A DEALER talks to the ROUTER as REQ does: an empty delimiter first. */
	if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(s, reqbuf, len, 0) < 0) {
		rc = 3;
		goto out;
	}
	rc = await_reply(s, sock);
	if (rc == 0 && !stop_signal)
		rc = stream(&c, s);
	summary(&c);
out:
	if (c.out && c.out != stdout)
		fclose(c.out);
	else if (c.out)
		fflush(c.out);
	if (s)
		zmq_close(s);
	if (ctx)
		zmq_ctx_term(ctx);
	free(reqbuf);
	free(c.buf);
	free(c.names);
	json_decref(st);
	return rc;
}
