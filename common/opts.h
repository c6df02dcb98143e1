/* SPDX-License-Identifier: GPL-2.0 */
/* Option parsing shared by the front ends: one error style, exit 2. */
#ifndef TS_OPTS_H
#define TS_OPTS_H

#include <stdbool.h>
#include <stdint.h>

/* Prints "prog: message" and the usage to stderr, exits 2. */
void __attribute__((noreturn, format(printf, 3, 4)))
ts_usage_error(const char *prog, const char *usage, const char *fmt, ...);

/* getopt_long() returned ':' or '?': name the culprit, exit 2. */
void __attribute__((noreturn))
ts_bad_option(const char *prog, const char *usage, int c, char **argv);

bool ts_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
bool ts_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds, fractions allowed, > 0 and at most a day. */
bool ts_parse_interval(const char *s, double *out);
/* "80,443": 1..65535 each, at most @max of them. */
bool ts_parse_ports(const char *s, uint16_t *ports, unsigned int *n,
		    unsigned int max);

#endif
