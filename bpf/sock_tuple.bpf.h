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

#endif
