/* derper_keyfile: see derper_keyfile.h. */
#include "derper_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"

enum {
	DERPER_KEYFILE_MAX_BYTES = 4096, /* one key in JSON; more is not this file */
};

#define DERPER_KEYFILE_ROOT_DEFAULT "/var/lib/derper/derper.key" /* derper.go, as root */

int derper_keyfile_path(const char *given, unsigned euid, const char **path, char *err,
			size_t errcap)
{
	if (given && given[0]) {
		*path = given;
		return 0;
	}
	if (euid == 0) {
		*path = DERPER_KEYFILE_ROOT_DEFAULT;
		return 0;
	}
	errbuf_set(err, errcap, "derper: -c <config path> not specified");
	return -EINVAL;
}

size_t derper_keyfile_format(const struct key32 *priv, char *buf, size_t cap)
{
	char k[KEY_TEXT_MAX];
	int n;

	if (!key_format(KEY_KIND_PRIVATE, priv, k, sizeof(k)))
		return 0;
	n = snprintf(buf, cap, "{\n\t\"PrivateKey\": \"%s\"\n}", k);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int derper_keyfile_parse(const char *text, size_t len, struct key32 *priv, char *err, size_t errcap)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je), *v, *found = 0;
	const char *name, *why = 0;
	int rc = -EINVAL;

	if (!root) {
		errbuf_set(err, errcap, "%d:%d: %s", je.line, je.column, je.text);
		return -EINVAL;
	}
	/* Go matches field names ignoring case; the last match wins. */
	json_object_foreach (root, name, v)
		if (strcasecmp(name, "PrivateKey") == 0)
			found = v;
	if (!json_is_object(root) || !json_is_string(found))
		errbuf_set(err, errcap, "PrivateKey: expected \"privkey:<64 hex>\"");
	else if (key_parse(json_string_value(found), KEY_KIND_PRIVATE, priv, &why) < 0 ||
		 key_is_zero(priv))
		errbuf_set(err, errcap, "PrivateKey: expected \"privkey:<64 hex>\" (%s)",
			   why ? why : "the all-zero key");
	else
		rc = 0;
	json_decref(root);
	return rc;
}

static int create(const char *path, struct key32 *priv, char *err, size_t errcap)
{
	char text[KEY_TEXT_MAX + 64];
	int fd, n;

	if (key_generate(priv) < 0) {
		errbuf_set(err, errcap, "%s: cannot generate a key", path);
		return -EIO;
	}
	n = (int)derper_keyfile_format(priv, text, sizeof(text));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno;
		errbuf_set(err, errcap, "%s: cannot create the key file: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int derper_keyfile_load(const char *path, struct key32 *priv, char *err, size_t errcap)
{
	char text[DERPER_KEYFILE_MAX_BYTES + 1], why[256];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return create(path, priv, err, errcap);
	if (fd < 0) {
		int e = errno;
		errbuf_set(err, errcap, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		errbuf_set(err, errcap,
			   "%s: must be a regular file of mode 0600 (it holds the private key)",
			   path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0 || n > DERPER_KEYFILE_MAX_BYTES) {
		errbuf_set(err, errcap, "%s: unreadable or larger than %d bytes", path,
			   DERPER_KEYFILE_MAX_BYTES);
		return -EINVAL;
	}
	if (derper_keyfile_parse(text, (size_t)n, priv, why, sizeof(why)) < 0) {
		errbuf_set(err, errcap, "%s: %s", path, why);
		return -EINVAL;
	}
	return 0;
}
