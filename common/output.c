// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "output.h"

void ts_addr_str(const struct ts_tuple *t, bool local, char *buf, size_t len)
{
	const void *a = local ? t->laddr : t->raddr;

	if (!inet_ntop(t->family, a, buf, len))
		snprintf(buf, len, "?");
}

void ts_endpoint_str(const struct ts_tuple *t, bool local, bool brackets,
		     char *buf, size_t len)
{
	char a[TS_ADDR_LEN];
	uint16_t port = local ? t->lport : t->rport;

	ts_addr_str(t, local, a, sizeof(a));
	if (brackets && t->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

int ts_flush(FILE *f)
{
	int err = fflush(f) ? errno : 0;

	if (!err && !ferror(f))
		return 0;
	return err == EPIPE || errno == EPIPE ? 1 : -1;
}

int ts_family_num(uint16_t family)
{
	return family == AF_INET6 ? 6 : 4;
}

void ts_json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void ts_json_pid(FILE *f, uint32_t pid, const char *comm)
{
	if (!pid) {
		fputs("\"pid\":null,\"comm\":null", f);
		return;
	}
	fprintf(f, "\"pid\":%u,\"comm\":", pid);
	ts_json_str(f, comm);
}

static void json_tuple(FILE *f, const struct ts_tuple *t)
{
	char l[TS_ADDR_LEN], r[TS_ADDR_LEN];

	ts_addr_str(t, true, l, sizeof(l));
	ts_addr_str(t, false, r, sizeof(r));
	fprintf(f, "\"family\":%d,\"laddr\":\"%s\",\"lport\":%u,"
		"\"raddr\":\"%s\",\"rport\":%u",
		ts_family_num(t->family), l, t->lport, r, t->rport);
}

static const char *cgroup_path(struct ts_cgroups *cg, uint64_t id)
{
	return cg ? ts_cgroups_path(cg, id) : NULL;
}

/* Where the socket lives: its namespace inode and cgroup v2 path. */
static void json_origin(FILE *f, const struct ts_tuple *t,
			struct ts_cgroups *cg)
{
	fprintf(f, ",\"netns\":%u,\"cgroup\":", t->netns);
	ts_json_str(f, cgroup_path(cg, t->cgroup));
}

/* "-" when the cgroup is unknown. */
static const char *container_of(struct ts_cgroups *cg, uint64_t id,
				char *buf, size_t len)
{
	const char *path = cgroup_path(cg, id);

	if (!path)
		return "-";
	ts_cgroup_container(path, buf, len);
	return buf;
}

void ts_top_json(FILE *f, const struct ts_row *r, const struct ts_top_fmt *fmt)
{
	fprintf(f, "{\"ts\":%.6f,\"interval\":%.6f,", fmt->ts, fmt->interval);
	ts_json_pid(f, r->pid, r->comm);
	fputc(',', f);
	json_tuple(f, &r->tuple);
	json_origin(f, &r->tuple, fmt->cgroups);
	fprintf(f, ",\"rx_bytes\":%lld,\"tx_bytes\":%lld,\"state\":\"%s\","
		"\"cookie\":%llu,\"closed\":%s,\"lost\":%llu}\n",
		(long long)r->rx, (long long)r->tx, ts_state_name(r->state),
		(unsigned long long)r->cookie, r->closed ? "true" : "false",
		(unsigned long long)fmt->lost);
}

/* Column layout of bcc's tcptop. */
void ts_top_header(FILE *f, int family, bool container)
{
	if (family == AF_INET6)
		fprintf(f, "%-6s %-12s %-32s %-32s %6s %6s", "PID", "COMM",
			"LADDR6", "RADDR6", "RX_KB", "TX_KB");
	else
		fprintf(f, "%-6s %-12s %-21s %-21s %6s %6s", "PID", "COMM",
			"LADDR", "RADDR", "RX_KB", "TX_KB");
	fputs(container ? " CONTAINER\n" : "\n", f);
}

void ts_top_line(FILE *f, const struct ts_row *r, struct ts_cgroups *cgroups)
{
	char l[TS_ADDR_LEN + 8], rm[TS_ADDR_LEN + 8], pid[16], box[64];
	int w = r->tuple.family == AF_INET6 ? 32 : 21;

	ts_endpoint_str(&r->tuple, true, false, l, sizeof(l));
	ts_endpoint_str(&r->tuple, false, false, rm, sizeof(rm));
	if (r->pid)
		snprintf(pid, sizeof(pid), "%u", r->pid);
	else
		snprintf(pid, sizeof(pid), "-");
	fprintf(f, "%-6s %-12.12s %-*s %-*s %6lld %6lld", pid,
		r->pid ? r->comm : "-", w, l, w, rm,
		(long long)(r->rx / 1024), (long long)(r->tx / 1024));
	if (cgroups)
		fprintf(f, " %s", container_of(cgroups, r->tuple.cgroup, box,
					       sizeof(box)));
	fputc('\n', f);
}

/* Column layout of bcc's tcplife; -w widens the address columns. */
void ts_life_header(FILE *f, const struct ts_life_fmt *fmt)
{
	if (fmt->json)
		return;
	if (fmt->csv) {
		fprintf(f, "%s%sPID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_B,RX_B,MS%s\n",
			fmt->clock ? "TIME," : "", fmt->rel ? "TIME(s)," : "",
			fmt->container ? ",CONTAINER" : "");
		return;
	}
	if (fmt->clock)
		fprintf(f, "%-8s ", "TIME");
	if (fmt->rel)
		fprintf(f, "%-9s ", "TIME(s)");
	if (fmt->wide)
		fprintf(f, "%-7s %-12s %-2s %-26s %-5s %-26s %-5s %6s %6s %s",
			"PID", "COMM", "IP", "LADDR", "LPORT", "RADDR", "RPORT",
			"TX_KB", "RX_KB", "MS");
	else
		fprintf(f, "%-7s %-10s %-15s %-5s %-15s %-5s %5s %5s %s",
			"PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT",
			"TX_KB", "RX_KB", "MS");
	fputs(fmt->container ? " CONTAINER\n" : "\n", f);
}

static double life_ms(const struct ts_life *l)
{
	return (l->close_ns - l->birth_ns) / 1e6;
}

static void life_json(FILE *f, const struct ts_life *l,
		      const struct ts_life_fmt *fmt)
{
	fprintf(f, "{\"ts\":%.6f,", l->close_ns / 1e9 + fmt->mono_to_unix);
	ts_json_pid(f, l->pid, l->comm);
	fputc(',', f);
	json_tuple(f, &l->tuple);
	json_origin(f, &l->tuple, fmt->cgroups);
	fprintf(f, ",\"tx_bytes\":%lld,\"rx_bytes\":%lld,",
		(long long)l->tx, (long long)l->rx);
	if (l->birth_ns)
		fprintf(f, "\"duration_ms\":%.3f,\"start_ts\":%.6f,",
			life_ms(l), l->birth_ns / 1e9 + fmt->mono_to_unix);
	else
		fputs("\"duration_ms\":null,\"start_ts\":null,", f);
	fprintf(f, "\"cookie\":%llu}\n", (unsigned long long)l->cookie);
}

static void life_time(FILE *f, const struct ts_life *l,
		      const struct ts_life_fmt *fmt, char sep)
{
	double ts = l->close_ns / 1e9 + fmt->mono_to_unix;

	if (fmt->clock) {
		time_t t = (time_t)ts;
		char buf[16];

		strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&t));
		fprintf(f, sep == ',' ? "%s," : "%-8s ", buf);
	}
	if (fmt->rel)
		fprintf(f, sep == ',' ? "%.6f," : "%-9.6f ", ts - fmt->first_ts);
}

void ts_life_line(FILE *f, const struct ts_life *l,
		  const struct ts_life_fmt *fmt)
{
	char la[TS_ADDR_LEN], ra[TS_ADDR_LEN], pid[16], ms[32], box[64];
	const char *comm = l->pid ? l->comm : "-";

	if (fmt->json) {
		life_json(f, l, fmt);
		return;
	}
	ts_addr_str(&l->tuple, true, la, sizeof(la));
	ts_addr_str(&l->tuple, false, ra, sizeof(ra));
	snprintf(pid, sizeof(pid), l->pid ? "%u" : "-", l->pid);
	if (l->birth_ns)
		snprintf(ms, sizeof(ms), "%.2f", life_ms(l));
	else
		snprintf(ms, sizeof(ms), "-");
	life_time(f, l, fmt, fmt->csv ? ',' : ' ');
	if (fmt->csv)
		fprintf(f, "%s,%s,%d,%s,%u,%s,%u,%lld,%lld,%s", pid, comm,
			ts_family_num(l->tuple.family), la, l->tuple.lport, ra,
			l->tuple.rport, (long long)l->tx, (long long)l->rx, ms);
	else if (fmt->wide)
		fprintf(f, "%-7s %-12.12s %-2d %-26s %-5u %-26s %-5u %6lld %6lld %s",
			pid, comm, ts_family_num(l->tuple.family), la,
			l->tuple.lport, ra, l->tuple.rport,
			(long long)(l->tx / 1024), (long long)(l->rx / 1024), ms);
	else
		fprintf(f, "%-7s %-10.10s %-15s %-5u %-15s %-5u %5lld %5lld %s",
			pid, comm, la, l->tuple.lport, ra, l->tuple.rport,
			(long long)(l->tx / 1024), (long long)(l->rx / 1024), ms);
	if (fmt->container)
		fprintf(f, fmt->csv ? ",%s" : " %s",
			container_of(fmt->cgroups, l->tuple.cgroup, box, sizeof(box)));
	fputc('\n', f);
}
