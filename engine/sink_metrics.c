// SPDX-License-Identifier: GPL-2.0
/*
 * tcpsightd's counters: every interval's rows folded into the Prometheus
 * series of sinks/metrics.c, which the HTTP thread renders under the lock.
 */
#include <stdlib.h>
#include "sink.h"
#include "../sinks/metrics.h"

static bool listening(uint16_t port, void *arg)
{
	return ts_engine_port_listening(arg, port);
}

/* Rows -p/-4/-6 leave out are not counted, in runs between them. */
static void metrics_rows(struct ts_sink *k, const struct ts_row *rows,
			 size_t n, const struct ts_interval *iv)
{
	const struct ts_sink_cfg *c = &k->cfg;
	size_t i, start = 0;

	(void)iv;
	pthread_mutex_lock(c->lock);
	for (i = 0; i <= n; i++) {
		if (i < n && ts_sink_row_wanted(c, &rows[i]))
			continue;
		if (i > start)
			ts_metrics_add_rows(c->metrics, rows + start, i - start,
					    listening, c->engine);
		start = i + 1;
	}
	pthread_mutex_unlock(c->lock);
}

/* The cgroup cache is the engine's, known once the sink is added. */
static void metrics_begin(struct ts_sink *k)
{
	pthread_mutex_lock(k->cfg.lock);
	ts_metrics_set_cgroups(k->cfg.metrics, k->cfg.cgroups);
	pthread_mutex_unlock(k->cfg.lock);
}

static const struct ts_sink_ops metrics_ops = {
	.begin = metrics_begin,
	.rows = metrics_rows,
};

struct ts_sink *ts_sink_metrics_new(const struct ts_sink_cfg *cfg)
{
	struct ts_sink *k;

	if (!cfg->metrics || !cfg->lock)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->ops = &metrics_ops;
	k->cfg = *cfg;
	return k;
}
