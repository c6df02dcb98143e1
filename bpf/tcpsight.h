/* SPDX-License-Identifier: GPL-2.0 */
/* Event structs shared by the BPF programs and userspace. */
#ifndef TCPSIGHT_BPF_H
#define TCPSIGHT_BPF_H

#define TS_COMM_LEN 16

/* -L/-D: ports per list, as libbpf-tools' tcplife takes. */
#define TS_MAX_PORTS 1024
/* The close probe's port filters: one bit per port, one lookup per test. */
#define TS_PORT_WORDS (65536 / 64)

/* ts_close_event.flags */
#define TS_CF_ACTIVE_KNOWN	0x01	/* probe saw the socket born (SYN_SENT or SYN_RECV) */
#define TS_CF_ACTIVE		0x02	/* it called connect(): its SYN is in bytes_acked */
#define TS_CF_FIN_ACKED		0x04	/* its own FIN was acknowledged: +1 in bytes_acked */
#define TS_CF_PEER_FIN		0x08	/* SOCK_DONE: the peer's FIN is in bytes_received */
#define TS_CF_OWNER		0x10	/* pid/comm name the owner (see README) */
#define TS_CF_RELEASED		0x20	/* owner from its close() (cgroup/sock_release) */

/*
 * ts_close_event.cookie with this bit set: an id of the probe's own, given
 * to a socket whose kernel cookie was never made (kernel cookies count up
 * from 1 and never reach it).
 */
#define TS_SYNTH_ID		(1ULL << 63)

/* A live connection's addresses: key of the owners map. */
struct ts_tuple_key {
	__u16 family;
	__u16 lport;		/* host order */
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
	__u32 netns;		/* inode of its network namespace */
};

struct ts_owner {
	__u32 pid;
	char comm[TS_COMM_LEN];
};

/* Trace mode: cumulative payload per live socket, read once per interval. */
struct ts_traced {
	__u64 id;		/* unique per session, never 0 */
	__u64 tx;
	__u64 rx;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[TS_COMM_LEN];
	__u64 cgroup_id;	/* the socket's cgroup v2 id */
	__u32 netns;
	__u32 pad;
};

/*
 * Poll by BPF iterator (iter/tcp): one record per socket of the netns whose
 * counters or state moved since the previous walk, and one per listener
 * (state TCP_LISTEN, only tuple.lport set).
 */
struct ts_iter_rec {
	__u64 cookie;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u64 bytes_sent;
	__u64 bytes_retrans;
	__u32 unacked;
	__u32 uid;
	__u32 inode;
	__u8 state;
	__u8 pad[3];
	struct ts_tuple_key tuple;
};

/* One TCP socket entering TCP_CLOSE. */
struct ts_close_event {
	__u64 cookie;		/* session key: the socket cookie, or TS_SYNTH_ID | n */
	__u64 birth_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0: born before attach */
	__u64 close_ns;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 pid;
	__u16 family;
	__u16 lport;		/* host order */
	__u16 rport;
	__u8 oldstate;
	__u8 flags;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[TS_COMM_LEN];
	__u64 cgroup_id;	/* the socket's own cgroup v2 id (not current's) */
	__u32 netns;		/* inode of its network namespace */
	__u32 pad;
};

#endif
