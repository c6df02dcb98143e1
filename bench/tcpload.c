// SPDX-License-Identifier: GPL-2.0
/*
 * tcpload: TCP workload generator that prints exact ground truth.
 *
 * A server process and a client process exchange request/response
 * messages whose sizes differ per connection, then close in a chosen way.
 * Each side uses threads, so all connections of one side share one tgid,
 * which is what a per-process monitor attributes them to.  Each side
 * prints one JSON line per connection with the payload bytes it actually
 * moved, so a monitoring tool's numbers can be checked exactly.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define HDR_LEN		16
#define MAX_PORTS	256
#define MAX_CONNS	10000000UL
#define MAX_THREADS	1024UL
#define MAX_IDLE	1000000UL
#define MAX_ROUNDS	1000000UL
#define MAX_MS		86400000UL
#define MAX_TIMEOUT_S	604800UL
#define IO_CHUNK	16384
#define THREAD_STACK	(256 * 1024)
#define LISTEN_BACKLOG	4096
#define MAX_EINTR	100000U
#define ACK_WAIT_MS	5000
#define IDLE_INFLIGHT	1024
#define IDLE_PER_PORT	20000
#define IDLE_GRACE_S	60
#define KILL_GRACE_MS	2000
#define REAP_MAX_LOOPS	10000000
#define MAX_MSG		(16UL << 20)
#define MAX_MSGS	1000000000000UL
#define MAX_BULK	(1UL << 50)
#define MAX_THINK_US	1000000UL
#define PP_MSG_DEF	64
#define BULK_MSG_DEF	65536
#define STREAM_MAGIC	0x74637073U	/* "tcps": stream-mode header */
#define BULK_REPLY	16
#define MAX_GETPPID	1000000000UL

enum { SIDE_SERVER, SIDE_CLIENT };
enum { ACK_NONE, ACK_DONE, ACK_GAVE_UP };
enum { CM_CLIENT, CM_SERVER, CM_RESET_CLIENT, CM_RESET_SERVER, CM_MIXED };

static const char *const mode_names[] = {
	"client", "server", "reset-client", "reset-server", "mixed",
};

static const char *const side_names[] = { "server", "client" };

struct opts {
	unsigned long family;
	const char *addr_str;
	unsigned long port;
	unsigned long port_count;	/* 0: pick automatically */
	const char *ns[2];		/* indexed by side */
	unsigned long conns;
	unsigned long parallel;
	unsigned long tx_base, tx_step, rx_base, rx_step;
	unsigned long rounds;
	unsigned long gap_ms;
	unsigned long hold_ms;
	int close_mode;
	unsigned long timeout_s;
	unsigned long idle;
	const char *ready_file;
	const char *hold_until;	/* hold ends when this path exists */
	unsigned long pingpong;		/* messages per connection */
	unsigned long bulk;		/* bytes per connection */
	unsigned long msg_size;		/* 0: mode default */
	unsigned long duration_ms;	/* 0: no time bound per connection */
	unsigned long think_us;
	unsigned long getppid;		/* tax mode: calls of getppid() */
	int no_cookie;			/* never ask SO_COOKIE, like real software */
};

static struct opts opt = {
	.family = 4,
	.conns = 10,
	.parallel = 1,
	.tx_base = 1000,
	.tx_step = 7,
	.rx_base = 2000,
	.rx_step = 13,
	.rounds = 1,
	.close_mode = CM_CLIENT,
	.timeout_s = 60,
};

/* Compact endpoint: idle mode keeps one pair per connection in memory. */
struct endp {
	uint8_t addr[16];
	uint16_t port;
	uint64_t cookie;	/* local end: the socket's SO_COOKIE */
};

struct conn {
	int fd;
	long idx;		/* server: -1 until the first header arrives */
	struct endp l, r;
	uint64_t tx, rx;
	struct timespec start, end;
	const char *close;
};

struct iconn {
	int fd;
	uint8_t tx, rx;
	struct endp l, r;
	struct timespec start;
};

static struct sockaddr_storage srv_addr;
static uint16_t ports[MAX_PORTS];
static unsigned int nports;
static int src_rotate;
static uint8_t *acks;		/* shared: [2 * conn + side] */
static pid_t self_pid, parent_pid;
static char zeros[IO_CHUNK];
static volatile sig_atomic_t stop;
static volatile pid_t kids[2];
static char alarm_msg[128];
static size_t alarm_len;
/* Stream modes: send/recv syscalls, per thread, summed across processes. */
static __thread uint64_t io_calls;
static uint64_t *calls_total;	/* shared with the parent */

static const char usage_text[] =
"usage: tcpload [options]\n"
"  --family 4|6            address family (default 4)\n"
"  --addr ADDR             server address (default 127.0.0.1 or ::1)\n"
"  --port P                first server port, 0 = kernel picks (default 0)\n"
"  --port-count C          listen on C ports; connection i uses port i % C\n"
"                          (default 1; idle mode: N/20000 rounded up,\n"
"                          except IPv4 loopback, where the client rotates\n"
"                          its source over 127.0.1.1-127.0.1.254 instead)\n"
"  --server-netns NAME     server joins /run/netns/NAME\n"
"  --client-netns NAME     client joins /run/netns/NAME\n"
"  --conns N               connections (default 10)\n"
"  --parallel K            client threads, connections round-robin (1)\n"
"  --tx-base B --tx-step S client bytes per round on conn i: B + i*S\n"
"                          (default 1000, 7); each client message starts\n"
"                          with a 16-byte header, so values below 16 are\n"
"                          raised to 16; the output reports what was sent\n"
"  --rx-base B --rx-step S server bytes per round on conn i: B + i*S\n"
"                          (default 2000, 13)\n"
"  --rounds R              request/response rounds (default 1)\n"
"  --round-gap-ms MS       client sleep between rounds (default 0)\n"
"  --hold-ms MS            first closer waits MS after the last round (0)\n"
"  --hold-until PATH       ... or until PATH exists, if sooner (a test's\n"
"                          signal that it has looked)\n"
"  --close MODE            client|server|reset-client|reset-server|mixed\n"
"                          (default client; mixed: conn i uses i % 4 in\n"
"                          that order); resets happen only after TCP\n"
"                          acked all data both ways, else the line says\n"
"                          \"rst-unacked\"\n"
"  --timeout-s T           hard bound for the run (default 60); in idle\n"
"                          mode, how long to hold before closing\n"
"  --idle N                open N connections moving 1 byte each way,\n"
"                          print \"ready N\" on stderr, hold until\n"
"                          SIGTERM/SIGINT or --timeout-s, then close;\n"
"                          server conn numbers are accept order\n"
"  --ready-file PATH       idle mode: create PATH once ready\n"
"  --pingpong MSGS         stream mode: after a 16-byte header, the client\n"
"                          sends MSGS messages of --msg-size bytes, the\n"
"                          server echoes each one back; one connection per\n"
"                          client thread at a time; only --close client\n"
"  --bulk BYTES            stream mode: after a 16-byte header, the client\n"
"                          streams BYTES in writes of --msg-size, shuts\n"
"                          down its write side, the server replies 16 bytes\n"
"  --msg-size B            stream message/write size (default 64 for\n"
"                          --pingpong, 65536 for --bulk)\n"
"  --duration-s S          stream modes: end each connection's loop after S\n"
"                          seconds (fractions allowed) even if MSGS/BYTES\n"
"                          were not reached; the output reports what moved\n"
"  --think-us U            --pingpong: the client spins U microseconds of\n"
"                          CPU before each message (application work)\n"
"  --no-cookie             never ask the kernel for a socket's cookie\n"
"                          (SO_COOKIE), as real software never does: the\n"
"                          truth is keyed by tuple and time only\n"
"  --getppid N             tax mode, no TCP: call getppid() N times (in\n"
"                          chunks of N/10) and print one JSON line with the\n"
"                          CPU ns per call (fastest chunk, thread CPU time,\n"
"                          so a syscall slow path the kernel imposes counts\n"
"                          and time spent preempted does not)\n"
"  stream modes also print \"calls N\" on stderr: send/recv syscalls made\n"
"  by both sides; tx/rx bases and steps and --rounds do not apply.\n"
"stdout: one JSON line per connection per side; stderr: everything else.\n"
"Exit: 0 both sides succeeded, 1 failure or timeout, 2 bad options.\n";

__attribute__((noreturn, format(printf, 1, 2)))
static void usage_err(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tcpload: %s (see --help)\n", msg);
	exit(2);
}

enum {
	OPT_FAMILY = 256, OPT_ADDR, OPT_PORT, OPT_PORT_COUNT, OPT_SNS, OPT_CNS,
	OPT_CONNS, OPT_PARALLEL, OPT_TXB, OPT_TXS, OPT_RXB, OPT_RXS,
	OPT_ROUNDS, OPT_GAP, OPT_HOLD, OPT_CLOSE, OPT_TIMEOUT, OPT_IDLE,
	OPT_READY, OPT_HOLD_UNTIL, OPT_PINGPONG, OPT_BULK, OPT_MSG_SIZE,
	OPT_DURATION, OPT_THINK, OPT_NO_COOKIE, OPT_GETPPID,
};

static const struct option long_opts[] = {
	{ "family", required_argument, NULL, OPT_FAMILY },
	{ "addr", required_argument, NULL, OPT_ADDR },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "port-count", required_argument, NULL, OPT_PORT_COUNT },
	{ "server-netns", required_argument, NULL, OPT_SNS },
	{ "client-netns", required_argument, NULL, OPT_CNS },
	{ "conns", required_argument, NULL, OPT_CONNS },
	{ "parallel", required_argument, NULL, OPT_PARALLEL },
	{ "tx-base", required_argument, NULL, OPT_TXB },
	{ "tx-step", required_argument, NULL, OPT_TXS },
	{ "rx-base", required_argument, NULL, OPT_RXB },
	{ "rx-step", required_argument, NULL, OPT_RXS },
	{ "rounds", required_argument, NULL, OPT_ROUNDS },
	{ "round-gap-ms", required_argument, NULL, OPT_GAP },
	{ "hold-ms", required_argument, NULL, OPT_HOLD },
	{ "close", required_argument, NULL, OPT_CLOSE },
	{ "timeout-s", required_argument, NULL, OPT_TIMEOUT },
	{ "idle", required_argument, NULL, OPT_IDLE },
	{ "ready-file", required_argument, NULL, OPT_READY },
	{ "hold-until", required_argument, NULL, OPT_HOLD_UNTIL },
	{ "pingpong", required_argument, NULL, OPT_PINGPONG },
	{ "bulk", required_argument, NULL, OPT_BULK },
	{ "msg-size", required_argument, NULL, OPT_MSG_SIZE },
	{ "duration-s", required_argument, NULL, OPT_DURATION },
	{ "think-us", required_argument, NULL, OPT_THINK },
	{ "no-cookie", no_argument, NULL, OPT_NO_COOKIE },
	{ "getppid", required_argument, NULL, OPT_GETPPID },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct num_opt {
	int code;
	unsigned long *dst;
	unsigned long min, max;
};

static const struct num_opt num_opts[] = {
	{ OPT_FAMILY, &opt.family, 4, 6 },
	{ OPT_PORT, &opt.port, 0, 65535 },
	{ OPT_PORT_COUNT, &opt.port_count, 1, MAX_PORTS },
	{ OPT_CONNS, &opt.conns, 1, MAX_CONNS },
	{ OPT_PARALLEL, &opt.parallel, 1, MAX_THREADS },
	{ OPT_TXB, &opt.tx_base, 0, UINT32_MAX },
	{ OPT_TXS, &opt.tx_step, 0, UINT32_MAX },
	{ OPT_RXB, &opt.rx_base, 0, UINT32_MAX },
	{ OPT_RXS, &opt.rx_step, 0, UINT32_MAX },
	{ OPT_ROUNDS, &opt.rounds, 1, MAX_ROUNDS },
	{ OPT_GAP, &opt.gap_ms, 0, MAX_MS },
	{ OPT_HOLD, &opt.hold_ms, 0, MAX_MS },
	{ OPT_TIMEOUT, &opt.timeout_s, 1, MAX_TIMEOUT_S },
	{ OPT_IDLE, &opt.idle, 1, MAX_IDLE },
	{ OPT_PINGPONG, &opt.pingpong, 1, MAX_MSGS },
	{ OPT_BULK, &opt.bulk, 1, MAX_BULK },
	{ OPT_MSG_SIZE, &opt.msg_size, 1, MAX_MSG },
	{ OPT_THINK, &opt.think_us, 0, MAX_THINK_US },
	{ OPT_GETPPID, &opt.getppid, 10, MAX_GETPPID },
};

static const char *opt_name(int code)
{
	const struct option *o;

	for (o = long_opts; o->name; o++)
		if (o->val == code)
			return o->name;
	return "?";
}

static void parse_num(const struct num_opt *n, const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < n->min || v > n->max)
		goto bad;
	*n->dst = v;
	return;
bad:
	usage_err("--%s wants an integer in %lu..%lu, got '%s'",
		  opt_name(n->code), n->min, n->max, s);
}

static int parse_close(const char *s)
{
	int i;

	for (i = 0; i <= CM_MIXED; i++)
		if (!strcmp(s, mode_names[i]))
			return i;
	usage_err("--close wants client|server|reset-client|reset-server|mixed, got '%s'",
		  s);
}

static const char *check_ns(const char *s)
{
	if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..") ||
	    strlen(s) > 200)
		usage_err("bad netns name '%s'", s);
	return s;
}

/* Seconds with up to three decimals, kept as milliseconds. */
static void parse_duration(const char *s)
{
	unsigned long sec, ms = 0, scale = 100;
	const char *p;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	sec = strtoul(s, &end, 10);
	if (errno || sec > MAX_MS / 1000)
		goto bad;
	if (*end == '.') {
		for (p = end + 1; *p >= '0' && *p <= '9' && scale; p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (p == end + 1)
			goto bad;
		end = (char *)p;
	}
	if (*end || !(sec * 1000 + ms))
		goto bad;
	opt.duration_ms = sec * 1000 + ms;
	return;
bad:
	usage_err("--duration-s wants seconds > 0 (up to 3 decimals), got '%s'",
		  s);
}

static int parse_str_opt(int c, const char *arg)
{
	switch (c) {
	case OPT_DURATION:
		parse_duration(arg);
		return 0;
	case OPT_ADDR:
		opt.addr_str = arg;
		return 0;
	case OPT_SNS:
		opt.ns[SIDE_SERVER] = check_ns(arg);
		return 0;
	case OPT_CNS:
		opt.ns[SIDE_CLIENT] = check_ns(arg);
		return 0;
	case OPT_CLOSE:
		opt.close_mode = parse_close(arg);
		return 0;
	case OPT_NO_COOKIE:
		opt.no_cookie = 1;
		return 0;
	case OPT_READY:
		if (!*arg)
			usage_err("--ready-file wants a path");
		opt.ready_file = arg;
		return 0;
	case OPT_HOLD_UNTIL:
		if (!*arg)
			usage_err("--hold-until wants a path");
		opt.hold_until = arg;
		return 0;
	}
	return -1;
}

static void parse_one(int c, const char *arg, char **argv)
{
	size_t i;

	if (c == 'h') {
		fputs(usage_text, stdout);
		exit(0);
	}
	if (c == ':')
		usage_err("option '%s' needs an argument", argv[optind - 1]);
	if (c == '?')
		usage_err("unknown option '%s'", argv[optind - 1]);
	for (i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++) {
		if (num_opts[i].code == c) {
			parse_num(&num_opts[i], arg);
			return;
		}
	}
	if (parse_str_opt(c, arg))
		usage_err("unexpected option");
}

static int fill_srv_addr(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&srv_addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&srv_addr;

	memset(&srv_addr, 0, sizeof(srv_addr));
	if (opt.family == 4) {
		sin->sin_family = AF_INET;
		return inet_pton(AF_INET, opt.addr_str, &sin->sin_addr) == 1 ?
		       0 : -1;
	}
	sin6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, opt.addr_str, &sin6->sin6_addr) == 1 ?
	       0 : -1;
}

/* Sizes travel as u32 in the header, so the largest one must fit. */
static int len_fits(unsigned long base, unsigned long step)
{
	unsigned long last = opt.idle ? 0 : opt.conns - 1;

	return !step || !last || last <= (UINT32_MAX - base) / step;
}

static void pick_port_count(void)
{
	const struct sockaddr_in *sin = (const void *)&srv_addr;

	src_rotate = opt.idle && opt.family == 4 &&
		     (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (opt.port_count)
		return;
	opt.port_count = 1;
	if (opt.idle && !src_rotate)
		opt.port_count = (opt.idle + IDLE_PER_PORT - 1) / IDLE_PER_PORT;
}

static int stream_mode(void)
{
	return opt.pingpong || opt.bulk;
}

static void check_stream_opts(void)
{
	if (opt.pingpong && opt.bulk)
		usage_err("--pingpong and --bulk exclude each other");
	if (!stream_mode()) {
		if (opt.msg_size || opt.duration_ms || opt.think_us)
			usage_err("--msg-size, --duration-s and --think-us need --pingpong or --bulk");
		return;
	}
	if (opt.idle)
		usage_err("--idle excludes --pingpong and --bulk");
	/* The server learns the end from EOF, so the client closes first. */
	if (opt.close_mode != CM_CLIENT)
		usage_err("--pingpong and --bulk support only --close client");
	if (opt.think_us && !opt.pingpong)
		usage_err("--think-us needs --pingpong");
	if (!opt.msg_size)
		opt.msg_size = opt.pingpong ? PP_MSG_DEF : BULK_MSG_DEF;
}

static void check_opts(void)
{
	if (opt.family != 4 && opt.family != 6)
		usage_err("--family must be 4 or 6");
	if (!opt.addr_str)
		opt.addr_str = opt.family == 4 ? "127.0.0.1" : "::1";
	if (fill_srv_addr())
		usage_err("bad --addr '%s' for family %lu", opt.addr_str,
			  opt.family);
	if (!len_fits(opt.tx_base, opt.tx_step) ||
	    !len_fits(opt.rx_base, opt.rx_step))
		usage_err("base + (conns - 1) * step must stay below 2^32");
	if (opt.ready_file && !opt.idle)
		usage_err("--ready-file needs --idle");
	check_stream_opts();
	pick_port_count();
	if (opt.port && opt.port + opt.port_count - 1 > 65535)
		usage_err("--port + --port-count - 1 exceeds 65535");
	if (opt.parallel > opt.conns)
		opt.parallel = opt.conns;
}

static void parse_opts(int argc, char **argv)
{
	unsigned int n;
	int c;

	opterr = 0;
	for (n = 0; n < 1000; n++) {
		c = getopt_long(argc, argv, ":h", long_opts, NULL);
		if (c == -1)
			break;
		parse_one(c, optarg, argv);
	}
	if (optind < argc)
		usage_err("unexpected argument '%s'", argv[optind]);
	check_opts();
}

static void ts_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns early only when idle mode was told to stop. */
static void sleep_ms(unsigned long ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	unsigned int i;

	for (i = 0; i < MAX_EINTR && nanosleep(&ts, &ts); i++)
		if (errno != EINTR || stop)
			return;
}

/*
 * Move exactly len bytes, counting every byte the kernel took or gave.
 * Payload content is irrelevant, so buf is streamed cyclically; only the
 * first bytes (the header) are meaningful.
 */
static int io_exact(int fd, void *buf, size_t bufsz, uint64_t len, int wr,
		    uint64_t *count)
{
	uint64_t done = 0;
	unsigned int intr = 0;
	ssize_t n;

	while (done < len) {
		size_t off = done % bufsz;
		size_t want = bufsz - off;

		if (want > len - done)
			want = len - done;
		if (wr)
			n = write(fd, (char *)buf + off, want);
		else
			n = read(fd, (char *)buf + off, want);
		io_calls++;
		if (n > 0) {
			done += n;
			*count += n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno != EINTR || ++intr > MAX_EINTR)
			return -errno;
	}
	return 0;
}

static const char *err_str(int err)
{
	if (err == -EPIPE)
		return "unexpected EOF";
	if (err == -EPROTO)
		return "protocol violation";
	return strerror(-err);
}

static void endp_from(const struct sockaddr_storage *ss, struct endp *e)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		memcpy(e->addr, &sin->sin_addr, 4);
		e->port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(e->addr, &sin6->sin6_addr, 16);
		e->port = ntohs(sin6->sin6_port);
	}
}

/*
 * Taken early: after a reset getpeername() fails with ENOTCONN.  The
 * cookie is the session's name in the truth: a 4-tuple comes back at once
 * when a reset frees its port, a cookie never does.
 */
static void capture(int fd, struct endp *l, struct endp *r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!getsockname(fd, (struct sockaddr *)&ss, &len))
		endp_from(&ss, l);
	len = sizeof(ss);
	if (!getpeername(fd, (struct sockaddr *)&ss, &len))
		endp_from(&ss, r);
	/* Asking makes the cookie: --no-cookie leaves that to the tools. */
	l->cookie = 0;
	len = sizeof(l->cookie);
	if (!opt.no_cookie &&
	    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &l->cookie, &len))
		l->cookie = 0;
}

static socklen_t make_addr(struct sockaddr_storage *ss, uint16_t port)
{
	*ss = srv_addr;
	if (opt.family == 4) {
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		return sizeof(struct sockaddr_in);
	}
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return sizeof(struct sockaddr_in6);
}

static void write_all(int fd, const char *buf, size_t len)
{
	uint64_t done = 0;

	if (io_exact(fd, (void *)buf, len, len, 1, &done))
		fprintf(stderr, "tcpload: writing ground truth: %s\n",
			strerror(errno));
}

/* One write() per line so lines of both processes never interleave. */
static void emit(int side, const struct conn *c)
{
	int af = opt.family == 4 ? AF_INET : AF_INET6;
	char la[INET6_ADDRSTRLEN] = "", ra[INET6_ADDRSTRLEN] = "";
	char line[512];
	int n;

	inet_ntop(af, c->l.addr, la, sizeof(la));
	inet_ntop(af, c->r.addr, ra, sizeof(ra));
	n = snprintf(line, sizeof(line),
		     "{\"role\":\"%s\",\"pid\":%d,\"conn\":%ld,\"family\":%lu,"
		     "\"laddr\":\"%s\",\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,"
		     "\"tx\":%" PRIu64 ",\"rx\":%" PRIu64 ",\"close\":\"%s\","
		     "\"cookie\":%" PRIu64 ","
		     "\"start_ts\":%lld.%06ld,\"end_ts\":%lld.%06ld}\n",
		     side_names[side], (int)self_pid, c->idx, opt.family,
		     la, c->l.port, ra, c->r.port, c->tx, c->rx, c->close,
		     c->l.cookie,
		     (long long)c->start.tv_sec, c->start.tv_nsec / 1000,
		     (long long)c->end.tv_sec, c->end.tv_nsec / 1000);
	if (n > 0 && (size_t)n < sizeof(line))
		write_all(1, line, n);
}

static uint32_t tx_len(unsigned long i)
{
	unsigned long v = opt.tx_base + i * opt.tx_step;

	return v < HDR_LEN ? HDR_LEN : v;
}

static uint32_t rx_len(unsigned long i)
{
	return opt.rx_base + i * opt.rx_step;
}

static int conn_mode(long i)
{
	return opt.close_mode == CM_MIXED ? i % 4 : opt.close_mode;
}

static void set_ack(long idx, int side, uint8_t v)
{
	__atomic_store_n(&acks[2 * idx + side], v, __ATOMIC_RELEASE);
}

static uint8_t get_ack(long idx, int side)
{
	return __atomic_load_n(&acks[2 * idx + side], __ATOMIC_ACQUIRE);
}

/* SIOCOUTQ counts sent but unacknowledged bytes: 0 means all acked. */
static int wait_outq_empty(int fd)
{
	int64_t end = mono_ms() + ACK_WAIT_MS;
	unsigned int i;
	int n;

	for (i = 0; i <= ACK_WAIT_MS; i++) {
		if (ioctl(fd, SIOCOUTQ, &n))
			return -1;
		if (!n)
			return 0;
		if (mono_ms() >= end)
			break;
		sleep_ms(1);
	}
	return -1;
}

/* --hold-ms, cut short once --hold-until's path exists. */
static void hold(void)
{
	int64_t end = mono_ms() + (int64_t)opt.hold_ms;

	if (!opt.hold_until) {
		sleep_ms(opt.hold_ms);
		return;
	}
	while (mono_ms() < end && access(opt.hold_until, F_OK))
		sleep_ms(5);
}

static int wait_peer_ack(long idx, int peer)
{
	int64_t end = mono_ms() + ACK_WAIT_MS;
	unsigned int i;
	uint8_t v;

	for (i = 0; i <= ACK_WAIT_MS; i++) {
		v = get_ack(idx, peer);
		if (v != ACK_NONE)
			return v == ACK_DONE ? 0 : -1;
		if (mono_ms() >= end)
			break;
		sleep_ms(1);
	}
	return -1;
}

/*
 * The first closer may reset only once both directions are acked, so the
 * kernel's byte counters are final when the RST goes out.
 */
static int close_first(struct conn *c, int side, int reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (reset) {
		c->close = "rst";
		if (wait_outq_empty(c->fd) || wait_peer_ack(c->idx, !side)) {
			fprintf(stderr,
				"tcpload: %s conn %ld: data not acked within %d ms, resetting anyway\n",
				side_names[side], c->idx, ACK_WAIT_MS);
			c->close = "rst-unacked";
		}
	}
	hold();
	if (reset && setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
		fprintf(stderr, "tcpload: %s conn %ld: SO_LINGER: %s\n",
			side_names[side], c->idx, strerror(errno));
		c->close = "error";
		return -1;
	}
	return 0;
}

static int await_peer_close(struct conn *c, char *rbuf)
{
	unsigned int intr;
	ssize_t n = -1;

	for (intr = 0; intr < MAX_EINTR; intr++) {
		n = read(c->fd, rbuf, IO_CHUNK);
		io_calls++;
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n > 0) {
		c->rx += n;
		return -EPROTO;
	}
	return n ? -errno : 0;
}

static int close_second(struct conn *c, int side, int reset, char *rbuf)
{
	int unacked = 0;
	int err;

	if (reset) {
		unacked = wait_outq_empty(c->fd) != 0;
		set_ack(c->idx, side, unacked ? ACK_GAVE_UP : ACK_DONE);
		if (unacked)
			fprintf(stderr,
				"tcpload: %s conn %ld: data not acked within %d ms\n",
				side_names[side], c->idx, ACK_WAIT_MS);
	}
	err = await_peer_close(c, rbuf);
	if (err && err != -ECONNRESET) {
		c->close = "error";
		fprintf(stderr, "tcpload: %s conn %ld: waiting for close: %s\n",
			side_names[side], c->idx, err_str(err));
		return -1;
	}
	c->close = err ? "rst" : "fin";
	if (unacked)
		c->close = "rst-unacked";
	if (err && !reset) {
		fprintf(stderr, "tcpload: %s conn %ld: unexpected reset\n",
			side_names[side], c->idx);
		return -1;
	}
	if (!err && reset)
		fprintf(stderr, "tcpload: %s conn %ld: peer sent FIN, not RST\n",
			side_names[side], c->idx);
	return 0;
}

static int finish(struct conn *c, int side, char *rbuf)
{
	int mode = conn_mode(c->idx);
	int reset = mode == CM_RESET_CLIENT || mode == CM_RESET_SERVER;
	int client_first = mode == CM_CLIENT || mode == CM_RESET_CLIENT;

	if (client_first == (side == SIDE_CLIENT))
		return close_first(c, side, reset);
	return close_second(c, side, reset, rbuf);
}

static void io_failed(struct conn *c, int side, int err)
{
	c->close = err == -ECONNRESET ? "rst" : "error";
	fprintf(stderr, "tcpload: %s conn %ld: %s\n", side_names[side], c->idx,
		err_str(err));
}

struct cli_thr {
	pthread_t tid;
	unsigned long first;
	int failed;
	uint64_t tx, rx;
};

static int client_round(struct conn *c, uint32_t r, char *wbuf, char *rbuf)
{
	uint32_t tl = tx_len(c->idx), rl = rx_len(c->idx);
	uint32_t h[4] = { htonl(c->idx), htonl(r), htonl(tl), htonl(rl) };
	int err;

	memcpy(wbuf, h, HDR_LEN);
	err = io_exact(c->fd, wbuf, IO_CHUNK, tl, 1, &c->tx);
	if (!err)
		err = io_exact(c->fd, rbuf, IO_CHUNK, rl, 0, &c->rx);
	return err;
}

static int client_rounds(struct conn *c, char *wbuf, char *rbuf)
{
	unsigned long r;
	int err = 0;

	for (r = 0; r < opt.rounds && !err; r++) {
		if (r)
			sleep_ms(opt.gap_ms);
		err = client_round(c, r, wbuf, rbuf);
	}
	return err;
}

/* ---- stream modes: --pingpong and --bulk ---- */

static size_t stream_buf_size(void)
{
	return opt.msg_size < HDR_LEN ? HDR_LEN : opt.msg_size;
}

static void add_calls(uint64_t n)
{
	if (calls_total)
		__atomic_add_fetch(calls_total, n, __ATOMIC_RELAXED);
}

static int time_is_up(int64_t end)
{
	return opt.duration_ms && mono_ms() >= end;
}

/* Spins rather than sleeps: application work keeps the CPU busy. */
static void think(void)
{
	int64_t ns = (int64_t)opt.think_us * 1000, d;
	struct timespec a, b;
	unsigned long i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < 100000000UL; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		d = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000LL +
		    (b.tv_nsec - a.tv_nsec);
		if (d >= ns)
			break;
	}
}

static int send_stream_hdr(struct conn *c, char *wbuf)
{
	uint32_t h[4] = { htonl(c->idx), htonl(STREAM_MAGIC),
			  htonl(opt.msg_size), htonl(opt.pingpong ? 1 : 2) };

	memcpy(wbuf, h, HDR_LEN);
	return io_exact(c->fd, wbuf, HDR_LEN, HDR_LEN, 1, &c->tx);
}

static int client_pingpong(struct conn *c, char *wbuf, char *rbuf)
{
	int64_t end = mono_ms() + (int64_t)opt.duration_ms;
	unsigned long m;
	int err = 0;

	for (m = 0; m < opt.pingpong && !err && !time_is_up(end); m++) {
		if (opt.think_us)
			think();
		err = io_exact(c->fd, wbuf, opt.msg_size, opt.msg_size, 1,
			       &c->tx);
		if (!err)
			err = io_exact(c->fd, rbuf, opt.msg_size, opt.msg_size,
				       0, &c->rx);
	}
	return err;
}

/* The server knows the stream ended from EOF, so the client half-closes. */
static int client_bulk(struct conn *c, char *wbuf, char *rbuf)
{
	int64_t end = mono_ms() + (int64_t)opt.duration_ms;
	uint64_t left = opt.bulk, n;
	int err = 0;

	while (left && !err && !time_is_up(end)) {
		n = left < opt.msg_size ? left : opt.msg_size;
		err = io_exact(c->fd, wbuf, n, n, 1, &c->tx);
		left -= n;
	}
	if (!err && shutdown(c->fd, SHUT_WR))
		err = -errno;
	if (!err)
		err = io_exact(c->fd, rbuf, BULK_REPLY, BULK_REPLY, 0, &c->rx);
	return err;
}

static int client_stream(struct conn *c, char *wbuf, char *rbuf)
{
	size_t sz = stream_buf_size();
	char *w = wbuf, *r = rbuf;
	int err = -ENOMEM;

	if (sz > IO_CHUNK) {
		w = calloc(1, sz);
		r = malloc(sz);
		if (!w || !r)
			goto out;
	}
	err = send_stream_hdr(c, w);
	if (!err)
		err = opt.pingpong ? client_pingpong(c, w, r) :
				     client_bulk(c, w, r);
out:
	if (w != wbuf)
		free(w);
	if (r != rbuf)
		free(r);
	return err;
}

static int client_exchange(struct conn *c, char *wbuf, char *rbuf)
{
	uint64_t calls = io_calls;
	int err;

	err = stream_mode() ? client_stream(c, wbuf, rbuf) :
			      client_rounds(c, wbuf, rbuf);
	if (err) {
		io_failed(c, SIDE_CLIENT, err);
		err = -1;
	} else {
		err = finish(c, SIDE_CLIENT, rbuf);
	}
	add_calls(io_calls - calls);
	return err;
}

static int client_conn(struct cli_thr *t, unsigned long i, char *wbuf,
		       char *rbuf)
{
	struct conn c = { .idx = i, .close = "fin" };
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, ports[i % nports]);
	int err = -1;

	c.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c.fd < 0) {
		fprintf(stderr, "tcpload: client conn %lu: socket: %s\n", i,
			strerror(errno));
		return -1;
	}
	ts_now(&c.start);
	if (connect(c.fd, (struct sockaddr *)&ss, len)) {
		c.close = "error";
		fprintf(stderr, "tcpload: client conn %lu: connect: %s\n", i,
			strerror(errno));
	} else {
		capture(c.fd, &c.l, &c.r);
		err = client_exchange(&c, wbuf, rbuf);
	}
	close(c.fd);
	ts_now(&c.end);
	emit(SIDE_CLIENT, &c);
	t->tx += c.tx;
	t->rx += c.rx;
	return err;
}

static void *client_thread(void *arg)
{
	struct cli_thr *t = arg;
	char wbuf[IO_CHUNK] = { 0 };
	char rbuf[IO_CHUNK];
	unsigned long i;

	for (i = t->first; i < opt.conns; i += opt.parallel)
		if (client_conn(t, i, wbuf, rbuf))
			t->failed = 1;
	return NULL;
}

static int run_client(void)
{
	struct cli_thr *t = calloc(opt.parallel, sizeof(*t));
	unsigned long i, started = 0;
	uint64_t tx = 0, rx = 0;
	pthread_attr_t attr;
	int failed = 0;

	if (!t)
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (i = 0; i < opt.parallel; i++, started++) {
		t[i].first = i;
		if (pthread_create(&t[i].tid, &attr, client_thread, &t[i])) {
			fprintf(stderr, "tcpload: client: cannot start thread\n");
			failed = 1;
			break;
		}
	}
	for (i = 0; i < started; i++) {
		pthread_join(t[i].tid, NULL);
		failed |= t[i].failed;
		tx += t[i].tx;
		rx += t[i].rx;
	}
	fprintf(stderr, "tcpload: client done: conns %lu tx %" PRIu64
		" rx %" PRIu64 "%s\n", opt.conns, tx, rx,
		failed ? " (with errors)" : "");
	free(t);
	return failed;
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long active;
	int failed;
	uint64_t tx, rx;
} srv = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0 };

static int check_hdr(struct conn *c, const uint32_t *h, uint32_t r)
{
	uint32_t idx = ntohl(h[0]);

	if (idx >= opt.conns || ntohl(h[1]) != r ||
	    ntohl(h[2]) != tx_len(idx) || ntohl(h[3]) != rx_len(idx))
		return -EPROTO;
	if (r && (long)idx != c->idx)
		return -EPROTO;
	c->idx = idx;
	return 0;
}

static int server_round(struct conn *c, uint32_t r, char *rbuf)
{
	uint32_t h[4];
	int err;

	err = io_exact(c->fd, h, HDR_LEN, HDR_LEN, 0, &c->rx);
	if (!err)
		err = check_hdr(c, h, r);
	if (!err)
		err = io_exact(c->fd, rbuf, IO_CHUNK, ntohl(h[2]) - HDR_LEN, 0,
			       &c->rx);
	if (!err)
		err = io_exact(c->fd, zeros, IO_CHUNK, ntohl(h[3]), 1, &c->tx);
	return err;
}

static int check_stream_hdr(struct conn *c, const uint32_t *h)
{
	uint32_t idx = ntohl(h[0]);

	if (idx >= opt.conns || ntohl(h[1]) != STREAM_MAGIC ||
	    ntohl(h[2]) != opt.msg_size ||
	    ntohl(h[3]) != (opt.pingpong ? 1U : 2U))
		return -EPROTO;
	c->idx = idx;
	return 0;
}

static ssize_t read_some(int fd, char *buf, size_t len)
{
	unsigned int intr;
	ssize_t n = -1;

	for (intr = 0; intr < MAX_EINTR; intr++) {
		n = read(fd, buf, len);
		io_calls++;
		if (n >= 0 || errno != EINTR)
			break;
	}
	return n < 0 ? -errno : n;
}

/* EOF where a message would start is the client's clean end. */
static int server_echo(struct conn *c, char *buf)
{
	unsigned long m;
	ssize_t n;
	int err = 0;

	for (m = 0; m < opt.pingpong && !err; m++) {
		n = read_some(c->fd, buf, opt.msg_size);
		if (n <= 0)
			return n;
		c->rx += n;
		if ((size_t)n < opt.msg_size)
			err = io_exact(c->fd, buf + n, opt.msg_size - n,
				       opt.msg_size - n, 0, &c->rx);
		if (!err)
			err = io_exact(c->fd, buf, opt.msg_size, opt.msg_size,
				       1, &c->tx);
	}
	return err;
}

static int server_drain(struct conn *c, char *buf)
{
	uint64_t i;
	ssize_t n;

	for (i = 0; i <= opt.bulk; i++) {
		n = read_some(c->fd, buf, opt.msg_size);
		if (n < 0)
			return n;
		if (!n)
			return io_exact(c->fd, zeros, BULK_REPLY, BULK_REPLY, 1,
					&c->tx);
		c->rx += n;
		if (c->rx > opt.bulk + HDR_LEN)
			break;
	}
	return -EPROTO;
}

static int server_stream(struct conn *c, char *rbuf)
{
	size_t sz = stream_buf_size();
	char *buf = sz > IO_CHUNK ? malloc(sz) : rbuf;
	uint32_t h[4];
	int err;

	if (!buf)
		return -ENOMEM;
	err = io_exact(c->fd, h, HDR_LEN, HDR_LEN, 0, &c->rx);
	if (!err)
		err = check_stream_hdr(c, h);
	if (!err)
		err = opt.pingpong ? server_echo(c, buf) :
				     server_drain(c, buf);
	if (buf != rbuf)
		free(buf);
	return err;
}

static int server_rounds(struct conn *c, char *rbuf)
{
	unsigned long r;
	int err = 0;

	for (r = 0; r < opt.rounds && !err; r++)
		err = server_round(c, r, rbuf);
	return err;
}

static int server_conn(struct conn *c, char *rbuf)
{
	uint64_t calls = io_calls;
	int err;

	capture(c->fd, &c->l, &c->r);
	err = stream_mode() ? server_stream(c, rbuf) : server_rounds(c, rbuf);
	if (err)
		io_failed(c, SIDE_SERVER, err);
	else
		err = finish(c, SIDE_SERVER, rbuf);
	add_calls(io_calls - calls);
	close(c->fd);
	ts_now(&c->end);
	emit(SIDE_SERVER, c);
	return err ? -1 : 0;
}

static void *server_thread(void *arg)
{
	struct conn *c = arg;
	char rbuf[IO_CHUNK];
	int failed = server_conn(c, rbuf) != 0;

	pthread_mutex_lock(&srv.lock);
	srv.active--;
	srv.failed |= failed;
	srv.tx += c->tx;
	srv.rx += c->rx;
	pthread_cond_signal(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	free(c);
	return NULL;
}

/* Detached threads: joinable ones would pin their stacks until the end. */
static void spawn_server_thread(struct conn *c)
{
	pthread_attr_t attr;
	pthread_t tid;
	unsigned int i;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&srv.lock);
	srv.active++;
	pthread_mutex_unlock(&srv.lock);
	for (i = 0; i < 100; i++) {
		if (!pthread_create(&tid, &attr, server_thread, c))
			return;
		sleep_ms(10);
	}
	/* Out of threads: serving inline is slower but still correct. */
	server_thread(c);
}

static int accept_one(int lfd)
{
	struct conn *c;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ||
		       errno == ECONNABORTED ? 0 : -1;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -1;
	}
	ts_now(&c->start);
	c->fd = fd;
	c->idx = -1;
	c->close = "fin";
	spawn_server_thread(c);
	return 1;
}

static int accept_all(const int *lfd, int64_t deadline)
{
	struct pollfd pfd[MAX_PORTS];
	unsigned long accepted = 0;
	unsigned int j;
	int got;

	for (j = 0; j < nports; j++) {
		pfd[j].fd = lfd[j];
		pfd[j].events = POLLIN;
	}
	while (accepted < opt.conns) {
		if (mono_ms() >= deadline) {
			errno = 0;
			return -1;
		}
		if (poll(pfd, nports, 1000) < 0 && errno != EINTR)
			return -1;
		for (j = 0; j < nports && accepted < opt.conns; j++) {
			if (!(pfd[j].revents & POLLIN))
				continue;
			got = accept_one(lfd[j]);
			if (got < 0)
				return -1;
			accepted += got;
		}
	}
	return 0;
}

static unsigned long wait_server_threads(int64_t deadline)
{
	struct timespec ts;
	unsigned long left;

	pthread_mutex_lock(&srv.lock);
	while (srv.active && mono_ms() < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&srv.cond, &srv.lock, &ts);
	}
	left = srv.active;
	pthread_mutex_unlock(&srv.lock);
	return left;
}

static int run_server(const int *lfd)
{
	int64_t deadline = mono_ms() + opt.timeout_s * 1000;
	unsigned int j;
	int failed = 0;

	if (accept_all(lfd, deadline)) {
		fprintf(stderr, "tcpload: server: accept: %s\n",
			errno ? strerror(errno) : "timed out");
		failed = 1;
	}
	for (j = 0; j < nports; j++)
		close(lfd[j]);
	if (wait_server_threads(deadline)) {
		fprintf(stderr, "tcpload: server: connections still open\n");
		return 1;
	}
	fprintf(stderr, "tcpload: server done: conns %lu tx %" PRIu64
		" rx %" PRIu64 "%s\n", opt.conns, srv.tx, srv.rx,
		failed || srv.failed ? " (with errors)" : "");
	return failed || srv.failed;
}

static void idle_emit_all(int side, struct iconn *v, unsigned long n)
{
	unsigned long i;
	struct conn c;

	for (i = 0; i < n; i++) {
		if (v[i].fd < 0)
			continue;
		memset(&c, 0, sizeof(c));
		c.idx = i;
		c.l = v[i].l;
		c.r = v[i].r;
		c.tx = v[i].tx;
		c.rx = v[i].rx;
		c.start = v[i].start;
		c.close = "fin";
		close(v[i].fd);
		ts_now(&c.end);
		emit(side, &c);
	}
}

static void idle_hold(int64_t deadline)
{
	while (!stop && mono_ms() < deadline)
		sleep_ms(100);
}

static int announce_ready(void)
{
	char msg[64];
	int fd, len;

	len = snprintf(msg, sizeof(msg), "ready %lu\n", opt.idle);
	write_all(2, msg, len);
	if (!opt.ready_file)
		return 0;
	fd = open(opt.ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		fprintf(stderr, "tcpload: cannot create %s: %s\n",
			opt.ready_file, strerror(errno));
		return -1;
	}
	write_all(fd, msg, len);
	close(fd);
	return 0;
}

/*
 * One destination tuple offers only the ephemeral range (about 28k
 * ports); binding distinct loopback sources with IP_BIND_ADDRESS_NO_PORT
 * defers port choice to connect(), where only the 4-tuple must be unique.
 */
static int bind_src(int fd, unsigned long i)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1;

	sin.sin_addr.s_addr = htonl(0x7f000100 | (1 + i % 254));
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		       sizeof(one)))
		return -1;
	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static int idle_connect(int fd, unsigned long i, struct iconn *ic)
{
	static char one_byte = 'x';
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, ports[i % nports]);
	uint64_t tx = 0;
	int err;

	if (src_rotate && bind_src(fd, i))
		return -errno;
	ts_now(&ic->start);
	if (connect(fd, (struct sockaddr *)&ss, len))
		return -errno;
	capture(fd, &ic->l, &ic->r);
	err = io_exact(fd, &one_byte, 1, 1, 1, &tx);
	ic->tx = tx;
	return err;
}

static int idle_open(struct iconn *ic, unsigned long i)
{
	int fd, err;

	fd = socket(opt.family == 4 ? AF_INET : AF_INET6,
		    SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "tcpload: client conn %lu: socket: %s\n", i,
			strerror(errno));
		return -1;
	}
	err = idle_connect(fd, i, ic);
	if (err) {
		fprintf(stderr, "tcpload: client conn %lu: connect: %s%s\n",
			i, err_str(err), err == -EADDRNOTAVAIL ?
			" (out of ports: try --port-count)" : "");
		close(fd);
		return -1;
	}
	ic->fd = fd;
	return 0;
}

static int idle_read(struct iconn *ic, unsigned long i)
{
	uint64_t rx = 0;
	char b;
	int err;

	err = io_exact(ic->fd, &b, 1, 1, 0, &rx);
	ic->rx = rx;
	if (err)
		fprintf(stderr, "tcpload: client conn %lu: %s\n", i,
			err_str(err));
	return err;
}

/* Reading replies lags connects so the server's backlog never overflows. */
static unsigned long idle_client_open_all(struct iconn *v, int64_t deadline,
					  unsigned long *opened)
{
	unsigned long replied = 0;
	int err = 0;

	while (!err && *opened < opt.idle && !stop && mono_ms() < deadline) {
		if (idle_open(&v[*opened], *opened))
			break;
		++*opened;
		while (!err && *opened - replied > IDLE_INFLIGHT) {
			err = idle_read(&v[replied], replied);
			replied++;
		}
	}
	while (!err && replied < *opened && !stop) {
		err = idle_read(&v[replied], replied);
		replied++;
	}
	return err ? 0 : replied;
}

static int idle_client(void)
{
	int64_t deadline = mono_ms() + opt.timeout_s * 1000;
	struct iconn *v = calloc(opt.idle, sizeof(*v));
	unsigned long opened = 0;
	int failed = 1;

	if (!v) {
		fprintf(stderr, "tcpload: client: out of memory\n");
		return 1;
	}
	if (idle_client_open_all(v, deadline, &opened) == opt.idle) {
		failed = announce_ready() != 0;
		if (!failed)
			idle_hold(deadline);
	} else {
		fprintf(stderr, "tcpload: client: only %lu of %lu connections up\n",
			opened, opt.idle);
	}
	idle_emit_all(SIDE_CLIENT, v, opened);
	fprintf(stderr, "tcpload: client done: conns %lu\n", opened);
	free(v);
	return failed;
}

struct idle_srv {
	struct iconn *v;
	int ep;
	int *lfd;
	unsigned long accepted, replied;
};

static void idle_close_listeners(struct idle_srv *s)
{
	unsigned int j;

	for (j = 0; j < nports; j++) {
		if (s->lfd[j] >= 0)
			close(s->lfd[j]);
		s->lfd[j] = -1;
	}
}

static int idle_add(struct idle_srv *s, int fd)
{
	struct iconn *ic = &s->v[s->accepted];
	struct epoll_event ev = { .events = EPOLLIN };

	ts_now(&ic->start);
	ic->fd = fd;
	capture(fd, &ic->l, &ic->r);
	ev.data.u64 = MAX_PORTS + s->accepted;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev))
		return -1;
	s->accepted++;
	return 0;
}

static int idle_accept(struct idle_srv *s, unsigned int j)
{
	unsigned int b;
	int fd;

	for (b = 0; b < 256 && s->lfd[j] >= 0; b++) {
		fd = accept4(s->lfd[j], NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EAGAIN || errno == EINTR ||
			       errno == ECONNABORTED ? 0 : -1;
		if (idle_add(s, fd)) {
			close(fd);
			return -1;
		}
		if (s->accepted == opt.idle)
			idle_close_listeners(s);
	}
	return 0;
}

static int idle_serve(struct idle_srv *s, unsigned long k)
{
	struct iconn *ic = &s->v[k];
	ssize_t n;
	char b;

	n = read(ic->fd, &b, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n != 1) {
		errno = n ? errno : EPIPE;
		return -1;
	}
	ic->rx = 1;
	if (write(ic->fd, &b, 1) != 1)
		return -1;
	ic->tx = 1;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, ic->fd, NULL);
	s->replied++;
	return 0;
}

static int idle_dispatch(struct idle_srv *s, const struct epoll_event *ev)
{
	uint64_t tag = ev->data.u64;

	if (tag < MAX_PORTS)
		return idle_accept(s, tag);
	return idle_serve(s, tag - MAX_PORTS);
}

static int idle_server_loop(struct idle_srv *s, int64_t deadline)
{
	struct epoll_event ev[64];
	int i, n;

	while (s->replied < opt.idle && !stop && mono_ms() < deadline) {
		n = epoll_wait(s->ep, ev, 64, 100);
		if (n < 0 && errno != EINTR)
			return -1;
		for (i = 0; i < n; i++)
			if (idle_dispatch(s, &ev[i]))
				return -1;
	}
	errno = 0;
	return s->replied == opt.idle ? 0 : -1;
}

static int idle_server_setup(struct idle_srv *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int j;

	s->v = calloc(opt.idle, sizeof(*s->v));
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!s->v || s->ep < 0)
		return -1;
	for (j = 0; j < nports; j++) {
		ev.data.u64 = j;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd[j], &ev))
			return -1;
	}
	return 0;
}

static int idle_server(int *lfd)
{
	int64_t deadline = mono_ms() + opt.timeout_s * 1000;
	struct idle_srv s = { .lfd = lfd, .ep = -1 };
	int failed = 0;

	if (idle_server_setup(&s) || idle_server_loop(&s, deadline)) {
		fprintf(stderr, "tcpload: server: %lu accepted, %lu served: %s\n",
			s.accepted, s.replied,
			errno ? strerror(errno) : "stopped or timed out");
		failed = 1;
	}
	idle_close_listeners(&s);
	if (!failed)
		idle_hold(deadline);
	if (s.v)
		idle_emit_all(SIDE_SERVER, s.v, s.accepted);
	fprintf(stderr, "tcpload: server done: conns %lu\n", s.accepted);
	free(s.v);
	return failed;
}

static int open_listener(unsigned int j, int *out)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, opt.port ? opt.port + j : 0);
	int one = 1, fd, err;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (opt.family == 6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    listen(fd, LISTEN_BACKLOG))
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		goto fail;
	ports[j] = ntohs(opt.family == 4 ?
			 ((struct sockaddr_in *)&ss)->sin_port :
			 ((struct sockaddr_in6 *)&ss)->sin6_port);
	*out = fd;
	fprintf(stderr, "port %u\n", ports[j]);
	return 0;
fail:
	err = errno;
	fprintf(stderr, "tcpload: server: listen on %s: %s\n", opt.addr_str,
		strerror(err));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The client cannot connect before it knows the kernel-chosen ports. */
static int send_ports(int fd)
{
	uint16_t msg[MAX_PORTS + 1];
	uint64_t done = 0;

	msg[0] = nports;
	memcpy(msg + 1, ports, nports * sizeof(ports[0]));
	return io_exact(fd, msg, sizeof(msg), (nports + 1) * 2, 1, &done);
}

static int recv_ports(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t done = 0;
	uint16_t n = 0;

	if (poll(&pfd, 1, opt.timeout_s * 1000) != 1 ||
	    io_exact(fd, &n, 2, 2, 0, &done) || n != nports ||
	    io_exact(fd, ports, sizeof(ports), n * 2, 0, &done)) {
		fprintf(stderr, "tcpload: client: server did not report its ports\n");
		return -1;
	}
	return 0;
}

static int enter_netns(int side)
{
	const char *name = opt.ns[side];
	char path[256];
	int fd, err;

	if (!name)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "tcpload: %s: open %s: %s\n", side_names[side],
			path, strerror(errno));
		return -1;
	}
	err = setns(fd, CLONE_NEWNET);
	if (err)
		fprintf(stderr, "tcpload: %s: setns %s: %s\n",
			side_names[side], path, strerror(errno));
	close(fd);
	return err;
}

static int server_main(int pipe_wr)
{
	int lfd[MAX_PORTS];
	unsigned int j;

	if (enter_netns(SIDE_SERVER))
		return 1;
	for (j = 0; j < nports; j++) {
		if (open_listener(j, &lfd[j]))
			return 1;
	}
	if (send_ports(pipe_wr))
		return 1;
	close(pipe_wr);
	return opt.idle ? idle_server(lfd) : run_server(lfd);
}

static int client_main(int pipe_rd)
{
	if (enter_netns(SIDE_CLIENT) || recv_ports(pipe_rd))
		return 1;
	close(pipe_rd);
	return opt.idle ? idle_client() : run_client();
}

static void on_alarm(int sig)
{
	(void)sig;
	if (write(2, alarm_msg, alarm_len) < 0)
		alarm_len = 0;
	if (kids[0] > 0)
		kill(kids[0], SIGKILL);
	if (kids[1] > 0)
		kill(kids[1], SIGKILL);
	_exit(1);
}

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned int hard_bound_s(void)
{
	return opt.timeout_s + (opt.idle ? IDLE_GRACE_S : 0);
}

static void set_alarm(const char *who, unsigned int secs)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	snprintf(alarm_msg, sizeof(alarm_msg),
		 "tcpload: %s: timeout after %u s, giving up\n", who, secs);
	alarm_len = strlen(alarm_msg);
	sigaction(SIGALRM, &sa, NULL);
	alarm(secs);
}

static void child_setup(int side)
{
	struct sigaction sa = { .sa_handler = opt.idle ? on_stop : SIG_DFL };
	sigset_t none;

	kids[0] = kids[1] = 0;
	self_pid = getpid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)
		_exit(1);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	set_alarm(side_names[side], hard_bound_s());
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	nports = opt.port_count;
}

static pid_t spawn(int side, int *pfd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	child_setup(side);
	if (side == SIDE_SERVER) {
		close(pfd[0]);
		_exit(server_main(pfd[1]));
	}
	close(pfd[1]);
	_exit(client_main(pfd[0]));
}

static int set_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	if (rl.rlim_cur >= need && rl.rlim_max >= need)
		return 0;
	if (rl.rlim_cur < need)
		rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * Each side is its own process holding N sockets, so N + 64 suffices;
 * 2N + 64 is asked for first so both sides could share one limit.
 */
static int raise_nofile(unsigned long n)
{
	rlim_t want = 2 * n + 64, need = n + 64;
	int err;

	if (!set_nofile(want))
		return 0;
	err = errno;
	if (!set_nofile(need)) {
		fprintf(stderr,
			"tcpload: warning: RLIMIT_NOFILE %llu impossible (%s), using %llu (each side needs N + 64)\n",
			(unsigned long long)want, strerror(err),
			(unsigned long long)need);
		return 0;
	}
	fprintf(stderr,
		"tcpload: cannot raise RLIMIT_NOFILE to %llu: %s (needs CAP_SYS_RESOURCE and fs.nr_open >= that)\n",
		(unsigned long long)need, strerror(errno));
	return -1;
}

static int alloc_acks(void)
{
	acks = mmap(NULL, 2 * opt.conns, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (acks != MAP_FAILED)
		return 0;
	fprintf(stderr, "tcpload: mmap: %s\n", strerror(errno));
	return -1;
}

static int alloc_calls(void)
{
	calls_total = mmap(NULL, sizeof(*calls_total), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (calls_total != MAP_FAILED)
		return 0;
	calls_total = NULL;
	fprintf(stderr, "tcpload: mmap: %s\n", strerror(errno));
	return -1;
}

static void forward(int sig)
{
	int i;

	for (i = 0; i < 2; i++)
		if (kids[i] > 0)
			kill(kids[i], sig);
}

static void report_exit(int side, int st)
{
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return;
	if (WIFEXITED(st))
		fprintf(stderr, "tcpload: %s exited with status %d\n",
			side_names[side], WEXITSTATUS(st));
	else
		fprintf(stderr, "tcpload: %s killed by signal %d\n",
			side_names[side], WTERMSIG(st));
}

static int reap_some(int *failed, int64_t *kill_at)
{
	int st, i, n = 0, side;
	pid_t pid;

	for (i = 0; i < 2; i++) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		side = pid == kids[SIDE_SERVER] ? SIDE_SERVER : SIDE_CLIENT;
		kids[side] = 0;
		n++;
		report_exit(side, st);
		if (WIFEXITED(st) && !WEXITSTATUS(st))
			continue;
		*failed = 1;
		if (!*kill_at)
			*kill_at = mono_ms() + KILL_GRACE_MS;
	}
	return n;
}

/* A failed side leaves the other waiting for nothing: end it after a grace. */
static int reap(const sigset_t *set)
{
	struct timespec tick = { 1, 0 };
	int64_t kill_at = 0;
	int alive = 2, failed = 0, loops, sig;

	for (loops = 0; loops < REAP_MAX_LOOPS; loops++) {
		alive -= reap_some(&failed, &kill_at);
		if (alive <= 0)
			break;
		if (kill_at > 0 && mono_ms() >= kill_at) {
			forward(SIGTERM);
			kill_at = -1;
		}
		tick.tv_sec = kill_at > 0 ? 0 : 1;
		tick.tv_nsec = kill_at > 0 ? 100000000 : 0;
		sig = sigtimedwait(set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			forward(sig);
	}
	return failed || alive > 0;
}

static int start_children(int *pfd)
{
	kids[SIDE_SERVER] = spawn(SIDE_SERVER, pfd);
	if (kids[SIDE_SERVER] < 0) {
		kids[SIDE_SERVER] = 0;
		return -1;
	}
	kids[SIDE_CLIENT] = spawn(SIDE_CLIENT, pfd);
	if (kids[SIDE_CLIENT] >= 0)
		return 0;
	kids[SIDE_CLIENT] = 0;
	return -1;
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * What every process pays per syscall while a tool runs: the cheapest
 * syscall there is, timed in this thread's CPU time.
 */
static int getppid_tax(void)
{
	unsigned long chunk = opt.getppid / 10, i, k;
	double best = 0;

	for (k = 0; k < 10; k++) {
		int64_t t0 = thread_cpu_ns();
		double ns;

		for (i = 0; i < chunk; i++)
			syscall(SYS_getppid);
		ns = (double)(thread_cpu_ns() - t0) / chunk;
		if (!k || ns < best)
			best = ns;
	}
	printf("{\"getppid_calls\":%lu,\"ns_per_call\":%.2f}\n", chunk * 10, best);
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int pfd[2], rc;

	parse_opts(argc, argv);
	if (opt.getppid)
		return getppid_tax();
	signal(SIGPIPE, SIG_IGN);
	if (opt.idle && raise_nofile(opt.idle))
		return 1;
	if (!opt.idle && alloc_acks())
		return 1;
	if (stream_mode() && alloc_calls())
		return 1;
	if (pipe2(pfd, O_CLOEXEC)) {
		fprintf(stderr, "tcpload: pipe: %s\n", strerror(errno));
		return 1;
	}
	/* Held until each process has its handlers, then waited for. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	parent_pid = getpid();
	self_pid = parent_pid;
	set_alarm("run", hard_bound_s() + 2);
	if (start_children(pfd)) {
		fprintf(stderr, "tcpload: fork: %s\n", strerror(errno));
		forward(SIGKILL);
	}
	close(pfd[0]);
	close(pfd[1]);
	rc = reap(&set);
	if (calls_total)
		fprintf(stderr, "calls %" PRIu64 "\n",
			__atomic_load_n(calls_total, __ATOMIC_RELAXED));
	return rc;
}
