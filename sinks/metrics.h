/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interval rows folded into Prometheus counters: label folding, the
 * aggregation and the exposition text.  Pure C, no syscalls, no locks (the
 * caller serialises), so every part is unit-tested (tests/test_sinks.c).
 */
#ifndef TS_METRICS_H
#define TS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../common/session.h"
#include "../common/cgroup.h"

#define TS_CGROUP_LEN 256

/* The labels of one series of tcpsight_bytes_total (direction aside). */
struct ts_series_key {
	char comm[TS_COMM_LEN];
	char cgroup[TS_CGROUP_LEN];
	bool client;			/* role: who opened the session */
	uint16_t port;			/* the server's port; 0: not kept */
};

/* The daemon's own figures, exported beside the byte counters. */
struct ts_health {
	uint64_t polls;
	double poll_cpu_seconds;	/* CPU the interval work took, in total */
	double cpu_seconds;		/* the whole process, user + system */
	uint64_t dump_sockets;		/* sockets in the last dump */
	uint32_t namespaces;
	uint64_t lost;			/* close events the full ring turned away */
	uint64_t samples_dropped;	/* samples the core could not store */
	double interval;		/* seconds, in use now */
	uint64_t sessions;		/* live in the table */
	uint64_t opened;
	uint64_t closed;
	bool jsonl;			/* the JSONL figures below mean something */
	uint64_t jsonl_records;
	uint64_t jsonl_dropped;
	uint64_t jsonl_write_errors;
	uint64_t jsonl_files;
};

enum ts_expo {
	TS_EXPO_PROMETHEUS,		/* text format 0.0.4 */
	TS_EXPO_OPENMETRICS,		/* OpenMetrics 1.0.0 */
};

/* Whether a local listener holds @port (the engine's last dump). */
typedef bool (*ts_listening_fn)(uint16_t port, void *arg);

struct ts_metrics;

/* @ports: the server ports always kept as labels (--ports). */
struct ts_metrics *ts_metrics_new(size_t max_series, const uint16_t *ports,
				  unsigned int n_ports);
void ts_metrics_free(struct ts_metrics *m);

/*
 * Where cgroup labels come from: the engine's cache (the only part that
 * reads the file system, once per cgroup).  Unset: labels are empty.
 */
void ts_metrics_set_cgroups(struct ts_metrics *m, struct ts_cgroups *cg);
/* The cgroup label of a row: its cgroup v2 path ("" when unknown). */
void ts_metrics_row_cgroup(struct ts_metrics *m, const struct ts_row *r,
			   char *buf, size_t len);

/* The labels a row is counted under, before the series cap. */
void ts_metrics_key(struct ts_metrics *m, const struct ts_row *r,
		    ts_listening_fn listening, void *arg,
		    struct ts_series_key *key);
/* Adds one interval's rows; over the cap they go to the folded series. */
void ts_metrics_add_rows(struct ts_metrics *m, const struct ts_row *rows,
			 size_t n, ts_listening_fn listening, void *arg);
void ts_metrics_set_health(struct ts_metrics *m, const struct ts_health *h);

size_t ts_metrics_series(const struct ts_metrics *m);
uint64_t ts_metrics_folded(const struct ts_metrics *m);
/* Totals of every series (tests; the daemon's --stats). */
void ts_metrics_totals(const struct ts_metrics *m, uint64_t *rx, uint64_t *tx);

/* The exposition chosen by a scraper's Accept header (NULL: Prometheus). */
enum ts_expo ts_expo_negotiate(const char *accept);
const char *ts_expo_content_type(enum ts_expo fmt);
void ts_metrics_write(const struct ts_metrics *m, FILE *f, enum ts_expo fmt);
/* A label value escaped for both formats, non-ASCII as '?'. */
void ts_label_value(char *dst, size_t len, const char *src);

#endif
