// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of tcpsightd's pure parts: label folding, aggregation and
 * exposition (sinks/metrics.c), the archive's rotation and its frames
 * (sinks/jsonl.c, against a scratch directory), the listen address
 * (sinks/http.c) and the CPU budget (common/budget.c).
 *
 * Output: "ok NAME" or "not ok NAME: REASON" per case; exit 1 if any failed.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zstd.h>
#include "../common/budget.h"
#include "../sinks/http.h"
#include "../sinks/jsonl.h"
#include "../sinks/metrics.h"

/* A case returns NULL when it passes, else why it failed. */
typedef const char *(*case_fn)(void);
static char why[512];

#define EXPECT(c) do {							\
	if (!(c)) {							\
		snprintf(why, sizeof(why), "%s:%d: %s", __FILE__,	\
			 __LINE__, #c);					\
		return why;						\
	}								\
} while (0)

static struct ts_row row(const char *comm, uint32_t pid, bool active,
			 uint16_t lport, uint16_t rport, int64_t rx, int64_t tx)
{
	struct ts_row r;

	memset(&r, 0, sizeof(r));
	r.tuple.family = AF_INET;
	r.tuple.lport = lport;
	r.tuple.rport = rport;
	r.active = active;
	r.pid = pid;
	snprintf(r.comm, sizeof(r.comm), "%s", comm);
	r.rx = rx;
	r.tx = tx;
	return r;
}

static bool listens_on_5432(uint16_t port, void *arg)
{
	(void)arg;
	return port == 5432;
}

/* The exposition as one string (caller frees). */
static char *expo(const struct ts_metrics *m, enum ts_expo fmt)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	ts_metrics_write(m, f, fmt);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------ metrics */

static const char *test_key_role_and_port(void)
{
	uint16_t user[] = { 443 };
	struct ts_metrics *m = ts_metrics_new(16, user, 1);
	struct ts_series_key k;
	struct ts_row r;

	/* A server keeps its local port: it was accepted from a listener. */
	r = row("nginx", 10, false, 8080, 51000, 1, 1);
	ts_metrics_key(m, &r, NULL, NULL, &k);
	EXPECT(!k.client && k.port == 8080 && !strcmp(k.comm, "nginx"));
	/* A client to a remote port nobody listed: no port. */
	r = row("curl", 11, true, 51000, 9999, 1, 1);
	ts_metrics_key(m, &r, listens_on_5432, NULL, &k);
	EXPECT(k.client && k.port == 0);
	/* Listed by the user, or listening here, or a server port seen. */
	r = row("curl", 11, true, 51001, 443, 1, 1);
	ts_metrics_key(m, &r, listens_on_5432, NULL, &k);
	EXPECT(k.port == 443);
	r = row("psql", 12, true, 51002, 5432, 1, 1);
	ts_metrics_key(m, &r, listens_on_5432, NULL, &k);
	EXPECT(k.port == 5432);
	r = row("wget", 13, true, 51003, 8080, 1, 1);
	ts_metrics_key(m, &r, NULL, NULL, &k);
	EXPECT(k.port == 8080);
	/* Unknown owner: empty comm whatever the stale buffer holds. */
	r = row("stale", 0, true, 51004, 9999, 1, 1);
	ts_metrics_key(m, &r, NULL, NULL, &k);
	EXPECT(!strcmp(k.comm, "") && !strcmp(k.cgroup, ""));
	/* Control bytes and non-ASCII never reach a label. */
	r = row("a\x01\xc3z", 14, true, 51005, 9999, 1, 1);
	ts_metrics_key(m, &r, NULL, NULL, &k);
	EXPECT(!strcmp(k.comm, "a??z"));
	ts_metrics_free(m);
	return NULL;
}

static const char *test_aggregate_exact(void)
{
	struct ts_metrics *m = ts_metrics_new(16, NULL, 0);
	struct ts_row rows[] = {
		row("srv", 1, false, 80, 40000, 100, 200),
		row("cli", 2, true, 40000, 80, 200, 100),
		row("srv", 1, false, 80, 40001, 7, 9),
		row("cli", 2, true, 40001, 80, -5, 0),	/* never subtracts */
	};
	uint64_t rx, tx;

	ts_metrics_add_rows(m, rows, 4, NULL, NULL);
	ts_metrics_add_rows(m, rows, 2, NULL, NULL);
	EXPECT(ts_metrics_series(m) == 2);
	ts_metrics_totals(m, &rx, &tx);
	EXPECT(rx == 100 + 200 + 7 + 100 + 200);
	EXPECT(tx == 200 + 100 + 9 + 200 + 100);
	ts_metrics_free(m);
	return NULL;
}

/* The client row comes first, yet learns the server's port of its interval. */
static const char *test_client_learns_server_port(void)
{
	struct ts_metrics *m = ts_metrics_new(16, NULL, 0);
	struct ts_row rows[] = {
		row("cli", 2, true, 40000, 7000, 1, 2),
		row("srv", 1, false, 7000, 40000, 2, 1),
	};
	char *s;

	ts_metrics_add_rows(m, rows, 2, NULL, NULL);
	s = expo(m, TS_EXPO_PROMETHEUS);
	EXPECT(strstr(s, "tcpsight_bytes_total{direction=\"rx\",comm=\"cli\","
		      "cgroup=\"\",role=\"client\",port=\"7000\"} 1\n"));
	free(s);
	ts_metrics_free(m);
	return NULL;
}

static const char *test_cap_folds_and_counts(void)
{
	struct ts_metrics *m = ts_metrics_new(2, NULL, 0);
	struct ts_row rows[] = {
		row("a", 1, true, 40000, 1, 1, 10),
		row("b", 2, true, 40001, 1, 2, 20),
		row("c", 3, true, 40002, 1, 4, 40),
		row("d", 4, false, 90, 40003, 8, 80),
		row("a", 1, true, 40004, 1, 16, 160),
	};
	uint64_t rx, tx;
	char *s;

	ts_metrics_add_rows(m, rows, 5, NULL, NULL);
	EXPECT(ts_metrics_series(m) == 2);
	EXPECT(ts_metrics_folded(m) == 2);
	ts_metrics_totals(m, &rx, &tx);
	EXPECT(rx == 31 && tx == 310);
	s = expo(m, TS_EXPO_PROMETHEUS);
	EXPECT(strstr(s, "{direction=\"rx\",comm=\"*\",cgroup=\"*\","
		      "role=\"client\",port=\"*\"} 4\n"));
	EXPECT(strstr(s, "{direction=\"tx\",comm=\"*\",cgroup=\"*\","
		      "role=\"server\",port=\"*\"} 80\n"));
	EXPECT(strstr(s, "{direction=\"tx\",comm=\"a\",cgroup=\"\","
		      "role=\"client\",port=\"\"} 170\n"));
	EXPECT(strstr(s, "\ntcpsight_series_folded_total 2\n"));
	free(s);
	ts_metrics_free(m);
	return NULL;
}

static const char *test_exposition_text(void)
{
	struct ts_metrics *m = ts_metrics_new(8, NULL, 0);
	struct ts_row r = row("x", 1, false, 22, 40000, 3, 4);
	struct ts_health h = { .polls = 7, .interval = 2.5, .lost = 1 };
	char *s;

	ts_metrics_add_rows(m, &r, 1, NULL, NULL);
	ts_metrics_set_health(m, &h);
	s = expo(m, TS_EXPO_PROMETHEUS);
	EXPECT(!strncmp(s, "# HELP tcpsight_bytes_total ", 28));
	EXPECT(strstr(s, "# TYPE tcpsight_bytes_total counter\n"
		      "tcpsight_bytes_total{direction=\"rx\",comm=\"x\",cgroup=\"\","
		      "role=\"server\",port=\"22\"} 3\n"
		      "tcpsight_bytes_total{direction=\"tx\",comm=\"x\",cgroup=\"\","
		      "role=\"server\",port=\"22\"} 4\n"));
	EXPECT(strstr(s, "# TYPE tcpsight_polls_total counter\ntcpsight_polls_total 7\n"));
	EXPECT(strstr(s, "# TYPE tcpsight_interval_seconds gauge\ntcpsight_interval_seconds 2.5\n"));
	EXPECT(strstr(s, "tcpsight_close_events_lost_total 1\n"));
	EXPECT(!strstr(s, "# EOF") && !strstr(s, "# UNIT"));
	EXPECT(!strstr(s, "jsonl"));
	free(s);
	ts_metrics_free(m);
	return NULL;
}

static const char *test_exposition_openmetrics(void)
{
	struct ts_metrics *m = ts_metrics_new(8, NULL, 0);
	struct ts_health h = { .jsonl = true, .jsonl_records = 5 };
	char *s;
	size_t len;

	ts_metrics_set_health(m, &h);
	s = expo(m, TS_EXPO_OPENMETRICS);
	len = strlen(s);
	EXPECT(len > 6 && !strcmp(s + len - 6, "# EOF\n"));
	/* Counter families are named without _total, samples with. */
	EXPECT(strstr(s, "# TYPE tcpsight_bytes counter\n# UNIT tcpsight_bytes bytes\n"));
	EXPECT(strstr(s, "# TYPE tcpsight_jsonl_records counter\n"));
	EXPECT(strstr(s, "\ntcpsight_jsonl_records_total 5\n"));
	EXPECT(!strstr(s, "# TYPE tcpsight_polls_total"));
	EXPECT(strstr(s, "# TYPE tcpsight_sessions gauge\n"));
	free(s);
	ts_metrics_free(m);
	return NULL;
}

static const char *test_label_escaping(void)
{
	char out[64];

	ts_label_value(out, sizeof(out), "a\"b\\c\nd\x7f");
	EXPECT(!strcmp(out, "a\\\"b\\\\c\\nd?"));
	ts_label_value(out, 6, "\"\"\"\"");
	EXPECT(!strcmp(out, "\\\"\\\""));
	return NULL;
}

static const char *test_negotiate(void)
{
	EXPECT(ts_expo_negotiate(NULL) == TS_EXPO_PROMETHEUS);
	EXPECT(ts_expo_negotiate("*/*") == TS_EXPO_PROMETHEUS);
	EXPECT(ts_expo_negotiate("text/plain;version=0.0.4") == TS_EXPO_PROMETHEUS);
	/* What Prometheus itself sends. */
	EXPECT(ts_expo_negotiate("application/openmetrics-text;version=1.0.0,"
				 "application/openmetrics-text;version=0.0.1;q=0.75,"
				 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
	       TS_EXPO_OPENMETRICS);
	EXPECT(ts_expo_negotiate("application/openmetrics-text;q=0,text/plain") ==
	       TS_EXPO_PROMETHEUS);
	EXPECT(!strncmp(ts_expo_content_type(TS_EXPO_OPENMETRICS),
			"application/openmetrics-text; version=1.0.0", 43));
	return NULL;
}

/* ------------------------------------------------------------ listen, budget */

static const char *test_parse_listen(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	socklen_t len;
	const char *bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
			      "127.0.0.1:65536", "::1:80", "[::1]", "[::1]:x",
			      "localhost:80", "1.2.3:80", ":80", NULL };
	int i;

	EXPECT(ts_parse_listen("127.0.0.1:9630", &ss, &len));
	EXPECT(v4->sin_family == AF_INET && ntohs(v4->sin_port) == 9630 &&
	       len == sizeof(*v4));
	EXPECT(ts_parse_listen("[::1]:80", &ss, &len));
	EXPECT(v6->sin6_family == AF_INET6 && ntohs(v6->sin6_port) == 80 &&
	       len == sizeof(*v6));
	for (i = 0; bad[i]; i++)
		EXPECT(!ts_parse_listen(bad[i], &ss, &len) || !bad[i]);
	return NULL;
}

static const char *test_budget(void)
{
	struct ts_budget b = { .base = 1, .max = 3600, .budget = 0.01 };
	struct ts_budget none = { .base = 1, .max = 3600 };
	struct ts_budget busy = { .base = 1, .max = 60, .budget = 0.01 };
	double t;

	/* 5 ms per poll under 1%: 0.5 s would do, the base stays. */
	EXPECT(ts_budget_next(&b, 0.005, 0.005, 1) == 1);
	/* 50 ms per poll: 5 s, reached by doubling (2, 4, 5). */
	b = (struct ts_budget){ .base = 1, .max = 3600, .budget = 0.01 };
	EXPECT(ts_budget_next(&b, 0.05, 0.05, 1) == 2);
	EXPECT(ts_budget_next(&b, 0.05, 0.05, 2) == 4);
	t = ts_budget_next(&b, 0.05, 0.05, 4);
	EXPECT(t > 4.99 && t < 5.01);
	/* Cheaper again: back down at once, never under the base. */
	for (int i = 0; i < 20; i++)
		t = ts_budget_next(&b, 0.001, 0.001, 5);
	EXPECT(t == 1);
	/* Other work takes half the budget: twice as long (10 s). */
	b = (struct ts_budget){ .base = 8, .max = 3600, .budget = 0.01 };
	t = ts_budget_next(&b, 0.05, 0.05 + 0.005 * 10, 10);
	EXPECT(t > 9.99 && t < 10.01);
	/* No budget: the base, whatever it costs. */
	EXPECT(ts_budget_next(&none, 10, 10, 1) == 1);
	/* Everything eaten elsewhere: longer and longer, up to the cap. */
	EXPECT(ts_budget_next(&busy, 0.001, 1, 10) == 2);
	for (int i = 0; i < 10; i++)
		t = ts_budget_next(&busy, 0.001, 1, 10);
	EXPECT(t == 60);
	return NULL;
}

/* ------------------------------------------------------------ archive */

static const char *rotate_cases(void)
{
	EXPECT(!ts_rotate_due(0, 100, 100, 10, 50));
	EXPECT(ts_rotate_due(10, 100, 100, 10, 50));
	EXPECT(!ts_rotate_due(9, 100, 149, 10, 50));
	EXPECT(ts_rotate_due(9, 100, 150, 10, 50));
	EXPECT(!ts_rotate_due(1 << 30, 0, 1ULL << 60, 0, 0));
	EXPECT(!ts_rotate_due(0, 200, 100, 0, 50));	/* clock went back */
	return NULL;
}

static const char *test_rotation_rule(void)
{
	char name[128];

	if (rotate_cases())
		return why;
	ts_jsonl_name(name, sizeof(name), "sessions", 0, 42, 7);
	EXPECT(!strcmp(name, "sessions-19700101T000000Z-42-000007.jsonl.zst"));
	return NULL;
}

struct archive {
	char dir[64];
	size_t files;
	size_t hidden;
	size_t records;
	bool bad_frame;
};

/* Frame by frame: each must be whole and end on a newline. */
static void read_file(struct archive *a, const char *path)
{
	FILE *f = fopen(path, "rb");
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	char in[4096], out[65536], last = '\n';
	size_t n, left = 0;

	while (f && (n = fread(in, 1, sizeof(in), f)) > 0) {
		ZSTD_inBuffer ib = { in, n, 0 };

		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { out, sizeof(out), 0 };
			size_t i;

			left = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(left)) {
				a->bad_frame = true;
				goto out;
			}
			for (i = 0; i < ob.pos; i++)
				a->records += out[i] == '\n';
			if (ob.pos)
				last = out[ob.pos - 1];
			if (!left && last != '\n')
				a->bad_frame = true;
		}
	}
	/* Ended inside a frame: torn. */
	if (left)
		a->bad_frame = true;
out:
	if (f)
		fclose(f);
	ZSTD_freeDCtx(dctx);
}

static void scan(struct archive *a)
{
	DIR *d = opendir(a->dir);
	struct dirent *e;
	char path[512];

	a->files = a->hidden = a->records = 0;
	a->bad_frame = false;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_name[0] == '.') {
			a->hidden++;
			continue;
		}
		a->files++;
		snprintf(path, sizeof(path), "%s/%s", a->dir, e->d_name);
		read_file(a, path);
	}
	closedir(d);
}

static void cleanup(struct archive *a)
{
	DIR *d = opendir(a->dir);
	struct dirent *e;
	char path[512];

	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(a->dir);
}

static struct ts_jsonl *scratch(struct archive *a, uint64_t max_bytes)
{
	struct ts_jsonl_opts o = {
		.stream = "t", .max_bytes = max_bytes, .level = 1,
	};
	char err[256];

	snprintf(a->dir, sizeof(a->dir), "/tmp/test_sinks.XXXXXX");
	if (!mkdtemp(a->dir))
		return NULL;
	o.dir = a->dir;
	return ts_jsonl_open(&o, err, sizeof(err));
}

static void add_records(struct ts_jsonl *j, int from, int n)
{
	char rec[128];
	int i;

	for (i = from; i < from + n; i++) {
		int len = snprintf(rec, sizeof(rec), "{\"n\":%d,\"pad\":\"%08x%08x\"}\n",
				   i, i * 2654435761u, i ^ 0x5bd1e995);

		ts_jsonl_add(j, rec, (size_t)len);
	}
}

static const char *archive_rotations(struct archive *a)
{
	struct ts_jsonl *j = scratch(a, 2000);
	int round;

	EXPECT(j);
	for (round = 0; round < 20; round++) {
		add_records(j, round * 50, 50);
		EXPECT(ts_jsonl_flush(j, (uint64_t)round) == 0);
	}
	scan(a);
	/* Closed files only under final names; the open one hidden. */
	EXPECT(a->hidden <= 1);
	EXPECT(a->files == ts_jsonl_stats(j)->files && a->files >= 3);
	ts_jsonl_close(j, 100);
	scan(a);
	EXPECT(a->hidden == 0 && !a->bad_frame);
	EXPECT(a->records == 1000);
	return NULL;
}

static const char *test_archive_rotations_keep_records(void)
{
	struct archive a;
	const char *ret = archive_rotations(&a);

	cleanup(&a);
	return ret;
}

/*
 * A file that cannot grow (RLIMIT_FSIZE: a full disk without a mount):
 * the failed frame is taken back out, counted, and writing resumes.
 */
static const char *archive_full(struct archive *a)
{
	struct rlimit old, small = { .rlim_cur = 3000 };
	struct ts_jsonl *j = scratch(a, 0);
	const struct ts_jsonl_stats *st;
	int ret;

	EXPECT(j);
	st = ts_jsonl_stats(j);
	add_records(j, 0, 10);
	EXPECT(ts_jsonl_flush(j, 1) == 0);
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_FSIZE, &small);
	add_records(j, 10, 2000);
	ret = ts_jsonl_flush(j, 2);
	setrlimit(RLIMIT_FSIZE, &old);
	EXPECT(ret == -EFBIG);
	EXPECT(st->dropped == 2000 && st->records == 10 && st->write_errors == 1);
	add_records(j, 2010, 5);
	EXPECT(ts_jsonl_flush(j, 3) == 0);
	ts_jsonl_close(j, 4);
	scan(a);
	EXPECT(!a->bad_frame && a->records == 15 && a->files == 1);
	return NULL;
}

static const char *test_archive_full_disk_drops_whole_frames(void)
{
	struct archive a;
	const char *ret;

	signal(SIGXFSZ, SIG_IGN);
	ret = archive_full(&a);
	cleanup(&a);
	return ret;
}

static const char *test_archive_reopen_and_empty(void)
{
	struct archive a;
	struct ts_jsonl *j = scratch(&a, 0);
	const char *ret = NULL;

	if (!j)
		return "scratch";
	ts_jsonl_flush(j, 1);			/* nothing: no file */
	add_records(j, 0, 3);
	ts_jsonl_flush(j, 2);
	ts_jsonl_reopen(j);			/* SIGHUP */
	add_records(j, 3, 4);
	ts_jsonl_flush(j, 3);
	ts_jsonl_close(j, 4);
	scan(&a);
	if (a.files != 2 || a.records != 7 || a.hidden || a.bad_frame)
		ret = "reopen: want 2 files, 7 records";
	cleanup(&a);
	return ret;
}

#define T(name) { #name, test_##name }
static const struct {
	const char *name;
	case_fn fn;
} cases[] = {
	T(key_role_and_port),
	T(aggregate_exact),
	T(client_learns_server_port),
	T(cap_folds_and_counts),
	T(exposition_text),
	T(exposition_openmetrics),
	T(label_escaping),
	T(negotiate),
	T(parse_listen),
	T(budget),
	T(rotation_rule),
	T(archive_rotations_keep_records),
	T(archive_full_disk_drops_whole_frames),
	T(archive_reopen_and_empty),
};

int main(void)
{
	size_t i, failed = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *err = cases[i].fn();

		if (err) {
			failed++;
			printf("not ok %s: %s\n", cases[i].name, err);
		} else {
			printf("ok %s\n", cases[i].name);
		}
	}
	return failed ? 1 : 0;
}
