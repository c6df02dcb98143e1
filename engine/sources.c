// SPDX-License-Identifier: GPL-2.0
/* Which sources each mode runs, in the order they are opened. */
#include "source.h"

#define MODE(m) (1u << (m))

const struct ts_source_reg ts_sources[] = {
	{ "iter", MODE(TS_MODE_HYBRID), false, ts_itersrc_open, TS_POLL_ITER },
	{ "sock_diag", MODE(TS_MODE_HYBRID) | MODE(TS_MODE_POLL), false,
	  ts_sockdiag_open, TS_POLL_SOCK_DIAG },
	{ "close probe", MODE(TS_MODE_HYBRID), true, ts_closeprobe_open,
	  TS_POLL_NONE },
	{ "call probe", MODE(TS_MODE_TRACE), false, ts_callprobe_open,
	  TS_POLL_NONE },
	{ NULL, 0, false, NULL, TS_POLL_NONE },
};
