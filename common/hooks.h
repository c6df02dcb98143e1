/* SPDX-License-Identifier: GPL-2.0 */
/* Where hybrid mode learns who owns a passive socket, given the kernel. */
#ifndef TS_HOOKS_H
#define TS_HOOKS_H

#include <stdbool.h>

enum ts_owner_hooks {
	TS_OWN_AUTO,
	TS_OWN_FEXIT,		/* fexit inet_csk_accept: one run per accept */
	TS_OWN_KRETPROBE,	/* kretprobe inet_csk_accept: one run per accept */
	TS_OWN_CGROUP,		/* cgroup/sock_release: one run per socket close */
	TS_OWN_SYSCALLS,	/* accept syscall tracepoints: taxes every syscall */
	TS_OWN_NONE,		/* state changes and /proc only */
};

/* What the running kernel offers (probed by tracer/tracer.c). */
struct ts_owner_caps {
	bool fexit;
	bool kretprobe;
	bool cgroup;
	bool syscalls;
};

const char *ts_owner_hooks_name(enum ts_owner_hooks h);
bool ts_parse_owner_hooks(const char *s, enum ts_owner_hooks *h);
/*
 * The candidates to try, best first, into @order (at most 4): auto gives
 * every per-accept or per-socket hook the kernel has, never the syscall
 * tracepoints; anything else gives itself if the kernel has it.  Returns
 * how many; none (0) means: run with state changes and /proc alone.
 */
unsigned int ts_owner_hooks_order(enum ts_owner_hooks want,
				  const struct ts_owner_caps *caps,
				  enum ts_owner_hooks *order);

#endif
