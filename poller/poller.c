// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag poller.  One request returns every TCP socket in the states
 * that carry tcp_info, with INET_DIAG_INFO only; replies are parsed the
 * way libmnl's examples do: a callback per message, mnl_attr_parse with a
 * callback per attribute, every length checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* Bytecode: one cgroup condition (and a jump) per cgroup id. */
#define BC_COND_LEN (sizeof(struct inet_diag_bc_op) + sizeof(uint64_t))
#define BC_JMP_LEN sizeof(struct inet_diag_bc_op)

struct ts_poller {
	struct mnl_socket *nl;
	int nsfd;			/* namespace to open sockets in; -1: ours */
	uint32_t netns;			/* its inode, on every sample */
	char *bc;			/* INET_DIAG_REQ_BYTECODE, or NULL */
	size_t bc_len;
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
	const struct nlattr *cgroup;
	const char *end;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct msg_attrs *ma = data;

	ma->end = (const char *)attr + MNL_ALIGN(attr->nla_len);
	/*
	 * Only INET_DIAG_INFO and INET_DIAG_CGROUP_ID are read; every other
	 * type, newer kernels' too, is skipped, so no table of valid types is
	 * consulted per attribute.
	 */
	switch (mnl_attr_get_type(attr)) {
	case INET_DIAG_INFO:
		ma->info = attr;
		break;
	case INET_DIAG_CGROUP_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
			return MNL_CB_ERROR;
		ma->cgroup = attr;
		break;
	}
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
	struct msg_attrs ma = { NULL, NULL, NULL };
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
	s.tuple.netns = d->netns;
	if (ma.cgroup)
		s.tuple.cgroup = mnl_attr_get_u64(ma.cgroup);
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

/* A netlink socket answers for the namespace it was made in. */
static struct mnl_socket *socket_in(int nsfd)
{
	struct mnl_socket *nl;
	int home, err;

	if (nsfd < 0)
		return mnl_socket_open(NETLINK_SOCK_DIAG);
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		return NULL;
	if (setns(nsfd, CLONE_NEWNET)) {
		err = errno;
		close(home);
		errno = err;
		return NULL;
	}
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	err = errno;
	/* Cannot fail: we came from there and hold its fd. */
	if (setns(home, CLONE_NEWNET))
		abort();
	close(home);
	errno = err;
	return nl;
}

static int nl_open(struct ts_poller *p)
{
	p->nl = socket_in(p->nsfd);
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

static uint32_t netns_inode(int nsfd)
{
	struct stat st;
	int ret = nsfd < 0 ? stat("/proc/thread-self/ns/net", &st) :
			     fstat(nsfd, &st);

	return ret ? 0 : (uint32_t)st.st_ino;
}

struct ts_poller *ts_poller_open(enum ts_dump_req req, size_t bufsize)
{
	return ts_poller_open_in(req, bufsize, -1);
}

struct ts_poller *ts_poller_open_in(enum ts_dump_req req, size_t bufsize,
				    int nsfd)
{
	struct ts_poller *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	p->nsfd = nsfd < 0 ? -1 : fcntl(nsfd, F_DUPFD_CLOEXEC, 0);
	if (nsfd >= 0 && p->nsfd < 0) {
		err = errno;
		free(p);
		errno = err;
		return NULL;
	}
	p->netns = netns_inode(p->nsfd);
	p->dump.netns = p->netns;
	p->req = req;
	p->bufsize = bufsize < (size_t)MNL_SOCKET_BUFFER_SIZE ?
		     (size_t)MNL_SOCKET_BUFFER_SIZE : bufsize;
	p->buf = malloc(p->bufsize);
	p->seq = (unsigned int)time(NULL);
	err = p->buf ? nl_open(p) : -ENOMEM;
	if (err) {
		if (p->nsfd >= 0)
			close(p->nsfd);
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
	if (p->nsfd >= 0)
		close(p->nsfd);
	free(p->bc);
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
	if (p->bc)
		mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, p->bc_len, p->bc);
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

uint32_t ts_poller_netns(const struct ts_poller *p)
{
	return p->netns;
}

static void put_op(char *at, uint8_t code, uint8_t yes, uint16_t no)
{
	struct inet_diag_bc_op op = { .code = code, .yes = yes, .no = no };

	memcpy(at, &op, sizeof(op));
}

/*
 * "cgroup == a || cgroup == b || ...", compiled the way ss compiles OR:
 * a condition falls through to a jump over the rest when it matches and
 * skips to the next condition when not; the last one's "no" leaves the
 * program 4 bytes past its end, which rejects.  The kernel's audit walks
 * the "yes" chain, so every op must be reachable along it.
 */
int ts_poller_set_cgroups(struct ts_poller *p, const uint64_t *ids, size_t n)
{
	size_t len = n ? n * BC_COND_LEN + (n - 1) * BC_JMP_LEN : 0, i;
	char *bc, *at;

	free(p->bc);
	p->bc = NULL;
	p->bc_len = 0;
	if (!n)
		return 0;
	/* The request is built in the receive buffer. */
	if (len > 0xffff - 4 || len > p->bufsize / 2)
		return -E2BIG;
	bc = malloc(len);
	if (!bc)
		return -ENOMEM;
	for (i = 0, at = bc; i < n; i++) {
		put_op(at, INET_DIAG_BC_CGROUP_COND, BC_COND_LEN,
		       BC_COND_LEN + BC_JMP_LEN);
		memcpy(at + sizeof(struct inet_diag_bc_op), &ids[i], sizeof(ids[i]));
		at += BC_COND_LEN;
		if (i + 1 == n)
			break;
		/* Matched: jump to the end, which accepts. */
		put_op(at, INET_DIAG_BC_JMP, BC_JMP_LEN, bc + len - at);
		at += BC_JMP_LEN;
	}
	p->bc = bc;
	p->bc_len = len;
	return 0;
}

bool ts_poller_listening(const struct ts_poller *p, uint16_t port)
{
	return p->dump.listen_ports[port / 64] >> (port % 64) & 1;
}
