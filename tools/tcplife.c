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
#include "../engine/engine.h"
#include "../engine/sink.h"
#include "../common/opts.h"

static const char usage[] =
"usage: tcplife [-h] [-T] [-t] [-w] [-s] [-p PID] [-L LPORT[,LPORT...]]\n"
"               [-D RPORT[,RPORT...]] [-4|-6] [--json] [--ring-size BYTES]\n"
"               [--ready-file PATH] [--netns all|self|PATH] [-c CGROUP]\n"
"               [--container] [--stats] [--owner-hooks HOOKS]\n"
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
TS_OWNER_HOOKS_USAGE
TS_NETNS_USAGE
"  --container     add a CONTAINER column (from the socket's cgroup)\n"
"  --stats         print the engine's counters to stderr at exit\n"
"Sessions born before tcplife started show MS as '-' (duration unknown).\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}


static bool parse_args(int argc, char **argv, struct ts_life_fmt *fmt,
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
	f->owner_hooks = common.owner_hooks;
	fmt->container = common.container;
	ts_engine_netns_opts(eng, &common);
	if (fmt->csv && fmt->json)
		ts_usage_error("tcplife", usage, "-s and --json exclude each other");
	return common.stats;
}

static int run(struct ts_engine *eng)
{
	char err[256];

	while (!stop_signal) {
		if (ts_engine_wait(eng, 200, err, sizeof(err))) {
			fprintf(stderr, "tcplife: %s\n", err);
			return 1;
		}
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
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct ts_sink_cfg sink = { .out = stdout };
	struct ts_engine_opts o = {
		.mode = TS_MODE_HYBRID,
		.ring_bytes = 8 << 20,
		.nl_bufsize = 32768,
		.whole_life = true,
		.report.prog = "tcplife",
	};
	struct ts_engine *eng;
	char err[256];
	bool stats;
	int ret;

	stats = parse_args(argc, argv, &sink.life, &o);
	ts_catch_signals(on_signal);
	sink.life.mono_to_unix = ts_mono_to_unix();
	/* Line by line even into a pipe: sessions show as they close. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	eng = ts_engine_open(&o, err, sizeof(err));
	if (!eng) {
		fprintf(stderr, "tcplife: %s\n", err);
		return 1;
	}
	if (!ts_engine_add_sink(eng, ts_sink_open("life", &sink))) {
		fprintf(stderr, "tcplife: out of memory\n");
		ts_engine_close(eng);
		return 1;
	}
	/* One dump: which live sessions opened actively, and their owners. */
	ret = ts_engine_start(eng, err, sizeof(err));
	if (ret)
		fprintf(stderr, "tcplife: %s\n", err);
	else
		ret = run(eng);
	if (stats)
		ts_engine_print_stats(eng, stderr, "tcplife");
	ts_engine_close(eng);
	return ret ? 1 : 0;
}
