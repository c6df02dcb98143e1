/* SPDX-License-Identifier: GPL-2.0 */
/* --max-cpu: the poll interval that keeps a daemon under a CPU budget. */
#ifndef TS_BUDGET_H
#define TS_BUDGET_H

struct ts_budget {
	double base;			/* seconds: the interval asked for */
	double max;			/* seconds: never longer */
	double budget;			/* CPU fraction allowed (0.01 = 1%); 0: none */
	double poll_cost;		/* seconds of CPU per poll, smoothed */
	double other_rate;		/* CPU fraction spent between polls, smoothed */
	double last;			/* the interval returned last; 0: base */
	int samples;
};

/*
 * One poll took @poll_cpu seconds of CPU; in the @period seconds since the
 * last one the process used @total_cpu in all.  Returns the interval to
 * use next: the base, or longer so that poll_cost / interval + other_rate
 * stays under the budget.  It at most doubles per poll, so one noisy
 * measurement cannot stall polling for long.
 */
double ts_budget_next(struct ts_budget *b, double poll_cpu, double total_cpu,
		      double period);

#endif
