/* status_text: the broker's status JSON (docs/status-json.md) as msockctl
 * prints it for people: `msockctl status` (status_text_print) and the
 * report of `msockctl netcheck` (status_text_netcheck). */
#include "status_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

const char *status_text_jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void fmt_uptime(double sec, char *out, size_t cap)
{
	if (sec <= 0)
		snprintf(out, cap, "-");
	else if (sec < 120)
		snprintf(out, cap, "%.0fs", sec);
	else if (sec < 7200)
		snprintf(out, cap, "%.0fm", sec / 60);
	else
		snprintf(out, cap, "%.1fh", sec / 3600);
}

/* A span of time as status prints one: "0s" to "119s", "2m" to "119m",
 * then hours. */
static void fmt_span(double sec, char *out, size_t cap)
{
	if (sec < 120)
		snprintf(out, cap, "%.0fs", sec > 0 ? sec : 0);
	else if (sec < 7200)
		snprintf(out, cap, "%.0fm", sec / 60);
	else
		snprintf(out, cap, "%.1fh", sec / 3600);
}

void status_text_activity(json_t *peer, long long now_unix_ms, char *out, size_t cap)
{
	json_t *rx = json_object_get(peer, "LastRecvUnixMs"),
	       *idle = json_object_get(peer, "IdleSec");
	char ago[48] = "never", span[32];
	size_t n;

	if (json_is_integer(rx)) {
		long long at = json_integer_value(rx);
		fmt_span(now_unix_ms > at ? (double)(now_unix_ms - at) / 1000 : 0, span,
			 sizeof(span));
		snprintf(ago, sizeof(ago), "%s ago", span);
	}
	n = (size_t)snprintf(out, cap, "last rx %s, ", ago);
	if (n >= cap)
		return;
	if (json_is_number(idle)) {
		fmt_span(json_number_value(idle), span, sizeof(span));
		snprintf(out + n, cap - n, "idle %s", span);
	} else {
		snprintf(out + n, cap - n, "no traffic");
	}
}

/* A peer without a disco key is WireGuard only: said in full. */
static const char *path_text(json_t *peer)
{
	return strcmp(status_text_jstr(peer, "Path"), "static") == 0
		       ? "static (no disco key)"
		       : status_text_jstr(peer, "Path");
}

/* A component's bus drops, on a line of their own, when there are any. */
static void print_bus_drops(const json_t *bus)
{
	static const char *const fields[] = {"BadFrames", "UnknownTopic",    "BadBody",
					     "BadKey",	  "NoHandler",	     "Gaps",
					     "Refused",	  "SnapshotTimeouts"};
	char line[256];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		long long v = json_integer_value(json_object_get(bus, fields[i]));
		if (v && n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%lld %s",
					      n ? ", " : "", v, fields[i]);
	}
	if (n)
		printf("  %-14s bus drops: %s\n", "", line);
}

/* A text a terminal shows as one line: no control bytes. */
static bool one_line(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

size_t status_text_health(json_t *st, FILE *f, size_t *ignored)
{
	json_t *all = json_object_get(st, "Health"), *w, *n = json_object_get(st, "HealthIgnored");
	size_t idx, shown = 0;

	*ignored =
		json_is_integer(n) && json_integer_value(n) > 0 ? (size_t)json_integer_value(n) : 0;
	json_array_foreach (all, idx, w) {
		const char *text = json_string_value(json_object_get(w, "Text"));
		if (!json_is_object(w) || !one_line(text)) {
			(*ignored)++;
			continue;
		}
		if (!shown)
			fprintf(f, "\n# Health check:\n");
		fprintf(f, "#     - %s\n", text);
		shown++;
	}
	if (*ignored)
		fprintf(f, "%s#     (%zu malformed health warning%s ignored)\n",
			shown ? "" : "\n# Health check:\n", *ignored, *ignored == 1 ? "" : "s");
	return shown;
}

void status_text_print(json_t *st)
{
	size_t health_ignored;
	json_t *self = json_object_get(st, "Self"), *v, *comps, *peers, *bus;
	size_t idx_pm;
	const char *k;
	char up[32];

	printf("%s, config %s\n", status_text_jstr(st, "Version"),
	       status_text_jstr(st, "ConfigFile"));
	printf("\nSelf:  %s  home DERP %lld  endpoints",
	       *status_text_jstr(self, "NodeKey") ? status_text_jstr(self, "NodeKey")
						  : "(node key not published yet)",
	       json_integer_value(json_object_get(self, "HomeDERP")));
	if (!json_array_size(json_object_get(self, "Endpoints")))
		printf(" (none yet)");
	for (size_t idx = 0; idx < json_array_size(json_object_get(self, "Endpoints")); idx++) {
		const char *type = json_string_value(
			json_array_get(json_object_get(self, "EndpointTypes"), idx));
		printf(" %s",
		       json_string_value(json_array_get(json_object_get(self, "Endpoints"), idx)));
		if (type)
			printf(" (%s)", type);
	}
	printf("\n");
	json_array_foreach (json_object_get(self, "PortMappings"), idx_pm, v)
		printf("       port mapping (%s): %s -> local port %lld, %.0f s left\n",
		       status_text_jstr(v, "Protocol"), status_text_jstr(v, "External"),
		       json_integer_value(json_object_get(v, "InternalPort")),
		       json_real_value(json_object_get(v, "ExpiresInSec")));
	if (!json_is_true(json_object_get(self, "NetworkUp")) && json_object_get(self, "NetworkUp"))
		printf("       network DOWN (no usable link): DERP idle, no netcheck\n");
	v = json_object_get(self, "Dataplane");
	if (json_is_object(v))
		printf("       UDP port %lld%s, WireGuard endpoints port %lld, WireGuard at "
		       "127.0.0.1:%lld, GSO %s, GRO %s\n",
		       json_integer_value(json_object_get(v, "Port")),
		       json_is_true(json_object_get(v, "IPv6")) ? " (v4+v6)" : " (v4)",
		       json_integer_value(json_object_get(v, "WGEndpointPort")),
		       json_integer_value(json_object_get(v, "WGListenPort")),
		       json_is_true(json_object_get(v, "GSO")) ? "on" : "off",
		       json_is_true(json_object_get(v, "GRO")) ? "on" : "off");
	json_object_foreach (json_object_get(self, "DERP"), k, v) {
		printf("       DERP region %s: %s%s, node %s, %lld sent, %lld received%s%s\n", k,
		       status_text_jstr(v, "State"),
		       json_is_true(json_object_get(v, "Home")) ? " (home)" : "",
		       *status_text_jstr(v, "Node") ? status_text_jstr(v, "Node") : "-",
		       json_integer_value(json_object_get(v, "PacketsSent")),
		       json_integer_value(json_object_get(v, "PacketsReceived")),
		       *status_text_jstr(v, "LastError") ? "; last error: " : "",
		       status_text_jstr(v, "LastError"));
	}
	printf("\nComponents:\n  %-14s %-12s %-9s %8s %8s %7s  %s\n", "NAME", "PROGRAM", "STATE",
	       "PID", "RESTARTS", "UPTIME", "LAST EXIT");
	comps = json_object_get(st, "Components");
	json_object_foreach (comps, k, v) {
		fmt_uptime(json_real_value(json_object_get(v, "UptimeSec")), up, sizeof(up));
		printf("  %-14s %-12s %-9s %8lld %8lld %7s  %s\n", k,
		       status_text_jstr(v, "Program"), status_text_jstr(v, "State"),
		       json_integer_value(json_object_get(v, "PID")),
		       json_integer_value(json_object_get(v, "Restarts")), up,
		       *status_text_jstr(v, "LastExit") ? status_text_jstr(v, "LastExit") : "-");
		/* Only when it is not simply the broker's child. */
		if (*status_text_jstr(v, "Supervisor") &&
		    strcmp(status_text_jstr(v, "Supervisor"), "broker") != 0)
			printf("  %-14s run by %s\n", "", status_text_jstr(v, "Supervisor"));
		print_bus_drops(json_object_get(v, "Bus"));
	}
	peers = json_object_get(st, "Peer");
	printf("\nPeers (%zu):\n", json_object_size(peers));
	if (json_object_size(peers))
		printf("  %-12s %-20s %-20s %-21s %-22s %-6s %8s %9s %10s %10s\n", "NAME",
		       "NODE KEY", "LOCAL ENDPOINT", "PATH", "DIRECT", "RELAY", "LATENCY",
		       "LAST PONG", "TX", "RX");
	json_object_foreach (peers, k, v) {
		char shortkey[24];
		const char *direct = *status_text_jstr(v, "DirectAddr")
					     ? status_text_jstr(v, "DirectAddr")
					     : status_text_jstr(v, "CurAddr");
		char lat[32] = "-", pong[32] = "-";
		json_t *lp = json_object_get(v, "LastPong");
		snprintf(shortkey, sizeof(shortkey), "%.16s...", k);
		if (json_is_number(json_object_get(v, "LatencyMs")))
			snprintf(lat, sizeof(lat), "%.1fms",
				 json_number_value(json_object_get(v, "LatencyMs")));
		if (json_is_object(lp)) {
			time_t now = time(0);
			long long at = json_integer_value(json_object_get(lp, "AtUnixMs")) / 1000;
			snprintf(pong, sizeof(pong), "%llds ago",
				 now > at ? (long long)now - at : 0);
		}
		printf("  %-12s %-20s %-20s %-21s %-22s %-6s %8s %9s %10lld %10lld\n",
		       status_text_jstr(v, "Name"), shortkey,
		       *status_text_jstr(v, "LocalEndpoint") ? status_text_jstr(v, "LocalEndpoint")
							     : "-",
		       path_text(v), *direct ? direct : "-",
		       *status_text_jstr(v, "Relay") ? status_text_jstr(v, "Relay") : "-", lat,
		       pong, json_integer_value(json_object_get(v, "TxBytes")),
		       json_integer_value(json_object_get(v, "RxBytes")));
		char act[96];
		status_text_activity(v, (long long)clock_unix_ms(), act, sizeof(act));
		printf("  %-12s %s\n", "", act);
	}
	bus = json_object_get(st, "Bus");
	printf("\nBus: %lld events forwarded, %lld state keys cached; dropped: %lld bad frames, "
	       "%lld unknown topic, %lld bad body, %lld wrong channel, %lld wrong owner; %lld "
	       "disconnects, %lld unknown peers refused\n",
	       json_integer_value(json_object_get(bus, "EventsForwarded")),
	       json_integer_value(json_object_get(bus, "StateKeys")),
	       json_integer_value(json_object_get(bus, "BadFrames")),
	       json_integer_value(json_object_get(bus, "UnknownTopic")),
	       json_integer_value(json_object_get(bus, "BadBody")),
	       json_integer_value(json_object_get(bus, "WrongChannel")),
	       json_integer_value(json_object_get(bus, "WrongOwner")),
	       json_integer_value(json_object_get(bus, "Disconnects")),
	       json_integer_value(json_object_get(bus, "UnknownPeer")));
	/* Last, as tailscale status prints its health checks. */
	status_text_health(st, stdout, &health_ignored);
}

void status_text_netcheck(json_t *r)
{
	const char *k, *v4 = status_text_jstr(r, "GlobalV4"), *v6 = status_text_jstr(r, "GlobalV6");
	json_t *reg;
	json_int_t pref = json_integer_value(json_object_get(r, "PreferredDERP"));
	time_t at = (time_t)(json_integer_value(json_object_get(r, "AtUnixMs")) / 1000);
	char when[32];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
	printf("\nReport:\n\t* Time: %s\n", when);
	printf("\t* UDP: %s\n", json_is_true(json_object_get(r, "UDP")) ? "true" : "false");
	printf("\t* IPv4: %s%s\n", *v4 ? "yes, " : "(no addr found)", v4);
	printf("\t* IPv6: %s%s\n", *v6 ? "yes, " : "no", v6);
	printf("\t* MappingVariesByDestIP: %s\n",
	       json_is_true(json_object_get(r, "MappingVariesByDestIP")) ? "true" : "false");
	/* Tailscale's portMapping(): the ones seen, in this order, ", "
	 * between them (it was "UPnP, " with a trailing comma for UPnP alone). */
	static const char *const pm_field[] = {"UPnP", "PMP", "PCP"}, *const pm_name[] = {"UPnP",
											  "NAT-PMP",
											  "PCP"};
	const char *sep = "";
	printf("\t* PortMapping: ");
	for (size_t i = 0; i < 3; i++) {
		if (!json_is_true(json_object_get(r, pm_field[i])))
			continue;
		printf("%s%s", sep, pm_name[i]);
		sep = ", ";
	}
	printf("\n");
	printf("\t* CaptivePortal: %s\n",
	       json_is_true(json_object_get(r, "CaptivePortal")) ? "true" : "false");
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)pref);
	reg = json_object_get(json_object_get(r, "RegionLatency"), id);
	if (!pref)
		printf("\t* Nearest DERP: unknown (no response to latency probes)\n");
	else
		printf("\t* Nearest DERP: %s\n", reg ? status_text_jstr(reg, "Code") : id);
	/* A STUN-only region (coturn, say) measured latency but relays
	 * nothing: listed apart, not as a DERP region. */
	for (int stun = 0; stun <= 1; stun++) {
		bool header = false;
		json_object_foreach (json_object_get(r, "RegionLatency"), k, reg) {
			if (json_is_true(json_object_get(reg, "STUNOnly")) != (stun == 1))
				continue;
			if (!header)
				printf("\t* %s:\n",
				       stun ? "STUN-only servers (latency; they relay nothing)"
					    : "DERP latency");
			header = true;
			printf("\t\t- %s: %.1fms\n", status_text_jstr(reg, "Code"),
			       json_real_value(json_object_get(reg, "LatencyMs")));
		}
		if (!header && !stun)
			printf("\t* DERP latency: none measured\n");
	}
}
