// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag poller.  One request returns every TCP socket in the states
 * that carry tcp_info, with INET_DIAG_INFO only; replies are parsed the
 * way libmnl's examples do: a callback per message, mnl_attr_parse with a
 * callback per attribute, every length checked.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <libmnl/libmnl.h>
#include "poller.h"

#define MAX_RETRIES 16

/* Dumped states: those a full socket with tcp_info is in, and listeners. */
#define DUMP_STATES ((1u << TS_ESTABLISHED) | (1u << TS_SYN_SENT) |	\
		     (1u << TS_FIN_WAIT1) | (1u << TS_FIN_WAIT2) |	\
		     (1u << TS_CLOSE_WAIT) | (1u << TS_LAST_ACK) |	\
		     (1u << TS_CLOSING) | (1u << TS_LISTEN))

#define covers(len, field) \
	((len) >= offsetof(struct tcp_info, field) + \
		  sizeof(((struct tcp_info *)0)->field))

struct ts_poller {
	struct mnl_socket *nl;
	enum ts_dump_req req;
	unsigned int seq;
	unsigned int portid;
	char *buf;
	size_t bufsize;
	struct ts_dump dump;
	struct ts_poller_stats stats;
	ts_poller_tap tap;
	void *tap_arg;
};

/* What one message's attributes hold for us, and where they ended. */
struct msg_attrs {
	const struct nlattr *info;
	const char *end;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct msg_attrs *ma = data;

	ma->end = (const char *)attr + MNL_ALIGN(attr->nla_len);
	/*
	 * Only INET_DIAG_INFO is read; every other type, newer kernels' too,
	 * is skipped, so no table of valid types is consulted per attribute.
	 */
	if (mnl_attr_get_type(attr) == INET_DIAG_INFO)
		ma->info = attr;
	return MNL_CB_OK;
}

/*
 * mnl_attr_parse() stops quietly at a bad attribute: the attributes it
 * walked must reach the end of the message.
 */
static bool attrs_cover_msg(const struct nlmsghdr *nlh, size_t offset,
			    const struct msg_attrs *ma)
{
	const char *first = mnl_nlmsg_get_payload_offset(nlh, offset);
	const char *tail = mnl_nlmsg_get_payload_tail(nlh);

	return (ma->end ? ma->end : first) >= tail;
}

static void fill_tuple(struct ts_tuple *t, const struct inet_diag_msg *m)
{
	size_t alen = m->idiag_family == AF_INET ? 4 : 16;

	memset(t, 0, sizeof(*t));
	t->family = m->idiag_family;
	t->lport = ntohs(m->id.idiag_sport);
	t->rport = ntohs(m->id.idiag_dport);
	memcpy(t->laddr, m->id.idiag_src, alen);
	memcpy(t->raddr, m->id.idiag_dst, alen);
}

/* Reads one field in place: attribute payloads are only 4-byte aligned. */
#define info_field(dst, payload, field) \
	memcpy(&(dst), (const char *)(payload) + \
	       offsetof(struct tcp_info, field), sizeof(dst))

/* Use each tcp_info field only when the kernel's struct covers it. */
static bool fill_info(struct ts_sample *s, const struct nlattr *attr)
{
	const void *ti = mnl_attr_get_payload(attr);
	size_t len = mnl_attr_get_payload_len(attr);

	if (!covers(len, tcpi_bytes_received))
		return false;
	info_field(s->unacked, ti, tcpi_unacked);
	info_field(s->bytes_acked, ti, tcpi_bytes_acked);
	info_field(s->bytes_received, ti, tcpi_bytes_received);
	s->has_sent = covers(len, tcpi_bytes_retrans);
	if (s->has_sent) {
		info_field(s->bytes_sent, ti, tcpi_bytes_sent);
		info_field(s->bytes_retrans, ti, tcpi_bytes_retrans);
	}
	return true;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ts_dump *d = data;
	struct msg_attrs ma = { NULL, NULL };
	const struct inet_diag_msg *m;
	struct ts_sample s;
	uint16_t port;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		goto bad;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		goto bad;
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, &ma) < 0 ||
	    !attrs_cover_msg(nlh, sizeof(*m), &ma))
		goto bad;
	port = ntohs(m->id.idiag_sport);
	if (m->idiag_state == TS_LISTEN) {
		d->listen_ports[port / 64] |= 1ULL << (port % 64);
		return MNL_CB_OK;
	}
	memset(&s, 0, sizeof(s));
	if (!ma.info || !fill_info(&s, ma.info)) {
		d->short_info++;
		return MNL_CB_OK;
	}
	s.cookie = (uint64_t)m->id.idiag_cookie[0] |
		   (uint64_t)m->id.idiag_cookie[1] << 32;
	fill_tuple(&s.tuple, m);
	s.state = m->idiag_state;
	s.uid = m->idiag_uid;
	s.inode = m->idiag_inode;
	s.listener_on_lport = !!(d->listen_ports[port / 64] &
				 (1ULL << (port % 64)));
	d->samples++;
	d->fn(&s, d->arg);
	return MNL_CB_OK;
bad:
	errno = EBADMSG;
	return MNL_CB_ERROR;
}

/*
 * libmnl 1.0.4's mnl_nlmsg_ok() casts nlmsg_len to int: a length of 2^31
 * or more passes as negative and walks off the buffer.  Check every
 * header against what was received before handing the buffer over.
 */
static bool lengths_ok(const char *buf, size_t len)
{
	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		size_t step = MNL_ALIGN(nlh->nlmsg_len);

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
			return false;
		if (step >= len)
			return true;
		buf += step;
		len -= step;
	}
	return true;
}

int ts_dump_parse(struct ts_dump *d, const void *buf, size_t len,
		  unsigned int seq, unsigned int portid)
{
	if (!lengths_ok(buf, len)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	return mnl_cb_run(buf, len, seq, portid, msg_cb, d);
}

void ts_dump_reset(struct ts_dump *d, ts_sample_fn fn, void *arg)
{
	d->fn = fn;
	d->arg = arg;
	d->samples = 0;
	d->short_info = 0;
	memset(d->listen_ports, 0, sizeof(d->listen_ports));
}

static int nl_open(struct ts_poller *p)
{
	p->nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!p->nl)
		return -errno;
	if (mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(p->nl);
		p->nl = NULL;
		return err;
	}
	p->portid = mnl_socket_get_portid(p->nl);
	return 0;
}

struct ts_poller *ts_poller_open(enum ts_dump_req req, size_t bufsize)
{
	struct ts_poller *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	p->req = req;
	p->bufsize = bufsize < (size_t)MNL_SOCKET_BUFFER_SIZE ?
		     (size_t)MNL_SOCKET_BUFFER_SIZE : bufsize;
	p->buf = malloc(p->bufsize);
	p->seq = (unsigned int)time(NULL);
	err = p->buf ? nl_open(p) : -ENOMEM;
	if (err) {
		free(p->buf);
		free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

void ts_poller_close(struct ts_poller *p)
{
	if (!p)
		return;
	if (p->nl)
		mnl_socket_close(p->nl);
	free(p->buf);
	free(p);
}

static int send_request(struct ts_poller *p, int family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(p->buf);

	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++p->seq;
	if (p->req == TS_REQ_COMPAT) {
		struct inet_diag_req *r;

		nlh->nlmsg_type = TCPDIAG_GETSOCK;
		r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
		r->idiag_family = AF_UNSPEC;
		r->idiag_ext = 1 << (INET_DIAG_INFO - 1);
		r->idiag_states = DUMP_STATES;
	} else {
		struct inet_diag_req_v2 *r;

		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
		r->sdiag_family = family;
		r->sdiag_protocol = IPPROTO_TCP;
		r->idiag_ext = 1 << (INET_DIAG_INFO - 1);
		r->idiag_states = DUMP_STATES;
	}
	if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

static int receive_dump(struct ts_poller *p)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(p->nl, p->buf, p->bufsize);
		int ret;

		if (n < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		p->stats.recvs++;
		p->stats.bytes += n;
		if (p->tap)
			p->tap(p->buf, n, p->tap_arg);
		ret = ts_dump_parse(&p->dump, p->buf, n, p->seq, p->portid);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret == MNL_CB_ERROR)
			return -errno;
	}
}

/*
 * An interrupted dump leaves unread replies in the socket: a fresh socket
 * is the simplest way to drop them, and retries are rare.
 */
static int reopen(struct ts_poller *p)
{
	mnl_socket_close(p->nl);
	p->nl = NULL;
	return nl_open(p);
}

static int dump_once(struct ts_poller *p, ts_sample_fn fn, void *arg)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int i, nfam = p->req == TS_REQ_COMPAT ? 1 : 2;

	ts_dump_reset(&p->dump, fn, arg);
	for (i = 0; i < nfam; i++) {
		int err = send_request(p, families[i]);

		if (!err)
			err = receive_dump(p);
		if (err)
			return err;
	}
	return 0;
}

int ts_poller_dump(struct ts_poller *p, ts_sample_fn fn, void *arg)
{
	int tries, err = -EINTR;

	for (tries = 0; tries < MAX_RETRIES; tries++) {
		err = dump_once(p, fn, arg);
		if (err != -EINTR && err != -EAGAIN)
			break;
		p->stats.retries++;
		err = reopen(p);
		if (err)
			return err;
		err = -EINTR;
	}
	if (err) {
		/* Leave no stale replies behind for the next dump. */
		reopen(p);
		return err;
	}
	p->stats.dumps++;
	p->stats.samples = p->dump.samples;
	return 0;
}

const struct ts_poller_stats *ts_poller_stats(const struct ts_poller *p)
{
	return &p->stats;
}

void ts_poller_set_tap(struct ts_poller *p, ts_poller_tap tap, void *arg)
{
	p->tap = tap;
	p->tap_arg = arg;
}
