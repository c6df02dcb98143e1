// SPDX-License-Identifier: GPL-2.0
#include "budget.h"

/* Enough smoothing that one slow dump does not double the interval. */
#define WEIGHT 0.3

static double smooth(double old, double v, int samples)
{
	return samples ? old + WEIGHT * (v - old) : v;
}

double ts_budget_next(struct ts_budget *b, double poll_cpu, double total_cpu,
		      double period)
{
	double other = total_cpu - poll_cpu, room, want;

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
		return b->max;
	want = b->poll_cost / room;
	if (want < b->base)
		return b->base;
	return want > b->max ? b->max : want;
}
