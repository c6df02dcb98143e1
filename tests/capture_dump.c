// SPDX-License-Identifier: GPL-2.0
/*
 * Captures a real sock_diag dump as a parser fixture: sets up loopback
 * connections in known states with known bytes, dumps them through the
 * poller, writes the raw reply buffers and, beside them, what
 * getsockopt(TCP_INFO) says of the same sockets at the same moment.
 *
 * usage: capture_dump FIXTURE.bin EXPECTED.txt
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../poller/poller.h"

struct conn {
	int cli, srv;
};

static void die(const char *what)
{
	fprintf(stderr, "capture_dump: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void send_all(int fd, size_t n)
{
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	while (n) {
		ssize_t w = write(fd, buf, n < sizeof(buf) ? n : sizeof(buf));

		if (w <= 0)
			die("write");
		n -= w;
	}
}

static void recv_all(int fd, size_t n)
{
	char buf[4096];

	while (n) {
		ssize_t r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));

		if (r <= 0)
			die("read");
		n -= r;
	}
}

static struct conn make_conn(int family, size_t c2s, size_t s2c)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) :
			sizeof(struct sockaddr_in6);
	int lfd = socket(family, SOCK_STREAM, 0);
	struct conn c;

	ss.ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (lfd < 0 || bind(lfd, (void *)&ss, len) || listen(lfd, 4) ||
	    getsockname(lfd, (void *)&ss, &len))
		die("listen");
	c.cli = socket(family, SOCK_STREAM, 0);
	if (c.cli < 0 || connect(c.cli, (void *)&ss, len))
		die("connect");
	c.srv = accept(lfd, NULL, NULL);
	if (c.srv < 0)
		die("accept");
	close(lfd);
	send_all(c.cli, c2s);
	recv_all(c.srv, c2s);
	send_all(c.srv, s2c);
	recv_all(c.cli, s2c);
	return c;
}

static void expect(FILE *f, int fd)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	uint16_t lport, rport;

	if (getsockname(fd, (void *)&l, &ll) || getpeername(fd, (void *)&r, &rl) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl))
		die("getsockopt");
	lport = ntohs(((struct sockaddr_in *)&l)->sin_port);
	rport = ntohs(((struct sockaddr_in *)&r)->sin_port);
	fprintf(f, "%d %u %u %u %llu %llu %llu\n", l.ss_family, lport, rport,
		ti.tcpi_state, (unsigned long long)ti.tcpi_bytes_acked,
		(unsigned long long)ti.tcpi_bytes_received,
		(unsigned long long)ti.tcpi_bytes_sent);
}

static void tap(void *buf, size_t len, void *arg)
{
	if (fwrite(buf, 1, len, arg) != len)
		die("fwrite");
}

/* The fixture is the raw bytes (tap): the samples themselves are not needed. */
static void ignore_sample(const struct ts_sample *s, void *arg)
{
	(void)s;
	(void)arg;
}

int main(int argc, char **argv)
{
	struct conn c[4];
	struct ts_poller *p;
	FILE *bin, *txt;
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: capture_dump FIXTURE.bin EXPECTED.txt\n");
		return 2;
	}
	c[0] = make_conn(AF_INET, 1234, 4321);
	c[1] = make_conn(AF_INET6, 2345, 5432);
	c[2] = make_conn(AF_INET, 3456, 6543);
	c[3] = make_conn(AF_INET6, 4567, 7654);
	/* FIN_WAIT2 / CLOSE_WAIT pairs: the FIN slots show in the counters. */
	shutdown(c[2].cli, SHUT_WR);
	shutdown(c[3].srv, SHUT_WR);
	usleep(100000);
	bin = fopen(argv[1], "wb");
	txt = fopen(argv[2], "w");
	p = ts_poller_open(TS_REQ_COMPAT, 32768);
	if (!bin || !txt || !p)
		die("open");
	for (i = 0; i < 4; i++) {
		expect(txt, c[i].cli);
		expect(txt, c[i].srv);
	}
	ts_poller_set_tap(p, tap, bin);
	if (ts_poller_dump(p, ignore_sample, NULL))
		die("dump");
	printf("captured %llu sockets\n",
	       (unsigned long long)ts_poller_stats(p)->samples);
	fclose(bin);
	fclose(txt);
	ts_poller_close(p);
	return 0;
}
