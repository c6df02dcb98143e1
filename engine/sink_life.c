// SPDX-License-Identifier: GPL-2.0
/* tcplife's lines: bcc's table, CSV (-s) or JSON, one per finished session. */
#include <stdlib.h>
#include "sink.h"

struct life_sink {
	struct ts_sink base;		/* first: the engine holds &base */
	bool seen_first;
};

static void life_line(struct ts_sink *k, const struct ts_life *l)
{
	struct life_sink *ls = (struct life_sink *)k;
	struct ts_life_fmt *fmt = &k->cfg.life;

	if (!ls->seen_first) {
		fmt->first_ts = l->close_ns / 1e9 + fmt->mono_to_unix;
		ls->seen_first = true;
	}
	ts_life_line(k->cfg.out, l, fmt);
}

static void life_begin(struct ts_sink *k)
{
	ts_life_header(k->cfg.out, &k->cfg.life);
}

static const struct ts_sink_ops life_ops = {
	.begin = life_begin,
	.life = life_line,
};

struct ts_sink *ts_sink_life_new(const struct ts_sink_cfg *cfg)
{
	struct life_sink *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->base.ops = &life_ops;
	ls->base.cfg = *cfg;
	return &ls->base;
}
