// SPDX-License-Identifier: GPL-2.0
/*
 * Source: sock_diag dumps (poller/), one netlink socket per network
 * namespace.  Every dump walks the whole established hash, whatever it
 * returns (~1 ms here), so a namespace whose last dump was empty is not
 * dumped again until the close probe counts a birth in it.  Without the
 * probe (poll mode) every namespace is dumped every interval.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "source.h"
#include "netns.h"
#include "../poller/poller.h"

/* A periodic rescan finds namespaces nothing was born in yet. */
#define RESCAN_NS (2 * 1000000000ULL)
/* A birth in an unknown namespace asks for a rescan, at most this often. */
#define CUE_RESCAN_NS (100 * 1000000ULL)

struct ns_poll {
	struct ts_poller *poller;
	uint32_t netns;
	bool idle;			/* last dump held no session */
	uint64_t births;		/* the probe's count now */
	uint64_t births_dumped;		/* ... at the last dump */
	uint32_t seen_scan;		/* last scan that found it */
};

struct sockdiag {
	struct ts_source base;		/* first: the engine holds &base */
	struct ns_poll *ns;
	size_t n, cap;
	uint32_t scan;
	uint64_t last_scan_ns;
	bool cue;			/* a birth in a namespace we lack */
	uint64_t *cg_ids;		/* -c subtree for the dump bytecode */
	size_t n_cg_ids;
	bool bc_ok;			/* the kernel took the bytecode */
	uint64_t dumps_gone;		/* dumps of namespaces let go */
	uint64_t retries_gone;
};

static struct ns_poll *find_ns(struct sockdiag *sd, uint32_t netns)
{
	size_t i;

	for (i = 0; i < sd->n; i++)
		if (sd->ns[i].netns == netns)
			return &sd->ns[i];
	return NULL;
}

/* Too many cgroups for one request: the engine filters after parsing. */
static void apply_cgroups(struct sockdiag *sd, struct ts_poller *p)
{
	if (!sd->bc_ok || !sd->n_cg_ids)
		return;
	if (ts_poller_set_cgroups(p, sd->cg_ids, sd->n_cg_ids)) {
		sd->bc_ok = false;
		sd->base.env->stats->cgroup_in_dump = false;
	}
}

/* nsfd -1: our own namespace. */
static struct ns_poll *add_ns(struct sockdiag *sd, int nsfd)
{
	const struct ts_engine_opts *o = sd->base.env->opts;
	struct ts_poller *p;

	if (sd->n == sd->cap) {
		size_t ncap = sd->cap ? sd->cap * 2 : 16;
		struct ns_poll *nv = realloc(sd->ns, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		sd->ns = nv;
		sd->cap = ncap;
	}
	p = ts_poller_open_in(o->by_family ? TS_REQ_BY_FAMILY : TS_REQ_COMPAT,
			      o->nl_bufsize, nsfd);
	if (!p)
		return NULL;
	apply_cgroups(sd, p);
	sd->ns[sd->n] = (struct ns_poll){
		.poller = p,
		.netns = ts_poller_netns(p),
		.seen_scan = sd->scan,
	};
	return &sd->ns[sd->n++];
}

static void drop_ns(struct sockdiag *sd, size_t i)
{
	const struct ts_poller_stats *ps = ts_poller_stats(sd->ns[i].poller);

	sd->dumps_gone += ps->dumps;
	sd->retries_gone += ps->retries;
	ts_poller_close(sd->ns[i].poller);
	sd->ns[i] = sd->ns[--sd->n];
}

static void on_found(uint32_t netns, const char *path, void *arg)
{
	struct sockdiag *sd = arg;
	struct ts_engine_stats *st = sd->base.env->stats;
	struct ns_poll *ns = find_ns(sd, netns);
	int fd;

	if (ns) {
		ns->seen_scan = sd->scan;
		return;
	}
	/* The process may be gone, or the path now another namespace. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ts_netns_fd_inode(fd) == netns) {
		if (add_ns(sd, fd))
			st->netns_found++;
		else
			st->netns_failed++;
	}
	close(fd);
}

/* Takes up new namespaces and lets go of those nothing keeps any more. */
static void rescan(struct sockdiag *sd, uint64_t now)
{
	size_t i;

	sd->scan++;
	sd->last_scan_ns = now;
	sd->cue = false;
	sd->base.env->stats->netns_scans++;
	ts_netns_scan(on_found, sd);
	for (i = sd->n; i-- > 0;) {
		if (sd->ns[i].seen_scan == sd->scan)
			continue;
		drop_ns(sd, i);
		sd->base.env->stats->netns_gone++;
	}
}

static void on_births(uint32_t netns, uint64_t births, void *arg)
{
	struct sockdiag *sd = arg;
	struct ns_poll *ns = find_ns(sd, netns);

	if (ns)
		ns->births = births;
	else if (sd->base.env->scope == TS_NETNS_ALL)
		sd->cue = true;
}

static bool worth_dumping(const struct ns_poll *ns, bool births_known)
{
	return !births_known || !ns->idle || ns->births != ns->births_dumped;
}

/* The dump streams into the feed: no sample is kept in between. */
struct counted_feed {
	const struct ts_feed *feed;
	uint64_t samples;
};

static void count_sample(const struct ts_sample *s, void *arg)
{
	struct counted_feed *cf = arg;

	cf->samples++;
	cf->feed->sample(s, cf->feed->arg);
}

static int dump_ns(struct sockdiag *sd, struct ns_poll *ns, uint64_t *sockets)
{
	struct counted_feed cf = { sd->base.env->feed, 0 };
	uint64_t births = ns->births;
	int ret = ts_poller_dump(ns->poller, count_sample, &cf);

	if (ret)
		return ret;
	ns->births_dumped = births;
	ns->idle = cf.samples == 0;
	*sockets += cf.samples;
	return 0;
}

static void count_dumps(struct sockdiag *sd)
{
	struct ts_engine_stats *st = sd->base.env->stats;
	size_t i;

	st->dumps = sd->dumps_gone;
	st->dump_retries = sd->retries_gone;
	for (i = 0; i < sd->n; i++) {
		const struct ts_poller_stats *ps = ts_poller_stats(sd->ns[i].poller);

		st->dumps += ps->dumps;
		st->dump_retries += ps->retries;
	}
}

/* The kernel lacks INET_DIAG_BC_CGROUP_COND: filter after parsing. */
static void drop_bytecode(struct sockdiag *sd)
{
	size_t i;

	sd->bc_ok = false;
	sd->base.env->stats->cgroup_in_dump = false;
	for (i = 0; i < sd->n; i++)
		ts_poller_set_cgroups(sd->ns[i].poller, NULL, 0);
	ts_report(sd->base.env->report, TS_NOTICE, "this kernel cannot filter "
		  "sock_diag dumps by cgroup: filtering after parsing");
}

/* Namespaces other than ours may fail (gone mid-dump): one line each. */
static int dump_all(struct sockdiag *sd, bool births_known, char *err,
		    size_t errlen)
{
	struct ts_engine_stats *st = sd->base.env->stats;
	size_t i;

	st->dump_sockets = 0;
	st->namespaces = 0;
	for (i = 0; i < sd->n; i++) {
		struct ns_poll *ns = &sd->ns[i];
		int ret;

		if (!worth_dumping(ns, births_known)) {
			st->netns_idle_skips++;
			continue;
		}
		st->netns_polled++;
		st->namespaces++;
		ret = dump_ns(sd, ns, &st->dump_sockets);
		if (ret == -EINVAL && sd->bc_ok) {
			drop_bytecode(sd);
			ret = dump_ns(sd, ns, &st->dump_sockets);
		}
		if (!ret)
			continue;
		if (sd->base.env->scope != TS_NETNS_ALL || i == 0) {
			snprintf(err, errlen, "sock_diag dump failed: %s",
				 ret == -EBADMSG ? "malformed reply from the kernel" :
				 strerror(-ret));
			return ret;
		}
		ts_report(sd->base.env->report, TS_NOTICE, "network namespace %u: "
			  "sock_diag dump failed (%s): left out", ns->netns,
			  strerror(-ret));
		st->netns_failed++;
		drop_ns(sd, i--);
	}
	return 0;
}

static void refresh_subtree(struct sockdiag *sd)
{
	size_t i;

	if (!sd->base.env->cgroup_root || !sd->bc_ok)
		return;
	free(sd->cg_ids);
	sd->n_cg_ids = ts_cgroups_subtree(sd->base.env->cgroups,
					  sd->base.env->cgroup_root, &sd->cg_ids);
	for (i = 0; i < sd->n; i++)
		apply_cgroups(sd, sd->ns[i].poller);
}

static int sockdiag_collect(struct ts_source *s, char *err, size_t errlen)
{
	struct sockdiag *sd = (struct sockdiag *)s;
	const struct ts_source_env *env = s->env;
	uint64_t now = ts_monotonic_ns();
	bool births_known;
	int ret;

	births_known = env->births && env->births(on_births, sd, env->births_arg);
	if (env->scope == TS_NETNS_ALL &&
	    (now - sd->last_scan_ns >= RESCAN_NS ||
	     (sd->cue && now - sd->last_scan_ns >= CUE_RESCAN_NS))) {
		rescan(sd, now);
		refresh_subtree(sd);
		if (births_known)
			env->births(on_births, sd, env->births_arg);
	}
	ret = dump_all(sd, births_known, err, errlen);
	count_dumps(sd);
	return ret;
}

/* An idle namespace skipped keeps what its last dump saw. */
static bool sockdiag_listening(struct ts_source *s, uint16_t port)
{
	struct sockdiag *sd = (struct sockdiag *)s;
	size_t i;

	for (i = 0; i < sd->n; i++)
		if (ts_poller_listening(sd->ns[i].poller, port))
			return true;
	return false;
}

static void sockdiag_destroy(struct ts_source *s)
{
	struct sockdiag *sd = (struct sockdiag *)s;

	while (sd->n)
		drop_ns(sd, sd->n - 1);
	free(sd->ns);
	free(sd->cg_ids);
	free(sd);
}

static const struct ts_source_ops sockdiag_ops = {
	.collect = sockdiag_collect,
	.listening = sockdiag_listening,
	.destroy = sockdiag_destroy,
};

/* Ours first: its failure is fatal, another's is a notice. */
static int open_first(struct sockdiag *sd, char *err, size_t errlen)
{
	const struct ts_source_env *env = sd->base.env;
	int fd = -1;
	struct ns_poll *ns;

	if (env->scope == TS_NETNS_PATH) {
		fd = open(env->opts->netns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open %s: %s",
				 env->opts->netns_path, strerror(errno));
			return -1;
		}
	}
	ns = add_ns(sd, fd);
	if (fd >= 0)
		close(fd);
	if (ns)
		return 0;
	snprintf(err, errlen, "cannot open NETLINK_SOCK_DIAG socket%s: %s",
		 fd >= 0 ? " in that namespace" : "", strerror(errno));
	return -1;
}

struct ts_source *ts_sockdiag_open(const struct ts_source_env *env,
				   char *err, size_t errlen)
{
	struct sockdiag *sd = calloc(1, sizeof(*sd));

	if (!sd) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sd->base.ops = &sockdiag_ops;
	sd->base.env = env;
	sd->bc_ok = env->cgroup_root != 0;
	env->stats->cgroup_in_dump = sd->bc_ok;
	refresh_subtree(sd);
	if (open_first(sd, err, errlen)) {
		sockdiag_destroy(&sd->base);
		return NULL;
	}
	if (env->scope == TS_NETNS_ALL)
		rescan(sd, ts_monotonic_ns());
	return &sd->base;
}
