// SPDX-License-Identifier: GPL-2.0
/*
 * Opens and closes the engine N times in one process, in each mode, and
 * prints file descriptors and RSS along the way: a leak of a BPF object,
 * an fd or memory per start/stop shows as growth.
 *
 * usage: cycles MODE N     (MODE: poll, hybrid, trace, life)
 * prints: ok cycles_MODE (fds A->B, rss A->B KiB) | not ok ...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../engine/engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

static int cycle(const struct ts_engine_opts *o)
{
	const struct ts_row *rows;
	struct ts_engine *e;
	char err[256];
	size_t n;
	int ret;

	e = ts_engine_open(o, err, sizeof(err));
	if (!e) {
		printf("not ok cycles: %s\n", err);
		return -1;
	}
	/* A BPF mode that fell back to poll would cycle nothing of BPF. */
	if (ts_engine_mode(e) != o->mode) {
		printf("not ok cycles: asked for --mode %s, running %s\n",
		       ts_mode_name(o->mode), ts_mode_name(ts_engine_mode(e)));
		ts_engine_close(e);
		return -1;
	}
	ret = ts_engine_start(e, err, sizeof(err));
	if (!ret && !o->whole_life)
		ret = ts_engine_interval(e, TS_SORT_ALL, &rows, &n, err, sizeof(err));
	if (!ret && o->whole_life)
		ret = ts_engine_wait(e, 0, err, sizeof(err));
	ts_engine_close(e);
	if (ret)
		printf("not ok cycles: %s\n", err);
	return ret;
}

int main(int argc, char **argv)
{
	struct ts_engine_opts o = {
		.ring_bytes = 1 << 20,
		.nl_bufsize = 32768,
	};
	int i, n = argc > 2 ? atoi(argv[2]) : 100, fd0 = 0, fd1;
	long rss0 = 0, rss1;

	if (argc < 2 || n < 10) {
		fprintf(stderr, "usage: cycles poll|hybrid|trace|life N>=10\n");
		return 2;
	}
	if (!strcmp(argv[1], "life")) {
		o.mode = TS_MODE_HYBRID;
		o.whole_life = true;
	} else if (!ts_parse_mode(argv[1], &o.mode)) {
		fprintf(stderr, "cycles: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	/* A private, empty netns: other sockets on the machine change nothing. */
	if (unshare(CLONE_NEWNET)) {
		perror("cycles: unshare(CLONE_NEWNET)");
		return 1;
	}
	/* The first cycles warm libbpf and libc caches: measure after them. */
	for (i = 0; i < n; i++) {
		if (cycle(&o))
			return 1;
		if (i == 4) {
			rss0 = rss_kib();
			fd0 = count_fds();
		}
	}
	fd1 = count_fds();
	rss1 = rss_kib();
	/*
	 * RSS may settle by a few pages (malloc arenas); a leak grows with n.
	 * Under ASan the quarantine keeps freed memory: only fds are judged.
	 */
	if (fd1 != fd0 || (!UNDER_ASAN && rss1 - rss0 > 512)) {
		printf("not ok cycles_%s: after %d cycles fds %d -> %d, "
		       "rss %ld -> %ld KiB\n", argv[1], n, fd0, fd1, rss0, rss1);
		return 1;
	}
	printf("ok cycles_%s (%d cycles: fds %d -> %d, rss %ld -> %ld KiB)\n",
	       argv[1], n, fd0, fd1, rss0, rss1);
	return 0;
}
