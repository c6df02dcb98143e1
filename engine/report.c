// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include "report.h"

void ts_report(const struct ts_reporter *r, enum ts_level level,
	       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r && r->fn) {
		r->fn(level, msg, r->arg);
		return;
	}
	fprintf(stderr, "%s: %s%s\n", r && r->prog ? r->prog : "tcpsight",
		level == TS_WARNING ? "warning: " : "", msg);
}
