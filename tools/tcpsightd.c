// SPDX-License-Identifier: GPL-2.0
/*
 * tcpsightd: the engine's rows as Prometheus counters (--listen) and a
 * compressed JSONL archive of every session (--jsonl), for fleets.
 * Options -> engine -> its sinks "metrics" and "archive" (engine/sink_metrics.c,
 * engine/sink_archive.c over sinks/metrics.c and sinks/jsonl.c); sinks/http.c
 * serves the metrics.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../engine/engine.h"
#include "../engine/sink.h"
#include "../common/budget.h"
#include "../common/opts.h"
#include "../common/output.h"
#include "../sinks/http.h"
#include "../sinks/jsonl.h"
#include "../sinks/metrics.h"

static const char usage[] =
"usage: tcpsightd [-h] [--listen ADDR:PORT] [--jsonl DIR] [--interval S]\n"
"                 [--max-cpu PERCENT] [--ports PORT[,PORT...]] [--max-series N]\n"
"                 [--jsonl-max-bytes N] [--jsonl-max-age S] [--mode hybrid|poll]\n"
"                 [-p PID] [-4|-6] [--ring-size BYTES] [--ready-file PATH]\n"
"                 [--netns all|self|PATH] [-c CGROUP] [--owner-hooks H]\n"
"                 [--source sock_diag|iter|auto] [--stats]\n"
"  --listen A:P        serve GET /metrics (Prometheus, OpenMetrics) on A:P,\n"
"                      e.g. 127.0.0.1:9630 or [::1]:9630\n"
"  --jsonl DIR         archive: DIR/intervals-*.jsonl.zst (one object per\n"
"                      session per interval), DIR/sessions-*.jsonl.zst (one\n"
"                      per closed session)\n"
"  --interval S        seconds between polls, fractions allowed (default 10)\n"
"  --max-cpu PERCENT   lengthen the interval to stay under this share of one\n"
"                      CPU (default: no limit)\n"
"  --ports LIST        server ports kept as the port label besides the ports\n"
"                      listening here (up to 1024)\n"
"  --max-series N      label sets of tcpsight_bytes_total before folding\n"
"                      (default 4096)\n"
"  --jsonl-max-bytes N rotate an archive file at N bytes (default 67108864)\n"
"  --jsonl-max-age S   ... or after S seconds (default 3600)\n"
"  --mode MODE         hybrid (default): polling + close-path probe;\n"
"                      poll: sock_diag polling only, no BPF\n"
"  -p PID, -4, -6      only this process / only IPv4 / only IPv6\n"
"  --ring-size N       close-event ring buffer bytes (default 8388608)\n"
"  --ready-file F      create F once serving and the baseline is taken\n"
"  --netns NS, -c P    namespaces and cgroup subtree watched (as tcptop)\n"
"  --owner-hooks H     where owners of accepted sockets come from (as tcptop)\n"
"  --source S          what polls: sock_diag (default), iter, auto\n"
"  --stats             print the engine's counters to stderr at exit\n"
"SIGHUP reopens the archive files; SIGTERM and SIGINT flush and exit 0.\n";

/* The ring is drained this often whatever the interval: it never fills up. */
#define DRAIN_MS 1000
#define MAX_INTERVAL 3600.0

enum {
	OPT_LISTEN = TS_OPT_TOOL,
	OPT_JSONL,
	OPT_INTERVAL,
	OPT_MAX_CPU,
	OPT_PORTS,
	OPT_MAX_SERIES,
	OPT_JSONL_BYTES,
	OPT_JSONL_AGE,
};

struct daemon_opts {
	struct ts_common_opts common;	/* -p, -4/-6, ring, ready */
	struct ts_engine_opts eng;
	const char *listen;
	struct sockaddr_storage listen_addr;
	const char *jsonl_dir;
	double interval;
	double max_cpu;			/* percent; 0: none */
	uint16_t ports[TS_MAX_PORTS];
	unsigned int n_ports;
	uint32_t max_series;
	uint64_t jsonl_max_bytes;
	double jsonl_max_age;
};

struct daemon {
	const struct daemon_opts *o;
	struct ts_engine *eng;
	pthread_mutex_t lock;		/* metrics: the HTTP thread reads them */
	struct ts_metrics *metrics;
	struct ts_http *http;
	struct ts_jsonl *intervals;
	struct ts_jsonl *sessions;
	struct ts_health health;
	struct ts_budget budget;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t hup_signal;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_signal = 1;
	else
		stop_signal = sig;
}

static const char prog[] = "tcpsightd";

static void own_option(int c, const char *arg, struct daemon_opts *o)
{
	socklen_t len;

	switch (c) {
	case OPT_LISTEN:
		if (!ts_parse_listen(arg, &o->listen_addr, &len))
			ts_usage_error(prog, usage, "invalid listen address: '%s' "
				       "(ADDR:PORT, IPv6 as [ADDR]:PORT)", arg);
		o->listen = arg;
		return;
	case OPT_JSONL:
		o->jsonl_dir = arg;
		return;
	case OPT_INTERVAL:
		if (!ts_parse_interval(arg, &o->interval))
			ts_usage_error(prog, usage, "invalid interval: '%s'", arg);
		return;
	case OPT_MAX_CPU:
		if (!ts_parse_interval(arg, &o->max_cpu) || o->max_cpu > 100)
			ts_usage_error(prog, usage, "invalid CPU share: '%s' (0..100 percent)", arg);
		return;
	case OPT_PORTS:
		if (!ts_parse_ports(arg, o->ports, &o->n_ports, TS_MAX_PORTS))
			ts_usage_error(prog, usage, "invalid ports: '%s'", arg);
		return;
	case OPT_MAX_SERIES:
		if (!ts_parse_u32(arg, 1, 1 << 20, &o->max_series))
			ts_usage_error(prog, usage, "invalid series cap: '%s' (1..1048576)", arg);
		return;
	case OPT_JSONL_BYTES:
		if (!ts_parse_size(arg, 1, 1ULL << 40, &o->jsonl_max_bytes))
			ts_usage_error(prog, usage, "invalid file size: '%s'", arg);
		return;
	case OPT_JSONL_AGE:
		if (!ts_parse_interval(arg, &o->jsonl_max_age))
			ts_usage_error(prog, usage, "invalid file age: '%s'", arg);
		return;
	}
}

static void parse_args(int argc, char **argv, struct daemon_opts *o)
{
	static const struct option longopts[] = {
		TS_COMMON_LONGOPTS,
		TS_ENGINE_LONGOPTS,
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "jsonl", required_argument, NULL, OPT_JSONL },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "max-cpu", required_argument, NULL, OPT_MAX_CPU },
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "max-series", required_argument, NULL, OPT_MAX_SERIES },
		{ "jsonl-max-bytes", required_argument, NULL, OPT_JSONL_BYTES },
		{ "jsonl-max-age", required_argument, NULL, OPT_JSONL_AGE },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" TS_COMMON_SHORTOPTS, longopts,
				NULL)) != -1) {
		if (ts_common_option(prog, usage, c, optarg, &o->common) ||
		    ts_engine_option(prog, usage, c, optarg, &o->eng))
			continue;
		if (c < OPT_LISTEN || c > OPT_JSONL_AGE)
			ts_bad_option(prog, usage, c, argv);
		own_option(c, optarg, o);
	}
	if (optind < argc)
		ts_usage_error(prog, usage, "unexpected argument: '%s'", argv[optind]);
	if (o->common.json)
		ts_usage_error(prog, usage, "--json is tcptop's: the archive is --jsonl DIR");
	if (o->eng.mode == TS_MODE_TRACE)
		ts_usage_error(prog, usage, "--mode trace is for comparisons: use hybrid or poll");
	if (!o->listen && !o->jsonl_dir)
		ts_usage_error(prog, usage, "nothing to do: give --listen, --jsonl or both");
}

static void flush_archive(struct daemon *d)
{
	uint64_t now = ts_monotonic_ns();

	if (!d->intervals)
		return;
	ts_jsonl_flush(d->intervals, now);
	ts_jsonl_flush(d->sessions, now);
}

/* ------------------------------------------------------------ metrics */

static double cpu_clock(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every thread, user and system, to the nanosecond (rusage is coarser). */
static double process_cpu(void)
{
	return cpu_clock(CLOCK_PROCESS_CPUTIME_ID);
}

/* The polling thread's: the dump's kernel work is charged to it. */
static double thread_cpu(void)
{
	return cpu_clock(CLOCK_THREAD_CPUTIME_ID);
}

static void jsonl_health(struct ts_health *h, const struct ts_jsonl *j)
{
	const struct ts_jsonl_stats *s = ts_jsonl_stats(j);

	h->jsonl = true;
	h->jsonl_records += s->records;
	h->jsonl_dropped += s->dropped;
	h->jsonl_write_errors += s->write_errors;
	h->jsonl_files += s->files;
}

static void gather_health(struct daemon *d)
{
	const struct ts_engine_stats *st = ts_engine_stats(d->eng);
	const struct ts_acct_stats *a = ts_engine_acct_stats(d->eng);
	struct ts_health *h = &d->health;

	h->polls = st->dumps;
	h->dump_sockets = st->dump_sockets;
	h->namespaces = st->namespaces;
	h->lost = st->lost;
	h->samples_dropped = a->oom + st->map_full + st->held_oom;
	h->sessions = a->sessions;
	h->opened = a->born + a->closed_unseen;
	h->closed = a->closed_seen + a->closed_unseen + a->retired_unclosed;
	h->cpu_seconds = process_cpu();
	h->jsonl = false;
	h->jsonl_records = h->jsonl_dropped = 0;
	h->jsonl_write_errors = h->jsonl_files = 0;
	if (d->intervals) {
		jsonl_health(h, d->intervals);
		jsonl_health(h, d->sessions);
	}
}

static char *render(enum ts_expo fmt, size_t *len, void *arg)
{
	struct daemon *d = arg;
	char *buf = NULL;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&d->lock);
	ts_metrics_write(d->metrics, f, fmt);
	pthread_mutex_unlock(&d->lock);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ------------------------------------------------------------ loop */

/* One interval's work; returns its CPU seconds, or < 0 on engine failure. */
static double interval_work(struct daemon *d)
{
	double t0 = thread_cpu();
	const struct ts_row *rows;
	char err[256];
	size_t n;

	/* The sinks count and archive the rows; losses are reported there. */
	if (ts_engine_interval(d->eng, TS_SORT_ALL, &rows, &n, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	flush_archive(d);
	return thread_cpu() - t0;
}

/* Until @deadline_ns: the ring drained every DRAIN_MS, SIGHUP served. */
static int wait_until(struct daemon *d, uint64_t deadline_ns)
{
	char err[256];

	while (!stop_signal) {
		uint64_t now = ts_monotonic_ns();
		int ms;

		if (hup_signal) {
			hup_signal = 0;
			if (d->intervals) {
				ts_jsonl_reopen(d->intervals);
				ts_jsonl_reopen(d->sessions);
			}
		}
		if (now >= deadline_ns)
			return 0;
		ms = (int)((deadline_ns - now + 999999) / 1000000);
		if (ts_engine_wait(d->eng, ms < DRAIN_MS ? ms : DRAIN_MS, err,
				   sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return -1;
		}
	}
	return 0;
}

static int run(struct daemon *d)
{
	uint64_t prev = ts_monotonic_ns(), deadline = prev;
	double interval = d->o->interval, cpu_prev = process_cpu();

	for (;;) {
		double period, cost, cpu;
		uint64_t now;

		deadline += (uint64_t)llround(interval * 1e9);
		if (wait_until(d, deadline))
			return 1;
		now = ts_monotonic_ns();
		period = (now - prev) / 1e9;
		prev = now;
		cost = interval_work(d);
		if (cost < 0)
			return 1;
		cpu = process_cpu();
		interval = ts_budget_next(&d->budget, cost, cpu - cpu_prev, period);
		cpu_prev = cpu;
		pthread_mutex_lock(&d->lock);
		d->health.poll_cpu_seconds += cost;
		d->health.interval = interval;
		gather_health(d);
		ts_metrics_set_health(d->metrics, &d->health);
		pthread_mutex_unlock(&d->lock);
		if (stop_signal)
			return 0;
		/* A late poll does not make the next ones come in a burst. */
		if (deadline < now)
			deadline = now;
	}
}

static int open_archive(struct daemon *d, char *err, size_t errlen)
{
	struct ts_jsonl_opts jo = {
		.dir = d->o->jsonl_dir,
		.max_bytes = d->o->jsonl_max_bytes,
		.max_age_ns = (uint64_t)llround(d->o->jsonl_max_age * 1e9),
		.level = 3,
	};

	jo.stream = "intervals";
	d->intervals = ts_jsonl_open(&jo, err, errlen);
	if (!d->intervals)
		return -1;
	jo.stream = "sessions";
	d->sessions = ts_jsonl_open(&jo, err, errlen);
	return d->sessions ? 0 : -1;
}

/* The HTTP thread takes no signals: they reach the loop's waits. */
static int start_http(struct daemon *d, char *err, size_t errlen)
{
	sigset_t set, old;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	d->http = ts_http_start(&d->o->listen_addr, render, d, err, errlen);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d->http ? 0 : -1;
}

/* The engine hands rows to both sinks and whole sessions to the archive. */
static int add_sinks(struct daemon *d, char *err, size_t errlen)
{
	struct ts_sink_cfg cfg = {
		.pid = d->o->common.pid,
		.family = d->o->common.family,
		.life = { .json = true, .mono_to_unix = ts_mono_to_unix() },
		.metrics = d->metrics,
		.lock = &d->lock,
		.intervals = d->intervals,
		.sessions = d->sessions,
	};

	if (!ts_engine_add_sink(d->eng, ts_sink_open("metrics", &cfg)) ||
	    (d->intervals &&
	     !ts_engine_add_sink(d->eng, ts_sink_open("archive", &cfg)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int start(struct daemon *d, char *err, size_t errlen)
{
	const struct daemon_opts *o = d->o;

	d->metrics = ts_metrics_new(o->max_series, o->ports, o->n_ports);
	if (!d->metrics) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (o->jsonl_dir && open_archive(d, err, errlen))
		return -1;
	d->eng = ts_engine_open(&o->eng, err, errlen);
	if (!d->eng || add_sinks(d, err, errlen))
		return -1;
	d->health.interval = o->interval;
	ts_metrics_set_health(d->metrics, &d->health);
	if (o->listen && start_http(d, err, errlen))
		return -1;
	return ts_engine_start(d->eng, err, errlen) ? -1 : 0;
}

static void stop(struct daemon *d)
{
	uint64_t now = ts_monotonic_ns();

	ts_http_stop(d->http);
	if (d->eng && d->o->common.stats)
		ts_engine_print_stats(d->eng, stderr, prog);
	/* The sinks go with the engine, before what they write into. */
	ts_engine_close(d->eng);
	ts_jsonl_close(d->intervals, now);
	ts_jsonl_close(d->sessions, now);
	ts_metrics_free(d->metrics);
	pthread_mutex_destroy(&d->lock);
}

int main(int argc, char **argv)
{
	static struct daemon_opts o = {
		.common.ring_bytes = 8 << 20,
		.interval = 10,
		.max_series = 4096,
		.jsonl_max_bytes = 64 << 20,
		.jsonl_max_age = 3600,
		.eng = {
			.mode = TS_MODE_HYBRID,
			.nl_bufsize = 32768,
			.rows_and_life = true,
			.report.prog = "tcpsightd",
		},
	};
	struct daemon d = { .o = &o, .lock = PTHREAD_MUTEX_INITIALIZER };
	char err[256];
	int ret = 1;

	parse_args(argc, argv, &o);
	o.eng.ring_bytes = o.common.ring_bytes;
	o.eng.ready_file = o.common.ready_file;
	o.eng.filter.owner_hooks = o.common.owner_hooks;
	ts_engine_netns_opts(&o.eng, &o.common);
	d.budget.base = o.interval;
	d.budget.max = o.interval > MAX_INTERVAL ? o.interval : MAX_INTERVAL;
	d.budget.budget = o.max_cpu / 100;
	ts_catch_signals(on_signal);
	if (start(&d, err, sizeof(err)))
		fprintf(stderr, "%s: %s\n", prog, err);
	else
		ret = run(&d);
	stop(&d);
	return ret;
}
