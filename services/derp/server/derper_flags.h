/* derper_flags: msock-derper's command line, parsed as Go's `flag` package
 * parses Tailscale's cmd/derper (cmd/derper/derper.go: the same names,
 * defaults and syntax), and the settings derper.go derives from it. No I/O but
 * getenv/stat for two defaults (see derper_opts_defaults). The -c file
 * itself is derper_keyfile's. Files:
 *   derper_flags.c           the flag table, parsing, checks, usage text
 *   derper_flags_strconv.c   Go's strconv syntax for ints, uints, bools
 *   derper_flags_opts.c      the defaults and the settings derived from them
 *   derper_flags_internal.h  what they share. */
#ifndef MSOCK_DERPER_FLAGS_H
#define MSOCK_DERPER_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	/* -a: "[IPv6%zone]:port" or a 253-byte DNS name (RFC 1035) + ":port". */
	DERPER_FLAGS_ADDR_MAX_BYTES = 264,
	/* -hostname: a DNS name (RFC 1035) or an IP address. */
	DERPER_FLAGS_HOSTNAME_MAX_BYTES = 253,
	/* File and directory flags. Ours (PATH_MAX is 4096); longer is refused. */
	DERPER_FLAGS_PATH_MAX_BYTES = 1024,
	/* -user: a user name (useradd's 32 bytes, with room). Ours. */
	DERPER_FLAGS_USER_MAX_BYTES = 64,
	/* -mesh-with: a comma-separated list of hostnames. Ours. */
	DERPER_FLAGS_LIST_MAX_BYTES = 4096,
	/* -certmode: "manual", "letsencrypt", "gcp". */
	DERPER_FLAGS_CERTMODE_MAX_BYTES = 32,
	/* -handshake-timeout-ms: default and bounds (ours: Tailscale's derper
	 * relies on net/http's 30 s ReadTimeout until the Hijack). */
	DERPER_HANDSHAKE_TIMEOUT_MS_DEFAULT = 10000,
	DERPER_HANDSHAKE_TIMEOUT_MS_MAX = 600000,
	/* -dev listens here, "above the keys DERP" (derper.go). */
	DERPER_DEV_PORT = 3340,
};

/* derper.go's defaults of -tcp-keepalive-time, -tcp-user-timeout and
 * -tcp-write-timeout (derpserver.DefaultTCPWiteTimeout), in nanoseconds. */
#define DERPER_TCP_KEEPALIVE_TIME_NS_DEFAULT (INT64_C(600) * 1000000000)
#define DERPER_TCP_USER_TIMEOUT_NS_DEFAULT   (INT64_C(15) * 1000000000)
#define DERPER_TCP_WRITE_TIMEOUT_NS_DEFAULT  (INT64_C(2) * 1000000000)

/* derper_flags_parse results. */
enum {
	DERPER_FLAGS_HELP = 1, /* -h, -help, --help: print usage, exit 0 */
	DERPER_FLAGS_OK = 0,
	DERPER_FLAGS_E_UNDEFINED = -1, /* "flag provided but not defined: -x" */
	DERPER_FLAGS_E_SYNTAX = -2,    /* "bad flag syntax: ---x" */
	DERPER_FLAGS_E_NEEDS_ARG = -3, /* "flag needs an argument: -a" */
	DERPER_FLAGS_E_VALUE = -4, /* "invalid value \"abc\" for flag -http-port: parse error" */
	DERPER_FLAGS_E_BOOL = -5,  /* "invalid boolean value \"x\" for -stun: parse error" */
	DERPER_FLAGS_E_POSITIONAL = -6, /* an argument that is not a flag */
	DERPER_FLAGS_E_CERTMODE = -7,	/* a -certmode other than manual */
	DERPER_FLAGS_E_ADDR = -8,	/* -a is not host:port */
	DERPER_FLAGS_E_CERT = -9,	/* TLS without -certdir, or a hostname with no file name */
	DERPER_FLAGS_E_ARG = -10,	/* NULL out or argv */
};

/* Every flag's value. Strings are copies (the struct may be copied). */
struct derper_opts {
	char addr[DERPER_FLAGS_ADDR_MAX_BYTES + 1];	    /* -a ":443"; ":3340" under -dev */
	int http_port;					    /* -http-port 80; < 0 disables */
	int stun_port;					    /* -stun-port 3478 */
	bool stun;					    /* -stun true */
	char config_path[DERPER_FLAGS_PATH_MAX_BYTES + 1];  /* -c "" */
	char certmode[DERPER_FLAGS_CERTMODE_MAX_BYTES + 1]; /* -certmode "letsencrypt" */
	bool certmode_set;				    /* given on the command line */
	/* -certdir: Go's os.UserCacheDir()/tailscale/derper-certs, or "". */
	char certdir[DERPER_FLAGS_PATH_MAX_BYTES + 1];
	char hostname[DERPER_FLAGS_HOSTNAME_MAX_BYTES + 1]; /* -hostname "derp.tailscale.com" */
	/* -mesh-psk-file: the first of /home/derp/keys/derp-mesh.key and
	 * $HOME/keys/derp-mesh.key that exists, or "" (derper.go). */
	char mesh_psk_file[DERPER_FLAGS_PATH_MAX_BYTES + 1];
	char mesh_with[DERPER_FLAGS_LIST_MAX_BYTES + 1]; /* -mesh-with "" */
	bool verify_clients;				 /* -verify-clients false */
	/* -verify-clients-file: msock's own (Tailscale asks tailscaled). */
	char verify_clients_file[DERPER_FLAGS_PATH_MAX_BYTES + 1];
	bool dev;					   /* -dev false */
	bool version;					   /* -version false */
	char rate_config[DERPER_FLAGS_PATH_MAX_BYTES + 1]; /* -rate-config "" */
	/* -per-client-rate-limit / -per-client-rate-burst: bytes/s and bytes,
	 * 0 = unlimited / twice the limit (Tailscale commit e689283eb; replaced
	 * by -rate-config in ca5db865b; we take both). */
	uint64_t per_client_rate_limit;
	uint64_t per_client_rate_burst;
	int handshake_timeout_ms; /* -handshake-timeout-ms 10000 (msock's own) */
	/* msock's own: the sandbox (derper_sandbox.h). */
	char user[DERPER_FLAGS_USER_MAX_BYTES + 1]; /* -user "msock-derper"; "": no drop */
	char chroot_dir[DERPER_FLAGS_PATH_MAX_BYTES +
			1]; /* -chroot "/run/msock-derper"; "": none */
	/* Go durations (derper_duration.h), nanoseconds. */
	int64_t tcp_keepalive_time_ns; /* -tcp-keepalive-time 10m; 0: 15s; < 0: off */
	int64_t tcp_user_timeout_ns;   /* -tcp-user-timeout 15s; <= 0: the kernel's */
	int64_t tcp_write_timeout_ns;  /* -tcp-write-timeout 2s; <= 0: none */
};

/* Fills *out with every default. -certdir reads $XDG_CACHE_HOME or $HOME
 * (Go's os.UserCacheDir); -mesh-psk-file stats its two candidates. */
void derper_opts_defaults(struct derper_opts *out);

/* Parses argv[1..argc-1] over derper_opts_defaults(), as Go's
 * flag.CommandLine does, then applies derper.go's rules: -dev sets -a
 * :3340; -a must split as host:port; -certmode must be manual when TLS is
 * served or when it is given at all; serving TLS needs -certdir and a
 * hostname that names a file. Returns 0, DERPER_FLAGS_HELP (the
 * caller prints usage and exits 0), or a DERPER_FLAGS_E_* code with Go's
 * message in err (the caller prints it and the usage and exits 2, as Go).
 * Unlike Go's derper, which ignores them, a positional argument is an
 * error: "-stun false" would otherwise leave STUN on without a word. */
int derper_flags_parse(int argc, char **argv, struct derper_opts *out, char *err, size_t errcap);

/* Go's flag.Usage: "Usage of msock-derper:" and each flag, sorted by name,
 * with its type, help and non-zero default. */
void derper_flags_usage(FILE *f);

/* Go's net.SplitHostPort, with its messages ("address x: missing port in
 * address"). Returns 0 or -EINVAL with err set. */
int derper_opts_split_addr(const char *addr, char *host, size_t hostcap, char *port, size_t portcap,
			   char *err, size_t errcap);
/* The -a port as a number: digits 0..65535, or the service names http
 * (80) and https (443) that Go resolves. -1 if neither. */
int derper_opts_listen_port(const struct derper_opts *o);

/* Whether to serve TLS: derper.go's `tsweb.IsProd443(*addr) || *certMode
 * == "manual"`, where IsProd443 is the port of -a being "443" or "https". */
bool derper_opts_tls(const struct derper_opts *o);

/* The certificate files of -certmode manual (cert.go NewManualCertManager):
 * <certdir>/<hostname>.crt and .key, the hostname stripped of everything
 * but [a-zA-Z0-9.-]. Returns 0, -EINVAL (no -certdir, or nothing left of
 * the hostname: derper_flags_parse refuses both when TLS is served) or
 * -ENAMETOOLONG. */
int derper_opts_cert_paths(const struct derper_opts *o, char *crt, size_t crtcap, char *key,
			   size_t keycap);

/* The effective per-client burst: -per-client-rate-burst, or twice the
 * limit when 0 (Tailscale e689283eb). 0 when there is no limit. */
uint64_t derper_opts_rate_burst(const struct derper_opts *o);

#endif
