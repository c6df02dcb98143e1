// SPDX-License-Identifier: GPL-2.0
#include "budget.h"

/* Enough smoothing that one slow dump does not double the interval. */
#define WEIGHT 0.3

static double smooth(double old, double v, int samples)
{
	return samples ? old + WEIGHT * (v - old) : v;
}

static double pick(struct ts_budget *b, double want)
{
	double last = b->last > 0 ? b->last : b->base;

	if (want > 2 * last)
		want = 2 * last;
	if (want > b->max)
		want = b->max;
	if (want < b->base)
		want = b->base;
	b->last = want;
	return want;
}

double ts_budget_next(struct ts_budget *b, double poll_cpu, double total_cpu,
		      double period)
{
	double other = total_cpu - poll_cpu, room;

	if (other < 0)
		other = 0;
	b->poll_cost = smooth(b->poll_cost, poll_cpu, b->samples);
	if (period > 0)
		b->other_rate = smooth(b->other_rate, other / period, b->samples);
	b->samples++;
	if (b->budget <= 0)
		return b->base;
	/* What is left for polling once the rest has taken its share. */
	room = b->budget - b->other_rate;
	if (room <= b->budget / 100)
		return pick(b, b->max);
	return pick(b, b->poll_cost / room);
}
