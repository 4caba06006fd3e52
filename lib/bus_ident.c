/* bus_ident: see bus_ident.h. */
#include "bus_ident.h"

#include <stdint.h>
#include <string.h>

#include "proctab.h"

int bus_peer_creds_parse(const char *addr, size_t len, struct bus_peer_creds *out, const char **why)
{
	uint64_t v[3];
	size_t end = len;

	for (int i = 2; i >= 0; i--) {
		size_t p = end, digits;

		while (p > 0 && addr[p - 1] >= '0' && addr[p - 1] <= '9')
			p--;
		digits = end - p;
		if (digits == 0 || p == 0 || addr[p - 1] != ':') {
			*why = "not <host>:<uid>:<gid>:<pid> (no peer credentials: not ipc://?)";
			return -1;
		}
		if (digits > 10) {
			*why = "a credential field longer than 10 digits";
			return -1;
		}
		v[i] = 0;
		for (size_t k = p; k < end; k++)
			v[i] = v[i] * 10 + (uint64_t)(addr[k] - '0');
		if (v[i] > UINT32_MAX) {
			*why = "a credential field over 2^32-1";
			return -1;
		}
		end = p - 1;
	}
	if (end == 0) {
		*why = "not <host>:<uid>:<gid>:<pid> (no host)";
		return -1;
	}
	/* 0: the peer is in a pid namespace this process cannot see into
	 * (SO_PEERCRED's pid, translated); its uid still names it. */
	if (v[2] > INT32_MAX) {
		*why = "no valid pid";
		return -1;
	}
	out->uid = (uid_t)v[0];
	out->gid = (gid_t)v[1];
	out->pid = (pid_t)v[2];
	return 0;
}

int bus_sender_from_user_id(const char *user_id, struct bus_sender *s)
{
	memset(s, 0, sizeof(*s));
	s->name = "(unknown)";
	if (!user_id || !*user_id)
		return -1;
	s->name = user_id;
	if (strcmp(user_id, BUS_USER_ID_ADMIN) == 0) {
		s->admin = true;
		return 0;
	}
	s->proc = proctab_find(user_id);
	return 0;
}
