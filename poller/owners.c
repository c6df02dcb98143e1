// SPDX-License-Identifier: GPL-2.0
/*
 * Owners are looked up only when a socket the table has never seen
 * appears, so an idle server costs nothing here per poll.  A socket held
 * by several processes (fork, SCM_RIGHTS) is shown with the first holder
 * found: recent socket owners first, then /proc in PID order.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "owners.h"

#define HOT_MAX 64

struct want {
	uint32_t inode;			/* 0: empty slot */
	uint32_t pid;
	char comm[TS_COMM_LEN];
};

struct hot {
	uint32_t pid;
	uint64_t last_hit;
};

struct ts_owners {
	struct want *w;			/* open addressing set of inodes */
	size_t cap;
	size_t n;
	size_t missing;
	struct hot hot[HOT_MAX];
	uint64_t tick;
	struct ts_owner_stats stats;
};

static size_t want_slot(const struct ts_owners *o, uint32_t inode)
{
	return (inode * 2654435761u) & (o->cap - 1);
}

static struct want *want_find(struct ts_owners *o, uint32_t inode)
{
	size_t i;

	if (!o->cap)
		return NULL;
	for (i = want_slot(o, inode); o->w[i].inode; i = (i + 1) & (o->cap - 1))
		if (o->w[i].inode == inode)
			return &o->w[i];
	return NULL;
}

static bool want_grow(struct ts_owners *o)
{
	size_t ocap = o->cap, i;
	struct want *old = o->w;

	o->cap = ocap ? ocap * 2 : 256;
	o->w = calloc(o->cap, sizeof(*o->w));
	if (!o->w) {
		o->w = old;
		o->cap = ocap;
		return false;
	}
	for (i = 0; i < ocap; i++) {
		size_t j;

		if (!old[i].inode)
			continue;
		for (j = want_slot(o, old[i].inode); o->w[j].inode;
		     j = (j + 1) & (o->cap - 1))
			;
		o->w[j] = old[i];
	}
	free(old);
	return true;
}

struct ts_owners *ts_owners_new(void)
{
	return calloc(1, sizeof(struct ts_owners));
}

void ts_owners_free(struct ts_owners *o)
{
	if (!o)
		return;
	free(o->w);
	free(o);
}

bool ts_owners_want(struct ts_owners *o, uint32_t inode)
{
	size_t i;

	if (!inode || want_find(o, inode))
		return true;
	if ((o->n + 1) * 2 > o->cap && !want_grow(o))
		return false;
	for (i = want_slot(o, inode); o->w[i].inode; i = (i + 1) & (o->cap - 1))
		;
	o->w[i].inode = inode;
	o->w[i].pid = 0;
	o->n++;
	o->missing++;
	return true;
}

static void read_comm(uint32_t pid, char *comm)
{
	char path[64];
	ssize_t n;
	int fd;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, TS_COMM_LEN - 1);
	close(fd);
	if (n <= 0)
		n = 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

/* "socket:[12345]" -> 12345 */
static uint32_t socket_inode(const char *link)
{
	if (strncmp(link, "socket:[", 8))
		return 0;
	return (uint32_t)strtoul(link + 8, NULL, 10);
}

static void hot_hit(struct ts_owners *o, uint32_t pid)
{
	struct hot *victim = &o->hot[0];
	int i;

	for (i = 0; i < HOT_MAX; i++) {
		if (o->hot[i].pid == pid) {
			o->hot[i].last_hit = ++o->tick;
			return;
		}
		if (o->hot[i].last_hit < victim->last_hit)
			victim = &o->hot[i];
	}
	victim->pid = pid;
	victim->last_hit = ++o->tick;
}

/* Reads one process's fds; returns how many wanted inodes it held. */
static size_t scan_pid(struct ts_owners *o, uint32_t pid)
{
	char path[64], link[64], comm[TS_COMM_LEN];
	struct dirent *de;
	size_t found = 0;
	DIR *dir;
	int dfd;

	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	dfd = dirfd(dir);
	comm[0] = '\0';
	while (o->missing && (de = readdir(dir))) {
		struct want *w;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dfd, de->d_name, link, sizeof(link) - 1);
		o->stats.fds_read++;
		if (n <= 0)
			continue;
		link[n] = '\0';
		w = want_find(o, socket_inode(link));
		if (!w || w->pid)
			continue;
		if (!comm[0])
			read_comm(pid, comm);
		w->pid = pid;
		memcpy(w->comm, comm, TS_COMM_LEN);
		o->missing--;
		found++;
	}
	closedir(dir);
	if (found)
		hot_hit(o, pid);
	return found;
}

static bool is_hot(const struct ts_owners *o, uint32_t pid)
{
	int i;

	for (i = 0; i < HOT_MAX; i++)
		if (o->hot[i].pid == pid)
			return true;
	return false;
}

static void scan_all(struct ts_owners *o)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;

	if (!proc)
		return;
	o->stats.scans_full++;
	while (o->missing && (de = readdir(proc))) {
		uint32_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		if (!is_hot(o, pid))
			scan_pid(o, pid);
	}
	closedir(proc);
}

void ts_owners_resolve(struct ts_owners *o)
{
	size_t i;

	if (!o->missing)
		return;
	o->stats.scans_hot++;
	for (i = 0; i < HOT_MAX && o->missing; i++)
		if (o->hot[i].pid)
			scan_pid(o, o->hot[i].pid);
	if (o->missing)
		scan_all(o);
	o->stats.unresolved += o->missing;
	o->stats.resolved += o->n - o->missing;
}

bool ts_owners_lookup(struct ts_owners *o, uint32_t inode, uint32_t *pid,
		      const char **comm)
{
	struct want *w = want_find(o, inode);

	if (!w)
		return false;
	*pid = w->pid;
	*comm = w->comm;
	return true;
}

/*
 * The baseline asks for every socket at once; later intervals ask for a
 * few.  A set grown for the baseline is given back rather than kept
 * zeroed (24 bytes a slot, two slots a socket: more than the sessions).
 */
#define WANT_KEEP 4096

void ts_owners_clear(struct ts_owners *o)
{
	if (o->cap > WANT_KEEP) {
		free(o->w);
		o->w = NULL;
		o->cap = 0;
	} else if (o->n) {
		memset(o->w, 0, o->cap * sizeof(*o->w));
	}
	o->n = 0;
	o->missing = 0;
}

const struct ts_owner_stats *ts_owners_stats(const struct ts_owners *o)
{
	return &o->stats;
}
