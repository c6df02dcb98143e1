// SPDX-License-Identifier: GPL-2.0
/* Which sources each mode runs, in the order they are opened. */
#include "source.h"

#define MODE(m) (1u << (m))

const struct ts_source_reg ts_sources[] = {
	{ "sock_diag", MODE(TS_MODE_HYBRID) | MODE(TS_MODE_POLL), false,
	  ts_sockdiag_open },
	{ "close probe", MODE(TS_MODE_HYBRID), true, ts_closeprobe_open },
	{ "call probe", MODE(TS_MODE_TRACE), false, ts_callprobe_open },
	{ NULL, 0, false, NULL },
};
