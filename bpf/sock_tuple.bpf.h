/* SPDX-License-Identifier: GPL-2.0 */
/* A TCP socket's addresses, read the same way by every probe set. */
#ifndef TS_SOCK_TUPLE_BPF_H
#define TS_SOCK_TUPLE_BPF_H

#ifndef AF_INET
#define AF_INET 2
#endif

/*
 * Once a socket is closed inet_put_port() has zeroed inet_num, but
 * inet_sport still holds the local port: read that one.
 */
static __always_inline void ts_read_tuple(const struct sock *sk,
					  struct ts_tuple_key *k)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;

	k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	k->lport = __builtin_bswap16(BPF_CORE_READ(inet, inet_sport));
	k->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	k->pad = 0;
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	__builtin_memset(k->laddr, 0, sizeof(k->laddr));
	__builtin_memset(k->raddr, 0, sizeof(k->raddr));
	if (k->family == AF_INET) {
		bpf_core_read(k->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(k->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(k->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(k->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * The socket's own cgroup (set when it was created; a child socket takes
 * its listener's), not current's: many state changes run in softirq.
 */
static __always_inline __u64 ts_sock_cgroup_id(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
}

/*
 * Whether the socket's cgroup is the one of id @id at depth @level or
 * below it: its ancestor at that depth must be that cgroup.
 */
static __always_inline bool ts_sock_in_cgroup(const struct sock *sk, __u64 id,
					      int level)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	struct cgroup *anc = NULL;

	if (!cg || BPF_CORE_READ(cg, level) < level)
		return false;
	if (bpf_core_read(&anc, sizeof(anc), &cg->ancestors[level]) || !anc)
		return false;
	return BPF_CORE_READ(anc, kn, id) == id;
}

#endif
