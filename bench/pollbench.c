// SPDX-License-Identifier: GPL-2.0
/*
 * CPU cost of tcpsight's poll path (dump streamed through the parser into
 * the accounting core, then the interval's rows), measured in-process over
 * K polls, the baseline included.  bench/poll-cost measures tcptop itself
 * from outside; this is the core loop alone, for callgrind.
 *
 * usage: pollbench [-n K] [-b BUFSIZE] [-f]
 * prints: sockets N polls K user_us U sys_us S
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include "../poller/poller.h"
#include "../common/opts.h"

static const char usage[] = "usage: pollbench [-n POLLS] [-b BUFSIZE] [-f]\n";

static long long us(const struct timeval *tv)
{
	return tv->tv_sec * 1000000LL + tv->tv_usec;
}

int main(int argc, char **argv)
{
	uint32_t polls = 10, bufsize = 32768;
	enum ts_dump_req req = TS_REQ_COMPAT;
	struct rusage r0, r1;
	struct ts_poller *p;
	struct ts_acct *acct;
	const struct ts_row *rows;
	uint32_t i;
	int c;

	while ((c = getopt(argc, argv, "n:b:f")) != -1) {
		switch (c) {
		case 'n':
			if (!ts_parse_u32(optarg, 1, 10000000, &polls))
				ts_usage_error("pollbench", usage, "invalid -n: '%s'", optarg);
			break;
		case 'b':
			if (!ts_parse_u32(optarg, 4096, 1 << 24, &bufsize))
				ts_usage_error("pollbench", usage, "invalid -b: '%s'", optarg);
			break;
		case 'f':
			req = TS_REQ_BY_FAMILY;
			break;
		default:
			ts_usage_error("pollbench", usage, "unknown option");
		}
	}
	p = ts_poller_open(req, bufsize);
	acct = ts_acct_new(false, 0);
	if (!p || !acct) {
		perror("pollbench");
		return 1;
	}
	getrusage(RUSAGE_SELF, &r0);
	for (i = 0; i < polls; i++) {
		ts_acct_poll_begin(acct, i);
		if (ts_poller_dump(p, ts_acct_sink, acct)) {
			perror("pollbench: dump");
			return 1;
		}
		ts_acct_poll_end(acct);
		ts_acct_rows(acct, TS_SORT_ALL, &rows);
	}
	getrusage(RUSAGE_SELF, &r1);
	printf("sockets %llu polls %u user_us %lld sys_us %lld retries %llu\n",
	       (unsigned long long)ts_poller_stats(p)->samples, polls, us(&r1.ru_utime) - us(&r0.ru_utime),
	       us(&r1.ru_stime) - us(&r0.ru_stime),
	       (unsigned long long)ts_poller_stats(p)->retries);
	ts_acct_free(acct);
	ts_poller_close(p);
	return 0;
}
