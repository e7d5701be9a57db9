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
};

/* window: seqs remembered per stream (0: default 65536); max_streams
 * (0: default 1024). NULL with errno on failure. */
struct dedup *dedup_new(uint32_t window, uint32_t max_streams);
void dedup_free(struct dedup *d); /* accepts NULL */

/*
 * Classify (device, boot, seq) and, when new, remember it. *gap_delta
 * receives the change in the count of missing seqs within the stream: +n
 * when seq jumps n past the highest seen, -1 when a reading fills a hole
 * seen earlier, 0 otherwise. A stream's first reading sets no gap even if
 * its seq is not 0 (the sink may have started late).
 */
enum dedup_verdict dedup_check(struct dedup *d, const char *device,
                               const char *boot, uint64_t seq,
                               int64_t *gap_delta);

#endif
