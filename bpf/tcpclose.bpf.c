// SPDX-License-Identifier: GPL-2.0
/*
 * Close-path probe: one event per TCP socket entering TCP_CLOSE, with its
 * final counters.  Every hook here fires a bounded number of times per
 * connection (state changes, accept, reset, socket release), never per
 * send, receive or packet.  The syscall tracepoints at the end are loaded
 * only on request: attaching any of them slows every syscall of every task.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tcpsight.h"
#include "sock_tuple.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

char LICENSE[] SEC("license") = "GPL";

/* Set before load (read-only afterwards): filters run here, in the kernel. */
const volatile __u32 target_netns = 0;
const volatile __u32 filter_pid = 0;
const volatile __u16 filter_family = 0;
/* Port sets as bitmaps: a list of 1024 ports costs one load, like one. */
const volatile __u64 filter_lports[TS_PORT_WORDS] = {};
const volatile __u64 filter_rports[TS_PORT_WORDS] = {};
const volatile __u32 n_lports = 0;
const volatile __u32 n_rports = 0;
/* -c: sockets of this cgroup v2 (id, depth below the root) or below it. */
const volatile __u64 filter_cgroup_id = 0;
const volatile __u32 filter_cgroup_level = 0;
/* tcptop drains once per interval; tcplife waits on the ring. */
const volatile bool rb_wakeup = false;
/*
 * cgroup/sock_release is attached: a close nobody owned yet waits in
 * pending for the owner's close() (or for userspace to give up on it).
 */
const volatile bool defer_unowned = false;

/* Session keys for sockets whose cookie nobody generated: never 0. */
__u64 next_synth_id = 0;

/* What earlier state changes taught us about a live socket. */
struct birth {
	__u64 ts;			/* 0: born before attach */
	__u32 pid;
	__u8 flags;			/* TS_CF_ACTIVE_KNOWN | TS_CF_ACTIVE | TS_CF_OWNER */
	__u8 rst_in;			/* peer reset it: softirq closes it */
	char comm[TS_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);		/* struct sock address */
	__type(value, struct birth);
} births SEC(".maps");

/*
 * Owners by address, for userspace: a socket whose process has already
 * closed its fd (an orphan finishing its FIN exchange) is invisible in
 * /proc, yet the poller may see it first.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ts_tuple_key);
	__type(value, struct ts_owner);
} owners SEC(".maps");

/* Finished sessions waiting for their owner's close(), by struct sock. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ts_close_event);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ts_close_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/*
 * Sockets born per network namespace: userspace dumps a namespace only
 * once something was born in it since its last empty dump, so an idle
 * namespace costs no hash walk per interval.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);		/* netns inode */
	__type(value, __u64);
} netns_births SEC(".maps");

static __always_inline bool sock_wanted(const struct sock *sk)
{
	__u16 family;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (filter_family && family != filter_family)
		return false;
	if (target_netns &&
	    BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != target_netns)
		return false;
	if (filter_cgroup_id &&
	    !ts_sock_in_cgroup(sk, filter_cgroup_id, filter_cgroup_level))
		return false;
	return true;
}

static __always_inline bool port_in(__u16 port, const volatile __u64 *bits,
				    __u32 n)
{
	if (!n)
		return true;
	return bits[port / 64] & (1ULL << (port % 64));
}

static __always_inline void set_owner(struct birth *b)
{
	b->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(b->comm, sizeof(b->comm));
	b->flags |= TS_CF_OWNER;
}

static __always_inline struct birth *birth_of(const struct sock *sk, bool create)
{
	__u64 key = (__u64)sk;
	struct birth zero = {}, *b;

	b = bpf_map_lookup_elem(&births, &key);
	if (b || !create)
		return b;
	bpf_map_update_elem(&births, &key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&births, &key);
}

static __always_inline void count_birth(const struct sock *sk)
{
	__u32 netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	__u64 one = 1, *n;

	n = bpf_map_lookup_elem(&netns_births, &netns);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&netns_births, &netns, &one, BPF_NOEXIST);
}

static __always_inline void on_birth(const struct sock *sk, bool active)
{
	__u64 key = (__u64)sk;
	struct birth b = {};

	count_birth(sk);

	b.ts = bpf_ktime_get_ns();
	b.flags = TS_CF_ACTIVE_KNOWN;
	/* connect() runs in the owner's context; a SYN_RECV child is born in softirq. */
	if (active) {
		b.flags |= TS_CF_ACTIVE;
		set_owner(&b);
	}
	bpf_map_update_elem(&births, &key, &b, BPF_ANY);
}

static __always_inline void fill_addrs(struct ts_close_event *e,
				       const struct sock *sk)
{
	struct ts_tuple_key k;

	ts_read_tuple(sk, &k);
	e->family = k.family;
	e->lport = k.lport;
	e->rport = k.rport;
	__builtin_memcpy(e->laddr, k.laddr, 16);
	__builtin_memcpy(e->raddr, k.raddr, 16);
	e->netns = k.netns;
	e->cgroup_id = ts_sock_cgroup_id(sk);
	e->pad = 0;
}

/* Only once the tuple is complete: connect() picks the port after SYN_SENT. */
static __always_inline void publish_owner(const struct sock *sk,
					  const struct birth *b)
{
	struct ts_tuple_key k;
	struct ts_owner o;

	if (!(b->flags & TS_CF_OWNER))
		return;
	ts_read_tuple(sk, &k);
	o.pid = b->pid;
	__builtin_memcpy(o.comm, b->comm, sizeof(o.comm));
	bpf_map_update_elem(&owners, &k, &o, BPF_ANY);
}

static __always_inline void forget_owner(const struct sock *sk)
{
	struct ts_tuple_key k;

	ts_read_tuple(sk, &k);
	bpf_map_delete_elem(&owners, &k);
}

static __always_inline bool ports_wanted(const struct sock *sk)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	__u16 lport, rport;

	if (!n_lports && !n_rports)
		return true;
	lport = __builtin_bswap16(BPF_CORE_READ(inet, inet_sport));
	rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return port_in(lport, filter_lports, n_lports) &&
	       port_in(rport, filter_rports, n_rports);
}

static __always_inline bool fin_was_queued(int oldstate)
{
	return oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 ||
	       oldstate == TCP_CLOSING || oldstate == TCP_LAST_ACK;
}

static __always_inline __u8 counter_flags(const struct sock *sk, int oldstate)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	unsigned long skflags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	__u8 flags = 0;

	if (fin_was_queued(oldstate) &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		flags |= TS_CF_FIN_ACKED;
	if (skflags & (1UL << SOCK_DONE))
		flags |= TS_CF_PEER_FIN;
	return flags;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		(*n)++;
}

/*
 * ESTABLISHED/CLOSE_WAIT -> CLOSE without a reset from the peer is the
 * owner's own abortive close(), in its context.
 */
static __always_inline bool owner_is_current(int oldstate,
					     const struct birth *b)
{
	if (b && b->rst_in)
		return false;
	return oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT;
}

static __always_inline bool owner_known(int oldstate, const struct birth *b)
{
	return (b && (b->flags & TS_CF_OWNER)) || owner_is_current(oldstate, b);
}

/*
 * The kernel makes a cookie only when asked (a dump, SO_COOKIE, the
 * sock_ops program): one nobody asked for gets an id of our own, marked
 * by TS_SYNTH_ID so it can never equal a cookie.
 */
static __always_inline __u64 session_key(const struct sock *sk)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);

	if (cookie)
		return cookie;
	return TS_SYNTH_ID | (__sync_fetch_and_add(&next_synth_id, 1) + 1);
}

static __always_inline void fill_event(struct ts_close_event *e,
				       const struct sock *sk, int oldstate,
				       const struct birth *b)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	e->cookie = session_key(sk);
	e->close_ns = bpf_ktime_get_ns();
	e->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	e->oldstate = oldstate;
	e->flags = counter_flags(sk, oldstate);
	e->birth_ns = 0;
	e->pid = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	fill_addrs(e, sk);
	if (b) {
		e->birth_ns = b->ts;
		e->flags |= b->flags;
		e->pid = b->pid;
		__builtin_memcpy(e->comm, b->comm, sizeof(e->comm));
	}
	if (!(e->flags & TS_CF_OWNER) && owner_is_current(oldstate, b)) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		e->flags |= TS_CF_OWNER;
	}
}

/*
 * Closed in softirq (a reset) while a process still holds the socket:
 * its close() will run ts_sock_release in that process, so the event
 * waits there instead of leaving without an owner.
 */
static __always_inline bool defer_close(const struct sock *sk, int oldstate,
					const struct birth *b, __u64 key)
{
	struct ts_close_event *e;
	__u32 zero = 0;

	if (!defer_unowned || !BPF_CORE_READ(sk, sk_socket))
		return false;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return false;
	fill_event(e, sk, oldstate, b);
	return !bpf_map_update_elem(&pending, &key, e, BPF_ANY);
}

static __always_inline bool pid_wanted(int oldstate, const struct birth *b)
{
	__u32 pid;

	if (!filter_pid)
		return true;
	if (b && (b->flags & TS_CF_OWNER))
		pid = b->pid;
	else if (owner_is_current(oldstate, b))
		pid = bpf_get_current_pid_tgid() >> 32;
	else
		return false;
	return pid == filter_pid;
}

static __always_inline void on_close(const struct sock *sk, int oldstate)
{
	__u64 key = (__u64)sk;
	struct ts_close_event *e;
	struct birth *b;

	b = bpf_map_lookup_elem(&births, &key);
	if (b && (b->flags & TS_CF_OWNER))
		forget_owner(sk);
	/* Filter before reserving: a discarded record would stall wakeups. */
	if (!ports_wanted(sk))
		goto out;
	/* A listener closing is no session: it never carries bytes. */
	if (oldstate == TCP_LISTEN)
		goto out;
	if (!owner_known(oldstate, b) && defer_close(sk, oldstate, b, key))
		goto out;
	if (!pid_wanted(oldstate, b))
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		goto out;
	}
	fill_event(e, sk, oldstate, b);
	bpf_ringbuf_submit(e, rb_wakeup ? 0 : BPF_RB_NO_WAKEUP);
out:
	bpf_map_delete_elem(&births, &key);
}

SEC("raw_tracepoint/inet_sock_set_state")
int BPF_PROG(ts_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct birth *b;

	if (!sock_wanted(sk))
		return 0;
	switch (newstate) {
	case TCP_SYN_SENT:
		on_birth(sk, true);
		break;
	case TCP_SYN_RECV:
		on_birth(sk, false);
		break;
	case TCP_ESTABLISHED:
		/* Straight from CLOSE: a repaired socket (TCP_REPAIR) is born. */
		if (oldstate == TCP_CLOSE)
			count_birth(sk);
		b = birth_of(sk, false);
		if (b && oldstate == TCP_SYN_SENT)
			publish_owner(sk, b);
		break;
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		/* close()/shutdown() by the owner, in its own context. */
		b = birth_of(sk, true);
		if (b && !(b->flags & TS_CF_OWNER)) {
			set_owner(b);
			publish_owner(sk, b);
		}
		break;
	case TCP_CLOSE:
		on_close(sk, oldstate);
		break;
	}
	return 0;
}

SEC("raw_tracepoint/tcp_receive_reset")
int BPF_PROG(ts_receive_reset, const struct sock *sk)
{
	struct birth *b;

	if (!sock_wanted(sk))
		return 0;
	b = birth_of(sk, true);
	if (b)
		b->rst_in = 1;
	return 0;
}

/*
 * Cookies for every established session: made here, once per connection,
 * so the close probe finds them in sk_cookie.  No callback flags are set,
 * so nothing runs per packet.
 */
SEC("sockops")
int ts_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		bpf_get_socket_cookie(skops);
		break;
	}
	return 1;
}

/*
 * The last close() of a socket's file, in the releasing task: the owner of
 * a session that a reset ended while the process still held it.  ctx is
 * the struct sock itself, the key the close probe stored it under; the
 * event is ours only if our delete wins over userspace's.
 */
SEC("cgroup/sock_release")
int ts_sock_release(struct bpf_sock *ctx)
{
	__u64 key = (__u64)ctx;
	struct ts_close_event *p, *e;

	p = bpf_map_lookup_elem(&pending, &key);
	if (!p)
		return 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (!bpf_map_delete_elem(&pending, &key))
			count_lost();
		return 1;
	}
	__builtin_memcpy(e, p, sizeof(*e));
	if (bpf_map_delete_elem(&pending, &key)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 1;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->flags |= TS_CF_OWNER | TS_CF_RELEASED;
	if (filter_pid && e->pid != filter_pid) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 1;
	}
	bpf_ringbuf_submit(e, rb_wakeup ? 0 : BPF_RB_NO_WAKEUP);
	return 1;
}

/* accept() returns in the owner's context: the one place a passive socket meets it. */
static __always_inline void on_accepted(struct sock *sk)
{
	struct birth *b;

	if (!sk || !sock_wanted(sk))
		return;
	/* Reset while queued: its close event has left already. */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		return;
	b = birth_of(sk, true);
	if (b) {
		set_owner(b);
		publish_owner(sk, b);
	}
}

/*
 * inet_csk_accept() changed its parameters (6.1: sk, flags, err, kern;
 * later: sk, struct proto_accept_arg *): the return value is read with
 * bpf_get_func_ret, wherever it sits.
 */
SEC("fexit/inet_csk_accept")
int ts_accept_fexit(__u64 *ctx)
{
	__u64 ret = 0;

	if (bpf_get_func_ret(ctx, &ret))
		return 0;
	on_accepted((struct sock *)ret);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(ts_accept_kret, struct sock *sk)
{
	on_accepted(sk);
	return 0;
}

/* Only by request (--owner-hooks syscalls): see the top of this file. */
static __always_inline int on_accept_fd(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds;
	struct file *file;
	struct socket *sock;

	if (ret < 0)
		return 0;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[ret]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	on_accepted(BPF_CORE_READ(sock, sk));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int ts_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_fd(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int ts_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_fd(ctx->ret);
}
