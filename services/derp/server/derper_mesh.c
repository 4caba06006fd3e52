/* derper_mesh: several derpers of a region acting as one (Tailscale's
 * derpserver watchers + derper's -mesh-with). Two halves:
 *   serving watchers: a client that logged in with the mesh key may send
 *     WatchConns; it then gets PeerPresent for every client connected here
 *     and a PeerPresent/PeerGone stream as they come and go; it may send
 *     ForwardPacket (delivered here as if sent locally) and ClosePeer.
 *   watching peers: for each -mesh-with server we keep a DERP client logged
 *     in with this server's own key and the mesh key, send WatchConns, and
 *     remember which client keys are there (every key it announces, mesh
 *     clients such as derpprobe's included); a packet for a key that is not
 *     here but there goes out as ForwardPacket. A key at several peers is
 *     reached through the first that announced it while it stays
 *     (Tailscale's multiForwarder).
 * A mesh link that drops is redialled after DERPER_MESH_REDIAL_MS and its
 * keys are forgotten until it is back (Tailscale: PeerGoneReasonMeshConnBroke).
 * A key forgotten by every link and not here has left the region: those it
 * sent packets to hear PeerGone (derper_heard.c).
 * A link with over DERPER_MESH_LINK_HIGH_BYTES queued stops reading each
 * client that forwards through it until it drains (Tailscale's
 * ForwardPacket blocks its sender): the mesh is paced, not lossy.
 *
 * Timers: each link's redial time; DERPER_MESH_FORWARD_TIMEOUT_MS for a
 * link its waiting senders wait on; the DERP client's own deadlines. */
#include "derper_mesh.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "derp/derp_client.h"
#include "derper_heard.h"

static size_t rbucket(const uint8_t k[KEY_LEN])
{
	return ((size_t)k[0] | (size_t)k[1] << 8) & (DERPER_MESH_REMOTE_BUCKETS - 1);
}

struct remote {
	uint8_t key[KEY_LEN];
	uint32_t links; /* bit i: links[i] announced the key */
	unsigned pref;	/* the link packets go through: the first to announce it */
	struct remote *next;
};
_Static_assert(DERPER_MESH_MAX_LINKS <= 32, "struct remote's link mask");

static unsigned link_index(const struct mesh_link *l)
{
	return (unsigned)(l - l->srv->links);
}

static struct remote **slot(struct derper *s, const uint8_t k[KEY_LEN])
{
	struct remote **pp = &s->remote[rbucket(k)];

	while (*pp && memcmp((*pp)->key, k, KEY_LEN) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void remote_set(struct derper *s, const uint8_t k[KEY_LEN], struct mesh_link *via)
{
	struct remote **pp = slot(s, k);
	unsigned i = link_index(via);

	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return;
		memcpy((*pp)->key, k, KEY_LEN);
	}
	if (!(*pp)->links)
		(*pp)->pref = i;
	(*pp)->links |= 1u << i;
}

/* Link i no longer has the key at *pp: another link takes over, or the
 * entry goes (and, unless the key is here, the key has left the region). */
static void remote_drop(struct derper *s, struct remote **pp, unsigned i)
{
	struct remote *r = *pp;
	uint8_t k[KEY_LEN];
	struct key32 kk;

	r->links &= ~(1u << i);
	if (r->links) {
		if (r->pref == i)
			r->pref = (unsigned)__builtin_ctz(r->links);
		return;
	}
	memcpy(k, r->key, KEY_LEN);
	*pp = r->next;
	free(r);
	memcpy(kk.b, k, KEY_LEN);
	if (!clients_find(s, &kk))
		heard_gone(s, k);
}

static void remote_del(struct derper *s, const uint8_t k[KEY_LEN], struct mesh_link *via)
{
	struct remote **pp = slot(s, k);
	unsigned i = link_index(via);

	if (*pp && ((*pp)->links & (1u << i)))
		remote_drop(s, pp, i);
}

/* Forgets every key learnt over a link (it went down). */
static void remote_forget_link(struct derper *s, struct mesh_link *l)
{
	unsigned i = link_index(l);

	for (size_t b = 0; b < DERPER_MESH_REMOTE_BUCKETS; b++) {
		struct remote **pp = &s->remote[b];
		while (*pp) {
			struct remote *r = *pp;
			if (r->links & (1u << i)) {
				remote_drop(s, pp, i);
				if (*pp == r)
					pp = &r->next; /* kept: announced by another link too */
			} else {
				pp = &r->next;
			}
		}
	}
}

bool mesh_has(struct derper *s, const uint8_t k[KEY_LEN])
{
	return *slot(s, k) != 0;
}

/* ---- serving watchers ---- */

/* Tailscale's sclient.presentFlags. */
static uint8_t present_flags(const struct dconn *c)
{
	uint8_t f = 0;

	if (c->is_prober)
		f |= DERP_PEER_PRESENT_IS_PROBER;
	if (c->can_mesh)
		f |= DERP_PEER_PRESENT_IS_MESH_PEER;
	if (c->not_ideal)
		f |= DERP_PEER_PRESENT_NOT_IDEAL;
	return f ? f : DERP_PEER_PRESENT_IS_REGULAR;
}

static void present_frame(struct dconn *w, const struct dconn *c, bool present)
{
	uint8_t buf[DERP_FRAME_HEADER_LEN + DERP_PEER_PRESENT_LEN], ip[16] = {0};
	size_t n;

	if (present) {
		if (c->remote.family == AF_INET) {
			ip[10] = ip[11] = 0xff; /* v4-mapped, as Go's As16 */
			memcpy(ip + 12, c->remote.ip, 4);
		} else {
			memcpy(ip, c->remote.ip, 16);
		}
		n = derp_encode_peer_present(c->key.b, ip, c->remote.port, present_flags(c), buf,
					     sizeof(buf));
	} else {
		n = derp_encode_peer_gone(c->key.b, DERP_PEER_GONE_DISCONNECTED, buf, sizeof(buf));
	}
	if (!n || !dconn_write(w, buf, n)) {
		/* A watcher that cannot keep up has a stale view: drop it. */
		dconn_close_bad(w, "mesh watcher fell behind");
		return;
	}
	dconn_flush(w);
}

void mesh_on_watch_conns(struct dconn *w)
{
	struct derper *s = w->srv;

	if (key_equal(&w->key, &s->pub))
		return; /* our own mesh link dialled us: nothing to say */
	if (!w->watching) {
		/* A list of its own (Tailscale's s.watchers), so a login is not
		 * a walk over every connection (15 % of the CPU of 10,000 logins). */
		w->watching = true;
		w->watch_prev = 0;
		w->watch_next = s->watchers;
		if (s->watchers)
			s->watchers->watch_prev = w;
		s->watchers = w;
	}
	/* Every client here, the watcher itself included (Tailscale's
	 * addWatcher walks all clients). */
	for (struct dconn *c = s->all; c && w->st != DC_CLOSED; c = c->all_next)
		if (c->st == DC_DERP)
			present_frame(w, c, true);
}

void mesh_unwatch(struct dconn *w)
{
	struct derper *s = w->srv;

	if (!w->watching)
		return;
	w->watching = false;
	if (w->watch_prev)
		w->watch_prev->watch_next = w->watch_next;
	else
		s->watchers = w->watch_next;
	if (w->watch_next)
		w->watch_next->watch_prev = w->watch_prev;
	/* w->watch_next stays: a walk of the list may stand on w (w is not
	 * freed before the loop turn ends). */
}

void mesh_on_client_change(struct derper *s, struct dconn *c, bool present)
{
	struct dconn *w, *next;

	/* present_frame may close a watcher that falls behind, which takes
	 * it (and, through its logout, maybe others) off the list. */
	for (w = s->watchers; w; w = next) {
		next = w->watch_next;
		if (w->watching && w != c && w->st == DC_DERP)
			present_frame(w, c, present);
	}
}

/* ---- watching peers ---- */

static void link_up(void *arg, const struct derp_server_info *si)
{
	struct mesh_link *l = arg;
	const struct key32 *k = derp_client_server_key(l->dc);

	(void)si;
	if (k && key_equal(k, &l->srv->pub)) {
		/* Closed by mesh_tick, outside the client's own callback. */
		l->self = true;
		log_info("mesh: %s is this server (it has our key): not linked to, as "
			 "Tailscale's detected self-connect",
			 l->name);
		return;
	}
	l->up = true;
	l->last_why[0] = 0;
	log_info("mesh: linked to %s", l->name);
	derp_client_watch_conns(l->dc);
}

static void link_present(void *arg, const uint8_t peer[KEY_LEN], uint8_t flags)
{
	struct mesh_link *l = arg;

	/* Every key, mesh clients too: derpprobe's clients log in with the
	 * mesh key and must be reachable across the mesh (Tailscale's derper
	 * adds a forwarder for every PeerPresent). */
	(void)flags;
	remote_set(l->srv, peer, l);
}

static void link_gone(void *arg, const uint8_t peer[KEY_LEN], uint8_t reason)
{
	struct mesh_link *l = arg;

	(void)reason;
	remote_del(l->srv, peer, l);
}

/* Lets every client waiting on l read again (it drained, or went down). */
static void release_waiters(struct mesh_link *l)
{
	struct dconn *c = l->waiters, *next;

	l->waiters = 0;
	for (; c; c = next) {
		next = c->mesh_wait_next;
		c->mesh_wait = 0;
		c->mesh_wait_next = 0;
		dconn_resume(c); /* may wait on l again */
	}
}

void mesh_unwait(struct dconn *c)
{
	struct dconn **pp = &c->mesh_wait->waiters;

	while (*pp && *pp != c)
		pp = &(*pp)->mesh_wait_next;
	if (*pp)
		*pp = c->mesh_wait_next;
	c->mesh_wait = 0;
	c->mesh_wait_next = 0;
}

static void link_closed(void *arg, const char *why)
{
	struct mesh_link *l = arg;

	/* Redialled every DERPER_MESH_REDIAL_MS: a link that cannot come up
	 * says why once, and again when the reason changes. */
	if (l->up)
		log_warn("mesh: link to %s down: %s", l->name, why);
	else if (strcmp(l->last_why, why) != 0)
		log_warn("mesh: cannot link to %s: %s", l->name, why);
	snprintf(l->last_why, sizeof(l->last_why), "%s", why);
	l->up = false;
	l->redial_ns = l->srv->now_ns + DERPER_MESH_REDIAL_MS * NS_PER_MS;
	remote_forget_link(l->srv, l);
	release_waiters(l);
}

static const struct derp_client_cb link_cb = {
	.on_up = link_up,
	.on_peer_present = link_present,
	.on_peer_gone = link_gone,
	.on_closed = link_closed,
};

static void link_dial(struct mesh_link *l)
{
	struct derper *s = l->srv;
	struct derp_client_cfg cfg = {.addr = l->addr,
				      .tls = s->tls != 0,
				      .ssl_ctx = s->mesh_tls,
				      .priv = s->priv,
				      .has_mesh_key = true};
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &l->src};

	memcpy(cfg.mesh_key, s->mesh_key, sizeof(cfg.mesh_key));
	snprintf(cfg.host, sizeof(cfg.host), "%s", l->name);
	derp_client_free(l->dc);
	l->dc = derp_client_new(&cfg, &link_cb, l, s->now_ns);
	l->redial_ns = 0;
	if (!l->dc) {
		l->redial_ns = s->now_ns + DERPER_MESH_REDIAL_MS * NS_PER_MS;
		return;
	}
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, derp_client_fd(l->dc), &ev);
}

void mesh_link_on_io(struct mesh_link *l)
{
	if (l->dc)
		derp_client_on_io(l->dc, l->srv->now_ns);
}

/* Keeps each link's epoll interest in step with its client, and redials. */
void mesh_tick(struct derper *s)
{
	for (size_t i = 0; i < s->n_links; i++) {
		struct mesh_link *l = &s->links[i];
		struct epoll_event ev = {.data.ptr = &l->src};

		if (l->dc)
			derp_client_tick(l->dc, s->now_ns);
		if (l->waiters && l->dc && derp_client_pending(l->dc) < l->wait_pending) {
			l->wait_since_ns = s->now_ns; /* some progress */
			l->wait_pending = derp_client_pending(l->dc);
		}
		if (l->waiters && l->dc && derp_client_state(l->dc) != DERP_CLIENT_CLOSED &&
		    derp_client_pending(l->dc) > DERPER_MESH_LINK_LOW_BYTES &&
		    s->now_ns - l->wait_since_ns >= DERPER_MESH_FORWARD_TIMEOUT_MS * NS_PER_MS) {
			/* Tailscale closes a mesh connection whose forward has
			 * not been written in 5 s; it is redialled. */
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, derp_client_fd(l->dc), 0);
			derp_client_free(l->dc);
			l->dc = 0;
			link_closed(l, "forwarding stalled: nothing written for 5 s");
		}
		if (l->waiters &&
		    (!l->dc || derp_client_pending(l->dc) <= DERPER_MESH_LINK_LOW_BYTES))
			release_waiters(l);
		if (l->dc && (l->self || derp_client_state(l->dc) == DERP_CLIENT_CLOSED)) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, derp_client_fd(l->dc), 0);
			derp_client_free(l->dc);
			l->dc = 0;
		}
		if (!l->dc && !l->self && s->now_ns >= l->redial_ns)
			link_dial(l);
		if (l->dc) {
			ev.events = derp_client_events(l->dc);
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, derp_client_fd(l->dc), &ev);
		}
	}
}

bool mesh_forward(struct derper *s, struct dconn *from, const uint8_t dst[KEY_LEN],
		  const uint8_t *p, size_t n)
{
	struct remote *r = *slot(s, dst);
	struct mesh_link *l;

	if (!r)
		return false;
	l = &s->links[r->pref];
	if (!l->up || !l->dc)
		return false;
	if (derp_client_forward(l->dc, from->key.b, dst, p, n) == 0) {
		s->ctr.packets_forwarded_out++;
		derp_client_on_io(l->dc, s->now_ns);
	} else {
		s->ctr.drop_queue_tail++;
	}
	/* on_io may have closed the link (its waiters are released then). */
	if (l->dc && l->up && derp_client_pending(l->dc) > DERPER_MESH_LINK_HIGH_BYTES &&
	    !from->mesh_wait) {
		if (!l->waiters) {
			l->wait_since_ns = s->now_ns;
			l->wait_pending = derp_client_pending(l->dc);
		}
		from->mesh_wait = l;
		from->mesh_wait_next = l->waiters;
		l->waiters = from;
		dconn_pause(from);
	}
	return true;
}

/* "host", "ip:port" or "host/dialhost[:port]" (Tailscale: the name to dial
 * after the slash). Names are not resolved: the dial part is an address. */
static int parse_link(const char *item, struct mesh_link *l, int default_port)
{
	const char *slash = strchr(item, '/');
	const char *dial = slash ? slash + 1 : item;
	char host[DERPER_MESH_NAME_MAX];
	struct ipport a;

	snprintf(l->name, sizeof(l->name), "%.*s", (int)(slash ? slash - item : (long)strlen(item)),
		 item);
	if (ipport_parse(dial, &a) == 0) {
		l->addr = a;
		/* The name for TLS is the host part of the name. */
		snprintf(host, sizeof(host), "%s", l->name);
		char *colon = strrchr(host, ':');
		if (colon && !strchr(host, ']'))
			*colon = 0;
		snprintf(l->name, sizeof(l->name), "%s", host);
		return 0;
	}
	if (ip_parse(dial, &a) == 0) {
		a.port = (uint16_t)default_port;
		l->addr = a;
		return 0;
	}
	return -EINVAL;
}

int mesh_setup(struct derper *s, const char *mesh_with, const char *self_hostname, int listen_port,
	       char *err, size_t errcap)
{
	char list[4096], *save = 0;

	if (!mesh_with[0])
		return 0;
	if (!s->has_mesh_key) {
		snprintf(err, errcap, "-mesh-with needs the mesh key (-mesh-psk-file)");
		return -EINVAL;
	}
	snprintf(list, sizeof(list), "%s", mesh_with);
	for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(0, ",", &save)) {
		struct mesh_link *l;
		if (!item[0] || strcmp(item, self_hostname) == 0)
			continue; /* our own name may be listed (Tailscale allows it) */
		if (s->n_links == DERPER_MESH_MAX_LINKS) {
			snprintf(err, errcap, "-mesh-with: more than %d servers",
				 DERPER_MESH_MAX_LINKS);
			return -EINVAL;
		}
		l = &s->links[s->n_links];
		memset(l, 0, sizeof(*l));
		if (parse_link(item, l, listen_port) < 0) {
			snprintf(err, errcap,
				 "-mesh-with: \"%s\": expected an address (ip, ip:port, or "
				 "name/ip:port); names are not resolved",
				 item);
			return -EINVAL;
		}
		l->srv = s;
		l->src.kind = EV_MESH;
		s->n_links++;
	}
	return 0;
}

void mesh_free(struct derper *s)
{
	for (size_t i = 0; i < s->n_links; i++)
		derp_client_free(s->links[i].dc);
	for (size_t b = 0; b < DERPER_MESH_REMOTE_BUCKETS; b++)
		while (s->remote[b]) {
			struct remote *r = s->remote[b];
			s->remote[b] = r->next;
			free(r);
		}
}
