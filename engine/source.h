/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A source brings kernel data into the engine: poll samples (a sock_diag
 * dump, the call probe's map) and close events (a ring buffer).  Each
 * source is one file with a constructor listed in sources.c; the engine
 * knows sources only through these operations.
 */
#ifndef TS_SOURCE_H
#define TS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "report.h"
#include "../common/cgroup.h"

/* Where a source delivers what it reads. */
struct ts_feed {
	/* One poll sample; only inside the engine's collect step. */
	void (*sample)(const struct ts_sample *s, void *arg);
	/* One close event, whenever the source drains. */
	int (*close)(const struct ts_close_event *ev, void *arg);
	void *arg;
};

/* What every source is opened with. */
struct ts_source_env {
	const struct ts_engine_opts *opts;
	const struct ts_feed *feed;
	const struct ts_reporter *report;
	struct ts_engine_stats *stats;	/* a source keeps its counters here */
	uint32_t netns;			/* namespace the probes watch; 0: all */
	enum ts_netns_scope scope;	/* resolved: SELF, ALL or PATH */
	struct ts_cgroups *cgroups;
	uint64_t cgroup_root;		/* -c: its id; 0: no filter */
	/* Births per namespace from whichever source sees them; false: none does. */
	bool (*births)(ts_births_fn fn, void *fn_arg, void *arg);
	void *births_arg;
	const bool *final;		/* the next interval is the last */
};

struct ts_source;

/* collect() listed only what moved: the rest is unchanged, not gone. */
#define TS_COLLECT_PARTIAL 1

struct ts_source_ops {
	/*
	 * This interval's samples to feed->sample.  0, TS_COLLECT_PARTIAL or
	 * -errno with the reason in @err.
	 */
	int (*collect)(struct ts_source *s, char *err, size_t errlen);
	/* Pending events to feed->close, after waiting up to @timeout_ms. */
	int (*drain)(struct ts_source *s, int timeout_ms, char *err, size_t errlen);
	/* The owner this source saw for a live connection, if any. */
	bool (*owner)(struct ts_source *s, const struct ts_tuple *t,
		      uint32_t *pid, char *comm);
	/* Whether its last poll saw a listener on @port. */
	bool (*listening)(struct ts_source *s, uint16_t port);
	/* Sockets born per namespace since start, if this source sees births. */
	bool (*births)(struct ts_source *s, ts_births_fn fn, void *arg);
	void (*destroy)(struct ts_source *s);
};

struct ts_source {
	const struct ts_source_ops *ops;
	const struct ts_source_env *env;
};

typedef struct ts_source *(*ts_source_open_fn)(const struct ts_source_env *env,
						char *err, size_t errlen);

/* The registration of one source: which modes run it. */
struct ts_source_reg {
	const char *name;
	unsigned int modes;		/* 1 << enum ts_mode */
	/* tcptop's hybrid mode goes on as poll mode without it (tcplife cannot). */
	bool hybrid_optional;
	ts_source_open_fn open;
	/* Set on poll sources: one of them runs, chosen by --source. */
	enum ts_poll_source poll;
};

/* The registry (sources.c), in opening order; ends with an empty entry. */
extern const struct ts_source_reg ts_sources[];

struct ts_source *ts_sockdiag_open(const struct ts_source_env *env,
				   char *err, size_t errlen);
struct ts_source *ts_closeprobe_open(const struct ts_source_env *env,
				     char *err, size_t errlen);
struct ts_source *ts_itersrc_open(const struct ts_source_env *env,
				  char *err, size_t errlen);
struct ts_source *ts_callprobe_open(const struct ts_source_env *env,
				    char *err, size_t errlen);

#endif
