// SPDX-License-Identifier: GPL-2.0
/*
 * Poll source below sock_diag's floor: a walk of the TCP sockets in the
 * kernel (iter/tcp) that hands user space only the sockets whose counters
 * or state moved since the previous walk.  The last values sit in socket
 * local storage, so an idle socket costs a visit and a compare instead of
 * a formatted netlink message.  Needs BPF iterators (Debian's 6.1 has
 * them; kernels without tracing programs fall back to sock_diag).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tcpsight.h"
#include "sock_tuple.bpf.h"

#define TCP_LISTEN 10
/* The states sock_diag is asked for: full sockets with tcp_info. */
#define SAMPLED_STATES ((1 << 1) | (1 << 2) | (1 << 4) | (1 << 5) | \
			(1 << 8) | (1 << 9) | (1 << 11))

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_netns = 0;
/* Set by user space before a walk: list every socket, moved or not. */
bool full_walk = false;

struct last {
	__u64 acked;
	__u64 received;
	__u8 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct last);
} last_seen SEC(".maps");

static __always_inline bool moved(struct last *l, __u64 acked, __u64 rcvd,
				  __u8 state)
{
	if (!l)
		return true;
	if (!full_walk && l->acked == acked && l->received == rcvd &&
	    l->state == state)
		return false;
	l->acked = acked;
	l->received = rcvd;
	l->state = state;
	return true;
}

SEC("iter/tcp")
int walk(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct ts_iter_rec rec = {};
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 acked, rcvd;
	__u8 state;

	if (!skc)
		return 0;
	if (target_netns &&
	    BPF_CORE_READ(skc, skc_net.net, ns.inum) != target_netns)
		return 0;
	state = BPF_CORE_READ(skc, skc_state);
	if (state == TCP_LISTEN) {
		rec.state = state;
		rec.tuple.lport = BPF_CORE_READ(skc, skc_num);
		bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
		return 0;
	}
	if (state >= 32 || !((1u << state) & SAMPLED_STATES))
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	acked = BPF_CORE_READ(tp, bytes_acked);
	rcvd = BPF_CORE_READ(tp, bytes_received);
	if (!moved(bpf_sk_storage_get(&last_seen, sk, NULL,
				      BPF_SK_STORAGE_GET_F_CREATE),
		   acked, rcvd, state))
		return 0;
	rec.cookie = bpf_get_socket_cookie(sk);
	rec.bytes_acked = acked;
	rec.bytes_received = rcvd;
	rec.bytes_sent = BPF_CORE_READ(tp, bytes_sent);
	rec.bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
	rec.unacked = BPF_CORE_READ(tp, packets_out);
	rec.uid = ctx->uid;
	rec.inode = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	rec.state = state;
	ts_read_tuple(sk, &rec.tuple);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
