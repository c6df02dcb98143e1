// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zstd.h>
#include "jsonl.h"

struct ts_jsonl {
	struct ts_jsonl_opts o;
	ZSTD_CCtx *cctx;
	char *frame;			/* the pending frame, compressed */
	size_t frame_len;
	size_t frame_cap;
	uint64_t pending;		/* records in it */
	int fd;				/* -1: no file open */
	uint64_t size;			/* bytes of complete frames in it */
	uint64_t opened_ns;
	char tmp[4096];
	char final[4096];
	unsigned int seq;
	bool failing;			/* last write failed: said so once */
	struct ts_jsonl_stats stats;
};

bool ts_rotate_due(uint64_t size, uint64_t opened_ns, uint64_t now_ns,
		   uint64_t max_bytes, uint64_t max_age_ns)
{
	if (max_bytes && size >= max_bytes)
		return true;
	return max_age_ns && now_ns >= opened_ns && now_ns - opened_ns >= max_age_ns;
}

int ts_jsonl_name(char *buf, size_t len, const char *stream, int64_t unix_s,
		  unsigned int pid, unsigned int seq)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	char when[32];

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	return snprintf(buf, len, "%s-%s-%u-%06u.jsonl.zst", stream, when, pid,
			seq);
}

struct ts_jsonl *ts_jsonl_open(const struct ts_jsonl_opts *o, char *err,
			       size_t errlen)
{
	struct ts_jsonl *j;
	struct stat st;

	if (stat(o->dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", o->dir);
		return NULL;
	}
	if (access(o->dir, W_OK | X_OK)) {
		snprintf(err, errlen, "%s: %s", o->dir, strerror(errno));
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->o = *o;
	j->fd = -1;
	j->cctx = ZSTD_createCCtx();
	if (!j->cctx) {
		free(j);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ZSTD_CCtx_setParameter(j->cctx, ZSTD_c_compressionLevel, o->level);
	ZSTD_CCtx_setParameter(j->cctx, ZSTD_c_checksumFlag, 1);
	return j;
}

static int frame_room(struct ts_jsonl *j, size_t want)
{
	size_t cap = j->frame_cap ? j->frame_cap : 65536;
	char *p;

	if (j->frame_cap - j->frame_len >= want)
		return 0;
	while (cap - j->frame_len < want)
		cap *= 2;
	p = realloc(j->frame, cap);
	if (!p)
		return -ENOMEM;
	j->frame = p;
	j->frame_cap = cap;
	return 0;
}

/* Runs the compressor until @in is taken (and, at the end, the frame done). */
static int compress(struct ts_jsonl *j, ZSTD_inBuffer *in, ZSTD_EndDirective op)
{
	for (;;) {
		ZSTD_outBuffer out;
		size_t left;

		if (frame_room(j, ZSTD_CStreamOutSize()))
			return -ENOMEM;
		out.dst = j->frame;
		out.size = j->frame_cap;
		out.pos = j->frame_len;
		left = ZSTD_compressStream2(j->cctx, &out, in, op);
		j->frame_len = out.pos;
		if (ZSTD_isError(left))
			return -EINVAL;
		if (op == ZSTD_e_end ? !left : in->pos == in->size)
			return 0;
	}
}

int ts_jsonl_add(struct ts_jsonl *j, const char *rec, size_t len)
{
	ZSTD_inBuffer in = { rec, len, 0 };

	if (compress(j, &in, ZSTD_e_continue)) {
		/* The frame is unusable: start over, its records lost. */
		ZSTD_CCtx_reset(j->cctx, ZSTD_reset_session_only);
		j->stats.dropped += j->pending + 1;
		j->pending = 0;
		j->frame_len = 0;
		return -ENOMEM;
	}
	j->pending++;
	return 0;
}

static void finish_file(struct ts_jsonl *j)
{
	if (j->fd < 0)
		return;
	close(j->fd);
	j->fd = -1;
	if (!j->size) {
		unlink(j->tmp);
		return;
	}
	if (rename(j->tmp, j->final)) {
		fprintf(stderr, "tcpsightd: cannot rename %s: %s\n", j->tmp,
			strerror(errno));
		j->stats.write_errors++;
		return;
	}
	j->stats.files++;
}

static int open_file(struct ts_jsonl *j, uint64_t now_ns)
{
	char name[1024];

	ts_jsonl_name(name, sizeof(name), j->o.stream, (int64_t)time(NULL),
		      (unsigned int)getpid(), ++j->seq);
	snprintf(j->final, sizeof(j->final), "%s/%s", j->o.dir, name);
	snprintf(j->tmp, sizeof(j->tmp), "%s/.%s.tmp", j->o.dir, name);
	j->fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return -errno;
	j->size = 0;
	j->opened_ns = now_ns;
	return 0;
}

/* At @off, not the file offset: a failed frame leaves that behind. */
static int write_all(int fd, const char *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENOSPC;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_frame(struct ts_jsonl *j, uint64_t now_ns)
{
	int ret;

	if (j->fd < 0 && (ret = open_file(j, now_ns)))
		return ret;
	ret = write_all(j->fd, j->frame, j->frame_len, (off_t)j->size);
	if (ret) {
		/* No torn frame stays behind: back to the last whole one. */
		if (ftruncate(j->fd, (off_t)j->size))
			finish_file(j);
		return ret;
	}
	j->size += j->frame_len;
	return 0;
}

static void report(struct ts_jsonl *j, int ret)
{
	if (ret && !j->failing)
		fprintf(stderr, "tcpsightd: %s: cannot write %s archive: %s; "
			"records are dropped and counted until it works again\n",
			j->o.dir, j->o.stream, strerror(-ret));
	else if (!ret && j->failing)
		fprintf(stderr, "tcpsightd: %s: writing %s archive again\n",
			j->o.dir, j->o.stream);
	j->failing = ret != 0;
}

int ts_jsonl_flush(struct ts_jsonl *j, uint64_t now_ns)
{
	ZSTD_inBuffer none = { NULL, 0, 0 };
	int ret = 0;

	if (j->pending) {
		ret = compress(j, &none, ZSTD_e_end);
		if (!ret)
			ret = write_frame(j, now_ns);
		if (ret) {
			ZSTD_CCtx_reset(j->cctx, ZSTD_reset_session_only);
			j->stats.write_errors++;
			j->stats.dropped += j->pending;
		} else {
			j->stats.records += j->pending;
		}
		report(j, ret);
		j->pending = 0;
		j->frame_len = 0;
	}
	if (j->fd >= 0 && ts_rotate_due(j->size, j->opened_ns, now_ns,
					j->o.max_bytes, j->o.max_age_ns))
		finish_file(j);
	return ret;
}

void ts_jsonl_reopen(struct ts_jsonl *j)
{
	finish_file(j);
}

void ts_jsonl_close(struct ts_jsonl *j, uint64_t now_ns)
{
	if (!j)
		return;
	ts_jsonl_flush(j, now_ns);
	finish_file(j);
	ZSTD_freeCCtx(j->cctx);
	free(j->frame);
	free(j);
}

const struct ts_jsonl_stats *ts_jsonl_stats(const struct ts_jsonl *j)
{
	return &j->stats;
}
