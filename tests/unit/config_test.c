/* config_test: a full config with every field, defaults, the example
 * config, and every malformed case (a table row, or a test where code builds
 * the config) checking the exact message: file,
 * line:column, field path, what was wrong. The DERP map's own cases are in
 * config_derpmap_test.c. */
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

/* Keys made with key_generate for these tests. */
#define NK1	"nodekey:5c5a47849c7d39d92a6554e6102a6ac4023ed386a4dee48b5971e135a0ceb977"
#define NK2_B64 "X0LkA/981z1Iu6KucT2R/ytf9UyY7TsoUnnA5ZbZERc="
#define NK2	"nodekey:5f42e403ff7cd73d48bba2ae713d91ff2b5ff54c98ed3b285279c0e596d91117"
#define DK1	"discokey:08b024188dc04807cd5b8055c338871343a4cc43c156b2efc6377cf5cec6585c"
#define DK2	"discokey:3c9f75c937e6a2607b7cf0a64bebd73d38ed25efca990d7afd624d6a6fb07818"

static char *key_text(enum key_kind kind, const struct key32 *k)
{
	static char buf[KEY_TEXT_MAX];

	key_format(kind, k, buf, sizeof(buf));
	return buf;
}

static const char full[] =
	"{\n"
	"  \"private_key_file\": \"keys/node.key\",\n"
	"  \"disco_key_file\": \"/var/lib/msock/disco.key\",\n"
	"  \"derp_ca_file\": \"ca.pem\",\n"
	"  \"state_dir\": \"state\",\n"
	"  \"run_dir\": \"/run/msock-test\",\n"
	"  \"control_socket\": \"ctl.sock\",\n"
	"  \"listen_port\": 0,\n"
	"  \"wg_listen_port\": 51820,\n"
	"  \"home_derp\": 901,\n"
	"  \"user\": \"msock\",\n"
	"  \"derp_map\": {\n"
	"    \"Regions\": {\n"
	"      \"902\": {\"RegionID\": 902, \"RegionCode\": \"b\", \"RegionName\": \"Bee\",\n"
	"        \"Avoid\": true, \"NoMeasureNoHome\": true, \"Latitude\": 1.5,\n"
	"        \"Nodes\": [{\"Name\": \"902s\", \"RegionID\": 902,\n"
	"                   \"HostName\": \"stun.b.test\", \"STUNOnly\": true,\n"
	"                   \"STUNPort\": 3478, \"DERPPort\": 0}]},\n"
	"      \"901\": {\"RegionID\": 901, \"RegionCode\": \"a\", \"RegionName\": \"Aye\",\n"
	"        \"Nodes\": [\n"
	"          {\"Name\": \"901a\", \"RegionID\": 901, \"HostName\": \"derp.a.test\",\n"
	"           \"CertName\": \"cert.a.test\", \"IPv4\": \"192.0.2.1\",\n"
	"           \"IPv6\": \"2001:db8::1\",\n"
	"           \"STUNPort\": -1, \"DERPPort\": 8443, \"CanPort80\": true},\n"
	"          {\"Name\": \"901b\", \"RegionID\": 901, \"HostName\": \"derp2.a.test\",\n"
	"           \"IPv4\": \"none\", \"IPv6\": \"none\", \"InsecureForTests\": true,\n"
	"           \"STUNTestIP\": \"127.0.0.1\"}\n"
	"        ]}\n"
	"    },\n"
	"    \"omitDefaultRegions\": true\n"
	"  },\n"
	"  \"peers\": [\n"
	"    {\"name\": \"alice\", \"node_key\": \"" NK1 "\",\n"
	"     \"disco_key\": \"" DK1 "\",\n"
	"     \"endpoints\": [\"198.18.0.5:41641\", \"[2001:db8::5]:41642\"],\n"
	"     \"home_derp\": 902},\n"
	"    {\"name\": \"bob\", \"node_key\": \"" NK2_B64 "\",\n"
	"     \"disco_key\": \"" DK2 "\", \"endpoints\": [\"198.18.0.6:1\"]}\n"
	"  ],\n"
	"  \"prefs\": {\"only_tcp_443\": false, \"silent_disco\": false,\n"
	"            \"probe_udp_lifetime\": false, \"disable_portmapper\": false,\n"
	"            \"homeless\": false},\n"
	"  \"components\": [\"dataplane\",\n"
	"                 {\"name\": \"disco2\", \"program\": \"disco\",\n"
	"                  \"args\": [\"--verbose\", \"-x\"]},\n"
	"                 {\"name\": \"derp\"}]\n"
	"}\n";

static void check_full_paths(const struct msock_config *c)
{
	assert_string_equal(c->path, "/etc/msock/msock.json");
	/* Relative paths resolve against the config file's directory. */
	assert_string_equal(c->private_key_file, "/etc/msock/keys/node.key");
	assert_string_equal(c->disco_key_file, "/var/lib/msock/disco.key");
	assert_string_equal(c->derp_ca_file, "/etc/msock/ca.pem");
	assert_string_equal(c->state_dir, "/etc/msock/state");
	assert_string_equal(c->run_dir, "/run/msock-test");
	assert_string_equal(c->control_socket, "/etc/msock/ctl.sock");
	assert_int_equal(c->listen_port, 0);
	assert_int_equal(c->wg_listen_port, 51820);
	assert_int_equal(c->home_derp, 901);
	assert_string_equal(c->user, "msock");
}

static void check_full_derp(const struct cfg_derp_map *m)
{
	const struct cfg_derp_region *a = &m->regions[0], *b = &m->regions[1];

	assert_true(m->omit_default_regions);
	assert_int_equal(m->n_regions, 2);
	/* Sorted by id, though 902 came first. */
	assert_int_equal(a->region_id, 901);
	assert_string_equal(a->region_code, "a");
	assert_string_equal(a->region_name, "Aye");
	assert_false(a->avoid);
	assert_false(a->no_measure_no_home);
	assert_int_equal(a->n_nodes, 2);
	assert_string_equal(a->nodes[0].name, "901a");
	assert_int_equal(a->nodes[0].region_id, 901);
	assert_string_equal(a->nodes[0].host_name, "derp.a.test");
	assert_string_equal(a->nodes[0].cert_name, "cert.a.test");
	assert_string_equal(a->nodes[0].ipv4, "192.0.2.1");
	assert_string_equal(a->nodes[0].ipv6, "2001:db8::1");
	assert_int_equal(a->nodes[0].stun_port, -1);
	assert_int_equal(a->nodes[0].derp_port, 8443);
	assert_true(a->nodes[0].can_port80);
	assert_false(a->nodes[0].stun_only);
	assert_false(a->nodes[0].insecure_for_tests);
	assert_string_equal(a->nodes[1].ipv4, "none");
	assert_string_equal(a->nodes[1].ipv6, "none");
	assert_true(a->nodes[1].insecure_for_tests);
	assert_string_equal(a->nodes[1].stun_test_ip, "127.0.0.1");
	assert_int_equal(a->nodes[1].stun_port, 0);
	assert_int_equal(b->region_id, 902);
	assert_string_equal(b->region_name, "Bee");
	assert_true(b->avoid);
	assert_true(b->no_measure_no_home);
	assert_int_equal(b->n_nodes, 1);
	assert_true(b->nodes[0].stun_only);
	assert_int_equal(b->nodes[0].stun_port, 3478);
	assert_string_equal(b->nodes[0].ipv4, "");
}

static void check_full_peers(const struct msock_config *c)
{
	const struct cfg_peer *a = &c->peers[0], *b = &c->peers[1];
	char ep[ADDR_TEXT_MAX];

	assert_int_equal(c->n_peers, 2);
	assert_string_equal(a->name, "alice");
	assert_string_equal(key_text(KEY_KIND_NODE_PUBLIC, &a->node_key), NK1);
	assert_true(a->has_disco_key);
	assert_string_equal(key_text(KEY_KIND_DISCO_PUBLIC, &a->disco_key), DK1);
	assert_int_equal(a->n_endpoints, 2);
	ipport_format(&a->endpoints[0], ep, sizeof(ep));
	assert_string_equal(ep, "198.18.0.5:41641");
	ipport_format(&a->endpoints[1], ep, sizeof(ep));
	assert_string_equal(ep, "[2001:db8::5]:41642");
	assert_int_equal(a->home_derp, 902);
	assert_string_equal(b->name, "bob");
	/* The base64 form is the same key as its hex form. */
	assert_string_equal(key_text(KEY_KIND_NODE_PUBLIC, &b->node_key), NK2);
	assert_string_equal(key_text(KEY_KIND_DISCO_PUBLIC, &b->disco_key), DK2);
	assert_int_equal(b->n_endpoints, 1);
	assert_int_equal(b->endpoints[0].port, 1);
	assert_int_equal(b->home_derp, 0);
	assert_ptr_equal(config_find_peer(c, &b->node_key), b);
	assert_ptr_equal(config_find_peer(c, &a->node_key), a);
	assert_null(config_find_peer(c, &a->disco_key));
}

static void check_full_components(const struct msock_config *c)
{
	const struct cfg_component *k = c->components;

	assert_false(c->prefs.only_tcp_443 || c->prefs.silent_disco ||
		     c->prefs.probe_udp_lifetime || c->prefs.disable_portmapper ||
		     c->prefs.homeless);
	assert_int_equal(c->n_components, 3);
	assert_string_equal(k[0].name, "dataplane");
	assert_string_equal(k[0].program, "dataplane");
	assert_int_equal(k[0].n_args, 0);
	assert_string_equal(k[1].name, "disco2");
	assert_string_equal(k[1].program, "disco");
	assert_int_equal(k[1].n_args, 2);
	assert_string_equal(k[1].args[0], "--verbose");
	assert_string_equal(k[1].args[1], "-x");
	assert_string_equal(k[2].name, "derp");
	assert_string_equal(k[2].program, "derp");
}

static void test_full_config(void **state)
{
	(void)state;
	struct cfg_diag d;
	struct msock_config *c = config_parse(full, strlen(full), "/etc/msock/msock.json", &d);

	assert_non_null(c);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n_warnings, 0);
	check_full_paths(c);
	check_full_derp(&c->derp_map);
	check_full_peers(c);
	check_full_components(c);
	config_free(c);
	cfg_diag_free(&d);
}

static void test_defaults(void **state)
{
	(void)state;
	static const char *const comps[] = {"dataplane", "disco", "derp", "netcheck", "portmapper"};
	struct msock_config *c = parse_ok("{}", "msock.json");

	assert_string_equal(c->path, "msock.json");
	assert_string_equal(c->state_dir, "/var/lib/msock");
	assert_string_equal(c->run_dir, "/run/msock");
	assert_string_equal(c->control_socket, "/run/msock/control.sock");
	assert_string_equal(c->private_key_file, "/var/lib/msock/node.key");
	assert_string_equal(c->disco_key_file, "/var/lib/msock/disco.key");
	assert_string_equal(c->derp_ca_file, "");
	assert_string_equal(c->user, ""); /* a user per component */
	assert_int_equal(c->listen_port, CFG_DEFAULT_LISTEN_PORT);
	assert_int_equal(c->wg_listen_port, 0);
	assert_int_equal(c->home_derp, 0);
	assert_int_equal(c->n_peers, 0);
	assert_null(c->peers);
	assert_int_equal(c->derp_map.n_regions, 0);
	assert_int_equal(c->n_components, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(c->components[i].name, comps[i]);
		assert_string_equal(c->components[i].program, comps[i]);
	}
	config_free(c);
}

static void test_defaults_follow_dirs(void **state)
{
	(void)state;
	/* Derived paths follow state_dir and run_dir; a relative name with no
	 * directory resolves against ".". */
	struct msock_config *c =
		parse_ok("{\"state_dir\": \"st\", \"run_dir\": \"/tmp/r\", \"components\": []}",
			 "msock.json");

	assert_string_equal(c->state_dir, "./st");
	assert_string_equal(c->private_key_file, "./st/node.key");
	assert_string_equal(c->disco_key_file, "./st/disco.key");
	assert_string_equal(c->control_socket, "/tmp/r/control.sock");
	assert_int_equal(c->n_components, 0);
	config_free(c);
}

static void test_example_config_loads(void **state)
{
	(void)state;
	const char *src = getenv("MSOCK_SOURCE_DIR");
	char path[PATH_MAX];
	struct cfg_diag d;
	struct msock_config *c;

	if (!src)
		skip();
	snprintf(path, sizeof(path), "%s/examples/msock.json", src);
	c = config_load(path, &d);
	for (size_t i = 0; i < d.n_errors; i++)
		print_error("%s\n", d.errors[i]);
	assert_non_null(c);
	assert_int_equal(d.n_warnings, 0);
	assert_int_equal(c->n_components, 1);
	assert_string_equal(c->components[0].name, "testcomp");
	assert_int_equal(c->home_derp, 900);
	assert_int_equal(c->derp_map.regions[0].nodes[0].derp_port, 3340);
	assert_int_equal(c->n_peers, 2);
	assert_int_equal(c->wg_listen_port, 51820);
	config_free(c);
	cfg_diag_free(&d);
}

/* Malformed configs, the whole message checked: rows of bad_rows, and
 * those built by code. */

/* Malformed configs written out whole: one row each, {name, text, every
 * message in order}. Those built by code (limits, long paths, files) are
 * the test functions around. */
static const struct {
	const char *name;
	const char *text;
	const char *errors[CFG_ROW_MAX_ERRORS + 1]; /* NULL-terminated */
} bad_rows[] = {
	{"bad json syntax",
	 "{\n  \"listen_port\": 1,\n  \"user\": \n}\n",
	 {"msock.json:4:1: unexpected token near '}'"}},
	{"duplicate key",
	 "{\n  \"user\": \"a\",\n  \"user\": \"b\"\n}\n",
	 {"msock.json:3:8: duplicate object key near '\"user\"'"}},
	{"supervise not a known value",
	 "{\n  \"supervise\": \"systemd\"\n}\n",
	 {"msock.json:2:16: supervise: expected \"broker\" (the broker starts the components) "
	  "or \"external\" (systemd or a container runtime does), got another string"}},
	{"supervise not a string",
	 "{\n  \"supervise\": true\n}\n",
	 {"msock.json:2:16: supervise: expected \"broker\" (the broker starts the components) "
	  "or \"external\" (systemd or a container runtime does), got a boolean"}},
	{"supervise external with one user for all",
	 "{\n  \"user\": \"nobody\",\n  \"supervise\": \"external\"\n}\n",
	 {"msock.json:3:16: supervise: \"external\" needs a user per component (the broker "
	  "knows a component it did not start by its uid): remove \"user\" and run `msockctl "
	  "setup-users`"}},
	{"top level not object",
	 "  [1, 2]",
	 {"msock.json:1:3: expected an object at the top level, got an array"}},
	{"wrong types",
	 "{\n"
	 "  \"listen_port\": \"41641\",\n"
	 "  \"listen_port_x\": 1,\n"
	 "  \"peers\": {},\n"
	 "  \"state_dir\": 5,\n"
	 "  \"prefs\": [],\n"
	 "  \"home_derp\": 1.0,\n"
	 "  \"derp_map\": true\n"
	 "}\n",
	 {"msock.json:2:18: listen_port: expected an integer, got a string",
	  "msock.json:3:3: listen_port_x: unknown field; did you mean \"listen_port\"?",
	  "msock.json:4:12: peers: expected an array of peers, got an object",
	  "msock.json:5:16: state_dir: expected a string, got an integer",
	  "msock.json:6:12: prefs: expected an object of booleans, got an array",
	  "msock.json:7:16: home_derp: expected an integer, got a fractional number",
	  ("msock.json:8:15: derp_map: expected a DERP map object or the path of a file "
	   "holding one, got a boolean")}},
	{"bad node key",
	 "{\n  \"peers\": [\n    {\"name\": \"a\", \"node_key\": \"nodekey:zz\"}\n  ]\n}\n",
	 {"msock.json:3:31: peers[0].node_key: expected nodekey:<64 hex> or a base64 "
	  "WireGuard key (hex part is too short: want 64 characters)"}},
	{"node key wrong type",
	 "{\"peers\": [{\"name\": \"a\", \"node_key\": 7}]}",
	 {"msock.json:1:38: peers[0].node_key: expected nodekey:<64 hex> or a base64 "
	  "WireGuard key, got an integer"}},
	{"zero node key",
	 "{\"peers\": [{\"name\": \"a\", \"node_key\": "
	 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}",
	 {"msock.json:1:38: peers[0].node_key: the all-zero key is not a key"}},
	{"bad disco key",
	 "{\"peers\": [{\"name\": \"a\", \"node_key\": \"" NK1 "\",\n"
	 "  \"disco_key\": \"" NK2 "\"}]}",
	 {"msock.json:2:16: peers[0].disco_key: expected discokey:<64 hex> or a base64 "
	  "key (wrong prefix: expected discokey:)"}},
	{"duplicate peer name",
	 "{\"peers\": [\n"
	 "  {\"name\": \"a\", \"node_key\": \"" NK1 "\"},\n"
	 "  {\"name\": \"a\", \"node_key\": \"" NK2 "\"}\n"
	 "]}",
	 {"msock.json:3:12: peers[1].name: duplicate peer name (also peers[0])"}},
	/* The same key in its two forms. */
	{"duplicate peer key",
	 "{\"peers\": [\n"
	 "  {\"name\": \"a\", \"node_key\": \"" NK2 "\"},\n"
	 "  {\"name\": \"b\", \"node_key\": \"" NK2_B64 "\"}\n"
	 "]}",
	 {"msock.json:3:29: peers[1].node_key: duplicate node key (also peers[0])"}},
	{"missing peer fields",
	 "{\"peers\": [\n  {\"endpoints\": []}\n]}",
	 {"msock.json:2:3: peers[0].name: required field is missing",
	  "msock.json:2:3: peers[0].node_key: required field is missing"}},
	{"bad endpoint",
	 "{\"peers\": [{\"name\": \"a\", \"node_key\": \"" NK1 "\",\n"
	 "  \"endpoints\": [\"1.2.3.4\", \"2001:db8::1:80\", 5]}]}",
	 {("msock.json:2:17: peers[0].endpoints[0]: expected ip:port such as "
	   "198.18.0.5:41641 "
	   "or [2001:db8::1]:41641"),
	  ("msock.json:2:28: peers[0].endpoints[1]: expected ip:port such as "
	   "198.18.0.5:41641 "
	   "or [2001:db8::1]:41641"),
	  ("msock.json:2:46: peers[0].endpoints[2]: expected ip:port such as "
	   "198.18.0.5:41641 "
	   "or [2001:db8::1]:41641")}},
	{"bad static endpoints 1",
	 "{\"static_endpoints\": \"198.18.1.1:41641\"}",
	 {"msock.json:1:22: static_endpoints: expected an array of \"ip:port\" "
	  "strings, got a string"}},
	{"bad static endpoints 2",
	 "{\"static_endpoints\": [\"198.18.1.1\"]}",
	 {"msock.json:1:23: static_endpoints[0]: expected ip:port such as "
	  "198.18.0.5:41641 or [2001:db8::1]:41641"}},
	{"unknown field did you mean",
	 "{\n  \"listen_prot\": 1,\n  \"usr\": \"x\",\n  \"Peers\": [],\n"
	 "  \"frobnicate\": {}\n}",
	 {"msock.json:2:3: listen_prot: unknown field; did you mean \"listen_port\"?",
	  "msock.json:3:3: usr: unknown field; did you mean \"user\"?",
	  "msock.json:4:3: Peers: unknown field; did you mean \"peers\"?",
	  "msock.json:5:3: frobnicate: unknown field"}},
	{"unknown nested fields",
	 "{\"peers\": [{\"name\": \"a\", \"node_key\": \"" NK1 "\",\n"
	 "  \"nodekey\": 2}],\n"
	 "  \"prefs\": {\"silentdisco\": true},\n"
	 "  \"components\": [{\"name\": \"a\", \"arg\": []}]}",
	 {"msock.json:2:3: peers[0].nodekey: unknown field; did you mean \"node_key\"?",
	  "msock.json:3:13: prefs.silentdisco: unknown field; did you mean \"silent_disco\"?",
	  "msock.json:4:32: components[0].arg: unknown field; did you mean \"args\"?"}},
	{"home derp not in map",
	 "{\"home_derp\": 901,\n"
	 " \"derp_map\": {\"Regions\": {\"900\": {\"RegionID\": 900}}},\n"
	 " \"peers\": [{\"name\": \"a\", \"node_key\": \"" NK2_B64 "\", \"home_derp\": 5}]}",
	 {"msock.json:1:15: home_derp: region 901 is not in derp_map",
	  "msock.json:3:99: peers[0].home_derp: region 5 is not in derp_map"}},
	{"home derp negative",
	 "{\"home_derp\": -1}",
	 {"msock.json:1:15: home_derp: expected an integer from 0 to 2147483647, got -1"}},
	{"bad component name",
	 "{\"components\": [\"Disco\", {\"name\": \"a\", \"program\": \"../x\"},\n"
	 "  \"abcdefghijklmnopqrstuvwxyz012345\", \"\", 7, {}]}",
	 {"msock.json:1:17: components[0]: expected a name matching [a-z0-9_-]{1,31}",
	  "msock.json:1:51: components[1].program: expected a name matching [a-z0-9_-]{1,31}",
	  "msock.json:2:3: components[2]: expected a name matching [a-z0-9_-]{1,31}",
	  "msock.json:2:39: components[3]: expected a name matching [a-z0-9_-]{1,31}",
	  ("msock.json:2:43: components[4]: expected a component name or object, got an "
	   "integer"),
	  "msock.json:2:46: components[5].name: required field is missing"}},
	{"duplicate component",
	 "{\"components\": [\"disco\", {\"name\": \"disco\"}, \"disco\"]}",
	 {("msock.json:1:35: components[1].name: duplicate component \"disco\" (also "
	   "components[0])"),
	  ("msock.json:1:45: components[2]: duplicate component \"disco\" (also "
	   "components[0])")}},
	{"too many component args",
	 "{\"components\": [{\"name\": \"a\", \"args\": "
	 "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\","
	 "\"13\",\"14\",\"15\",\"16\",\"17\"]}]}",
	 {"msock.json:1:39: components[0].args: 17 arguments; at most 16"}},
};

static void test_bad_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++)
		expect_row(bad_rows[i].name, bad_rows[i].text, bad_rows[i].errors);
}

static void test_too_many_endpoints(void **state)
{
	(void)state;
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "{\"peers\": [{\"name\": \"a\", \"node_key\": \"" NK1
			 "\",\n  \"endpoints\": [");

	for (int i = 0; i <= CFG_MAX_ENDPOINTS; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%s\"10.0.0.1:%d\"",
			      i ? ", " : "", i + 1);
	snprintf(text + n, sizeof(text) - (size_t)n, "]}]}");
	expect_error(text, "msock.json:2:16: peers[0].endpoints: 17 endpoints; at most 16");
}

/* Our own static endpoints (magicsock's SetStaticEndpoints). */
static void test_static_endpoints(void **state)
{
	(void)state;
	char ep[ADDR_TEXT_MAX];
	struct msock_config *c =
		parse_ok("{\"static_endpoints\": [\"198.18.1.1:41641\", \"[2001:db8::1]:41641\"]}",
			 "msock.json");

	assert_int_equal(c->n_static_endpoints, 2);
	ipport_format(&c->static_endpoints[0], ep, sizeof(ep));
	assert_string_equal(ep, "198.18.1.1:41641");
	ipport_format(&c->static_endpoints[1], ep, sizeof(ep));
	assert_string_equal(ep, "[2001:db8::1]:41641");
	config_free(c);
}

static void test_ports_out_of_range(void **state)
{
	(void)state;
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"listen_port\": 65536, \"wg_listen_port\": 0,\n"
		 " \"derp_map\": {\"Regions\": {\"9\": {\"RegionID\": 9, \"Nodes\": [\n"
		 "  {\"RegionID\": 9, \"HostName\": \"h\", \"STUNPort\": -2, \"DERPPort\": "
		 "70000}]}}}}");
	static const char *const want[] = {
		"msock.json:1:17: listen_port: expected an integer from 0 to 65535, got 65536",
		"msock.json:1:42: wg_listen_port: expected an integer from 1 to 65535, got 0",
		("msock.json:3:48: derp_map.Regions.9.Nodes[0].STUNPort: expected an integer from "
		 "-1 to 65535, got -2"),
		("msock.json:3:64: derp_map.Regions.9.Nodes[0].DERPPort: expected an integer from "
		 "0 to 65535, got 70000"),
	};
	expect_errors(text, want, 4);
}

static void test_too_many_components(void **state)
{
	(void)state;
	char text[1024];
	int n = snprintf(text, sizeof(text), "{\"components\": [");

	for (int i = 0; i <= CFG_MAX_COMPONENTS; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%s\"c%d\"", i ? "," : "", i);
	snprintf(text + n, sizeof(text) - (size_t)n, "]}");
	expect_error(text, "msock.json:1:16: components: 33 components; at most 32");
}

static void test_bad_user(void **state)
{
	(void)state;
	static const char *const bad[] = {"\"root!\"", "\"1abc\"", "\"\"", "7",
					  "\"abcdefghijklmnopqrstuvwxyz0123456\""};
	char text[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"user\": %s}", bad[i]);
		expect_error(text, "msock.json:1:10: user: expected a user name matching "
				   "[a-z_][a-z0-9_-]* of at most 32 characters");
	}
	struct msock_config *c = parse_ok("{\"user\": \"_msock-1\"}", "m.json");
	assert_string_equal(c->user, "_msock-1");
	config_free(c);
}

static void test_supervise(void **state)
{
	(void)state;
	struct msock_config *c = parse_ok("{}", "m.json");
	assert_int_equal(c->supervise, CFG_SUPERVISE_BROKER);
	config_free(c);
	c = parse_ok("{\"supervise\": \"external\"}", "m.json");
	assert_int_equal(c->supervise, CFG_SUPERVISE_EXTERNAL);
	config_free(c);
	c = parse_ok("{\"supervise\": \"broker\", \"user\": \"nobody\"}", "m.json");
	assert_int_equal(c->supervise, CFG_SUPERVISE_BROKER);
	config_free(c);
}

static void test_path_too_long(void **state)
{
	(void)state;
	char text[CFG_PATH_MAX * 2 + 64], longp[CFG_PATH_MAX + 1];

	memset(longp, 'a', CFG_PATH_MAX);
	longp[0] = '/';
	longp[CFG_PATH_MAX] = 0;
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\"}", longp);
	expect_error(text, "msock.json:1:15: state_dir: 512 bytes long; at most 511");
	/* Short enough alone, too long once resolved against the directory. */
	longp[CFG_PATH_MAX - 1] = 0;
	snprintf(text, sizeof(text), "{\"derp_ca_file\": \"%s\"}", longp + 1);
	expect_error(text, "msock.json:1:18: derp_ca_file: resolved against . the path is longer "
			   "than 511 bytes");
	/* state_dir fits, state_dir/node.key does not. */
	longp[CFG_PATH_MAX - 4] = 0;
	snprintf(text, sizeof(text), "{\"state_dir\": \"%s\", \"run_dir\": \"/r\"}", longp);
	static const char *const want[] = {
		("msock.json:1:15: state_dir: <state_dir>/node.key would be 517 bytes long; "
		 "at most 511"),
		("msock.json:1:15: state_dir: <state_dir>/disco.key would be 518 bytes long; "
		 "at most 511"),
	};
	expect_errors(text, want, 2);
}

static void test_empty_path(void **state)
{
	(void)state;
	expect_error("{\"private_key_file\": \"\"}",
		     "msock.json:1:22: private_key_file: expected a path, got an empty string");
}

static void test_control_socket_too_long(void **state)
{
	(void)state;
	char text[512], p[120];

	memset(p, 'c', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = 0;
	snprintf(text, sizeof(text), "{\"control_socket\": \"%s\"}", p);
	expect_error(text, "msock.json:1:20: control_socket: 119 bytes long; a unix socket path is "
			   "at most 107");
}

static void test_run_dir_too_long(void **state)
{
	(void)state;
	char text[512], p[71];

	memset(p, 'r', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = 0;
	snprintf(text, sizeof(text), "{\n  \"run_dir\": \"%s\"\n}", p);
	expect_error(text,
		     "msock.json:2:14: run_dir: 70 bytes long; the bus sockets under it "
		     "(<run_dir>/bus/ch-netcheck/pkt-netcheck-down.ipc) need it to be at most "
		     "69 to fit in a 108-byte sun_path");
	/* 69 bytes fits: <run_dir>/bus/ch-netcheck/pkt-netcheck-down.ipc is 107
	 * bytes. */
	p[69] = 0;
	snprintf(text, sizeof(text), "%s/bus/ch-netcheck/pkt-netcheck-down.ipc", p);
	assert_int_equal(strlen(text), 107);
	snprintf(text, sizeof(text), "{\n  \"run_dir\": \"%s\"\n}", p);
	config_free(parse_ok(text, "m.json"));
}

static void test_oversized_text(void **state)
{
	(void)state;
	size_t len = (size_t)CFG_MAX_FILE_BYTES + 1;
	char *big = malloc(len);
	struct cfg_diag d;

	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	check_errors(
		config_parse(big, len, "msock.json", &d), &d,
		(const char *const[]){
			"msock.json: file is 16777217 bytes, more than the 16777216-byte limit"},
		1);
	free(big);
}

static void test_oversized_file(void **state)
{
	struct tmp *t = *state;
	char path[256], want[512];
	struct cfg_diag d;
	int fd;

	snprintf(path, sizeof(path), "%s/big.json", t->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)CFG_MAX_FILE_BYTES + 1), 0);
	close(fd);
	snprintf(want, sizeof(want),
		 "%s: file is 16777217 bytes, more than the 16777216-byte limit", path);
	check_errors(config_load(path, &d), &d, (const char *const[]){want}, 1);
}

static void test_missing_file(void **state)
{
	struct tmp *t = *state;
	char path[256], want[512];
	struct cfg_diag d;

	snprintf(path, sizeof(path), "%s/none.json", t->dir);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	check_errors(config_load(path, &d), &d, (const char *const[]){want}, 1);
}

static void test_all_errors_reported_in_order(void **state)
{
	(void)state;
	static const char *const want[] = {
		("msock.json:2:11: user: expected a user name matching [a-z_][a-z0-9_-]* of at "
		 "most "
		 "32 characters"),
		"msock.json:3:18: listen_port: expected an integer from 0 to 65535, got -5",
		"msock.json:4:16: home_derp: region 3 is not in derp_map",
		("msock.json:5:39: peers[0].node_key: expected nodekey:<64 hex> or a base64 "
		 "WireGuard key (neither prefix:<64 hex> nor 44-character base64)"),
		("msock.json:6:59: derp_map.Regions.1.Nodes[0].HostName: required: the DERP node's "
		 "host name"),
	};
	/* derp_map is read first but its errors sort into file order; with an
	 * error in the map, home_derp is not checked against it... */
	static const char text_bad_map[] =
		"{\n"
		"  \"user\": \"X\",\n"
		"  \"listen_port\": -5,\n"
		"  \"home_derp\": 3,\n"
		"  \"peers\": [{\"name\": \"p\", \"node_key\": \"k\"}],\n"
		"  \"derp_map\": {\"Regions\": {\"1\": {\"RegionID\": 1, "
		"\"Nodes\": [{\"RegionID\": 1}]}}}\n"
		"}\n";
	/* ...so the home_derp error shows only when the map is good. */
	static const char text_good_map[] =
		"{\n"
		"  \"user\": \"X\",\n"
		"  \"listen_port\": -5,\n"
		"  \"home_derp\": 3,\n"
		"  \"peers\": [{\"name\": \"p\", \"node_key\": \"k\"}],\n"
		"  \"derp_map\": {\"Regions\": {\"1\": {\"RegionID\": 1, "
		"\"Nodes\": [{\"RegionID\": 1, \"HostName\": \"h\"}]}}}\n"
		"}\n";
	const char *const want_bad_map[] = {want[0], want[1], want[3], want[4]};

	expect_errors(text_bad_map, want_bad_map, 4);
	expect_errors(text_good_map, want, 4);
}

static void test_error_cap(void **state)
{
	(void)state;
	size_t cap = 64 + (CFG_MAX_ERRORS + 50) * 40;
	char *text = malloc(cap);
	struct cfg_diag d;
	int n;

	assert_non_null(text);
	n = snprintf(text, cap, "{\"peers\": [");
	for (int i = 0; i < CFG_MAX_ERRORS + 50; i++)
		n += snprintf(text + n, cap - (size_t)n, "%s\n{\"name\": \"p%d\", \"node_key\": 1}",
			      i ? "," : "", i);
	snprintf(text + n, cap - (size_t)n, "]}");
	assert_null(config_parse(text, strlen(text), "m.json", &d));
	assert_int_equal(d.n_errors, CFG_MAX_ERRORS + 1);
	assert_string_equal(d.errors[0],
			    "m.json:2:28: peers[0].node_key: expected nodekey:<64 hex> "
			    "or a base64 WireGuard key, got an integer");
	assert_string_equal(d.errors[CFG_MAX_ERRORS], "... and 50 more errors");
	cfg_diag_free(&d);
	free(text);
}

static void test_prefs_warnings(void **state)
{
	(void)state;
	static const char text[] = "{\"prefs\": {\n"
				   "  \"only_tcp_443\": true,\n"
				   "  \"silent_disco\": true,\n"
				   "  \"probe_udp_lifetime\": true,\n"
				   "  \"disable_portmapper\": true,\n"
				   "  \"homeless\": true}}";
	static const char *const want[] = {
		("msock.json:2:19: prefs.only_tcp_443: accepted, but reaching peers only through "
		 "DERP over TCP port 443 is not built yet; it has no effect"),
		("msock.json:4:25: prefs.probe_udp_lifetime: accepted, but probing how long NAT "
		 "mappings for UDP live is not built yet; it has no effect"),
		("msock.json:6:15: prefs.homeless: accepted, but running without a home DERP "
		 "region is not built yet; it has no effect"),
	};
	struct cfg_diag d;
	struct msock_config *c = config_parse(text, strlen(text), "msock.json", &d);

	assert_non_null(c);
	assert_int_equal(d.n_errors, 0);
	/* silent_disco and disable_portmapper are built: no warning. */
	assert_int_equal(d.n_warnings, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(d.warnings[i], want[i]);
	assert_true(c->prefs.only_tcp_443 && c->prefs.silent_disco && c->prefs.probe_udp_lifetime &&
		    c->prefs.disable_portmapper && c->prefs.homeless);
	config_free(c);
	cfg_diag_free(&d);
}

static void test_free_null_and_no_diag(void **state)
{
	(void)state;
	struct cfg_diag d = {0};

	config_free(NULL);
	cfg_diag_free(&d);
	cfg_diag_free(NULL);
	/* diag may be NULL: messages are dropped, the result is the same. */
	assert_null(config_parse("{\"x\": 1}", 8, "m.json", NULL));
	config_free(config_parse("{}", 2, NULL, NULL));
}

#define T(f)  cmocka_unit_test(f)
#define TF(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_full_config),
		T(test_defaults),
		T(test_defaults_follow_dirs),
		T(test_example_config_loads),
		T(test_bad_rows),
		T(test_too_many_endpoints),
		T(test_static_endpoints),
		T(test_ports_out_of_range),
		T(test_too_many_components),
		T(test_bad_user),
		T(test_supervise),
		T(test_path_too_long),
		T(test_empty_path),
		T(test_control_socket_too_long),
		T(test_run_dir_too_long),
		T(test_oversized_text),
		TF(test_oversized_file),
		TF(test_missing_file),
		T(test_all_errors_reported_in_order),
		T(test_error_cap),
		T(test_prefs_warnings),
		T(test_free_null_and_no_diag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
