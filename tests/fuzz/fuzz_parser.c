// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: whole dump buffers into the sock_diag parser.  Any
 * input may be rejected; none may crash, leak or read out of bounds, and a
 * completed parse must hold only sockets of the two families.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include "../../poller/poller.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_dump d;
	/* Netlink buffers are aligned; so is what the kernel hands us. */
	void *buf = malloc(size ? size : 1);
	size_t i;

	memcpy(buf, data, size);
	ts_dump_reset(&d);
	if (ts_dump_parse(&d, buf, size, 0, 0) == MNL_CB_STOP) {
		ts_dump_finish(&d);
		for (i = 0; i < d.n; i++)
			if (d.v[i].tuple.family != AF_INET &&
			    d.v[i].tuple.family != AF_INET6)
				abort();
	}
	free(buf);
	return 0;
}
