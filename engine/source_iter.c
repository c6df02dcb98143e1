// SPDX-License-Identifier: GPL-2.0
/*
 * Source: the BPF iterator over TCP sockets (tracer/tcpiter.c), where the
 * kernel has iter/tcp.  It lists only sockets whose counters or state
 * moved since its previous walk, so sessions end by the close probe's
 * events: hybrid mode only.  Every ITER_FULL_EVERY walks it lists every
 * socket once, which retires any session whose close event was lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "source.h"
#include "../tracer/tcpiter.h"

#define ITER_FULL_EVERY 64

struct itersrc {
	struct ts_source base;		/* first: the engine holds &base */
	struct ts_iter *iter;
	uint64_t walks;
};

static int iter_collect(struct ts_source *s, char *err, size_t errlen)
{
	struct itersrc *is = (struct itersrc *)s;
	const struct ts_feed *feed = s->env->feed;
	bool full = is->walks++ % ITER_FULL_EVERY == 0;
	int ret = ts_iter_walk(is->iter, full, feed->sample, feed->arg);

	if (ret) {
		snprintf(err, errlen, "iterator walk failed: %s", strerror(-ret));
		return ret;
	}
	s->env->stats->dumps++;
	return full ? 0 : TS_COLLECT_PARTIAL;
}

static void iter_destroy(struct ts_source *s)
{
	struct itersrc *is = (struct itersrc *)s;

	ts_iter_close(is->iter);
	free(is);
}

static const struct ts_source_ops iter_ops = {
	.collect = iter_collect,
	.destroy = iter_destroy,
};

struct ts_source *ts_itersrc_open(const struct ts_source_env *env,
				  char *err, size_t errlen)
{
	struct itersrc *is;

	/* One iterator walks the namespace it was made in. */
	if (env->scope == TS_NETNS_ALL) {
		snprintf(err, errlen, "the iterator walks one network namespace "
			 "(use --netns self or PATH)");
		return NULL;
	}
	is = calloc(1, sizeof(*is));
	if (!is) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	is->base.ops = &iter_ops;
	is->base.env = env;
	is->iter = ts_iter_open(env->netns, err, errlen);
	if (!is->iter) {
		free(is);
		return NULL;
	}
	return &is->base;
}
