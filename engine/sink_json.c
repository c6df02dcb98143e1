// SPDX-License-Identifier: GPL-2.0
/* tcptop's JSON Lines: one object per session per interval. */
#include <stdlib.h>
#include "sink.h"

static void json_rows(struct ts_sink *k, const struct ts_row *rows, size_t n,
		      const struct ts_interval *iv)
{
	const struct ts_sink_cfg *c = &k->cfg;
	struct ts_top_fmt fmt = ts_sink_top_fmt(c, iv);
	size_t i, shown = 0;

	for (i = 0; i < n; i++) {
		if (!ts_sink_row_wanted(c, &rows[i]))
			continue;
		if (c->rows_set && shown++ >= c->rows)
			break;
		ts_top_json(c->out, &rows[i], &fmt);
	}
}

static const struct ts_sink_ops json_ops = {
	.rows = json_rows,
};

struct ts_sink *ts_sink_json_new(const struct ts_sink_cfg *cfg)
{
	struct ts_sink *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ops = &json_ops;
	k->cfg = *cfg;
	return k;
}
