// SPDX-License-Identifier: GPL-2.0
/*
 * Session table keyed by socket cookie (never reused by the kernel) and the
 * delta accounting over it.  Why the result is exact, and never counts a
 * byte twice, is argued in README.md ("Why hybrid is exact").
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "session.h"

struct session {
	uint64_t cookie;		/* 0: empty slot */
	struct ts_tuple tuple;
	uint8_t state;
	uint8_t syn;			/* SYN assumed in bytes_acked */
	bool syn_sure;
	bool from_zero;			/* whole counters were counted */
	bool closed;			/* close event seen: ignore later samples */
	bool closed_now;		/* ... during this interval */
	bool owner_tried;		/* looked up once: never again */
	uint8_t debit;			/* overcount to take back from later bytes */
	uint32_t missing;		/* consecutive dumps without it */
	uint32_t seen_gen;
	uint32_t closed_gen;
	uint32_t pid;
	uint32_t uid;
	uint32_t inode;
	char comm[TS_COMM_LEN];
	uint64_t birth_ns;
	uint64_t close_ns;
	uint64_t last_acked;		/* raw bytes_acked at the last observation */
	uint8_t last_fin;		/* its own FIN counted in it */
	int64_t last_tx;		/* payload at the last observation */
	int64_t last_rx;
	int64_t d_tx;			/* this interval */
	int64_t d_rx;
};

struct row_vec {
	struct ts_row *v;
	size_t n;
	size_t cap;
};

struct ts_acct {
	struct session *slots;
	size_t cap;			/* power of two */
	size_t used;
	bool hybrid;
	unsigned int grace;
	bool have_baseline;
	uint32_t gen;
	uint64_t baseline_ns;
	struct row_vec extra;		/* closed sessions with no table entry */
	struct row_vec rows;
	uint64_t *doomed;		/* scratch for deletions */
	size_t doomed_cap;
	struct ts_acct_stats stats;
};

#define MIN_CAP 1024

static size_t slot_of(const struct ts_acct *acct, uint64_t cookie)
{
	/* Cookies are sequential: mix them so neighbours spread out. */
	cookie ^= cookie >> 33;
	cookie *= 0xff51afd7ed558ccdULL;
	cookie ^= cookie >> 33;
	return cookie & (acct->cap - 1);
}

static struct session *find(struct ts_acct *acct, uint64_t cookie)
{
	size_t i = slot_of(acct, cookie);

	while (acct->slots[i].cookie) {
		if (acct->slots[i].cookie == cookie)
			return &acct->slots[i];
		i = (i + 1) & (acct->cap - 1);
	}
	return NULL;
}

static struct session *insert_slot(struct session *slots, size_t cap,
				   size_t home)
{
	size_t i = home;

	while (slots[i].cookie)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static bool grow(struct ts_acct *acct)
{
	size_t ncap = acct->cap * 2;
	struct session *ns = calloc(ncap, sizeof(*ns));
	struct session *old = acct->slots;
	size_t ocap = acct->cap;
	size_t i;

	if (!ns)
		return false;
	acct->slots = ns;
	acct->cap = ncap;
	for (i = 0; i < ocap; i++) {
		if (!old[i].cookie)
			continue;
		*insert_slot(ns, ncap, slot_of(acct, old[i].cookie)) = old[i];
	}
	free(old);
	return true;
}

static struct session *add(struct ts_acct *acct, uint64_t cookie)
{
	struct session *s;

	/* Keep the load under 1/2: probes stay short. */
	if ((acct->used + 1) * 2 > acct->cap && !grow(acct)) {
		acct->stats.oom++;
		return NULL;
	}
	s = insert_slot(acct->slots, acct->cap, slot_of(acct, cookie));
	memset(s, 0, sizeof(*s));
	s->cookie = cookie;
	acct->used++;
	acct->stats.sessions = acct->used;
	return s;
}

/* Backward-shift deletion: no tombstones, so lookups stay short forever. */
static void del(struct ts_acct *acct, struct session *s)
{
	size_t mask = acct->cap - 1;
	size_t i = s - acct->slots;
	size_t j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!acct->slots[j].cookie)
			break;
		home = slot_of(acct, acct->slots[j].cookie);
		/* Move j back to i unless its home lies in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		acct->slots[i] = acct->slots[j];
		i = j;
	}
	acct->slots[i].cookie = 0;
	acct->used--;
	acct->stats.sessions = acct->used;
}

struct ts_acct *ts_acct_new(bool hybrid, unsigned int grace)
{
	struct ts_acct *acct = calloc(1, sizeof(*acct));

	if (!acct)
		return NULL;
	acct->cap = MIN_CAP;
	acct->slots = calloc(acct->cap, sizeof(*acct->slots));
	if (!acct->slots) {
		free(acct);
		return NULL;
	}
	acct->hybrid = hybrid;
	acct->grace = grace;
	return acct;
}

void ts_acct_free(struct ts_acct *acct)
{
	if (!acct)
		return;
	free(acct->slots);
	free(acct->extra.v);
	free(acct->rows.v);
	free(acct->doomed);
	free(acct);
}

static struct ts_row *row_push(struct ts_acct *acct, struct row_vec *rv)
{
	if (rv->n == rv->cap) {
		size_t ncap = rv->cap ? rv->cap * 2 : 256;
		struct ts_row *nv = realloc(rv->v, ncap * sizeof(*nv));

		if (!nv) {
			acct->stats.oom++;
			return NULL;
		}
		rv->v = nv;
		rv->cap = ncap;
	}
	memset(&rv->v[rv->n], 0, sizeof(rv->v[0]));
	return &rv->v[rv->n++];
}

void ts_acct_poll_begin(struct ts_acct *acct, uint64_t now_ns)
{
	acct->gen++;
	if (!acct->have_baseline)
		acct->baseline_ns = now_ns;
}

bool ts_acct_has_baseline(const struct ts_acct *acct)
{
	return acct->have_baseline;
}

/* Counters only grow; a smaller value would mean mismatched corrections. */
static void account(int64_t *last, int64_t *delta, int64_t now)
{
	if (now <= *last)
		return;
	*delta += now - *last;
	*last = now;
}

static void account_tx(struct session *s, uint64_t acked, int fin)
{
	int64_t now = ts_payload_tx(acked, s->syn, fin);

	if (now < s->last_tx)
		return;
	s->last_acked = acked;
	s->last_fin = (uint8_t)fin;
	account(&s->last_tx, &s->d_tx, now);
}

/*
 * Whether the SYN sits in bytes_acked matters only for sessions whose whole
 * counters were counted; for the rest it cancels out of every delta.  When a
 * guess turns out wrong, rebase and settle the difference: a byte owed is
 * added now, a byte counted too many is taken back from later bytes, so no
 * interval ever shows a negative figure.
 */
static void settle_syn(struct ts_acct *acct, struct session *s, int syn)
{
	int64_t old = s->last_tx, diff;

	s->syn_sure = true;
	if (syn == s->syn)
		return;
	s->syn = (uint8_t)syn;
	s->last_tx = ts_payload_tx(s->last_acked, syn, s->last_fin);
	diff = s->last_tx - old;
	if (!s->from_zero || !diff)
		return;
	acct->stats.syn_fixed++;
	if (diff > 0)
		s->d_tx += diff;
	else
		s->debit += (uint8_t)-diff;
}

static void pay_debit(struct session *s)
{
	int64_t pay = s->debit < s->d_tx ? s->debit : s->d_tx;

	if (pay <= 0)
		return;
	s->d_tx -= pay;
	s->debit -= (uint8_t)pay;
}

static bool state_is_sampled(uint8_t state)
{
	switch (state) {
	case TS_ESTABLISHED:
	case TS_SYN_SENT:
	case TS_FIN_WAIT1:
	case TS_FIN_WAIT2:
	case TS_CLOSE_WAIT:
	case TS_LAST_ACK:
	case TS_CLOSING:
		return true;
	}
	/* CLOSE: a dump raced the close; its close event has the finals. */
	return false;
}

static void sample_new(struct ts_acct *acct, const struct ts_sample *smp)
{
	struct session *s = add(acct, smp->cookie);
	int syn = ts_sample_syn_rule(smp);

	if (!s)
		return;
	s->tuple = smp->tuple;
	s->uid = smp->uid;
	s->inode = smp->inode;
	if (smp->pid) {
		s->pid = smp->pid;
		memcpy(s->comm, smp->comm, TS_COMM_LEN);
		s->comm[TS_COMM_LEN - 1] = '\0';
		s->owner_tried = true;
	}
	s->syn_sure = syn >= 0;
	s->syn = syn >= 0 ? (uint8_t)syn : !smp->listener_on_lport;
	s->from_zero = acct->have_baseline;
	if (s->from_zero) {
		acct->stats.born++;
		if (!s->syn_sure)
			acct->stats.syn_guessed++;
	}
	s->state = smp->state;
	s->seen_gen = acct->gen;
	s->last_acked = smp->bytes_acked;
	s->last_fin = smp->payload ? 0 : ts_sample_fin_acked(smp);
	s->last_tx = ts_sample_tx(smp, s->syn);
	s->last_rx = ts_sample_rx(smp);
	if (s->from_zero) {
		s->d_tx = s->last_tx;
		s->d_rx = s->last_rx;
	}
}

void ts_acct_sample(struct ts_acct *acct, const struct ts_sample *smp)
{
	struct session *s;
	int syn;

	if (!smp->cookie || !state_is_sampled(smp->state))
		return;
	s = find(acct, smp->cookie);
	if (!s) {
		sample_new(acct, smp);
		return;
	}
	if (s->closed) {
		acct->stats.late_samples++;
		return;
	}
	syn = s->syn_sure ? -1 : ts_sample_syn_rule(smp);
	if (syn >= 0)
		settle_syn(acct, s, syn);
	if (smp->payload)
		account(&s->last_tx, &s->d_tx, ts_sample_tx(smp, 0));
	else
		account_tx(s, smp->bytes_acked, ts_sample_fin_acked(smp));
	account(&s->last_rx, &s->d_rx, ts_sample_rx(smp));
	pay_debit(s);
	s->state = smp->state;
	s->seen_gen = acct->gen;
	s->missing = 0;
	if (smp->inode && smp->inode != s->inode) {
		s->inode = smp->inode;
		s->pid = 0;
		s->owner_tried = false;
	}
}

static bool doom(struct ts_acct *acct, size_t *n, uint64_t cookie)
{
	if (*n == acct->doomed_cap) {
		size_t ncap = acct->doomed_cap ? acct->doomed_cap * 2 : 256;
		uint64_t *nd = realloc(acct->doomed, ncap * sizeof(*nd));

		if (!nd) {
			acct->stats.oom++;
			return false;
		}
		acct->doomed = nd;
		acct->doomed_cap = ncap;
	}
	acct->doomed[(*n)++] = cookie;
	return true;
}

/* Whether a session is done with: deleted at the end of this dump. */
static bool expired(struct ts_acct *acct, struct session *s)
{
	if (s->closed)
		return s->closed_gen < acct->gen && !s->closed_now;
	if (s->seen_gen == acct->gen)
		return false;
	s->missing++;
	/* Bytes it moved this interval are still owed to a row. */
	if (s->d_tx || s->d_rx)
		return false;
	if (acct->hybrid && s->missing <= acct->grace)
		return false;
	if (acct->hybrid)
		acct->stats.retired_unclosed++;
	return true;
}

void ts_acct_poll_end(struct ts_acct *acct)
{
	size_t i, n = 0;

	for (i = 0; i < acct->cap; i++) {
		struct session *s = &acct->slots[i];

		if (s->cookie && expired(acct, s) && !doom(acct, &n, s->cookie))
			break;
	}
	/* Deleting shifts entries, so delete only after the walk. */
	for (i = 0; i < n; i++) {
		struct session *s = find(acct, acct->doomed[i]);

		if (s)
			del(acct, s);
	}
	acct->have_baseline = true;
}

static void close_owner(struct session *s, const struct ts_close_event *ev)
{
	if (s->pid || !(ev->flags & TS_CF_OWNER))
		return;
	s->pid = ev->pid;
	memcpy(s->comm, ev->comm, TS_COMM_LEN);
	s->comm[TS_COMM_LEN - 1] = '\0';
}

static void tuple_of_event(struct ts_tuple *t, const struct ts_close_event *ev)
{
	t->family = ev->family;
	t->lport = ev->lport;
	t->rport = ev->rport;
	memcpy(t->laddr, ev->laddr, 16);
	memcpy(t->raddr, ev->raddr, 16);
}

static void close_row(struct ts_acct *acct, const struct ts_close_event *ev,
		      int syn);
static void close_owner(struct session *s, const struct ts_close_event *ev);
static void tuple_of_event(struct ts_tuple *t, const struct ts_close_event *ev);

static void fill_closed(struct session *s, const struct ts_close_event *ev)
{
	tuple_of_event(&s->tuple, ev);
	s->state = TS_CLOSE;
	s->closed = true;
	s->closed_now = true;
	s->from_zero = true;
	s->syn = !!(ev->flags & TS_CF_ACTIVE);
	s->syn_sure = !!(ev->flags & TS_CF_ACTIVE_KNOWN);
	s->d_tx = s->last_tx = ts_close_tx(ev, s->syn);
	s->d_rx = s->last_rx = ts_close_rx(ev);
	s->last_acked = ev->bytes_acked;
	s->last_fin = !!(ev->flags & TS_CF_FIN_ACKED);
	s->birth_ns = ev->birth_ns;
	s->close_ns = ev->close_ns;
	s->owner_tried = true;
	close_owner(s, ev);
}

/*
 * A session the poller never saw: all its bytes belong to this run.  It
 * stays in the table, closed, so a dump that raced its close and still
 * lists it cannot count it again.
 */
static void close_unseen(struct ts_acct *acct, const struct ts_close_event *ev)
{
	struct session *s;

	/* Alive before the baseline and gone before it: not ours to count. */
	if (!ev->birth_ns && (!acct->gen || ev->close_ns < acct->baseline_ns)) {
		acct->stats.closed_prebaseline++;
		return;
	}
	if (!(ev->flags & TS_CF_ACTIVE_KNOWN))
		acct->stats.syn_guessed++;
	acct->stats.closed_unseen++;
	s = ev->cookie ? add(acct, ev->cookie) : NULL;
	if (s) {
		fill_closed(s, ev);
		s->closed_gen = acct->gen;
		return;
	}
	close_row(acct, ev, !!(ev->flags & TS_CF_ACTIVE));
}

static void close_row(struct ts_acct *acct, const struct ts_close_event *ev,
		      int syn)
{
	struct ts_row *r = row_push(acct, &acct->extra);

	if (!r)
		return;
	r->cookie = ev->cookie;
	tuple_of_event(&r->tuple, ev);
	r->state = TS_CLOSE;
	r->closed = true;
	r->active = syn;
	r->tx = ts_close_tx(ev, syn);
	r->rx = ts_close_rx(ev);
	if (ev->flags & TS_CF_OWNER) {
		r->pid = ev->pid;
		memcpy(r->comm, ev->comm, TS_COMM_LEN);
		r->comm[TS_COMM_LEN - 1] = '\0';
	}
	r->birth_ns = ev->birth_ns;
	r->close_ns = ev->close_ns;
}

void ts_acct_close(struct ts_acct *acct, const struct ts_close_event *ev)
{
	struct session *s = ev->cookie ? find(acct, ev->cookie) : NULL;

	if (!s) {
		close_unseen(acct, ev);
		return;
	}
	if (s->closed) {
		acct->stats.late_samples++;
		return;
	}
	if (!s->syn_sure && (ev->flags & TS_CF_ACTIVE_KNOWN))
		settle_syn(acct, s, !!(ev->flags & TS_CF_ACTIVE));
	account_tx(s, ev->bytes_acked, !!(ev->flags & TS_CF_FIN_ACKED));
	account(&s->last_rx, &s->d_rx, ts_close_rx(ev));
	pay_debit(s);
	close_owner(s, ev);
	s->state = TS_CLOSE;
	s->closed = true;
	s->closed_now = true;
	s->closed_gen = acct->gen;
	if (ev->birth_ns)
		s->birth_ns = ev->birth_ns;
	s->close_ns = ev->close_ns;
	acct->stats.closed_seen++;
}

void ts_acct_set_owner(struct ts_acct *acct, uint64_t cookie, uint32_t pid,
		       const char *comm)
{
	struct session *s = find(acct, cookie);

	if (!s)
		return;
	s->owner_tried = true;
	if (!pid)
		return;
	s->pid = pid;
	strncpy(s->comm, comm ? comm : "", TS_COMM_LEN - 1);
	s->comm[TS_COMM_LEN - 1] = '\0';
}

void ts_acct_foreach_unowned(struct ts_acct *acct, ts_unowned_fn fn, void *arg)
{
	size_t i;

	for (i = 0; i < acct->cap; i++) {
		struct session *s = &acct->slots[i];

		if (s->cookie && !s->pid && !s->owner_tried && !s->closed)
			fn(s->cookie, s->inode, &s->tuple, arg);
	}
}

static void fill_row(struct ts_row *r, const struct session *s)
{
	r->cookie = s->cookie;
	r->tuple = s->tuple;
	r->state = s->state;
	r->closed = s->closed_now;
	r->active = s->syn;
	r->tx = s->d_tx;
	r->rx = s->d_rx;
	r->pid = s->pid;
	r->uid = s->uid;
	r->inode = s->inode;
	memcpy(r->comm, s->comm, TS_COMM_LEN);
	r->birth_ns = s->birth_ns;
	r->close_ns = s->close_ns;
}

/* Wide enough for rx + tx of two counters near 2^63. */
static __int128 sort_key(const struct ts_row *r, enum ts_sort sort)
{
	switch (sort) {
	case TS_SORT_SENT:
		return r->tx;
	case TS_SORT_RECEIVED:
		return r->rx;
	default:
		return (__int128)r->rx + r->tx;
	}
}

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct ts_row *ra = a, *rb = b;
	enum ts_sort sort = *(const enum ts_sort *)arg;
	__int128 ka = sort_key(ra, sort), kb = sort_key(rb, sort);

	if (ka != kb)
		return ka > kb ? -1 : 1;
	if (ra->cookie != rb->cookie)
		return ra->cookie < rb->cookie ? -1 : 1;
	return 0;
}

size_t ts_acct_rows(struct ts_acct *acct, enum ts_sort sort,
		    const struct ts_row **rows)
{
	size_t i;

	acct->rows.n = 0;
	for (i = 0; i < acct->cap; i++) {
		struct session *s = &acct->slots[i];
		struct ts_row *r;

		if (!s->cookie)
			continue;
		if (s->d_tx || s->d_rx) {
			r = row_push(acct, &acct->rows);
			if (r)
				fill_row(r, s);
		}
		s->d_tx = 0;
		s->d_rx = 0;
		s->closed_now = false;
	}
	for (i = 0; i < acct->extra.n; i++) {
		struct ts_row *r;

		if (!acct->extra.v[i].tx && !acct->extra.v[i].rx)
			continue;
		r = row_push(acct, &acct->rows);
		if (r)
			*r = acct->extra.v[i];
	}
	acct->extra.n = 0;
	if (acct->rows.n)
		qsort_r(acct->rows.v, acct->rows.n, sizeof(*acct->rows.v),
			cmp_rows, &sort);
	*rows = acct->rows.v;
	return acct->rows.n;
}

const struct ts_acct_stats *ts_acct_stats(const struct ts_acct *acct)
{
	return &acct->stats;
}

bool ts_acct_session_info(struct ts_acct *acct, uint64_t cookie,
			  struct ts_session_info *info)
{
	struct session *s = cookie ? find(acct, cookie) : NULL;

	if (!s)
		return false;
	info->syn = s->syn;
	info->syn_sure = s->syn_sure;
	info->pid = s->pid;
	memcpy(info->comm, s->comm, TS_COMM_LEN);
	return true;
}
