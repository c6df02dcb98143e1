/* SPDX-License-Identifier: GPL-2.0 */
/* Trace mode's attach type: which one, given what the kernel offers. */
#ifndef TS_ATTACH_H
#define TS_ATTACH_H

#include <stdbool.h>

enum ts_attach {
	TS_ATTACH_AUTO,
	TS_ATTACH_FENTRY,
	TS_ATTACH_KPROBE,
	TS_ATTACH_TRACEPOINT,
};

/* What the running kernel offers (probed by tracer/tracemode.c). */
struct ts_attach_caps {
	bool fentry;
	bool kprobe;
	bool tracepoint;
};

const char *ts_attach_name(enum ts_attach a);
bool ts_parse_attach(const char *s, enum ts_attach *a);
/* What a kernel lacking @a lacks, in words for the error line. */
const char *ts_attach_missing(enum ts_attach a);
/*
 * auto takes the cheapest the kernel has: fentry, then kprobe, then the
 * tracepoints.  Returns false when nothing fits; *missing then names what
 * the kernel lacks.
 */
bool ts_attach_choose(enum ts_attach want, const struct ts_attach_caps *caps,
		      enum ts_attach *chosen, const char **missing);

#endif
