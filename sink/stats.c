/*
 * stats.c: the sink's counters and latency percentiles in fixed memory.
 *
 * Latencies go into a log-scale histogram of 512 buckets, 16 per doubling
 * (each bucket ~4.4% wide): bucket 0 holds 0 us (and negative values, clock
 * skew), bucket i in 1..510 holds [2^((i-1)/16), 2^(i/16)) us, which reaches
 * 2^(510/16) us (about 65 minutes); anything longer lands in bucket 511.
 *
 * A percentile reports the geometric middle of the bucket holding the
 * sample of that rank, so it is within about 2.2% (half a bucket) of a true
 * sample value between 1 us and 65 minutes. The last bucket reports its
 * lower edge (about 65 minutes): "at least".
 */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define NBUCKETS    (sizeof(((struct stats *)0)->lat_buckets) / sizeof(uint64_t))
#define PER_OCTAVE  16.0

void
stats_init(struct stats *s)
{
	if (s != NULL)
		memset(s, 0, sizeof(*s));
}

static size_t
bucket_of(int64_t us)
{
	double i;

	if (us <= 0)
		return 0;
	i = 1.0 + floor(PER_OCTAVE * log2((double)us));
	if (i >= (double)(NBUCKETS - 1))
		return NBUCKETS - 1;
	return (size_t)i;
}

/* The value a bucket stands for, in microseconds. */
static double
bucket_value(size_t i)
{
	if (i == 0)
		return 0.0;
	if (i == NBUCKETS - 1)
		return exp2((double)(i - 1) / PER_OCTAVE);
	return exp2(((double)i - 0.5) / PER_OCTAVE);
}

/* O(1); s may be NULL. */
void
stats_latency(struct stats *s, int64_t us)
{
	if (s == NULL)
		return;
	s->lat_buckets[bucket_of(us)]++;
	s->lat_n++;
}

/*
 * The sample of rank ceil(q * n) (nearest rank), from its bucket. -1 when
 * there are no samples, s is NULL or q is outside (0, 1].
 */
double
stats_latency_ms(const struct stats *s, double q)
{
	uint64_t rank, seen = 0;
	size_t i;

	if (s == NULL || s->lat_n == 0 || !(q > 0.0 && q <= 1.0))
		return -1.0;
	rank = (uint64_t)ceil(q * (double)s->lat_n);
	if (rank < 1)
		rank = 1;
	if (rank > s->lat_n)
		rank = s->lat_n;
	for (i = 0; i < NBUCKETS; i++) {
		seen += s->lat_buckets[i];
		if (seen >= rank)
			break;
	}
	if (i == NBUCKETS)
		i = NBUCKETS - 1;
	return bucket_value(i) / 1000.0;
}

/*
 * Writes the summary line, NUL terminated, into buf. Without samples both
 * latencies print as "-" ("latency_p50_ms=- latency_p99_ms=-"). Returns its
 * length, -EINVAL for NULL arguments, or -ENOSPC when it does not fit (buf
 * then holds a truncated line).
 */
int
stats_format(const struct stats *s, char *buf, size_t cap)
{
	char p50[32] = "-", p99[32] = "-";
	int n;

	if (s == NULL || buf == NULL || cap == 0)
		return -EINVAL;
	if (s->lat_n > 0) {
		snprintf(p50, sizeof(p50), "%.2f", stats_latency_ms(s, 0.50));
		snprintf(p99, sizeof(p99), "%.2f", stats_latency_ms(s, 0.99));
	}
	n = snprintf(buf, cap, "stored=%" PRIu64 " invalid=%" PRIu64
	    " duplicates=%" PRIu64 " gaps=%" PRId64
	    " latency_p50_ms=%s latency_p99_ms=%s",
	    s->stored, s->invalid, s->duplicates, s->gaps, p50, p99);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= cap)
		return -ENOSPC;
	return n;
}
