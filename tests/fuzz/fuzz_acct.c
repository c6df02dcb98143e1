// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the accounting core: the input drives a small world
 * of sockets (payload moving, FINs, closes, dumps that see some of them,
 * close events drained before or after a dump) and the invariants are
 * checked against the world's own truth:
 *  - no row is ever negative;
 *  - no cookie has a row after the interval of its closed row;
 *  - per session, the sum of its rows equals its final payload minus its
 *    payload at the baseline (or all of it when born after the baseline).
 * The world keeps the SYN decidable at dumps (nothing in flight), so the
 * last invariant is exact but for the one documented case: a wrong
 * "passive" guess on a close event's session never paid back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "../../common/session.h"

#define NSOCK 8
#define MAXSESS 256

struct wsock {
	uint64_t cookie;
	bool live, active, fin_out, fin_in, born_after;
	bool seen_at_baseline, ever_seen;
	int64_t tx, rx;			/* payload so far */
	int64_t base_tx, base_rx;	/* payload at the baseline dump */
};

struct sess_sum {
	uint64_t cookie;
	int64_t tx, rx, want_tx, want_rx;
	bool closed_row, counted;
	uint32_t closed_iv;
};

struct world {
	struct ts_acct *acct;
	struct wsock s[NSOCK];
	struct sess_sum sums[MAXSESS];
	size_t nsums;
	uint64_t next_cookie, now;
	uint32_t iv;
	bool baseline_done;
	const uint8_t *in;
	size_t left;
};

static unsigned int next(struct world *w)
{
	if (!w->left)
		return 0;
	w->left--;
	return *w->in++;
}

static struct sess_sum *sum_of(struct world *w, uint64_t cookie)
{
	size_t i;

	for (i = 0; i < w->nsums; i++)
		if (w->sums[i].cookie == cookie)
			return &w->sums[i];
	if (w->nsums == MAXSESS)
		abort();
	w->sums[w->nsums].cookie = cookie;
	return &w->sums[w->nsums++];
}

static void open_sock(struct world *w, struct wsock *k)
{
	memset(k, 0, sizeof(*k));
	k->cookie = ++w->next_cookie;
	k->live = true;
	k->active = next(w) & 1;
	k->born_after = w->baseline_done;
	sum_of(w, k->cookie);
}

static uint8_t state_of(const struct wsock *k)
{
	if (k->fin_out)
		return TS_FIN_WAIT2;
	if (k->fin_in)
		return TS_CLOSE_WAIT;
	return TS_ESTABLISHED;
}

static void sample(struct world *w, struct wsock *k)
{
	struct ts_sample s = { 0 };

	s.cookie = k->cookie;
	s.tuple.family = AF_INET;
	s.state = state_of(k);
	s.has_sent = true;
	s.bytes_sent = k->tx;
	s.bytes_acked = k->tx + k->active + k->fin_out;
	s.bytes_received = k->rx + k->fin_in;
	s.listener_on_lport = next(w) & 1;	/* a hint that may lie */
	ts_acct_sample(w->acct, &s);
	if (!w->baseline_done && !k->born_after) {
		k->seen_at_baseline = true;
		k->base_tx = k->tx;
		k->base_rx = k->rx;
	}
	k->ever_seen = true;
}

static void dump(struct world *w)
{
	int i;

	w->now += 10;
	ts_acct_poll_begin(w->acct, w->now);
	/*
	 * As in the kernel: a socket born during a dump may miss it, but once
	 * listed it is in every dump until it closes.
	 */
	for (i = 0; i < NSOCK; i++)
		if (w->s[i].live && (w->s[i].ever_seen || (next(w) & 3)))
			sample(w, &w->s[i]);
	ts_acct_poll_end(w->acct);
	w->baseline_done = true;
}

static void close_sock(struct world *w, struct wsock *k)
{
	struct ts_close_event ev = { 0 };
	struct sess_sum *ss = sum_of(w, k->cookie);

	w->now += 1;
	ev.cookie = k->ever_seen || (next(w) & 1) ? k->cookie : 0;
	ev.family = AF_INET;
	ev.close_ns = w->now;
	ev.birth_ns = k->born_after ? 1 : 0;
	ev.bytes_acked = k->tx + k->active + k->fin_out;
	ev.bytes_received = k->rx + k->fin_in;
	ev.flags = (k->fin_out ? TS_CF_FIN_ACKED : 0) |
		   (k->fin_in ? TS_CF_PEER_FIN : 0);
	if (k->born_after)
		ev.flags |= TS_CF_ACTIVE_KNOWN | (k->active ? TS_CF_ACTIVE : 0);
	ss->want_tx = k->tx - (k->seen_at_baseline ? k->base_tx : 0);
	ss->want_rx = k->rx - (k->seen_at_baseline ? k->base_rx : 0);
	/* Born before the baseline, never seen, gone before it: not ours. */
	ss->counted = w->baseline_done || k->born_after;
	if (!k->born_after && !k->seen_at_baseline && !w->baseline_done)
		ss->counted = false;
	k->live = false;
	if (!ev.cookie) {
		/* Rows of cookie-0 sessions carry cookie 0: check by value. */
		ss->want_tx = ss->want_rx = 0;
		ss->counted = false;
	}
	ts_acct_close(w->acct, &ev);
}

static void rows(struct world *w)
{
	const struct ts_row *r;
	size_t n = ts_acct_rows(w->acct, TS_SORT_ALL, &r), i;

	w->iv++;
	for (i = 0; i < n; i++) {
		struct sess_sum *ss;

		if (r[i].tx < 0 || r[i].rx < 0)
			abort();
		if (!r[i].cookie)
			continue;
		ss = sum_of(w, r[i].cookie);
		if (ss->closed_row && ss->closed_iv < w->iv)
			abort();	/* a row after its closed row */
		ss->tx += r[i].tx;
		ss->rx += r[i].rx;
		if (r[i].closed) {
			ss->closed_row = true;
			ss->closed_iv = w->iv;
		}
	}
}

static void step(struct world *w, unsigned int op)
{
	struct wsock *k = &w->s[next(w) % NSOCK];

	switch (op % 6) {
	case 0:
		if (!k->live)
			open_sock(w, k);
		break;
	case 1:
		if (k->live && !k->fin_out) {
			k->tx += next(w) * 97;
			k->rx += next(w) * 31;
		}
		break;
	case 2:
		if (!k->live)
			break;
		(next(w) & 1) ? (k->fin_out = true) : (k->fin_in = true);
		/* Both FINs in, ours acked: TIME_WAIT, the full socket closes. */
		if (k->fin_out && k->fin_in)
			close_sock(w, k);
		break;
	case 3:
		if (k->live)
			close_sock(w, k);
		break;
	case 4:
		dump(w);
		break;
	default:
		rows(w);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = calloc(1, sizeof(*w));
	size_t i;
	int k;

	w->acct = ts_acct_new(data && size ? data[0] & 1 : 1, 2);
	w->in = data;
	w->left = size;
	dump(w);
	while (w->left)
		step(w, next(w));
	/* Quiet end: close everything, drain, report. */
	for (k = 0; k < NSOCK; k++)
		if (w->s[k].live)
			close_sock(w, &w->s[k]);
	rows(w);
	for (i = 0; i < w->nsums; i++) {
		struct sess_sum *ss = &w->sums[i];

		if (!ss->counted)
			continue;
		if (ss->tx != ss->want_tx || ss->rx != ss->want_rx) {
			/* A wrong passive guess never paid back: one byte. */
			if (!(ss->tx == ss->want_tx + 1 && ss->rx == ss->want_rx)) {
				fprintf(stderr, "cookie %llu tx %lld want %lld rx %lld want %lld\n",
					(unsigned long long)ss->cookie, (long long)ss->tx,
					(long long)ss->want_tx, (long long)ss->rx,
					(long long)ss->want_rx);
				abort();
			}
		}
	}
	ts_acct_free(w->acct);
	free(w);
	return 0;
}
