/* SPDX-License-Identifier: GPL-2.0 */
/* Socket inode -> owning process, from /proc/PID/fd, on demand only. */
#ifndef TS_OWNERS_H
#define TS_OWNERS_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/tcpsight.h"

struct ts_owners;

struct ts_owner_stats {
	uint64_t scans_hot;		/* scans of known socket owners only */
	uint64_t scans_full;		/* scans of all of /proc */
	uint64_t fds_read;
	uint64_t resolved;
	uint64_t unresolved;
};

struct ts_owners *ts_owners_new(void);
void ts_owners_free(struct ts_owners *o);
/* Asks for the owner of @inode at the next ts_owners_resolve(). */
bool ts_owners_want(struct ts_owners *o, uint32_t inode);
/*
 * Finds the wanted inodes: processes that owned sockets before are read
 * first, all of /proc only if some inode is still missing.
 */
void ts_owners_resolve(struct ts_owners *o);
/* After resolve: the holder of a wanted inode (pid 0: none visible). */
bool ts_owners_lookup(struct ts_owners *o, uint32_t inode, uint32_t *pid,
		      const char **comm);
/* Forgets the wanted inodes and their answers: the caller keeps them. */
void ts_owners_clear(struct ts_owners *o);
const struct ts_owner_stats *ts_owners_stats(const struct ts_owners *o);

#endif
