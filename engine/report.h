/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one way the engine, its sources and sinks tell the operator
 * something: a front end prints it, a daemon may log or count it.
 */
#ifndef TS_REPORT_H
#define TS_REPORT_H

enum ts_level {
	TS_NOTICE,			/* "prog: message" */
	TS_WARNING,			/* "prog: warning: message" */
};

typedef void (*ts_report_fn)(enum ts_level level, const char *msg, void *arg);

struct ts_reporter {
	ts_report_fn fn;		/* NULL: stderr, prefixed with @prog */
	void *arg;
	const char *prog;
};

void __attribute__((format(printf, 3, 4)))
ts_report(const struct ts_reporter *r, enum ts_level level, const char *fmt, ...);

#endif
