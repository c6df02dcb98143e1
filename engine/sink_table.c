// SPDX-License-Identifier: GPL-2.0
/* tcptop's table: bcc's columns, one block per family, cut to the screen. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "sink.h"

/*
 * Lines the table may end with a newline: a terminal of N rows scrolls as
 * soon as the Nth newline is written, so the cursor keeps the last row.
 */
static int screen_lines(const struct ts_sink_cfg *c)
{
	struct winsize ws;
	int fd = fileno(c->out);

	if (c->no_clear || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) ||
	    !ws.ws_row)
		return 1 << 30;
	return ws.ws_row - 1;
}

static void print_loadavg(FILE *out)
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
	fprintf(out, "%s loadavg: %s\n\n", when, buf);
}

/* A family's block is its header, its rows and one blank line. */
static int print_family(const struct ts_sink_cfg *c, const struct ts_row *rows,
			size_t n, int family, int lines_left)
{
	size_t i;
	uint32_t shown = 0;
	bool any = false;

	for (i = 0; i < n; i++)
		if (rows[i].tuple.family == family && ts_sink_row_wanted(c, &rows[i]))
			any = true;
	if (!any || lines_left < 3)
		return lines_left;
	ts_top_header(c->out, family, c->container);
	lines_left -= 2;
	for (i = 0; i < n && shown < c->rows && lines_left > 0; i++) {
		if (rows[i].tuple.family != family ||
		    !ts_sink_row_wanted(c, &rows[i]))
			continue;
		ts_top_line(c->out, &rows[i], c->container ? c->cgroups : NULL);
		shown++;
		lines_left--;
	}
	fputc('\n', c->out);
	return lines_left;
}

static void table_rows(struct ts_sink *k, const struct ts_row *rows, size_t n,
		       const struct ts_interval *iv)
{
	const struct ts_sink_cfg *c = &k->cfg;
	int lines = screen_lines(c);
	size_t i, closed = 0;
	bool summary;

	if (!c->no_clear)
		fputs("\033[H\033[2J", c->out);
	if (!c->no_summary) {
		print_loadavg(c->out);
		lines -= 2;
	}
	/* The summary line's row is kept before the tables take theirs. */
	summary = iv->mode != TS_MODE_POLL && lines > 0;
	if (summary)
		lines--;
	lines = print_family(c, rows, n, AF_INET, lines);
	print_family(c, rows, n, AF_INET6, lines);
	for (i = 0; i < n; i++)
		closed += rows[i].closed;
	if (summary)
		fprintf(c->out, "-- %zu sessions moved bytes, %zu closed, "
			"%llu close events lost\n", n, closed,
			(unsigned long long)iv->lost);
}

static const struct ts_sink_ops table_ops = {
	.rows = table_rows,
};

struct ts_sink *ts_sink_table_new(const struct ts_sink_cfg *cfg)
{
	struct ts_sink *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ops = &table_ops;
	k->cfg = *cfg;
	return k;
}
