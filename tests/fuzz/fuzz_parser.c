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

/* Each sample as the parser hands it over, complete dump or not. */
static void check_sample(const struct ts_sample *s, void *arg)
{
	(void)arg;
	if (s->tuple.family != AF_INET && s->tuple.family != AF_INET6)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_dump d;
	/* Netlink buffers are aligned; so is what the kernel hands us. */
	void *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	ts_dump_reset(&d, check_sample, NULL);
	ts_dump_parse(&d, buf, size, 0, 0);
	free(buf);
	return 0;
}
