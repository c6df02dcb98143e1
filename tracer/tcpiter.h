/* SPDX-License-Identifier: GPL-2.0 */
/* Poll source by BPF iterator (bpf/tcpiter.bpf.c): only sockets that moved. */
#ifndef TS_TCPITER_H
#define TS_TCPITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/session.h"

struct ts_iter;

/* NULL with the reason in @why: the kernel has no iter/tcp, or no BTF. */
struct ts_iter *ts_iter_open(uint32_t netns, char *why, size_t len);
void ts_iter_close(struct ts_iter *it);
/*
 * One walk of the netns's TCP sockets: @fn gets a sample of each socket
 * whose counters or state moved since the previous walk, or of every
 * socket when @full.  0 or -errno.
 */
int ts_iter_walk(struct ts_iter *it, bool full, ts_sample_fn fn, void *arg);

#endif
