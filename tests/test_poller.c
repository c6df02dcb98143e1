// SPDX-License-Identifier: GPL-2.0
/*
 * The poller against the real kernel, in a private network namespace:
 * a dump flagged NLM_F_DUMP_INTR is retried on a fresh socket and the
 * retried dump is complete and exact; a damaged reply fails cleanly.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "../poller/poller.h"

static int failures;

#define CHECK(name, cond, ...) do {					\
	if (cond) {							\
		printf("ok %s\n", name);				\
	} else {							\
		printf("not ok %s: ", name);				\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		failures++;						\
	}								\
} while (0)

struct mangle {
	int flag_left;			/* buffers still to flag */
	int break_left;			/* buffers still to break */
};

static void mangle(void *buf, size_t len, void *arg)
{
	struct mangle *m = arg;
	struct nlmsghdr *nlh = buf;

	if (len < sizeof(*nlh))
		return;
	if (m->flag_left > 0) {
		m->flag_left--;
		nlh->nlmsg_flags |= NLM_F_DUMP_INTR;
	} else if (m->break_left > 0) {
		m->break_left--;
		nlh->nlmsg_len = 0x7ffffff0;
	}
}

/* Three established loopback pairs: six sockets to find. */
static int make_sockets(int *fds)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), i;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (void *)&a, len) || listen(lfd, 8) ||
	    getsockname(lfd, (void *)&a, &len))
		return -1;
	for (i = 0; i < 3; i++) {
		fds[2 * i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fds[2 * i], (void *)&a, len))
			return -1;
		fds[2 * i + 1] = accept(lfd, NULL, NULL);
	}
	close(lfd);
	return 0;
}

/* Every sample goes to a real core: a retried dump must leave it exact. */
static struct ts_acct *core;

static int dump(struct ts_poller *p)
{
	int ret;

	ts_acct_poll_begin(core, 0);
	ret = ts_poller_dump(p, ts_acct_sink, core);
	if (!ret)
		ts_acct_poll_end(core);
	return ret;
}

static size_t dumped(const struct ts_poller *p)
{
	return ts_poller_stats(p)->samples;
}

int main(void)
{
	struct mangle m = { 0 };
	struct ts_poller *p;
	int fds[6], ret;
	size_t clean;

	if (geteuid()) {
		printf("skip poller_retry: needs root (a private netns)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET) || system("ip link set lo up") ||
	    make_sockets(fds)) {
		printf("not ok poller_setup: %s\n", strerror(errno));
		return 1;
	}
	p = ts_poller_open(TS_REQ_COMPAT, 32768);
	core = ts_acct_new(false, 0);
	if (!p || !core) {
		printf("not ok poller_open: %s\n", strerror(errno));
		return 1;
	}
	ts_poller_set_tap(p, mangle, &m);
	ret = dump(p);
	clean = ret ? 0 : dumped(p);
	CHECK("poller_clean_dump", !ret && clean == 6, "ret %d n %zu", ret, clean);

	m.flag_left = 1;
	ret = dump(p);
	CHECK("poller_dump_intr_retried",
	      !ret && dumped(p) == clean && ts_poller_stats(p)->retries == 1 &&
	      ts_acct_stats(core)->sessions == clean,
	      "ret %d n %zu retries %llu sessions %llu", ret, ret ? 0 : dumped(p),
	      (unsigned long long)ts_poller_stats(p)->retries,
	      (unsigned long long)ts_acct_stats(core)->sessions);

	m.flag_left = 1000;
	ret = dump(p);
	CHECK("poller_dump_intr_gives_up", ret == -EINTR, "ret %d", ret);
	m.flag_left = 0;

	m.break_left = 1;
	ret = dump(p);
	CHECK("poller_malformed_reply_fails", ret == -EBADMSG, "ret %d", ret);
	ret = dump(p);
	CHECK("poller_recovers_after_bad_reply", !ret && dumped(p) == clean &&
	      ts_acct_stats(core)->sessions == clean, "ret %d", ret);
	ts_acct_free(core);
	ts_poller_close(p);
	return failures ? 1 : 0;
}
