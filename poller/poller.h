/* SPDX-License-Identifier: GPL-2.0 */
/* Dumps every TCP socket's tcp_info over NETLINK_SOCK_DIAG, with libmnl. */
#ifndef TS_POLLER_H
#define TS_POLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/session.h"

/*
 * One dump being parsed.  Samples are not kept: each goes to @fn as soon as
 * its message is parsed, so a dump of any size costs no memory here.  The
 * kernel lists a family's listeners before its connections, so the
 * listener hint is known when a connection's sample is made.
 */
struct ts_dump {
	ts_sample_fn fn;
	void *arg;
	uint64_t samples;			/* handed to fn */
	uint64_t short_info;			/* entries without usable tcp_info */
	uint32_t netns;				/* namespace inode put on every sample */
	uint64_t listen_ports[65536 / 64];	/* ports with a listener */
};

/*
 * Parses one buffer of a dump reply, calling d->fn per socket.  Returns
 * MNL_CB_OK while more is to come, MNL_CB_STOP at the end of the dump,
 * MNL_CB_ERROR with errno set: EINTR (NLM_F_DUMP_INTR: the dump must be
 * retried), EBADMSG (malformed reply), or the kernel's error.
 */
int ts_dump_parse(struct ts_dump *d, const void *buf, size_t len,
		  unsigned int seq, unsigned int portid);
/* Ready for a new dump into @fn. */
void ts_dump_reset(struct ts_dump *d, ts_sample_fn fn, void *arg);

enum ts_dump_req {
	TS_REQ_COMPAT,		/* TCPDIAG_GETSOCK: both families, one walk */
	TS_REQ_BY_FAMILY,	/* SOCK_DIAG_BY_FAMILY: one walk per family */
};

struct ts_poller_stats {
	uint64_t dumps;
	uint64_t retries;		/* NLM_F_DUMP_INTR */
	uint64_t bytes;			/* netlink bytes read */
	uint64_t recvs;
	uint64_t samples;		/* sockets in the last complete dump */
};

struct ts_poller;

/* bufsize: recv buffer; the kernel fills at most ~32 KiB per recv. */
struct ts_poller *ts_poller_open(enum ts_dump_req req, size_t bufsize);
/* Its sockets inside the namespace of @nsfd (dup'ed; setns needs CAP_SYS_ADMIN). */
struct ts_poller *ts_poller_open_in(enum ts_dump_req req, size_t bufsize,
				    int nsfd);
void ts_poller_close(struct ts_poller *p);
uint32_t ts_poller_netns(const struct ts_poller *p);
/*
 * Only sockets of these cgroup v2 ids, filtered by the kernel (sock_diag
 * bytecode); n 0: all.  A kernel without INET_DIAG_BC_CGROUP_COND fails
 * the next dump with -EINVAL.
 */
int ts_poller_set_cgroups(struct ts_poller *p, const uint64_t *ids, size_t n);
/*
 * One complete, uninterrupted dump, every socket's sample handed to @fn
 * while it runs.  0 or -errno.  An interrupted dump is retried from the
 * start, so @fn may see a socket twice in one call: the core takes a
 * repeated sample as a no-op.
 */
int ts_poller_dump(struct ts_poller *p, ts_sample_fn fn, void *arg);
const struct ts_poller_stats *ts_poller_stats(const struct ts_poller *p);
/* Whether the last complete dump listed a listener on @port. */
bool ts_poller_listening(const struct ts_poller *p, uint16_t port);
/*
 * Sees every raw reply buffer before it is parsed (fixture capture, and
 * tests that damage replies on purpose: the kernel never flags sock_diag
 * dumps NLM_F_DUMP_INTR itself, see README).
 */
typedef void (*ts_poller_tap)(void *buf, size_t len, void *arg);
void ts_poller_set_tap(struct ts_poller *p, ts_poller_tap tap, void *arg);

#endif
