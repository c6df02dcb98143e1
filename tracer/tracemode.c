// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "tracemode.h"
#include "tcptrace.skel.h"

#define BATCH 1024

struct ts_trace {
	struct tcptrace *skel;
	struct ring_buffer *rb;
	ts_close_fn fn;
	void *arg;
	int ncpus;
	__u64 keys[BATCH];
	struct ts_traced vals[BATCH];
};

static bool btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf && btf__find_by_name_kind(btf, name, kind) > 0;
}

/*
 * fexit programs read arguments and the return value by position: the
 * set is offered only where the prototype is the one they were written
 * for (tcp_recvmsg lost its nonblock argument in 5.19).
 */
static bool btf_func_params(const struct btf *btf, const char *name,
			    unsigned int params)
{
	const struct btf_type *fn, *proto;
	int id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) : -1;

	if (id <= 0)
		return false;
	fn = btf__type_by_id(btf, id);
	proto = fn ? btf__type_by_id(btf, fn->type) : NULL;
	return proto && btf_is_func_proto(proto) && btf_vlen(proto) == params;
}

/* tcp:tcp_destroy_sock (Linux 4.16 on, in most builds). */
static bool destroy_hook(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has = btf_has(btf, "btf_trace_tcp_destroy_sock", BTF_KIND_TYPEDEF);

	btf__free(btf);
	return has;
}

void ts_trace_caps(struct ts_attach_caps *caps)
{
	struct btf *btf = btf__load_vmlinux_btf();

	caps->fentry = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL) > 0 &&
		       btf_func_params(btf, "tcp_sendmsg", 3) &&
		       btf_func_params(btf, "tcp_recvmsg", 5);
	/* The program type loads without them: kprobes need the PMU or tracefs. */
	caps->kprobe = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, NULL) > 0 &&
		       (!access("/sys/bus/event_source/devices/kprobe/type", F_OK) ||
			!access("/sys/kernel/tracing/kprobe_events", F_OK) ||
			!access("/sys/kernel/debug/tracing/kprobe_events", F_OK));
	caps->tracepoint =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) > 0 &&
		btf_has(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) &&
		btf_has(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF);
	btf__free(btf);
}

static void select_programs(struct tcptrace *skel, enum ts_attach a)
{
	bool fe = a == TS_ATTACH_FENTRY, kp = a == TS_ATTACH_KPROBE;
	bool tp = a == TS_ATTACH_TRACEPOINT;

	bpf_program__set_autoload(skel->progs.fexit_send, fe);
	bpf_program__set_autoload(skel->progs.fexit_recv, fe);
	bpf_program__set_autoload(skel->progs.kp_send, kp);
	bpf_program__set_autoload(skel->progs.krp_send, kp);
	bpf_program__set_autoload(skel->progs.kp_recv, kp);
	bpf_program__set_autoload(skel->progs.krp_recv, kp);
	bpf_program__set_autoload(skel->progs.tp_send, tp);
	bpf_program__set_autoload(skel->progs.tp_recv, tp);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ts_trace *t = ctx;

	if (size < sizeof(struct ts_close_event))
		return 0;
	return t->fn(data, t->arg);
}

struct ts_trace *ts_trace_open(const struct ts_trace_opts *o, ts_close_fn fn,
			       void *arg, enum ts_attach *chosen,
			       char *err, size_t errlen)
{
	struct ts_attach_caps caps;
	const char *missing;
	struct ts_trace *t;
	int ret;

	if (!ts_tracer_supported(err, errlen))
		return NULL;
	ts_trace_caps(&caps);
	if (!ts_attach_choose(o->attach, &caps, chosen, &missing)) {
		snprintf(err, errlen, "this kernel lacks %s", missing);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->fn = fn;
	t->arg = arg;
	t->ncpus = libbpf_num_possible_cpus();
	t->skel = tcptrace__open();
	if (!t->skel) {
		snprintf(err, errlen, "cannot open BPF object: %s", ts_bpf_error(errno));
		goto fail;
	}
	t->skel->rodata->target_netns = o->netns;
	t->skel->rodata->seq_samples = *chosen == TS_ATTACH_KPROBE;
	t->skel->rodata->destroy_hook = destroy_hook();
	bpf_program__set_autoload(t->skel->progs.tp_destroy,
				  t->skel->rodata->destroy_hook);
	bpf_map__set_max_entries(t->skel->maps.events, ts_ring_size(o->ring_bytes));
	if (o->map_entries) {
		bpf_map__set_max_entries(t->skel->maps.sessions, o->map_entries);
		bpf_map__set_max_entries(t->skel->maps.marks, o->map_entries);
		bpf_map__set_max_entries(t->skel->maps.closing, o->map_entries);
	}
	select_programs(t->skel, *chosen);
	ret = tcptrace__load(t->skel);
	if (!ret)
		ret = tcptrace__attach(t->skel);
	if (ret) {
		snprintf(err, errlen, "cannot load %s programs: %s",
			 ts_attach_name(*chosen), ts_bpf_error(-ret));
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event,
				 t, NULL);
	if (!t->rb) {
		snprintf(err, errlen, "cannot open ring buffer: %s",
			 strerror(errno));
		goto fail;
	}
	return t;
fail:
	ts_trace_close(t);
	return NULL;
}

void ts_trace_close(struct ts_trace *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tcptrace__destroy(t->skel);
	free(t);
}

static int add_sample(struct ts_batch *b, const struct ts_traced *v)
{
	struct ts_sample *s = ts_batch_push(b);

	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->cookie = v->id;
	s->tuple.family = v->family;
	s->tuple.lport = v->lport;
	s->tuple.rport = v->rport;
	memcpy(s->tuple.laddr, v->laddr, 16);
	memcpy(s->tuple.raddr, v->raddr, 16);
	s->tuple.netns = v->netns;
	s->tuple.cgroup = v->cgroup_id;
	s->state = TS_ESTABLISHED;
	s->payload = true;
	s->bytes_acked = v->tx;
	s->bytes_received = v->rx;
	s->pid = v->pid;
	memcpy(s->comm, v->comm, TS_COMM_LEN);
	return 0;
}

/* Batched reads: a handful of syscalls for thousands of sessions. */
int ts_trace_read(struct ts_trace *t, struct ts_batch *out)
{
	int fd = bpf_map__fd(t->skel->maps.sessions);
	__u64 in_batch = 0, out_batch;
	bool first = true;

	ts_batch_reset(out);
	for (;;) {
		__u32 n = BATCH, i;
		int ret = bpf_map_lookup_batch(fd, first ? NULL : &in_batch,
					       &out_batch, t->keys, t->vals,
					       &n, NULL);

		if (ret && errno != ENOENT)
			return -errno;
		for (i = 0; i < n; i++)
			if (add_sample(out, &t->vals[i]))
				return -ENOMEM;
		if (ret)
			return 0;
		in_batch = out_batch;
		first = false;
	}
}

int ts_trace_drain(struct ts_trace *t)
{
	return ring_buffer__consume(t->rb);
}

void ts_trace_lost(struct ts_trace *t, uint64_t *ring, uint64_t *map_full)
{
	uint64_t *vals = calloc(t->ncpus, sizeof(*vals));
	__u32 key;
	int i;

	*ring = 0;
	*map_full = 0;
	if (!vals)
		return;
	for (key = 0; key < 2; key++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.lost), &key, vals))
			continue;
		for (i = 0; i < t->ncpus; i++)
			sum += vals[i];
		*(key ? map_full : ring) = sum;
	}
	free(vals);
}
