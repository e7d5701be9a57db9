/*
 * dedup.h: the sink stores each (device, boot, seq) at most once and counts
 * gaps (seq values skipped within a boot). Memory is bounded: per stream
 * (device, boot) a window of the most recent seqs; streams beyond the limit
 * are evicted least recently used.
 */
#ifndef DEDUP_H
#define DEDUP_H

#include <stdint.h>

#include "pt_reading.h"

struct dedup;

enum dedup_verdict {
	DEDUP_NEW = 0,      /* first sighting: store it */
	DEDUP_DUPLICATE,    /* seen before (or older than the window): drop it */
	DEDUP_FIRST,        /* first sighting, and the first of its stream:
	                     * store it; its seq readings before it are missing */
};

/* window: seqs remembered per stream (0: default 65536); max_streams
 * (0: default 16384; a stream's window bitmap, window/8 bytes, is only
 * allocated when a stream first takes its slot). NULL with errno on
 * failure. */
struct dedup *dedup_new(uint32_t window, uint32_t max_streams);
void dedup_free(struct dedup *d); /* accepts NULL */

/*
 * Classify (device, boot, seq) and, when new, remember it. *gap_delta
 * receives the change in the count of missing seqs within the stream: +n
 * when seq jumps n past the highest seen, -1 when a reading fills a hole
 * seen earlier, 0 otherwise. A stream's first reading (DEDUP_FIRST) counts
 * the seqs below it as missing (a boot starts at seq 0): the sink says so
 * rather than hide the hole, be it a late start or readings lost; one that
 * arrives later fills its place (-1).
 */
enum dedup_verdict dedup_check(struct dedup *d, const char *device,
                               const char *boot, uint64_t seq,
                               int64_t *gap_delta);

/*
 * Remember (device, boot, seq) as stored without counting anything: the
 * file-tail recovery (recover.c) feeds what is already in the output. A
 * stream it starts counts nothing missing below its first seq.
 */
void dedup_seed(struct dedup *d, const char *device, const char *boot,
                uint64_t seq);

/* 1 when the stream (device, boot) is known (seen or seeded). */
int dedup_known(struct dedup *d, const char *device, const char *boot);

#endif
