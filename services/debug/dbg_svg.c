/* dbg_svg: a peer's path timeline as inline SVG, no script: time across,
 * one lane per path (its DERP regions, its direct addresses), bars where
 * the dataplane's counters moved between two publications, marks for
 * pings, pongs, path changes and failovers, and the pongs' latency as a
 * line. Every element a test or a reader looks for has a class and data-
 * attributes: g.lane[data-path], rect.bar, .mark.change[data-path],
 * .mark.failover, .mark.pong, .mark.ping, polyline.latency. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbg.h"

enum {
	SVG_WIDTH = 960,
	SVG_LABEL_W = 210, /* the lanes' names */
	SVG_PLOT_W = 730,
	SVG_AXIS_H = 22,
	SVG_LANE_H = 26,
	SVG_BAR_H = 14,
	SVG_LAT_H = 60, /* the latency line's band */
	SVG_MIN_SPAN_MS = 10000,
};

struct frame {
	int64_t t0, t1;
	int lat_top;
	int height;
};

static double x_of(const struct frame *f, int64_t t)
{
	if (t < f->t0)
		t = f->t0;
	if (t > f->t1)
		t = f->t1;
	return SVG_LABEL_W + (double)(t - f->t0) * SVG_PLOT_W / (double)(f->t1 - f->t0);
}

static int lane_y(int lane)
{
	return SVG_AXIS_H + lane * SVG_LANE_H;
}

static void hms(int64_t ms, char *buf, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&s, &tm) || !strftime(buf, cap, "%H:%M:%S", &tm))
		snprintf(buf, cap, "?");
}

static void lane_label(const struct dbg_model *m, const struct dbg_lane *l, char *buf, size_t cap)
{
	char key[16];
	const struct dbg_kv *kv;

	if (l->kind == DBG_LANE_DIRECT) {
		ipport_format(&l->addr, buf, cap);
		return;
	}
	snprintf(key, sizeof(key), "%u", l->region);
	kv = dbg_model_get(m, BUS_T_DERPMap, key);
	if (kv && ((const Msock__DERPMap *)kv->msg)->region_code[0])
		snprintf(buf, cap, "DERP %u (%s)", l->region,
			 ((const Msock__DERPMap *)kv->msg)->region_code);
	else
		snprintf(buf, cap, "DERP %u", l->region);
}

static void lanes(const struct dbg_peer *p, const struct dbg_model *m, struct dbg_buf *out)
{
	for (unsigned i = 0; i < p->n_lanes; i++) {
		const struct dbg_lane *l = &p->lanes[i];
		char id[80], label[96];
		int y = lane_y((int)i);
		dbg_lane_id(l, id, sizeof(id));
		lane_label(m, l, label, sizeof(label));
		dbg_buf_puts(out, "<g class=\"lane\" data-path=\"");
		dbg_buf_html(out, id);
		dbg_buf_printf(out, "\" data-kind=\"%s\" data-lane=\"%u\">",
			       l->kind == DBG_LANE_DERP ? "derp" : "direct", i);
		dbg_buf_printf(out,
			       "<rect class=\"lane-bg\" x=\"%d\" y=\"%d\" width=\"%d\" "
			       "height=\"%d\" fill=\"%s\"/>",
			       SVG_LABEL_W, y, SVG_PLOT_W, SVG_LANE_H,
			       i % 2 ? "#f4f4f4" : "#fafafa");
		dbg_buf_printf(out, "<text class=\"lane-name\" x=\"4\" y=\"%d\">", y + 17);
		dbg_buf_html(out, label);
		dbg_buf_puts(out, "</text></g>\n");
	}
}

static void bar(const struct frame *f, const struct dbg_peer *p, int lane, int64_t a, int64_t b,
		uint64_t pk, struct dbg_buf *out)
{
	char id[80];
	double x0 = x_of(f, a), x1 = x_of(f, b);

	if (lane < 0 || (unsigned)lane >= p->n_lanes || !pk)
		return;
	dbg_lane_id(&p->lanes[lane], id, sizeof(id));
	dbg_buf_puts(out, "<rect class=\"bar\" data-path=\"");
	dbg_buf_html(out, id);
	dbg_buf_printf(out,
		       "\" data-packets=\"%llu\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		       "fill=\"%s\"><title>%llu packets</title></rect>\n",
		       (unsigned long long)pk, x0, lane_y(lane) + (SVG_LANE_H - SVG_BAR_H) / 2,
		       x1 - x0 < 1 ? 1 : x1 - x0, SVG_BAR_H,
		       p->lanes[lane].kind == DBG_LANE_DERP ? "#e0a040" : "#3a8a3a",
		       (unsigned long long)pk);
}

static void bars(const struct frame *f, const struct dbg_peer *p, struct dbg_buf *out)
{
	for (unsigned i = 1; i < p->n_samples; i++) {
		const struct dbg_sample *a = dbg_peer_sample(p, i - 1), *b = dbg_peer_sample(p, i);
		if (b->rx < a->rx || b->tx < a->tx || b->rx_derp < a->rx_derp ||
		    b->tx_derp < a->tx_derp)
			continue; /* a restarted dataplane's counters */
		bar(f, p, b->direct_lane, a->at_ms, b->at_ms,
		    (b->rx - b->rx_derp) - (a->rx - a->rx_derp) + (b->tx - b->tx_derp) -
			    (a->tx - a->tx_derp),
		    out);
		bar(f, p, b->derp_lane, a->at_ms, b->at_ms,
		    (b->rx_derp - a->rx_derp) + (b->tx_derp - a->tx_derp), out);
	}
}

static int by_time(const void *a, const void *b)
{
	const struct dbg_mark *x = *(const struct dbg_mark *const *)a,
			      *y = *(const struct dbg_mark *const *)b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return x < y ? -1 : x > y; /* stable: insertion order within a millisecond */
}

static const char *source_name(uint8_t s)
{
	return s == DBG_SRC_DISCO ? "disco" : s == DBG_SRC_DATAPLANE ? "dataplane" : "msockctl";
}

static void one_mark(const struct frame *f, const struct dbg_peer *p, const struct dbg_mark *k,
		     struct dbg_buf *out)
{
	char id[80] = "", when[16];
	double x = x_of(f, k->at_ms);
	int y = k->lane >= 0 ? lane_y(k->lane) : SVG_AXIS_H;

	if (k->lane >= 0 && (unsigned)k->lane < p->n_lanes)
		dbg_lane_id(&p->lanes[k->lane], id, sizeof(id));
	hms(k->at_ms, when, sizeof(when));
	dbg_buf_printf(out, "<g class=\"mark %s\" data-t=\"%lld\" data-source=\"%s\" data-path=\"",
		       dbg_mark_name((enum dbg_mark_kind)k->kind), (long long)k->at_ms,
		       source_name(k->source));
	dbg_buf_html(out, id);
	dbg_buf_puts(out, "\">");
	switch (k->kind) {
	case DBG_MARK_CHANGE:
	case DBG_MARK_FAILOVER:
		dbg_buf_printf(out,
			       "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
			       "stroke-width=\"2\"%s/>",
			       x, SVG_AXIS_H - 6, x, f->lat_top,
			       k->kind == DBG_MARK_FAILOVER ? "#c02020" : "#2050c0",
			       k->kind == DBG_MARK_FAILOVER ? " stroke-dasharray=\"4 3\"" : "");
		break;
	case DBG_MARK_PONG:
		dbg_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%d\" r=\"3\" fill=\"#202020\"/>", x,
			       y + SVG_LANE_H / 2);
		break;
	default:
		dbg_buf_printf(out, "<path d=\"M%.1f %d l-4 -7 h8 z\" fill=\"#8040a0\"/>", x,
			       SVG_AXIS_H);
		break;
	}
	dbg_buf_printf(out, "<title>%s %s", when, dbg_mark_name((enum dbg_mark_kind)k->kind));
	if (id[0]) {
		dbg_buf_puts(out, " ");
		dbg_buf_html(out, id);
	}
	if (k->latency_us)
		dbg_buf_printf(out, " %.3f ms", k->latency_us / 1000.0);
	dbg_buf_printf(out, " (%s)</title></g>\n", source_name(k->source));
}

static void latency_line(const struct frame *f, const struct dbg_mark *const *ks, unsigned n,
			 struct dbg_buf *out)
{
	uint32_t max = 0;
	unsigned pts = 0;

	for (unsigned i = 0; i < n; i++)
		if (ks[i]->kind == DBG_MARK_PONG && ks[i]->latency_us > max)
			max = ks[i]->latency_us;
	dbg_buf_printf(
		out, "<text class=\"latency-scale\" x=\"4\" y=\"%d\">latency (max %.3f ms)</text>",
		f->lat_top + 14, max / 1000.0);
	if (!max)
		return;
	dbg_buf_printf(out, "<polyline class=\"latency\" fill=\"none\" stroke=\"#a02080\" "
			    "stroke-width=\"1.5\" points=\"");
	for (unsigned i = 0; i < n; i++) {
		if (ks[i]->kind != DBG_MARK_PONG || !ks[i]->latency_us)
			continue;
		dbg_buf_printf(out, "%s%.1f,%.1f", pts++ ? " " : "", x_of(f, ks[i]->at_ms),
			       f->lat_top + SVG_LAT_H - 4 -
				       (double)ks[i]->latency_us * (SVG_LAT_H - 12) / max);
	}
	dbg_buf_puts(out, "\"/>\n");
}

void dbg_svg_timeline(const struct dbg_peer *p, const struct dbg_model *m,
		      const struct dbg_now *now, struct dbg_buf *out)
{
	const struct dbg_mark *ks[DBG_MARKS_PER_PEER];
	struct frame f = {.t1 = now->unix_ms, .t0 = now->unix_ms};
	char hex[65], a[16], b[16];

	for (unsigned i = 0; i < p->n_marks; i++) {
		ks[i] = dbg_peer_mark(p, i);
		if (ks[i]->at_ms < f.t0)
			f.t0 = ks[i]->at_ms;
		if (ks[i]->at_ms > f.t1)
			f.t1 = ks[i]->at_ms;
	}
	qsort(ks, p->n_marks, sizeof(ks[0]), by_time);
	if (p->n_samples && dbg_peer_sample(p, 0)->at_ms < f.t0)
		f.t0 = dbg_peer_sample(p, 0)->at_ms;
	if (f.t1 - f.t0 < SVG_MIN_SPAN_MS)
		f.t0 = f.t1 - SVG_MIN_SPAN_MS;
	f.lat_top = lane_y((int)p->n_lanes) + 4;
	f.height = f.lat_top + SVG_LAT_H + SVG_AXIS_H;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", p->key[i]);
	hms(f.t0, a, sizeof(a));
	hms(f.t1, b, sizeof(b));
	dbg_buf_printf(
		out,
		"<svg class=\"timeline\" id=\"timeline-%s\" data-peer=\"%s\" data-t0=\"%lld\" "
		"data-t1=\"%lld\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"monospace\" "
		"font-size=\"11\">\n",
		hex, hex, (long long)f.t0, (long long)f.t1, SVG_WIDTH, f.height, SVG_WIDTH,
		f.height);
	dbg_buf_printf(
		out,
		"<text class=\"axis\" x=\"%d\" y=\"12\">%s UTC</text>"
		"<text class=\"axis\" x=\"%d\" y=\"12\" text-anchor=\"end\">%s UTC (now)</text>\n",
		SVG_LABEL_W, a, SVG_LABEL_W + SVG_PLOT_W, b);
	lanes(p, m, out);
	bars(&f, p, out);
	dbg_buf_printf(out,
		       "<rect class=\"latency-bg\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		       "fill=\"#fdf6fb\"/>\n",
		       SVG_LABEL_W, f.lat_top, SVG_PLOT_W, SVG_LAT_H);
	latency_line(&f, ks, p->n_marks, out);
	for (unsigned i = 0; i < p->n_marks; i++)
		one_mark(&f, p, ks[i], out);
	dbg_buf_puts(out, "</svg>\n");
}
