/* portmapper_pm_fuzz: arbitrary datagrams, from the gateway's NAT-PMP/PCP
 * port or its SSDP port, into the portmapper's state machine in each state
 * (probing, mapping with NAT-PMP or PCP, mapped): no crash, and a mapping
 * is only ever published with a usable external address. The first input
 * byte picks the state and the source port. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "pm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool bad_mapping;

static void fsend(void *arg, const struct ipport *to, const uint8_t *p, size_t len)
{
	(void)arg;
	(void)to;
	(void)p;
	(void)len;
}

static void fmapped(void *arg, enum pm_proto p, const struct ipport *ext, uint16_t internal,
		    uint64_t expires)
{
	(void)arg;
	(void)p;
	(void)internal;
	(void)expires;
	if (ext->family != AF_INET || ext->port == 0 || ext->ip[0] == 0 || ext->ip[0] == 127)
		bad_mapping = true;
}

static int fupnp(void *arg, const struct upnp_url *loc, const struct ipport *in, uint16_t want,
		 struct ipport *ext, uint32_t *lease)
{
	(void)arg;
	(void)loc;
	(void)in;
	(void)want;
	(void)ext;
	(void)lease;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm m;
	const struct pm_io io = {.send = fsend, .upnp_map = fupnp, .mapped = fmapped};
	const struct ipport gw = {.family = AF_INET, .ip = {10, 0, 1, 1}};
	const struct ipport self = {.family = AF_INET, .ip = {10, 0, 1, 2}};
	struct ipport from = gw;
	const char *detail;
	uint64_t now = 1000 * NS_PER_SEC;

	if (size < 1)
		return 0;
	pm_init(&m, &io,
		(data[0] & 3) == 1   ? PM_PROTO_PCP
		: (data[0] & 3) == 2 ? PM_PROTO_PMP
				     : PM_PROTO_NONE);
	pm_set_env(&m, &gw, &self, 41641, true, now);
	if (data[0] & 4)
		pm_tick(&m, now + PM_PROBE_MS * NS_PER_MS); /* to mapping (forced ones) */
	from.port = (data[0] & 8) ? 1900 : PM_PXP_PORT;
	/* The rest, split at 0xff 0xff into several datagrams. */
	const uint8_t *p = data + 1, *end = data + size;
	while (p <= end) {
		const uint8_t *q = p;
		while (q + 1 < end && !(q[0] == 0xff && q[1] == 0xff))
			q++;
		if (q + 1 >= end)
			q = end;
		pm_on_packet(&m, &from, p, (size_t)(q - p), now, &detail);
		pm_tick(&m, now);
		now += 10 * NS_PER_MS;
		p = q + 2;
	}
	if (bad_mapping)
		abort();
	return 0;
}
