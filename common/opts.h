/* SPDX-License-Identifier: GPL-2.0 */
/* Option parsing shared by the front ends: one error style, exit 2. */
#ifndef TS_OPTS_H
#define TS_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include "hooks.h"

/* Options tcptop and tcplife share, parsed in one place. */
struct ts_common_opts {
	uint32_t pid;			/* -p: 0 for all */
	uint16_t family;		/* -4/-6: AF_INET/AF_INET6, 0 for both */
	bool json;			/* --json */
	uint64_t ring_bytes;		/* --ring-size */
	const char *ready_file;		/* --ready-file */
	enum ts_owner_hooks owner_hooks;	/* --owner-hooks */
	const char *netns;		/* --netns all|self|PATH; NULL: default */
	const char *cgroup;		/* -c PATH */
	bool container;			/* --container */
	bool stats;			/* --stats */
};

#define TS_COMMON_SHORTOPTS "hp:46c:"
enum {
	TS_OPT_JSON = 256,
	TS_OPT_RING,
	TS_OPT_READY,
	TS_OPT_OWNER_HOOKS,
	TS_OPT_NETNS,
	TS_OPT_CONTAINER,
	TS_OPT_STATS,
	TS_OPT_MODE,			/* engine options (engine/engine.h) */
	TS_OPT_ATTACH,
	TS_OPT_MAP,
	TS_OPT_SOURCE,
	TS_OPT_TOOL,			/* first code free for a tool's own */
};
#define TS_COMMON_LONGOPTS						\
	{ "help", no_argument, NULL, 'h' },				\
	{ "json", no_argument, NULL, TS_OPT_JSON },			\
	{ "ring-size", required_argument, NULL, TS_OPT_RING },		\
	{ "ready-file", required_argument, NULL, TS_OPT_READY },	\
	{ "owner-hooks", required_argument, NULL, TS_OPT_OWNER_HOOKS },	\
	{ "netns", required_argument, NULL, TS_OPT_NETNS },		\
	{ "cgroup", required_argument, NULL, 'c' },			\
	{ "container", no_argument, NULL, TS_OPT_CONTAINER },		\
	{ "stats", no_argument, NULL, TS_OPT_STATS }

/* The namespace and cgroup lines every front end's usage shares. */
#define TS_NETNS_USAGE \
"  --netns NS      all: every network namespace (default for root in the\n" \
"                  initial one); self: this one (default otherwise);\n" \
"                  PATH: the one at PATH (/run/netns/NAME, /proc/PID/ns/net)\n" \
"  -c, --cgroup P  only sockets of cgroup v2 directory P or below\n"

/* The --owner-hooks lines of both tools' usage: the tax is said there. */
#define TS_OWNER_HOOKS_USAGE \
"  --owner-hooks H where owners of accepted sockets come from: auto (default:\n" \
"                  fexit, else kretprobe on inet_csk_accept, else\n" \
"                  cgroup/sock_release), fexit, kretprobe, cgroup, none, or\n" \
"                  syscalls: accept() syscall tracepoints.  syscalls puts\n" \
"                  EVERY syscall of EVERY process on the slow path while\n" \
"                  the tool runs (~30 ns per syscall measured, +22%% on\n" \
"                  getppid()); the others cost one run per accept or close\n"

/*
 * Handles @c when it is a shared option: -h prints the usage and exits 0, a
 * bad value exits 2.  Returns false when @c is not a shared option.
 */
bool ts_common_option(const char *prog, const char *usage, int c,
		      const char *arg, struct ts_common_opts *o);

/* Prints "prog: message" and the usage to stderr, exits 2. */
void __attribute__((noreturn, format(printf, 3, 4)))
ts_usage_error(const char *prog, const char *usage, const char *fmt, ...);

/* getopt_long() returned ':' or '?': name the culprit, exit 2. */
void __attribute__((noreturn))
ts_bad_option(const char *prog, const char *usage, int c, char **argv);

bool ts_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
bool ts_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds, fractions allowed, > 0 and at most a day. */
bool ts_parse_interval(const char *s, double *out);
/* "80,443": 1..65535 each, at most @max of them. */
bool ts_parse_ports(const char *s, uint16_t *ports, unsigned int *n,
		    unsigned int max);

#endif
