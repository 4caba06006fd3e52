/* config_file: reading the config file (and files it names) with a size
 * limit, and resolving relative paths against the config file's directory. */
#include "config_internal.h"

#include <errno.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errbuf.h"

static int too_big(const char *path, long long size, char *err, size_t errcap)
{
	errbuf_set(err, errcap, "%s: file is %lld bytes, more than the %d-byte limit", path, size,
		   CFG_MAX_FILE_BYTES);
	return -EFBIG;
}

/* Reads until EOF into a buffer that starts at the size fstat gave and
 * grows, so a file that grew past the limit since fstat is refused too. */
static int read_fd(int fd, const char *path, size_t hint, char **text, size_t *len, char *err,
		   size_t errcap)
{
	size_t n = 0, cap = hint + 1;
	char *buf = malloc(cap);
	int rc = 0;

	while (buf) {
		if (n == cap) {
			size_t ncap = cap * 2 > (size_t)CFG_MAX_FILE_BYTES + 1
					      ? (size_t)CFG_MAX_FILE_BYTES + 1
					      : cap * 2;
			char *nbuf = ncap > cap ? realloc(buf, ncap) : NULL;
			if (!nbuf) {
				rc = n > CFG_MAX_FILE_BYTES
					     ? too_big(path, (long long)n, err, errcap)
					     : -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			errbuf_set(err, errcap, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (n > CFG_MAX_FILE_BYTES) {
		rc = too_big(path, (long long)n, err, errcap);
		goto out;
	}
	*text = buf;
	*len = n;
	buf = NULL;
out:
	if (rc == -ENOMEM)
		errbuf_set(err, errcap, "%s: %s", path, strerror(ENOMEM));
	free(buf);
	return rc;
}

int cfg_read_file(const char *path, char **text, size_t *len, char *err, size_t errcap)
{
	struct stat st;
	int fd, rc;

	*text = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO named as the config must not hang the caller. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		errbuf_set(err, errcap, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errbuf_set(err, errcap, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		errbuf_set(err, errcap, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > CFG_MAX_FILE_BYTES) {
		rc = too_big(path, (long long)st.st_size, err, errcap);
		goto out;
	}
	rc = read_fd(fd, path, (size_t)st.st_size, text, len, err, errcap);
out:
	close(fd);
	return rc;
}

int cfg_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n;

	if (name[0] == '/')
		n = snprintf(out, cap, "%s", name);
	else
		n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return n;
}

int cfg_path(struct cfg_ctx *c, const json_t *v, char *out, size_t cap)
{
	char raw[CFG_PATH_MAX];

	if (cfg_str(c, v, raw, sizeof(raw)) < 0)
		return -1;
	if (!raw[0]) {
		cfg_error(c, CFG_AT_VALUE, "expected a path, got an empty string");
		return -1;
	}
	if (cfg_join(out, cap, c->base_dir, raw) < 0) {
		cfg_error(c, CFG_AT_VALUE, "resolved against %s the path is longer than %zu bytes",
			  c->base_dir, cap - 1);
		return -1;
	}
	return 0;
}
