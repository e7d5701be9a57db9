/*
 * recover.h: a logger sink (--count 0) restarting on its own output file
 * rebuilds what it needs to store no reading twice: the readings in the
 * file's tail are fed to the dedup, so one the broker or paho delivers
 * again (it was written, but the acknowledgement or paho's bookkeeping
 * did not survive the crash) is recognised as a duplicate.
 *
 * csv and jsonl lines carry (device, boot, seq): they seed the dedup
 * itself, gap accounting included. The text format (SPEC.md, fixed) has
 * no boot, so its tail is kept as a set of (device, seq, ts) and a reading
 * matching one of them is a duplicate whatever its boot; ts has
 * microseconds and a new boot starts again at seq 0 with a later ts, so
 * two different readings never share all three.
 *
 * The tail is the last RECOVER_MAX_LINES complete lines; a last line with
 * no newline (the writer trims one on open; a crash can leave one) is
 * ignored, as is anything that does not parse.
 */
#ifndef RECOVER_H
#define RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "dedup.h"
#include "pt_reading.h"
#include "writer.h"

/* Redeliveries come from the broker's inflight window (max_inflight_messages,
 * 100) and its autosave lag, and paho's persisted queue: far below this. */
#define RECOVER_MAX_LINES   20000

struct recover;

struct recover_info {
	uint64_t lines;     /* readings read back from the tail */
	uint64_t skipped;   /* lines in the tail that did not parse */
};

/*
 * Read the tail of path (format fmt) and seed d (csv, jsonl) or the
 * returned set (text). A missing or empty file, or "-", gives an empty
 * set. Returns NULL with errno set on a read or allocation error; info may
 * be NULL.
 */
struct recover *recover_load(const char *path, enum writer_format fmt,
                             struct dedup *d, struct recover_info *info);

/* 1 when r is a text-format reading already in the file's tail, else 0.
 * rec may be NULL (0). */
int recover_seen(const struct recover *rec, const struct pt_reading *r);

/*
 * The text-format tail's latest reading of r's device before r (a lower
 * seq, an earlier ts): 1 and its seq in *seq, else 0. The text format has
 * no boot, so a stream the file already holds looks new to the dedup
 * after a restart; this says where it left off, so it does not seem to
 * start with a hole. rec may be NULL (0).
 */
int recover_last_before(const struct recover *rec, const struct pt_reading *r,
                        uint64_t *seq);

void recover_free(struct recover *rec); /* accepts NULL */

#endif
