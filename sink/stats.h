/*
 * stats.h: the sink's counters and latency figures for its exit summary:
 * stored, invalid, duplicates, gaps, latency p50/p99 (receive time minus the
 * reading's ts). Latency samples are kept in a fixed log-scale histogram, so
 * memory does not grow with the run.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

struct stats {
	uint64_t stored;
	uint64_t invalid;
	uint64_t duplicates;
	int64_t  gaps;
	uint64_t lat_n;
	uint64_t lat_buckets[512];
};

void stats_init(struct stats *s);
/* Record one latency in microseconds (negative: clock skew, kept as 0). */
void stats_latency(struct stats *s, int64_t us);
/* Latency percentile (0 < q < 1) in milliseconds; -1 when no samples. */
double stats_latency_ms(const struct stats *s, double q);
/* The summary line (no program prefix, no newline):
 * "stored=100 invalid=0 duplicates=0 gaps=0 latency_p50_ms=0.40 latency_p99_ms=1.19" */
int stats_format(const struct stats *s, char *buf, size_t cap);

#endif
