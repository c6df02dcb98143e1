/* SPDX-License-Identifier: GPL-2.0 */
/* Loads the close-path probe and drains its ring buffer. */
#ifndef TS_TRACER_H
#define TS_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/tcpsight.h"
#include "../common/session.h"

struct ts_tracer_opts {
	size_t ring_bytes;		/* rounded up to a power of two */
	uint32_t births_max;		/* sockets remembered between state changes */
	uint32_t netns;			/* inode of the netns to watch; 0: all */
	uint32_t pid;			/* 0: all */
	uint16_t family;		/* 0: both */
	uint16_t lports[TS_MAX_PORTS];
	uint16_t rports[TS_MAX_PORTS];
	unsigned int n_lports;
	unsigned int n_rports;
	bool wakeup;			/* wake ts_tracer_wait() per event */
};

typedef int (*ts_close_fn)(const struct ts_close_event *ev, void *arg);

struct ts_tracer;

/* NULL on failure, with a one-line reason in @err. */
struct ts_tracer *ts_tracer_open(const struct ts_tracer_opts *opts,
				 ts_close_fn fn, void *arg,
				 char *err, size_t errlen);
void ts_tracer_close(struct ts_tracer *t);
/* Hands every pending event to fn; returns how many, or -errno. */
int ts_tracer_drain(struct ts_tracer *t);
/* Waits up to timeout_ms for events (tcplife), then drains. */
int ts_tracer_wait(struct ts_tracer *t, int timeout_ms);
/* Events the full ring turned away, since open. */
uint64_t ts_tracer_lost(struct ts_tracer *t);
/* Whether accept() is hooked (passive owners exact), and why not. */
bool ts_tracer_accept_hooked(const struct ts_tracer *t, const char **why);
/* The owner the probe saw for a live connection (connect/accept/close). */
bool ts_tracer_owner(struct ts_tracer *t, const struct ts_tuple *tuple,
		     uint32_t *pid, char *comm);
/* Ring buffer bytes: a power of two, at least a page. */
size_t ts_ring_size(size_t bytes);
/* A BPF load/attach errno in words; privilege errors say what is missing. */
const char *ts_bpf_error(int err);
/* Whether this kernel and process can run the probe at all; why not. */
bool ts_tracer_supported(char *why, size_t len);

#endif
