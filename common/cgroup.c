// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <ftw.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cgroup.h"

struct entry {
	uint64_t id;			/* 0: empty slot */
	char *path;			/* NULL: not found by the last walk */
};

struct ts_cgroups {
	char *mount;
	size_t mount_len;
	struct entry *v;
	size_t cap;			/* power of two */
	size_t n;
	struct ts_cgroup_stats stats;
};

/* nftw() has no argument for its callback. */
static struct ts_cgroups *walking;

char *ts_cgroup2_mount(void)
{
	FILE *f = setmntent("/proc/mounts", "r");
	struct mntent *m;
	char *mount = NULL;

	if (!f)
		return NULL;
	while (!mount && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2"))
			mount = strdup(m->mnt_dir);
	endmntent(f);
	return mount;
}

struct ts_cgroups *ts_cgroups_new(void)
{
	struct ts_cgroups *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	cg->mount = ts_cgroup2_mount();
	cg->mount_len = cg->mount ? strlen(cg->mount) : 0;
	return cg;
}

void ts_cgroups_free(struct ts_cgroups *cg)
{
	size_t i;

	if (!cg)
		return;
	for (i = 0; i < cg->cap; i++)
		free(cg->v[i].path);
	free(cg->v);
	free(cg->mount);
	free(cg);
}

const char *ts_cgroups_mount(const struct ts_cgroups *cg)
{
	return cg->mount;
}

static size_t slot(uint64_t id, size_t cap)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return id & (cap - 1);
}

static struct entry *lookup(struct ts_cgroups *cg, uint64_t id)
{
	size_t i;

	if (!cg->cap)
		return NULL;
	for (i = slot(id, cg->cap); cg->v[i].id; i = (i + 1) & (cg->cap - 1))
		if (cg->v[i].id == id)
			return &cg->v[i];
	return NULL;
}

static bool grow(struct ts_cgroups *cg)
{
	size_t ncap = cg->cap ? cg->cap * 2 : 256, i;
	struct entry *nv = calloc(ncap, sizeof(*nv));

	if (!nv)
		return false;
	for (i = 0; i < cg->cap; i++) {
		size_t j;

		if (!cg->v[i].id)
			continue;
		for (j = slot(cg->v[i].id, ncap); nv[j].id; j = (j + 1) & (ncap - 1))
			;
		nv[j] = cg->v[i];
	}
	free(cg->v);
	cg->v = nv;
	cg->cap = ncap;
	return true;
}

/* Adds or updates @id; @path is copied (NULL: known not to exist). */
static struct entry *remember(struct ts_cgroups *cg, uint64_t id,
			      const char *path)
{
	struct entry *e = lookup(cg, id);
	size_t i;

	if (!e) {
		if ((cg->n + 1) * 2 > cg->cap && !grow(cg))
			return NULL;
		for (i = slot(id, cg->cap); cg->v[i].id; i = (i + 1) & (cg->cap - 1))
			;
		e = &cg->v[i];
		e->id = id;
		cg->n++;
		cg->stats.known = cg->n;
	}
	if (path && (!e->path || strcmp(e->path, path))) {
		free(e->path);
		e->path = strdup(path);
	}
	return e;
}

static int visit(const char *fpath, const struct stat *st, int type,
		 struct FTW *ftw)
{
	const char *rel = fpath + walking->mount_len;

	(void)ftw;
	if (type != FTW_D)
		return 0;
	remember(walking, st->st_ino, *rel ? rel : "/");
	return 0;
}

static void walk(struct ts_cgroups *cg)
{
	if (!cg->mount)
		return;
	cg->stats.walks++;
	walking = cg;
	nftw(cg->mount, visit, 16, FTW_PHYS | FTW_MOUNT);
	walking = NULL;
}

const char *ts_cgroups_path(struct ts_cgroups *cg, uint64_t id)
{
	struct entry *e;

	if (!id || !cg->mount)
		return NULL;
	e = lookup(cg, id);
	if (e)
		return e->path;
	walk(cg);
	e = lookup(cg, id);
	if (!e)
		e = remember(cg, id, NULL);	/* removed already: ask no more */
	return e ? e->path : NULL;
}

bool ts_cgroups_resolve(struct ts_cgroups *cg, const char *path,
			uint64_t *id, uint32_t *level, char *err, size_t errlen)
{
	char full[PATH_MAX], real[PATH_MAX];
	const char *rel, *c;
	struct stat st;

	if (!cg->mount) {
		snprintf(err, errlen, "no cgroup2 file system mounted");
		return false;
	}
	if (!strncmp(path, cg->mount, cg->mount_len) &&
	    (path[cg->mount_len] == '/' || !path[cg->mount_len]))
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "%s/%s", cg->mount,
			 path[0] == '/' ? path + 1 : path);
	if (!realpath(full, real) || stat(real, &st) || !S_ISDIR(st.st_mode) ||
	    strncmp(real, cg->mount, cg->mount_len) ||
	    (real[cg->mount_len] && real[cg->mount_len] != '/')) {
		snprintf(err, errlen, "not a cgroup v2 directory: '%s'", path);
		return false;
	}
	rel = real[cg->mount_len] ? real + cg->mount_len : "/";
	*id = st.st_ino;
	*level = 0;
	for (c = rel; *c; c++)
		if (*c == '/' && c[1])
			(*level)++;
	remember(cg, *id, rel);
	return true;
}

bool ts_cgroups_within(struct ts_cgroups *cg, uint64_t id, uint64_t root)
{
	const char *p, *r;
	size_t rl;

	if (id == root)
		return true;
	r = ts_cgroups_path(cg, root);
	p = ts_cgroups_path(cg, id);
	if (!p || !r)
		return false;
	if (!strcmp(r, "/"))
		return true;
	rl = strlen(r);
	return !strncmp(p, r, rl) && p[rl] == '/';
}

size_t ts_cgroups_subtree(struct ts_cgroups *cg, uint64_t root, uint64_t **ids)
{
	size_t i, n = 0;
	uint64_t *v;

	walk(cg);
	v = malloc((cg->n + 1) * sizeof(*v));
	*ids = v;
	if (!v)
		return 0;
	for (i = 0; i < cg->cap; i++)
		if (cg->v[i].id && cg->v[i].path &&
		    ts_cgroups_within(cg, cg->v[i].id, root))
			v[n++] = cg->v[i].id;
	return n;
}

static bool all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]) || !s[i])
			return false;
	return true;
}

void ts_cgroup_container(const char *path, char *buf, size_t len)
{
	static const char *const prefixes[] = {
		"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-",
	};
	static const char *const suffixes[] = { ".scope", ".slice" };
	const char *last = strrchr(path, '/');
	char name[256];
	size_t i, n;

	snprintf(name, sizeof(name), "%s", last && last[1] ? last + 1 : path);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t nl = strlen(name), sl = strlen(suffixes[i]);

		if (nl > sl && !strcmp(name + nl - sl, suffixes[i]))
			name[nl - sl] = '\0';
	}
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		if (!strncmp(name, prefixes[i], n)) {
			memmove(name, name + n, strlen(name + n) + 1);
			break;
		}
	}
	if (strlen(name) == 64 && all_hex(name, 64))
		name[12] = '\0';
	snprintf(buf, len, "%s", name);
}

const struct ts_cgroup_stats *ts_cgroups_stats(const struct ts_cgroups *cg)
{
	return &cg->stats;
}
