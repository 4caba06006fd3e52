/* dbg_metrics: /metrics in Prometheus's text format: empty until its
 * families land. */
#include "dbg.h"

void dbg_metrics(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *out)
{
	(void)m;
	(void)now;
	dbg_buf_puts(out, "");
}
