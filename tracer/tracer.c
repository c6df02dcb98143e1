// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "tracer.h"
#include "../common/cgroup.h"
#include "tcpclose.skel.h"

#define TRACEFS "/sys/kernel/tracing"
#define PENDING_BATCH 256

struct ts_tracer {
	struct tcpclose *skel;
	struct ring_buffer *rb;
	ts_close_fn fn;
	void *arg;
	int ncpus;
	uint32_t filter_pid;
	enum ts_owner_hooks hooks;	/* the one attached */
	bool cookies;			/* sock_ops makes every cookie */
	char hooks_why[160];		/* why auto settled for less */
	uint64_t owner_timeouts;
	__u64 pend_keys[PENDING_BATCH];
};

int ts_libbpf_quiet(enum libbpf_print_level level, const char *fmt,
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
	skel->rodata->filter_cgroup_id = o->cgroup_id;
	skel->rodata->filter_cgroup_level = o->cgroup_level;
	skel->rodata->rb_wakeup = o->wakeup;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ts_tracer *t = ctx;

	if (size < sizeof(struct ts_close_event))
		return 0;
	return t->fn(data, t->arg);
}

const char *ts_bpf_error(int err)
{
	if (err == EPERM || err == EACCES)
		return "missing privilege: BPF needs CAP_BPF and CAP_PERFMON (or root)";
	return strerror(err);
}

static bool btf_has_func(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok = btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;

	btf__free(btf);
	return ok;
}

/*
 * A cgroup2 superblock of our own, never attached to any directory
 * (fsopen/fsmount): the same hierarchy, visible to no one, gone with the
 * last fd.  Needs CAP_SYS_ADMIN.
 */
static int cgroup2_fd_detached(void)
{
	int fs, mnt, fd = -1;

	fs = fsopen("cgroup2", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		close(fs);
		return -1;
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
	if (mnt < 0)
		return -1;
	fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mnt);
	return fd;
}

/*
 * The cgroup2 mount the cgroup paths are read from (common/cgroup.c): an
 * fd of its directory is all a bpf_link needs.
 */
int ts_cgroup2_root_fd(void)
{
	char *dir = ts_cgroup2_mount();
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	free(dir);

	if (fd < 0)
		fd = cgroup2_fd_detached();
	return fd;
}

static bool has_kprobes(void)
{
	return !access("/sys/bus/event_source/devices/kprobe/type", F_OK) ||
	       !access(TRACEFS "/kprobe_events", F_OK) ||
	       !access("/sys/kernel/debug/tracing/kprobe_events", F_OK);
}

void ts_owner_caps(struct ts_owner_caps *caps, bool *sockops)
{
	int cg = ts_cgroup2_root_fd();
	bool accept_fn = btf_has_func("inet_csk_accept");

	caps->fexit = accept_fn &&
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL) > 0;
	caps->kretprobe = accept_fn && has_kprobes() &&
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, NULL) > 0;
	caps->cgroup = cg >= 0 &&
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK, NULL) > 0;
	caps->syscalls =
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) > 0;
	/* TCPSIGHT_NO_SOCKOPS lets the tests play a kernel without sock_ops. */
	*sockops = cg >= 0 && !getenv("TCPSIGHT_NO_SOCKOPS") &&
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL) > 0;
	if (cg >= 0)
		close(cg);
}

static void select_programs(struct tcpclose *skel, enum ts_owner_hooks h,
			    bool sockops)
{
	bool sc = h == TS_OWN_SYSCALLS;

	bpf_program__set_autoload(skel->progs.ts_accept_fexit, h == TS_OWN_FEXIT);
	bpf_program__set_autoload(skel->progs.ts_accept_kret, h == TS_OWN_KRETPROBE);
	bpf_program__set_autoload(skel->progs.ts_sock_release, h == TS_OWN_CGROUP);
	bpf_program__set_autoload(skel->progs.ts_exit_accept4, sc);
	bpf_program__set_autoload(skel->progs.ts_exit_accept, sc);
	bpf_program__set_autoload(skel->progs.ts_sockops, sockops);
	skel->rodata->defer_unowned = h == TS_OWN_CGROUP;
}

static struct bpf_link *attach_cgroup(struct bpf_program *prog)
{
	struct bpf_link *link;
	int cg = ts_cgroup2_root_fd();

	if (cg < 0)
		return NULL;
	link = bpf_program__attach_cgroup(prog, cg);
	close(cg);
	return link;
}

/*
 * Syscall tracepoints are found through tracefs.  If it is not mounted,
 * it is mounted for the attach only: the perf event keeps the tracepoint,
 * so the mount goes again at once and nothing is left behind.
 */
static int attach_syscalls(struct tcpclose *skel)
{
	bool mounted = false;
	int err = 0;

	if (access(TRACEFS "/events", F_OK) &&
	    access("/sys/kernel/debug/tracing/events", F_OK))
		mounted = !mount("nodev", TRACEFS, "tracefs", 0, NULL);
	skel->links.ts_exit_accept4 =
		bpf_program__attach(skel->progs.ts_exit_accept4);
	if (!skel->links.ts_exit_accept4)
		err = -errno;
	skel->links.ts_exit_accept =
		bpf_program__attach(skel->progs.ts_exit_accept);
	if (!err && !skel->links.ts_exit_accept)
		err = -errno;
	if (mounted)
		umount2(TRACEFS, MNT_DETACH);
	return err;
}

static int attach_owner_hooks(struct tcpclose *skel, enum ts_owner_hooks h)
{
	struct bpf_link **link;

	switch (h) {
	case TS_OWN_FEXIT:
		link = &skel->links.ts_accept_fexit;
		*link = bpf_program__attach(skel->progs.ts_accept_fexit);
		break;
	case TS_OWN_KRETPROBE:
		link = &skel->links.ts_accept_kret;
		*link = bpf_program__attach(skel->progs.ts_accept_kret);
		break;
	case TS_OWN_CGROUP:
		link = &skel->links.ts_sock_release;
		*link = attach_cgroup(skel->progs.ts_sock_release);
		break;
	case TS_OWN_SYSCALLS:
		return attach_syscalls(skel);
	default:
		return 0;
	}
	return *link ? 0 : -(errno ? errno : ENOENT);
}

static int attach(struct ts_tracer *t, enum ts_owner_hooks h,
		  char *errbuf, size_t errlen)
{
	struct tcpclose *skel = t->skel;
	int err;

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
	err = attach_owner_hooks(skel, h);
	if (err) {
		snprintf(errbuf, errlen, "cannot attach --owner-hooks %s: %s",
			 ts_owner_hooks_name(h), ts_bpf_error(-err));
		return -1;
	}
	if (t->cookies) {
		skel->links.ts_sockops = attach_cgroup(skel->progs.ts_sockops);
		t->cookies = skel->links.ts_sockops != NULL;
	}
	return 0;
}

/* One try: the close probe plus owner hooks @h; 0 or -1 with @errbuf. */
static int try_open(struct ts_tracer *t, const struct ts_tracer_opts *opts,
		    enum ts_owner_hooks h, char *errbuf, size_t errlen)
{
	int err;

	t->skel = tcpclose__open();
	if (!t->skel) {
		snprintf(errbuf, errlen, "cannot open BPF object: %s",
			 ts_bpf_error(errno));
		return -1;
	}
	set_filters(t->skel, opts);
	select_programs(t->skel, h, t->cookies);
	bpf_map__set_max_entries(t->skel->maps.events,
				 ts_ring_size(opts->ring_bytes));
	if (opts->births_max)
		bpf_map__set_max_entries(t->skel->maps.births,
					 opts->births_max);
	err = tcpclose__load(t->skel);
	if (err) {
		snprintf(errbuf, errlen, "cannot load BPF programs%s%s: %s",
			 h == TS_OWN_NONE ? "" : " with --owner-hooks ",
			 h == TS_OWN_NONE ? "" : ts_owner_hooks_name(h),
			 ts_bpf_error(-err));
		return -1;
	}
	if (attach(t, h, errbuf, errlen))
		return -1;
	t->hooks = h;
	return 0;
}

static void close_skel(struct ts_tracer *t)
{
	tcpclose__destroy(t->skel);
	t->skel = NULL;
}

/*
 * Best first; an explicit choice the kernel cannot honour is an error.
 * Sockets are never lost by a failed try: nothing is attached until the
 * one that works.
 */
static int open_best(struct ts_tracer *t, const struct ts_tracer_opts *opts,
		     char *errbuf, size_t errlen)
{
	enum ts_owner_hooks order[4], want = opts->owner_hooks;
	struct ts_owner_caps caps;
	unsigned int i, n;

	ts_owner_caps(&caps, &t->cookies);
	n = ts_owner_hooks_order(want, &caps, order);
	if (!n && want != TS_OWN_AUTO && want != TS_OWN_NONE) {
		snprintf(errbuf, errlen, "this kernel lacks --owner-hooks %s",
			 ts_owner_hooks_name(want));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!try_open(t, opts, order[i], errbuf, errlen))
			return 0;
		close_skel(t);
		if (want != TS_OWN_AUTO)
			return -1;
		snprintf(t->hooks_why, sizeof(t->hooks_why), "%s", errbuf);
	}
	if (want == TS_OWN_AUTO && !t->hooks_why[0])
		snprintf(t->hooks_why, sizeof(t->hooks_why),
			 "no fexit, kretprobe or cgroup/sock_release hook");
	return try_open(t, opts, TS_OWN_NONE, errbuf, errlen);
}

struct ts_tracer *ts_tracer_open(const struct ts_tracer_opts *opts,
				 ts_close_fn fn, void *arg,
				 char *errbuf, size_t errlen)
{
	struct ts_tracer *t;

	if (!ts_tracer_supported(errbuf, errlen))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	libbpf_set_print(ts_libbpf_quiet);
	t->fn = fn;
	t->arg = arg;
	t->ncpus = libbpf_num_possible_cpus();
	t->filter_pid = opts->pid;
	if (open_best(t, opts, errbuf, errlen))
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

enum ts_owner_hooks ts_tracer_owner_hooks(const struct ts_tracer *t,
					  const char **why)
{
	if (why)
		*why = t->hooks == TS_OWN_NONE && t->hooks_why[0] ?
		       t->hooks_why : NULL;
	return t->hooks;
}

bool ts_tracer_cookies(const struct ts_tracer *t)
{
	return t->cookies;
}

uint64_t ts_tracer_owner_timeouts(const struct ts_tracer *t)
{
	return t->owner_timeouts;
}

/* Collects up to a batch of keys of sessions closed before @before_ns. */
static size_t old_pending(struct ts_tracer *t, int fd, uint64_t before_ns)
{
	struct ts_close_event ev;
	__u64 key, cur = 0;
	bool first = true;
	size_t n = 0;

	while (n < PENDING_BATCH &&
	       !bpf_map_get_next_key(fd, first ? NULL : &cur, &key)) {
		first = false;
		cur = key;
		if (!bpf_map_lookup_elem(fd, &key, &ev) && ev.close_ns < before_ns)
			t->pend_keys[n++] = key;
	}
	return n;
}

/*
 * The owner never closed in time: the session leaves without one.  Taken
 * with lookup-and-delete, so an event the release hook emitted meanwhile
 * is never emitted twice.
 */
int ts_tracer_flush_pending(struct ts_tracer *t, uint64_t before_ns)
{
	int fd = bpf_map__fd(t->skel->maps.pending);
	struct ts_close_event ev;
	int done = 0, saved = errno;
	size_t i, n;

	do {
		n = old_pending(t, fd, before_ns);
		for (i = 0; i < n; i++) {
			if (bpf_map_lookup_and_delete_elem(fd, &t->pend_keys[i], &ev))
				continue;
			t->owner_timeouts++;
			/* An unknown owner is never the one -p asked for. */
			if (t->filter_pid)
				continue;
			t->fn(&ev, t->arg);
			done++;
		}
	} while (n == PENDING_BATCH);
	/* The walk ends in ENOENT: a write error the caller checks must survive it. */
	errno = saved;
	return done;
}

bool ts_tracer_owner(struct ts_tracer *t, const struct ts_tuple *tuple,
		     uint32_t *pid, char *comm)
{
	struct ts_tuple_key k = {
		.family = tuple->family,
		.lport = tuple->lport,
		.rport = tuple->rport,
		.netns = tuple->netns,
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

/* One batched read: a handful of syscalls for thousands of namespaces. */
int ts_tracer_births(struct ts_tracer *t, ts_births_fn fn, void *arg)
{
	int fd = bpf_map__fd(t->skel->maps.netns_births);
	__u32 keys[256], in_batch = 0, out_batch;
	__u64 vals[256];
	bool first = true;

	for (;;) {
		__u32 n = 256, i;
		int ret = bpf_map_lookup_batch(fd, first ? NULL : &in_batch,
					       &out_batch, keys, vals, &n, NULL);

		if (ret && errno != ENOENT)
			return -errno;
		for (i = 0; i < n; i++)
			fn(keys[i], vals[i], arg);
		if (ret)
			return 0;
		in_batch = out_batch;
		first = false;
	}
}
