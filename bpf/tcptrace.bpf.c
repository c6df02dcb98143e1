// SPDX-License-Identifier: GPL-2.0
/*
 * Trace mode: the classic per-call accounting (bcc's tcptop), kept as lean
 * as that design allows: one hash lookup and one atomic add per send or
 * receive, no strings, no ring traffic per call.  Three program sets, one
 * chosen at run time (fentry/fexit, kprobe/kretprobe, raw tracepoints).
 *
 * The kprobe set cannot add return values: a kretprobe has a fixed pool of
 * instances (10 on a 2-CPU machine), every thread blocked in tcp_recvmsg or
 * tcp_sendmsg holds one, and returns beyond the pool are silently missed.
 * So it samples the socket's own application-byte counters instead
 * (write_seq, copied_seq) at every entry, every return that fires and at
 * close: a missed return only delays the figure to the next sample.
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
/* Session keys trace mode makes itself: never a kernel cookie (a counter). */
#define OWN_ID (1ULL << 63)

char LICENSE[] SEC("license") = "GPL";

/*
 * Per-socket maps are not preallocated: a preallocated element deleted at
 * close goes straight back to the free list, and a program still holding
 * it on another CPU would add its bytes (or move its mark) in whatever
 * session takes the element next.  Run-time elements are freed only after
 * an RCU grace period, which outlasts every program that looked them up.
 */

const volatile __u32 target_netns = 0;
/* kprobe set: sessions follow write_seq/copied_seq (see above). */
const volatile bool seq_samples = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);		/* struct sock address */
	__type(value, struct ts_traced);	/* cumulative: userspace takes deltas */
} sessions SEC(".maps");

/* seq_samples: the sequence numbers counted so far, 64-bit extended. */
struct seq_mark {
	__u64 tx;		/* write_seq, less a queued FIN */
	__u64 rx;		/* copied_seq, less a consumed FIN */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);		/* struct sock address */
	__type(value, struct seq_mark);
} marks SEC(".maps");

/*
 * Sessions closed with data still queued for reading: the owner may read
 * it after the close.  The entry stays until a read leaves the queue empty
 * (or a new socket is born at the address); the value is the old state.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);		/* struct sock address */
	__type(value, __u32);
} closing SEC(".maps");

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

/* kprobe entry -> return: the socket of the call in flight. */
struct call {
	const struct sock *sk;
};

/* LRU: a missed return leaves its stash behind; old ones make room. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
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

static __always_inline int state_of(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_state);
}

static __always_inline bool queue_empty(const struct sock *sk)
{
	return !BPF_CORE_READ(sk, sk_receive_queue.qlen);
}

/* A new key for every session: unique, never 0. */
static __always_inline __u64 own_id(void)
{
	return OWN_ID | (__sync_fetch_and_add(&next_id, 1) + 1);
}

/*
 * The socket's cookie where the kernel has made one (the raw field: these
 * program types may not call bpf_get_socket_cookie), else a key of ours.
 */
static __always_inline __u64 session_key(const struct sock *sk)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);

	return cookie ? cookie : own_id();
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
	t->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
}

/* The first call of a session: the caller is its owner, in process context. */
static __always_inline struct ts_traced *new_session(const struct sock *sk,
						     __u64 id)
{
	__u64 key = (__u64)sk;
	struct ts_traced zero = {};
	long err;

	fill(&zero, sk);
	zero.id = id;
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
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* The session's totals leave the map through the ring. */
static __always_inline void finish(const struct sock *sk, struct ts_traced *t,
				   int oldstate)
{
	__u64 key = (__u64)sk;

	if (t->tx || t->rx)
		emit(t, oldstate);
	bpf_map_delete_elem(&sessions, &key);
	bpf_map_delete_elem(&marks, &key);
	bpf_map_delete_elem(&closing, &key);
}

/*
 * A read on a closed socket whose session this run never had (it closed
 * before any call was seen): its bytes go out as a session of their own.
 */
static __always_inline void account_unknown_closed(const struct sock *sk,
						   long bytes)
{
	struct ts_traced t = {};

	fill(&t, sk);
	t.id = own_id();
	t.rx = bytes;
	emit(&t, TCP_CLOSE);
}

/* ---- seq_samples (kprobe set) */

static __always_inline bool fin_queued(int state)
{
	return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 ||
	       state == TCP_CLOSING || state == TCP_LAST_ACK;
}

/*
 * Where the socket's payload counters stand: write_seq less the FIN it
 * queued, copied_seq less the peer's FIN once a read consumed it (the FIN
 * is the last sequence number: consumed when copied_seq reaches rcv_nxt
 * with SOCK_DONE set).  @state: the state to judge the own FIN by.
 */
static __always_inline void seq_now(const struct sock *sk, int state,
				    __u32 *tx, __u32 *rx)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	unsigned long skflags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	int done = bpf_core_enum_value(enum sock_flags, SOCK_DONE);
	__u32 copied = BPF_CORE_READ(tp, copied_seq);

	*tx = BPF_CORE_READ(tp, write_seq) - fin_queued(state);
	*rx = copied;
	if ((skflags & (1UL << done)) && copied == BPF_CORE_READ(tp, rcv_nxt))
		(*rx)--;
}

/* Counting starts here: at ESTABLISHED, or at the first call seen. */
static __always_inline void mark_now(const struct sock *sk, __u64 flags)
{
	__u64 key = (__u64)sk;
	struct seq_mark m;
	__u32 tx, rx;

	seq_now(sk, state_of(sk), &tx, &rx);
	m.tx = tx;
	m.rx = rx;
	bpf_map_update_elem(&marks, &key, &m, flags);
}

/*
 * Moves @mark forward to @now and adds the step to @total.  Samples of one
 * socket race on several CPUs (a thread sending, another receiving): only
 * the one whose compare-and-swap moved the mark adds its step, so nothing
 * counts twice.  Signed 32-bit steps: sessions past 4 GiB stay right; a
 * FIN state set just before the FIN is queued reads one short and moves
 * nothing.
 */
static __always_inline void seq_step(__u64 *mark, __u32 now, __u64 *total)
{
	int i;

	for (i = 0; i < 8; i++) {
		__u64 old = *mark;
		__s32 d = (__s32)(now - (__u32)old);

		if (d <= 0)
			return;
		if (__sync_val_compare_and_swap(mark, old, old + d) == old) {
			__sync_fetch_and_add(total, d);
			return;
		}
	}
}

static __always_inline void seq_sample(const struct sock *sk,
				       struct ts_traced *t, int state,
				       bool sending_too)
{
	__u64 key = (__u64)sk;
	struct seq_mark *m = bpf_map_lookup_elem(&marks, &key);
	__u32 tx, rx;

	if (!m)
		return;
	seq_now(sk, state, &tx, &rx);
	if (sending_too)
		seq_step(&m->tx, tx, &t->tx);
	seq_step(&m->rx, rx, &t->rx);
}

/* ---- every set */

static __always_inline struct ts_traced *session_of(const struct sock *sk,
						    __u64 id)
{
	__u64 key = (__u64)sk;
	struct ts_traced *t = bpf_map_lookup_elem(&sessions, &key);

	if (t)
		return t;
	/* No mark from ESTABLISHED: first sight after it, count from here. */
	if (seq_samples)
		mark_now(sk, BPF_NOEXIST);
	return new_session(sk, id ? id : session_key(sk));
}

/*
 * A call on a socket that is closed already: its session, if it waits for
 * reads after the close, takes them; a read that empties the queue ends it.
 */
static __always_inline void after_close(const struct sock *sk, long bytes)
{
	__u64 key = (__u64)sk;
	struct ts_traced *t = bpf_map_lookup_elem(&sessions, &key);
	__u32 *oldstate = bpf_map_lookup_elem(&closing, &key);

	if (!t || !oldstate) {
		if (bytes > 0)
			account_unknown_closed(sk, bytes);
		return;
	}
	if (seq_samples)
		seq_sample(sk, t, *oldstate, false);
	else if (bytes > 0)
		__sync_fetch_and_add(&t->rx, bytes);
	if (queue_empty(sk))
		finish(sk, t, *oldstate);
}

/* fexit and tracepoint sets: one call's return value, added. */
static __always_inline void account(const struct sock *sk, long bytes,
				    bool sent, __u64 id)
{
	struct ts_traced *t;

	if (!tcp_sock_wanted(sk))
		return;
	if (state_of(sk) == TCP_CLOSE) {
		if (!sent)
			after_close(sk, bytes);
		return;
	}
	/* Errors and empty calls move nothing: count what was returned. */
	if (bytes <= 0)
		return;
	t = session_of(sk, id);
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
	account(sk, ret, true, 0);
	return 0;
}

SEC("raw_tracepoint/sock_recv_length")
int BPF_PROG(tp_recv, struct sock *sk, int ret, int flags)
{
	if (!(flags & MSG_PEEK))
		account(sk, ret, false, 0);
	return 0;
}

/*
 * ---- fentry/fexit: arguments and return value in one program.  The
 * socket is a BTF pointer here: bpf_get_socket_cookie may make its cookie,
 * so every session's key is the kernel's.  (Userspace checks the
 * prototypes in BTF before it picks this set.)
 */

static __always_inline __u64 cookie_if_new(struct sock *sk, long ret)
{
	__u64 key = (__u64)sk;

	if (ret <= 0 || bpf_map_lookup_elem(&sessions, &key))
		return 0;
	return bpf_get_socket_cookie(sk);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fexit_send, struct sock *sk, struct msghdr *msg, size_t size,
	     int ret)
{
	account(sk, ret, true, cookie_if_new(sk, ret));
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(fexit_recv, struct sock *sk, struct msghdr *msg, size_t len,
	     int flags, int *addr_len, int ret)
{
	if (!(flags & MSG_PEEK))
		account(sk, ret, false, cookie_if_new(sk, ret));
	return 0;
}

/* ---- kprobe/kretprobe: samples of the socket's counters (see the top) */

/* Entry or return of a call: bring the session up to the socket's counters. */
static __always_inline void sample(const struct sock *sk, long ret)
{
	struct ts_traced *t;

	int state;

	if (!tcp_sock_wanted(sk))
		return;
	state = state_of(sk);
	if (state == TCP_CLOSE) {
		after_close(sk, ret);
		return;
	}
	/*
	 * Only a connection has counters to sample.  (A return whose entry
	 * was missed finds the stash of an older call: whatever socket lives
	 * at that address now is sampled against its own mark, harmlessly.)
	 */
	if (state == TCP_LISTEN || state == TCP_SYN_SENT ||
	    state == TCP_SYN_RECV || state == TCP_NEW_SYN_RECV)
		return;
	t = session_of(sk, 0);
	if (t)
		seq_sample(sk, t, state, true);
}

static __always_inline void stash(const struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = { .sk = sk };

	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
}

/*
 * The return, when its kretprobe instance was free: the same call's entry
 * stashed the socket (a thread has one call in flight).
 */
static __always_inline void unstash(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);
	const struct sock *sk;

	if (!c)
		return;
	sk = c->sk;
	bpf_map_delete_elem(&calls, &id);
	sample(sk, ret);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_send, struct sock *sk)
{
	/* Nothing to send on a closed socket: no session to start either. */
	if (state_of(sk) != TCP_CLOSE)
		sample(sk, 0);
	stash(sk);
	return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(krp_send, int ret)
{
	unstash(0);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_recv, struct sock *sk)
{
	sample(sk, 0);
	stash(sk);
	return 0;
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(krp_recv, int ret)
{
	/* A missed return costs nothing: the counters are sampled, not ret. */
	unstash(0);
	return 0;
}

/* ---- state changes: births, the kprobe set's start mark, closes */

SEC("raw_tracepoint/inet_sock_set_state")
int BPF_PROG(tp_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct ts_traced *t;
	__u32 old = oldstate;

	/*
	 * A socket being born at an address (connect, a passive child, and a
	 * listener too: any state left from TCP_CLOSE): whatever entry is
	 * left there belongs to a dead socket (one closed with data nobody
	 * read): it ends now, with what it counted.
	 */
	if (newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV ||
	    newstate == TCP_LISTEN || oldstate == TCP_CLOSE) {
		__u32 *was = bpf_map_lookup_elem(&closing, &key);

		t = bpf_map_lookup_elem(&sessions, &key);
		if (t)
			finish(sk, t, was ? *was : TCP_CLOSE);
		else
			bpf_map_delete_elem(&marks, &key);
		return 0;
	}
	/* Its counters start here: no payload before the handshake ends. */
	if (seq_samples && newstate == TCP_ESTABLISHED &&
	    (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV) &&
	    tcp_sock_wanted(sk)) {
		mark_now(sk, BPF_ANY);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	t = bpf_map_lookup_elem(&sessions, &key);
	if (!t) {
		bpf_map_delete_elem(&marks, &key);
		return 0;
	}
	/* The state is still the old one: judge the FIN by it. */
	if (seq_samples)
		seq_sample(sk, t, oldstate, true);
	if (!queue_empty(sk)) {
		bpf_map_update_elem(&closing, &key, &old, BPF_ANY);
		return 0;
	}
	finish(sk, t, oldstate);
	return 0;
}
