// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <string.h>
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

void ts_top_json(FILE *f, const struct ts_row *r, const struct ts_top_fmt *fmt)
{
	fprintf(f, "{\"ts\":%.6f,\"interval\":%.6f,", fmt->ts, fmt->interval);
	ts_json_pid(f, r->pid, r->comm);
	fputc(',', f);
	json_tuple(f, &r->tuple);
	fprintf(f, ",\"rx_bytes\":%lld,\"tx_bytes\":%lld,\"state\":\"%s\","
		"\"cookie\":%llu,\"closed\":%s,\"lost\":%llu}\n",
		(long long)r->rx, (long long)r->tx, ts_state_name(r->state),
		(unsigned long long)r->cookie, r->closed ? "true" : "false",
		(unsigned long long)fmt->lost);
}

/* Column layout of bcc's tcptop. */
void ts_top_header(FILE *f, int family)
{
	if (family == AF_INET6)
		fprintf(f, "%-6s %-12s %-32s %-32s %6s %6s\n", "PID", "COMM",
			"LADDR6", "RADDR6", "RX_KB", "TX_KB");
	else
		fprintf(f, "%-6s %-12s %-21s %-21s %6s %6s\n", "PID", "COMM",
			"LADDR", "RADDR", "RX_KB", "TX_KB");
}

void ts_top_line(FILE *f, const struct ts_row *r)
{
	char l[TS_ADDR_LEN + 8], rm[TS_ADDR_LEN + 8], pid[16];
	int w = r->tuple.family == AF_INET6 ? 32 : 21;

	ts_endpoint_str(&r->tuple, true, false, l, sizeof(l));
	ts_endpoint_str(&r->tuple, false, false, rm, sizeof(rm));
	if (r->pid)
		snprintf(pid, sizeof(pid), "%u", r->pid);
	else
		snprintf(pid, sizeof(pid), "-");
	fprintf(f, "%-6s %-12.12s %-*s %-*s %6lld %6lld\n", pid,
		r->pid ? r->comm : "-", w, l, w, rm,
		(long long)(r->rx / 1024), (long long)(r->tx / 1024));
}
