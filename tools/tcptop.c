// SPDX-License-Identifier: GPL-2.0
/* tcptop: per-session TCP bytes per interval.  Options -> engine -> output. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../engine/engine.h"
#include "../engine/sink.h"
#include "../common/opts.h"

static const char usage[] =
"usage: tcptop [-h] [-C] [-S] [-p PID] [-4|-6] [-r ROWS] [-s all|sent|received]\n"
"              [--mode hybrid|poll|trace] [--json] [--ring-size BYTES]\n"
"              [--attach auto|fentry|kprobe|tracepoint] [--map-size N]\n"
"              [--ready-file PATH] [--stats] [--netns all|self|PATH]\n"
"              [-c CGROUP] [--container] [--owner-hooks HOOKS]\n"
"              [--source sock_diag|iter|auto]\n"
"              [interval] [count]\n"
"  -C              don't clear the screen (and don't truncate to its height)\n"
"  -S              skip the loadavg summary line\n"
"  -p PID          only this process\n"
"  -4, -6          only IPv4 / IPv6\n"
"  -r ROWS         rows per table (default 20)\n"
"  -s KEY          sort by all (rx+tx, default), sent or received\n"
"  --mode MODE     hybrid (default): polling + close-path probe;\n"
"                  poll: sock_diag polling only, no BPF;\n"
"                  trace: per send/recv accounting (bcc's way), to compare\n"
"  --json          JSON Lines, one object per session per interval\n"
"  --ring-size N   close-event ring buffer bytes (default 8388608)\n"
"  --attach TYPE   trace mode: auto (default), fentry, kprobe, tracepoint\n"
"  --source SRC    hybrid polls: sock_diag (default), iter (BPF iterator:\n"
"                  only sockets that moved; kernels with iter/tcp), auto\n"
"  --map-size N    trace mode: live sessions the BPF map holds (65536)\n"
"  --stats         print the engine's counters to stderr at exit\n"
TS_OWNER_HOOKS_USAGE
TS_NETNS_USAGE
"  --container     add a CONTAINER column (from the socket's cgroup)\n"
"  --ready-file F  create F once the baseline is taken (for scripts)\n"
"  interval        seconds, fractions allowed (default 1)\n"
"  count           number of intervals (default: until Ctrl-C)\n";

struct top_opts {
	struct ts_common_opts common;	/* -p, -4/-6, --json, ring, ready */
	bool no_clear;
	bool no_summary;
	uint32_t rows;
	bool rows_set;
	enum ts_sort sort;
	double interval;
	uint32_t count;
	struct ts_engine_opts eng;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}


static void parse_sort(const char *s, enum ts_sort *sort)
{
	if (!strcmp(s, "all"))
		*sort = TS_SORT_ALL;
	else if (!strcmp(s, "sent"))
		*sort = TS_SORT_SENT;
	else if (!strcmp(s, "received"))
		*sort = TS_SORT_RECEIVED;
	else
		ts_usage_error("tcptop", usage, "invalid sort key: '%s'", s);
}

static void parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option longopts[] = {
		TS_COMMON_LONGOPTS,
		TS_ENGINE_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" TS_COMMON_SHORTOPTS "CSr:s:",
				longopts, NULL)) != -1) {
		if (ts_common_option("tcptop", usage, c, optarg, &o->common) ||
		    ts_engine_option("tcptop", usage, c, optarg, &o->eng))
			continue;
		switch (c) {
		case 'C':
			o->no_clear = true;
			break;
		case 'S':
			o->no_summary = true;
			break;
		case 'r':
			if (!ts_parse_u32(optarg, 1, 1000000, &o->rows))
				ts_usage_error("tcptop", usage, "invalid rows: '%s'", optarg);
			o->rows_set = true;
			break;
		case 's':
			parse_sort(optarg, &o->sort);
			break;
		default:
			ts_bad_option("tcptop", usage, c, argv);
		}
	}
	if (optind < argc && !ts_parse_interval(argv[optind++], &o->interval))
		ts_usage_error("tcptop", usage, "invalid interval: '%s'", argv[optind - 1]);
	if (optind < argc && !ts_parse_u32(argv[optind++], 1, 0x7fffffff, &o->count))
		ts_usage_error("tcptop", usage, "invalid count: '%s'", argv[optind - 1]);
	if (optind < argc)
		ts_usage_error("tcptop", usage, "unexpected argument: '%s'", argv[optind]);
}

/* Sleeps until @deadline_ns (monotonic) or a signal. */
static void wait_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000ULL,
		.tv_nsec = deadline_ns % 1000000000ULL,
	};

	while (!stop_signal &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int run(const struct top_opts *o, struct ts_engine *eng)
{
	uint64_t step = (uint64_t)llround(o->interval * 1e9);
	uint64_t deadline = ts_monotonic_ns();
	uint32_t done = 0;
	char err[256];

	for (;;) {
		const struct ts_row *rows;
		size_t n;

		bool last;

		deadline += step;
		wait_until(deadline);
		/* A signal during the previous interval still gets a fresh last sample. */
		last = stop_signal || (o->count && done + 1 >= o->count);
		if (last)
			ts_engine_set_final(eng);
		if (ts_engine_interval(eng, o->sort, &rows, &n, err, sizeof(err))) {
			fprintf(stderr, "tcptop: %s\n", err);
			return 1;
		}
		switch (ts_flush(stdout)) {
		case 1:
			return 0;
		case -1:
			fprintf(stderr, "tcptop: writing output: %s\n", strerror(errno));
			return 1;
		}
		done++;
		if (last)
			return 0;
	}
}

static bool add_sink(const struct top_opts *o, struct ts_engine *eng)
{
	struct ts_sink_cfg cfg = {
		.out = stdout,
		.pid = o->common.pid,
		.family = o->common.family,
		.rows = o->rows,
		.rows_set = o->rows_set,
		.no_clear = o->no_clear,
		.no_summary = o->no_summary,
		.container = o->common.container,
	};

	return ts_engine_add_sink(eng, ts_sink_open(o->common.json ? "json" :
						    "table", &cfg));
}

int main(int argc, char **argv)
{
	struct top_opts o = {
		.common.ring_bytes = 8 << 20,
		.rows = 20,
		.interval = 1,
		.eng = {
			.mode = TS_MODE_HYBRID,
			.nl_bufsize = 32768,
			.report.prog = "tcptop",
		},
	};
	struct ts_engine *eng;
	char err[256];
	int ret;

	parse_args(argc, argv, &o);
	o.eng.ring_bytes = o.common.ring_bytes;
	o.eng.ready_file = o.common.ready_file;
	o.eng.filter.owner_hooks = o.common.owner_hooks;
	ts_engine_netns_opts(&o.eng, &o.common);
	ts_catch_signals(on_signal);
	eng = ts_engine_open(&o.eng, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "tcptop: %s\n", err);
		return 1;
	}
	if (!add_sink(&o, eng)) {
		fprintf(stderr, "tcptop: out of memory\n");
		ts_engine_close(eng);
		return 1;
	}
	ret = ts_engine_start(eng, err, sizeof(err));
	if (ret)
		fprintf(stderr, "tcptop: %s\n", err);
	else
		ret = run(&o, eng);
	if (o.common.stats)
		ts_engine_print_stats(eng, stderr, "tcptop");
	ts_engine_close(eng);
	return ret ? 1 : 0;
}
