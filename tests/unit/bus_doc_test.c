/* bus_doc_test: docs/bus.md's topic table (under "## Topics") against the
 * code (issue 18 item 2): one row per topic of lib/bus_topics.c and no
 * other; each row's kind, owner (lib/bus_topics.c's owner, and for a topic
 * the rows own, the programs of lib/proctab.c that list it) and protobuf
 * type as the code has them. It reads the page as a Markdown table whose
 * columns it finds by their header, so the table's layout may change; the
 * key and "read by" columns are not checked (the code does not yet say
 * them in one place). The checker itself is tested on documents built from
 * the code with one cell changed, and on malformed documents (table rows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "bus_topics.h"
#include "proctab.h"

enum {
	DOC_MAX_BYTES = 1 << 20,   /* bus.md is ~16 KiB; more is not our page */
	DOC_MAX_CELLS = 16,	   /* per table row */
	DOC_MAX_CELL_BYTES = 512,  /* the longest cell of bus.md is ~110 */
	DOC_MAX_TOPICS = 64,	   /* as the broker's state cache's topics */
	DOC_MAX_OWNER_NAMES = 16,  /* names in one owner cell */
	DOC_MAX_NAME_BYTES = 64,   /* one name in an owner cell */
	DOC_MAX_OWNER_BYTES = 256, /* the code's owner, written out */
};

#define DOC_PATH    "docs/bus.md"
#define DOC_HEADING "## Topics"

enum col { COL_TOPIC, COL_KIND, COL_KEY, COL_OWNER, COL_TYPE, COL_N };
static const char *const col_names[COL_N] = {"topic", "kind", "key", "owner", "type"};

struct row {
	char cell[DOC_MAX_CELLS][DOC_MAX_CELL_BYTES];
	size_t n;
};

/* ---- reading Markdown ---- */

/* Copies s (len bytes) into out without backticks and surrounding blanks. */
static void clean(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		if (s[i] != '`')
			out[n++] = s[i];
	out[n] = 0;
}

/* A table row: "| a | b |" (the outer pipes optional, as GitHub's). A cell
 * holds no '|' (Markdown would need "\|"; bus.md has none). Returns -1 if
 * the line is no table row or has too many cells. */
static int split_row(const char *line, size_t len, struct row *r)
{
	const char *end = line + len;

	while (line < end && (*line == ' ' || *line == '\t'))
		line++;
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (line == end || *line != '|')
		return -1;
	line++;
	if (end > line && end[-1] == '|')
		end--;
	r->n = 0;
	for (;;) {
		const char *bar = memchr(line, '|', (size_t)(end - line));
		const char *stop = bar ? bar : end;
		if (r->n == DOC_MAX_CELLS)
			return -1;
		clean(line, (size_t)(stop - line), r->cell[r->n++], DOC_MAX_CELL_BYTES);
		if (!bar)
			return 0;
		line = bar + 1;
	}
}

/* "|---|:--:|": every cell dashes, with optional colons. */
static bool is_separator(const struct row *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const char *c = r->cell[i];
		if (*c == ':')
			c++;
		if (*c != '-')
			return false;
		while (*c == '-')
			c++;
		if (*c == ':')
			c++;
		if (*c)
			return false;
	}
	return r->n > 0;
}

/* The next line of text at *pos: its start and length; false at the end. */
static bool next_line(const char *text, size_t *pos, const char **line, size_t *len)
{
	const char *nl;

	if (!text[*pos])
		return false;
	*line = text + *pos;
	nl = strchr(*line, '\n');
	*len = nl ? (size_t)(nl - *line) : strlen(*line);
	*pos += *len + (nl ? 1 : 0);
	return true;
}

static bool is_heading(const char *line, size_t len, const char *heading)
{
	size_t n = strlen(heading);

	while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
		len--;
	return len == n && memcmp(line, heading, n) == 0;
}

/* "# x" or "## x": the end of the section "## Topics". */
static bool ends_section(const char *line, size_t len)
{
	return (len >= 2 && memcmp(line, "# ", 2) == 0) ||
	       (len >= 3 && memcmp(line, "## ", 3) == 0);
}

/* ---- the code's answers ---- */

static const char *kind_name(enum bus_topic_kind k)
{
	return k == BUS_TOPIC_STATE ? "state" : k == BUS_TOPIC_EVENT ? "event" : "invalid";
}

/* The owner as the table names it: "broker", "any component", or the
 * programs of the rows that list the topic (proctab order). Returns the
 * count of names. */
static size_t owner_expected(const struct bus_topic *t, const char *names[], size_t max)
{
	size_t n = 0, nprocs;
	const struct proc *procs = proctab_all(&nprocs);

	switch (t->owner) {
	case BUS_OWNER_BROKER:
		names[n++] = "broker";
		break;
	case BUS_OWNER_ANY:
		names[n++] = "any component";
		break;
	case BUS_OWNER_PROCTAB:
		for (size_t i = 0; i < nprocs && n < max; i++)
			if (proctab_publishes(&procs[i], t->name, t->kind == BUS_TOPIC_EVENT))
				names[n++] = procs[i].program;
		break;
	default:
		break;
	}
	return n;
}

static void join(const char *const names[], size_t n, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", names[i]);
	if (n == 0)
		snprintf(out, cap, "no one");
}

/* The names an owner cell gives: without notes in parentheses, split at
 * "," and " and ". "disco, derp (each its own key)" gives disco and derp. */
static size_t owner_names(const char *cell, char names[][DOC_MAX_NAME_BYTES], size_t max)
{
	char bare[DOC_MAX_CELL_BYTES];
	size_t len = 0, n = 0;
	int depth = 0;

	for (const char *c = cell; *c && len + 1 < sizeof(bare); c++) {
		if (*c == '(')
			depth++;
		else if (*c == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			bare[len++] = *c == ',' ? '\x1f' : *c;
	}
	bare[len] = 0;
	for (char *a = strstr(bare, " and "); a; a = strstr(a, " and ")) {
		memset(a, ' ', 5);
		a[2] = '\x1f';
	}
	for (char *tok = bare; tok && n < max;) {
		char *sep = strchr(tok, '\x1f');
		if (sep)
			*sep = 0;
		clean(tok, strlen(tok), names[n], DOC_MAX_NAME_BYTES);
		if (names[n][0])
			n++;
		tok = sep ? sep + 1 : 0;
	}
	return n;
}

static bool has_name(const char *const names[], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* ---- the check ---- */

struct check {
	FILE *out;	  /* the problems, one a line */
	const char *path; /* for messages */
	int problems;
};

static void problem(struct check *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct check *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (line)
		fprintf(c->out, "%s:%u: ", c->path, line);
	else
		fprintf(c->out, "%s: ", c->path);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	c->problems++;
}

static void check_owner(struct check *c, unsigned line, const struct bus_topic *t, const char *cell)
{
	const char *want[DOC_MAX_OWNER_NAMES];
	char got[DOC_MAX_OWNER_NAMES][DOC_MAX_NAME_BYTES], code[DOC_MAX_OWNER_BYTES];
	const char *gotp[DOC_MAX_OWNER_NAMES];
	size_t nwant = owner_expected(t, want, DOC_MAX_OWNER_NAMES);
	size_t ngot = owner_names(cell, got, DOC_MAX_OWNER_NAMES);
	bool same = nwant > 0;

	for (size_t i = 0; i < ngot; i++)
		gotp[i] = got[i];
	for (size_t i = 0; i < ngot && same; i++)
		same = has_name(want, nwant, got[i]);
	for (size_t i = 0; i < nwant && same; i++)
		same = has_name(gotp, ngot, want[i]);
	if (same)
		return;
	join(want, nwant, code, sizeof(code));
	problem(c, line, "%s: owner column says \"%s\", the code says \"%s\"", t->name, cell, code);
}

static void check_kind(struct check *c, unsigned line, const struct bus_topic *t, const char *cell)
{
	if (strcmp(cell, kind_name(t->kind)) != 0)
		problem(c, line, "%s: kind column says \"%s\", the code says \"%s\"", t->name, cell,
			kind_name(t->kind));
}

/* An event has none ("—"); a state topic is cached per key, so it names one. */
static void check_key(struct check *c, unsigned line, const struct bus_topic *t, const char *cell)
{
	bool none = !cell[0] || strcmp(cell, "—") == 0 || strcmp(cell, "-") == 0;

	if (t->kind == BUS_TOPIC_EVENT && !none)
		problem(c, line, "%s: key column says \"%s\", but an event has no key (write —)",
			t->name, cell);
	if (t->kind == BUS_TOPIC_STATE && none)
		problem(c, line, "%s: key column is empty, but a state topic is cached per key",
			t->name);
}

/* A column the header lacks has an index past the row's cells: it is not
 * checked (its absence was reported once). */
static void check_row(struct check *c, unsigned line, const struct row *r, const size_t col[],
		      unsigned seen[])
{
	size_t n;
	const struct bus_topic *all = bus_topic_all(&n);
	const char *name = r->cell[col[COL_TOPIC]];
	const struct bus_topic *t = bus_topic_find(name, strlen(name));

	if (!t) {
		problem(c, line, "topic column: \"%s\" is no topic of lib/bus_topics.c%s", name,
			strpbrk(name, ",/ ") ? " (one topic a row)" : "");
		return;
	}
	if (seen[t - all]) {
		problem(c, line, "%s: a second row (the first is line %u)", t->name, seen[t - all]);
		return;
	}
	seen[t - all] = line;
	if (col[COL_KIND] < r->n)
		check_kind(c, line, t, r->cell[col[COL_KIND]]);
	if (col[COL_KEY] < r->n)
		check_key(c, line, t, r->cell[col[COL_KEY]]);
	if (col[COL_OWNER] < r->n)
		check_owner(c, line, t, r->cell[col[COL_OWNER]]);
	if (col[COL_TYPE] < r->n && strcmp(r->cell[col[COL_TYPE]], t->desc->name) != 0)
		problem(c, line, "%s: type column says \"%s\", the code says \"%s\"", t->name,
			r->cell[col[COL_TYPE]], t->desc->name);
}

/* Finds the header of the table under DOC_HEADING; *pos is left after its
 * separator row. Returns false (with the problem written) if there is none. */
static bool find_table(struct check *c, const char *text, size_t *pos, unsigned *lineno,
		       struct row *head)
{
	const char *line;
	size_t len;
	bool in_section = false;
	struct row sep;

	while (next_line(text, pos, &line, &len)) {
		++*lineno;
		if (!in_section) {
			in_section = is_heading(line, len, DOC_HEADING);
			continue;
		}
		if (ends_section(line, len))
			break;
		if (split_row(line, len, head) < 0)
			continue;
		if (next_line(text, pos, &line, &len))
			++*lineno;
		else
			len = 0;
		if (split_row(line, len, &sep) < 0 || !is_separator(&sep)) {
			problem(c, *lineno,
				"the table under \"%s\" has no |---| row below its header",
				DOC_HEADING);
			return false;
		}
		return true;
	}
	if (!in_section)
		problem(c, 0, "no \"%s\" heading: where is the topic table?", DOC_HEADING);
	else
		problem(c, 0, "no table under \"%s\"", DOC_HEADING);
	return false;
}

/* Checks the topic table of the Markdown text against the code; writes each
 * problem to out as a line and returns their count. */
static int check_doc(const char *text, const char *path, FILE *out)
{
	struct check c = {out, path, 0};
	struct row *r = malloc(sizeof(*r));
	unsigned lineno = 0, seen[DOC_MAX_TOPICS] = {0};
	size_t pos = 0, ncols, col[COL_N], n;
	const struct bus_topic *all = bus_topic_all(&n);
	const char *line;
	size_t len;

	assert_non_null(r);
	assert_true(n <= DOC_MAX_TOPICS);
	if (!find_table(&c, text, &pos, &lineno, r))
		goto out;
	ncols = r->n;
	for (size_t k = 0; k < COL_N; k++) {
		col[k] = ncols;
		for (size_t i = 0; i < ncols; i++)
			if (strcasecmp(r->cell[i], col_names[k]) == 0)
				col[k] = i;
		if (col[k] == ncols)
			problem(&c, lineno - 1, "the topic table has no \"%s\" column",
				col_names[k]);
	}
	if (col[COL_TOPIC] == ncols)
		goto out; /* the other columns are checked without theirs */
	while (next_line(text, &pos, &line, &len)) {
		lineno++;
		if (split_row(line, len, r) < 0)
			break; /* the table ends at its first line that is no row */
		if (r->n != ncols) {
			problem(&c, lineno, "a row of %zu cells; the header has %zu", r->n, ncols);
			continue;
		}
		check_row(&c, lineno, r, col, seen);
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			problem(&c, 0,
				"%s: no row in the topic table (lib/bus_topics.c has it, kind %s)",
				all[i].name, kind_name(all[i].kind));
out:
	free(r);
	fflush(out);
	return c.problems;
}

/* Runs check_doc on text; *msgs gets its output (caller frees). */
static int check_text(const char *text, char **msgs)
{
	size_t len;
	FILE *out = open_memstream(msgs, &len);
	int n;

	assert_non_null(out);
	n = check_doc(text, DOC_PATH, out);
	fclose(out);
	return n;
}

/* ---- the real page ---- */

static char *read_doc(void)
{
	const char *dir = getenv("MSOCK_SOURCE_DIR");
	char path[4096];
	char *buf;
	size_t n;
	FILE *f;

	if (!dir || !*dir)
		fail_msg("MSOCK_SOURCE_DIR is not set: run this test through ctest, which sets it "
			 "to the source tree");
	snprintf(path, sizeof(path), "%s/%s", dir, DOC_PATH);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: cannot open it (is MSOCK_SOURCE_DIR the source tree?)", path);
	buf = malloc(DOC_MAX_BYTES + 1);
	assert_non_null(buf);
	n = fread(buf, 1, DOC_MAX_BYTES + 1, f);
	fclose(f);
	if (n > DOC_MAX_BYTES)
		fail_msg("%s: longer than %d bytes", path, DOC_MAX_BYTES);
	buf[n] = 0;
	return buf;
}

static void test_doc_matches_code(void **state)
{
	char *doc = read_doc(), *msgs = 0;
	int n;

	(void)state;
	n = check_text(doc, &msgs);
	/* One line a call: cmocka's messages have a short buffer. */
	for (char *l = msgs, *nl; n && l && *l; l = nl ? nl + 1 : 0) {
		nl = strchr(l, '\n');
		print_error("%.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
	}
	free(msgs);
	free(doc);
	if (n)
		fail_msg("%s: %d disagreement%s with lib/bus_topics.c and lib/proctab.c (above)",
			 DOC_PATH, n, n == 1 ? "" : "s");
}

/* ---- the checker, on documents built from the code ---- */

/* A page whose table is right, but for the cell `col` of `topic`'s row
 * (omit: no such row; value: that cell's text). Caller frees. */
static char *built_doc(const char *topic, enum col change, const char *value, bool omit)
{
	size_t n, len;
	const struct bus_topic *t = bus_topic_all(&n);
	char *buf;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fprintf(f, "# The bus\n\n" DOC_HEADING "\n\nText.\n\n"
		   "| topic | kind | key | owner | read by | type |\n|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const char *names[DOC_MAX_OWNER_NAMES];
		char owner[DOC_MAX_OWNER_BYTES], cells[COL_N][DOC_MAX_CELL_BYTES];
		bool hit = strcmp(t[i].name, topic) == 0;

		if (hit && omit)
			continue;
		join(names, owner_expected(&t[i], names, DOC_MAX_OWNER_NAMES), owner,
		     sizeof(owner));
		snprintf(cells[COL_TOPIC], DOC_MAX_CELL_BYTES, "`%s`", t[i].name);
		snprintf(cells[COL_KIND], DOC_MAX_CELL_BYTES, "%s", kind_name(t[i].kind));
		snprintf(cells[COL_KEY], DOC_MAX_CELL_BYTES, "%s",
			 t[i].kind == BUS_TOPIC_STATE ? "`self`" : "—");
		snprintf(cells[COL_OWNER], DOC_MAX_CELL_BYTES, "%s (a note)", owner);
		snprintf(cells[COL_TYPE], DOC_MAX_CELL_BYTES, "`%s`", t[i].desc->name);
		if (hit && value)
			snprintf(cells[change], DOC_MAX_CELL_BYTES, "%s", value);
		fprintf(f, "| %s | %s | %s | %s | someone | %s |\n", cells[COL_TOPIC],
			cells[COL_KIND], cells[COL_KEY], cells[COL_OWNER], cells[COL_TYPE]);
	}
	fprintf(f, "\nAfter the table.\n\n## Next\n\n| topic | x |\n|---|---|\n| `Nope` | y |\n");
	fclose(f);
	return buf;
}

static void test_built_doc_passes(void **state)
{
	char *doc = built_doc("", COL_TOPIC, 0, false), *msgs = 0;

	(void)state;
	if (check_text(doc, &msgs))
		fail_msg("a page built from the code fails:\n%s", msgs);
	free(msgs);
	free(doc);
}

/* One cell changed (or a row left out): the message names the topic and
 * the column. */
static const struct {
	const char *topic;
	enum col col;
	const char *value; /* NULL: the row is left out */
	const char *want;
} changes[] = {
	{"DERPMap", COL_TOPIC, 0, "DERPMap: no row in the topic table"},
	{"DERPMap", COL_KIND, "event",
	 "DERPMap: kind column says \"event\", the code says \"state\""},
	{"ReSTUN", COL_KIND, "`state`", "ReSTUN: kind column says \"state\""},
	{"DERPMap", COL_OWNER, "derp",
	 "DERPMap: owner column says \"derp\", the code says \"broker\""},
	{"SelfKeys", COL_OWNER, "disco",
	 "SelfKeys: owner column says \"disco\", the code says "
	 "\"disco, derp\""},
	{"SelfKeys", COL_OWNER, "disco, derp, netcheck", "SelfKeys: owner column"},
	{"SelfKeys", COL_OWNER, "derp and disco", 0},
	{"Health", COL_OWNER, "broker",
	 "Health: owner column says \"broker\", the code says "
	 "\"any component\""},
	{"Health", COL_OWNER, "any component (own keys)", 0},
	{"ReSTUN", COL_OWNER, "dataplane (and the broker, for msockctl)", 0},
	{"ReSTUN", COL_OWNER, "(dataplane)", "ReSTUN: owner column says \"(dataplane)\""},
	{"TestPong", COL_OWNER, "testcomp, broker", "TestPong: owner column"},
	{"DERPMap", COL_TYPE, "`msock.DERPRegionState`",
	 "DERPMap: type column says "
	 "\"msock.DERPRegionState\""},
	{"DERPMap", COL_KEY, "—", "DERPMap: key column is empty"},
	{"DERPMap", COL_KEY, "", "DERPMap: key column is empty"},
	{"PingRequest", COL_KEY, "node key", "PingRequest: key column says \"node key\""},
	{"DERPMap", COL_TOPIC, "`DERPMaps`", "topic column: \"DERPMaps\" is no topic"},
	{"Prefs", COL_TOPIC, "DERPMap", "DERPMap: a second row"},
};

static void test_changed_cell_fails(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char *doc = built_doc(changes[i].topic, changes[i].col, changes[i].value,
				      !changes[i].value);
		char *msgs = 0;
		int n = check_text(doc, &msgs);

		if (!changes[i].want && n)
			fail_msg("change %zu (%s's %s = \"%s\"): should pass, got:\n%s", i,
				 changes[i].topic, col_names[changes[i].col], changes[i].value,
				 msgs);
		if (changes[i].want && (n == 0 || !strstr(msgs, changes[i].want)))
			fail_msg("change %zu (%s's %s): want \"%s\", got %d problem(s):\n%s", i,
				 changes[i].topic, col_names[changes[i].col], changes[i].want, n,
				 msgs);
		free(msgs);
		free(doc);
	}
}

/* ---- malformed pages ---- */

#define HEAD "| topic | kind | key | owner | type |\n"
#define SEP  "|---|---|---|---|---|\n"

static const struct {
	const char *doc;
	const char *want;
} malformed[] = {
	{"", "docs/bus.md: no \"## Topics\" heading"},
	{"# The bus\n\n## Sockets\n\n" HEAD SEP, "no \"## Topics\" heading"},
	{"### Topics\n\n" HEAD SEP, "no \"## Topics\" heading"},
	{"## Topics\n\nNo table here.\n", "no table under \"## Topics\""},
	{"## Topics\n\nText.\n\n## Next\n\n" HEAD SEP, "no table under \"## Topics\""},
	{"## Topics\n" HEAD, "docs/bus.md:2: the table under \"## Topics\" has no |---| row"},
	{"## Topics\n" HEAD "| DERPMap | state | x | broker | msock.DERPMap |\n",
	 "has no |---| row"},
	{"## Topics\n| topic | kind | key | type |\n|---|---|---|---|\n",
	 "docs/bus.md:2: the topic table has no \"owner\" column"},
	{"## Topics\n| a | b |\n|---|---|\n", "has no \"topic\" column"},
	{"## Topics\n" HEAD SEP "| `DERPMap` | state | x | broker |\n",
	 "docs/bus.md:4: a row of 4 cells; the header has 5"},
	{"## Topics\n" HEAD SEP "| `DERPMap` | state | x | broker | msock.DERPMap | y |\n",
	 "a row of 6 cells"},
	{"## Topics\n| topic | kind |\n|---|---|\n| DERPMap | event |\n",
	 "DERPMap: kind column says \"event\""},
	{"## Topics\n" HEAD SEP "| DERPMap, Prefs | state | x | broker | msock.DERPMap |\n",
	 "\"DERPMap, Prefs\" is no topic of lib/bus_topics.c (one topic a row)"},
	{"## Topics\n" HEAD SEP, "NodeViewsUpdate: no row in the topic table"},
	{"## Topics\n" HEAD SEP "| `Nope` | state | x | broker | msock.Nope |\n",
	 "docs/bus.md:4: topic column: \"Nope\" is no topic"},
	{"## Topics\n" HEAD SEP "| DERPMap | state | x | broker | msock.DERPMap |\n"
	 "| DERPMap | state | x | broker | msock.DERPMap |\n",
	 "docs/bus.md:5: DERPMap: a second row (the first is line 4)"},
};

static void test_malformed_doc_fails(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		char *msgs = 0;
		int n = check_text(malformed[i].doc, &msgs);

		if (n == 0 || !strstr(msgs, malformed[i].want))
			fail_msg("malformed %zu: want \"%s\", got %d problem(s):\n%s", i,
				 malformed[i].want, n, msgs);
		free(msgs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_built_doc_passes),
		cmocka_unit_test(test_changed_cell_fails),
		cmocka_unit_test(test_malformed_doc_fails),
		cmocka_unit_test(test_doc_matches_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
