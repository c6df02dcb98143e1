/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one engine under tcptop and tcplife: sources (source.h) feed the
 * accounting core (common/session.h), whose rows and whole sessions go
 * to sinks (sink.h).  Warnings go through the reporter (report.h).
 */
#ifndef TS_ENGINE_H
#define TS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../common/session.h"
#include "../tracer/tracer.h"
#include "../common/attach.h"
#include "report.h"

enum ts_mode {
	TS_MODE_HYBRID,
	TS_MODE_POLL,
	TS_MODE_TRACE,
};

/* Where polls come from (--source); TS_POLL_NONE: not a poll source. */
enum ts_poll_source {
	TS_POLL_NONE,
	TS_POLL_SOCK_DIAG,		/* netlink dump of every socket */
	TS_POLL_ITER,			/* BPF iterator: only sockets that moved */
	TS_POLL_AUTO,			/* the iterator where the kernel has it */
};

/* Which network namespaces to watch (--netns). */
enum ts_netns_scope {
	TS_NETNS_DEFAULT,		/* all when root in the initial one, else self */
	TS_NETNS_SELF,
	TS_NETNS_ALL,
	TS_NETNS_PATH,			/* the one at netns_path */
};

struct ts_engine_opts {
	enum ts_mode mode;
	enum ts_netns_scope netns;
	const char *netns_path;
	const char *cgroup;		/* -c: this cgroup v2 directory and below */
	/* tcplife: close events become whole sessions, no interval rows. */
	bool whole_life;
	/*
	 * tcpsightd: close events feed the interval rows and become whole
	 * sessions too.  Events ts_engine_wait() drains between intervals
	 * are held and handed over after the next interval's dump, the order
	 * tcptop sees them in: a dump racing a close must come first.
	 */
	bool rows_and_life;
	struct ts_tracer_opts filter;	/* pid/family/ports, run in the kernel */
	size_t ring_bytes;
	uint32_t births_max;
	size_t nl_bufsize;
	bool by_family;			/* SOCK_DIAG_BY_FAMILY instead of one walk */
	const char *ready_file;		/* created once the baseline is taken */
	enum ts_attach attach;		/* trace mode */
	uint32_t map_entries;		/* trace mode: live sessions in the map */
	enum ts_poll_source poll;	/* hybrid's polls; NONE: sock_diag */
	struct ts_reporter report;	/* warnings and notices */
};

struct ts_engine_stats {
	uint64_t lost;			/* close events lost, since start */
	uint64_t events;		/* close events drained, since start */
	uint64_t map_full;		/* trace mode: calls that found the map full */
	uint64_t owner_released;	/* owners named by the socket's release */
	uint64_t owner_timeouts;	/* reset sessions that waited in vain for close() */
	const char *owner_hooks;	/* passive owner hooks attached; NULL: no probe */
	const char *cookies;		/* "sock_ops" or "synthetic"; NULL: no probe */
	uint64_t dumps;			/* sock_diag dumps */
	uint64_t dump_sockets;		/* sockets in the last interval's dumps */
	uint32_t namespaces;		/* namespaces dumped in the last interval */
	uint64_t held_oom;		/* rows_and_life: held events lost to ENOMEM */
	uint64_t dump_retries;		/* ... retried (NLM_F_DUMP_INTR) */
	enum ts_attach attach;		/* trace mode: the attach type chosen */
	uint64_t netns_polled;		/* namespaces dumped (a dump each) */
	uint64_t netns_idle_skips;	/* ... not dumped: nothing born since empty */
	uint64_t netns_found;		/* namespaces taken up, since start */
	uint64_t netns_gone;		/* ... let go (no process or mount left) */
	uint64_t netns_failed;		/* ... that failed to open or dump */
	uint64_t netns_scans;		/* rescans for new namespaces */
	uint64_t cgroup_filtered;	/* samples and events dropped by -c here */
	bool cgroup_in_dump;		/* -c filtered by sock_diag bytecode */
	const char *poll_source;	/* "sock_diag" or "iter"; NULL: none */
};

struct ts_engine;
struct ts_sink;

/* NULL with a one-line reason in @err.  Falls back hybrid -> poll with a warning. */
struct ts_engine *ts_engine_open(const struct ts_engine_opts *opts,
				 char *err, size_t errlen);
/* Closes the engine and every sink it was given. */
void ts_engine_close(struct ts_engine *e);
/* The engine owns @k from here on.  false: out of memory (@k closed). */
bool ts_engine_add_sink(struct ts_engine *e, struct ts_sink *k);
enum ts_mode ts_engine_mode(const struct ts_engine *e);
/* The baseline: sessions alive now report only what they move later. */
int ts_engine_start(struct ts_engine *e, char *err, size_t errlen);
/*
 * Ends an interval: poll, drain, owners; hands the rows to every sink.
 * The rows stay valid until the next call.
 */
int ts_engine_interval(struct ts_engine *e, enum ts_sort sort,
		       const struct ts_row **rows, size_t *n,
		       char *err, size_t errlen);
/* The next ts_engine_interval() is the last: sessions waiting for an owner go out. */
void ts_engine_set_final(struct ts_engine *e);
/*
 * Waits up to @timeout_ms for close events and hands them to the sinks
 * (held for the next interval with rows_and_life); without the probe it
 * only sleeps.
 */
int ts_engine_wait(struct ts_engine *e, int timeout_ms, char *err, size_t errlen);
const struct ts_engine_stats *ts_engine_stats(struct ts_engine *e);
const struct ts_acct_stats *ts_engine_acct_stats(const struct ts_engine *e);
/* One line of every counter, for operators (--stats) and tests. */
void ts_engine_print_stats(struct ts_engine *e, FILE *f, const char *prog);
const char *ts_mode_name(enum ts_mode mode);
bool ts_parse_mode(const char *s, enum ts_mode *mode);
bool ts_parse_poll_source(const char *s, enum ts_poll_source *poll);
/* Whether the last dump saw a listener on @port, in any namespace polled. */
bool ts_engine_port_listening(const struct ts_engine *e, uint16_t port);
struct ts_common_opts;
/* --netns and -c as both front ends parse them. */
void ts_engine_netns_opts(struct ts_engine_opts *o,
			  const struct ts_common_opts *common);
uint64_t ts_monotonic_ns(void);
/* Add to CLOCK_MONOTONIC seconds to get unix seconds. */
double ts_mono_to_unix(void);
/* SIGINT, SIGTERM, SIGHUP to @fn (no SA_RESTART: waits wake); SIGPIPE ignored. */
void ts_catch_signals(void (*fn)(int));

/* --mode, --attach, --map-size, --source: one parser for every tool. */
#define TS_ENGINE_LONGOPTS						\
	{ "mode", required_argument, NULL, TS_OPT_MODE },		\
	{ "attach", required_argument, NULL, TS_OPT_ATTACH },		\
	{ "map-size", required_argument, NULL, TS_OPT_MAP },		\
	{ "source", required_argument, NULL, TS_OPT_SOURCE }
/* Handles @c when it is an engine option (bad value: exit 2); else false. */
bool ts_engine_option(const char *prog, const char *usage, int c,
		      const char *arg, struct ts_engine_opts *o);

#endif
