// SPDX-License-Identifier: GPL-2.0
/*
 * Session table keyed by socket cookie (never reused by the kernel) and the
 * delta accounting over it.  Why the result is exact, and never counts a
 * byte twice, is argued in README.md ("Why hybrid is exact").
 *
 * Layout, for a dump of a million sockets at the cost of the dump itself:
 * sessions sit in two dense arrays (hot: what every sample reads and
 * writes; cold: addresses and owner, read only for rows and owner lookups)
 * behind an open-addressing index of 4-byte slots.  The kernel dumps its
 * established hash in bucket order, which stays the same from dump to dump,
 * and the arrays are kept in that order: a sample is first compared with
 * the session after the previous one, so a dump walks the table
 * sequentially and the index is read only for sessions out of place.  When
 * too many are (births land anywhere in the dump), the table is re-laid out
 * in the last dump's order.  Interval figures live in the rows of the
 * sessions that moved bytes, not in every session.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "session.h"

#define NONE UINT32_MAX
#define MIN_CAP 1024		/* index slots; a power of two */

/* struct hot.flags */
#define F_SYN		0x01	/* SYN assumed in bytes_acked */
#define F_SYN_SURE	0x02
#define F_FROM_ZERO	0x04	/* whole counters were counted */
#define F_CLOSED	0x08	/* close event seen: ignore later samples */
#define F_OWNER_TRIED	0x10	/* looked up once: never again */
#define F_LAST_FIN	0x20	/* its own FIN counted in last_acked */

/* Read and written by every sample: 48 bytes. */
struct hot {
	uint64_t cookie;
	uint64_t last_acked;		/* raw bytes_acked at the last observation */
	int64_t last_rx;		/* payload at the last observation */
	uint32_t gen;			/* dump it was last seen in; closed: closing dump */
	uint32_t row;			/* its row this interval, NONE: no row yet */
	uint32_t inode;
	uint32_t uid;
	uint32_t pos;			/* place in the last dump that saw it */
	uint8_t state;
	uint8_t flags;
	uint8_t debit;			/* overcount to take back from later bytes */
	uint8_t pad;
};

/* Read for rows and owner lookups only: 60 bytes. */
struct cold {
	uint32_t place : 24;		/* its (netns, cgroup) in acct->places */
	uint32_t family : 8;		/* AF_INET or AF_INET6 */
	uint32_t pid;
	char comm[TS_COMM_LEN];
	uint16_t lport;
	uint16_t rport;
	uint8_t laddr[16];
	uint8_t raddr[16];
};

/* This interval's rows, and whose each is (NONE: a session not in the table). */
struct rows {
	struct ts_row *v;
	size_t cap;			/* of v */
	uint32_t *sess;
	size_t sess_cap;
	size_t n;
};

/*
 * Where sessions live: (namespace, cgroup) pairs are few, so a session
 * keeps a 4-byte index into this set instead of 12 bytes of its own.
 */
struct place {
	uint64_t cgroup;
	uint32_t netns;
};

#define PLACES_MAX (1u << 24)	/* what cold.place holds */

struct places {
	struct place *v;		/* v[0]: unknown, (0, 0) */
	uint32_t n, cap;
	uint32_t *slot;			/* index + 1; 0: empty */
	uint32_t scap;			/* power of two */
};

struct ts_acct {
	struct hot *hot;
	struct cold *cold;
	uint32_t n;			/* sessions */
	uint32_t cap;			/* of hot and cold */
	uint32_t *index;		/* session + 1; 0: empty */
	uint32_t icap;			/* power of two */
	bool hybrid;
	unsigned int grace;
	bool have_baseline;
	uint32_t gen;
	uint64_t baseline_ns;
	uint32_t cursor;		/* where the next sample is expected */
	uint32_t resume;		/* where to go back to after a jump */
	uint32_t dump_pos;		/* samples taken this dump */
	uint32_t jumps;			/* ... that were out of place */
	uint32_t maybe_unowned;		/* 0: no session waits for an owner */
	struct rows pend;		/* built this interval */
	struct ts_row *out;		/* handed out by ts_acct_rows */
	size_t out_cap;
	struct ts_acct_stats stats;
	uint64_t lookups;
	uint64_t reorders;
	struct places places;
};

struct ts_sample *ts_batch_push(struct ts_batch *b)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 1024;
		struct ts_sample *nv = realloc(b->v, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		b->v = nv;
		b->cap = ncap;
	}
	return &b->v[b->n++];
}

void ts_batch_reset(struct ts_batch *b)
{
	b->n = 0;
}

void ts_batch_free(struct ts_batch *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}

static uint32_t home_of(uint64_t cookie, uint32_t icap)
{
	/* Cookies are sequential: mix them so neighbours spread out. */
	cookie ^= cookie >> 33;
	cookie *= 0xff51afd7ed558ccdULL;
	cookie ^= cookie >> 33;
	return (uint32_t)(cookie & (icap - 1));
}

/* The index slot that holds session @i, or the empty slot @cookie would take. */
static uint32_t slot_of(const struct ts_acct *a, uint64_t cookie)
{
	uint32_t mask = a->icap - 1, j = home_of(cookie, a->icap);

	while (a->index[j] && a->hot[a->index[j] - 1].cookie != cookie)
		j = (j + 1) & mask;
	return j;
}

static uint32_t find(const struct ts_acct *a, uint64_t cookie)
{
	uint32_t v = a->index[slot_of(a, cookie)];

	return v ? v - 1 : NONE;
}

static void index_put(uint32_t *index, uint32_t icap, uint64_t cookie,
		      uint32_t i)
{
	uint32_t j = home_of(cookie, icap);

	while (index[j])
		j = (j + 1) & (icap - 1);
	index[j] = i + 1;
}

static void index_fill(uint32_t *ni, uint32_t icap, const struct ts_acct *a)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		index_put(ni, icap, a->hot[i].cookie, i);
}

static bool index_build(struct ts_acct *a, uint32_t icap)
{
	uint32_t *ni = calloc(icap, sizeof(*ni));

	if (!ni)
		return false;
	index_fill(ni, icap, a);
	free(a->index);
	a->index = ni;
	a->icap = icap;
	return true;
}

/* Backward-shift deletion: no tombstones, so probes stay short forever. */
static void index_del(struct ts_acct *a, uint32_t j)
{
	uint32_t mask = a->icap - 1, i = j;

	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (!a->index[j])
			break;
		home = home_of(a->hot[a->index[j] - 1].cookie, a->icap);
		/* Move j back to i unless its home lies in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		a->index[i] = a->index[j];
		i = j;
	}
	a->index[i] = 0;
}

static bool arrays_grow(struct ts_acct *a)
{
	uint32_t ncap = a->cap ? a->cap * 2 : MIN_CAP / 2;
	struct hot *nh;
	struct cold *nc;

	if (a->cap >= NONE / 2)
		return false;
	nh = realloc(a->hot, (size_t)ncap * sizeof(*nh));
	if (!nh)
		return false;
	a->hot = nh;
	nc = realloc(a->cold, (size_t)ncap * sizeof(*nc));
	if (!nc)
		return false;
	a->cold = nc;
	a->cap = ncap;
	return true;
}

static void count_state(struct ts_acct *a)
{
	a->stats.sessions = a->n;
}

static uint32_t add(struct ts_acct *a, uint64_t cookie)
{
	uint32_t i = a->n;

	/* Keep the index under half full: probes stay short. */
	if (((a->n + 1) * 2 > a->icap && !index_build(a, a->icap * 2)) ||
	    (a->n == a->cap && !arrays_grow(a))) {
		a->stats.oom++;
		return NONE;
	}
	memset(&a->hot[i], 0, sizeof(a->hot[i]));
	memset(&a->cold[i], 0, sizeof(a->cold[i]));
	a->hot[i].cookie = cookie;
	a->hot[i].row = NONE;
	a->n++;
	index_put(a->index, a->icap, cookie, i);
	count_state(a);
	return i;
}

/* The last session takes the place of @i: the arrays stay dense. */
static void del(struct ts_acct *a, uint32_t i)
{
	uint32_t last = a->n - 1;

	if (a->hot[i].row != NONE)
		a->pend.sess[a->hot[i].row] = NONE;
	index_del(a, slot_of(a, a->hot[i].cookie));
	if (i != last) {
		a->index[slot_of(a, a->hot[last].cookie)] = i + 1;
		a->hot[i] = a->hot[last];
		a->cold[i] = a->cold[last];
		if (a->hot[i].row != NONE)
			a->pend.sess[a->hot[i].row] = i;
	}
	a->n--;
	count_state(a);
}

struct ts_acct *ts_acct_new(bool hybrid, unsigned int grace)
{
	struct ts_acct *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->icap = MIN_CAP;
	a->index = calloc(a->icap, sizeof(*a->index));
	if (!a->index || !arrays_grow(a)) {
		ts_acct_free(a);
		return NULL;
	}
	a->hybrid = hybrid;
	a->grace = grace;
	a->resume = NONE;
	count_state(a);
	return a;
}

void ts_acct_free(struct ts_acct *a)
{
	if (!a)
		return;
	free(a->hot);
	free(a->cold);
	free(a->index);
	free(a->places.v);
	free(a->places.slot);
	free(a->pend.v);
	free(a->pend.sess);
	free(a->out);
	free(a);
}

static struct ts_row *row_push(struct ts_acct *a, uint32_t sess)
{
	struct rows *p = &a->pend;

	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 256;
		struct ts_row *nv = realloc(p->v, ncap * sizeof(*nv));

		if (!nv)
			goto oom;
		p->v = nv;
		p->cap = ncap;
	}
	if (p->n == p->sess_cap) {
		size_t ncap = p->sess_cap ? p->sess_cap * 2 : 256;
		uint32_t *ns = realloc(p->sess, ncap * sizeof(*ns));

		if (!ns)
			goto oom;
		p->sess = ns;
		p->sess_cap = ncap;
	}
	memset(&p->v[p->n], 0, sizeof(p->v[0]));
	p->sess[p->n] = sess;
	return &p->v[p->n++];
oom:
	a->stats.oom++;
	return NULL;
}

/* Session @i's row of this interval, made on its first byte. */
static struct ts_row *row_of(struct ts_acct *a, uint32_t i)
{
	struct hot *h = &a->hot[i];
	struct ts_row *r;

	if (h->row != NONE)
		return &a->pend.v[h->row];
	r = row_push(a, i);
	if (r)
		h->row = (uint32_t)(a->pend.n - 1);
	return r;
}

static void credit(struct ts_acct *a, uint32_t i, int64_t tx, int64_t rx)
{
	struct ts_row *r;

	if (!tx && !rx)
		return;
	r = row_of(a, i);
	if (!r)
		return;
	r->tx += tx;
	r->rx += rx;
}

static bool owes_bytes(const struct ts_acct *a, const struct hot *h)
{
	return h->row != NONE && (a->pend.v[h->row].tx || a->pend.v[h->row].rx);
}

void ts_acct_poll_begin(struct ts_acct *a, uint64_t now_ns)
{
	a->gen++;
	a->cursor = 0;
	a->resume = NONE;
	a->dump_pos = 0;
	a->jumps = 0;
	if (!a->have_baseline)
		a->baseline_ns = now_ns;
}

bool ts_acct_has_baseline(const struct ts_acct *a)
{
	return a->have_baseline;
}

static int syn_of(const struct hot *h)
{
	return !!(h->flags & F_SYN);
}

static int64_t last_tx(const struct hot *h)
{
	return ts_payload_tx(h->last_acked, syn_of(h), !!(h->flags & F_LAST_FIN));
}

static void set_flag(struct hot *h, uint8_t flag, bool on)
{
	h->flags = on ? h->flags | flag : h->flags & ~flag;
}

/* Counters only grow; a smaller value would mean mismatched corrections. */
static void account(struct ts_acct *a, uint32_t i, const struct ts_obs *o)
{
	struct hot *h = &a->hot[i];
	int64_t old = last_tx(h);
	int64_t now = ts_payload_tx(o->acked, syn_of(h), o->fin);
	int64_t dtx = 0, drx = 0;

	if (now >= old) {
		h->last_acked = o->acked;
		set_flag(h, F_LAST_FIN, o->fin);
		dtx = now - old;
	}
	if (o->rx > h->last_rx) {
		drx = o->rx - h->last_rx;
		h->last_rx = o->rx;
	}
	credit(a, i, dtx, drx);
}

/*
 * A dump reads a socket's state before its counters, without the lock the
 * softirq holds while it takes the peer's FIN: a sample may show the old
 * state with the new bytes_received, so the FIN passes for a payload byte
 * (seen on Debian's 6.1: 3 of 1440 sides).  The close event's final is
 * exact; where the previous sample claimed more, take the excess back from
 * this interval's row.  A row an earlier interval already printed cannot be
 * taken back: counted in race_late.  (tx is left to the SYN settlement and
 * its debit, which already take back what a guess overcounted.)
 */
static void take_back_race(struct ts_acct *a, uint32_t i, const struct ts_obs *o)
{
	struct hot *h = &a->hot[i];
	int64_t rx_over = h->last_rx - o->rx;
	struct ts_row *r;

	if (rx_over <= 0)
		return;
	r = h->row != NONE ? &a->pend.v[h->row] : NULL;
	if (r && r->rx >= rx_over) {
		r->rx -= rx_over;
		h->last_rx = o->rx;
		return;
	}
	a->stats.race_late++;
}

/*
 * Whether the SYN sits in bytes_acked matters only for sessions whose whole
 * counters were counted; for the rest it cancels out of every delta.  When a
 * guess turns out wrong, rebase and settle the difference: a byte owed is
 * added now, a byte counted too many is taken back from later bytes, so no
 * interval ever shows a negative figure.
 */
static void settle_syn(struct ts_acct *a, uint32_t i, int syn)
{
	struct hot *h = &a->hot[i];
	int64_t old = last_tx(h), diff;

	h->flags |= F_SYN_SURE;
	if (syn == syn_of(h))
		return;
	set_flag(h, F_SYN, syn);
	diff = last_tx(h) - old;
	if (!(h->flags & F_FROM_ZERO) || !diff)
		return;
	a->stats.syn_fixed++;
	if (diff > 0)
		credit(a, i, diff, 0);
	else
		h->debit += (uint8_t)-diff;
}

static void pay_debit(struct ts_acct *a, struct hot *h)
{
	struct ts_row *r;
	int64_t pay;

	if (!h->debit || h->row == NONE)
		return;
	r = &a->pend.v[h->row];
	pay = h->debit < r->tx ? h->debit : r->tx;
	if (pay <= 0)
		return;
	r->tx -= pay;
	h->debit -= (uint8_t)pay;
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

static uint32_t place_hash(uint32_t netns, uint64_t cgroup)
{
	uint64_t h = (cgroup ^ ((uint64_t)netns << 32 | netns)) *
		     0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 32);
}

static bool places_grow(struct places *p)
{
	uint32_t ncap = p->cap ? p->cap * 2 : 16, nscap = ncap * 2, i;
	struct place *nv = realloc(p->v, ncap * sizeof(*nv));
	uint32_t *ns;

	if (!nv)
		return false;
	p->v = nv;
	ns = calloc(nscap, sizeof(*ns));
	if (!ns)
		return false;
	for (i = 0; i < p->n; i++) {
		uint32_t h = place_hash(nv[i].netns, nv[i].cgroup) & (nscap - 1);

		while (ns[h])
			h = (h + 1) & (nscap - 1);
		ns[h] = i + 1;
	}
	free(p->slot);
	p->slot = ns;
	p->scap = nscap;
	p->cap = ncap;
	return true;
}

/* The index of (netns, cgroup), added when new; 0 (unknown) without memory. */
static uint32_t place_of(struct ts_acct *a, uint32_t netns, uint64_t cgroup)
{
	struct places *p = &a->places;
	uint32_t h;

	if (!netns && !cgroup)
		return 0;
	if (p->n >= PLACES_MAX) {
		a->stats.oom++;
		return 0;
	}
	if (p->n + 1 >= p->cap && !places_grow(p)) {
		a->stats.oom++;
		return 0;
	}
	if (!p->n)
		p->v[p->n++] = (struct place){ 0, 0 };
	h = place_hash(netns, cgroup) & (p->scap - 1);
	for (; p->slot[h]; h = (h + 1) & (p->scap - 1)) {
		const struct place *pl = &p->v[p->slot[h] - 1];

		if (pl->netns == netns && pl->cgroup == cgroup)
			return p->slot[h] - 1;
	}
	p->v[p->n] = (struct place){ cgroup, netns };
	p->slot[h] = p->n + 1;
	return p->n++;
}

static void set_tuple(struct ts_acct *a, struct cold *c,
		      const struct ts_tuple *t)
{
	c->family = t->family & 0xff;
	c->place = place_of(a, t->netns, t->cgroup);
	c->lport = t->lport;
	c->rport = t->rport;
	memcpy(c->laddr, t->laddr, 16);
	memcpy(c->raddr, t->raddr, 16);
}

/* Whole, padding too: callers compare tuples with memcmp. */
static void get_tuple(const struct ts_acct *a, struct ts_tuple *t,
		      const struct cold *c)
{
	memset(t, 0, sizeof(*t));
	t->family = c->family;
	if (c->place) {
		t->netns = a->places.v[c->place].netns;
		t->cgroup = a->places.v[c->place].cgroup;
	}
	t->lport = c->lport;
	t->rport = c->rport;
	memcpy(t->laddr, c->laddr, 16);
	memcpy(t->raddr, c->raddr, 16);
}

static void set_comm(struct cold *c, uint32_t pid, const char *comm)
{
	c->pid = pid;
	memcpy(c->comm, comm, TS_COMM_LEN);
	c->comm[TS_COMM_LEN - 1] = '\0';
}

static void sample_new(struct ts_acct *a, const struct ts_sample *smp,
		       const struct ts_obs *o)
{
	uint32_t i = add(a, smp->cookie);
	struct hot *h;

	if (i == NONE)
		return;
	h = &a->hot[i];
	set_tuple(a, &a->cold[i], &smp->tuple);
	h->uid = smp->uid;
	h->inode = smp->inode;
	if (smp->pid) {
		set_comm(&a->cold[i], smp->pid, smp->comm);
		h->flags |= F_OWNER_TRIED;
	} else {
		a->maybe_unowned++;
	}
	set_flag(h, F_SYN_SURE, o->syn_rule >= 0);
	set_flag(h, F_SYN, o->syn_guess);
	set_flag(h, F_FROM_ZERO, a->have_baseline);
	if (a->have_baseline) {
		a->stats.born++;
		if (o->syn_rule < 0)
			a->stats.syn_guessed++;
	}
	h->state = smp->state;
	h->gen = a->gen;
	h->pos = a->dump_pos++;
	h->last_acked = o->acked;
	set_flag(h, F_LAST_FIN, o->fin);
	h->last_rx = o->rx;
	if (a->have_baseline)
		credit(a, i, last_tx(h), h->last_rx);
}

/*
 * Dump order is stable, so the session after the last one found is the
 * likely next; after a jump (a session out of place), the place jumped from.
 */
static uint32_t locate(struct ts_acct *a, uint64_t cookie)
{
	uint32_t i = a->cursor;

	if (i < a->n && a->hot[i].cookie == cookie)
		goto found;
	i = a->resume;
	if (i < a->n && a->hot[i].cookie == cookie)
		goto found;
	a->lookups++;
	i = find(a, cookie);
	if (i == NONE)
		return NONE;
	a->jumps++;
	a->resume = a->cursor;
found:
	a->cursor = i + 1;
	return i;
}

void ts_acct_sample(struct ts_acct *a, const struct ts_sample *smp)
{
	struct ts_obs o;
	struct hot *h;
	uint32_t i;

	if (!smp->cookie || !state_is_sampled(smp->state))
		return;
	ts_obs_of_sample(smp, &o);
	i = locate(a, smp->cookie);
	if (i == NONE) {
		sample_new(a, smp, &o);
		return;
	}
	h = &a->hot[i];
	if (h->flags & F_CLOSED) {
		a->stats.late_samples++;
		return;
	}
	if (!(h->flags & F_SYN_SURE) && o.syn_rule >= 0)
		settle_syn(a, i, o.syn_rule);
	account(a, i, &o);
	pay_debit(a, h);
	h->state = smp->state;
	h->gen = a->gen;
	h->pos = a->dump_pos++;
	if (smp->inode && smp->inode != h->inode) {
		h->inode = smp->inode;
		a->cold[i].pid = 0;
		h->flags &= ~F_OWNER_TRIED;
		a->maybe_unowned++;
	}
}

void ts_acct_sink(const struct ts_sample *s, void *acct)
{
	ts_acct_sample(acct, s);
}

/* Whether a session is done with: deleted at the end of this dump. */
static bool expired(struct ts_acct *a, const struct hot *h)
{
	if (h->flags & F_CLOSED)
		return h->gen < a->gen && h->row == NONE;
	if (h->gen == a->gen)
		return false;
	/* Bytes it moved this interval are still owed to a row. */
	if (owes_bytes(a, h))
		return false;
	if (a->hybrid && a->gen - h->gen <= a->grace)
		return false;
	if (a->hybrid)
		a->stats.retired_unclosed++;
	return true;
}

static bool seen_now(const struct ts_acct *a, const struct hot *h)
{
	return h->gen == a->gen && !(h->flags & F_CLOSED);
}

static void swap_sessions(struct ts_acct *a, uint32_t i, uint32_t j)
{
	struct hot h = a->hot[i];
	struct cold c = a->cold[i];

	a->hot[i] = a->hot[j];
	a->cold[i] = a->cold[j];
	a->hot[j] = h;
	a->cold[j] = c;
}

/*
 * Lays the arrays out in this dump's order (sessions it did not list go
 * last), then rebuilds the index and the rows' links.  O(n), and rare.
 */
static void reorder(struct ts_acct *a)
{
	uint32_t *at = calloc(a->dump_pos ? a->dump_pos : 1, sizeof(*at));
	uint32_t *dest = malloc((size_t)a->n * sizeof(*dest) + 1);
	uint32_t i, k = 0;

	if (!at || !dest)
		goto out;
	for (i = 0; i < a->n; i++)
		if (seen_now(a, &a->hot[i]) && a->hot[i].pos < a->dump_pos)
			at[a->hot[i].pos] = i + 1;
	for (i = 0; i < a->dump_pos; i++)
		if (at[i])
			dest[at[i] - 1] = k++;
	for (i = 0; i < a->n; i++)
		if (!seen_now(a, &a->hot[i]) || a->hot[i].pos >= a->dump_pos ||
		    at[a->hot[i].pos] != i + 1)
			dest[i] = k++;
	/* Follow each cycle of the permutation, one swap per session. */
	for (i = 0; i < a->n; i++) {
		while (dest[i] != i) {
			uint32_t j = dest[i];

			swap_sessions(a, i, j);
			dest[i] = dest[j];
			dest[j] = j;
		}
	}
	/* Rebuilt in place: past the permutation nothing may fail. */
	memset(a->index, 0, (size_t)a->icap * sizeof(*a->index));
	index_fill(a->index, a->icap, a);
	for (i = 0; i < a->n; i++)
		if (a->hot[i].row != NONE)
			a->pend.sess[a->hot[i].row] = i;
	a->reorders++;
out:
	if (!at || !dest)
		a->stats.oom++;
	free(at);
	free(dest);
}

void ts_acct_poll_end(struct ts_acct *a)
{
	uint32_t i = 0;

	/* A deleted session's place takes the last one: look at it again. */
	while (i < a->n) {
		if (expired(a, &a->hot[i]))
			del(a, i);
		else
			i++;
	}
	if (a->jumps > 32 + a->n / 16)
		reorder(a);
	a->have_baseline = true;
}

void ts_acct_poll_end_at(struct ts_acct *a, uint64_t now_ns)
{
	if (!a->have_baseline)
		a->baseline_ns = now_ns;
	ts_acct_poll_end(a);
}

void ts_acct_poll_end_partial(struct ts_acct *a, uint64_t now_ns)
{
	uint32_t i;

	/* Not listed: unchanged.  As if listed, so it is not aged. */
	for (i = 0; i < a->n; i++)
		if (!(a->hot[i].flags & F_CLOSED))
			a->hot[i].gen = a->gen;
	/* The listed ones are few and out of place: no re-layout for them. */
	a->jumps = 0;
	ts_acct_poll_end_at(a, now_ns);
}

static void close_owner(struct ts_acct *a, uint32_t i,
			const struct ts_close_event *ev)
{
	if (a->cold[i].pid || !(ev->flags & TS_CF_OWNER))
		return;
	set_comm(&a->cold[i], ev->pid, ev->comm);
}

static void tuple_of_event(struct ts_tuple *t, const struct ts_close_event *ev)
{
	t->family = ev->family;
	t->lport = ev->lport;
	t->rport = ev->rport;
	memcpy(t->laddr, ev->laddr, 16);
	memcpy(t->raddr, ev->raddr, 16);
	t->netns = ev->netns;
	t->cgroup = ev->cgroup_id;
}

/* The row of a closing session always exists: it carries the times. */
static void close_times(struct ts_acct *a, uint32_t i,
			const struct ts_close_event *ev)
{
	struct ts_row *r = row_of(a, i);

	if (!r)
		return;
	r->birth_ns = ev->birth_ns;
	r->close_ns = ev->close_ns;
}

static void fill_closed(struct ts_acct *a, uint32_t i,
			const struct ts_close_event *ev)
{
	struct hot *h = &a->hot[i];
	struct ts_tuple t;
	struct ts_obs o;

	ts_obs_of_close(ev, &o);
	tuple_of_event(&t, ev);
	set_tuple(a, &a->cold[i], &t);
	h->state = TS_CLOSE;
	h->flags = F_CLOSED | F_FROM_ZERO | F_OWNER_TRIED;
	set_flag(h, F_SYN, o.syn_guess);
	set_flag(h, F_SYN_SURE, o.syn_rule >= 0);
	h->last_acked = o.acked;
	set_flag(h, F_LAST_FIN, o.fin);
	h->last_rx = o.rx;
	h->gen = a->gen;
	close_owner(a, i, ev);
	close_times(a, i, ev);
	credit(a, i, last_tx(h), h->last_rx);
}

static void close_row(struct ts_acct *a, const struct ts_close_event *ev)
{
	struct ts_row *r = row_push(a, NONE);
	struct ts_obs o;

	if (!r)
		return;
	ts_obs_of_close(ev, &o);
	r->cookie = ev->cookie;
	tuple_of_event(&r->tuple, ev);
	r->state = TS_CLOSE;
	r->closed = true;
	r->active = o.syn_guess;
	r->tx = ts_payload_tx(o.acked, o.syn_guess, o.fin);
	r->rx = o.rx;
	if (ev->flags & TS_CF_OWNER) {
		r->pid = ev->pid;
		memcpy(r->comm, ev->comm, TS_COMM_LEN);
		r->comm[TS_COMM_LEN - 1] = '\0';
	}
	r->birth_ns = ev->birth_ns;
	r->close_ns = ev->close_ns;
}

/*
 * A session the poller never saw: all its bytes belong to this run.  It
 * stays in the table, closed, so a dump that raced its close and still
 * lists it cannot count it again.
 */
static void close_unseen(struct ts_acct *a, const struct ts_close_event *ev)
{
	uint32_t i;

	/* Alive before the baseline and gone before it: not ours to count. */
	if (!ev->birth_ns && (!a->gen || ev->close_ns < a->baseline_ns)) {
		a->stats.closed_prebaseline++;
		return;
	}
	if (!(ev->flags & TS_CF_ACTIVE_KNOWN))
		a->stats.syn_guessed++;
	a->stats.closed_unseen++;
	i = ev->cookie ? add(a, ev->cookie) : NONE;
	if (i != NONE)
		fill_closed(a, i, ev);
	else
		close_row(a, ev);
}

void ts_acct_close(struct ts_acct *a, const struct ts_close_event *ev)
{
	uint32_t i = ev->cookie ? find(a, ev->cookie) : NONE;
	struct ts_obs o;
	struct hot *h;

	if (i == NONE) {
		close_unseen(a, ev);
		return;
	}
	h = &a->hot[i];
	if (h->flags & F_CLOSED) {
		a->stats.late_samples++;
		return;
	}
	ts_obs_of_close(ev, &o);
	if (!(h->flags & F_SYN_SURE) && o.syn_rule >= 0)
		settle_syn(a, i, o.syn_rule);
	account(a, i, &o);
	take_back_race(a, i, &o);
	pay_debit(a, h);
	close_owner(a, i, ev);
	h->state = TS_CLOSE;
	h->flags |= F_CLOSED;
	h->gen = a->gen;
	close_times(a, i, ev);
	a->stats.closed_seen++;
}

void ts_acct_set_owner(struct ts_acct *a, uint64_t cookie, uint32_t pid,
		       const char *comm)
{
	uint32_t i = cookie ? find(a, cookie) : NONE;
	char name[TS_COMM_LEN] = "";

	if (i == NONE)
		return;
	a->hot[i].flags |= F_OWNER_TRIED;
	if (!pid)
		return;
	strncpy(name, comm ? comm : "", TS_COMM_LEN - 1);
	set_comm(&a->cold[i], pid, name);
}

static bool unowned(const struct hot *h)
{
	return !(h->flags & (F_OWNER_TRIED | F_CLOSED));
}

void ts_acct_foreach_unowned(struct ts_acct *a, ts_unowned_fn fn, void *arg)
{
	uint32_t i, left = 0;

	if (!a->maybe_unowned)
		return;
	for (i = 0; i < a->n; i++) {
		struct ts_tuple t;

		if (!unowned(&a->hot[i]))
			continue;
		get_tuple(a, &t, &a->cold[i]);
		fn(a->hot[i].cookie, a->hot[i].inode, &t, arg);
		left += unowned(&a->hot[i]);
	}
	a->maybe_unowned = left;
}

/* What the table holds of a session, into the row that carries its bytes. */
static void fill_row(struct ts_acct *a, struct ts_row *r, uint32_t i)
{
	const struct hot *h = &a->hot[i];
	const struct cold *c = &a->cold[i];

	r->cookie = h->cookie;
	get_tuple(a, &r->tuple, c);
	r->state = h->state;
	r->closed = !!(h->flags & F_CLOSED);
	r->pid = c->pid;
	r->uid = h->uid;
	r->inode = h->inode;
	memcpy(r->comm, c->comm, TS_COMM_LEN);
	r->active = !!(h->flags & F_SYN);
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

/*
 * The rows built this interval become the answer; the previous answer's
 * memory takes their place for the next interval.
 */
size_t ts_acct_rows(struct ts_acct *a, enum ts_sort sort,
		    const struct ts_row **rows)
{
	struct rows *p = &a->pend;
	struct ts_row *v = p->v;
	size_t i, n = 0, cap = p->cap;

	for (i = 0; i < p->n; i++) {
		uint32_t s = p->sess[i];

		if (s != NONE) {
			fill_row(a, &v[i], s);
			a->hot[s].row = NONE;
		}
		if (v[i].tx || v[i].rx)
			v[n++] = v[i];
	}
	if (n)
		qsort_r(v, n, sizeof(*v), cmp_rows, &sort);
	p->v = a->out;
	p->cap = a->out_cap;
	p->n = 0;
	a->out = v;
	a->out_cap = cap;
	*rows = v;
	return n;
}

const struct ts_acct_stats *ts_acct_stats(const struct ts_acct *a)
{
	return &a->stats;
}

/* Touched memory: arrays grow by doubling, untouched tails cost nothing. */
void ts_acct_layout(const struct ts_acct *a, struct ts_acct_layout *l)
{
	l->table_bytes = (uint64_t)a->n * (sizeof(struct hot) +
					   sizeof(struct cold)) +
			 (uint64_t)a->icap * sizeof(*a->index);
	l->row_bytes = (a->pend.cap + a->out_cap) * sizeof(struct ts_row) +
		       a->pend.sess_cap * sizeof(uint32_t);
	l->lookups = a->lookups;
	l->reorders = a->reorders;
	l->index_slots = a->icap;
}

bool ts_acct_session_info(struct ts_acct *a, uint64_t cookie,
			  struct ts_session_info *info)
{
	uint32_t i = cookie ? find(a, cookie) : NONE;

	if (i == NONE)
		return false;
	info->syn = syn_of(&a->hot[i]);
	info->syn_sure = !!(a->hot[i].flags & F_SYN_SURE);
	info->pid = a->cold[i].pid;
	memcpy(info->comm, a->cold[i].comm, TS_COMM_LEN);
	return true;
}
