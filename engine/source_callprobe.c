// SPDX-License-Identifier: GPL-2.0
/* Source: trace mode's per-call probe, its map read once per interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "source.h"
#include "../poller/poller.h"
#include "../tracer/tracemode.h"

struct callprobe {
	struct ts_source base;		/* first: the engine holds &base */
	struct ts_trace *trace;
	struct ts_batch batch;
};

static int callprobe_collect(struct ts_source *s, char *err, size_t errlen)
{
	struct callprobe *cp = (struct callprobe *)s;
	const struct ts_feed *feed = s->env->feed;
	size_t i;
	int ret = ts_trace_read(cp->trace, &cp->batch);

	if (ret) {
		snprintf(err, errlen, "reading the trace map failed: %s",
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < cp->batch.n; i++)
		feed->sample(&cp->batch.v[i], feed->arg);
	return 0;
}

static int callprobe_drain(struct ts_source *s, int timeout_ms, char *err,
			   size_t errlen)
{
	struct callprobe *cp = (struct callprobe *)s;
	struct ts_engine_stats *st = s->env->stats;
	int ret = ts_trace_drain(cp->trace);

	(void)timeout_ms;
	ts_trace_lost(cp->trace, &st->lost, &st->map_full);
	if (ret >= 0)
		return 0;
	snprintf(err, errlen, "ring buffer: %s", strerror(-ret));
	return ret;
}

static void callprobe_destroy(struct ts_source *s)
{
	struct callprobe *cp = (struct callprobe *)s;

	ts_trace_close(cp->trace);
	ts_batch_free(&cp->batch);
	free(cp);
}

static const struct ts_source_ops callprobe_ops = {
	.collect = callprobe_collect,
	.drain = callprobe_drain,
	.destroy = callprobe_destroy,
};

struct ts_source *ts_callprobe_open(const struct ts_source_env *env,
				    char *err, size_t errlen)
{
	const struct ts_engine_opts *o = env->opts;
	struct ts_trace_opts to = {
		.attach = o->attach,
		.ring_bytes = o->ring_bytes,
		.map_entries = o->map_entries,
		.netns = env->netns,
	};
	struct callprobe *cp = calloc(1, sizeof(*cp));

	if (!cp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cp->base.ops = &callprobe_ops;
	cp->base.env = env;
	cp->trace = ts_trace_open(&to, env->feed->close, env->feed->arg,
				  &env->stats->attach, err, errlen);
	if (!cp->trace) {
		free(cp);
		return NULL;
	}
	return &cp->base;
}
