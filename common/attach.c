// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "attach.h"

static const char *const names[] = {
	[TS_ATTACH_AUTO] = "auto",
	[TS_ATTACH_FENTRY] = "fentry",
	[TS_ATTACH_KPROBE] = "kprobe",
	[TS_ATTACH_TRACEPOINT] = "tracepoint",
};

const char *ts_attach_name(enum ts_attach a)
{
	return a <= TS_ATTACH_TRACEPOINT ? names[a] : "?";
}

bool ts_parse_attach(const char *s, enum ts_attach *a)
{
	int i;

	for (i = TS_ATTACH_AUTO; i <= TS_ATTACH_TRACEPOINT; i++) {
		if (!strcmp(s, names[i])) {
			*a = (enum ts_attach)i;
			return true;
		}
	}
	return false;
}

const char *ts_attach_missing(enum ts_attach a)
{
	switch (a) {
	case TS_ATTACH_FENTRY:
		return "fentry/fexit (BPF tracing programs on tcp_sendmsg/tcp_recvmsg, prototypes of 5.19 or later)";
	case TS_ATTACH_KPROBE:
		return "kprobes (no kprobe PMU or kprobe_events)";
	case TS_ATTACH_TRACEPOINT:
		return "tracepoints sock:sock_send_length/sock_recv_length";
	default:
		return "fentry, kprobes and the sock_send_length/sock_recv_length tracepoints";
	}
}

static bool has(const struct ts_attach_caps *caps, enum ts_attach a)
{
	switch (a) {
	case TS_ATTACH_FENTRY:
		return caps->fentry;
	case TS_ATTACH_KPROBE:
		return caps->kprobe;
	case TS_ATTACH_TRACEPOINT:
		return caps->tracepoint;
	default:
		return false;
	}
}

bool ts_attach_choose(enum ts_attach want, const struct ts_attach_caps *caps,
		      enum ts_attach *chosen, const char **missing)
{
	static const enum ts_attach order[] = {
		TS_ATTACH_FENTRY, TS_ATTACH_KPROBE, TS_ATTACH_TRACEPOINT,
	};
	unsigned int i;

	*missing = NULL;
	if (want != TS_ATTACH_AUTO) {
		if (has(caps, want)) {
			*chosen = want;
			return true;
		}
		*missing = ts_attach_missing(want);
		return false;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (has(caps, order[i])) {
			*chosen = order[i];
			return true;
		}
	}
	*missing = ts_attach_missing(TS_ATTACH_AUTO);
	return false;
}
