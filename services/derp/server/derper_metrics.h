/* derper_metrics: /debug/metrics in Prometheus text format: clients,
 * packets and bytes relayed, drops by reason (Tailscale's dropReason names:
 * unknown_dest, queue_head, queue_tail, gone_disconnected, write_error). */
#ifndef MSOCK_DERPER_METRICS_H
#define MSOCK_DERPER_METRICS_H

#include <stddef.h>

#include "derper.h"

/* Writes the metrics text; returns its length (truncated to cap - 1). */
size_t derper_metrics_text(const struct derper *s, char *buf, size_t cap);

#endif
