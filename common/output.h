/* SPDX-License-Identifier: GPL-2.0 */
/* Addresses and output formats shared by tcptop and tcplife. */
#ifndef TS_OUTPUT_H
#define TS_OUTPUT_H

#include <stdio.h>
#include "session.h"
#include "cgroup.h"

#define TS_ADDR_LEN 46			/* INET6_ADDRSTRLEN */

void ts_addr_str(const struct ts_tuple *t, bool local, char *buf, size_t len);
/* "addr:port", IPv6 as "[addr]:port" only when @brackets. */
void ts_endpoint_str(const struct ts_tuple *t, bool local, bool brackets,
		     char *buf, size_t len);
int ts_family_num(uint16_t family);
/* A JSON string literal, escaped; NULL prints null. */
void ts_json_str(FILE *f, const char *s);
void ts_json_pid(FILE *f, uint32_t pid, const char *comm);

/*
 * Flushes @f: 0 on success, 1 when the reader went away (a closed pipe:
 * the tools then end quietly), -1 on any other write error.
 */
int ts_flush(FILE *f);

/* tcptop */
struct ts_top_fmt {
	double ts;			/* unix seconds, end of interval */
	double interval;		/* seconds */
	uint64_t lost;			/* close events lost this interval */
	struct ts_cgroups *cgroups;	/* id -> path; NULL: paths unknown */
};
void ts_top_json(FILE *f, const struct ts_row *r, const struct ts_top_fmt *fmt);
/* @container: one more column, CONTAINER, after bcc's. */
void ts_top_header(FILE *f, int family, bool container);
/* @cgroups non-NULL: the CONTAINER column too. */
void ts_top_line(FILE *f, const struct ts_row *r, struct ts_cgroups *cgroups);

/* tcplife */
struct ts_life_fmt {
	bool wide;			/* -w */
	bool clock;			/* -T: HH:MM:SS */
	bool rel;			/* -t: seconds since the first event */
	bool csv;			/* -s */
	bool json;
	double first_ts;		/* unix seconds of the first event */
	double mono_to_unix;		/* add to CLOCK_MONOTONIC seconds */
	bool container;			/* --container: one more column */
	struct ts_cgroups *cgroups;	/* id -> path; NULL: paths unknown */
};
void ts_life_header(FILE *f, const struct ts_life_fmt *fmt);
void ts_life_line(FILE *f, const struct ts_life *l,
		  const struct ts_life_fmt *fmt);

#endif
