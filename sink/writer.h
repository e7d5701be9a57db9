/*
 * writer.h: the sink's output file. Formats (SPEC.md): text (header
 * "# seq ts device temp_c"), csv (header
 * "device,boot,seq,ts,temp_c,mv,raw,recv_ts"), jsonl (the original payload
 * plus "recv_ts"). One line per reading: written with one write(2) in
 * APPEND mode and on stdout, gathered into 32 KiB writes in COMPLETE mode.
 *
 * Modes: WRITER_COMPLETE writes to a temporary file beside path and renames
 * it into place on writer_commit() (a partial file never looks finished);
 * WRITER_APPEND appends to path (header only when the file is empty) and
 * fsyncs every line before writer_write() returns (see writer_set_sync);
 * path "-" is stdout.
 */
#ifndef WRITER_H
#define WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "pt_reading.h"

enum writer_format { WRITER_TEXT = 0, WRITER_CSV, WRITER_JSONL };
enum writer_mode { WRITER_COMPLETE = 0, WRITER_APPEND };

struct writer;

/* Parse "text" / "csv" / "jsonl". Returns 0 or -EINVAL. */
int writer_format_parse(const char *s, enum writer_format *out);

/* NULL with errno set on failure (cannot create or open the file). */
struct writer *writer_open(const char *path, enum writer_format fmt,
                           enum writer_mode mode);

/*
 * Write one reading. payload/len is the original payload (used by jsonl);
 * recv_us the receive time. Returns 0 or -errno; on error nothing partial
 * stays in the file (a short write is truncated away).
 */
int writer_write(struct writer *w, const struct pt_reading *r,
                 const void *payload, size_t len, int64_t recv_us);

/* APPEND mode: 1 (default) fsyncs every line before writer_write()
 * returns (a power cut loses no line); 0 leaves that to writer_sync_fd()'s
 * caller (a kill loses none, a power cut what was not yet synced).
 * Accepts NULL. */
void writer_set_sync(struct writer *w, int per_line);

/*
 * APPEND mode without a per-line fsync: a duplicate of the file's
 * descriptor for the caller to fsync and close when lines were written
 * since the last call; -1 when there is nothing to sync (or dup failed).
 * The fsync happens outside the caller's lock, so the thread that writes
 * the lines never waits for the disk. Accepts NULL.
 */
int writer_sync_fd(struct writer *w);

/*
 * 0 when the next line can be written, -ENOSPC (-EDQUOT) when the space
 * held for it (reserve.h) cannot be had: take no reading until this
 * returns 0. stdout and filesystems without fallocate: always 0.
 */
int writer_ready(struct writer *w);

/*
 * APPEND mode: open path again, for logrotate (rename, then SIGHUP); a new
 * file starts with its header. On failure the current file stays in use.
 * COMPLETE mode and stdout: nothing to do. 0 or -errno.
 */
int writer_reopen(struct writer *w);

/* COMPLETE mode: fsync and rename into place. APPEND: fsync. 0 or -errno. */
int writer_commit(struct writer *w);

/*
 * Close without committing. COMPLETE mode with at least one line written
 * renames the temporary file to "<path>.partial" (nothing received is ever
 * thrown away) and returns that name in *kept (static storage of w, valid
 * until writer_free); otherwise *kept = NULL. Accepts NULL.
 */
void writer_abandon(struct writer *w, const char **kept);
void writer_free(struct writer *w); /* accepts NULL; closes */

#endif
