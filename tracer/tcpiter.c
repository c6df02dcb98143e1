// SPDX-License-Identifier: GPL-2.0
/*
 * Loads the iter/tcp program and reads one walk per poll from a fresh
 * iterator fd: fixed-size records, listeners first (the kernel walks the
 * listening hash before the established one, as inet_diag does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tcpiter.h"
#include "tracer.h"
#include "tcpiter.skel.h"

#define READ_BUF (64 * 1024)

struct ts_iter {
	struct tcpiter *skel;
	struct bpf_link *link;
	uint32_t netns;			/* put on every sample */
	uint64_t listen_ports[65536 / 64];
	char buf[READ_BUF];
};

struct ts_iter *ts_iter_open(uint32_t netns, char *why, size_t len)
{
	struct ts_iter *it = calloc(1, sizeof(*it));
	libbpf_print_fn_t old = libbpf_set_print(ts_libbpf_quiet);

	if (!it) {
		snprintf(why, len, "out of memory");
		goto fail;
	}
	it->skel = tcpiter__open();
	if (!it->skel) {
		snprintf(why, len, "cannot open the iterator program");
		goto fail;
	}
	it->skel->rodata->target_netns = netns;
	it->netns = netns;
	if (tcpiter__load(it->skel)) {
		snprintf(why, len, "kernel rejects iter/tcp (no BPF iterators?)");
		goto fail;
	}
	it->link = bpf_program__attach_iter(it->skel->progs.walk, NULL);
	if (!it->link) {
		snprintf(why, len, "cannot attach iter/tcp: %s", strerror(errno));
		goto fail;
	}
	libbpf_set_print(old);
	return it;
fail:
	libbpf_set_print(old);
	ts_iter_close(it);
	return NULL;
}

void ts_iter_close(struct ts_iter *it)
{
	if (!it)
		return;
	bpf_link__destroy(it->link);
	tcpiter__destroy(it->skel);
	free(it);
}

static void sample_of(struct ts_sample *s, const struct ts_iter_rec *r,
		      const struct ts_iter *it)
{
	const uint64_t *listen_ports = it->listen_ports;
	uint16_t port = r->tuple.lport;

	memset(s, 0, sizeof(*s));
	s->cookie = r->cookie;
	s->tuple.family = r->tuple.family;
	s->tuple.lport = r->tuple.lport;
	s->tuple.rport = r->tuple.rport;
	memcpy(s->tuple.laddr, r->tuple.laddr, 16);
	memcpy(s->tuple.raddr, r->tuple.raddr, 16);
	s->tuple.netns = it->netns;
	s->state = r->state;
	s->has_sent = true;
	s->listener_on_lport = !!(listen_ports[port / 64] & (1ULL << (port % 64)));
	s->uid = r->uid;
	s->inode = r->inode;
	s->unacked = r->unacked;
	s->bytes_acked = r->bytes_acked;
	s->bytes_received = r->bytes_received;
	s->bytes_sent = r->bytes_sent;
	s->bytes_retrans = r->bytes_retrans;
}

static void take(struct ts_iter *it, const struct ts_iter_rec *r,
		 ts_sample_fn fn, void *arg)
{
	struct ts_sample s;
	uint16_t port = r->tuple.lport;

	if (r->state == TS_LISTEN) {
		it->listen_ports[port / 64] |= 1ULL << (port % 64);
		return;
	}
	sample_of(&s, r, it);
	fn(&s, arg);
}

int ts_iter_walk(struct ts_iter *it, bool full, ts_sample_fn fn, void *arg)
{
	size_t have = 0, rec = sizeof(struct ts_iter_rec);
	int fd, err = 0;

	it->skel->bss->full_walk = full;
	memset(it->listen_ports, 0, sizeof(it->listen_ports));
	fd = bpf_iter_create(bpf_link__fd(it->link));
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, it->buf + have, sizeof(it->buf) - have);
		size_t off;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : have ? -EBADMSG : 0;
			break;
		}
		have += n;
		/* Records may straddle reads: keep the tail for the next. */
		for (off = 0; off + rec <= have; off += rec) {
			struct ts_iter_rec r;

			memcpy(&r, it->buf + off, rec);
			take(it, &r, fn, arg);
		}
		memmove(it->buf, it->buf + off, have - off);
		have -= off;
	}
	close(fd);
	return err;
}
