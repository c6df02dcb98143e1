/* SPDX-License-Identifier: GPL-2.0 */
/* Trace mode: per-call accounting in BPF, read once per interval. */
#ifndef TS_TRACEMODE_H
#define TS_TRACEMODE_H

#include <stdint.h>
#include "tracer.h"
#include "../common/attach.h"
#include "../common/session.h"

struct ts_trace_opts {
	enum ts_attach attach;
	size_t ring_bytes;
	uint32_t map_entries;		/* live sessions the map holds */
	uint32_t netns;
};

struct ts_trace;

/* Probes what this kernel offers (syscalls; the choice itself is pure). */
void ts_trace_caps(struct ts_attach_caps *caps);
struct ts_trace *ts_trace_open(const struct ts_trace_opts *opts,
			       ts_close_fn fn, void *arg,
			       enum ts_attach *chosen, char *err, size_t errlen);
void ts_trace_close(struct ts_trace *t);
/* Every live session's cumulative payload, as payload samples. */
int ts_trace_read(struct ts_trace *t, struct ts_batch *out);
int ts_trace_drain(struct ts_trace *t);
/* Close events the full ring turned away; sessions the full map refused. */
void ts_trace_lost(struct ts_trace *t, uint64_t *ring, uint64_t *map_full);

#endif
