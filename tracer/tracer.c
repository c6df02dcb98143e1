// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "tracer.h"
#include "tcpclose.skel.h"

#define TRACEFS "/sys/kernel/tracing"

struct ts_tracer {
	struct tcpclose *skel;
	struct ring_buffer *rb;
	ts_close_fn fn;
	void *arg;
	int ncpus;
	bool accept_hooked;
	const char *accept_why;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (!getenv("TCPSIGHT_DEBUG") || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* TCPSIGHT_BTF lets the tests play a kernel without BTF. */
bool ts_tracer_supported(char *why, size_t len)
{
	const char *btf = getenv("TCPSIGHT_BTF");

	if (!btf)
		btf = "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK)) {
		snprintf(why, len, "kernel has no BTF (%s): CO-RE programs cannot load", btf);
		return false;
	}
	return true;
}

size_t ts_ring_size(size_t bytes)
{
	size_t sz = 4096;

	while (sz < bytes && sz < ((size_t)1 << 30))
		sz <<= 1;
	return sz;
}

static void set_port_bit(volatile __u64 *bits, uint16_t port)
{
	bits[port / 64] |= 1ULL << (port % 64);
}

static void set_filters(struct tcpclose *skel,
			const struct ts_tracer_opts *o)
{
	unsigned int i;

	skel->rodata->target_netns = o->netns;
	skel->rodata->filter_pid = o->pid;
	skel->rodata->filter_family = o->family;
	for (i = 0; i < o->n_lports && i < TS_MAX_PORTS; i++)
		set_port_bit(skel->rodata->filter_lports, o->lports[i]);
	for (i = 0; i < o->n_rports && i < TS_MAX_PORTS; i++)
		set_port_bit(skel->rodata->filter_rports, o->rports[i]);
	skel->rodata->n_lports = o->n_lports;
	skel->rodata->n_rports = o->n_rports;
	skel->rodata->rb_wakeup = o->wakeup;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ts_tracer *t = ctx;

	if (size < sizeof(struct ts_close_event))
		return 0;
	return t->fn(data, t->arg);
}

/* Syscall tracepoints need tracefs; raw tracepoints do not. */
static void attach_accept(struct ts_tracer *t)
{
	struct tcpclose *skel = t->skel;

	if (access(TRACEFS "/events", F_OK) &&
	    access("/sys/kernel/debug/tracing/events", F_OK))
		mount("nodev", TRACEFS, "tracefs", 0, NULL);
	skel->links.ts_exit_accept4 =
		bpf_program__attach(skel->progs.ts_exit_accept4);
	skel->links.ts_exit_accept =
		bpf_program__attach(skel->progs.ts_exit_accept);
	t->accept_hooked = skel->links.ts_exit_accept4 &&
			   skel->links.ts_exit_accept;
	if (!t->accept_hooked)
		t->accept_why = "no syscalls:sys_exit_accept tracepoints (tracefs)";
}

const char *ts_bpf_error(int err)
{
	if (err == EPERM || err == EACCES)
		return "missing privilege: BPF needs CAP_BPF and CAP_PERFMON (or root)";
	return strerror(err);
}

static int attach(struct ts_tracer *t, char *errbuf, size_t errlen)
{
	struct tcpclose *skel = t->skel;

	skel->links.ts_set_state =
		bpf_program__attach(skel->progs.ts_set_state);
	if (!skel->links.ts_set_state) {
		snprintf(errbuf, errlen,
			 "cannot attach raw tracepoint inet_sock_set_state: %s",
			 ts_bpf_error(errno));
		return -1;
	}
	/* Without it, a reset peer's softirq may be taken for the owner. */
	skel->links.ts_receive_reset =
		bpf_program__attach(skel->progs.ts_receive_reset);
	attach_accept(t);
	return 0;
}

struct ts_tracer *ts_tracer_open(const struct ts_tracer_opts *opts,
				 ts_close_fn fn, void *arg,
				 char *errbuf, size_t errlen)
{
	struct ts_tracer *t;
	int err;

	if (!ts_tracer_supported(errbuf, errlen))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	libbpf_set_print(libbpf_quiet);
	t->fn = fn;
	t->arg = arg;
	t->ncpus = libbpf_num_possible_cpus();
	t->skel = tcpclose__open();
	if (!t->skel) {
		snprintf(errbuf, errlen, "cannot open BPF object: %s",
			 ts_bpf_error(errno));
		goto fail;
	}
	set_filters(t->skel, opts);
	bpf_map__set_max_entries(t->skel->maps.events,
				 ts_ring_size(opts->ring_bytes));
	if (opts->births_max)
		bpf_map__set_max_entries(t->skel->maps.births,
					 opts->births_max);
	err = tcpclose__load(t->skel);
	if (err) {
		snprintf(errbuf, errlen, "cannot load BPF programs: %s",
			 ts_bpf_error(-err));
		goto fail;
	}
	if (attach(t, errbuf, errlen))
		goto fail;
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event,
				 t, NULL);
	if (!t->rb) {
		snprintf(errbuf, errlen, "cannot open ring buffer: %s",
			 strerror(errno));
		goto fail;
	}
	return t;
fail:
	ts_tracer_close(t);
	return NULL;
}

void ts_tracer_close(struct ts_tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tcpclose__destroy(t->skel);
	free(t);
}

int ts_tracer_drain(struct ts_tracer *t)
{
	return ring_buffer__consume(t->rb);
}

int ts_tracer_wait(struct ts_tracer *t, int timeout_ms)
{
	int ret = timeout_ms ? ring_buffer__poll(t->rb, timeout_ms) : 0;

	if (ret < 0)
		return ret;
	/* Whatever a skipped wakeup left behind is taken too. */
	return ring_buffer__consume(t->rb);
}

uint64_t ts_tracer_lost(struct ts_tracer *t)
{
	uint64_t *vals, sum = 0;
	__u32 key = 0;
	int i;

	vals = calloc(t->ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.lost), &key, vals))
		for (i = 0; i < t->ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

bool ts_tracer_accept_hooked(const struct ts_tracer *t, const char **why)
{
	if (why)
		*why = t->accept_why;
	return t->accept_hooked;
}

bool ts_tracer_owner(struct ts_tracer *t, const struct ts_tuple *tuple,
		     uint32_t *pid, char *comm)
{
	struct ts_tuple_key k = {
		.family = tuple->family,
		.lport = tuple->lport,
		.rport = tuple->rport,
	};
	struct ts_owner o;

	memcpy(k.laddr, tuple->laddr, sizeof(k.laddr));
	memcpy(k.raddr, tuple->raddr, sizeof(k.raddr));
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.owners), &k, &o))
		return false;
	*pid = o.pid;
	memcpy(comm, o.comm, TS_COMM_LEN);
	comm[TS_COMM_LEN - 1] = '\0';
	return true;
}
