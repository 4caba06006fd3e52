/* nc_http: one non-blocking HTTP(S) GET, for netcheck's two HTTP probes
 * (Tailscale's net/netcheck): the HTTPS latency probe of a DERP region
 * when UDP is blocked (GET https://<node>/derp/latency-check; the latency
 * is the request's round trip on the open TLS connection, as Tailscale's
 * httpstat ServerProcessing), and the captive-portal check (GET
 * http://<node>/generate_204 with X-Tailscale-Challenge: ts_<host>, which a
 * DERP server answers 204 with X-Tailscale-Response: response <challenge>).
 * The node is dialled at its address literal (no DNS in the sandbox); Host
 * and TLS SNI name its HostName. nc_http_parse_head is the pure parser of
 * the response head (fuzzed). */
#ifndef MSOCK_NC_HTTP_H
#define MSOCK_NC_HTTP_H

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "tls_certname.h"
#include "tls_stream.h"

enum {
	NC_HTTP_HEAD_MAX_BYTES = 8192, /* a DERP server's answers are a few hundred bytes */
	NC_HTTP_HOST_MAX = 256,
	NC_HTTP_CHALLENGE_MAX = 64, /* derper's limit on a challenge (isChallengeChar) */
	NC_HTTP_TIMEOUT_MS = 5000,  /* Tailscale's overallProbeTimeout */
};

/* What a response head says. */
struct nc_http_head {
	int status;				      /* 100-599 */
	char ts_response[NC_HTTP_CHALLENGE_MAX + 16]; /* X-Tailscale-Response, "" if absent */
};

/* Parses an HTTP/1.x response head (status line and headers, up to and
 * including the empty line) of exactly LEN bytes. Returns 0, or -EINVAL
 * with *why naming what was wrong (a static string). */
int nc_http_parse_head(const char *p, size_t len, struct nc_http_head *out, const char **why);

enum nc_http_state {
	NC_HTTP_CONNECTING = 1,
	NC_HTTP_HANDSHAKE,
	NC_HTTP_SENDING,
	NC_HTTP_READING,
	NC_HTTP_DONE,
	NC_HTTP_FAILED,
};

struct nc_http {
	enum nc_http_state st;
	struct tls_stream io;
	bool tls, want_write;
	struct tls_certname cert; /* the node's CertName, checked after the handshake */
	char host[NC_HTTP_HOST_MAX];
	char req[512];
	size_t req_len, req_off;
	char head[NC_HTTP_HEAD_MAX_BYTES];
	size_t head_len;
	uint64_t start_ns, sent_ns, deadline_ns;
	/* NC_HTTP_DONE */
	struct nc_http_head resp;
	uint64_t rtt_ns;   /* request written -> response head read */
	uint64_t total_ns; /* connect -> response head read */
	char error[128];   /* NC_HTTP_FAILED: why */
};

/* Starts GET PATH from ADDR (Host: HOST) over TLS when TLS_CTX is given
 * (the certificate checked as CERT, the node's CertName, says, else for
 * HOST; neither when INSECURE without a CertName: tls_certname.h), plain
 * HTTP otherwise, with header X-Tailscale-Challenge: CHALLENGE when it is
 * not NULL. CERT may be NULL (no CertName). Returns 0, or -errno (the probe
 * is then NC_HTTP_FAILED with error set). */
int nc_http_start(struct nc_http *h, SSL_CTX *tls_ctx, bool insecure,
		  const struct tls_certname *cert, const struct ipport *addr, const char *host,
		  const char *path, const char *challenge, uint64_t now_ns);
/* The socket and the events to wait for (POLLIN/POLLOUT); -1 when done. */
int nc_http_fd(const struct nc_http *h);
short nc_http_events(const struct nc_http *h);
/* Drives the probe after its socket was ready, or at its deadline. */
void nc_http_step(struct nc_http *h, uint64_t now_ns);
bool nc_http_finished(const struct nc_http *h);
/* Closes the socket; the result fields stay. */
void nc_http_close(struct nc_http *h);

#endif
