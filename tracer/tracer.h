/* SPDX-License-Identifier: GPL-2.0 */
/* Loads the close-path probe and drains its ring buffer. */
#ifndef TS_TRACER_H
#define TS_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "../bpf/tcpsight.h"
#include "../common/session.h"
#include "../common/hooks.h"

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
	uint64_t cgroup_id;		/* -c: this cgroup v2 and below; 0: all */
	uint32_t cgroup_level;		/* its depth below the cgroup2 root */
	bool wakeup;			/* wake ts_tracer_wait() per event */
	enum ts_owner_hooks owner_hooks;	/* passive owners: auto = best offered */
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
/* The owner hooks attached; *why: what auto could not have, or NULL. */
enum ts_owner_hooks ts_tracer_owner_hooks(const struct ts_tracer *t,
					  const char **why);
/* Whether the sock_ops program makes a cookie for every session. */
bool ts_tracer_cookies(const struct ts_tracer *t);
/*
 * cgroup hooks: sessions a reset ended while their process held them wait
 * for its close() to name the owner.  Hands those closed before
 * @before_ns (CLOCK_MONOTONIC) to the close callback without an owner;
 * returns how many.
 */
int ts_tracer_flush_pending(struct ts_tracer *t, uint64_t before_ns);
/* Sessions that waited in vain, since open. */
uint64_t ts_tracer_owner_timeouts(const struct ts_tracer *t);
/* Which owner hooks this kernel offers, and whether sock_ops can run. */
void ts_owner_caps(struct ts_owner_caps *caps, bool *sockops);
/* An fd of the cgroup2 root directory as mounted, or -1. */
int ts_cgroup2_root_fd(void);
/* The owner the probe saw for a live connection (connect/accept/close). */
bool ts_tracer_owner(struct ts_tracer *t, const struct ts_tuple *tuple,
		     uint32_t *pid, char *comm);
/*
 * Sockets born in namespace @netns since the probe was attached (0 while
 * none was); @fn is called for every namespace the probe saw births in.
 */
typedef void (*ts_births_fn)(uint32_t netns, uint64_t births, void *arg);
int ts_tracer_births(struct ts_tracer *t, ts_births_fn fn, void *arg);
/* Ring buffer bytes: a power of two, at least a page. */
size_t ts_ring_size(size_t bytes);
/* A BPF load/attach errno in words; privilege errors say what is missing. */
const char *ts_bpf_error(int err);
/*
 * libbpf's logger for every loader: silent, but for warnings when
 * TCPSIGHT_DEBUG is set (the tools print their own one-line errors).
 */
int ts_libbpf_quiet(enum libbpf_print_level level, const char *fmt,
		    va_list ap);
/* Whether this kernel and process can run the probe at all; why not. */
bool ts_tracer_supported(char *why, size_t len);

#endif
