/* portmapper pm: the state machine against a scripted gateway: the probe,
 * NAT-PMP and PCP mappings, renewal at half the lifetime, the epoch rule,
 * the delete, and every bad answer (not from the gateway, truncated, a
 * refusal, lifetime 0, an unusable external address, a wrong nonce), each
 * dropped with nothing changed or falling back as Tailscale does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "be.h"
#include "clock.h"
#include "pm.h"

#define MS(x) ((uint64_t)(x)*NS_PER_MS)

struct sent {
	struct ipport to;
	uint8_t p[1500];
	size_t len;
};

static struct fake {
	struct sent sent[64];
	size_t n_sent;
	int n_mapped, n_unmapped, n_probed, n_upnp_map, n_upnp_unmap;
	enum pm_proto mapped_proto;
	struct ipport mapped_ext;
	bool probe_pmp, probe_pcp, probe_upnp;
	int upnp_rc;
} f;

static void fsend(void *arg, const struct ipport *to, const uint8_t *p, size_t len)
{
	(void)arg;
	if (f.n_sent < 64) {
		f.sent[f.n_sent].to = *to;
		memcpy(f.sent[f.n_sent].p, p, len);
		f.sent[f.n_sent].len = len;
		f.n_sent++;
	}
}

static int fupnp_map(void *arg, const struct upnp_url *loc, const struct ipport *internal,
		     uint16_t want, struct ipport *ext, uint32_t *lease)
{
	(void)arg;
	(void)loc;
	(void)internal;
	f.n_upnp_map++;
	if (f.upnp_rc)
		return f.upnp_rc;
	*ext = (struct ipport){
		.family = AF_INET, .ip = {198, 18, 1, 1}, .port = want ? want : 41641};
	*lease = 3600;
	return 0;
}

static void fupnp_unmap(void *arg, uint16_t port)
{
	(void)arg;
	(void)port;
	f.n_upnp_unmap++;
}

static void fmapped(void *arg, enum pm_proto p, const struct ipport *ext, uint16_t internal,
		    uint64_t expires)
{
	(void)arg;
	(void)internal;
	(void)expires;
	f.n_mapped++;
	f.mapped_proto = p;
	f.mapped_ext = *ext;
}

static void funmapped(void *arg, enum pm_proto p)
{
	(void)arg;
	(void)p;
	f.n_unmapped++;
}

static void fprobed(void *arg, bool pmp, bool pcp, bool upnp)
{
	(void)arg;
	f.n_probed++;
	f.probe_pmp = pmp;
	f.probe_pcp = pcp;
	f.probe_upnp = upnp;
}

static const struct pm_io io = {fsend, fupnp_map, fupnp_unmap, fmapped, funmapped, fprobed, 0};
static const struct ipport GW = {.family = AF_INET, .ip = {10, 0, 1, 1}};
static const struct ipport SELF = {.family = AF_INET, .ip = {10, 0, 1, 2}};
static const struct ipport PXP = {.family = AF_INET, .ip = {10, 0, 1, 1}, .port = 5351};
static const uint64_t T0 = 1000 * NS_PER_SEC;

/* NAT-PMP external address answer (RFC 6886 section 3.2). */
static size_t pmp_addr(uint8_t *b, uint16_t result, uint32_t epoch, const uint8_t ip[4])
{
	memset(b, 0, 12);
	b[1] = 128;
	be_put16(b + 2, result);
	be_put32(b + 4, epoch);
	memcpy(b + 8, ip, 4);
	return 12;
}

/* NAT-PMP UDP map answer (section 3.3). */
static size_t pmp_map(uint8_t *b, uint16_t result, uint32_t epoch, uint16_t in, uint16_t ext,
		      uint32_t life)
{
	memset(b, 0, 16);
	b[1] = 129;
	be_put16(b + 2, result);
	be_put32(b + 4, epoch);
	be_put16(b + 8, in);
	be_put16(b + 10, ext);
	be_put32(b + 12, life);
	return 16;
}

/* PCP MAP answer (RFC 6887 sections 7.2 and 11.2) for the request req. */
static size_t pcp_map(uint8_t *b, const uint8_t *req, uint8_t result, uint32_t life, uint32_t epoch,
		      uint16_t ext, const uint8_t ip[4])
{
	memset(b, 0, 60);
	b[0] = 2;
	b[1] = 0x81;
	b[3] = result;
	be_put32(b + 4, life);
	be_put32(b + 8, epoch);
	memcpy(b + 24, req + 24, 12); /* nonce */
	b[36] = 17;
	memcpy(b + 40, req + 40, 2); /* internal port */
	be_put16(b + 42, ext);
	b[54] = b[55] = 0xff;
	memcpy(b + 56, ip, 4);
	return 60;
}

static const struct sent *last_to(const struct ipport *to)
{
	for (size_t i = f.n_sent; i-- > 0;)
		if (ipport_equal(&f.sent[i].to, to))
			return &f.sent[i];
	return 0;
}

static int deliver(struct pm *m, const uint8_t *b, size_t n, uint64_t now)
{
	const char *detail;
	return pm_on_packet(m, &PXP, b, n, now, &detail);
}

static void start(struct pm *m, enum pm_proto forced)
{
	memset(&f, 0, sizeof(f));
	pm_init(m, &io, forced);
	pm_set_env(m, &GW, &SELF, 41641, true, T0);
}

/* The probe: NAT-PMP address request, PCP ANNOUNCE, three SSDP searches. */
static void test_probe_sends_all_three(void **state)
{
	(void)state;
	static struct pm m;
	int pmp = 0, pcp = 0, ssdp = 0;

	start(&m, PM_PROTO_NONE);
	assert_int_equal(m.st, PM_ST_PROBING);
	for (size_t i = 0; i < f.n_sent; i++) {
		if (f.sent[i].to.port == 5351 && f.sent[i].len == 2)
			pmp++;
		else if (f.sent[i].to.port == 5351 && f.sent[i].len == 24 && f.sent[i].p[0] == 2)
			pcp++;
		else if (f.sent[i].to.port == 1900)
			ssdp++;
	}
	assert_int_equal(pmp, 1);
	assert_int_equal(pcp, 1);
	assert_int_equal(ssdp, 3);
	assert_int_equal(pm_deadline(&m), T0 + MS(PM_PROBE_MS));
}

/* NAT-PMP end to end: address, map, renewal at half the lifetime with the
 * port we got, delete on release. */
static void test_pmp_map_renew_release(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64];
	const uint8_t ext[4] = {198, 18, 1, 1};
	const struct sent *s;

	start(&m, PM_PROTO_NONE);
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 100, ext), T0 + MS(5)), 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_int_equal(f.n_probed, 1);
	assert_true(f.probe_pmp);
	assert_false(f.probe_pcp);
	assert_int_equal(m.st, PM_ST_MAPPING);
	s = last_to(&PXP);
	assert_int_equal(s->len, 12);
	assert_int_equal(s->p[1], 1); /* map UDP */
	assert_int_equal(s->p[4] << 8 | s->p[5], 41641);
	assert_int_equal(s->p[6] << 8 | s->p[7], 0); /* no port to suggest yet */
	assert_int_equal(deliver(&m, b, pmp_map(b, 0, 101, 41641, 5000, 7200), T0 + MS(300)), 0);
	assert_int_equal(m.st, PM_ST_MAPPED);
	assert_int_equal(f.n_mapped, 1);
	assert_int_equal(f.mapped_proto, PM_PROTO_PMP);
	assert_memory_equal(f.mapped_ext.ip, ext, 4);
	assert_int_equal(f.mapped_ext.port, 5000);
	/* Renewal at half of 7200 s, asking for port 5000 again. */
	assert_int_equal(pm_deadline(&m), T0 + MS(300) + MS(3600 * 1000));
	f.n_sent = 0;
	pm_tick(&m, T0 + MS(300) + MS(3600 * 1000));
	s = last_to(&PXP);
	assert_non_null(s);
	assert_int_equal(s->p[6] << 8 | s->p[7], 5000);
	assert_int_equal(
		deliver(&m, b, pmp_map(b, 0, 3701, 41641, 5000, 7200), T0 + MS(3600 * 1000 + 400)),
		0);
	assert_int_equal(f.n_mapped, 2);
	assert_int_equal(m.stats.renewals, 1);
	/* Release: lifetime 0, suggested port 0 (RFC 6886 section 3.4). */
	f.n_sent = 0;
	pm_release(&m, T0 + MS(3700 * 1000));
	s = last_to(&PXP);
	assert_int_equal(s->len, 12);
	assert_int_equal(s->p[6] << 8 | s->p[7], 0);
	assert_int_equal(s->p[8] | s->p[9] | s->p[10] | s->p[11], 0);
	assert_int_equal(f.n_unmapped, 1);
	assert_int_equal(m.st, PM_ST_IDLE);
}

/* An answer from a host that is not the gateway changes nothing. */
static void test_not_from_gateway(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64];
	const uint8_t ext[4] = {198, 18, 1, 1};
	struct ipport other = PXP;
	const char *detail;

	other.ip[3] = 99;
	start(&m, PM_PROTO_NONE);
	assert_int_equal(pm_on_packet(&m, &other, b, pmp_addr(b, 0, 1, ext), T0, &detail),
			 PM_DROP_NOT_GATEWAY);
	assert_false(m.saw_pmp);
	assert_int_equal(m.stats.not_gateway, 1);
}

/* Malformed answers are dropped with the codec's reason, nothing changed:
 * truncated, unusable external address, lifetime 0 on a create. */
static void test_bad_pmp_answers(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64];
	const uint8_t zero[4] = {0}, loop[4] = {127, 0, 0, 1}, ext[4] = {198, 18, 1, 1};
	const char *detail = 0;

	start(&m, PM_PROTO_NONE);
	for (size_t n = 2; n < 12; n++) {
		pmp_addr(b, 0, 1, ext);
		assert_int_equal(pm_on_packet(&m, &PXP, b, n, T0, &detail), PM_DROP_MALFORMED);
		assert_non_null(detail);
	}
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 1, zero), T0), PM_DROP_MALFORMED);
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 1, loop), T0), PM_DROP_MALFORMED);
	assert_false(m.saw_pmp);
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 1, ext), T0), 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_int_equal(deliver(&m, b, pmp_map(b, 0, 2, 41641, 5000, 0), T0 + MS(260)),
			 PM_DROP_MALFORMED);
	assert_int_equal(deliver(&m, b, pmp_map(b, 0, 2, 41641, 0, 7200), T0 + MS(260)),
			 PM_DROP_MALFORMED);
	assert_int_equal(deliver(&m, b, pmp_map(b, 0, 2, 9999, 5000, 7200), T0 + MS(260)),
			 PM_DROP_MALFORMED);
	assert_int_equal(m.st, PM_ST_MAPPING);
	assert_int_equal(f.n_mapped, 0);
	/* Neither NAT-PMP nor PCP. */
	b[0] = 7;
	assert_int_equal(deliver(&m, b, 16, T0 + MS(260)), PM_DROP_MALFORMED);
}

/* A refusal (result code != 0) moves to the next protocol that answered. */
static void test_refusal_falls_back_to_pcp(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64], ann[24] = {2, 0x80};
	const uint8_t ext[4] = {198, 18, 1, 1};
	const struct sent *s;

	start(&m, PM_PROTO_NONE);
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 1, ext), T0), 0);
	assert_int_equal(deliver(&m, ann, sizeof(ann), T0), 0); /* PCP ANNOUNCE answer */
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_true(f.probe_pcp);
	assert_int_equal(deliver(&m, b, pmp_map(b, 2, 2, 41641, 0, 0), T0 + MS(260)),
			 PM_DROP_REFUSED);
	pm_tick(&m, T0 + MS(261));
	s = last_to(&PXP);
	assert_int_equal(s->len, 60); /* a PCP MAP request */
	assert_int_equal(s->p[0], 2);
	assert_int_equal(m.proto, PM_PROTO_PCP);
	assert_int_equal(deliver(&m, b, pcp_map(b, s->p, 0, 7200, 5, 6000, ext), T0 + MS(270)), 0);
	assert_int_equal(f.mapped_proto, PM_PROTO_PCP);
	assert_int_equal(f.mapped_ext.port, 6000);
	assert_int_equal(pm_failed(&m), 0); /* mapped: no portmap-failed */
}

/* The portmap-failed verdict: none while probing or mapping; failed when
 * the round ends with nothing mapped though NAT-PMP answered (it refused,
 * and nothing else spoke). */
static void test_failed_verdict(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64];
	const uint8_t ext[4] = {198, 18, 1, 1};
	uint64_t t = T0 + MS(261);

	start(&m, PM_PROTO_NONE);
	assert_int_equal(pm_failed(&m), -1);
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 1, ext), T0), 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_int_equal(pm_failed(&m), -1);
	assert_int_equal(deliver(&m, b, pmp_map(b, 2, 2, 41641, 0, 0), T0 + MS(260)),
			 PM_DROP_REFUSED);
	for (int i = 0; i < 600 && m.st != PM_ST_WAITING; i++, t += MS(100))
		pm_tick(&m, t);
	assert_int_equal(m.st, PM_ST_WAITING);
	assert_int_equal(pm_failed(&m), 1);
	assert_non_null(strstr(m.last_error, "refused"));
}

/* PCP: an answer with another nonce is not ours; renewals keep the nonce. */
static void test_pcp_nonce(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64], req[60], nonce[12];
	const uint8_t ext[4] = {198, 18, 1, 1};
	const struct sent *s;

	start(&m, PM_PROTO_PCP);
	pm_tick(&m, T0 + MS(PM_PROBE_MS)); /* forced: maps even without an answer */
	s = last_to(&PXP);
	assert_int_equal(s->len, 60);
	memcpy(req, s->p, 60);
	memcpy(nonce, req + 24, 12);
	pcp_map(b, req, 0, 7200, 5, 6000, ext);
	b[24] ^= 1;
	assert_int_equal(deliver(&m, b, 60, T0 + MS(300)), PM_DROP_MALFORMED);
	assert_int_equal(f.n_mapped, 0);
	assert_int_equal(deliver(&m, b, pcp_map(b, req, 0, 7200, 5, 6000, ext), T0 + MS(300)), 0);
	assert_int_equal(f.n_mapped, 1);
	pm_tick(&m, T0 + MS(300) + MS(3600 * 1000));
	s = last_to(&PXP);
	assert_memory_equal(s->p + 24, nonce, 12);
	assert_int_equal(s->p[42] << 8 | s->p[43], 6000); /* suggests the port it had */
}

/* The gateway's epoch going back (it rebooted) re-creates the mapping at
 * once (RFC 6886 section 3.6). */
static void test_epoch_reset_remaps(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64];
	const uint8_t ext[4] = {198, 18, 1, 1};

	start(&m, PM_PROTO_NONE);
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 1000, ext), T0), 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_int_equal(deliver(&m, b, pmp_map(b, 0, 1000, 41641, 5000, 7200), T0 + MS(300)), 0);
	assert_int_equal(m.st, PM_ST_MAPPED);
	f.n_sent = 0;
	/* 60 s later the gateway says it started 3 s ago. */
	assert_int_equal(deliver(&m, b, pmp_addr(b, 0, 3, ext), T0 + MS(60300)), 0);
	assert_int_equal(m.stats.epoch_resets, 1);
	assert_non_null(last_to(&PXP));
	assert_int_equal(last_to(&PXP)->p[1], 1); /* a new map request */
	assert_int_equal(last_to(&PXP)->p[6] << 8 | last_to(&PXP)->p[7], 5000);
}

/* Unanswered requests are retried (250 ms doubling), then the protocol is
 * given up and, with nothing else, a re-probe waits PM_REPROBE_MS. */
static void test_retries_then_wait(void **state)
{
	(void)state;
	static struct pm m;
	uint64_t t;
	size_t maps = 0;

	start(&m, PM_PROTO_PMP);
	t = T0 + MS(PM_PROBE_MS);
	pm_tick(&m, t);
	while (m.st == PM_ST_MAPPING && t < T0 + MS(10000)) {
		t = pm_deadline(&m);
		pm_tick(&m, t);
	}
	for (size_t i = 0; i < f.n_sent; i++)
		if (f.sent[i].len == 12)
			maps++;
	assert_int_equal(maps, PM_TRIES);
	assert_int_equal(m.st, PM_ST_WAITING);
	assert_int_equal(pm_deadline(&m) - t, MS(PM_REPROBE_MS));
	assert_non_null(strstr(m.last_error, "no answer"));
}

/* UPnP: mapped through the caller's functions; a failure leaves nothing. */
static void test_upnp(void **state)
{
	(void)state;
	static struct pm m;
	const char *ssdp = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
			   "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
			   "USN: uuid:1::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
			   "LOCATION: http://10.0.1.1:5000/rootDesc.xml\r\nSERVER: x\r\n\r\n";
	struct ipport from = GW;
	const char *detail;

	from.port = 1900;
	start(&m, PM_PROTO_NONE);
	assert_int_equal(pm_on_packet(&m, &from, (const uint8_t *)ssdp, strlen(ssdp), T0, &detail),
			 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_true(f.probe_upnp);
	assert_int_equal(f.n_upnp_map, 1);
	assert_int_equal(m.st, PM_ST_MAPPED);
	assert_int_equal(f.mapped_proto, PM_PROTO_UPNP);
	pm_release(&m, T0 + MS(1000));
	assert_int_equal(f.n_upnp_unmap, 1);
	/* A LOCATION at another host is refused at the SSDP answer. */
	start(&m, PM_PROTO_NONE);
	const char *evil = "HTTP/1.1 200 OK\r\n"
			   "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
			   "LOCATION: http://10.0.1.7:5000/rootDesc.xml\r\n\r\n";
	assert_int_equal(pm_on_packet(&m, &from, (const uint8_t *)evil, strlen(evil), T0, &detail),
			 PM_DROP_SSDP);
	assert_false(m.saw_upnp);
	f.upnp_rc = -1;
	assert_int_equal(pm_on_packet(&m, &from, (const uint8_t *)ssdp, strlen(ssdp), T0, &detail),
			 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_int_equal(f.n_mapped, 0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	assert_int_equal(m.st, PM_ST_WAITING);
}

/* A gateway slower than the probe's 250 ms (miniupnpd on a busy machine
 * in the lab): with UPnP forced, nothing is mapped blind (there is no
 * LOCATION to ask), and the late answer starts the mapping at once, not
 * at the re-probe a minute later; netcheck hears of it too. Without
 * forcing, the same. A late answer does not map twice. */
static void test_upnp_late_answer(void **state)
{
	(void)state;
	static struct pm m;
	const char *ssdp = "HTTP/1.1 200 OK\r\n"
			   "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
			   "LOCATION: http://10.0.1.1:5000/rootDesc.xml\r\n\r\n";
	struct ipport from = GW;
	const char *detail;
	enum pm_proto modes[] = {PM_PROTO_UPNP, PM_PROTO_NONE};

	from.port = 1900;
	for (size_t i = 0; i < 2; i++) {
		uint64_t t = T0 + MS(PM_PROBE_MS);
		start(&m, modes[i]);
		pm_tick(&m, t);
		while (m.st == PM_ST_MAPPING && t < T0 + MS(10000)) {
			t = pm_deadline(&m);
			pm_tick(&m, t);
		}
		assert_int_equal(m.st, PM_ST_WAITING);
		assert_int_equal(f.n_upnp_map, 0);
		assert_false(f.probe_upnp);
		/* ssdp:all's answers about the gateway's other devices: not
		 * bad input (no drop to warn about), and not the IGD. */
		const char *other = "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n"
				    "USN: uuid:1::upnp:rootdevice\r\n"
				    "LOCATION: http://10.0.1.1:5000/rootDesc.xml\r\n\r\n";
		assert_int_equal(pm_on_packet(&m, &from, (const uint8_t *)other, strlen(other),
					      t + MS(100), &detail),
				 0);
		assert_int_equal(m.stats.ssdp_other, 1);
		assert_false(m.saw_upnp);
		t += MS(200);
		assert_int_equal(
			pm_on_packet(&m, &from, (const uint8_t *)ssdp, strlen(ssdp), t, &detail),
			0);
		assert_true(f.probe_upnp);
		assert_int_equal(pm_deadline(&m), t);
		pm_tick(&m, t);
		assert_int_equal(f.n_upnp_map, 1);
		assert_int_equal(m.st, PM_ST_MAPPED);
		assert_int_equal(f.mapped_proto, PM_PROTO_UPNP);
		assert_int_equal(m.stats.late_ssdp, 1);
		/* The same answer again (the other searches'): nothing new. */
		assert_int_equal(pm_on_packet(&m, &from, (const uint8_t *)ssdp, strlen(ssdp),
					      t + MS(1), &detail),
				 0);
		pm_tick(&m, t + MS(2));
		assert_int_equal(f.n_upnp_map, 1);
	}
}

/* disable_portmapper: the mapping is deleted and nothing more is sent. */
static void test_disable(void **state)
{
	(void)state;
	static struct pm m;
	uint8_t b[64];
	const uint8_t ext[4] = {198, 18, 1, 1};

	start(&m, PM_PROTO_NONE);
	deliver(&m, b, pmp_addr(b, 0, 1, ext), T0);
	pm_tick(&m, T0 + MS(PM_PROBE_MS));
	deliver(&m, b, pmp_map(b, 0, 1, 41641, 5000, 7200), T0 + MS(300));
	assert_int_equal(m.st, PM_ST_MAPPED);
	pm_set_env(&m, &GW, &SELF, 41641, false, T0 + MS(400));
	assert_int_equal(f.n_unmapped, 1);
	assert_int_equal(m.st, PM_ST_IDLE);
	f.n_sent = 0;
	pm_tick(&m, T0 + MS(100000000));
	assert_int_equal(f.n_sent, 0);
	assert_int_equal(pm_deadline(&m), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_sends_all_three),
		cmocka_unit_test(test_pmp_map_renew_release),
		cmocka_unit_test(test_not_from_gateway),
		cmocka_unit_test(test_bad_pmp_answers),
		cmocka_unit_test(test_refusal_falls_back_to_pcp),
		cmocka_unit_test(test_failed_verdict),
		cmocka_unit_test(test_pcp_nonce),
		cmocka_unit_test(test_epoch_reset_remaps),
		cmocka_unit_test(test_retries_then_wait),
		cmocka_unit_test(test_upnp),
		cmocka_unit_test(test_upnp_late_answer),
		cmocka_unit_test(test_disable),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}
