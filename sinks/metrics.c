// SPDX-License-Identifier: GPL-2.0
/*
 * What bounds the number of series: each is one (comm, cgroup, role, port)
 * seen since start, times two directions.  port is kept only for servers'
 * ports (listening here, or listed by --ports), so it is bounded by the
 * listeners; comm and cgroup by the processes and cgroups that talk TCP.
 * Past max_series, new label sets go to one folded series per role
 * (comm, cgroup and port "*"), counted in tcpsight_series_folded_total:
 * the totals stay exact, only the split is lost.
 */
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

struct series {
	struct ts_series_key key;
	uint64_t rx;
	uint64_t tx;
};

struct ts_metrics {
	struct series *v;		/* in order of first appearance */
	size_t n;
	size_t max;
	uint32_t *index;		/* open addressing: entry + 1, 0 empty */
	size_t index_cap;		/* power of two, > 2 * max */
	struct series folded[2];	/* [client] */
	uint64_t folded_rows;
	uint64_t user_ports[65536 / 64];
	uint64_t server_ports[65536 / 64];	/* ports seen listening, sticky */
	struct ts_health health;
	struct ts_cgroups *cgroups;	/* id -> path; NULL: label empty */
};

static bool bit_get(const uint64_t *bits, uint16_t port)
{
	return bits[port / 64] >> (port % 64) & 1;
}

static void bit_set(uint64_t *bits, uint16_t port)
{
	bits[port / 64] |= 1ULL << (port % 64);
}

struct ts_metrics *ts_metrics_new(size_t max_series, const uint16_t *ports,
				  unsigned int n_ports)
{
	struct ts_metrics *m = calloc(1, sizeof(*m));
	unsigned int i;

	if (!m)
		return NULL;
	m->max = max_series;
	m->index_cap = 16;
	while (m->index_cap <= 2 * max_series)
		m->index_cap <<= 1;
	m->v = calloc(max_series ? max_series : 1, sizeof(*m->v));
	m->index = calloc(m->index_cap, sizeof(*m->index));
	if (!m->v || !m->index) {
		ts_metrics_free(m);
		return NULL;
	}
	for (i = 0; i < n_ports; i++)
		bit_set(m->user_ports, ports[i]);
	m->folded[0].key.client = false;
	m->folded[1].key.client = true;
	return m;
}

void ts_metrics_free(struct ts_metrics *m)
{
	if (!m)
		return;
	free(m->v);
	free(m->index);
	free(m);
}

/* Label values stay printable ASCII: Prometheus wants valid UTF-8. */
static void sanitize(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

void ts_metrics_set_cgroups(struct ts_metrics *m, struct ts_cgroups *cg)
{
	m->cgroups = cg;
}

void ts_metrics_row_cgroup(struct ts_metrics *m, const struct ts_row *r,
			   char *buf, size_t len)
{
	const char *path = NULL;

	if (m->cgroups && r->tuple.cgroup)
		path = ts_cgroups_path(m->cgroups, r->tuple.cgroup);
	snprintf(buf, len, "%s", path ? path : "");
}

void ts_metrics_key(struct ts_metrics *m, const struct ts_row *r,
		    ts_listening_fn listening, void *arg,
		    struct ts_series_key *key)
{
	char cgroup[TS_CGROUP_LEN];
	uint16_t port = r->active ? r->tuple.rport : r->tuple.lport;

	memset(key, 0, sizeof(*key));
	sanitize(key->comm, sizeof(key->comm), r->pid ? r->comm : "");
	ts_metrics_row_cgroup(m, r, cgroup, sizeof(cgroup));
	sanitize(key->cgroup, sizeof(key->cgroup), cgroup);
	key->client = r->active;
	/* A passive socket was accepted from a listener on its local port. */
	if (!r->active)
		bit_set(m->server_ports, port);
	else if (listening && listening(port, arg))
		bit_set(m->server_ports, port);
	if (bit_get(m->server_ports, port) || bit_get(m->user_ports, port))
		key->port = port;
}

static uint32_t key_hash(const struct ts_series_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The series of @key, created while under the cap; NULL: fold it. */
static struct series *series_of(struct ts_metrics *m,
				const struct ts_series_key *key)
{
	size_t mask = m->index_cap - 1;
	size_t i = key_hash(key) & mask;

	for (; m->index[i]; i = (i + 1) & mask) {
		struct series *s = &m->v[m->index[i] - 1];

		if (!memcmp(&s->key, key, sizeof(*key)))
			return s;
	}
	if (m->n >= m->max)
		return NULL;
	m->v[m->n].key = *key;
	m->index[i] = (uint32_t)++m->n;
	return &m->v[m->n - 1];
}

static uint64_t positive(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

void ts_metrics_add_rows(struct ts_metrics *m, const struct ts_row *rows,
			 size_t n, ts_listening_fn listening, void *arg)
{
	struct ts_series_key key;
	size_t i;

	/* Servers first: a client row of this interval learns their ports. */
	for (i = 0; i < n; i++)
		if (!rows[i].active)
			bit_set(m->server_ports, rows[i].tuple.lport);
	for (i = 0; i < n; i++) {
		struct series *s;

		ts_metrics_key(m, &rows[i], listening, arg, &key);
		s = series_of(m, &key);
		if (!s) {
			s = &m->folded[key.client];
			m->folded_rows++;
		}
		s->rx += positive(rows[i].rx);
		s->tx += positive(rows[i].tx);
	}
}

void ts_metrics_set_health(struct ts_metrics *m, const struct ts_health *h)
{
	m->health = *h;
}

size_t ts_metrics_series(const struct ts_metrics *m)
{
	return m->n;
}

uint64_t ts_metrics_folded(const struct ts_metrics *m)
{
	return m->folded_rows;
}

void ts_metrics_totals(const struct ts_metrics *m, uint64_t *rx, uint64_t *tx)
{
	size_t i;

	*rx = m->folded[0].rx + m->folded[1].rx;
	*tx = m->folded[0].tx + m->folded[1].tx;
	for (i = 0; i < m->n; i++) {
		*rx += m->v[i].rx;
		*tx += m->v[i].tx;
	}
}

/* ------------------------------------------------------------ exposition */

enum ts_expo ts_expo_negotiate(const char *accept)
{
	const char *p;

	if (!accept)
		return TS_EXPO_PROMETHEUS;
	/* Asked for, and not refused with q=0. */
	for (p = accept; (p = strstr(p, "application/openmetrics-text")); p++) {
		size_t end = strcspn(p, ",");
		const char *q = strstr(p, "q=");

		if (!q || q >= p + end || strtod(q + 2, NULL) > 0)
			return TS_EXPO_OPENMETRICS;
	}
	return TS_EXPO_PROMETHEUS;
}

const char *ts_expo_content_type(enum ts_expo fmt)
{
	if (fmt == TS_EXPO_OPENMETRICS)
		return "application/openmetrics-text; version=1.0.0; charset=utf-8";
	return "text/plain; version=0.0.4; charset=utf-8";
}

void ts_label_value(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src && o + 3 < len; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == '\\' || c == '"') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else {
			dst[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		}
	}
	dst[o] = '\0';
}

enum kind { COUNTER, GAUGE };

/*
 * HELP and TYPE of a family.  OpenMetrics names a counter family without
 * its _total suffix and may state its unit; the text format names it with.
 */
static void family(FILE *f, enum ts_expo fmt, const char *name, enum kind k,
		   const char *unit, const char *help)
{
	if (fmt == TS_EXPO_OPENMETRICS) {
		fprintf(f, "# TYPE %s %s\n", name, k == COUNTER ? "counter" : "gauge");
		if (unit)
			fprintf(f, "# UNIT %s %s\n", name, unit);
		fprintf(f, "# HELP %s %s\n", name, help);
		return;
	}
	if (k == COUNTER) {
		fprintf(f, "# HELP %s_total %s\n", name, help);
		fprintf(f, "# TYPE %s_total counter\n", name);
	} else {
		fprintf(f, "# HELP %s %s\n", name, help);
		fprintf(f, "# TYPE %s gauge\n", name);
	}
}

static void counter_u(FILE *f, enum ts_expo fmt, const char *name,
		      const char *unit, const char *help, uint64_t v)
{
	family(f, fmt, name, COUNTER, unit, help);
	fprintf(f, "%s_total %llu\n", name, (unsigned long long)v);
}

static void counter_d(FILE *f, enum ts_expo fmt, const char *name,
		      const char *unit, const char *help, double v)
{
	family(f, fmt, name, COUNTER, unit, help);
	fprintf(f, "%s_total %.9g\n", name, v);
}

static void gauge_d(FILE *f, enum ts_expo fmt, const char *name,
		    const char *unit, const char *help, double v)
{
	family(f, fmt, name, GAUGE, unit, help);
	fprintf(f, "%s %.9g\n", name, v);
}

static void bytes_sample(FILE *f, const struct series *s, bool rx,
			 bool folded)
{
	char comm[4 * TS_COMM_LEN], cgroup[4 * TS_CGROUP_LEN], port[12];

	if (folded) {
		strcpy(comm, "*");
		strcpy(cgroup, "*");
		strcpy(port, "*");
	} else {
		ts_label_value(comm, sizeof(comm), s->key.comm);
		ts_label_value(cgroup, sizeof(cgroup), s->key.cgroup);
		if (s->key.port)
			snprintf(port, sizeof(port), "%u", s->key.port);
		else
			port[0] = '\0';
	}
	fprintf(f, "tcpsight_bytes_total{direction=\"%s\",comm=\"%s\","
		"cgroup=\"%s\",role=\"%s\",port=\"%s\"} %llu\n",
		rx ? "rx" : "tx", comm, cgroup,
		s->key.client ? "client" : "server", port,
		(unsigned long long)(rx ? s->rx : s->tx));
}

static void write_bytes(const struct ts_metrics *m, FILE *f, enum ts_expo fmt)
{
	int dir, role;
	size_t i;

	family(f, fmt, "tcpsight_bytes", COUNTER, "bytes",
	       "Exact TCP payload bytes moved, by direction, process, cgroup, "
	       "role (who opened) and server port.");
	for (dir = 1; dir >= 0; dir--) {
		for (i = 0; i < m->n; i++)
			bytes_sample(f, &m->v[i], dir, false);
		for (role = 0; role < 2; role++)
			if (m->folded[role].rx || m->folded[role].tx)
				bytes_sample(f, &m->folded[role], dir, true);
	}
}

static void write_jsonl(const struct ts_health *h, FILE *f, enum ts_expo fmt)
{
	counter_u(f, fmt, "tcpsight_jsonl_records", NULL,
		  "JSONL records written to the archive.", h->jsonl_records);
	counter_u(f, fmt, "tcpsight_jsonl_records_dropped", NULL,
		  "JSONL records that could not be written (disk full, I/O error).",
		  h->jsonl_dropped);
	counter_u(f, fmt, "tcpsight_jsonl_write_errors", NULL,
		  "Failed writes or opens of archive files.", h->jsonl_write_errors);
	counter_u(f, fmt, "tcpsight_jsonl_files", NULL,
		  "Archive files completed (closed and renamed).", h->jsonl_files);
}

void ts_metrics_write(const struct ts_metrics *m, FILE *f, enum ts_expo fmt)
{
	const struct ts_health *h = &m->health;

	write_bytes(m, f, fmt);
	counter_u(f, fmt, "tcpsight_sessions_opened", NULL,
		  "TCP sessions born since start.", h->opened);
	counter_u(f, fmt, "tcpsight_sessions_closed", NULL,
		  "TCP sessions ended since start.", h->closed);
	gauge_d(f, fmt, "tcpsight_sessions", NULL,
		"TCP sessions alive at the last poll.", (double)h->sessions);
	counter_u(f, fmt, "tcpsight_polls", NULL,
		  "sock_diag polls taken, baseline included.", h->polls);
	counter_d(f, fmt, "tcpsight_poll_cpu_seconds", "seconds",
		  "CPU time the polls took (dump, accounting, sinks).",
		  h->poll_cpu_seconds);
	counter_d(f, fmt, "tcpsight_cpu_seconds", "seconds",
		  "CPU time of the whole daemon, user and system.", h->cpu_seconds);
	gauge_d(f, fmt, "tcpsight_dump_sockets", NULL,
		"Sockets in the last dump.", (double)h->dump_sockets);
	gauge_d(f, fmt, "tcpsight_namespaces", NULL,
		"Network namespaces polled.", (double)h->namespaces);
	counter_u(f, fmt, "tcpsight_close_events_lost", NULL,
		  "Close events the full ring buffer turned away.", h->lost);
	counter_u(f, fmt, "tcpsight_samples_dropped", NULL,
		  "Samples or sessions the accounting could not store.",
		  h->samples_dropped);
	gauge_d(f, fmt, "tcpsight_interval_seconds", "seconds",
		"Poll interval in use (lengthened to stay under --max-cpu).",
		h->interval);
	gauge_d(f, fmt, "tcpsight_series", NULL,
		"Series of tcpsight_bytes_total in use, per direction.",
		(double)m->n);
	counter_u(f, fmt, "tcpsight_series_folded", NULL,
		  "Rows counted in the folded series: their label set was over "
		  "--max-series.", m->folded_rows);
	if (h->jsonl)
		write_jsonl(h, f, fmt);
	if (fmt == TS_EXPO_OPENMETRICS)
		fputs("# EOF\n", f);
}
