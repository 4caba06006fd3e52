/* derper_proc: msock-derper as a real process for integration tests: a
 * temporary directory (with a self-signed certificate for derp.test made by
 * the openssl CLI when TLS is on), the process started on free loopback
 * ports and stopped, its log, its memory (VmRSS), /debug/metrics, and test
 * DERP clients (derp_tc.h) for it. Factored out of derper_relay_test.c. */
#ifndef MSOCK_TEST_DERPER_PROC_H
#define MSOCK_TEST_DERPER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "derp_tc.h"
#include "key.h"

enum {
	DERPER_PROC_DIR_BYTES = 64,
	DERPER_PROC_RESP_MAX_BYTES = 65536, /* an HTTP answer derper_proc_http_get keeps */
	DERPER_PROC_IO_TIMEOUT_MS = 5000,   /* one HTTP exchange with the server */
	DERPER_PROC_REPORT_LINES = 40,	    /* of a sanitizer report, printed */
};

struct derper_proc {
	char dir[DERPER_PROC_DIR_BYTES]; /* removed by derper_proc_cleanup */
	pid_t pid;			 /* 0 when not running */
	int port, stun_port;
	bool tls; /* -certmode manual with dir/derp.test.{crt,key}; else plain HTTP */
	/* Started with ASan's quarantine of freed memory shrunk to 1 MiB, so
	 * that VmRSS measures the server's memory, not ASan's delayed frees
	 * (256 MiB by default). No effect on a build without ASan. */
	bool small_quarantine;
	/* Started with LeakSanitizer on, as ctest's ASAN_OPTIONS has it (the
	 * server then checks before its sandbox: derper_sandbox.c); off
	 * otherwise, for a quicker start. No effect on a build without ASan. */
	bool leak_check;
};

/* Makes the temporary directory and, when tls, the certificate. Returns 0
 * or -1. */
int derper_proc_init(struct derper_proc *p, bool tls);
/* Starts msock-derper (from $MSOCK_BIN_DIR) on 127.0.0.1 (on the ports of
 * its last start, if any) with `extra` flags
 * (or NULL), its stderr appended to dir/derper.log, and waits (bounded by
 * TH_WAIT_MS) until it accepts connections. Returns 0, or -1 if it exited
 * or never listened (then it is not left running). */
int derper_proc_start(struct derper_proc *p, const char *extra);
/* Chooses the ports now (if not chosen yet), without starting: for servers
 * that must name each other's ports (a mesh). 0 or -1. */
int derper_proc_pick_ports(struct derper_proc *p);
/* Runs msock-derper with `extra` flags where it is expected to refuse to
 * start: waits (bounded by TH_WAIT_MS) for it to exit; *status gets its wait
 * status. Returns 0, or -1 if it was still running (it is killed). */
int derper_proc_run_to_exit(struct derper_proc *p, const char *extra, int *status);
/* SIGTERM and wait (bounded by TH_WAIT_MS, then SIGKILL). Returns the wait
 * status, or -1 when nothing was running. */
int derper_proc_stop(struct derper_proc *p);
/* Stops the server if running and removes the directory (kept, and named
 * on stderr, when MSOCK_TEST_KEEP is set). A sanitizer report in the
 * server's log is printed and counted (derper_proc_sanitizer_reports). */
void derper_proc_cleanup(struct derper_proc *p);
/* Servers cleaned up so far whose log held an ASan/LSan/UBSan report: a
 * test's main adds it to its failures (the reports fail no assertion). */
unsigned derper_proc_sanitizer_reports(void);

/* cmocka fixtures: a zeroed struct derper_proc with TLS (or plain HTTP)
 * in *state; the teardown stops the server and removes the directory, also
 * after a failed assertion. */
int derper_proc_setup_tls(void **state);
int derper_proc_setup_plain(void **state);
int derper_proc_teardown(void **state);

/* A test client logged in (priv NULL: a new key), or NULL with err set. */
struct dtc *derper_proc_client(const struct derper_proc *p, const struct key32 *priv,
			       bool fast_start, char *err, size_t errcap);
/* One HTTP request (TLS when p->tls) to the main port; the whole answer,
 * NUL-terminated, in resp. Returns its length, or -1. */
long derper_proc_http_get(const struct derper_proc *p, const char *req, char *resp, size_t cap);
/* A value from /debug/metrics: `name` is a whole series name as printed,
 * labels included (`derp_packets_dropped_total{reason="queue_head"}`). Returns -1
 * when the request failed or the series is absent. */
long long derper_proc_metric(const struct derper_proc *p, const char *name);
/* Several series from one /debug/metrics answer: vals[i] for names[i] (-1
 * when absent). Returns 0, or -1 when the request failed. */
int derper_proc_metrics(const struct derper_proc *p, const char *const *names, size_t n,
			long long *vals);
/* A memory figure of the server from /proc/PID/status in KiB ("VmRSS",
 * "VmHWM": the peak RSS so far), or -1. */
long derper_proc_mem_kib(const struct derper_proc *p, const char *field);
/* True when dir/derper.log contains needle. */
bool derper_proc_log_has(const struct derper_proc *p, const char *needle);
/* Writes text to dir/name; path (if not NULL) gets the full path. 0 or -1. */
int derper_proc_write_file(const struct derper_proc *p, const char *name, const char *text,
			   char *path, size_t pathcap);

#endif
