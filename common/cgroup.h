/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup v2 ids and paths.  A cgroup2 directory's inode number is its id
 * (what sock_diag's INET_DIAG_CGROUP_ID and the probe report), so an id
 * is mapped to its path by walking the cgroup2 tree, once per id not yet
 * seen; answers are cached.
 */
#ifndef TS_CGROUP_H
#define TS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_cgroups;

struct ts_cgroup_stats {
	uint64_t walks;			/* tree walks (a new id was asked for) */
	uint64_t known;			/* ids in the cache */
};

/* NULL: out of memory.  No cgroup2 mount is fine: every path is unknown. */
/* Where cgroup2 is mounted, as this process sees it (malloc'ed); NULL: nowhere. */
char *ts_cgroup2_mount(void);
struct ts_cgroups *ts_cgroups_new(void);
void ts_cgroups_free(struct ts_cgroups *cg);
/* The cgroup2 mount point, from /proc/mounts; NULL if none. */
const char *ts_cgroups_mount(const struct ts_cgroups *cg);
/*
 * The path of cgroup @id relative to the cgroup2 mount ("/" for its root,
 * "/system.slice/x.scope"), or NULL when unknown.  Valid until the cache
 * is freed.
 */
const char *ts_cgroups_path(struct ts_cgroups *cg, uint64_t id);
/*
 * -c PATH: an absolute path under the mount or one relative to it.  Fills
 * its id and depth below the root; false with a reason in @err.
 */
bool ts_cgroups_resolve(struct ts_cgroups *cg, const char *path,
			uint64_t *id, uint32_t *level, char *err, size_t errlen);
/* Whether cgroup @id is @root or below it (by path). */
bool ts_cgroups_within(struct ts_cgroups *cg, uint64_t id, uint64_t root);
/* The ids of @root and every cgroup below it now; caller frees. */
size_t ts_cgroups_subtree(struct ts_cgroups *cg, uint64_t root, uint64_t **ids);
/*
 * A container's short name from a cgroup path: its last part without
 * ".scope"/".slice" and a runtime prefix (docker-, cri-containerd-, crio-,
 * libpod-), a 64-hex id cut to 12 ("3f2a9c0e1b7d").  Into @buf.
 */
void ts_cgroup_container(const char *path, char *buf, size_t len);
const struct ts_cgroup_stats *ts_cgroups_stats(const struct ts_cgroups *cg);

#endif
