/* harness: integration-test helpers: a real msock-broker in a temporary
 * directory (config written by the test, components as the test names
 * them), its control socket, its log, and bounded waits. */
#ifndef MSOCK_TEST_HARNESS_H
#define MSOCK_TEST_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	TH_WAIT_MS =
		15000, /* the longest a test waits for anything: generous for a loaded 2-core box */
};

struct th_broker {
	pid_t pid;
	char dir[256];	   /* the temporary directory; removed by th_broker_cleanup */
	char config[320];  /* dir/msock.json */
	char control[320]; /* dir/control.sock */
	char bus_dir[320]; /* dir/run/bus */
	char log[320];	   /* dir/broker.log: the broker's stderr */
};

/* Writes a config with `components_json` (a JSON array) and `extra_json`
 * (more top-level fields, starting with a comma, or "") and starts the
 * broker; waits until it answers status. Returns 0 or -1. */
int th_broker_start(struct th_broker *b, const char *components_json, const char *extra_json);
/* The directory of the programs under test ($MSOCK_BIN_DIR, or ./bin). */
const char *th_bin_dir(void);
/* Starts (another) broker on b's directory and config, its log appended;
 * waits until it answers status. */
int th_broker_launch(struct th_broker *b);
/* SIGKILLs every process whose root or working directory is under dir
 * (the components of a broker that died); returns how many. */
int th_kill_strays(const char *dir);
/* Rewrites the config file (same shape as th_broker_start's). */
int th_write_config(struct th_broker *b, const char *components_json, const char *extra_json);
/* Writes raw text as the config file. */
int th_write_file(const char *path, const char *text);
/* Sends sig and waits (up to TH_WAIT_MS) for the broker to exit; *status
 * gets its wait status. Returns 0, or -1 on timeout. */
int th_broker_stop(struct th_broker *b, int sig, int *status);
/* Kills whatever is left and removes the directory. */
void th_broker_cleanup(struct th_broker *b);
/* cmocka fixtures: th_setup puts a zeroed struct th_broker in *state;
 * th_teardown cleans it up and frees it, also after a failed assertion
 * (so no broker outlives its test). */
int th_setup(void **state);
int th_teardown(void **state);

/* One control request. Returns 0 when the broker answered; *ok and *text
 * (caller frees) hold the answer (text is the error when !ok). */
int th_control(const struct th_broker *b, const char *cmd, const char *arg, bool *ok, char **text);
/* The same with the request's wait_ms (reload --wait); waits for the
 * answer that much longer. */
int th_control_wait(const struct th_broker *b, const char *cmd, const char *arg, uint32_t wait_ms,
		    bool *ok, char **text);
/* status --json, parsed (caller json_decref's), or NULL. */
json_t *th_status(const struct th_broker *b);
/* Fields of a component in status: its pid, restarts, state ("" if absent). */
pid_t th_comp_pid(const struct th_broker *b, const char *name);
int th_comp_restarts(const struct th_broker *b, const char *name);
bool th_comp_state_is(const struct th_broker *b, const char *name, const char *state);
long long th_bus_counter(const struct th_broker *b, const char *name);

/* Polls pred every 20 ms until it is true or TH_WAIT_MS passes. */
bool th_wait(bool (*pred)(void *arg), void *arg);
/* True when the broker's log contains needle. */
bool th_log_contains(const struct th_broker *b, const char *needle);
/* The value of `field` ("Uid", "VmRSS", …) in /proc/<pid>/status, after
 * its colon (tabs kept, newline cut), into out. False if absent. */
bool th_proc_status(pid_t pid, const char *field, char *out, size_t cap);
/* Removes a directory and everything under it (test scratch dirs). */
void th_remove_tree(const char *dir);
/* Milliseconds of CLOCK_MONOTONIC since t0_ns. */
uint64_t th_ms_since(uint64_t t0_ns);
/* True while a process with that pid exists (and is not a zombie of ours). */
bool th_pid_alive(pid_t pid);

/* A UDP socket bound to 127.0.0.1:port (0: any); *bound (may be NULL) gets
 * the port. Returns the fd or -1. */
int th_udp_loopback(uint16_t port, uint16_t *bound);

#endif
