/* SPDX-License-Identifier: GPL-2.0 */
/* Finding network namespaces: /proc/PID/ns/net, /run/netns, nsfs mounts. */
#ifndef TS_NETNS_H
#define TS_NETNS_H

#include <stdbool.h>
#include <stdint.h>

/* Called once per place a namespace was seen (the same one may repeat). */
typedef void (*ts_netns_fn)(uint32_t netns, const char *path, void *arg);

/* Every namespace this process can see now. */
void ts_netns_scan(ts_netns_fn fn, void *arg);
/* The inode of the namespace at @path (an nsfs file); 0 if none. */
uint32_t ts_netns_inode(const char *path);
uint32_t ts_netns_fd_inode(int fd);
uint32_t ts_netns_self(void);
/* Root in the initial namespace: the one place that can see them all. */
bool ts_netns_sees_all(void);

#endif
