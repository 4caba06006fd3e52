/* derper_heard_test: who heard from whom (services/derp/server/
 * derper_heard.c) on a server struct with real connections over socket
 * pairs: a note is kept once per sender; a sender leaving tells exactly
 * those that heard from it (PeerGone, disconnected) and forgets it; a
 * receiver closing forgets its notes; and a receiver whose write fails
 * while it is being told (it closes, forgetting its notes) does not pull
 * the notes out from under the walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "be.h"
#include "derp/derp_frame.h"
#include "derper.h"
#include "derper_heard.h"

struct fx {
	struct derper *s;
	struct dconn *c[3];
	int peer[3]; /* the other end of each connection's socket */
};

static struct dconn *conn(struct derper *s, int *peer)
{
	struct ipport remote = {0};
	int sv[2];
	struct dconn *c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c = dconn_new(s, sv[0], 0, &remote);
	assert_non_null(c);
	c->st = DC_DERP; /* logged in, as derper_on_upgrade and ClientInfo leave it */
	c->framed = true;
	s->n_pending--;
	*peer = sv[1];
	return c;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || !(f->s = calloc(1, sizeof(*f->s))))
		return -1;
	f->s->epfd = epoll_create1(EPOLL_CLOEXEC); /* registered with, never waited on */
	if (f->s->epfd < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		f->c[i] = conn(f->s, &f->peer[i]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 3; i++) {
		dconn_close(f->c[i], 0);
		if (f->peer[i] >= 0)
			close(f->peer[i]);
	}
	dconn_reap(f->s);
	close(f->s->epfd);
	free(f->s);
	free(f);
	return 0;
}

static uint8_t key_of(int i)
{
	return (uint8_t)(0x10 + i);
}

/* The PeerGone frames waiting at peer i: how many name `about`. */
static int gone_frames(struct fx *f, int i, uint8_t about)
{
	uint8_t buf[4096];
	ssize_t n;
	int found = 0;

	dconn_flush_pending(f->s);
	n = read(f->peer[i], buf, sizeof(buf));
	for (ssize_t off = 0; n > 0 && off + DERP_FRAME_HEADER_LEN <= n;) {
		uint32_t len = be_get32(buf + off + 1);
		if (buf[off] == DERP_FRAME_PEER_GONE && len == KEY_LEN + 1 &&
		    buf[off + 5] == about && buf[off + 5 + KEY_LEN] == DERP_PEER_GONE_DISCONNECTED)
			found++;
		off += DERP_FRAME_HEADER_LEN + len;
	}
	return found;
}

static void note(struct fx *f, int rcv, uint8_t src)
{
	uint8_t k[KEY_LEN];

	memset(k, src, sizeof(k));
	heard_note(f->s, f->c[rcv], k);
}

static void gone(struct fx *f, uint8_t src)
{
	uint8_t k[KEY_LEN];

	memset(k, src, sizeof(k));
	heard_gone(f->s, k);
}

static void test_told_once_and_forgotten(void **state)
{
	struct fx *f = *state;

	note(f, 0, key_of(9));
	note(f, 0, key_of(9)); /* once per sender */
	note(f, 1, key_of(9));
	note(f, 1, key_of(8));
	assert_int_equal(f->c[0]->heard.n, 1);
	assert_int_equal(f->c[1]->heard.n, 2);
	gone(f, key_of(9));
	assert_int_equal(gone_frames(f, 0, key_of(9)), 1);
	assert_int_equal(gone_frames(f, 1, key_of(9)), 1);
	assert_int_equal(gone_frames(f, 2, key_of(9)), 0);
	assert_int_equal(f->c[0]->heard.n, 0);
	assert_int_equal(f->c[1]->heard.n, 1);
	assert_int_equal(f->s->ctr.peer_gone_disconnected, 2);
	gone(f, key_of(9)); /* forgotten: nobody is told twice */
	assert_int_equal(gone_frames(f, 0, key_of(9)), 0);
	assert_int_equal(gone_frames(f, 1, key_of(9)), 0);
}

static void test_closed_receiver_forgets(void **state)
{
	struct fx *f = *state;

	note(f, 1, key_of(7));
	note(f, 2, key_of(7));
	heard_forget(f->s, f->c[1]);
	assert_int_equal(f->c[1]->heard.n, 0);
	gone(f, key_of(7));
	assert_int_equal(gone_frames(f, 1, key_of(7)), 0);
	assert_int_equal(gone_frames(f, 2, key_of(7)), 1);
}

/* Many senders: the receiver's table grows and keeps every note. */
static void test_many_senders(void **state)
{
	struct fx *f = *state;
	uint8_t k[KEY_LEN] = {0};

	for (int i = 0; i < 1000; i++) {
		k[0] = (uint8_t)i;
		k[1] = (uint8_t)(i >> 8);
		heard_note(f->s, f->c[0], k);
	}
	assert_int_equal(f->c[0]->heard.n, 1000);
	k[0] = (uint8_t)777;
	k[1] = (uint8_t)(777 >> 8);
	heard_gone(f->s, k);
	assert_int_equal(f->c[0]->heard.n, 999);
}

/* Receivers whose peer is gone: telling them fails the write (a queue
 * half full flushes at once), which closes them, which forgets their
 * notes while heard_gone walks the notes of the same sender. */
static void test_receiver_closing_while_told(void **state)
{
	struct fx *f = *state;
	uint8_t src[KEY_LEN], pkt[100] = {1};

	memset(src, key_of(5), sizeof(src));
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++) {
		note(f, i, key_of(5));
		note(f, i, key_of(6));
		for (int k = 0; k < DERPER_QUEUE_DEPTH / 2; k++)
			clients_enqueue(f->s, f->c[i], src, pkt, sizeof(pkt));
		close(f->peer[i]);
		f->peer[i] = -1;
	}
	gone(f, key_of(5));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->c[i]->st, DC_CLOSED);
		assert_int_equal(f->c[i]->heard.n, 0);
	}
	gone(f, key_of(6)); /* nothing left to tell */
	assert_int_equal(f->s->ctr.peer_gone_disconnected, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_told_once_and_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_receiver_forgets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_senders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receiver_closing_while_told, setup, teardown),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}
