/*
 * test_summary.c: windows of the summary stream (sensor/summary.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "summary.h"

#define S_US 1000000LL
/* 2026-11-24T21:23:00.000000Z, a multiple of 5 s */
#define T0   1795555380000000LL

static void
summary_closes_a_window_when_a_reading_falls_past_its_end(void **state)
{
	struct summary s;
	struct summary_window w;

	(void)state;
	summary_init(&s, S_US);
	assert_int_equal(summary_add(&s, T0 + 10000, 22.50, &w), 0);
	assert_int_equal(summary_add(&s, T0 + 500000, 22.70, &w), 0);
	assert_int_equal(summary_add(&s, T0 + 999999, 22.10, &w), 0);
	/* The first reading of the next second closes [T0, T0 + 1 s). */
	assert_int_equal(summary_add(&s, T0 + S_US, 30.00, &w), 1);
	assert_int_equal(w.start_us, T0);
	assert_int_equal(w.end_us, T0 + S_US);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.min_cc, 2210);
	assert_int_equal(w.max_cc, 2270);
	assert_int_equal(w.mean_cc, 2243);     /* 67.30 / 3 = 22.4333 */
	/* The reading that closed it opened the next one. */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.start_us, T0 + S_US);
}

static void
summary_windows_align_on_the_clock_and_skip_empty_ones(void **state)
{
	struct summary s;
	struct summary_window w;

	(void)state;
	summary_init(&s, 5 * S_US);
	assert_int_equal(summary_add(&s, T0 + 7 * S_US, 20.0, &w), 0);
	assert_int_equal(s.start_us, T0 + 5 * S_US);
	/* A stall of 20 s: one window out, the empty ones between are not. */
	assert_int_equal(summary_add(&s, T0 + 27 * S_US, 21.0, &w), 1);
	assert_int_equal(w.start_us, T0 + 5 * S_US);
	assert_int_equal(w.end_us, T0 + 10 * S_US);
	assert_int_equal(w.n, 1);
	assert_int_equal(s.start_us, T0 + 25 * S_US);
}

static void
summary_mean_is_exact_and_rounds_half_away_from_zero(void **state)
{
	struct summary s;
	struct summary_window w;
	int64_t t = T0;

	(void)state;
	/* 0.1 is not a binary fraction: 100,000 of them still average 0.10. */
	summary_init(&s, 1000 * S_US);
	for (int i = 0; i < 100000; i++)
		summary_add(&s, t++, 0.1, &w);
	assert_int_equal(summary_cut(&s, t, &w), 1);
	assert_int_equal(w.mean_cc, 10);

	/* 22.00 and 22.01: 22.005, up. -0.01 and -0.02: -0.015, away from 0. */
	summary_init(&s, S_US);
	summary_add(&s, T0, 22.00, &w);
	summary_add(&s, T0 + 1, 22.01, &w);
	assert_int_equal(summary_cut(&s, T0 + 2, &w), 1);
	assert_int_equal(w.mean_cc, 2201);
	summary_init(&s, S_US);
	summary_add(&s, T0, -0.01, &w);
	summary_add(&s, T0 + 1, -0.02, &w);
	assert_int_equal(summary_cut(&s, T0 + 2, &w), 1);
	assert_int_equal(w.mean_cc, -2);
	assert_int_equal(w.min_cc, -2);
	assert_int_equal(w.max_cc, -1);
}

static void
summary_cut_ends_the_window_at_the_stop_within_its_bounds(void **state)
{
	struct summary s;
	struct summary_window w;

	(void)state;
	summary_init(&s, S_US);
	assert_int_equal(summary_cut(&s, T0, &w), 0);  /* nothing open */
	summary_add(&s, T0 + 100, 22.0, &w);
	summary_add(&s, T0 + 200, 22.0, &w);
	assert_int_equal(summary_cut(&s, T0 + 300000, &w), 1);
	assert_int_equal(w.start_us, T0);
	assert_int_equal(w.end_us, T0 + 300000);
	assert_int_equal(w.n, 2);
	assert_int_equal(summary_cut(&s, T0 + 400000, &w), 0);
	/* A stop clock behind the last reading: just past it. */
	summary_add(&s, T0 + 500, 22.0, &w);
	assert_int_equal(summary_cut(&s, T0 + 100, &w), 1);
	assert_int_equal(w.end_us, T0 + 501);
	/* A stop long after: the window's own end. */
	summary_add(&s, T0 + 600, 22.0, &w);
	assert_int_equal(summary_cut(&s, T0 + 9 * S_US, &w), 1);
	assert_int_equal(w.end_us, T0 + S_US);
}

static void
summary_handles_times_before_the_epoch(void **state)
{
	struct summary s;
	struct summary_window w;

	(void)state;
	summary_init(&s, S_US);
	summary_add(&s, -1, 22.0, &w);
	assert_int_equal(s.start_us, -S_US);
	assert_int_equal(s.end_us, 0);
	assert_int_equal(summary_add(&s, 0, 22.0, &w), 1);
	assert_int_equal(w.end_us, 0);
}

static void
summary_encodes_the_schema_fields_in_order(void **state)
{
	struct summary_window w = {
		.start_us = T0, .end_us = T0 + S_US, .n = 100,
		.mean_cc = 2253, .min_cc = -5, .max_cc = 12500,
	};
	char buf[SUMMARY_PAYLOAD_MAX];
	int n;

	(void)state;
	n = summary_encode(&w, "pi-sensor-1", "5f0c2a9e41d3b7a8", buf, sizeof(buf));
	assert_string_equal(buf, "{\"device\":\"pi-sensor-1\","
	    "\"boot\":\"5f0c2a9e41d3b7a8\","
	    "\"start\":\"2026-11-24T21:23:00.000000Z\","
	    "\"end\":\"2026-11-24T21:23:01.000000Z\","
	    "\"n\":100,\"mean\":22.53,\"min\":-0.05,\"max\":125.00}");
	assert_int_equal(n, (int)strlen(buf));
	w.mean_cc = w.min_cc = w.max_cc = 0;
	summary_encode(&w, "d", "5f0c2a9e41d3b7a8", buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"mean\":0.00,\"min\":0.00,\"max\":0.00}"));
}

static void
summary_encode_refuses_what_the_schema_refuses(void **state)
{
	struct summary_window ok = {
		.start_us = T0, .end_us = T0 + S_US, .n = 1,
		.mean_cc = 2200, .min_cc = 2200, .max_cc = 2200,
	}, w;
	char buf[SUMMARY_PAYLOAD_MAX], small[40];
	const char *dev64 =
	    "0123456789012345678901234567890123456789012345678901234567890123";

	(void)state;
	w = ok; w.n = 0;
	assert_int_equal(summary_encode(&w, "d", "5f0c2a9e41d3b7a8", buf, sizeof(buf)), -EINVAL);
	w = ok; w.end_us = w.start_us;
	assert_int_equal(summary_encode(&w, "d", "5f0c2a9e41d3b7a8", buf, sizeof(buf)), -EINVAL);
	w = ok; w.max_cc = 12501;
	assert_int_equal(summary_encode(&w, "d", "5f0c2a9e41d3b7a8", buf, sizeof(buf)), -EINVAL);
	w = ok; w.min_cc = 2300;      /* min above mean */
	assert_int_equal(summary_encode(&w, "d", "5f0c2a9e41d3b7a8", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(summary_encode(&ok, "d", "5f0c2a9e41d3b7a8", small, sizeof(small)), -ENOSPC);
	/* The longest one fits the buffer the sensor uses. */
	w = ok; w.n = UINT64_MAX; w.mean_cc = w.min_cc = -4000; w.max_cc = -4000;
	assert_true(summary_encode(&w, dev64, "5f0c2a9e41d3b7a8", buf, sizeof(buf)) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(summary_closes_a_window_when_a_reading_falls_past_its_end),
		cmocka_unit_test(summary_windows_align_on_the_clock_and_skip_empty_ones),
		cmocka_unit_test(summary_mean_is_exact_and_rounds_half_away_from_zero),
		cmocka_unit_test(summary_cut_ends_the_window_at_the_stop_within_its_bounds),
		cmocka_unit_test(summary_handles_times_before_the_epoch),
		cmocka_unit_test(summary_encodes_the_schema_fields_in_order),
		cmocka_unit_test(summary_encode_refuses_what_the_schema_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
