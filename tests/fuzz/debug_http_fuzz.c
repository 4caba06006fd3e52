/* debug_http_fuzz: input = request bytes for msock-debug's routes
 * (dbg_http_answer) against a model holding one peer with samples, marks
 * and lanes, and a few other keys. The answer is MORE with nothing
 * written, or a whole response that starts with a status line, says
 * Connection: close, and has a Content-Length matching its body (none for HEAD). The same
 * bytes answered again give the same status (the routes are stateless). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbg.h"
#include "dbg_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_INPUT_BYTES = 2 * 8192 };

static struct dbg_model model;
static bool ready;

static void put(const char *topic, const char *key, const ProtobufCMessage *msg, int64_t at)
{
	struct bus_msg m = {.kind = BUS_MSG_STATE,
			    .topic = bus_topic_find(topic, strlen(topic)),
			    .key = key,
			    .msg = msg};

	memset(m.node_key, 0x5c, 32);
	dbg_model_state(&model, &m, at, (uint64_t)at * 1000000);
}

static void setup(void)
{
	Msock__NodeView nv = MSOCK__NODE_VIEW__INIT;
	Msock__NodeViewsUpdate nvu = MSOCK__NODE_VIEWS_UPDATE__INIT;
	Msock__DataplanePeer dp = MSOCK__DATAPLANE_PEER__INIT;
	Msock__Endpoint e = MSOCK__ENDPOINT__INIT;
	Msock__DiscoPong pong = MSOCK__DISCO_PONG__INIT;
	Msock__Health h = MSOCK__HEALTH__INIT;
	uint8_t ip[4] = {192, 0, 2, 1}, key[32];

	memset(key, 0x5c, 32);
	dbg_model_init(&model, 1000);
	nv.node_key = (ProtobufCBinaryData){32, key};
	nv.name = "<peer \"one\">";
	nv.home_derp = 900;
	nvu.node = &nv;
	put(BUS_T_NodeViewsUpdate, "5c", &nvu.base, 1000);
	e.ip = (ProtobufCBinaryData){4, ip};
	e.port = 41641;
	for (int i = 0; i < 4; i++) {
		dp.path = i == 2 ? "direct+derp" : "direct";
		dp.direct = &e;
		dp.rx_packets = dp.tx_packets = 100u * (unsigned)i;
		dp.rx_derp_packets = 10u * (unsigned)i;
		put(BUS_T_DataplanePeer, "5c", &dp.base, 2000 + 2000 * i);
	}
	pong.via = &e;
	pong.latency_us = 1234;
	pong.at_unix_ms = 3000;
	put(BUS_T_DiscoPong, "5c", &pong.base, 3000);
	h.component = "derp";
	h.code = "no-home";
	h.severity = "high";
	h.text = "</td><script>";
	put(BUS_T_Health, "derp/no-home", &h.base, 3000);
	ready = true;
}

static void check(const struct dbg_buf *out, int code)
{
	const char *end, *cl;
	unsigned long len;
	size_t body;

	if (out->failed)
		return; /* the caller closes */
	if (out->len < 12 || memcmp(out->p, "HTTP/1.1 ", 9) != 0 || atoi(out->p + 9) != code)
		abort();
	end = memmem(out->p, out->len, "\r\n\r\n", 4);
	if (!end || !memmem(out->p, (size_t)(end - out->p), "Connection: close\r\n", 19))
		abort();
	body = out->len - (size_t)(end + 4 - out->p);
	cl = memmem(out->p, (size_t)(end - out->p), "Content-Length: ", 16);
	/* A HEAD's answer has the length and no body. */
	if (cl && body && (len = strtoul(cl + 16, 0, 10)) != body)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dbg_now now = {.unix_ms = 10000, .mono_ns = 10000000000ull};
	struct dbg_http_opts opts = {.check_host = size & 1};
	struct dbg_buf out = {0}, again = {0};
	size_t head = 0, head2 = 0;
	int code, code2;

	if (!ready)
		setup();
	if (size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	code = dbg_http_answer(&model, &now, &opts, data, size, &out, &head);
	if (code == DBG_HTTP_MORE) {
		if (out.len || head)
			abort();
	} else {
		check(&out, code);
		code2 = dbg_http_answer(&model, &now, &opts, data, size, &again, &head2);
		if (code2 != code || head2 != head)
			abort();
	}
	dbg_buf_free(&out);
	dbg_buf_free(&again);
	return 0;
}
