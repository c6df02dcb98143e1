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
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "engine.h"
#include "../common/opts.h"
#include "../common/output.h"

static const char usage[] =
"usage: tcptop [-h] [-C] [-S] [-p PID] [-4|-6] [-r ROWS] [-s all|sent|received]\n"
"              [--mode hybrid|poll|trace] [--json] [--ring-size BYTES]\n"
"              [--attach auto|fentry|kprobe|tracepoint] [--map-size N]\n"
"              [--ready-file PATH] [--stats]\n"
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
"  --map-size N    trace mode: live sessions the BPF map holds (65536)\n"
"  --stats         print the engine's counters to stderr at exit\n"
"  --ready-file F  create F once the baseline is taken (for scripts)\n"
"  interval        seconds, fractions allowed (default 1)\n"
"  count           number of intervals (default: until Ctrl-C)\n";

struct top_opts {
	struct ts_common_opts common;	/* -p, -4/-6, --json, ring, ready */
	bool no_clear;
	bool no_summary;
	bool stats;
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

enum { OPT_STATS = TS_OPT_TOOL };

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
		{ "stats", no_argument, NULL, OPT_STATS },
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
		case OPT_STATS:
			o->stats = true;
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

static bool row_wanted(const struct top_opts *o, const struct ts_row *r)
{
	return ts_common_wants(&o->common, r->pid, r->tuple.family);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_json(const struct top_opts *o, const struct ts_row *rows,
		       size_t n, const struct ts_top_fmt *fmt)
{
	size_t i, shown = 0;

	for (i = 0; i < n; i++) {
		if (!row_wanted(o, &rows[i]))
			continue;
		if (o->rows_set && shown++ >= o->rows)
			break;
		ts_top_json(stdout, &rows[i], fmt);
	}
}

/*
 * Lines the table may end with a newline: a terminal of N rows scrolls as
 * soon as the Nth newline is written, so the cursor keeps the last row.
 */
static int screen_lines(const struct top_opts *o)
{
	struct winsize ws;

	if (o->no_clear || !isatty(STDOUT_FILENO) ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_row)
		return 1 << 30;
	return ws.ws_row - 1;
}

static void print_loadavg(void)
{
	char buf[128] = "";
	char when[16];
	time_t now = time(NULL);
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	printf("%s loadavg: %s\n\n", when, buf);
}

/* A family's block is its header, its rows and one blank line. */
static int print_family(const struct top_opts *o, const struct ts_row *rows,
			size_t n, int family, int lines_left)
{
	size_t i;
	uint32_t shown = 0;
	bool any = false;

	for (i = 0; i < n; i++)
		if (rows[i].tuple.family == family && row_wanted(o, &rows[i]))
			any = true;
	if (!any || lines_left < 3)
		return lines_left;
	ts_top_header(stdout, family);
	lines_left -= 2;
	for (i = 0; i < n && shown < o->rows && lines_left > 0; i++) {
		if (rows[i].tuple.family != family || !row_wanted(o, &rows[i]))
			continue;
		ts_top_line(stdout, &rows[i]);
		shown++;
		lines_left--;
	}
	putchar('\n');
	return lines_left;
}

static void print_table(const struct top_opts *o, struct ts_engine *eng,
			const struct ts_row *rows, size_t n, uint64_t lost)
{
	int lines = screen_lines(o);
	bool summary;
	size_t i, closed = 0;

	if (!o->no_clear)
		fputs("\033[H\033[2J", stdout);
	if (!o->no_summary) {
		print_loadavg();
		lines -= 2;
	}
	/* The summary line's row is kept before the tables take theirs. */
	summary = ts_engine_mode(eng) != TS_MODE_POLL && lines > 0;
	if (summary)
		lines--;
	lines = print_family(o, rows, n, AF_INET, lines);
	print_family(o, rows, n, AF_INET6, lines);
	for (i = 0; i < n; i++)
		closed += rows[i].closed;
	if (summary)
		printf("-- %zu sessions moved bytes, %zu closed, %llu close events lost\n",
		       n, closed, (unsigned long long)lost);
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
	uint64_t prev = ts_monotonic_ns(), deadline = prev, lost_prev = 0;
	uint64_t full_prev = 0;
	uint32_t done = 0;
	char err[256];

	for (;;) {
		const struct ts_row *rows;
		struct ts_top_fmt fmt;
		uint64_t now, lost;
		size_t n;

		deadline += step;
		wait_until(deadline);
		if (ts_engine_interval(eng, o->sort, &rows, &n, err, sizeof(err))) {
			fprintf(stderr, "tcptop: %s\n", err);
			return 1;
		}
		now = ts_monotonic_ns();
		lost = ts_engine_stats(eng)->lost;
		fmt.ts = wall_now();
		fmt.interval = (now - prev) / 1e9;
		fmt.lost = lost - lost_prev;
		if (fmt.lost)
			fprintf(stderr, "tcptop: lost %llu close events this interval "
				"(ring buffer full: raise --ring-size)\n",
				(unsigned long long)fmt.lost);
		if (ts_engine_stats(eng)->map_full != full_prev) {
			full_prev = ts_engine_stats(eng)->map_full;
			fprintf(stderr, "tcptop: %llu send/recv calls found the trace "
				"map full so far: their bytes are not counted (raise --map-size)\n",
				(unsigned long long)full_prev);
		}
		prev = now;
		lost_prev = lost;
		if (o->common.json)
			print_json(o, rows, n, &fmt);
		else
			print_table(o, eng, rows, n, fmt.lost);
		switch (ts_flush(stdout)) {
		case 1:
			return 0;
		case -1:
			fprintf(stderr, "tcptop: writing output: %s\n", strerror(errno));
			return 1;
		}
		if (stop_signal || (o->count && ++done >= o->count))
			return 0;
	}
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
		},
	};
	struct ts_engine *eng;
	char err[256];
	int ret;

	parse_args(argc, argv, &o);
	o.eng.ring_bytes = o.common.ring_bytes;
	o.eng.ready_file = o.common.ready_file;
	ts_catch_signals(on_signal);
	eng = ts_engine_open(&o.eng, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "tcptop: %s\n", err);
		return 1;
	}
	ret = ts_engine_start(eng, err, sizeof(err));
	if (ret)
		fprintf(stderr, "tcptop: %s\n", err);
	else
		ret = run(&o, eng);
	if (o.stats)
		ts_engine_print_stats(eng, stderr, "tcptop");
	ts_engine_close(eng);
	return ret ? 1 : 0;
}
