/*
 * test_time.c: RFC 3339 timestamps (lib/time.c). The payload's ts field
 * must parse exactly what the sensor formats and nothing else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pt_reading.h"
#include "pt_time.h"

#define US 1000000LL

static int
parse(const char *s, int64_t *us)
{
	return pt_time_parse(s, strlen(s), us);
}

static void
time_formats_the_epoch_with_six_fraction_digits(void **state)
{
	char buf[PT_TS_LEN + 1];

	(void)state;
	assert_int_equal(pt_time_format(0, buf, sizeof(buf)), PT_TS_LEN);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	assert_int_equal(pt_time_format(1795555384123456LL, buf, sizeof(buf)),
	    PT_TS_LEN);
	assert_string_equal(buf, "2026-11-24T21:23:04.123456Z");
	assert_int_equal(pt_time_format(7, buf, sizeof(buf)), PT_TS_LEN);
	assert_string_equal(buf, "1970-01-01T00:00:00.000007Z");
}

static void
time_formats_times_before_the_epoch_by_floor_division(void **state)
{
	char buf[PT_TS_LEN + 1];

	(void)state;
	assert_int_equal(pt_time_format(-1, buf, sizeof(buf)), PT_TS_LEN);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(pt_time_format(-US, buf, sizeof(buf)), PT_TS_LEN);
	assert_string_equal(buf, "1969-12-31T23:59:59.000000Z");
}

static void
time_format_reports_a_short_buffer_as_enospc(void **state)
{
	char buf[PT_TS_LEN + 1];

	(void)state;
	assert_int_equal(pt_time_format(0, buf, PT_TS_LEN), -ENOSPC);
	assert_int_equal(pt_time_format(0, NULL, 64), -EINVAL);
}

static void
time_format_rejects_years_outside_four_digits(void **state)
{
	char buf[64];

	(void)state;
	/* 10000-01-01T00:00:00Z */
	assert_int_equal(pt_time_format(253402300800LL * US, buf, sizeof(buf)),
	    -EINVAL);
	assert_int_equal(pt_time_format(253402300799LL * US, buf, sizeof(buf)),
	    PT_TS_LEN);
	assert_string_equal(buf, "9999-12-31T23:59:59.000000Z");
	/* 0000-01-01T00:00:00Z, and one second before it */
	assert_int_equal(pt_time_format(-62167219200LL * US, buf, sizeof(buf)),
	    PT_TS_LEN);
	assert_string_equal(buf, "0000-01-01T00:00:00.000000Z");
	assert_int_equal(pt_time_format(-62167219201LL * US, buf, sizeof(buf)),
	    -EINVAL);
}

static void
time_parses_back_what_it_formats(void **state)
{
	char buf[PT_TS_LEN + 1];
	int64_t us, back;

	(void)state;
	/* Steps of about 11.6 days plus odd microseconds, 1969..2100. */
	for (us = -US * 86400 * 366; us < 4102444800LL * US;
	    us += 1000003LL * 1000003LL) {
		assert_int_equal(pt_time_format(us, buf, sizeof(buf)), PT_TS_LEN);
		assert_int_equal(parse(buf, &back), 0);
		assert_int_equal(back, us);
	}
}

static void
time_parse_accepts_leap_days_and_the_second_before_the_epoch(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(parse("2024-02-29T00:00:00.000000Z", &us), 0);
	assert_int_equal(us, 1709164800LL * US);
	assert_int_equal(parse("2000-02-29T12:00:00.000001Z", &us), 0);
	assert_int_equal(us, 951825600LL * US + 1);
	/* timegm returns -1 here, which is also its error value */
	assert_int_equal(parse("1969-12-31T23:59:59.999999Z", &us), 0);
	assert_int_equal(us, -1);
}

static void
time_parse_rejects_impossible_dates_and_times(void **state)
{
	static const char *bad[] = {
		"2026-13-24T21:23:04.123456Z",  /* month 13 */
		"2026-00-24T21:23:04.123456Z",  /* month 0 */
		"2026-11-00T21:23:04.123456Z",  /* day 0 */
		"2026-11-31T21:23:04.123456Z",  /* Nov 31 */
		"2024-02-30T21:23:04.123456Z",  /* Feb 30 */
		"2025-02-29T21:23:04.123456Z",  /* not a leap year */
		"1900-02-29T21:23:04.123456Z",  /* century, not a leap year */
		"2026-11-24T24:00:00.000000Z",  /* hour 24 */
		"2026-11-24T21:60:04.123456Z",  /* minute 60 */
		"2026-12-31T23:59:60.000000Z",  /* leap second */
	};
	int64_t us = 42;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &us) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_int_equal(us, 42);
	}
}

static void
time_parse_rejects_every_other_spelling(void **state)
{
	static const char *bad[] = {
		"2026-11-24T21:23:04Z",                 /* no fraction */
		"2026-11-24T21:23:04.123Z",             /* milliseconds */
		"2026-11-24T21:23:04.123456789Z",       /* nanoseconds */
		"2026-11-24t21:23:04.123456Z",          /* lowercase t */
		"2026-11-24T21:23:04.123456z",          /* lowercase z */
		"2026-11-24T21:23:04.123456",           /* no Z */
		"2026-11-24T21:23:04.1234567",          /* digit for Z */
		"2026-11-24T21:23:04.123456+00:00",     /* offset */
		"2026-11-24 21:23:04.123456Z",          /* space */
		"2026-1a-24T21:23:04.123456Z",          /* non-digit */
		"2026-+1-24T21:23:04.123456Z",          /* sign */
		"2026- 1-24T21:23:04.123456Z",          /* blank */
		"2026/11/24T21:23:04.123456Z",          /* separators */
		"2026-11-24T21:23:04,123456Z",          /* comma */
		"+026-11-24T21:23:04.123456Z",
		"",
	};
	int64_t us;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &us) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(pt_time_parse(NULL, 0, &us), -EINVAL);
}

static void
time_parse_reads_len_bytes_without_a_nul(void **state)
{
	const char s[] = "2026-11-24T21:23:04.123456Zjunk";
	int64_t us;

	(void)state;
	assert_int_equal(pt_time_parse(s, PT_TS_LEN, &us), 0);
	assert_int_equal(us, 1795555384123456LL);
	assert_int_equal(pt_time_parse(s, PT_TS_LEN + 1, &us), -EINVAL);
}

static void
time_clocks_move_forward(void **state)
{
	int64_t m0, m1;

	(void)state;
	/* 2020-01-01: any machine running this has a set clock or none. */
	assert_true(pt_time_now_us() > 1577836800LL * US);
	m0 = pt_time_mono_ns();
	m1 = pt_time_mono_ns();
	assert_true(m1 >= m0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_formats_the_epoch_with_six_fraction_digits),
		cmocka_unit_test(time_formats_times_before_the_epoch_by_floor_division),
		cmocka_unit_test(time_format_reports_a_short_buffer_as_enospc),
		cmocka_unit_test(time_format_rejects_years_outside_four_digits),
		cmocka_unit_test(time_parses_back_what_it_formats),
		cmocka_unit_test(time_parse_accepts_leap_days_and_the_second_before_the_epoch),
		cmocka_unit_test(time_parse_rejects_impossible_dates_and_times),
		cmocka_unit_test(time_parse_rejects_every_other_spelling),
		cmocka_unit_test(time_parse_reads_len_bytes_without_a_nul),
		cmocka_unit_test(time_clocks_move_forward),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
