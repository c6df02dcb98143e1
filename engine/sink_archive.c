// SPDX-License-Identifier: GPL-2.0
/*
 * tcpsightd's archive: interval rows as tcptop's JSON objects into the
 * "intervals" stream, whole sessions as tcplife's into "sessions"
 * (sinks/jsonl.c compresses and rotates).  Records are printed into one
 * reused memory buffer, then added whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include "sink.h"
#include "../sinks/jsonl.h"

struct archive_sink {
	struct ts_sink base;		/* first: the engine holds &base */
	FILE *rec;
	char *rec_buf;
	size_t rec_size;
};

static void record_to(struct archive_sink *as, struct ts_jsonl *j)
{
	long len;

	fflush(as->rec);
	len = ftell(as->rec);
	if (len > 0)
		ts_jsonl_add(j, as->rec_buf, (size_t)len);
	rewind(as->rec);
}

static void archive_rows(struct ts_sink *k, const struct ts_row *rows,
			 size_t n, const struct ts_interval *iv)
{
	struct archive_sink *as = (struct archive_sink *)k;
	const struct ts_sink_cfg *c = &k->cfg;
	struct ts_top_fmt fmt = ts_sink_top_fmt(c, iv);
	size_t i;

	for (i = 0; i < n; i++) {
		if (!ts_sink_row_wanted(c, &rows[i]))
			continue;
		ts_top_json(as->rec, &rows[i], &fmt);
		record_to(as, c->intervals);
	}
}

static void archive_life(struct ts_sink *k, const struct ts_life *l)
{
	struct archive_sink *as = (struct archive_sink *)k;
	const struct ts_sink_cfg *c = &k->cfg;

	if (!ts_sink_wants(c, l->pid, l->tuple.family))
		return;
	ts_life_line(as->rec, l, &c->life);
	record_to(as, c->sessions);
}

static void archive_destroy(struct ts_sink *k)
{
	struct archive_sink *as = (struct archive_sink *)k;

	if (as->rec)
		fclose(as->rec);
	free(as->rec_buf);
	free(as);
}

static const struct ts_sink_ops archive_ops = {
	.rows = archive_rows,
	.life = archive_life,
	.destroy = archive_destroy,
};

struct ts_sink *ts_sink_archive_new(const struct ts_sink_cfg *cfg)
{
	struct archive_sink *as;

	if (!cfg->intervals || !cfg->sessions)
		return NULL;
	as = calloc(1, sizeof(*as));
	if (!as)
		return NULL;
	as->base.ops = &archive_ops;
	as->base.cfg = *cfg;
	as->base.cfg.life.json = true;
	as->rec = open_memstream(&as->rec_buf, &as->rec_size);
	if (!as->rec) {
		free(as);
		return NULL;
	}
	return &as->base;
}
