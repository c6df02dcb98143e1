/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JSON Lines archive, compressed with zstd, rotated by size and age.
 * Records collect into one zstd frame per flush; a flush writes the whole
 * frame or, failing (disk full), takes it back out of the file, so every
 * file is a sequence of complete frames ending at a record boundary.  A
 * file is written under a hidden temporary name and renamed when closed.
 */
#ifndef TS_JSONL_H
#define TS_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_jsonl_opts {
	const char *dir;
	const char *stream;		/* file name prefix: "intervals", "sessions" */
	uint64_t max_bytes;		/* rotate once a file is this big */
	uint64_t max_age_ns;		/* ... or this old */
	int level;			/* zstd level */
};

struct ts_jsonl_stats {
	uint64_t records;		/* written */
	uint64_t dropped;		/* lost to failed writes */
	uint64_t write_errors;
	uint64_t files;			/* completed (renamed) */
};

struct ts_jsonl;

/* NULL with a one-line reason: @dir must be a writable directory. */
struct ts_jsonl *ts_jsonl_open(const struct ts_jsonl_opts *o, char *err,
			       size_t errlen);
/* Adds one record (one line, with its newline) to the pending frame. */
int ts_jsonl_add(struct ts_jsonl *j, const char *rec, size_t len);
/*
 * Ends the frame and writes it; rotates when due.  A failure is one line
 * on stderr when it starts, one when writing works again; its records are
 * counted as dropped.  Returns 0, or -errno of the failed write.
 */
int ts_jsonl_flush(struct ts_jsonl *j, uint64_t now_ns);
/* SIGHUP: the current file is closed; the next flush opens a new one. */
void ts_jsonl_reopen(struct ts_jsonl *j);
/* Flushes, closes, frees. */
void ts_jsonl_close(struct ts_jsonl *j, uint64_t now_ns);
const struct ts_jsonl_stats *ts_jsonl_stats(const struct ts_jsonl *j);

/* Pure parts. */
bool ts_rotate_due(uint64_t size, uint64_t opened_ns, uint64_t now_ns,
		   uint64_t max_bytes, uint64_t max_age_ns);
/* "<stream>-YYYYmmddTHHMMSSZ-<pid>-<seq>.jsonl.zst" */
int ts_jsonl_name(char *buf, size_t len, const char *stream, int64_t unix_s,
		  unsigned int pid, unsigned int seq);

#endif
