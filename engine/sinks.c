// SPDX-License-Identifier: GPL-2.0
/* The sinks a front end can ask for, by name. */
#include <stdlib.h>
#include <string.h>
#include "sink.h"

static const struct {
	const char *name;
	struct ts_sink *(*open)(const struct ts_sink_cfg *cfg);
} sinks[] = {
	{ "table", ts_sink_table_new },		/* tcptop's bcc table */
	{ "json", ts_sink_json_new },		/* tcptop's JSON lines */
	{ "life", ts_sink_life_new },		/* tcplife: table, CSV or JSON */
	{ "metrics", ts_sink_metrics_new },	/* tcpsightd: Prometheus counters */
	{ "archive", ts_sink_archive_new },	/* tcpsightd: zstd JSONL files */
};

struct ts_sink *ts_sink_open(const char *name, const struct ts_sink_cfg *cfg)
{
	size_t i;

	for (i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++)
		if (!strcmp(sinks[i].name, name))
			return sinks[i].open(cfg);
	return NULL;
}

void ts_sink_close(struct ts_sink *k)
{
	if (!k)
		return;
	if (k->ops->destroy)
		k->ops->destroy(k);
	else
		free(k);
}

bool ts_sink_wants(const struct ts_sink_cfg *c, uint32_t pid, uint16_t family)
{
	if (c->pid && pid != c->pid)
		return false;
	return !c->family || family == c->family;
}

bool ts_sink_row_wanted(const struct ts_sink_cfg *c, const struct ts_row *r)
{
	return ts_sink_wants(c, r->pid, r->tuple.family);
}

struct ts_top_fmt ts_sink_top_fmt(const struct ts_sink_cfg *c,
				  const struct ts_interval *iv)
{
	struct ts_top_fmt fmt = {
		.ts = iv->ts,
		.interval = iv->seconds,
		.lost = iv->lost,
		.cgroups = c->cgroups,
	};

	return fmt;
}
