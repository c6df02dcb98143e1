/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A sink takes what the engine produces: interval rows (tcptop), whole
 * sessions (tcplife) or both (tcpsightd's metrics and archive).  Each sink
 * is one file with a constructor listed in sinks.c.
 */
#ifndef TS_SINK_H
#define TS_SINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "engine.h"
#include "../common/output.h"

/* One interval as the sinks see it. */
struct ts_interval {
	double ts;			/* unix seconds, end of interval */
	double seconds;			/* its length */
	uint64_t lost;			/* close events lost in it */
	enum ts_mode mode;
};

/* What the front end asks of its sinks. */
struct ts_sink_cfg {
	FILE *out;
	/* tcptop */
	uint32_t pid;			/* -p: rows of this owner only */
	uint16_t family;		/* -4/-6 */
	uint32_t rows;			/* -r */
	bool rows_set;			/* JSON is cut to -r only when given */
	bool no_clear;			/* -C */
	bool no_summary;		/* -S */
	bool container;			/* --container: the table shows it */
	struct ts_cgroups *cgroups;	/* the engine's: cgroup paths */
	/* tcplife */
	struct ts_life_fmt life;
	/* tcpsightd: "metrics" counts rows into @metrics under @lock ... */
	struct ts_metrics *metrics;
	pthread_mutex_t *lock;		/* the HTTP thread reads the metrics */
	/* ... "archive" writes rows and whole sessions as JSON lines. */
	struct ts_jsonl *intervals;
	struct ts_jsonl *sessions;
	struct ts_engine *engine;	/* the engine's: its listeners */
};

struct ts_sink;
struct ts_metrics;
struct ts_jsonl;

struct ts_sink_ops {
	/* Once the baseline is taken, before anything else (headers). */
	void (*begin)(struct ts_sink *k);
	void (*rows)(struct ts_sink *k, const struct ts_row *rows, size_t n,
		     const struct ts_interval *iv);
	void (*life)(struct ts_sink *k, const struct ts_life *l);
	void (*destroy)(struct ts_sink *k);
};

struct ts_sink {
	const struct ts_sink_ops *ops;
	struct ts_sink_cfg cfg;
};

/* NULL: unknown name or out of memory. */
struct ts_sink *ts_sink_open(const char *name, const struct ts_sink_cfg *cfg);
void ts_sink_close(struct ts_sink *k);

/* -p and -4/-6 as every sink applies them, to rows and whole sessions. */
bool ts_sink_wants(const struct ts_sink_cfg *c, uint32_t pid, uint16_t family);
bool ts_sink_row_wanted(const struct ts_sink_cfg *c, const struct ts_row *r);

/* The JSON row format of one interval, as every JSON-writing sink uses it. */
struct ts_top_fmt ts_sink_top_fmt(const struct ts_sink_cfg *c,
				  const struct ts_interval *iv);

/* Constructors the registry (sinks.c) lists. */
struct ts_sink *ts_sink_table_new(const struct ts_sink_cfg *cfg);
struct ts_sink *ts_sink_json_new(const struct ts_sink_cfg *cfg);
struct ts_sink *ts_sink_life_new(const struct ts_sink_cfg *cfg);
struct ts_sink *ts_sink_metrics_new(const struct ts_sink_cfg *cfg);
struct ts_sink *ts_sink_archive_new(const struct ts_sink_cfg *cfg);

#endif
