// SPDX-License-Identifier: GPL-2.0
/* Source: the close-path probe's events and owners (tracer/tracer.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "source.h"
#include "../tracer/tracer.h"

struct closeprobe {
	struct ts_source base;		/* first: the engine holds &base */
	struct ts_tracer *tracer;
	uint64_t last_drain_ns;		/* reset sessions wait one interval */
};

/* tcplife: how long a reset session waits for its owner's close(). */
#define OWNER_WAIT_NS 500000000ULL

/*
 * A session a reset ended waits for its owner's close(): tcptop until the
 * next drain (one interval, well within the dumps after which the core
 * would retire it unclosed), tcplife OWNER_WAIT_NS.  The last call waits
 * for nothing (tcplife's is the one with timeout 0).
 */
static void flush_pending(struct closeprobe *cp, int timeout_ms)
{
	const struct ts_source_env *env = cp->base.env;
	uint64_t now = ts_monotonic_ns(), before;

	if (env->opts->whole_life)
		before = timeout_ms ? now - OWNER_WAIT_NS : now + 1;
	else
		before = *env->final ? now + 1 : cp->last_drain_ns;
	ts_tracer_flush_pending(cp->tracer, before);
	cp->last_drain_ns = now;
	env->stats->owner_timeouts = ts_tracer_owner_timeouts(cp->tracer);
}

static int closeprobe_drain(struct ts_source *s, int timeout_ms, char *err,
			    size_t errlen)
{
	struct closeprobe *cp = (struct closeprobe *)s;
	int ret = ts_tracer_wait(cp->tracer, timeout_ms);

	if (ret < 0 && ret != -EINTR) {
		snprintf(err, errlen, "ring buffer: %s", strerror(-ret));
		return ret;
	}
	flush_pending(cp, timeout_ms);
	s->env->stats->lost = ts_tracer_lost(cp->tracer);
	return 0;
}

/* The probe's answer costs one map lookup; /proc costs a scan. */
static bool closeprobe_owner(struct ts_source *s, const struct ts_tuple *t,
			     uint32_t *pid, char *comm)
{
	struct closeprobe *cp = (struct closeprobe *)s;

	return ts_tracer_owner(cp->tracer, t, pid, comm);
}

static bool closeprobe_births(struct ts_source *s, ts_births_fn fn, void *arg)
{
	struct closeprobe *cp = (struct closeprobe *)s;

	return ts_tracer_births(cp->tracer, fn, arg) == 0;
}

static void closeprobe_destroy(struct ts_source *s)
{
	struct closeprobe *cp = (struct closeprobe *)s;

	ts_tracer_close(cp->tracer);
	free(cp);
}

static const struct ts_source_ops closeprobe_ops = {
	.drain = closeprobe_drain,
	.owner = closeprobe_owner,
	.births = closeprobe_births,
	.destroy = closeprobe_destroy,
};

struct ts_source *ts_closeprobe_open(const struct ts_source_env *env,
				     char *err, size_t errlen)
{
	const struct ts_engine_opts *o = env->opts;
	struct ts_tracer_opts to = o->filter;
	struct closeprobe *cp = calloc(1, sizeof(*cp));
	const char *hooks_why;

	if (!cp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cp->base.ops = &closeprobe_ops;
	cp->base.env = env;
	to.ring_bytes = o->ring_bytes;
	to.births_max = o->births_max;
	to.netns = env->netns;
	to.wakeup = o->whole_life;
	cp->tracer = ts_tracer_open(&to, env->feed->close, env->feed->arg,
				    err, errlen);
	if (!cp->tracer) {
		free(cp);
		return NULL;
	}
	env->stats->owner_hooks =
		ts_owner_hooks_name(ts_tracer_owner_hooks(cp->tracer, &hooks_why));
	env->stats->cookies = ts_tracer_cookies(cp->tracer) ? "sock_ops" :
			      "synthetic";
	if (hooks_why)
		ts_report(env->report, TS_WARNING, "%s: owners of accepted "
			  "sockets are best effort", hooks_why);
	return &cp->base;
}
