/* config_expect: helpers shared by the config tests: parse and expect no
 * error, or exactly these messages; files in a mkdtemp directory. Include
 * after <cmocka.h>. */
#ifndef MSOCK_TEST_CONFIG_EXPECT_H
#define MSOCK_TEST_CONFIG_EXPECT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static inline struct msock_config *parse_ok(const char *text, const char *name)
{
	struct cfg_diag d;
	struct msock_config *cfg = config_parse(text, strlen(text), name, &d);

	for (size_t i = 0; i < d.n_errors; i++)
		print_error("unexpected: %s\n", d.errors[i]);
	assert_int_equal(d.n_errors, 0);
	assert_non_null(cfg);
	cfg_diag_free(&d);
	return cfg;
}

static inline void check_errors(struct msock_config *cfg, struct cfg_diag *d,
				const char *const *want, size_t n)
{
	bool same = d->n_errors == n;

	for (size_t i = 0; same && i < n; i++)
		same = strcmp(d->errors[i], want[i]) == 0;
	for (size_t i = 0; !same && i < d->n_errors; i++)
		print_message("got: %s\n", d->errors[i]);
	assert_null(cfg);
	assert_int_equal(d->n_errors, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(d->errors[i], want[i]);
	cfg_diag_free(d);
}

static inline void expect_errors(const char *text, const char *const *want, size_t n)
{
	struct cfg_diag d;
	struct msock_config *cfg = config_parse(text, strlen(text), "msock.json", &d);

	check_errors(cfg, &d, want, n);
}

static inline void expect_error(const char *text, const char *want)
{
	expect_errors(text, &want, 1);
}

/* The most messages a row of a bad_rows table expects. */
enum { CFG_ROW_MAX_ERRORS = 7 };

/* The config must be refused with exactly want's messages, in order; a
 * failure names the row. */
static inline void expect_row(const char *name, const char *text, const char *const *want)
{
	struct cfg_diag d;
	struct msock_config *cfg = config_parse(text, strlen(text), "msock.json", &d);
	size_t n = 0;

	while (want[n])
		n++;
	if (cfg || d.n_errors != n) {
		for (size_t i = 0; i < d.n_errors; i++)
			print_message("got: %s\n", d.errors[i]);
		fail_msg("%s: %s, %zu errors, want %zu", name, cfg ? "accepted" : "refused",
			 d.n_errors, n);
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(d.errors[i], want[i]) != 0)
			fail_msg("%s: error %zu is\n  %s\nwant\n  %s", name, i, d.errors[i],
				 want[i]);
	cfg_diag_free(&d);
}

/* Files in a mkdtemp directory, removed with everything in it. */
struct tmp {
	char dir[64];
};

static inline int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/config_test.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline void tmp_file(const struct tmp *t, const char *name, const char *text, char *path,
			    size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", t->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

static inline int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

#endif
