/* derper_flags_opts: struct derper_opts' defaults (derper.go's, with
 * tsweb.DefaultCertDir and defaultMeshPSKFile) and the settings derper.go
 * derives from the flags: the listen address split as net.SplitHostPort,
 * its port, TLS or not, the certificate paths (cert.go) and the rate
 * burst. getenv and stat for two defaults; no other I/O. No timers. */
#include "derper_flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "derper_flags_internal.h"
#include "derper_sandbox.h"
#include "errbuf.h"

/* filepath.Join for plain paths: skips empty parts, one '/' between parts,
 * repeated and trailing slashes dropped ("." and ".." are left alone). */
static int join(char *dst, size_t cap, const char *const *parts, size_t nparts)
{
	size_t n = 0;

	if (cap == 0)
		return -ENAMETOOLONG;
	dst[0] = 0;
	for (size_t i = 0; i < nparts; i++) {
		const char *s = parts[i];
		if (!s || !*s)
			continue;
		if (n > 0 && dst[n - 1] != '/') {
			if (n + 1 >= cap)
				return -ENAMETOOLONG;
			dst[n++] = '/';
		}
		for (; *s; s++) {
			if (*s == '/' && n > 0 && dst[n - 1] == '/')
				continue;
			if (n + 1 >= cap)
				return -ENAMETOOLONG;
			dst[n++] = *s;
		}
	}
	while (n > 1 && dst[n - 1] == '/')
		n--;
	dst[n] = 0;
	return 0;
}

static void set_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

void derper_opts_defaults(struct derper_opts *o)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	struct stat st;
	char cand[DERPER_FLAGS_PATH_MAX_BYTES + 1];

	memset(o, 0, sizeof(*o));
	set_str(o->addr, sizeof(o->addr), ":443");
	o->http_port = 80;
	o->stun_port = 3478;
	o->stun = true;
	set_str(o->certmode, sizeof(o->certmode), "letsencrypt");
	set_str(o->hostname, sizeof(o->hostname), "derp.tailscale.com");
	o->handshake_timeout_ms = DERPER_HANDSHAKE_TIMEOUT_MS_DEFAULT;
	o->tcp_keepalive_time_ns = DERPER_TCP_KEEPALIVE_TIME_NS_DEFAULT;
	o->tcp_user_timeout_ns = DERPER_TCP_USER_TIMEOUT_NS_DEFAULT;
	o->tcp_write_timeout_ns = DERPER_TCP_WRITE_TIMEOUT_NS_DEFAULT;
	set_str(o->user, sizeof(o->user), DERPER_SANDBOX_USER_DEFAULT);
	set_str(o->chroot_dir, sizeof(o->chroot_dir), DERPER_SANDBOX_CHROOT_DEFAULT);

	/* tsweb.DefaultCertDir("derper-certs"): os.UserCacheDir() on Unix is
	 * $XDG_CACHE_HOME if set and absolute (relative is an error), else
	 * $HOME/.cache (neither set is an error); an error gives "". */
	if (xdg && *xdg) {
		if (xdg[0] == '/') {
			const char *parts[] = {xdg, "tailscale", "derper-certs"};
			if (join(o->certdir, sizeof(o->certdir), parts, 3) < 0)
				o->certdir[0] = 0;
		}
	} else if (home && *home) {
		const char *parts[] = {home, ".cache", "tailscale", "derper-certs"};
		if (join(o->certdir, sizeof(o->certdir), parts, 4) < 0)
			o->certdir[0] = 0;
	}

	/* defaultMeshPSKFile: the first candidate that os.Stat finds. */
	if (stat("/home/derp/keys/derp-mesh.key", &st) == 0) {
		set_str(o->mesh_psk_file, sizeof(o->mesh_psk_file),
			"/home/derp/keys/derp-mesh.key");
	} else {
		const char *parts[] = {home ? home : "", "keys", "derp-mesh.key"};
		if (join(cand, sizeof(cand), parts, 3) == 0 && stat(cand, &st) == 0)
			set_str(o->mesh_psk_file, sizeof(o->mesh_psk_file), cand);
	}
}

int derper_opts_split_addr(const char *a, char *host, size_t hostcap, char *port, size_t portcap,
			   char *err, size_t errcap)
{
	const char *last, *close, *h, *p;
	size_t hlen, j = 0, k = 0, len;
	const char *why = NULL;

	if (!a)
		return -EINVAL;
	len = strlen(a);
	last = strrchr(a, ':');
	if (!last) {
		why = "missing port in address";
		goto out;
	}
	if (a[0] == '[') {
		close = strchr(a, ']');
		if (!close) {
			why = "missing ']' in address";
			goto out;
		}
		if ((size_t)(close - a) + 1 == len) {
			why = "missing port in address";
			goto out;
		}
		if (close + 1 != last) {
			why = close[1] == ':' ? "too many colons in address"
					      : "missing port in address";
			goto out;
		}
		h = a + 1;
		hlen = (size_t)(close - a) - 1;
		j = 1;
		k = (size_t)(close - a) + 1;
	} else {
		h = a;
		hlen = (size_t)(last - a);
		if (memchr(h, ':', hlen)) {
			why = "too many colons in address";
			goto out;
		}
	}
	if (strchr(a + j, '[')) {
		why = "unexpected '[' in address";
		goto out;
	}
	if (strchr(a + k, ']')) {
		why = "unexpected ']' in address";
		goto out;
	}
	p = last + 1;
	if (hlen >= hostcap || strlen(p) >= portcap) {
		errbuf_set(err, errcap, "address %s: too long", a);
		return -ENAMETOOLONG;
	}
	memcpy(host, h, hlen);
	host[hlen] = 0;
	memcpy(port, p, strlen(p) + 1);
	return 0;
out:
	/* net.AddrError: "address <addr>: <why>" */
	if (*a)
		errbuf_set(err, errcap, "address %s: %s", a, why);
	else
		errbuf_set(err, errcap, "%s", why);
	return -EINVAL;
}

int derper_opts_port_number(const char *port)
{
	long v = 0;

	if (strcmp(port, "https") == 0)
		return 443;
	if (strcmp(port, "http") == 0)
		return 80;
	if (!*port || strlen(port) > 5)
		return -1;
	for (const char *s = port; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

int derper_opts_listen_port(const struct derper_opts *o)
{
	char host[DERPER_FLAGS_ADDR_MAX_BYTES + 1], port[DERPER_FLAGS_ADDR_MAX_BYTES + 1];

	if (!o || derper_opts_split_addr(o->addr, host, sizeof(host), port, sizeof(port), NULL, 0))
		return -1;
	return derper_opts_port_number(port);
}

bool derper_opts_tls(const struct derper_opts *o)
{
	char host[DERPER_FLAGS_ADDR_MAX_BYTES + 1], port[DERPER_FLAGS_ADDR_MAX_BYTES + 1];

	if (!o)
		return false;
	if (strcmp(o->certmode, "manual") == 0)
		return true;
	/* IsProd443 ignores SplitHostPort's error: then the port is "". */
	if (derper_opts_split_addr(o->addr, host, sizeof(host), port, sizeof(port), NULL, 0))
		return false;
	return strcmp(port, "443") == 0 || strcmp(port, "https") == 0;
}

/* cert.go: the file name is the hostname without [^a-zA-Z0-9-\.]. */
size_t derper_opts_cert_name(const char *hostname, char *name, size_t cap)
{
	size_t n = 0;

	for (const char *s = hostname; *s && n + 1 < cap; s++) {
		char ch = *s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')
			name[n++] = ch;
	}
	name[n] = 0;
	return n;
}

int derper_opts_cert_paths(const struct derper_opts *o, char *crt, size_t crtcap, char *key,
			   size_t keycap)
{
	char name[DERPER_FLAGS_HOSTNAME_MAX_BYTES + 8];
	const char *parts[2];
	size_t n;

	if (!o || !crt || !key || !o->certdir[0])
		return -EINVAL;
	n = derper_opts_cert_name(o->hostname, name, DERPER_FLAGS_HOSTNAME_MAX_BYTES + 1);
	if (n == 0)
		return -EINVAL;
	parts[0] = o->certdir;
	parts[1] = name;
	memcpy(name + n, ".crt", 5);
	if (join(crt, crtcap, parts, 2) < 0)
		return -ENAMETOOLONG;
	memcpy(name + n, ".key", 5);
	if (join(key, keycap, parts, 2) < 0)
		return -ENAMETOOLONG;
	return 0;
}

uint64_t derper_opts_rate_burst(const struct derper_opts *o)
{
	if (!o || o->per_client_rate_limit == 0)
		return 0;
	if (o->per_client_rate_burst)
		return o->per_client_rate_burst;
	return o->per_client_rate_limit > UINT64_MAX / 2 ? UINT64_MAX
							 : o->per_client_rate_limit * 2;
}
