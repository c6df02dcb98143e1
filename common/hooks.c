// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "hooks.h"

static const char *const names[] = {
	[TS_OWN_AUTO] = "auto",
	[TS_OWN_FEXIT] = "fexit",
	[TS_OWN_KRETPROBE] = "kretprobe",
	[TS_OWN_CGROUP] = "cgroup",
	[TS_OWN_SYSCALLS] = "syscalls",
	[TS_OWN_NONE] = "none",
};

const char *ts_owner_hooks_name(enum ts_owner_hooks h)
{
	return h <= TS_OWN_NONE ? names[h] : "?";
}

bool ts_parse_owner_hooks(const char *s, enum ts_owner_hooks *h)
{
	int i;

	for (i = TS_OWN_AUTO; i <= TS_OWN_NONE; i++) {
		if (!strcmp(s, names[i])) {
			*h = (enum ts_owner_hooks)i;
			return true;
		}
	}
	return false;
}

static bool has(const struct ts_owner_caps *caps, enum ts_owner_hooks h)
{
	switch (h) {
	case TS_OWN_FEXIT:
		return caps->fexit;
	case TS_OWN_KRETPROBE:
		return caps->kretprobe;
	case TS_OWN_CGROUP:
		return caps->cgroup;
	case TS_OWN_SYSCALLS:
		return caps->syscalls;
	default:
		return false;
	}
}

unsigned int ts_owner_hooks_order(enum ts_owner_hooks want,
				  const struct ts_owner_caps *caps,
				  enum ts_owner_hooks *order)
{
	static const enum ts_owner_hooks best[] = {
		TS_OWN_FEXIT, TS_OWN_KRETPROBE, TS_OWN_CGROUP,
	};
	unsigned int i, n = 0;

	if (want == TS_OWN_NONE)
		return 0;
	if (want != TS_OWN_AUTO) {
		if (has(caps, want))
			order[n++] = want;
		return n;
	}
	for (i = 0; i < sizeof(best) / sizeof(best[0]); i++)
		if (has(caps, best[i]))
			order[n++] = best[i];
	return n;
}
