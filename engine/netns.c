// SPDX-License-Identifier: GPL-2.0
/*
 * A namespace lives as long as a process is in it, a bind mount of its
 * nsfs file exists (ip netns), or something holds a reference (an open
 * fd, a socket).  The first two are found here, cheaply: one readlink per
 * process and one read of mountinfo.  A namespace kept only by an fd is
 * not found (see README).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "netns.h"

/* "net:[4026531840]" -> 4026531840 */
static uint32_t link_inode(const char *link)
{
	if (strncmp(link, "net:[", 5))
		return 0;
	return (uint32_t)strtoul(link + 5, NULL, 10);
}

static void scan_proc(ts_netns_fn fn, void *arg)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int pfd;

	if (!proc)
		return;
	pfd = dirfd(proc);
	while ((de = readdir(proc))) {
		char rel[300], link[64], path[320];
		uint32_t netns;
		ssize_t n;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(rel, sizeof(rel), "%s/ns/net", de->d_name);
		n = readlinkat(pfd, rel, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		netns = link_inode(link);
		snprintf(path, sizeof(path), "/proc/%s", rel);
		if (netns)
			fn(netns, path, arg);
	}
	closedir(proc);
}

/* Mount points in mountinfo escape blanks as octal (\040). */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*out++ = (char)strtol((char[]){ s[1], s[2], s[3], 0 }, NULL, 8);
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* "36 25 0:4 net:[4026532281] /run/netns/x rw shared:5 - nsfs nsfs rw" */
static void scan_mounts(ts_netns_fn fn, void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char root[256], point[PATH_MAX];
		const char *sep = strstr(line, " - nsfs ");
		uint32_t netns;

		if (!sep || sscanf(line, "%*s %*s %*s %255s %4095s", root, point) != 2)
			continue;
		netns = link_inode(root);
		if (!netns)
			continue;
		unescape(point);
		fn(netns, point, arg);
	}
	fclose(f);
}

void ts_netns_scan(ts_netns_fn fn, void *arg)
{
	scan_proc(fn, arg);
	scan_mounts(fn, arg);
}

/*
 * /proc/PID/ns/net as a link needs no access to the process (stat and
 * open do: a non-dumpable process refuses them); a bind mount is a file.
 */
uint32_t ts_netns_inode(const char *path)
{
	char link[64];
	struct statfs fs;
	struct stat st;
	ssize_t n = readlink(path, link, sizeof(link) - 1);

	if (n > 0) {
		link[n] = '\0';
		return link_inode(link);
	}
	if (statfs(path, &fs) || fs.f_type != NSFS_MAGIC || stat(path, &st))
		return 0;
	return (uint32_t)st.st_ino;
}

uint32_t ts_netns_fd_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	return (uint32_t)st.st_ino;
}

uint32_t ts_netns_self(void)
{
	return ts_netns_inode("/proc/self/ns/net");
}

/*
 * Root in the namespace PID 1 is in.  Where PID 1 does not let us read
 * its link (a non-dumpable init), kernels that give the initial network
 * namespace a fixed inode (PROC_NET_INIT_INO, include/linux/proc_ns.h;
 * 6.1 does not, 6.18 does) still tell.
 */
#define NET_INIT_INO 0xEFFFFFF9U

bool ts_netns_sees_all(void)
{
	uint32_t init = ts_netns_inode("/proc/1/ns/net");

	if (geteuid())
		return false;
	return ts_netns_self() == (init ? init : NET_INIT_INO);
}
