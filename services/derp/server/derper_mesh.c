/* derper_mesh: several derpers of a region acting as one (Tailscale's
 * derpserver watchers + derper's -mesh-with). Two halves:
 *   serving watchers: a client that logged in with the mesh key may send
 *     WatchConns; it then gets PeerPresent for every client connected here
 *     and a PeerPresent/PeerGone stream as they come and go; it may send
 *     ForwardPacket (delivered here as if sent locally) and ClosePeer.
 *   watching peers: for each -mesh-with server we keep a DERP client logged
 *     in with this server's own key and the mesh key, send WatchConns, and
 *     remember which client keys are there; a packet for a key that is not
 *     here but there goes out as ForwardPacket.
 * A mesh link that drops is redialled after DERPER_MESH_REDIAL_MS and its
 * keys are forgotten until it is back (Tailscale: PeerGoneReasonMeshConnBroke).
 *
 * Timers: each link's redial time; the DERP client's own deadlines. */
#include "derper_mesh.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "derp/derp_client.h"

static size_t rbucket(const uint8_t k[KEY_LEN])
{
	return ((size_t)k[0] | (size_t)k[1] << 8) & (DERPER_MESH_REMOTE_BUCKETS - 1);
}

struct remote {
	uint8_t key[KEY_LEN];
	struct mesh_link *via;
	struct remote *next;
};

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

	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return;
		memcpy((*pp)->key, k, KEY_LEN);
	}
	(*pp)->via = via;
}

static void remote_del(struct derper *s, const uint8_t k[KEY_LEN], struct mesh_link *via)
{
	struct remote **pp = slot(s, k), *r = *pp;

	if (r && (!via || r->via == via)) {
		*pp = r->next;
		free(r);
	}
}

/* Forgets every key learnt over a link (it went down). */
static void remote_forget_link(struct derper *s, struct mesh_link *l)
{
	for (size_t b = 0; b < DERPER_MESH_REMOTE_BUCKETS; b++) {
		struct remote **pp = &s->remote[b];
		while (*pp) {
			if ((*pp)->via == l) {
				struct remote *r = *pp;
				*pp = r->next;
				free(r);
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/* ---- serving watchers ---- */

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
		n = derp_encode_peer_present(c->key.b, ip, c->remote.port,
					     c->can_mesh ? DERP_PEER_PRESENT_IS_MESH_PEER
							 : DERP_PEER_PRESENT_IS_REGULAR,
					     buf, sizeof(buf));
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
	w->watching = true;
	for (struct dconn *c = s->all; c && w->st != DC_CLOSED; c = c->all_next)
		if (c->st == DC_DERP && c != w)
			present_frame(w, c, true);
}

void mesh_on_client_change(struct derper *s, struct dconn *c, bool present)
{
	for (struct dconn *w = s->all; w; w = w->all_next)
		if (w->watching && w != c && w->st == DC_DERP)
			present_frame(w, c, present);
}

/* ---- watching peers ---- */

static void link_up(void *arg, const struct derp_server_info *si)
{
	struct mesh_link *l = arg;

	(void)si;
	l->up = true;
	l->last_why[0] = 0;
	log_info("mesh: linked to %s", l->name);
	derp_client_watch_conns(l->dc);
}

static void link_present(void *arg, const uint8_t peer[KEY_LEN], uint8_t flags)
{
	struct mesh_link *l = arg;

	/* Mesh links themselves are not destinations. */
	if (!(flags & DERP_PEER_PRESENT_IS_MESH_PEER))
		remote_set(l->srv, peer, l);
}

static void link_gone(void *arg, const uint8_t peer[KEY_LEN], uint8_t reason)
{
	struct mesh_link *l = arg;

	(void)reason;
	remote_del(l->srv, peer, l);
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
		if (l->dc && derp_client_state(l->dc) == DERP_CLIENT_CLOSED) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, derp_client_fd(l->dc), 0);
			derp_client_free(l->dc);
			l->dc = 0;
		}
		if (!l->dc && s->now_ns >= l->redial_ns)
			link_dial(l);
		if (l->dc) {
			ev.events = derp_client_events(l->dc);
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, derp_client_fd(l->dc), &ev);
		}
	}
}

bool mesh_forward(struct derper *s, const uint8_t src[KEY_LEN], const uint8_t dst[KEY_LEN],
		  const uint8_t *p, size_t n)
{
	struct remote *r = *slot(s, dst);

	if (!r || !r->via->up || !r->via->dc)
		return false;
	if (derp_client_forward(r->via->dc, src, dst, p, n) == 0) {
		s->ctr.packets_forwarded_out++;
		derp_client_on_io(r->via->dc, s->now_ns);
	} else {
		s->ctr.drop_queue_tail++;
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
