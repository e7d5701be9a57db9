/*
 * test_fmt.c: numbers as text without printf must read exactly as printf
 * writes them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pt_fmt.h"

static void
check_fixed(double v, int prec)
{
	char want[64], got[PT_FMT_MAX];
	int n;

	snprintf(want, sizeof(want), "%.*f", prec, v);
	n = pt_fmt_fixed(got, sizeof(got), v, prec);
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(got, want);
}

static void
fmt_fixed_matches_printf_for_every_reading_value(void **state)
{
	(void)state;
	/* Every temp_c (-40..125, 2 decimals) and mv (0..3300, 1 decimal). */
	for (long k = -4000; k <= 12500; k++)
		check_fixed((double)k / 100.0, 2);
	for (long k = 0; k <= 33000; k++)
		check_fixed((double)k / 10.0, 1);
}

static void
fmt_fixed_matches_printf_off_the_grid_and_at_the_edges(void **state)
{
	static const double v[] = {
		0.0, -0.0, 0.005, 0.015, 0.125, 2.675, -2.675, 22.525, 1e-9,
		-1e-9, 999999.995, 1e11 + 0.25, -123456789.125, 1e15, 1e300,
		0.1 + 0.2,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (int prec = 0; prec <= 6; prec++)
			if (fabs(v[i]) < 1e20)
				check_fixed(v[i], prec);
}

static void
fmt_fixed_refuses_what_does_not_fit(void **state)
{
	char out[PT_FMT_MAX];

	(void)state;
	assert_int_equal(pt_fmt_fixed(out, sizeof(out), NAN, 2), -1);
	assert_int_equal(pt_fmt_fixed(out, sizeof(out), INFINITY, 2), -1);
	assert_int_equal(pt_fmt_fixed(out, sizeof(out), 1e300, 2), -1);
	assert_int_equal(pt_fmt_fixed(out, 8, 1.0, 2), -1);
	assert_int_equal(pt_fmt_fixed(out, sizeof(out), 1.0, 7), -1);
}

static void
fmt_integers_match_printf(void **state)
{
	static const int64_t v[] = {
		0, 1, -1, 9, 10, -10, 225, 65535, -32768, INT64_MAX, INT64_MIN,
	};
	char want[32], got[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(want, sizeof(want), "%" PRId64, v[i]);
		n = pt_fmt_i64(got, v[i]);
		got[n] = '\0';
		assert_string_equal(got, want);
	}
	n = pt_fmt_u64(got, UINT64_MAX);
	got[n] = '\0';
	assert_string_equal(got, "18446744073709551615");
	n = pt_fmt_u64(got, 0);
	got[n] = '\0';
	assert_string_equal(got, "0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fmt_fixed_matches_printf_for_every_reading_value),
		cmocka_unit_test(fmt_fixed_matches_printf_off_the_grid_and_at_the_edges),
		cmocka_unit_test(fmt_fixed_refuses_what_does_not_fit),
		cmocka_unit_test(fmt_integers_match_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
