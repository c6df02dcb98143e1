// SPDX-License-Identifier: GPL-2.0
/* tcplife: one line per finished TCP session.  Options -> engine -> output. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "engine.h"
#include "../common/opts.h"
#include "../common/output.h"

static const char usage[] =
"usage: tcplife [-h] [-T] [-t] [-w] [-s] [-p PID] [-L LPORT[,LPORT...]]\n"
"               [-D RPORT[,RPORT...]] [-4|-6] [--json] [--ring-size BYTES]\n"
"               [--ready-file PATH]\n"
"  -T              add a TIME (HH:MM:SS) column\n"
"  -t              add a TIME(s) column: seconds since the first event\n"
"  -w              wide columns (IPv6)\n"
"  -s              comma-separated values with a header; bytes exact\n"
"  -p PID          only sessions owned by this process\n"
"  -L PORTS        only these local ports (up to 1024)\n"
"  -D PORTS        only these remote ports (up to 1024)\n"
"  -4, -6          only IPv4 / IPv6\n"
"  --json          JSON Lines, one object per session\n"
"  --ring-size N   ring buffer bytes (default 8388608)\n"
"  --ready-file F  create F once the probe is attached (for scripts)\n"
"Sessions born before tcplife started show MS as '-' (duration unknown).\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}


struct life_state {
	struct ts_life_fmt fmt;
	bool seen_first;
	bool broken_pipe;
};

static void parse_args(int argc, char **argv, struct ts_life_fmt *fmt,
		       struct ts_engine_opts *eng)
{
	static const struct option longopts[] = {
		TS_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct ts_tracer_opts *f = &eng->filter;
	struct ts_common_opts common = { .ring_bytes = eng->ring_bytes };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" TS_COMMON_SHORTOPTS "TtwsL:D:",
				longopts, NULL)) != -1) {
		if (ts_common_option("tcplife", usage, c, optarg, &common))
			continue;
		switch (c) {
		case 'T':
			fmt->clock = true;
			break;
		case 't':
			fmt->rel = true;
			break;
		case 'w':
			fmt->wide = true;
			break;
		case 's':
			fmt->csv = true;
			break;
		case 'L':
			if (!ts_parse_ports(optarg, f->lports, &f->n_lports, TS_MAX_PORTS))
				ts_usage_error("tcplife", usage, "invalid local ports: '%s'", optarg);
			break;
		case 'D':
			if (!ts_parse_ports(optarg, f->rports, &f->n_rports, TS_MAX_PORTS))
				ts_usage_error("tcplife", usage, "invalid remote ports: '%s'", optarg);
			break;
		default:
			ts_bad_option("tcplife", usage, c, argv);
		}
	}
	if (optind < argc)
		ts_usage_error("tcplife", usage, "unexpected argument: '%s'", argv[optind]);
	f->pid = common.pid;
	f->family = common.family;
	fmt->json = common.json;
	eng->ring_bytes = common.ring_bytes;
	eng->ready_file = common.ready_file;
	if (fmt->csv && fmt->json)
		ts_usage_error("tcplife", usage, "-s and --json exclude each other");
}

static void on_life(const struct ts_life *l, void *arg)
{
	struct life_state *st = arg;

	if (st->broken_pipe)
		return;
	if (!st->seen_first) {
		st->fmt.first_ts = l->close_ns / 1e9 + st->fmt.mono_to_unix;
		st->seen_first = true;
	}
	ts_life_line(stdout, l, &st->fmt);
}

static void report_lost(struct ts_engine *eng, uint64_t *reported)
{
	uint64_t lost = ts_engine_stats(eng)->lost;

	if (lost == *reported)
		return;
	fprintf(stderr, "tcplife: lost %llu sessions (ring buffer full: raise "
		"--ring-size)\n", (unsigned long long)(lost - *reported));
	*reported = lost;
}

static int run(struct ts_engine *eng, struct life_state *st)
{
	uint64_t reported = 0;
	char err[256];

	ts_life_header(stdout, &st->fmt);
	while (!stop_signal) {
		if (ts_engine_wait(eng, 200, err, sizeof(err))) {
			fprintf(stderr, "tcplife: %s\n", err);
			return 1;
		}
		report_lost(eng, &reported);
		switch (ts_flush(stdout)) {
		case 1:
			return 0;
		case -1:
			fprintf(stderr, "tcplife: writing output: %s\n", strerror(errno));
			return 1;
		}
	}
	/* Ctrl-C: what the ring still holds is printed, not dropped. */
	ts_engine_wait(eng, 0, err, sizeof(err));
	report_lost(eng, &reported);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct life_state st = { 0 };
	struct ts_engine_opts o = {
		.mode = TS_MODE_HYBRID,
		.ring_bytes = 8 << 20,
		.nl_bufsize = 32768,
		.life_fn = on_life,
		.life_arg = &st,
	};
	struct ts_engine *eng;
	char err[256];
	int ret;

	parse_args(argc, argv, &st.fmt, &o);
	ts_catch_signals(on_signal);
	st.fmt.mono_to_unix = ts_mono_to_unix();
	/* Line by line even into a pipe: sessions show as they close. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	eng = ts_engine_open(&o, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "tcplife: %s\n", err);
		return 1;
	}
	/* One dump: which live sessions opened actively, and their owners. */
	ret = ts_engine_start(eng, err, sizeof(err));
	if (ret)
		fprintf(stderr, "tcplife: %s\n", err);
	else
		ret = run(eng, &st);
	ts_engine_close(eng);
	return ret ? 1 : 0;
}
