// SPDX-License-Identifier: GPL-2.0
/*
 * Parser tests on a dump captured from a real kernel (tests/fixtures), and
 * on damaged copies of it: truncated, wrong lengths, bogus attributes,
 * wrong families, errors, interrupted dumps.  Nothing may crash; damage
 * must be reported, never half-parsed silently.
 *
 * usage: test_parser FIXTURE.bin EXPECTED.txt
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include "../poller/poller.h"

static int failures;

#define CHECK(name, cond, ...) do {					\
	if (cond) {							\
		printf("ok %s\n", name);				\
	} else {							\
		printf("not ok %s: ", name);				\
		printf(__VA_ARGS__);					\
		printf(" (%s:%d)\n", __FILE__, __LINE__);		\
		failures++;						\
	}								\
} while (0)

struct expected {
	int family;
	unsigned int lport, rport, state;
	unsigned long long acked, received, sent;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? n : 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static int load_expected(const char *path, struct expected *e, int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fscanf(f, "%d %u %u %u %llu %llu %llu", &e[n].family,
				 &e[n].lport, &e[n].rport, &e[n].state,
				 &e[n].acked, &e[n].received, &e[n].sent) == 7)
		n++;
	fclose(f);
	return n;
}

/* The parser streams its samples: keep them here to look at. */
struct parsed {
	struct ts_dump d;
	struct ts_batch b;
	size_t n;
};

static void keep(const struct ts_sample *s, void *arg)
{
	struct parsed *p = arg;
	struct ts_sample *slot = ts_batch_push(&p->b);

	if (slot)
		*slot = *s;
	p->n = p->b.n;
}

static int parse(struct parsed *p, const void *buf, size_t len)
{
	ts_batch_reset(&p->b);
	p->n = 0;
	ts_dump_reset(&p->d, keep, p);
	return ts_dump_parse(&p->d, buf, len, 0, 0);
}

static void parsed_free(struct parsed *p)
{
	ts_batch_free(&p->b);
}

static const struct ts_sample *find(const struct parsed *d,
				    const struct expected *e)
{
	size_t i;

	for (i = 0; i < d->b.n; i++) {
		const struct ts_sample *s = &d->b.v[i];

		if (s->tuple.family == e->family && s->tuple.lport == e->lport &&
		    s->tuple.rport == e->rport)
			return s;
	}
	return NULL;
}

static void test_fixture(const char *buf, size_t len,
			 const struct expected *e, int n)
{
	struct parsed d = { 0 };
	char name[64];
	int i, ret = parse(&d, buf, len);

	CHECK("fixture_parses_to_done", ret == MNL_CB_STOP, "ret %d errno %d", ret, errno);
	CHECK("fixture_has_all_sockets", d.n >= (size_t)n, "%zu < %d", d.n, n);
	for (i = 0; i < n; i++) {
		const struct ts_sample *s = find(&d, &e[i]);

		snprintf(name, sizeof(name), "fixture_socket_%d_exact", i);
		CHECK(name, s && s->state == e[i].state &&
		      s->bytes_acked == e[i].acked &&
		      s->bytes_received == e[i].received &&
		      s->has_sent && s->bytes_sent == e[i].sent && s->cookie,
		      "socket %u->%u missing or wrong", e[i].lport, e[i].rport);
	}
	for (i = 0; i < n; i++) {
		const struct ts_sample *s = find(&d, &e[i]);

		if (s && s->listener_on_lport)
			break;
	}
	/* The fixture's listeners were closed before the dump. */
	CHECK("fixture_no_stale_listener_hint", i == n, "socket %d", i);
	parsed_free(&d);
}

/* Every prefix: no crash, and never a complete dump before the end. */
static void test_truncation(const char *buf, size_t len)
{
	struct parsed d = { 0 };
	size_t cut, early_stop = 0;

	for (cut = 0; cut < len; cut++) {
		char *copy = malloc(cut ? cut : 1);

		memcpy(copy, buf, cut);
		if (parse(&d, copy, cut) == MNL_CB_STOP)
			early_stop++;
		free(copy);
	}
	CHECK("truncated_never_complete", early_stop == 0, "%zu prefixes ended the dump", early_stop);
	parsed_free(&d);
}

static struct nlmsghdr *first_msg(char *buf)
{
	return (struct nlmsghdr *)buf;
}

/* The first socket that is not a listener: listeners are not sessions. */
static struct nlmsghdr *first_session_msg(char *buf, size_t len)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	int rem = (int)len;

	for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
		struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_type != NLMSG_DONE && m->idiag_state != 10)
			return nlh;
	}
	return NULL;
}

static void test_short_payload(const char *buf, size_t len)
{
	char *copy = malloc(len);
	struct parsed d = { 0 };
	struct nlmsghdr *nlh;
	int ret;

	memcpy(copy, buf, len);
	nlh = first_msg(copy);
	/* A message too short for its inet_diag_msg header. */
	nlh->nlmsg_len = NLMSG_HDRLEN + 8;
	ret = parse(&d, copy, len);
	CHECK("short_payload_rejected", ret == MNL_CB_ERROR && errno == EBADMSG,
	      "ret %d errno %d", ret, errno);
	free(copy);
	parsed_free(&d);
}

static void test_wrong_family(const char *buf, size_t len)
{
	char *copy = malloc(len);
	struct parsed d = { 0 };
	struct inet_diag_msg *m;
	int ret;

	memcpy(copy, buf, len);
	m = mnl_nlmsg_get_payload(first_msg(copy));
	m->idiag_family = 99;
	ret = parse(&d, copy, len);
	CHECK("wrong_family_rejected", ret == MNL_CB_ERROR && errno == EBADMSG,
	      "ret %d errno %d", ret, errno);
	free(copy);
	parsed_free(&d);
}

static struct nlattr *find_attr(struct nlmsghdr *nlh, int type)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct inet_diag_msg))
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}

static void test_bad_attr_len(const char *buf, size_t len)
{
	char *copy = malloc(len);
	struct parsed d = { 0 };
	struct nlattr *a;
	int ret;

	memcpy(copy, buf, len);
	a = find_attr(first_msg(copy), INET_DIAG_INFO);
	CHECK("fixture_has_info_attr", a != NULL, "no INET_DIAG_INFO");
	if (a) {
		/* An attribute claiming more than its message holds. */
		a->nla_len = 0xfff0;
		ret = parse(&d, copy, len);
		CHECK("oversized_attr_rejected", ret == MNL_CB_ERROR && errno == EBADMSG,
		      "ret %d errno %d", ret, errno);
	}
	free(copy);
	parsed_free(&d);
}

/*
 * An older kernel's shorter tcp_info: rebuild the first message with its
 * INET_DIAG_INFO cut to 16 bytes.  The socket is skipped and counted.
 */
static void test_short_info(const char *buf, size_t len)
{
	char *copy = malloc(len);
	struct parsed d = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *a;
	size_t before, head, cut, tail;
	int ret;

	memcpy(copy, buf, len);
	ret = parse(&d, copy, len);
	before = d.n;
	nlh = first_session_msg(copy, len);
	a = nlh ? find_attr(nlh, INET_DIAG_INFO) : NULL;
	if (!a || ret != MNL_CB_STOP || a->nla_len < NLA_HDRLEN + 16) {
		CHECK("short_tcp_info_skipped", 0, "fixture unusable");
		free(copy);
		return;
	}
	head = (char *)a - copy + NLA_HDRLEN + 16;
	/* nlh is the only message whose length changes. */
	cut = MNL_ALIGN(a->nla_len) - NLA_HDRLEN - 16;
	tail = len - head - cut;
	a->nla_len = NLA_HDRLEN + 16;
	memmove(copy + head, copy + head + cut, tail);
	nlh->nlmsg_len -= cut;
	ret = parse(&d, copy, len - cut);
	CHECK("short_tcp_info_skipped",
	      ret == MNL_CB_STOP && d.d.short_info == 1 && d.n == before - 1,
	      "ret %d short %llu n %zu before %zu", ret,
	      (unsigned long long)d.d.short_info, d.n, before);
	free(copy);
	parsed_free(&d);
}

/*
 * The listener hint is set while parsing, so it relies on the kernel
 * listing a family's listeners before its connections (inet_diag walks the
 * listening hash first).  A listener dumped before a connection on its port
 * marks it; the parser counts every sample it hands over.
 */
static void test_listener_hint(const char *buf, size_t len)
{
	struct nlmsghdr *src = first_session_msg((char *)buf, len);
	size_t mlen = src ? MNL_ALIGN(src->nlmsg_len) : 0;
	char *copy = malloc(len + mlen);
	struct parsed d = { 0 };
	struct inet_diag_msg *m;
	const struct ts_sample *s;
	size_t i;
	int ret;

	if (!src) {
		CHECK("listener_hint_streamed", 0, "fixture has no session");
		free(copy);
		return;
	}
	/* A listener on the first session's local port, dumped first. */
	memcpy(copy, src, mlen);
	memcpy(copy + mlen, buf, len);
	m = mnl_nlmsg_get_payload((struct nlmsghdr *)copy);
	m->idiag_state = 10;
	m->id.idiag_cookie[0] ^= 0x5a5a;
	ret = parse(&d, copy, len + mlen);
	s = NULL;
	for (i = 0; i < d.b.n; i++)
		if (d.b.v[i].tuple.lport == ntohs(m->id.idiag_sport))
			s = &d.b.v[i];
	CHECK("listener_hint_streamed", ret == MNL_CB_STOP && s &&
	      s->listener_on_lport && d.d.samples == d.b.n,
	      "ret %d hint %d samples %llu kept %zu", ret,
	      s ? s->listener_on_lport : -1,
	      (unsigned long long)d.d.samples, d.b.n);
	free(copy);
	parsed_free(&d);
}

static void test_dump_intr(const char *buf, size_t len)
{
	char *copy = malloc(len);
	struct parsed d = { 0 };
	int ret;

	memcpy(copy, buf, len);
	first_msg(copy)->nlmsg_flags |= NLM_F_DUMP_INTR;
	ret = parse(&d, copy, len);
	CHECK("dump_intr_reported", ret == MNL_CB_ERROR && errno == EINTR,
	      "ret %d errno %d", ret, errno);
	free(copy);
	parsed_free(&d);
}

static void test_kernel_error(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *err;
	struct parsed d = { 0 };
	int ret;

	nlh->nlmsg_type = NLMSG_ERROR;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = -EPERM;
	ret = parse(&d, buf, nlh->nlmsg_len);
	CHECK("kernel_error_reported", ret == MNL_CB_ERROR && errno == EPERM,
	      "ret %d errno %d", ret, errno);
	parsed_free(&d);
}

/* Random damage, fixed seed: anything but a crash (ASan/valgrind watch). */
static void test_random_damage(const char *buf, size_t len)
{
	struct parsed d = { 0 };
	char *copy = malloc(len);
	unsigned int seed = 12345;
	int i, j, completed = 0;

	for (i = 0; i < 20000; i++) {
		memcpy(copy, buf, len);
		for (j = 0; j < 1 + i % 4; j++)
			copy[rand_r(&seed) % len] = (char)rand_r(&seed);
		if (parse(&d, copy, len) == MNL_CB_STOP)
			completed++;
	}
	CHECK("random_damage_survived", 1, "%d", completed);
	free(copy);
	parsed_free(&d);
}

int main(int argc, char **argv)
{
	struct expected e[64];
	size_t len = 0;
	char *buf;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: test_parser FIXTURE.bin EXPECTED.txt\n");
		return 2;
	}
	buf = slurp(argv[1], &len);
	n = load_expected(argv[2], e, 64);
	if (!buf || n <= 0 || len < NLMSG_HDRLEN) {
		printf("not ok fixture_load: cannot read %s / %s\n", argv[1], argv[2]);
		return 1;
	}
	test_fixture(buf, len, e, n);
	test_truncation(buf, len);
	test_short_payload(buf, len);
	test_wrong_family(buf, len);
	test_bad_attr_len(buf, len);
	test_short_info(buf, len);
	test_listener_hint(buf, len);
	test_dump_intr(buf, len);
	test_kernel_error();
	test_random_damage(buf, len);
	free(buf);
	return failures ? 1 : 0;
}
