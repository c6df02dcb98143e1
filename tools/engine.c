// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "engine.h"
#include "../poller/poller.h"
#include "../poller/owners.h"
#include "../tracer/tracemode.h"
#include "../common/opts.h"

/* Dumps a vanished session waits for its close event (hybrid). */
#define CLOSE_GRACE 2

struct ts_engine {
	enum ts_mode mode;
	const char *ready_file;
	ts_life_fn life_fn;
	void *life_arg;
	bool rows_and_life;
	/*
	 * rows_and_life: events drained between polls wait here for the next
	 * poll, so the core sees them in tcptop's order (dump, then the
	 * events): a dump racing a close must come first (README).
	 */
	struct ts_close_event *held;
	size_t n_held;
	size_t cap_held;
	bool in_interval;
	const struct ts_dump *last_dump;
	struct ts_poller *poller;
	struct ts_tracer *tracer;
	struct ts_trace *trace;		/* trace mode instead of poller+tracer */
	struct ts_dump trace_dump;
	enum ts_attach attach;
	struct ts_acct *acct;
	struct ts_owners *owners;
	struct ts_engine_stats stats;
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

static uint32_t own_netns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return 0;
	return (uint32_t)st.st_ino;
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
	l.active = syn;
	l.tuple.family = ev->family;
	l.tuple.lport = ev->lport;
	l.tuple.rport = ev->rport;
	memcpy(l.tuple.laddr, ev->laddr, 16);
	memcpy(l.tuple.raddr, ev->raddr, 16);
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
	e->life_fn(&l, e->life_arg);
}

static void deliver(struct ts_engine *e, const struct ts_close_event *ev)
{
	/* Before the core closes it: life_of asks the table what it knew. */
	if (e->life_fn)
		life_of(e, ev);
	if (!e->life_fn || e->rows_and_life)
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
	if (e->rows_and_life && !e->in_interval) {
		if (!hold(e, ev))
			e->stats.held_oom++;
		return 0;
	}
	deliver(e, ev);
	return 0;
}

static bool open_tracer(struct ts_engine *e, const struct ts_engine_opts *o,
			char *why, size_t len)
{
	struct ts_tracer_opts to = o->filter;
	const char *accept_why;

	to.ring_bytes = o->ring_bytes;
	to.births_max = o->births_max;
	to.netns = own_netns();
	to.wakeup = o->life_fn && !o->rows_and_life;
	e->tracer = ts_tracer_open(&to, on_close, e, why, len);
	if (!e->tracer)
		return false;
	if (!ts_tracer_accept_hooked(e->tracer, &accept_why))
		fprintf(stderr, "tcpsight: warning: %s: owners of accepted "
			"sockets are best effort\n", accept_why);
	return true;
}

static bool open_trace(struct ts_engine *e, const struct ts_engine_opts *o,
		       char *err, size_t errlen)
{
	struct ts_trace_opts to = {
		.attach = o->attach,
		.ring_bytes = o->ring_bytes,
		.map_entries = o->map_entries,
		.netns = own_netns(),
	};

	e->trace = ts_trace_open(&to, on_close, e, &e->attach, err, errlen);
	return e->trace != NULL;
}

struct ts_engine *ts_engine_open(const struct ts_engine_opts *o,
				 char *err, size_t errlen)
{
	struct ts_engine *e;
	char why[256];

	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->mode = o->mode;
	e->life_fn = o->life_fn;
	e->ready_file = o->ready_file;
	e->life_arg = o->life_arg;
	e->rows_and_life = o->life_fn && o->rows_and_life;
	if (e->mode == TS_MODE_TRACE) {
		if (!open_trace(e, o, err, errlen))
			goto fail;
		goto core;
	}
	e->poller = ts_poller_open(o->by_family ? TS_REQ_BY_FAMILY :
				   TS_REQ_COMPAT, o->nl_bufsize);
	if (!e->poller) {
		snprintf(err, errlen, "cannot open NETLINK_SOCK_DIAG socket: %s",
			 strerror(errno));
		goto fail;
	}
	if (e->mode == TS_MODE_HYBRID && !open_tracer(e, o, why, sizeof(why))) {
		/* tcplife is nothing without the probe. */
		if (o->life_fn && !o->rows_and_life) {
			snprintf(err, errlen, "%s", why);
			goto fail;
		}
		fprintf(stderr, "tcpsight: warning: hybrid mode unavailable (%s); "
			"falling back to --mode poll\n", why);
		e->mode = TS_MODE_POLL;
	}
core:
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
	if (!e)
		return;
	ts_tracer_close(e->tracer);
	ts_trace_close(e->trace);
	ts_dump_free(&e->trace_dump);
	ts_poller_close(e->poller);
	free(e->held);
	ts_acct_free(e->acct);
	ts_owners_free(e->owners);
	free(e);
}

enum ts_mode ts_engine_mode(const struct ts_engine *e)
{
	return e->mode;
}

enum ts_attach ts_engine_attach(const struct ts_engine *e)
{
	return e->attach;
}

static int poll_once(struct ts_engine *e, char *err, size_t errlen)
{
	const struct ts_dump *d;
	size_t i;
	int ret;

	if (e->trace) {
		ret = ts_trace_read(e->trace, &e->trace_dump);
		d = &e->trace_dump;
	} else {
		ret = ts_poller_dump(e->poller, &d);
		if (!ret)
			e->last_dump = d;
	}
	if (ret) {
		snprintf(err, errlen, "%s failed: %s",
			 e->trace ? "reading the trace map" : "sock_diag dump",
			 ret == -EBADMSG ? "malformed reply from the kernel" :
			 strerror(-ret));
		return ret;
	}
	e->stats.dumps++;
	e->stats.dump_sockets = d->n;
	e->stats.namespaces = 1;
	ts_acct_poll_begin(e->acct, ts_monotonic_ns());
	for (i = 0; i < d->n; i++)
		ts_acct_sample(e->acct, &d->v[i]);
	ts_acct_poll_end(e->acct);
	return 0;
}

/* The probe's answer costs one map lookup; /proc costs a scan. */
static void owner_from_probe(uint64_t cookie, uint32_t inode,
			     const struct ts_tuple *tuple, void *arg)
{
	struct ts_engine *e = arg;
	char comm[TS_COMM_LEN];
	uint32_t pid;

	if (e->tracer && ts_tracer_owner(e->tracer, tuple, &pid, comm))
		ts_acct_set_owner(e->acct, cookie, pid, comm);
	else if (inode)
		ts_owners_want(e->owners, inode);
}

/* What /proc said; a session nobody visible holds is not asked again. */
static void owner_from_proc(uint64_t cookie, uint32_t inode,
			    const struct ts_tuple *tuple, void *arg)
{
	struct ts_engine *e = arg;
	const char *comm = NULL;
	uint32_t pid = 0;

	(void)tuple;
	if (inode)
		ts_owners_lookup(e->owners, inode, &pid, &comm);
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
	ts_acct_foreach_unowned(e->acct, owner_from_probe, e);
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

int ts_engine_start(struct ts_engine *e, char *err, size_t errlen)
{
	int ret = poll_once(e, err, errlen);

	if (ret)
		return ret;
	resolve_owners(e);
	return e->ready_file ? touch(e->ready_file, err, errlen) : 0;
}

static int drain(struct ts_engine *e, char *err, size_t errlen)
{
	int ret;

	if (e->trace) {
		ret = ts_trace_drain(e->trace);
		ts_trace_lost(e->trace, &e->stats.lost, &e->stats.map_full);
		if (ret >= 0)
			return 0;
		snprintf(err, errlen, "ring buffer: %s", strerror(-ret));
		return ret;
	}
	if (!e->tracer)
		return 0;
	ret = ts_tracer_drain(e->tracer);
	if (ret < 0) {
		snprintf(err, errlen, "ring buffer: %s", strerror(-ret));
		return ret;
	}
	e->stats.lost = ts_tracer_lost(e->tracer);
	return 0;
}

int ts_engine_interval(struct ts_engine *e, enum ts_sort sort,
		       const struct ts_row **rows, size_t *n,
		       char *err, size_t errlen)
{
	int ret = poll_once(e, err, errlen);

	e->in_interval = true;
	deliver_held(e);
	if (!ret)
		ret = drain(e, err, errlen);
	e->in_interval = false;
	if (ret)
		return ret;
	resolve_owners(e);
	*n = ts_acct_rows(e->acct, sort, rows);
	return 0;
}

int ts_engine_wait(struct ts_engine *e, int timeout_ms, char *err,
		   size_t errlen)
{
	int ret;

	if (!e->tracer) {
		poll(NULL, 0, timeout_ms);
		return 0;
	}
	ret = ts_tracer_wait(e->tracer, timeout_ms);
	if (ret < 0 && ret != -EINTR) {
		snprintf(err, errlen, "ring buffer: %s", strerror(-ret));
		return ret;
	}
	e->stats.lost = ts_tracer_lost(e->tracer);
	return 0;
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
	const struct ts_poller_stats *p = e->poller ? ts_poller_stats(e->poller) : NULL;

	fprintf(f, "%s: stats: mode %s dumps %llu dump_retries %llu sessions %llu "
		"born %llu closed_seen %llu closed_unseen %llu "
		"closed_prebaseline %llu retired_unclosed %llu late_samples %llu "
		"syn_guessed %llu syn_fixed %llu events %llu lost %llu "
		"map_full %llu owner_scans %llu owner_full_scans %llu oom %llu\n",
		prog, ts_mode_name(e->mode),
		(unsigned long long)(p ? p->dumps : 0),
		(unsigned long long)(p ? p->retries : 0),
		(unsigned long long)a->sessions, (unsigned long long)a->born,
		(unsigned long long)a->closed_seen,
		(unsigned long long)a->closed_unseen,
		(unsigned long long)a->closed_prebaseline,
		(unsigned long long)a->retired_unclosed,
		(unsigned long long)a->late_samples,
		(unsigned long long)a->syn_guessed,
		(unsigned long long)a->syn_fixed,
		(unsigned long long)e->stats.events,
		(unsigned long long)e->stats.lost,
		(unsigned long long)e->stats.map_full,
		(unsigned long long)o->scans_hot,
		(unsigned long long)o->scans_full,
		(unsigned long long)a->oom);
}

bool ts_engine_port_listening(const struct ts_engine *e, uint16_t port)
{
	const struct ts_dump *d = e->last_dump;

	return d && (d->listen_ports[port / 64] >> (port % 64) & 1);
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
	}
	return false;
}
