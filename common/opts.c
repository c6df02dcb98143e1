// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "opts.h"

void ts_usage_error(const char *prog, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	exit(2);
}

void ts_bad_option(const char *prog, const char *usage, int c, char **argv)
{
	if (c == ':')
		ts_usage_error(prog, usage, "option requires an argument: '%s'",
			       argv[optind - 1]);
	ts_usage_error(prog, usage, "unknown option: '%s'", argv[optind - 1]);
}

bool ts_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool ts_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!ts_parse_size(s, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool ts_parse_interval(const char *s, double *out)
{
	double v;
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
		return false;
	*out = v;
	return true;
}

bool ts_parse_ports(const char *s, uint16_t *ports, unsigned int *n,
		    unsigned int max)
{
	const char *tok, *comma;

	if (!s)
		return false;
	*n = 0;
	/* Every element must be a port: "80,", ",80" and "80,,81" are not. */
	for (tok = s; tok; tok = comma ? comma + 1 : NULL) {
		char num[8];
		size_t len;
		uint32_t port;

		comma = strchr(tok, ',');
		len = comma ? (size_t)(comma - tok) : strlen(tok);
		if (*n == max || len >= sizeof(num))
			return false;
		memcpy(num, tok, len);
		num[len] = '\0';
		if (!ts_parse_u32(num, 1, 65535, &port))
			return false;
		ports[(*n)++] = (uint16_t)port;
	}
	return true;
}

bool ts_common_option(const char *prog, const char *usage, int c,
		      const char *arg, struct ts_common_opts *o)
{
	switch (c) {
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case 'p':
		if (!ts_parse_u32(arg, 1, 0x7fffffff, &o->pid))
			ts_usage_error(prog, usage, "invalid PID: '%s'", arg);
		return true;
	case '4':
		o->family = AF_INET;
		return true;
	case '6':
		o->family = AF_INET6;
		return true;
	case TS_OPT_JSON:
		o->json = true;
		return true;
	case TS_OPT_RING:
		if (!ts_parse_size(arg, 4096, 1ULL << 30, &o->ring_bytes))
			ts_usage_error(prog, usage,
				       "invalid ring size: '%s' (4096..1073741824)", arg);
		return true;
	case TS_OPT_READY:
		o->ready_file = arg;
		return true;
	case TS_OPT_OWNER_HOOKS:
		if (!ts_parse_owner_hooks(arg, &o->owner_hooks))
			ts_usage_error(prog, usage, "invalid owner hooks: '%s' "
				       "(auto, fexit, kretprobe, cgroup, syscalls, none)",
				       arg);
		return true;
	case TS_OPT_NETNS:
		if (!*arg)
			ts_usage_error(prog, usage, "invalid --netns: ''");
		o->netns = arg;
		return true;
	case 'c':
		if (!*arg)
			ts_usage_error(prog, usage, "invalid cgroup: ''");
		o->cgroup = arg;
		return true;
	case TS_OPT_CONTAINER:
		o->container = true;
		return true;
	case TS_OPT_STATS:
		o->stats = true;
		return true;
	}
	return false;
}
