/* SPDX-License-Identifier: GPL-2.0 */
/* GET /metrics over libmicrohttpd, on its own thread. */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "metrics.h"

/*
 * Renders the exposition in @fmt: a malloc'd buffer the server frees, or
 * NULL (500).  Called on the server's thread: lock what it reads.
 */
typedef char *(*ts_http_render_fn)(enum ts_expo fmt, size_t *len, void *arg);

struct ts_http;

/* "127.0.0.1:9630", "[::1]:9630", "0.0.0.0:9630": false if not one. */
bool ts_parse_listen(const char *s, struct sockaddr_storage *ss,
		     socklen_t *len);
/* NULL with a one-line reason (address in use, ...). */
struct ts_http *ts_http_start(const struct sockaddr_storage *ss,
			      ts_http_render_fn render, void *arg,
			      char *err, size_t errlen);
void ts_http_stop(struct ts_http *h);

#endif
