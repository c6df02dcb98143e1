// SPDX-License-Identifier: GPL-2.0
/*
 * baredump: the cheapest possible sock_diag dump of TCP sockets, as a
 * floor to compare the real pollers against.  Replies are counted and
 * discarded without parsing any attribute, so what remains is the cost of
 * the kernel walk plus copying the replies to user space.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF	(32 * 1024)
#define MAX_POLLS	10000000UL
#define MAX_RECVS	(1UL << 24)
#define MAX_EINTR	1000
#define RECV_TIMEOUT_S	10

/* Same states the poller asks for: everything with a live peer. */
#define DUMP_STATES	((1U << TCP_ESTABLISHED) | (1U << TCP_SYN_SENT) | \
			 (1U << TCP_FIN_WAIT1) | (1U << TCP_FIN_WAIT2) | \
			 (1U << TCP_CLOSE_WAIT) | (1U << TCP_LAST_ACK) | \
			 (1U << TCP_CLOSING))

static const char usage_text[] =
"usage: baredump [-n K] [-f]\n"
"  -n K  dump K times (default 1)\n"
"  -f    SOCK_DIAG_BY_FAMILY, one dump per family (default: legacy\n"
"        TCPDIAG_GETSOCK with AF_UNSPEC, one walk for both families)\n"
"prints: sockets N polls K user_us U sys_us S\n"
"  N: sockets in the last dump; U, S: getrusage deltas over all K dumps\n";

struct dumper {
	struct mnl_socket *nl;
	unsigned int portid;
	unsigned int seq;
	char buf[RECV_BUF];
};

static void usage_err(const char *msg, const char *arg)
{
	fprintf(stderr, "baredump: %s '%s' (usage: baredump [-n K] [-f])\n",
		msg, arg);
	exit(2);
}

static unsigned long parse_polls(const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		usage_err("-n wants an integer in 1..10000000, got", s);
	v = strtoul(s, &end, 10);
	if (errno || *end || !v || v > MAX_POLLS)
		usage_err("-n wants an integer in 1..10000000, got", s);
	return v;
}

static struct nlmsghdr *put_hdr(struct dumper *d, uint16_t type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++d->seq;
	return nlh;
}

static int send_legacy(struct dumper *d)
{
	struct nlmsghdr *nlh = put_hdr(d, TCPDIAG_GETSOCK);
	struct inet_diag_req *req;

	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->idiag_family = AF_UNSPEC;
	req->idiag_states = DUMP_STATES;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	return mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

static int send_v2(struct dumper *d, uint8_t family)
{
	struct nlmsghdr *nlh = put_hdr(d, SOCK_DIAG_BY_FAMILY);
	struct inet_diag_req_v2 *req;

	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = DUMP_STATES;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	return mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

/* Returns 1 at the end of the dump, 0 to go on, -1 on error. */
static int scan(struct dumper *d, ssize_t len, long *socks)
{
	const struct nlmsghdr *nlh = (const void *)d->buf;
	int left = len;
	const int *err;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (!mnl_nlmsg_seq_ok(nlh, d->seq) ||
		    !mnl_nlmsg_portid_ok(nlh, d->portid))
			continue;
		if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
			err = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)) || !*err)
				return nlh->nlmsg_type == NLMSG_DONE ? 1 : -1;
			errno = -*err;
			return -1;
		}
		(*socks)++;
	}
	return 0;
}

static long drain(struct dumper *d)
{
	unsigned long i;
	unsigned int intr = 0;
	long socks = 0;
	ssize_t n;
	int ret;

	for (i = 0; i < MAX_RECVS; i++) {
		n = mnl_socket_recvfrom(d->nl, d->buf, sizeof(d->buf));
		if (n < 0) {
			if (errno == EINTR && ++intr < MAX_EINTR)
				continue;
			return -1;
		}
		ret = scan(d, n, &socks);
		if (ret)
			return ret < 0 ? -1 : socks;
	}
	errno = EOVERFLOW;
	return -1;
}

static long dump_once(struct dumper *d, int by_family)
{
	long v4, v6;

	if (!by_family)
		return send_legacy(d) ? -1 : drain(d);
	if (send_v2(d, AF_INET))
		return -1;
	v4 = drain(d);
	if (v4 < 0 || send_v2(d, AF_INET6))
		return -1;
	v6 = drain(d);
	return v6 < 0 ? -1 : v4 + v6;
}

static int open_dumper(struct dumper *d)
{
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };

	d->nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!d->nl)
		return -1;
	if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID))
		return -1;
	d->portid = mnl_socket_get_portid(d->nl);
	d->seq = time(NULL);
	/* A lost reply must not hang a benchmark forever. */
	return setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_RCVTIMEO,
			  &tv, sizeof(tv));
}

static long long tv_us(const struct timeval *a, const struct timeval *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000000 +
	       (b->tv_usec - a->tv_usec);
}

static void parse_args(int argc, char **argv, unsigned long *polls,
		       int *by_family)
{
	char opt[3] = "-?";
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, ":n:fh")) != -1) {
		opt[1] = optopt;
		if (c == 'n')
			*polls = parse_polls(optarg);
		else if (c == 'f')
			*by_family = 1;
		else if (c == 'h') {
			fputs(usage_text, stdout);
			exit(0);
		} else if (c == ':')
			usage_err("missing argument for", opt);
		else
			usage_err("unknown option", opt);
	}
	if (optind < argc)
		usage_err("unexpected argument", argv[optind]);
}

int main(int argc, char **argv)
{
	static struct dumper d;
	struct rusage r0, r1;
	unsigned long polls = 1, i;
	int by_family = 0;
	long socks = 0;

	parse_args(argc, argv, &polls, &by_family);
	if (open_dumper(&d)) {
		fprintf(stderr, "baredump: netlink: %s\n", strerror(errno));
		return 1;
	}
	getrusage(RUSAGE_SELF, &r0);
	for (i = 0; i < polls; i++) {
		socks = dump_once(&d, by_family);
		if (socks < 0) {
			fprintf(stderr, "baredump: dump %lu: %s\n", i,
				strerror(errno));
			return 1;
		}
	}
	getrusage(RUSAGE_SELF, &r1);
	printf("sockets %ld polls %lu user_us %lld sys_us %lld\n", socks, polls,
	       tv_us(&r0.ru_utime, &r1.ru_utime),
	       tv_us(&r0.ru_stime, &r1.ru_stime));
	mnl_socket_close(d.nl);
	return 0;
}
