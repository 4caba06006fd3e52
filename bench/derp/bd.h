/* bd: bench-derp's parts. bd_proc.c starts and watches the servers under
 * test (msock-derper, Tailscale's derper, the minimal relay) and reads their
 * RSS and CPU time; bd_client.c is the load generator (many DERP clients on
 * one epoll loop, in the bench's own process); bd_relay.c is the minimal
 * relay, the bench re-executed. bench/derp.c runs the loads and prints. */
#ifndef MSOCK_BENCH_BD_H
#define MSOCK_BENCH_BD_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "key.h"
#include "tls_stream.h"

#define BD_HOSTNAME "derp.test" /* the certificate's name, sent as SNI and verified */

enum {
	BD_WINDOW_PKTS = 16,	      /* in flight per pair: half the servers' 32-deep queues */
	BD_LOGINS_IN_FLIGHT = 128,    /* under msock-derper's 1,024 unfinished handshakes */
	BD_CL_RBUF_BYTES = 16384,     /* a client's input; the largest frame here is ~1.5 KB */
	BD_CL_WBUF_BYTES = 64 * 1024, /* a client's unsent output; past it a packet is not sent */
	BD_MAX_EVENTS = 256,
	BD_LOGIN_TIMEOUT_MS = 120000,
	BD_DRAIN_MS = 1000,
	BD_START_TIMEOUT_MS = 10000, /* Go's derper writes its key and cert checks first */
	BD_STOP_TIMEOUT_MS = 5000,
	BD_MAX_KIDS = 16, /* 6 servers, and generator helpers */
	BD_MAX_GENERATORS = 4,
	BD_MAX_PAIRS = 16,
	BD_WARMUP_MS = 200,
	BD_PATH_MAX = 512,
	BD_TLS_INFO_MAX = 96,
};

/* The servers under test, in the order their columns are printed. */
enum bd_server {
	BD_INVALID = 0,
	BD_RELAY,     /* the minimal relay: the generator's reference */
	BD_MSOCK,     /* msock-derper, from the bench's own bin/ */
	BD_TAILSCALE, /* Tailscale's cmd/derper (--tailscale-derper) */
	BD_N_SERVERS,
};

/* ---- bd_proc.c: processes ---- */

/* Makes the scratch directory (key files, the certificate, server logs),
 * removed at exit with every child still running. 0 or -1. */
int bd_proc_init(void);
const char *bd_dir(void);
/* The self-signed certificate BD_HOSTNAME.crt/.key in bd_dir(): every TLS
 * server serves it, the clients trust only it. 0 or -1. */
int bd_make_cert(void);
/* Starts `kind` serving TLS or plain HTTP on a free loopback port (*port);
 * waits until it accepts connections. ts_path: Tailscale's derper. The
 * child's pid, or -1 (said on stderr). */
pid_t bd_start(enum bd_server kind, bool tls, const char *ts_path, int *port);
/* SIGTERM, then SIGKILL after BD_STOP_TIMEOUT_MS; reaped. */
void bd_stop(pid_t pid);
/* Raises RLIMIT_NOFILE to its hard limit (servers started later inherit
 * it); returns how many of `want` idle clients fit. */
int bd_raise_nofile(int want);
long bd_rss_kb(pid_t pid);	   /* VmRSS, or -1 */
double bd_cpu_secs(pid_t pid);	   /* user + system, every thread; -1 if unknown */
double bd_self_cpu_secs(void);	   /* this process: the load generator */
double bd_secs_since(uint64_t t0); /* t0 from clock_mono_ns() */
/* Exits 130 if SIGINT or SIGTERM came (the atexit handler cleans up). */
void bd_check_stop(void);
/* fork() for a second generator process: in the child it returns 0, and
 * the child must end with bd_helper_exit (the parent owns the servers and
 * the directory); the parent reaps it with bd_reap. */
pid_t bd_fork_helper(void);
void bd_helper_exit(void) __attribute__((noreturn));
void bd_reap(pid_t pid);

/* ---- bd_client.c: the load generator ---- */

enum cl_state {
	C_INVALID = 0,
	C_CONNECTING,
	C_TLS,
	C_SKEY,	 /* request sent (fast start: no 101); waiting for ServerKey */
	C_SINFO, /* ClientInfo sent; waiting for ServerInfo */
	C_UP,
	C_DEAD,
};

struct cl {
	struct tls_stream io;
	enum cl_state st;
	struct key32 priv, pub;
	uint8_t *rbuf, *wbuf;
	size_t rlen, wlen;
	bool out_armed;
	int peer; /* index of the client it sends to */
	uint64_t sent, recvd;
};

/* Clients of one server. */
struct drv {
	int ep, port;
	SSL_CTX *tls;	     /* NULL: plain HTTP */
	struct key32 server; /* from ServerKey: one server per driver */
	struct cl *c;
	int cap, started, up, dead;
	uint64_t wrong_src, unsent;
	char tls_info[BD_TLS_INFO_MAX]; /* version, cipher, group of the first login */
};

/* A client TLS context that trusts only bd_dir()'s certificate and checks
 * it names BD_HOSTNAME (caller frees with SSL_CTX_free). */
SSL_CTX *bd_client_tls(void);
int drv_open(struct drv *d, int port, SSL_CTX *tls, int cap);
void drv_close(struct drv *d);
/* Starts clients until `upto` have been started, BD_LOGINS_IN_FLIGHT at a
 * time, and waits for their logins: the seconds it took, or -1 if some did
 * not log in. */
double drv_login(struct drv *d, int upto);
void drv_poll(struct drv *d, int timeout_ms);
/* Writes p (or queues it behind earlier output); false if it does not fit. */
bool cl_send(struct drv *d, struct cl *c, const void *p, size_t n);
uint64_t drv_recvd(const struct drv *d);
uint64_t drv_sent(const struct drv *d);
/* Polls until every sent packet has arrived or BD_DRAIN_MS passed. */
void drv_drain(struct drv *d);

/* ---- bd_tput.c: the throughput run ---- */

struct bd_tput {
	double pps, mbps;
	double srv_cpu, gen_cpu; /* shares of one core over the measured time */
	uint64_t drops, wrong;
	bool ok;
};

/* `pairs` client pairs of server `srv` (listening on port), each sender
 * keeping <= BD_WINDOW_PKTS len-byte packets in flight to its partner: the
 * packets/s that arrive in `ms` after BD_WARMUP_MS, and the CPU the server
 * and the generator used. ngen > 1 splits the pairs over that many
 * generator processes, started together (their CPU is summed). */
struct bd_tput bd_tput_run(pid_t srv, int port, SSL_CTX *tls, int pairs, size_t len, int ms,
			   int ngen);

/* ---- bd_relay.c: the minimal relay ---- */

/* The minimal relay's process (`bench-derp --relay FD TLS DIR`): serves the
 * listening socket FD forever. */
int bd_relay_main(int lfd, bool tls, const char *dir) __attribute__((noreturn));

#endif
