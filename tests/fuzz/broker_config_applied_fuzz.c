/* broker_config_applied_fuzz: broker_config_applied (broker/reload_wait.c)
 * on an arbitrary ConfigApplied key and body, as a component may set them
 * (the proxy checks only that the key is printable, the owner's, and the
 * body decodes). Input: [key length][key][body]. At most one component
 * may take it: the one whose "<program>/<name>" is exactly the key, and
 * only with this broker's epoch; then its generation is the body's. The
 * wait's report is then written for that generation, which must end in
 * a string within its buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "state.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EPOCH 0x0102030405060708ull

static const char *const names[][2] = {
	{"dataplane", "dataplane"},
	{"testcomp", "testcomp"},
	{"t2", "testcomp"},
	{"t", "testcomp"},
};

enum { N_NAMES = sizeof(names) / sizeof(names[0]) };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct broker b;
	static struct msock_config cfg;
	char key[BUS_KEY_MAX + 1], want[80], out[512];
	size_t klen;
	int taken = -1;

	if (size < 1)
		return 0;
	klen = data[0] % (BUS_KEY_MAX + 1);
	if (klen > size - 1)
		klen = size - 1;
	memcpy(key, data + 1, klen);
	key[klen] = 0;
	memset(&b, 0, sizeof(b));
	cfg.supervise = CFG_SUPERVISE_BROKER;
	b.cfg = &cfg;
	b.epoch = EPOCH;
	b.now_ns = 5;
	for (size_t i = 0; i < N_NAMES; i++) {
		struct child *ch = &b.children[b.n_children++];
		snprintf(ch->comp.name, sizeof(ch->comp.name), "%s", names[i][0]);
		snprintf(ch->comp.program, sizeof(ch->comp.program), "%s", names[i][1]);
		ch->wanted = true;
		ch->sup.state = SUP_RUNNING;
		ch->sup.ran = true;
		ch->sup.started_ns = 1;
		ch->applied_gen = UINT64_MAX; /* untouched */
		snprintf(want, sizeof(want), "%s/%s", names[i][1], names[i][0]);
		if (strcmp(want, key) == 0)
			taken = (int)i;
	}
	broker_config_applied(&b, key, data + 1 + klen, size - 1 - klen);
	Msock__ConfigApplied *m =
		msock__config_applied__unpack(0, size - 1 - klen, data + 1 + klen);
	for (size_t i = 0; i < N_NAMES; i++) {
		const struct child *ch = &b.children[i];
		bool changed = ch->applied_ns != 0;
		bool should = m && m->epoch == EPOCH && (int)i == taken;
		if (changed != should || (!should && ch->applied_gen != UINT64_MAX))
			abort();
		if (should && (ch->applied_gen != m->generation || ch->applied_ns != 5))
			abort();
	}
	size_t gen = m ? (size_t)(m->generation & 0xffff) : 0;
	if (m)
		msock__config_applied__free_unpacked(m, 0);
	for (size_t cap = 1; cap <= sizeof(out); cap *= 4) {
		broker_wait_report(&b, gen, key, (uint32_t)gen, (size & 1) != 0, out, cap);
		if (strnlen(out, cap) >= cap)
			abort();
	}
	return 0;
}
