/* msockctl_setup_users_test: what `msockctl setup-users` asks for
 * (tools/setup_users.h), checked against the process table (lib/proctab.h):
 * each row's user and group, group msock, the channel groups and
 * msock-derper, numbers unique; the sysusers.d file in deploy/ is the
 * plan's; and, with --dry-run on a temporary root (no root needed), what is
 * missing, what exists, and an entry with another number or whose number
 * another name holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctab.h"
#include "setup_users.h"

static const struct su_entry *find(const struct su_entry *e, int n, enum su_kind kind,
				   const char *name, const char *group)
{
	for (int i = 0; i < n; i++)
		if (e[i].kind == kind && strcmp(e[i].name, name) == 0 &&
		    (!group || strcmp(e[i].group, group) == 0))
			return &e[i];
	return NULL;
}

static void test_plan_from_table(void **state)
{
	struct su_entry e[SU_MAX_ENTRIES];
	int n = su_plan(e, SU_MAX_ENTRIES), want = 3; /* msock; the derper's group and user */
	size_t nrows;
	const struct proc *rows = proctab_all(&nrows);
	const struct su_entry *g, *u;
	char ch[SU_NAME_MAX];

	(void)state;
	assert_true(n > 0);
	g = find(e, n, SU_GROUP, PROCTAB_GROUP, NULL);
	assert_non_null(g);
	assert_int_equal(g->id, PROCTAB_GROUP_GID);
	for (size_t i = 0; i < nrows; i++) {
		if (!rows[i].user) {
			/* a row without a user (testcomp) asks for nothing */
			assert_null(find(e, n, SU_GROUP, rows[i].program, NULL));
			continue;
		}
		want += 3; /* group, user, msock membership */
		g = find(e, n, SU_GROUP, rows[i].user, NULL);
		u = find(e, n, SU_USER, rows[i].user, NULL);
		assert_non_null(g);
		assert_non_null(u);
		assert_int_equal(g->id, rows[i].uid);
		assert_int_equal(u->id, rows[i].uid);
		assert_int_equal(u->gid, rows[i].uid);
		assert_string_equal(u->group, rows[i].user);
		assert_non_null(strstr(u->gecos, rows[i].program));
		assert_non_null(find(e, n, SU_MEMBER, rows[i].user, PROCTAB_GROUP));
		if (proctab_ch_group(&rows[i], ch, sizeof(ch)) == 0) {
			want += 2;
			g = find(e, n, SU_GROUP, ch, NULL);
			assert_non_null(g);
			assert_int_equal(g->id, rows[i].ch_gid);
			assert_non_null(find(e, n, SU_MEMBER, rows[i].user, ch));
		} else {
			/* the dataplane owns the channel directories: in no channel group */
			for (int k = 0; k < n; k++)
				assert_false(e[k].kind == SU_MEMBER &&
					     strcmp(e[k].name, rows[i].user) == 0 &&
					     strncmp(e[k].group, PROCTAB_CH_GROUP_PREFIX,
						     strlen(PROCTAB_CH_GROUP_PREFIX)) == 0);
		}
	}
	u = find(e, n, SU_USER, PROCTAB_DERPER_USER, NULL);
	assert_non_null(u);
	assert_int_equal(u->id, PROCTAB_DERPER_UID);
	assert_int_equal(u->gid, PROCTAB_DERPER_UID);
	assert_non_null(find(e, n, SU_GROUP, PROCTAB_DERPER_USER, NULL));
	assert_null(find(e, n, SU_MEMBER, PROCTAB_DERPER_USER, NULL));
	assert_int_equal(n, want);
	/* numbers and names unique per kind; groups before users before members */
	for (int i = 0; i < n; i++) {
		if (i > 0)
			assert_true(e[i - 1].kind <= e[i].kind);
		for (int k = i + 1; k < n; k++) {
			if (e[i].kind != e[k].kind || e[i].kind == SU_MEMBER)
				continue;
			if (e[i].id == e[k].id || strcmp(e[i].name, e[k].name) == 0)
				fail_msg("%s (%u) and %s (%u) collide", e[i].name, e[i].id,
					 e[k].name, e[k].id);
		}
	}
}

static void test_plan_too_small(void **state)
{
	struct su_entry e[4];

	(void)state;
	assert_int_equal(su_plan(e, 4), -ENOSPC);
}

/* The sysusers.d file in deploy/ is this build's, byte for byte. */
static void test_sysusers_file(void **state)
{
	const char *src = getenv("MSOCK_SOURCE_DIR");
	char path[4096], *text = NULL, *file;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len), *in;
	long flen;

	(void)state;
	assert_non_null(src);
	assert_non_null(f);
	assert_int_equal(su_write_sysusers(f), 0);
	fclose(f);
	snprintf(path, sizeof(path), "%s/deploy/sysusers.d/msock.conf", src);
	in = fopen(path, "r");
	assert_non_null(in);
	fseek(in, 0, SEEK_END);
	flen = ftell(in);
	rewind(in);
	file = calloc(1, (size_t)flen + 1);
	assert_int_equal(fread(file, 1, (size_t)flen, in), (size_t)flen);
	fclose(in);
	if ((size_t)flen != len || memcmp(file, text, len) != 0)
		fail_msg("%s differs from `msockctl setup-users --print-sysusers`:\n%s", path,
			 text);
	assert_non_null(strstr(text, "msockctl setup-users --print-sysusers"));
	free(file);
	free(text);
}

struct tree {
	char dir[64];
	char *out, *err;
	size_t outlen, errlen;
};

static void put(const char *dir, const char *file, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/%s", dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs su_apply --dry-run on a root whose etc/passwd and etc/group hold
 * passwd and group (NULL: no group file). */
static int dry_run(struct tree *t, const char *passwd, const char *group)
{
	struct su_opts o = {.root = t->dir, .dry_run = true};
	char etc[96];
	FILE *out, *err;
	int rc;

	snprintf(t->dir, sizeof(t->dir), "/tmp/msock-test-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(etc, sizeof(etc), "%s/etc", t->dir);
	assert_int_equal(mkdir(etc, 0755), 0);
	put(t->dir, "passwd", passwd);
	if (group)
		put(t->dir, "group", group);
	out = open_memstream(&t->out, &t->outlen);
	err = open_memstream(&t->err, &t->errlen);
	rc = su_apply(&o, out, err);
	fclose(out);
	fclose(err);
	return rc;
}

static void tree_free(struct tree *t)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/etc/passwd", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/etc/group", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/etc", t->dir);
	rmdir(path);
	rmdir(t->dir);
	free(t->out);
	free(t->err);
}

static void test_dry_run_empty(void **state)
{
	struct tree t = {0};
	char line[128];

	(void)state;
	assert_int_equal(dry_run(&t, "root:x:0:0:root:/root:/bin/bash\n", "root:x:0:\n"), 0);
	assert_int_equal(t.errlen, 0);
	snprintf(line, sizeof(line), "group %s (%u): would be created\n", PROCTAB_GROUP,
		 PROCTAB_GROUP_GID);
	assert_non_null(strstr(t.out, line));
	snprintf(line, sizeof(line), "user %s (%u): would be created\n", PROCTAB_DERPER_USER,
		 PROCTAB_DERPER_UID);
	assert_non_null(strstr(t.out, line));
	assert_null(strstr(t.out, "exists"));
	tree_free(&t);
}

static void test_dry_run_found(void **state)
{
	const struct proc *disco = proctab_find("disco");
	char passwd[256], group[256], line[160];
	struct tree t = {0};

	(void)state;
	assert_non_null(disco);
	/* disco's user and group exist with the table's number; group msock
	 * exists and lists it. */
	snprintf(passwd, sizeof(passwd), "root:x:0:0::/:/bin/sh\n%s:x:%u:%u::/:/bin/sh\n",
		 disco->user, disco->uid, disco->uid);
	snprintf(group, sizeof(group), "root:x:0:\n%s:x:%u:\n%s:x:%u:%s\n", disco->user, disco->uid,
		 PROCTAB_GROUP, PROCTAB_GROUP_GID, disco->user);
	assert_int_equal(dry_run(&t, passwd, group), 0);
	snprintf(line, sizeof(line), "user %s (%u): exists\n", disco->user, disco->uid);
	assert_non_null(strstr(t.out, line));
	snprintf(line, sizeof(line), "group %s (%u): exists\n", disco->user, disco->uid);
	assert_non_null(strstr(t.out, line));
	snprintf(line, sizeof(line), "user %s: member of %s: exists\n", disco->user, PROCTAB_GROUP);
	assert_non_null(strstr(t.out, line));
	tree_free(&t);
}

static void test_dry_run_conflicts(void **state)
{
	const struct proc *disco = proctab_find("disco"), *derp = proctab_find("derp");
	unsigned other_uid = disco->uid + 48;
	char passwd[256], group[256], want[160];
	struct tree t = {0};
	int rc;

	(void)state;
	/* msock-disco with another uid; derp's gid held by another group */
	snprintf(passwd, sizeof(passwd), "root:x:0:0::/:/bin/sh\n%s:x:%u:%u::/:/bin/sh\n",
		 disco->user, other_uid, other_uid);
	snprintf(group, sizeof(group), "root:x:0:\nsomeone:x:%u:\n", derp->uid);
	rc = dry_run(&t, passwd, group);
	assert_true(rc >= 2);
	snprintf(want, sizeof(want), "user %s: expected uid %u, found uid %u; left unchanged\n",
		 disco->user, disco->uid, other_uid);
	if (!strstr(t.err, want))
		fail_msg("no \"%s\" in:\n%s", want, t.err);
	snprintf(want, sizeof(want), "group %s (%u): gid %u is group someone's; not created\n",
		 derp->user, derp->uid, derp->uid);
	if (!strstr(t.err, want))
		fail_msg("no \"%s\" in:\n%s", want, t.err);
	/* derp's user is not made without its group; the others still are */
	snprintf(want, sizeof(want), "user %s (%u): not created", derp->user, derp->uid);
	assert_non_null(strstr(t.err, want));
	snprintf(want, sizeof(want), "user %s (%u): would be created\n", PROCTAB_DERPER_USER,
		 PROCTAB_DERPER_UID);
	assert_non_null(strstr(t.out, want));
	tree_free(&t);
}

static void test_missing_database(void **state)
{
	struct tree t = {0};

	(void)state;
	assert_true(dry_run(&t, "root:x:0:0::/:/bin/sh\n", NULL) < 0);
	assert_non_null(strstr(t.err, "/etc/group"));
	assert_int_equal(t.outlen, 0);
	tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_from_table),	 cmocka_unit_test(test_plan_too_small),
		cmocka_unit_test(test_sysusers_file),	 cmocka_unit_test(test_dry_run_empty),
		cmocka_unit_test(test_dry_run_found),	 cmocka_unit_test(test_dry_run_conflicts),
		cmocka_unit_test(test_missing_database),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
