/* upnp_igd: GetExternalIPAddress, AddPortMapping / AddAnyPortMapping and
 * DeletePortMapping through miniupnpc, as Tailscale's upnpClient calls
 * them (net/portmapper/upnp.go: addAnyPortMapping, Release, and the
 * external address checks of tryUPnPPortmapWithDevice). */
#include "upnp_igd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <miniupnpc/upnpcommands.h>

/* What miniupnpc gets: "UDP" in upper case (some gateways refuse
 * "udp", tailscale/tailscale#7377). */
#define PROTO_UDP "UDP"

enum {
	/* miniupnpc writes at most 16 bytes of the external address and 6
	 * of a reserved port (upnpcommands.h); we give more room. */
	EXTERNAL_IP_BUF = 64,
	RESERVED_PORT_BUF = 16,
	NUM_BUF = 16, /* a port or a lease in decimal */
	UPNP_CODE_MIN = 400,
	UPNP_CODE_MAX = 899,
};

int upnp_igd_result(int rc)
{
	switch (rc) {
	case UPNPCOMMAND_SUCCESS:
		return 0;
	case UPNPCOMMAND_UNKNOWN_ERROR:
		return UPNP_ERR_IGD_UNKNOWN;
	case UPNPCOMMAND_INVALID_ARGS:
		return UPNP_ERR_INVAL;
	case UPNPCOMMAND_HTTP_ERROR:
		return UPNP_ERR_IGD_HTTP;
	case UPNPCOMMAND_INVALID_RESPONSE:
		return UPNP_ERR_IGD_RESPONSE;
	case UPNPCOMMAND_MEM_ALLOC_ERROR:
		return UPNP_ERR_IGD_NOMEM;
	}
	if (rc >= UPNP_CODE_MIN && rc <= UPNP_CODE_MAX)
		return rc;
	return UPNP_ERR_IGD_BAD_CODE;
}

bool upnp_igd_retry_permanent(int rc)
{
	return rc == UPNP_IGD_ONLY_PERMANENT_LEASES || rc == UPNP_IGD_INVALID_ARGS;
}

/* The control URL and service type miniupnpc wants, from a service we
 * check again: it is a plain struct anyone can fill. */
static int target(const struct upnp_igd_service *svc, char *url, size_t cap, const char **type)
{
	struct upnp_url u;
	size_t n;

	if (!svc || !(*type = upnp_service_type(svc->kind)) || svc->control.host.port == 0)
		return UPNP_ERR_INVAL;
	n = upnp_url_format(&svc->control, url, cap);
	if (n == 0)
		return UPNP_ERR_INVAL;
	/* What upnp_desc_parse makes parses back to itself. */
	if (upnp_url_parse(url, n, &u) < 0 || strcmp(u.path, svc->control.path) != 0)
		return UPNP_ERR_INVAL;
	return 0;
}

/* s without surrounding blanks, into buf. */
static void trimmed(const char *s, char *buf, size_t cap)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strnlen(s, cap - 1);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

int upnp_igd_external_ip(const struct upnp_igd_service *svc, struct ipport *out)
{
	char url[UPNP_URL_TEXT_MAX], raw[EXTERNAL_IP_BUF] = {0}, ip[EXTERNAL_IP_BUF];
	struct ipport a = {.family = AF_INET};
	const char *type;
	int rc;

	rc = target(svc, url, sizeof(url), &type);
	if (rc < 0)
		return rc;
	if (!out)
		return UPNP_ERR_INVAL;
	rc = upnp_igd_result(UPNP_GetExternalIPAddress(url, type, raw));
	if (rc != 0)
		return rc;
	trimmed(raw, ip, sizeof(ip));
	/* IPv4 only: WANIPConnection's NewExternalIPAddress is one, and
	 * miniupnpc has no room for more. An empty answer (errorCode 0, or no
	 * address at all) lands here too. */
	if (inet_pton(AF_INET, ip, a.ip) != 1 || !upnp_addr_usable(&a))
		return UPNP_ERR_EXTERNAL_IP;
	*out = a;
	return 0;
}

static int check_ports(uint16_t external_port, const struct ipport *internal)
{
	if (external_port < UPNP_IGD_MIN_EXTERNAL_PORT)
		return UPNP_ERR_IGD_PORT;
	if (!internal)
		return UPNP_ERR_INVAL;
	if (internal->port == 0)
		return UPNP_ERR_IGD_PORT;
	if (internal->family != AF_INET || !upnp_addr_usable(internal))
		return UPNP_ERR_IGD_CLIENT;
	return 0;
}

/* A reserved port as AddAnyPortMapping answers it: 1 to 5 digits, 1..65535. */
static int reserved_port(const char *s, uint16_t *port)
{
	char t[RESERVED_PORT_BUF];
	unsigned long v = 0;
	size_t n;

	trimmed(s, t, sizeof(t));
	n = strlen(t);
	if (n == 0 || n > 5)
		return UPNP_ERR_IGD_RESPONSE;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return UPNP_ERR_IGD_RESPONSE;
		v = v * 10 + (unsigned long)(t[i] - '0');
	}
	if (v == 0 || v > 65535)
		return UPNP_ERR_IGD_RESPONSE;
	*port = (uint16_t)v;
	return 0;
}

int upnp_igd_add_udp(const struct upnp_igd_service *svc, uint16_t external_port,
		     const struct ipport *internal, uint32_t lease_s, uint16_t *mapped_port)
{
	char url[UPNP_URL_TEXT_MAX], client[INET_ADDRSTRLEN], ext[NUM_BUF], in[NUM_BUF],
		lease[NUM_BUF], got[RESERVED_PORT_BUF] = {0};
	const char *type;
	uint16_t port = external_port;
	int rc;

	rc = target(svc, url, sizeof(url), &type);
	if (rc < 0)
		return rc;
	if (!mapped_port)
		return UPNP_ERR_INVAL;
	rc = check_ports(external_port, internal);
	if (rc < 0)
		return rc;
	if (lease_s > UPNP_IGD_MAX_LEASE_S)
		return UPNP_ERR_IGD_LEASE;
	if (!inet_ntop(AF_INET, internal->ip, client, sizeof(client)))
		return UPNP_ERR_INVAL;
	snprintf(ext, sizeof(ext), "%u", (unsigned)external_port);
	snprintf(in, sizeof(in), "%u", (unsigned)internal->port);
	snprintf(lease, sizeof(lease), "%u", (unsigned)lease_s);

	/* Remote host NULL: any (miniupnpc sends it empty, as Tailscale). */
	if (svc->kind == UPNP_SERVICE_WANIP2) {
		rc = upnp_igd_result(UPNP_AddAnyPortMapping(url, type, ext, in, client,
							    UPNP_IGD_DESCRIPTION, PROTO_UDP, NULL,
							    lease, got));
		if (rc == 0)
			rc = reserved_port(got, &port);
	} else {
		rc = upnp_igd_result(UPNP_AddPortMapping(
			url, type, ext, in, client, UPNP_IGD_DESCRIPTION, PROTO_UDP, NULL, lease));
	}
	if (rc != 0)
		return rc;
	*mapped_port = port;
	return 0;
}

int upnp_igd_delete_udp(const struct upnp_igd_service *svc, uint16_t external_port)
{
	char url[UPNP_URL_TEXT_MAX], ext[NUM_BUF];
	const char *type;
	int rc;

	rc = target(svc, url, sizeof(url), &type);
	if (rc < 0)
		return rc;
	if (external_port < UPNP_IGD_MIN_EXTERNAL_PORT)
		return UPNP_ERR_IGD_PORT;
	snprintf(ext, sizeof(ext), "%u", (unsigned)external_port);
	return upnp_igd_result(UPNP_DeletePortMapping(url, type, ext, PROTO_UDP, NULL));
}
