/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The accounting core: pure C, no syscalls.  It takes poll samples and
 * close events and produces, per interval, the exact payload bytes each
 * TCP session moved.
 */
#ifndef TS_SESSION_H
#define TS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/tcpsight.h"

/* Kernel TCP states (include/net/tcp_states.h). */
enum {
	TS_ESTABLISHED = 1,
	TS_SYN_SENT,
	TS_SYN_RECV,
	TS_FIN_WAIT1,
	TS_FIN_WAIT2,
	TS_TIME_WAIT,
	TS_CLOSE,
	TS_CLOSE_WAIT,
	TS_LAST_ACK,
	TS_LISTEN,
	TS_CLOSING,
	TS_NEW_SYN_RECV,
	TS_MAX_STATES,
};

/*
 * Where a session lives: its addresses, and the network namespace and
 * cgroup its socket belongs to (both fixed for the socket's life).
 */
struct ts_tuple {
	uint16_t family;		/* AF_INET or AF_INET6 */
	uint16_t lport;			/* host order */
	uint16_t rport;
	uint8_t laddr[16];		/* IPv4: first 4 bytes */
	uint8_t raddr[16];
	uint32_t netns;			/* namespace inode; 0: unknown */
	uint64_t cgroup;		/* the socket's cgroup v2 id; 0: unknown */
};

/* What the poller knows of one socket at one dump. */
struct ts_sample {
	uint64_t cookie;
	struct ts_tuple tuple;
	uint8_t state;
	bool has_sent;			/* tcp_info long enough for bytes_sent/retrans */
	bool listener_on_lport;		/* a listener owns the local port (hint) */
	bool payload;			/* counters are payload already (trace mode) */
	uint32_t pid;			/* owner, when the source knows it */
	char comm[TS_COMM_LEN];
	uint32_t uid;
	uint32_t inode;
	uint32_t unacked;		/* tcpi_unacked: segments in flight */
	uint64_t bytes_acked;
	uint64_t bytes_received;
	uint64_t bytes_sent;
	uint64_t bytes_retrans;
};

/* Where a source hands its samples: the core (ts_acct_sink) or a batch. */
typedef void (*ts_sample_fn)(const struct ts_sample *s, void *arg);

/* Samples gathered before they go to the core (trace mode builds one). */
struct ts_batch {
	struct ts_sample *v;
	size_t n;
	size_t cap;
};

/* One more slot, reused across batches; NULL: out of memory. */
struct ts_sample *ts_batch_push(struct ts_batch *b);
void ts_batch_reset(struct ts_batch *b);
void ts_batch_free(struct ts_batch *b);

/* One session's figures for one interval. */
struct ts_row {
	uint64_t cookie;
	struct ts_tuple tuple;
	uint8_t state;			/* last state seen; TS_CLOSE once closed */
	bool closed;			/* ended during this interval */
	bool active;			/* it called connect() (client); the SYN verdict */
	int64_t rx;			/* payload bytes, this interval */
	int64_t tx;
	uint32_t pid;			/* 0: unknown */
	uint32_t uid;
	uint32_t inode;
	char comm[TS_COMM_LEN];
	uint64_t birth_ns;		/* 0: unknown */
	uint64_t close_ns;
};

/* One finished session, whole life (tcplife). */
struct ts_life {
	uint64_t cookie;
	struct ts_tuple tuple;
	uint32_t pid;			/* 0: unknown */
	char comm[TS_COMM_LEN];
	bool active;			/* it called connect() (client) */
	int64_t tx;			/* payload bytes, whole life */
	int64_t rx;
	uint64_t birth_ns;		/* CLOCK_MONOTONIC; 0: born before start */
	uint64_t close_ns;
};

/* Counters an operator wants to see: nothing is dropped silently. */
struct ts_acct_stats {
	uint64_t sessions;		/* live in the table */
	uint64_t born;			/* first seen after the baseline */
	uint64_t closed_seen;		/* close events of polled sessions */
	uint64_t closed_unseen;		/* close events of sessions never polled */
	uint64_t closed_prebaseline;	/* closed before the baseline: not counted */
	uint64_t retired_unclosed;	/* vanished from dumps without a close event */
	uint64_t late_samples;		/* dump entries of already closed sessions */
	uint64_t syn_guessed;		/* active/passive not decidable exactly */
	uint64_t syn_fixed;		/* guesses settled later (exact rule or probe) */
	uint64_t oom;			/* allocations that failed: figures incomplete */
	uint64_t race_late;		/* a dump/FIN race overcounted a printed row */
};

/* How the table is laid out (session.c), for tests and benchmarks. */
struct ts_acct_layout {
	uint64_t table_bytes;		/* sessions and their index */
	uint64_t row_bytes;		/* this interval's rows and the last answer */
	uint64_t lookups;		/* samples that needed the cookie index */
	uint64_t reorders;		/* table re-laid out in dump order */
	uint32_t index_slots;
};

enum ts_sort {
	TS_SORT_ALL,			/* rx + tx, descending */
	TS_SORT_SENT,
	TS_SORT_RECEIVED,
};

struct ts_acct;

/*
 * hybrid: close events complete the picture, so a session missing from a
 * dump waits @grace polls for its close event before it is retired.
 */
struct ts_acct *ts_acct_new(bool hybrid, unsigned int grace);
void ts_acct_free(struct ts_acct *acct);

/* One dump: begin, every sample, end.  The first dump is the baseline. */
void ts_acct_poll_begin(struct ts_acct *acct, uint64_t now_ns);
void ts_acct_sample(struct ts_acct *acct, const struct ts_sample *s);
void ts_acct_poll_end(struct ts_acct *acct);
/*
 * The same, for sources that stream samples while the dump runs: the
 * baseline is complete at @now_ns (the end of the dump), not at begin.
 */
void ts_acct_poll_end_at(struct ts_acct *acct, uint64_t now_ns);
/*
 * For sources that list only the sessions that moved since their previous
 * dump (the BPF iterator): a session not listed is unchanged, not gone, so
 * it is not aged; sessions end by close events (hybrid) or at the source's
 * next complete dump (ts_acct_poll_end_at).
 */
void ts_acct_poll_end_partial(struct ts_acct *acct, uint64_t now_ns);
/* ts_acct_sample with the ts_sample_fn signature; @acct is the core. */
void ts_acct_sink(const struct ts_sample *s, void *acct);
bool ts_acct_has_baseline(const struct ts_acct *acct);

void ts_acct_close(struct ts_acct *acct, const struct ts_close_event *ev);

/* Owner learnt outside the core (procfs), by cookie; pid 0: not found. */
void ts_acct_set_owner(struct ts_acct *acct, uint64_t cookie, uint32_t pid,
		       const char *comm);
typedef void (*ts_unowned_fn)(uint64_t cookie, uint32_t inode,
			      const struct ts_tuple *tuple, void *arg);
/* Calls @fn for live sessions whose owner was never looked up. */
void ts_acct_foreach_unowned(struct ts_acct *acct, ts_unowned_fn fn, void *arg);

/*
 * Ends the interval: the rows of sessions that moved bytes, sorted.  The
 * array belongs to @acct and stays valid until the next call.
 */
size_t ts_acct_rows(struct ts_acct *acct, enum ts_sort sort,
		    const struct ts_row **rows);

const struct ts_acct_stats *ts_acct_stats(const struct ts_acct *acct);
void ts_acct_layout(const struct ts_acct *acct, struct ts_acct_layout *l);

/* What the table knows of a polled session (tcplife: lifetime totals). */
struct ts_session_info {
	int syn;			/* SYN assumed in bytes_acked */
	bool syn_sure;
	uint32_t pid;			/* 0: unknown */
	char comm[TS_COMM_LEN];
};
bool ts_acct_session_info(struct ts_acct *acct, uint64_t cookie,
			  struct ts_session_info *info);

/* Payload from kernel counters (sequence space): see README. */
int ts_sample_syn_rule(const struct ts_sample *s);
/* Payload sent from raw bytes_acked, SYN and acked-FIN slots; never < 0. */
int64_t ts_payload_tx(uint64_t acked, int syn, int fin);
int64_t ts_sample_tx(const struct ts_sample *s, int syn);
int64_t ts_sample_rx(const struct ts_sample *s);
/* 1 when the sample's state says its own FIN is in bytes_acked. */
int ts_sample_fin_acked(const struct ts_sample *s);
int64_t ts_close_tx(const struct ts_close_event *ev, int syn);
int64_t ts_close_rx(const struct ts_close_event *ev);

/* One observation in payload terms: all the table needs of a sample. */
struct ts_obs {
	uint64_t acked;			/* raw bytes_acked (payload in trace mode) */
	int64_t rx;			/* payload received */
	int8_t syn_rule;		/* 1 active, 0 passive, -1 not decidable */
	uint8_t syn_guess;		/* best guess when the rule cannot tell */
	uint8_t fin;			/* own acknowledged FIN counted in acked */
};
void ts_obs_of_sample(const struct ts_sample *s, struct ts_obs *o);
void ts_obs_of_close(const struct ts_close_event *ev, struct ts_obs *o);

const char *ts_state_name(uint8_t state);

#endif
