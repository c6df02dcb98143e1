/* SPDX-License-Identifier: GPL-2.0 */
/* The one engine under tcptop and tcplife: poller + close probe + core. */
#ifndef TS_ENGINE_H
#define TS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../common/session.h"
#include "../tracer/tracer.h"
#include "../common/attach.h"

enum ts_mode {
	TS_MODE_HYBRID,
	TS_MODE_POLL,
	TS_MODE_TRACE,
};

typedef void (*ts_life_fn)(const struct ts_life *life, void *arg);

struct ts_engine_opts {
	enum ts_mode mode;
	/* Set: close events go here, whole-life, instead of interval rows. */
	ts_life_fn life_fn;
	void *life_arg;
	/*
	 * With life_fn: close events feed the interval rows too (tcpsightd).
	 * ts_engine_wait then drains the ring but holds the events until the
	 * next ts_engine_interval, which hands them over after its dump.
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
};

struct ts_engine_stats {
	uint64_t lost;			/* close events lost, since start */
	uint64_t events;		/* close events drained, since start */
	uint64_t map_full;		/* trace mode: calls that found the map full */
	uint64_t held_oom;		/* events held for the next poll lost to ENOMEM */
	uint64_t dumps;			/* polls taken, baseline included */
	uint64_t dump_sockets;		/* sockets in the last dump */
	uint32_t namespaces;		/* network namespaces polled per interval */
};

struct ts_engine;

/* NULL with a one-line reason in @err.  Falls back hybrid -> poll with a warning. */
struct ts_engine *ts_engine_open(const struct ts_engine_opts *opts,
				 char *err, size_t errlen);
void ts_engine_close(struct ts_engine *e);
enum ts_mode ts_engine_mode(const struct ts_engine *e);
/* Trace mode: the attach type chosen. */
enum ts_attach ts_engine_attach(const struct ts_engine *e);
/* The baseline: sessions alive now report only what they move later. */
int ts_engine_start(struct ts_engine *e, char *err, size_t errlen);
/* Ends an interval: poll, drain, owners; rows valid until the next call. */
int ts_engine_interval(struct ts_engine *e, enum ts_sort sort,
		       const struct ts_row **rows, size_t *n,
		       char *err, size_t errlen);
/*
 * Waits up to @timeout_ms for close events, hands them to life_fn (and to
 * the rows with rows_and_life); without the probe it only sleeps.
 */
int ts_engine_wait(struct ts_engine *e, int timeout_ms, char *err, size_t errlen);
const struct ts_engine_stats *ts_engine_stats(struct ts_engine *e);
const struct ts_acct_stats *ts_engine_acct_stats(const struct ts_engine *e);
/* One line of every counter, for operators (--stats) and tests. */
void ts_engine_print_stats(struct ts_engine *e, FILE *f, const char *prog);
/* Whether the last dump saw a listener on @port (this namespace). */
bool ts_engine_port_listening(const struct ts_engine *e, uint16_t port);
const char *ts_mode_name(enum ts_mode mode);
bool ts_parse_mode(const char *s, enum ts_mode *mode);
uint64_t ts_monotonic_ns(void);
/* Add to CLOCK_MONOTONIC seconds to get unix seconds. */
double ts_mono_to_unix(void);
/* SIGINT, SIGTERM, SIGHUP to @fn (no SA_RESTART: waits wake); SIGPIPE ignored. */
void ts_catch_signals(void (*fn)(int));

/* --mode, --attach, --map-size: the engine's options, one parser for all tools. */
#define TS_ENGINE_LONGOPTS						\
	{ "mode", required_argument, NULL, TS_OPT_MODE },		\
	{ "attach", required_argument, NULL, TS_OPT_ATTACH },		\
	{ "map-size", required_argument, NULL, TS_OPT_MAP }
/* Handles @c when it is an engine option (bad value: exit 2); else false. */
bool ts_engine_option(const char *prog, const char *usage, int c,
		      const char *arg, struct ts_engine_opts *o);

#endif
