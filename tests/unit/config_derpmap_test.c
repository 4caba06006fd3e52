/* config_derpmap_test: the derp_map field in Tailscale's tailcfg.DERPMap
 * JSON (tailcfg/derpmap.go): Go's key matching, a map in its own file, and
 * every malformed region or node (rows of bad_rows, or a test where code
 * builds the map), checking the exact message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_expect.h"

static void test_derp_map_keys_ignore_case_and_unknowns(void **state)
{
	(void)state;
	/* As Go's encoding/json: case-insensitive names, unknown ones ignored. */
	struct msock_config *c = parse_ok(
		"{\"derp_map\": {\"HomeParams\": {\"RegionScore\": {\"1\": 2.0}}, "
		"\"OmitDefaultRegions\": true, \"regions\": {\"7\": {\"regionid\": 7, \"nodes\": "
		"[{\"hostname\": \"h\", \"RegionID\": 7, \"Future\": [1]}], \"Latitude\": 3}}}}",
		"msock.json");

	assert_true(c->derp_map.omit_default_regions);
	assert_int_equal(c->derp_map.n_regions, 1);
	assert_int_equal(c->derp_map.regions[0].region_id, 7);
	assert_string_equal(c->derp_map.regions[0].nodes[0].host_name, "h");
	config_free(c);
}

static const char derp_file[] =
	"{\"Regions\": {\"900\": {\"RegionID\": 900, \"RegionCode\": \"lab\",\n"
	"  \"Nodes\": [{\"Name\": \"900a\", \"RegionID\": 900,\n"
	"    \"HostName\": \"derp.lab.test\", \"DERPPort\": 3340}]}}}\n";

static void test_derp_map_file(void **state)
{
	struct tmp *t = *state;
	char cfg_path[256], derp_path[256], real[PATH_MAX], want[PATH_MAX + 64];
	struct cfg_diag d;
	struct msock_config *c;

	tmp_file(t, "derp.json", derp_file, derp_path, sizeof(derp_path));
	tmp_file(t, "msock.json",
		 "{\"derp_map\": \"derp.json\", \"home_derp\": 900, \"state_dir\": \"st\"}",
		 cfg_path, sizeof(cfg_path));
	c = config_load(cfg_path, &d);
	assert_int_equal(d.n_errors, 0);
	assert_non_null(c);
	assert_string_equal(c->path, cfg_path);
	assert_int_equal(c->derp_map.n_regions, 1);
	assert_int_equal(c->derp_map.regions[0].region_id, 900);
	assert_string_equal(c->derp_map.regions[0].nodes[0].host_name, "derp.lab.test");
	assert_int_equal(c->derp_map.regions[0].nodes[0].derp_port, 3340);
	assert_int_equal(c->home_derp, 900);
	/* config_load makes relative paths absolute. */
	assert_non_null(realpath(t->dir, real));
	snprintf(want, sizeof(want), "%s/st", real);
	assert_string_equal(c->state_dir, want);
	config_free(c);
	cfg_diag_free(&d);
}

static void test_derp_map_file_errors_name_it(void **state)
{
	struct tmp *t = *state;
	char cfg_path[256], derp_path[256], real[PATH_MAX], want[3][PATH_MAX + 160];
	struct cfg_diag d;
	struct msock_config *c;

	tmp_file(t, "derp.json",
		 "{\"Regions\": {\"900\": {\"RegionID\": 900,\n"
		 "  \"Nodes\": [{\"RegionID\": 900, \"HostName\": \"h\", \"IPv4\": "
		 "\"300.1.1.1\"}]}}}\n",
		 derp_path, sizeof(derp_path));
	tmp_file(t, "msock.json", "{\"user\": \"Bad\",\n \"derp_map\": \"derp.json\",\n \"x\": 1}",
		 cfg_path, sizeof(cfg_path));
	assert_non_null(realpath(t->dir, real));
	snprintf(want[0], sizeof(want[0]),
		 "%s:1:10: user: expected a user name matching "
		 "[a-z_][a-z0-9_-]* of at most 32 characters",
		 cfg_path);
	snprintf(want[1], sizeof(want[1]),
		 "%s/derp.json:2:56: Regions.900.Nodes[0].IPv4: "
		 "expected an IPv4 address such as 192.0.2.1, \"none\" or \"\"",
		 real);
	snprintf(want[2], sizeof(want[2]), "%s:3:2: x: unknown field", cfg_path);
	c = config_load(cfg_path, &d);
	check_errors(c, &d, (const char *const[]){want[0], want[1], want[2]}, 3);
}

static void test_derp_map_file_syntax_error(void **state)
{
	struct tmp *t = *state;
	char cfg_path[256], derp_path[256], want[PATH_MAX + 160];
	struct cfg_diag d;

	tmp_file(t, "derp.json", "{\"Regions\": {\n  \"900\": }\n}\n", derp_path,
		 sizeof(derp_path));
	tmp_file(t, "msock.json", "{\"derp_map\": \"derp.json\"}", cfg_path, sizeof(cfg_path));
	snprintf(want, sizeof(want), "%s:2:10: unexpected token near '}'", derp_path);
	check_errors(config_load(cfg_path, &d), &d, (const char *const[]){want}, 1);
}

static void test_derp_map_file_missing(void **state)
{
	(void)state;
	expect_error(
		"{\n  \"derp_map\": \"/nonexistent/derp.json\"\n}",
		"msock.json:2:15: derp_map: /nonexistent/derp.json: No such file or directory");
}

#define REGION_HEAD "{\"derp_map\": {\"Regions\": {\n"

/* Malformed DERP maps written out whole: one row each, {name, text, every
 * message in order}. */
static const struct {
	const char *name;
	const char *text;
	const char *errors[CFG_ROW_MAX_ERRORS + 1]; /* NULL-terminated */
} bad_rows[] = {
	{"region key mismatch",
	 REGION_HEAD "  \"900\": {\"RegionID\": 901}}}}",
	 {"msock.json:2:23: derp_map.Regions.900.RegionID: RegionID 901 does not "
	  "match its key \"900\" in Regions"}},
	{"region id missing",
	 REGION_HEAD "  \"0900\": {\"RegionCode\": \"x\"}}}}",
	 {"msock.json:2:11: derp_map.Regions.0900.RegionID: missing; it must "
	  "equal the region's key \"0900\""}},
	{"region id not positive",
	 REGION_HEAD "  \"-1\": {\"RegionID\": -1}}}}",
	 {"msock.json:2:22: derp_map.Regions.-1.RegionID: expected an integer "
	  "from 1 to 2147483647, got -1"}},
	{"node region mismatch",
	 REGION_HEAD "  \"900\": {\"RegionID\": 900, \"Nodes\": [\n"
		     "    {\"HostName\": \"h\", \"RegionID\": 901},\n"
		     "    {\"HostName\": \"h\"}]}}}}",
	 {("msock.json:3:35: derp_map.Regions.900.Nodes[0].RegionID: 901 does not match its "
	   "region's RegionID 900"),
	  ("msock.json:4:5: derp_map.Regions.900.Nodes[1].RegionID: missing; it must be its "
	   "region's RegionID (900)")}},
	{"node host name missing",
	 REGION_HEAD "  \"9\": {\"RegionID\": 9, \"Nodes\": [{\"RegionID\": 9, \"HostName\": "
		     "\"\"}]}}}}",
	 {"msock.json:2:62: derp_map.Regions.9.Nodes[0].HostName: required: the "
	  "DERP node's host name"}},
	/* One message each: a field set to the wrong type is not also missing. */
	{"node field wrong types",
	 REGION_HEAD
	 "  \"9\": {\"RegionID\": 9, \"Nodes\": [{\"RegionID\": \"9\", \"HostName\": 1,\n"
	 "    \"STUNOnly\": \"yes\"}]}}}}",
	 {("msock.json:2:47: derp_map.Regions.9.Nodes[0].RegionID: "
	   "expected an integer, got a string"),
	  ("msock.json:2:64: derp_map.Regions.9.Nodes[0].HostName: expected a string, got an "
	   "integer"),
	  ("msock.json:3:17: derp_map.Regions.9.Nodes[0].STUNOnly: "
	   "expected true or false, got a string")}},
	{"bad ipv4 literal",
	 REGION_HEAD
	 "  \"9\": {\"RegionID\": 9, \"Nodes\": [{\"RegionID\": 9, \"HostName\": \"h\",\n"
	 "    \"IPv4\": \"2001:db8::1\", \"IPv6\": \"192.0.2.1\", \"STUNTestIP\": "
	 "\"x\"}]}}}}",
	 {("msock.json:3:13: derp_map.Regions.9.Nodes[0].IPv4: expected an IPv4 address such "
	   "as 192.0.2.1, \"none\" or \"\""),
	  ("msock.json:3:36: derp_map.Regions.9.Nodes[0].IPv6: expected an IPv6 address such "
	   "as 2001:db8::1, \"none\" or \"\""),
	  ("msock.json:3:63: derp_map.Regions.9.Nodes[0].STUNTestIP: expected an IP address "
	   "such as 192.0.2.1 or \"\"")}},
	{"derp map wrong containers",
	 "{\"derp_map\": {\n"
	 "  \"Regions\": [],\n"
	 "  \"omitDefaultRegions\": \"yes\"}}",
	 {("msock.json:2:14: derp_map.Regions: expected an object of regions by RegionID, "
	   "got "
	   "an array"),
	  ("msock.json:3:25: derp_map.omitDefaultRegions: expected true or false, got a "
	   "string")}},
	{"region and node not objects",
	 REGION_HEAD "  \"1\": 5,\n"
		     "  \"2\": {\"RegionID\": 2, \"Nodes\": {}},\n"
		     "  \"3\": {\"RegionID\": 3, \"Nodes\": [null]}}}}",
	 {"msock.json:2:8: derp_map.Regions.1: expected a region object, got an integer",
	  ("msock.json:3:33: derp_map.Regions.2.Nodes: expected an array of nodes, got an "
	   "object"),
	  "msock.json:4:34: derp_map.Regions.3.Nodes[0]: expected a node object, got null"}},
};

static void test_bad_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++)
		expect_row(bad_rows[i].name, bad_rows[i].text, bad_rows[i].errors);
}

static void test_too_many_nodes(void **state)
{
	(void)state;
	char text[8192];
	int n = snprintf(text, sizeof(text), "%s  \"1\": {\"RegionID\": 1, \"Nodes\": [",
			 REGION_HEAD);

	for (int i = 0; i <= CFG_MAX_NODES_PER_REGION; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "%s{\"RegionID\": 1, \"HostName\": \"h\"}", i ? "," : "");
	snprintf(text + n, sizeof(text) - (size_t)n, "]}}}}");
	expect_error(text, "msock.json:2:33: derp_map.Regions.1.Nodes: 65 nodes; at most 64");
}

static void test_null_fields_are_zero(void **state)
{
	(void)state;
	/* As in Go, null leaves a field unset; Nodes: null is no nodes. */
	struct msock_config *c = parse_ok(
		"{\"derp_map\": {\"Regions\": {\"4\": {\"RegionID\": 4, \"RegionCode\": null,"
		" \"Nodes\": null}, \"5\": {\"RegionID\": 5, \"Nodes\": [{\"RegionID\": 5,"
		" \"HostName\": \"h\", \"IPv4\": null, \"DERPPort\": null}]}},"
		" \"omitDefaultRegions\": null}}",
		"msock.json");

	assert_int_equal(c->derp_map.n_regions, 2);
	assert_int_equal(c->derp_map.regions[0].n_nodes, 0);
	assert_string_equal(c->derp_map.regions[0].region_code, "");
	assert_int_equal(c->derp_map.regions[1].nodes[0].derp_port, 0);
	assert_false(c->derp_map.omit_default_regions);
	config_free(c);
}

/* HomeParams.RegionScore (tailcfg.DERPHomeParams): each region's score,
 * before or after Regions, keys and names matched as Go matches them; a
 * score for a region the map lacks is ignored, as Tailscale looks scores up
 * by the regions it measured. */
static void test_home_params_region_score(void **state)
{
	(void)state;
	struct msock_config *c = parse_ok(
		"{\"derp_map\": {\"HomeParams\": {\"RegionScore\": {\"902\": 1000, \"900\": 0.5,"
		" \"77\": 2, \"903\": null}}, \"Regions\": {\"900\": {\"RegionID\": 900},"
		" \"902\": {\"RegionID\": 902}, \"903\": {\"RegionID\": 903},"
		" \"904\": {\"RegionID\": 904}}}}",
		"msock.json");

	assert_int_equal(c->derp_map.n_regions, 4);
	assert_true(c->derp_map.regions[0].home_score == 0.5);
	assert_true(c->derp_map.regions[1].home_score == 1000);
	assert_true(c->derp_map.regions[2].home_score == 0); /* null: Go's zero, ignored */
	assert_true(c->derp_map.regions[3].home_score == 0); /* none: scores 1 */
	config_free(c);

	c = parse_ok("{\"derp_map\": {\"regions\": {\"7\": {\"RegionID\": 7}},"
		     " \"homeparams\": {\"regionscore\": {\"7\": 3.25}}}}",
		     "msock.json");
	assert_true(c->derp_map.regions[0].home_score == 3.25);
	config_free(c);
}

static void test_home_params_malformed(void **state)
{
	(void)state;
	static const char *const want[] = {
		("msock.json:3:5: derp_map.HomeParams.RegionScore.x: expected a RegionID (an "
		 "integer) as the key"),
		("msock.json:3:18: derp_map.HomeParams.RegionScore.9: expected a number, got a "
		 "string"),
	};
	expect_errors("{\"derp_map\": {\"Regions\": {\"9\": {\"RegionID\": 9}},\n"
		      "  \"HomeParams\": {\"RegionScore\": {\n"
		      "    \"x\": 1, \"9\": \"2\"}}}}",
		      want, 2);
	expect_error(
		"{\"derp_map\": {\"HomeParams\": []}}",
		"msock.json:1:29: derp_map.HomeParams: expected an object (DERPHomeParams), got "
		"an array");
	expect_error(
		"{\"derp_map\": {\"HomeParams\": {\"RegionScore\": 1}}}",
		"msock.json:1:45: derp_map.HomeParams.RegionScore: expected an object of scores "
		"by RegionID, got an integer");
}

#define T(f)  cmocka_unit_test(f)
#define TF(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_derp_map_keys_ignore_case_and_unknowns),
		T(test_home_params_region_score),
		T(test_home_params_malformed),
		TF(test_derp_map_file),
		TF(test_derp_map_file_errors_name_it),
		TF(test_derp_map_file_syntax_error),
		T(test_derp_map_file_missing),
		T(test_bad_rows),
		T(test_too_many_nodes),
		T(test_null_fields_are_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
