/*
 * test_stats.c: the sink's latency histogram, percentiles and summary line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "stats.h"

/* Percentiles come from a bucket's middle: within 2.2% of a true value. */
#define assert_within_pct(got, want, pct) \
	assert_true(fabs((got) - (want)) <= (want) * (pct) / 100.0)

static void
stats_p99_of_known_distribution(void **state)
{
	struct stats s;
	int64_t ms;

	(void)state;
	stats_init(&s);
	/* 1 ms .. 1000 ms, once each: p50 = 500 ms, p99 = 990 ms. */
	for (ms = 1000; ms >= 1; ms--)
		stats_latency(&s, ms * 1000);
	assert_int_equal(s.lat_n, 1000);
	assert_within_pct(stats_latency_ms(&s, 0.50), 500.0, 2.2);
	assert_within_pct(stats_latency_ms(&s, 0.99), 990.0, 2.2);
	assert_within_pct(stats_latency_ms(&s, 1.0), 1000.0, 2.2);
	assert_within_pct(stats_latency_ms(&s, 0.001), 1.0, 2.2);
}

static void
stats_percentile_is_accurate_across_the_range(void **state)
{
	struct stats s;
	int64_t us;
	double got;

	(void)state;
	for (us = 1; us < 3600LL * 1000 * 1000; us = us * 3 + 1) {
		stats_init(&s);
		stats_latency(&s, us);
		got = stats_latency_ms(&s, 0.5) * 1000.0;
		assert_within_pct(got, (double)us, 2.2);
	}
}

static void
stats_skewed_and_huge_latencies_land_in_the_end_buckets(void **state)
{
	struct stats s;

	(void)state;
	stats_init(&s);
	stats_latency(&s, -5000);               /* clock skew: kept as 0 */
	assert_int_equal(s.lat_buckets[0], 1);
	assert_true(stats_latency_ms(&s, 0.5) == 0.0);
	stats_latency(&s, INT64_MAX);
	stats_latency(&s, 100LL * 3600 * 1000 * 1000);
	assert_int_equal(s.lat_buckets[511], 2);
	/* The last bucket reports its lower edge, about 65 minutes. */
	assert_within_pct(stats_latency_ms(&s, 0.99), 65.5 * 60 * 1000, 1.0);
}

static void
stats_latency_is_minus_one_without_samples(void **state)
{
	struct stats s;

	(void)state;
	stats_init(&s);
	assert_true(stats_latency_ms(&s, 0.5) == -1.0);
	assert_true(stats_latency_ms(NULL, 0.5) == -1.0);
	stats_latency(&s, 10);
	assert_true(stats_latency_ms(&s, 0.0) == -1.0);
	assert_true(stats_latency_ms(&s, 1.5) == -1.0);
}

static void
stats_format_writes_the_summary_line(void **state)
{
	struct stats s;
	char buf[256];
	int i, n;

	(void)state;
	stats_init(&s);
	s.stored = 100;
	/* Values near bucket middles (403.5 us, 1191.7 us) print exactly. */
	for (i = 0; i < 98; i++)
		stats_latency(&s, 404);
	stats_latency(&s, 1192);
	stats_latency(&s, 1192);
	n = stats_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, "stored=100 invalid=0 duplicates=0 gaps=0 "
	    "latency_p50_ms=0.40 latency_p99_ms=1.19");
	assert_int_equal(n, (int)strlen(buf));
}

static void
stats_format_prints_dashes_without_samples(void **state)
{
	struct stats s;
	char buf[256];

	(void)state;
	stats_init(&s);
	s.stored = 3;
	s.invalid = 2;
	s.duplicates = 1;
	s.gaps = -4;
	assert_true(stats_format(&s, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "stored=3 invalid=2 duplicates=1 gaps=-4 "
	    "latency_p50_ms=- latency_p99_ms=-");
}

static void
stats_format_reports_a_short_buffer(void **state)
{
	struct stats s;
	char buf[16];

	(void)state;
	stats_init(&s);
	assert_int_equal(stats_format(&s, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(stats_format(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(stats_format(&s, NULL, 0), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_p99_of_known_distribution),
		cmocka_unit_test(stats_percentile_is_accurate_across_the_range),
		cmocka_unit_test(stats_skewed_and_huge_latencies_land_in_the_end_buckets),
		cmocka_unit_test(stats_latency_is_minus_one_without_samples),
		cmocka_unit_test(stats_format_writes_the_summary_line),
		cmocka_unit_test(stats_format_prints_dashes_without_samples),
		cmocka_unit_test(stats_format_reports_a_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
