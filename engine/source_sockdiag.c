// SPDX-License-Identifier: GPL-2.0
/* Source: one sock_diag dump per interval (poller/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "source.h"
#include "../poller/poller.h"

struct sockdiag {
	struct ts_source base;		/* first: the engine holds &base */
	struct ts_poller *poller;
};

static int sockdiag_collect(struct ts_source *s, char *err, size_t errlen)
{
	struct sockdiag *sd = (struct sockdiag *)s;
	const struct ts_feed *feed = s->env->feed;
	const struct ts_poller_stats *ps;
	const struct ts_dump *d;
	size_t i;
	int ret;

	ret = ts_poller_dump(sd->poller, &d);
	ps = ts_poller_stats(sd->poller);
	s->env->stats->dumps = ps->dumps;
	s->env->stats->dump_retries = ps->retries;
	if (ret) {
		snprintf(err, errlen, "sock_diag dump failed: %s",
			 ret == -EBADMSG ? "malformed reply from the kernel" :
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < d->n; i++)
		feed->sample(&d->v[i], feed->arg);
	return 0;
}

static void sockdiag_destroy(struct ts_source *s)
{
	struct sockdiag *sd = (struct sockdiag *)s;

	ts_poller_close(sd->poller);
	free(sd);
}

static const struct ts_source_ops sockdiag_ops = {
	.collect = sockdiag_collect,
	.destroy = sockdiag_destroy,
};

struct ts_source *ts_sockdiag_open(const struct ts_source_env *env,
				   char *err, size_t errlen)
{
	const struct ts_engine_opts *o = env->opts;
	struct sockdiag *sd = calloc(1, sizeof(*sd));

	if (!sd) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sd->base.ops = &sockdiag_ops;
	sd->base.env = env;
	sd->poller = ts_poller_open(o->by_family ? TS_REQ_BY_FAMILY :
				    TS_REQ_COMPAT, o->nl_bufsize);
	if (!sd->poller) {
		snprintf(err, errlen, "cannot open NETLINK_SOCK_DIAG socket: %s",
			 strerror(errno));
		free(sd);
		return NULL;
	}
	return &sd->base;
}
