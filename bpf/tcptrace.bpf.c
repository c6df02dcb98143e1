// SPDX-License-Identifier: GPL-2.0
/*
 * Trace mode: the classic per-call accounting (bcc's tcptop), kept as lean
 * as that design allows: one hash lookup and one atomic add per send or
 * receive, no strings, no ring traffic per call.  Three program sets, one
 * chosen at run time (fentry/fexit, kprobe/kretprobe, raw tracepoints).
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
#define MSG_PEEK 2

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_netns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);		/* struct sock address */
	__type(value, struct ts_traced);	/* cumulative: userspace takes deltas */
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

#define LOST_RING 0
#define LOST_MAP_FULL 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* kprobe entry -> return: the socket and flags of the call in flight. */
struct call {
	const struct sock *sk;
	int flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* pid_tgid */
	__type(value, struct call);
} calls SEC(".maps");

__u64 next_id = 0;

static __always_inline void count_lost(__u32 why)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &why);

	if (n)
		(*n)++;
}

static __always_inline bool tcp_sock_wanted(const struct sock *sk)
{
	__u16 family;

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	return !target_netns ||
	       BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == target_netns;
}

static __always_inline void fill(struct ts_traced *t, const struct sock *sk)
{
	struct ts_tuple_key k;

	ts_read_tuple(sk, &k);
	t->family = k.family;
	t->lport = k.lport;
	t->rport = k.rport;
	__builtin_memcpy(t->laddr, k.laddr, 16);
	__builtin_memcpy(t->raddr, k.raddr, 16);
	t->netns = k.netns;
	t->cgroup_id = ts_sock_cgroup_id(sk);
	t->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

/* First call of a session: the caller is its owner, in process context. */
static __always_inline struct ts_traced *session_of(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct ts_traced *t, zero = {};
	long err;

	t = bpf_map_lookup_elem(&sessions, &key);
	if (t)
		return t;
	fill(&zero, sk);
	zero.id = __sync_fetch_and_add(&next_id, 1) + 1;
	err = bpf_map_update_elem(&sessions, &key, &zero, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU won */) {
		count_lost(LOST_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&sessions, &key);
}

static __always_inline void emit(const struct ts_traced *t, int oldstate)
{
	struct ts_close_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_lost(LOST_RING);
		return;
	}
	e->cookie = t->id;
	e->birth_ns = 0;
	e->close_ns = bpf_ktime_get_ns();
	e->bytes_acked = t->tx;
	e->bytes_received = t->rx;
	e->pid = t->pid;
	e->family = t->family;
	e->lport = t->lport;
	e->rport = t->rport;
	e->oldstate = oldstate;
	/* Totals are payload already: no SYN or FIN to take off. */
	e->flags = TS_CF_ACTIVE_KNOWN | TS_CF_OWNER;
	__builtin_memcpy(e->laddr, t->laddr, 16);
	__builtin_memcpy(e->raddr, t->raddr, 16);
	__builtin_memcpy(e->comm, t->comm, sizeof(e->comm));
	e->netns = t->netns;
	e->cgroup_id = t->cgroup_id;
	e->pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/*
 * A read after the socket closed (data queued before the peer's FIN or
 * reset): no map entry, since no later state change would ever remove it
 * and a new socket at the same address would inherit it.  Its bytes go
 * straight out as a closed fragment of the session.
 */
static __always_inline void account_closed(const struct sock *sk, long bytes,
					   bool sent)
{
	struct ts_traced t = {};

	fill(&t, sk);
	t.id = __sync_fetch_and_add(&next_id, 1) + 1;
	if (sent)
		t.tx = bytes;
	else
		t.rx = bytes;
	emit(&t, TCP_CLOSE);
}

static __always_inline void account(const struct sock *sk, long bytes,
				    bool sent)
{
	struct ts_traced *t;

	/* Errors and empty calls move nothing: count what was returned. */
	if (bytes <= 0 || !tcp_sock_wanted(sk))
		return;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE) {
		account_closed(sk, bytes, sent);
		return;
	}
	t = session_of(sk);
	if (!t)
		return;
	if (sent)
		__sync_fetch_and_add(&t->tx, bytes);
	else
		__sync_fetch_and_add(&t->rx, bytes);
}

/* ---- raw tracepoints: sock:sock_send_length / sock:sock_recv_length */

SEC("raw_tracepoint/sock_send_length")
int BPF_PROG(tp_send, struct sock *sk, int ret, int flags)
{
	account(sk, ret, true);
	return 0;
}

SEC("raw_tracepoint/sock_recv_length")
int BPF_PROG(tp_recv, struct sock *sk, int ret, int flags)
{
	if (!(flags & MSG_PEEK))
		account(sk, ret, false);
	return 0;
}

/* ---- fentry/fexit: arguments and return value in one program */

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fexit_send, struct sock *sk, struct msghdr *msg, size_t size,
	     int ret)
{
	account(sk, ret, true);
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(fexit_recv, struct sock *sk, struct msghdr *msg, size_t len,
	     int flags, int *addr_len, int ret)
{
	if (!(flags & MSG_PEEK))
		account(sk, ret, false);
	return 0;
}

/* ---- kprobe/kretprobe: the entry stashes what the return needs */

static __always_inline void stash(const struct sock *sk, int flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = { .sk = sk, .flags = flags };

	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
}

static __always_inline void unstash(long ret, bool sent)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);

	if (!c)
		return;
	if (sent || !(c->flags & MSG_PEEK))
		account(c->sk, ret, sent);
	bpf_map_delete_elem(&calls, &id);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_send, struct sock *sk)
{
	stash(sk, 0);
	return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(krp_send, int ret)
{
	unstash(ret, true);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_recv, struct sock *sk, struct msghdr *msg, size_t len,
	       int flags)
{
	stash(sk, flags);
	return 0;
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(krp_recv, int ret)
{
	unstash(ret, false);
	return 0;
}

/* ---- close: the session's totals leave the map through the ring */

SEC("raw_tracepoint/inet_sock_set_state")
int BPF_PROG(tp_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct ts_traced *t;

	/* A socket being born owns no entry: drop any left at its address. */
	if (newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV) {
		bpf_map_delete_elem(&sessions, &key);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	t = bpf_map_lookup_elem(&sessions, &key);
	if (!t)
		return 0;
	emit(t, oldstate);
	bpf_map_delete_elem(&sessions, &key);
	return 0;
}
