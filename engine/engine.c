// SPDX-License-Identifier: GPL-2.0
/*
 * The engine: opens the sources a mode needs (sources.c), feeds their
 * samples and close events to the accounting core, finds owners, and
 * hands rows or whole sessions to the sinks.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "engine.h"
#include "sink.h"
#include "source.h"
#include "netns.h"
#include "../common/opts.h"
#include "../poller/owners.h"

/* Dumps a vanished session waits for its close event (hybrid). */
#define CLOSE_GRACE 2
#define MAX_SOURCES 4
#define MAX_SINKS 4

struct ts_engine {
	struct ts_engine_opts opts;
	enum ts_mode mode;
	struct ts_source *sources[MAX_SOURCES];
	size_t n_sources;
	struct ts_sink *sinks[MAX_SINKS];
	size_t n_sinks;
	struct ts_feed feed;
	struct ts_source_env env;
	struct ts_acct *acct;
	struct ts_owners *owners;
	struct ts_cgroups *cgroups;
	uint64_t cgroup_root;		/* -c; 0: none */
	struct ts_engine_stats stats;
	uint64_t prev_ns;		/* end of the last interval */
	uint64_t lost_reported;
	uint64_t map_full_reported;
	bool final;			/* the next interval is the last */
	/* rows_and_life: events drained between intervals, for the next one. */
	struct ts_close_event *held;
	size_t n_held, cap_held;
	bool in_interval;		/* a dump just ended: events go through */
};

uint64_t ts_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

double ts_mono_to_unix(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (rt.tv_sec - mono.tv_sec) + (rt.tv_nsec - mono.tv_nsec) / 1e9;
}

void ts_catch_signals(void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *ts_mode_name(enum ts_mode mode)
{
	switch (mode) {
	case TS_MODE_POLL:
		return "poll";
	case TS_MODE_TRACE:
		return "trace";
	default:
		return "hybrid";
	}
}

void ts_engine_netns_opts(struct ts_engine_opts *o,
			  const struct ts_common_opts *common)
{
	const char *s = common->netns;

	o->cgroup = common->cgroup;
	o->netns_path = NULL;
	if (!s)
		o->netns = TS_NETNS_DEFAULT;
	else if (!strcmp(s, "all"))
		o->netns = TS_NETNS_ALL;
	else if (!strcmp(s, "self"))
		o->netns = TS_NETNS_SELF;
	else {
		o->netns = TS_NETNS_PATH;
		o->netns_path = s;
	}
}

bool ts_parse_poll_source(const char *s, enum ts_poll_source *poll)
{
	if (!strcmp(s, "sock_diag"))
		*poll = TS_POLL_SOCK_DIAG;
	else if (!strcmp(s, "iter"))
		*poll = TS_POLL_ITER;
	else if (!strcmp(s, "auto"))
		*poll = TS_POLL_AUTO;
	else
		return false;
	return true;
}

bool ts_parse_mode(const char *s, enum ts_mode *mode)
{
	static const enum ts_mode modes[] = {
		TS_MODE_HYBRID, TS_MODE_POLL, TS_MODE_TRACE,
	};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(s, ts_mode_name(modes[i]))) {
			*mode = modes[i];
			return true;
		}
	}
	return false;
}

bool ts_engine_option(const char *prog, const char *usage, int c,
		      const char *arg, struct ts_engine_opts *o)
{
	switch (c) {
	case TS_OPT_MODE:
		if (!ts_parse_mode(arg, &o->mode))
			ts_usage_error(prog, usage, "unknown mode: '%s'", arg);
		return true;
	case TS_OPT_ATTACH:
		if (!ts_parse_attach(arg, &o->attach))
			ts_usage_error(prog, usage, "unknown attach type: '%s'", arg);
		return true;
	case TS_OPT_MAP:
		if (!ts_parse_u32(arg, 16, 1 << 24, &o->map_entries))
			ts_usage_error(prog, usage,
				       "invalid map size: '%s' (16..16777216)", arg);
		return true;
	case TS_OPT_SOURCE:
		if (!ts_parse_poll_source(arg, &o->poll))
			ts_usage_error(prog, usage, "unknown source: '%s'", arg);
		return true;
	}
	return false;
}

static void to_sinks_life(struct ts_engine *e, const struct ts_life *l)
{
	size_t i;

	for (i = 0; i < e->n_sinks; i++)
		if (e->sinks[i]->ops->life)
			e->sinks[i]->ops->life(e->sinks[i], l);
}

/*
 * Whole-life bytes: the SYN flag comes from the probe when it saw the
 * birth, else from the baseline dump's verdict on that cookie.
 */
static void life_of(struct ts_engine *e, const struct ts_close_event *ev)
{
	struct ts_session_info info;
	bool known = ts_acct_session_info(e->acct, ev->cookie, &info);
	struct ts_life l = {
		.cookie = ev->cookie,
		.birth_ns = ev->birth_ns,
		.close_ns = ev->close_ns,
	};
	int syn = !!(ev->flags & TS_CF_ACTIVE);

	if (!(ev->flags & TS_CF_ACTIVE_KNOWN) && known)
		syn = info.syn;
	l.tuple.family = ev->family;
	l.tuple.lport = ev->lport;
	l.tuple.rport = ev->rport;
	memcpy(l.tuple.laddr, ev->laddr, 16);
	memcpy(l.tuple.raddr, ev->raddr, 16);
	l.tuple.netns = ev->netns;
	l.tuple.cgroup = ev->cgroup_id;
	l.active = syn;
	l.tx = ts_close_tx(ev, syn);
	l.rx = ts_close_rx(ev);
	if (ev->flags & TS_CF_OWNER) {
		l.pid = ev->pid;
		memcpy(l.comm, ev->comm, TS_COMM_LEN);
	} else if (known && info.pid) {
		l.pid = info.pid;
		memcpy(l.comm, info.comm, TS_COMM_LEN);
	}
	l.comm[TS_COMM_LEN - 1] = '\0';
	to_sinks_life(e, &l);
}

/* -c after the kernel's filters: what they cannot do, and a safety net. */
static bool cgroup_wanted(struct ts_engine *e, uint64_t id)
{
	if (!e->cgroup_root || ts_cgroups_within(e->cgroups, id, e->cgroup_root))
		return true;
	e->stats.cgroup_filtered++;
	return false;
}

/* Both: the life record first, while the table still knows the session. */
static void deliver(struct ts_engine *e, const struct ts_close_event *ev)
{
	if (e->opts.whole_life || e->opts.rows_and_life)
		life_of(e, ev);
	if (!e->opts.whole_life)
		ts_acct_close(e->acct, ev);
}

static bool hold(struct ts_engine *e, const struct ts_close_event *ev)
{
	if (e->n_held == e->cap_held) {
		size_t cap = e->cap_held ? 2 * e->cap_held : 1024;
		struct ts_close_event *v = realloc(e->held, cap * sizeof(*v));

		if (!v)
			return false;
		e->held = v;
		e->cap_held = cap;
	}
	e->held[e->n_held++] = *ev;
	return true;
}

static void deliver_held(struct ts_engine *e)
{
	size_t i;

	for (i = 0; i < e->n_held; i++)
		deliver(e, &e->held[i]);
	e->n_held = 0;
}

static int on_close(const struct ts_close_event *ev, void *arg)
{
	struct ts_engine *e = arg;

	e->stats.events++;
	if (ev->flags & TS_CF_RELEASED)
		e->stats.owner_released++;
	if (!cgroup_wanted(e, ev->cgroup_id))
		return 0;
	if (e->opts.rows_and_life && !e->in_interval) {
		if (!hold(e, ev))
			e->stats.held_oom++;
		return 0;
	}
	deliver(e, ev);
	return 0;
}

static void on_sample(const struct ts_sample *s, void *arg)
{
	struct ts_engine *e = arg;

	if (cgroup_wanted(e, s->tuple.cgroup))
		ts_acct_sample(e->acct, s);
}

static bool runs_in(const struct ts_source_reg *reg, enum ts_mode mode)
{
	return reg->modes & (1u << mode);
}

/*
 * One poll source runs: the one --source names, or under auto the
 * iterator where it loads, else sock_diag (the default).
 */
static bool poll_wanted(const struct ts_engine *e,
			const struct ts_source_reg *reg, bool have_poll)
{
	enum ts_poll_source want = e->opts.poll ? e->opts.poll :
				   TS_POLL_SOCK_DIAG;

	if (reg->poll == TS_POLL_NONE)
		return true;
	if (have_poll)
		return false;
	return want == TS_POLL_AUTO || want == reg->poll;
}

/* A hybrid tcptop whose probe cannot load goes on polling, and says so. */
static int open_sources(struct ts_engine *e, char *err, size_t errlen)
{
	const struct ts_source_reg *reg;
	bool have_poll = false;
	char why[256];

	for (reg = ts_sources; reg->open; reg++) {
		struct ts_source *s;

		if (!runs_in(reg, e->mode) || !poll_wanted(e, reg, have_poll))
			continue;
		s = reg->open(&e->env, why, sizeof(why));
		if (s) {
			e->sources[e->n_sources++] = s;
			if (reg->poll != TS_POLL_NONE) {
				have_poll = true;
				e->stats.poll_source = reg->name;
			}
			continue;
		}
		/* auto: the iterator is a bonus, sock_diag follows. */
		if (reg->poll == TS_POLL_ITER && e->opts.poll == TS_POLL_AUTO)
			continue;
		/* tcplife is nothing without the probe; nor is a hook asked for. */
		if (!reg->hybrid_optional || e->opts.whole_life ||
		    e->mode != TS_MODE_HYBRID ||
		    e->opts.filter.owner_hooks != TS_OWN_AUTO) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		ts_report(&e->opts.report, TS_WARNING, "hybrid mode unavailable "
			  "(%s); falling back to --mode poll", why);
		e->mode = TS_MODE_POLL;
	}
	return 0;
}

/* The first source that sees births answers. */
static bool births_of_sources(ts_births_fn fn, void *fn_arg, void *arg)
{
	struct ts_engine *e = arg;
	size_t i;

	for (i = 0; i < e->n_sources; i++)
		if (e->sources[i]->ops->births &&
		    e->sources[i]->ops->births(e->sources[i], fn, fn_arg))
			return true;
	return false;
}

/* --netns: which namespace the probes watch (0: all). */
static int resolve_netns(struct ts_engine *e, char *err, size_t errlen)
{
	struct ts_source_env *env = &e->env;

	env->scope = e->opts.netns;
	if (env->scope == TS_NETNS_DEFAULT)
		env->scope = ts_netns_sees_all() ? TS_NETNS_ALL : TS_NETNS_SELF;
	switch (env->scope) {
	case TS_NETNS_ALL:
		if (geteuid()) {
			snprintf(err, errlen, "--netns all needs root "
				 "(setns into every namespace)");
			return -1;
		}
		env->netns = 0;
		return 0;
	case TS_NETNS_PATH:
		env->netns = ts_netns_inode(e->opts.netns_path);
		if (!env->netns) {
			snprintf(err, errlen, "not a network namespace: '%s'",
				 e->opts.netns_path);
			return -1;
		}
		return 0;
	default:
		env->netns = ts_netns_self();
		return 0;
	}
}

/* -c: the probe gets the id and depth; the dump its subtree. */
static int resolve_cgroup(struct ts_engine *e, char *err, size_t errlen)
{
	uint32_t level;

	if (!e->opts.cgroup)
		return 0;
	if (!ts_cgroups_resolve(e->cgroups, e->opts.cgroup, &e->cgroup_root,
				&level, err, errlen))
		return -1;
	e->opts.filter.cgroup_id = e->cgroup_root;
	e->opts.filter.cgroup_level = level;
	e->env.cgroup_root = e->cgroup_root;
	return 0;
}

struct ts_engine *ts_engine_open(const struct ts_engine_opts *o,
				 char *err, size_t errlen)
{
	struct ts_engine *e;

	/*
	 * Big tables from mmap, always: once libbpf frees its BTF buffers,
	 * glibc's sliding threshold would put them on the heap, where every
	 * doubling leaves the old copy resident.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->opts = *o;
	e->mode = o->mode;
	e->feed = (struct ts_feed){ on_sample, on_close, e };
	e->cgroups = ts_cgroups_new();
	if (!e->cgroups) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	e->env = (struct ts_source_env){
		.opts = &e->opts,
		.feed = &e->feed,
		.report = &e->opts.report,
		.stats = &e->stats,
		.cgroups = e->cgroups,
		.births = births_of_sources,
		.births_arg = e,
		.final = &e->final,
	};
	if (resolve_netns(e, err, errlen) || resolve_cgroup(e, err, errlen) ||
	    open_sources(e, err, errlen))
		goto fail;
	/* Nothing reaches the core before the first collect or drain. */
	e->acct = ts_acct_new(e->mode != TS_MODE_POLL, CLOSE_GRACE);
	e->owners = ts_owners_new();
	if (!e->acct || !e->owners) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return e;
fail:
	ts_engine_close(e);
	return NULL;
}

void ts_engine_close(struct ts_engine *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n_sources; i++)
		e->sources[i]->ops->destroy(e->sources[i]);
	for (i = 0; i < e->n_sinks; i++)
		ts_sink_close(e->sinks[i]);
	ts_acct_free(e->acct);
	ts_owners_free(e->owners);
	ts_cgroups_free(e->cgroups);
	free(e->held);
	free(e);
}

bool ts_engine_add_sink(struct ts_engine *e, struct ts_sink *k)
{
	if (!k || e->n_sinks == MAX_SINKS) {
		ts_sink_close(k);
		return false;
	}
	k->cfg.cgroups = e->cgroups;
	k->cfg.life.cgroups = e->cgroups;
	k->cfg.engine = e;
	e->sinks[e->n_sinks++] = k;
	return true;
}

enum ts_mode ts_engine_mode(const struct ts_engine *e)
{
	return e->mode;
}

static int collect(struct ts_engine *e, char *err, size_t errlen)
{
	bool partial = false;
	size_t i;
	int ret = 0;

	ts_acct_poll_begin(e->acct, ts_monotonic_ns());
	for (i = 0; i < e->n_sources && ret >= 0; i++) {
		if (!e->sources[i]->ops->collect)
			continue;
		ret = e->sources[i]->ops->collect(e->sources[i], err, errlen);
		partial |= ret == TS_COLLECT_PARTIAL;
	}
	if (partial)
		ts_acct_poll_end_partial(e->acct, ts_monotonic_ns());
	else
		ts_acct_poll_end_at(e->acct, ts_monotonic_ns());
	return ret < 0 ? ret : 0;
}

/* Without a source that drains (poll mode) a wait only sleeps. */
static int drain(struct ts_engine *e, int timeout_ms, char *err, size_t errlen)
{
	bool drained = false;
	size_t i;
	int ret = 0;

	for (i = 0; i < e->n_sources && !ret; i++) {
		if (!e->sources[i]->ops->drain)
			continue;
		drained = true;
		ret = e->sources[i]->ops->drain(e->sources[i], timeout_ms,
						err, errlen);
	}
	if (!drained && timeout_ms > 0)
		poll(NULL, 0, timeout_ms);
	return ret;
}

static bool owner_of_sources(struct ts_engine *e, const struct ts_tuple *t,
			     uint32_t *pid, char *comm)
{
	size_t i;

	for (i = 0; i < e->n_sources; i++)
		if (e->sources[i]->ops->owner &&
		    e->sources[i]->ops->owner(e->sources[i], t, pid, comm))
			return true;
	return false;
}

/* A source's answer costs a map lookup; /proc costs a scan. */
static void owner_from_sources(uint64_t cookie, uint32_t inode,
			       const struct ts_tuple *tuple, void *arg)
{
	struct ts_engine *e = arg;
	char comm[TS_COMM_LEN];
	uint32_t pid;

	if (owner_of_sources(e, tuple, &pid, comm))
		ts_acct_set_owner(e->acct, cookie, pid, comm);
	else if (inode)
		ts_owners_want(e->owners, inode);
}

/*
 * What /proc said; a session nobody visible holds is not asked again.  A
 * process that closed the socket during the scan is gone from /proc, but
 * its close() told the probe by then: ask the sources once more.
 */
static void owner_from_proc(uint64_t cookie, uint32_t inode,
			    const struct ts_tuple *tuple, void *arg)
{
	struct ts_engine *e = arg;
	char source_comm[TS_COMM_LEN];
	const char *comm = NULL;
	uint32_t pid = 0;

	if (inode)
		ts_owners_lookup(e->owners, inode, &pid, &comm);
	if (!pid && owner_of_sources(e, tuple, &pid, source_comm))
		comm = source_comm;
	ts_acct_set_owner(e->acct, cookie, pid, comm);
}

/*
 * Only sessions never looked up are asked for, so an idle server costs
 * nothing here.  Hybrid: the probe knows the owners of every session born
 * since it was attached (connect, accept, close), orphans included, so
 * /proc is read for the rest only: sessions older than the tool.  A
 * session without an owner is not asked again until it gets a new inode
 * (accepted from the queue).
 */
static void resolve_owners(struct ts_engine *e)
{
	ts_acct_foreach_unowned(e->acct, owner_from_sources, e);
	ts_owners_resolve(e->owners);
	ts_acct_foreach_unowned(e->acct, owner_from_proc, e);
	ts_owners_clear(e->owners);
}

static int touch(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		snprintf(err, errlen, "cannot create %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	fclose(f);
	return 0;
}

/*
 * The first drain would otherwise come only after the baseline dump and
 * the owner scan of every socket, which at a million sockets take seconds
 * while closes keep filling the ring: drain after each of them.
 */
int ts_engine_start(struct ts_engine *e, char *err, size_t errlen)
{
	size_t i;
	int ret = collect(e, err, errlen);

	/* Right after the baseline dump: tcptop's order, nothing to hold. */
	e->in_interval = true;
	if (!ret && !e->opts.whole_life)
		ret = drain(e, 0, err, errlen);
	if (!ret) {
		resolve_owners(e);
		if (!e->opts.whole_life)
			ret = drain(e, 0, err, errlen);
	}
	e->in_interval = false;
	if (ret)
		return ret;
	for (i = 0; i < e->n_sinks; i++)
		if (e->sinks[i]->ops->begin)
			e->sinks[i]->ops->begin(e->sinks[i]);
	e->prev_ns = ts_monotonic_ns();
	return e->opts.ready_file ? touch(e->opts.ready_file, err, errlen) : 0;
}

/* Losses are said once, as they happen; the rows carry them too. */
static uint64_t report_losses(struct ts_engine *e)
{
	uint64_t lost = e->stats.lost - e->lost_reported;

	if (lost)
		ts_report(&e->opts.report, TS_NOTICE, e->opts.whole_life ?
			  "lost %llu sessions (ring buffer full: raise --ring-size)" :
			  "lost %llu close events this interval (ring buffer "
			  "full: raise --ring-size)", (unsigned long long)lost);
	e->lost_reported = e->stats.lost;
	if (e->stats.map_full != e->map_full_reported) {
		e->map_full_reported = e->stats.map_full;
		ts_report(&e->opts.report, TS_NOTICE, "%llu send/recv calls found "
			  "the trace map full so far: their bytes are not counted "
			  "(raise --map-size)", (unsigned long long)e->stats.map_full);
	}
	return lost;
}

static void to_sinks_rows(struct ts_engine *e, const struct ts_row *rows,
			  size_t n, uint64_t lost)
{
	uint64_t now = ts_monotonic_ns();
	struct ts_interval iv = {
		.ts = wall_now(),
		.seconds = (now - e->prev_ns) / 1e9,
		.lost = lost,
		.mode = e->mode,
	};
	size_t i;

	e->prev_ns = now;
	for (i = 0; i < e->n_sinks; i++)
		if (e->sinks[i]->ops->rows)
			e->sinks[i]->ops->rows(e->sinks[i], rows, n, &iv);
}

void ts_engine_set_final(struct ts_engine *e)
{
	e->final = true;
}

int ts_engine_interval(struct ts_engine *e, enum ts_sort sort,
		       const struct ts_row **rows, size_t *n,
		       char *err, size_t errlen)
{
	int ret = collect(e, err, errlen);

	if (ret)
		return ret;
	/* Held events after the dump, as if drained now (rows_and_life). */
	e->in_interval = true;
	deliver_held(e);
	/*
	 * Owners before the drain: a session that closes while /proc is read
	 * has left /proc and the probe's map by then, but its close event,
	 * drained next, names its owner before the row goes out.
	 */
	resolve_owners(e);
	ret = drain(e, 0, err, errlen);
	e->in_interval = false;
	if (ret)
		return ret;
	*n = ts_acct_rows(e->acct, sort, rows);
	to_sinks_rows(e, *rows, *n, report_losses(e));
	return 0;
}

int ts_engine_wait(struct ts_engine *e, int timeout_ms, char *err,
		   size_t errlen)
{
	int ret = drain(e, timeout_ms, err, errlen);

	if (ret)
		return ret;
	report_losses(e);
	return 0;
}

bool ts_engine_port_listening(const struct ts_engine *e, uint16_t port)
{
	size_t i;

	for (i = 0; i < e->n_sources; i++)
		if (e->sources[i]->ops->listening &&
		    e->sources[i]->ops->listening(e->sources[i], port))
			return true;
	return false;
}

const struct ts_engine_stats *ts_engine_stats(struct ts_engine *e)
{
	return &e->stats;
}

const struct ts_acct_stats *ts_engine_acct_stats(const struct ts_engine *e)
{
	return ts_acct_stats(e->acct);
}

void ts_engine_print_stats(struct ts_engine *e, FILE *f, const char *prog)
{
	const struct ts_acct_stats *a = ts_acct_stats(e->acct);
	const struct ts_owner_stats *o = ts_owners_stats(e->owners);
	bool trace = e->mode == TS_MODE_TRACE;

	fprintf(f, "%s: stats: mode %s%s%s source %s dumps %llu dump_retries %llu sessions %llu "
		"born %llu closed_seen %llu closed_unseen %llu "
		"closed_prebaseline %llu retired_unclosed %llu late_samples %llu "
		"syn_guessed %llu syn_fixed %llu race_late %llu events %llu lost %llu "
		"map_full %llu owner_scans %llu owner_full_scans %llu oom %llu "
		"netns_polled %llu netns_idle_skips %llu netns_found %llu "
		"netns_gone %llu netns_failed %llu netns_scans %llu "
		"cgroup_filtered %llu cgroup_in_dump %d cgroup_walks %llu "
		"owner_hooks %s cookies %s owner_released %llu "
		"owner_timeouts %llu\n",
		prog, ts_mode_name(e->mode), trace ? " attach " : "",
		trace ? ts_attach_name(e->stats.attach) : "",
		e->stats.poll_source ? e->stats.poll_source : "-",
		(unsigned long long)e->stats.dumps,
		(unsigned long long)e->stats.dump_retries,
		(unsigned long long)a->sessions, (unsigned long long)a->born,
		(unsigned long long)a->closed_seen,
		(unsigned long long)a->closed_unseen,
		(unsigned long long)a->closed_prebaseline,
		(unsigned long long)a->retired_unclosed,
		(unsigned long long)a->late_samples,
		(unsigned long long)a->syn_guessed,
		(unsigned long long)a->syn_fixed,
		(unsigned long long)a->race_late,
		(unsigned long long)e->stats.events,
		(unsigned long long)e->stats.lost,
		(unsigned long long)e->stats.map_full,
		(unsigned long long)o->scans_hot,
		(unsigned long long)o->scans_full,
		(unsigned long long)a->oom,
		(unsigned long long)e->stats.netns_polled,
		(unsigned long long)e->stats.netns_idle_skips,
		(unsigned long long)e->stats.netns_found,
		(unsigned long long)e->stats.netns_gone,
		(unsigned long long)e->stats.netns_failed,
		(unsigned long long)e->stats.netns_scans,
		(unsigned long long)e->stats.cgroup_filtered,
		e->stats.cgroup_in_dump,
		(unsigned long long)ts_cgroups_stats(e->cgroups)->walks,
		e->stats.owner_hooks ? e->stats.owner_hooks : "-",
		e->stats.cookies ? e->stats.cookies : "-",
		(unsigned long long)e->stats.owner_released,
		(unsigned long long)e->stats.owner_timeouts);
}
