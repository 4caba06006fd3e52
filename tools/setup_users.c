/* setup_users: msockctl setup-users (setup_users.h). Each entry is looked
 * up first (NSS, or fgetpwent/fgetgrent on a root's files) and made only
 * if missing, so a second run changes nothing; the shadow tools run as
 * children from an argv array, never through a shell. */
#include "setup_users.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proctab.h"

/* What every msock account gets: it never logs in and has no home. */
#define SU_HOME	 "/nonexistent"
#define SU_SHELL "/usr/sbin/nologin"
#define SU_ERR	 "msockctl setup-users: "

enum {
	SU_PATH_MAX = 4096,
	SU_ID_TEXT_MAX = 24, /* "SYS_UID_MAX=" and a 10-digit number */
	SU_MAX_ARGS = 24,
	SU_EXIT_NOT_RUN = 127, /* the shell's status for a command that could not run */
};

static int add(struct su_entry *out, size_t cap, size_t *n, enum su_kind kind, const char *name,
	       const char *group, unsigned id, const char *gecos)
{
	struct su_entry *e;

	if (*n >= cap)
		return -ENOSPC;
	e = &out[(*n)++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->id = id;
	e->gid = id; /* a user's primary group has its name and number */
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->group, sizeof(e->group), "%s", group ? group : "");
	snprintf(e->gecos, sizeof(e->gecos), "%s", gecos ? gecos : "");
	return 0;
}

int su_plan(struct su_entry *out, size_t cap)
{
	size_t nrows, n = 0;
	const struct proc *rows = proctab_all(&nrows);
	char ch[SU_NAME_MAX], gecos[SU_GECOS_MAX];
	int rc;

	rc = add(out, cap, &n, SU_GROUP, PROCTAB_GROUP, 0, PROCTAB_GROUP_GID, 0);
	for (size_t i = 0; i < nrows && rc == 0; i++) {
		if (!rows[i].user)
			continue;
		rc = add(out, cap, &n, SU_GROUP, rows[i].user, 0, rows[i].uid, 0);
		if (rc == 0 && proctab_ch_group(&rows[i], ch, sizeof(ch)) == 0)
			rc = rows[i].ch_gid ? add(out, cap, &n, SU_GROUP, ch, 0, rows[i].ch_gid, 0)
					    : -EINVAL;
	}
	if (rc == 0)
		rc = add(out, cap, &n, SU_GROUP, PROCTAB_DERPER_USER, 0, PROCTAB_DERPER_UID, 0);
	for (size_t i = 0; i < nrows && rc == 0; i++) {
		if (!rows[i].user)
			continue;
		snprintf(gecos, sizeof(gecos), "msock %s", rows[i].program);
		rc = add(out, cap, &n, SU_USER, rows[i].user, rows[i].user, rows[i].uid, gecos);
	}
	if (rc == 0)
		rc = add(out, cap, &n, SU_USER, PROCTAB_DERPER_USER, PROCTAB_DERPER_USER,
			 PROCTAB_DERPER_UID, "msock derper");
	/* Group msock reaches the bus; the channel group its channel. The
	 * dataplane owns the channel directories and needs no channel group;
	 * msock-derper is no node's component and is in neither. */
	for (size_t i = 0; i < nrows && rc == 0; i++) {
		if (!rows[i].user)
			continue;
		rc = add(out, cap, &n, SU_MEMBER, rows[i].user, PROCTAB_GROUP, 0, 0);
		if (rc == 0 && proctab_ch_group(&rows[i], ch, sizeof(ch)) == 0)
			rc = add(out, cap, &n, SU_MEMBER, rows[i].user, ch, 0, 0);
	}
	return rc < 0 ? rc : (int)n;
}

int su_write_sysusers(FILE *f)
{
	struct su_entry e[SU_MAX_ENTRIES];
	int n = su_plan(e, SU_MAX_ENTRIES);

	if (n < 0)
		return n;
	fprintf(f, "# msock's users and groups (sysusers.d(5)), generated from lib/proctab.c by\n"
		   "# `msockctl setup-users --print-sysusers`: change the table, not this file.\n"
		   "# Each component's user has a group of its own name and number and is in\n"
		   "# group " PROCTAB_GROUP " (the bus); each packet channel's group holds its "
		   "component.\n");
	for (int i = 0; i < n; i++) {
		if (i == 0 || e[i].kind != e[i - 1].kind)
			fprintf(f, "\n");
		if (e[i].kind == SU_GROUP)
			fprintf(f, "g %s %u\n", e[i].name, e[i].id);
		else if (e[i].kind == SU_USER)
			fprintf(f, "u %s %u:%u \"%s\" " SU_HOME " " SU_SHELL "\n", e[i].name,
				e[i].id, e[i].gid, e[i].gecos);
		else
			fprintf(f, "m %s %s\n", e[i].name, e[i].group);
	}
	return ferror(f) ? -EIO : 0;
}

/* What a lookup found. */
struct found {
	bool found;
	unsigned id;  /* gid of a group, uid of a user */
	unsigned gid; /* a user's primary group */
	bool member;  /* a group lists the user asked about */
	char name[SU_NAME_MAX];
};

static FILE *open_db(const struct su_opts *o, const char *file, FILE *err)
{
	char path[SU_PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc/%s", o->root, file);
	f = fopen(path, "re");
	if (!f)
		fprintf(err, SU_ERR "cannot read %s: %s\n", path, strerror(errno));
	return f;
}

static void take_group(const struct group *g, const char *member, struct found *f)
{
	f->found = true;
	f->id = g->gr_gid;
	snprintf(f->name, sizeof(f->name), "%s", g->gr_name);
	for (char **m = g->gr_mem; member && m && *m; m++)
		f->member |= strcmp(*m, member) == 0;
}

/* The group called name, or (name NULL) the one of gid id; with member, is
 * that user listed in it. -errno if the root's file cannot be read. */
static int find_group(const struct su_opts *o, const char *name, unsigned id, const char *member,
		      struct found *f, FILE *err)
{
	struct group *g;
	FILE *db;

	memset(f, 0, sizeof(*f));
	if (!o->root) {
		g = name ? getgrnam(name) : getgrgid(id);
		if (g)
			take_group(g, member, f);
		return 0;
	}
	if (!(db = open_db(o, "group", err)))
		return -EIO;
	while ((g = fgetgrent(db)))
		if (name ? strcmp(g->gr_name, name) == 0 : g->gr_gid == id) {
			take_group(g, member, f);
			break;
		}
	fclose(db);
	return 0;
}

static void take_user(const struct passwd *p, struct found *f)
{
	f->found = true;
	f->id = p->pw_uid;
	f->gid = p->pw_gid;
	snprintf(f->name, sizeof(f->name), "%s", p->pw_name);
}

/* The user called name, or (name NULL) the one of uid id. */
static int find_user(const struct su_opts *o, const char *name, unsigned id, struct found *f,
		     FILE *err)
{
	struct passwd *p;
	FILE *db;

	memset(f, 0, sizeof(*f));
	if (!o->root) {
		p = name ? getpwnam(name) : getpwuid(id);
		if (p)
			take_user(p, f);
		return 0;
	}
	if (!(db = open_db(o, "passwd", err)))
		return -EIO;
	while ((p = fgetpwent(db)))
		if (name ? strcmp(p->pw_name, name) == 0 : p->pw_uid == id) {
			take_user(p, f);
			break;
		}
	fclose(db);
	return 0;
}

/* Runs argv (NULL-terminated; --prefix ROOT appended when a root is given)
 * and waits for it. Its stderr is ours, so its own message reaches the
 * person. 0, or -1 said on err. */
static int run(const struct su_opts *o, const char **argv, FILE *err)
{
	const char *args[SU_MAX_ARGS], *what;
	size_t n = 0;
	pid_t pid;
	int st;

	while (argv[n] && n < SU_MAX_ARGS - 3) {
		args[n] = argv[n];
		n++;
	}
	what = n ? args[n - 1] : ""; /* the group's or user's name, last */
	if (o->root) {
		args[n++] = "--prefix";
		args[n++] = o->root;
	}
	args[n] = 0;
	fflush(0);
	pid = fork();
	if (pid < 0) {
		fprintf(err, SU_ERR "fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* execvp's argv is char *const[]; the strings are not written. */
		execvp(args[0], (char *const *)args);
		fprintf(stderr, SU_ERR "cannot run %s: %s\n", args[0], strerror(errno));
		_exit(SU_EXIT_NOT_RUN);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			fprintf(err, SU_ERR "waitpid: %s\n", strerror(errno));
			return -1;
		}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		fprintf(err, SU_ERR "%s %s failed (exit status %d)\n", args[0], what,
			WEXITSTATUS(st));
	else
		fprintf(err, SU_ERR "%s %s killed by signal %d\n", args[0], what,
			WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -1;
}

/* Each returns 1 if the entry is there as wanted (or, dry, would be made),
 * 0 if it is not (said on err), -errno if nothing more can be looked up. */

static int do_group(const struct su_opts *o, const struct su_entry *e, FILE *out, FILE *err)
{
	char gid[SU_ID_TEXT_MAX];
	struct found f, other;
	int rc;

	if ((rc = find_group(o, e->name, 0, 0, &f, err)) < 0 ||
	    (rc = find_group(o, 0, e->id, 0, &other, err)) < 0)
		return rc;
	if (f.found && f.id == e->id) {
		fprintf(out, "group %s (%u): exists\n", e->name, e->id);
		return 1;
	}
	if (f.found) {
		fprintf(err, SU_ERR "group %s: expected gid %u, found gid %u; left unchanged\n",
			e->name, e->id, f.id);
		return 0;
	}
	if (other.found) {
		fprintf(err, SU_ERR "group %s (%u): gid %u is group %s's; not created\n", e->name,
			e->id, e->id, other.name);
		return 0;
	}
	if (o->dry_run) {
		fprintf(out, "group %s (%u): would be created\n", e->name, e->id);
		return 1;
	}
	snprintf(gid, sizeof(gid), "%u", e->id);
	if (run(o, (const char *[]){"groupadd", "--system", "--gid", gid, e->name, 0}, err) < 0)
		return 0;
	fprintf(out, "group %s (%u): created\n", e->name, e->id);
	return 1;
}

static int do_user(const struct su_opts *o, const struct su_entry *e, bool group_ok, FILE *out,
		   FILE *err)
{
	char uid[SU_ID_TEXT_MAX], gid[SU_ID_TEXT_MAX], max[SU_ID_TEXT_MAX];
	struct found f, other;
	int rc;

	if ((rc = find_user(o, e->name, 0, &f, err)) < 0 ||
	    (rc = find_user(o, 0, e->id, &other, err)) < 0)
		return rc;
	if (f.found && f.id == e->id && f.gid == e->gid) {
		fprintf(out, "user %s (%u): exists\n", e->name, e->id);
		return 1;
	}
	if (f.found && f.id != e->id) {
		fprintf(err, SU_ERR "user %s: expected uid %u, found uid %u; left unchanged\n",
			e->name, e->id, f.id);
		return 0;
	}
	if (f.found) {
		fprintf(err,
			SU_ERR "user %s (%u): expected primary gid %u, found gid %u; left "
			       "unchanged\n",
			e->name, e->id, e->gid, f.gid);
		return 0;
	}
	if (other.found) {
		fprintf(err, SU_ERR "user %s (%u): uid %u is user %s's; not created\n", e->name,
			e->id, e->id, other.name);
		return 0;
	}
	if (!group_ok) {
		fprintf(err,
			SU_ERR "user %s (%u): not created: its group %s is not there with "
			       "gid %u\n",
			e->name, e->id, e->group, e->gid);
		return 0;
	}
	if (o->dry_run) {
		fprintf(out, "user %s (%u): would be created\n", e->name, e->id);
		return 1;
	}
	snprintf(uid, sizeof(uid), "%u", e->id);
	snprintf(gid, sizeof(gid), "%u", e->gid);
	/* -K SYS_UID_MAX: our fixed uids lie above Debian's system range
	 * (999), on purpose, the same on every host; said so, useradd does
	 * not warn. --no-log-init: no lastlog record for an account that
	 * never logs in. */
	snprintf(max, sizeof(max), "SYS_UID_MAX=%u", e->id);
	if (run(o,
		(const char *[]){"useradd", "--system", "--uid", uid, "--gid", gid,
				 "--no-user-group", "--no-create-home", "--home-dir", SU_HOME,
				 "--shell", SU_SHELL, "--comment", e->gecos, "--no-log-init", "-K",
				 max, e->name, 0},
		err) < 0)
		return 0;
	fprintf(out, "user %s (%u): created\n", e->name, e->id);
	return 1;
}

static int do_member(const struct su_opts *o, const struct su_entry *e, bool deps_ok, FILE *out,
		     FILE *err)
{
	struct found f;
	int rc;

	if (!deps_ok) {
		fprintf(err,
			SU_ERR "user %s: not added to %s: the user or the group is not as "
			       "expected\n",
			e->name, e->group);
		return 0;
	}
	if ((rc = find_group(o, e->group, 0, e->name, &f, err)) < 0)
		return rc;
	if (f.member) {
		fprintf(out, "user %s: member of %s: exists\n", e->name, e->group);
		return 1;
	}
	if (o->dry_run) {
		fprintf(out, "user %s: would be added to %s\n", e->name, e->group);
		return 1;
	}
	if (run(o, (const char *[]){"usermod", "--append", "--groups", e->group, e->name, 0}, err) <
	    0)
		return 0;
	fprintf(out, "user %s: added to %s\n", e->name, e->group);
	return 1;
}

/* Was the entry of kind and name found (or made) as wanted? */
static bool entry_ok(const struct su_entry *e, const int *ok, int n, enum su_kind kind,
		     const char *name)
{
	for (int i = 0; i < n; i++)
		if (e[i].kind == kind && strcmp(e[i].name, name) == 0)
			return ok[i] > 0;
	return false;
}

/* Root may write anywhere; anyone else only under a root they can write. */
static int may_write(const struct su_opts *o, FILE *err)
{
	char etc[SU_PATH_MAX];

	if (o->dry_run || geteuid() == 0)
		return 0;
	if (o->root) {
		snprintf(etc, sizeof(etc), "%s/etc", o->root);
		if (access(etc, W_OK) == 0)
			return 0;
		fprintf(err, SU_ERR "cannot write %s: %s (run it as root, or with --dry-run)\n",
			etc, strerror(errno));
		return -EPERM;
	}
	fprintf(err, SU_ERR "must run as root to change this host's users and groups "
			    "(--dry-run shows what it would do; --root DIR works on a copy)\n");
	return -EPERM;
}

int su_apply(const struct su_opts *o, FILE *out, FILE *err)
{
	struct su_entry e[SU_MAX_ENTRIES];
	int ok[SU_MAX_ENTRIES], n, errors = 0, rc;

	if ((rc = may_write(o, err)) < 0)
		return rc;
	n = su_plan(e, SU_MAX_ENTRIES);
	if (n < 0) {
		fprintf(err, SU_ERR "the process table: %s\n", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		switch (e[i].kind) {
		case SU_GROUP:
			ok[i] = do_group(o, &e[i], out, err);
			break;
		case SU_USER:
			ok[i] = do_user(o, &e[i], entry_ok(e, ok, i, SU_GROUP, e[i].group), out,
					err);
			break;
		case SU_MEMBER:
			ok[i] = do_member(o, &e[i],
					  entry_ok(e, ok, i, SU_USER, e[i].name) &&
						  entry_ok(e, ok, i, SU_GROUP, e[i].group),
					  out, err);
			break;
		default:
			abort();
		}
		if (ok[i] < 0)
			return ok[i];
		errors += ok[i] == 0;
	}
	return errors;
}
