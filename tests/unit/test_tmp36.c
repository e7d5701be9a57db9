/*
 * test_tmp36.c: the TMP36 and ADC arithmetic against datasheet points.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "pt_tmp36.h"

#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

static void
tmp36_converts_datasheet_points(void **state)
{
	(void)state;
	assert_near(pt_tmp36_mv_to_c(100.0), -40.0, 1e-12);
	assert_near(pt_tmp36_mv_to_c(500.0), 0.0, 1e-12);
	assert_near(pt_tmp36_mv_to_c(750.0), 25.0, 1e-12);
	assert_near(pt_tmp36_mv_to_c(1750.0), 125.0, 1e-12);
	assert_near(pt_tmp36_c_to_mv(-40.0), 100.0, 1e-12);
	assert_near(pt_tmp36_c_to_mv(25.0), 750.0, 1e-12);
	assert_near(pt_tmp36_c_to_mv(125.0), 1750.0, 1e-12);
}

static void
tmp36_round_trips_celsius(void **state)
{
	double c;

	(void)state;
	for (c = -40.0; c <= 125.0; c += 0.25)
		assert_near(pt_tmp36_mv_to_c(pt_tmp36_c_to_mv(c)), c, 1e-9);
}

static void
tmp36_in_range_accepts_only_the_datasheet_range(void **state)
{
	(void)state;
	assert_true(pt_tmp36_in_range(-40.0));
	assert_true(pt_tmp36_in_range(22.5));
	assert_true(pt_tmp36_in_range(125.0));
	assert_false(pt_tmp36_in_range(-40.001));
	assert_false(pt_tmp36_in_range(125.001));
	assert_false(pt_tmp36_in_range(NAN));
	assert_false(pt_tmp36_in_range(INFINITY));
	assert_false(pt_tmp36_in_range(-INFINITY));
}

static void
adc_to_mv_scales_counts_by_vref(void **state)
{
	(void)state;
	assert_near(pt_adc_to_mv(0, 10, 3300.0), 0.0, 1e-12);
	assert_near(pt_adc_to_mv(512, 10, 3300.0), 1650.0, 1e-12);
	assert_near(pt_adc_to_mv(1023, 10, 3300.0), 1023.0 * 3300.0 / 1024.0, 1e-9);
	assert_near(pt_adc_to_mv(1, 10, 3300.0), 3300.0 / 1024.0, 1e-12);
	assert_near(pt_adc_to_mv(32768, 16, 4096.0), 2048.0, 1e-12);
}

static void
adc_to_mv_rejects_bad_bits_with_nan(void **state)
{
	(void)state;
	assert_true(isnan(pt_adc_to_mv(1, 0, 3300.0)));
	assert_true(isnan(pt_adc_to_mv(1, 63, 3300.0)));
	assert_true(isnan(pt_adc_to_mv(1, 10, NAN)));
}

static void
adc_from_mv_rounds_to_nearest_code(void **state)
{
	double step = 3300.0 / 1024.0;

	(void)state;
	assert_int_equal(pt_adc_from_mv(750.0, 10, 3300.0), 233); /* 232.7 */
	assert_int_equal(pt_adc_from_mv(100 * step + 0.49 * step, 10, 3300.0), 100);
	assert_int_equal(pt_adc_from_mv(100 * step + 0.51 * step, 10, 3300.0), 101);
	assert_int_equal(pt_adc_from_mv(1650.0, 10, 3300.0), 512);
}

static void
adc_round_trips_every_code(void **state)
{
	int64_t raw;

	(void)state;
	for (raw = 0; raw < 1024; raw++)
		assert_int_equal(pt_adc_from_mv(pt_adc_to_mv(raw, 10, 3300.0),
		    10, 3300.0), raw);
	for (raw = 0; raw < 65536; raw += 257)
		assert_int_equal(pt_adc_from_mv(pt_adc_to_mv(raw, 16, 4096.0),
		    16, 4096.0), raw);
}

static void
adc_from_mv_clamps_like_a_saturating_adc(void **state)
{
	(void)state;
	assert_int_equal(pt_adc_from_mv(-5.0, 10, 3300.0), 0);
	assert_int_equal(pt_adc_from_mv(3300.0, 10, 3300.0), 1023);
	assert_int_equal(pt_adc_from_mv(1e300, 10, 3300.0), 1023);
	assert_int_equal(pt_adc_from_mv(INFINITY, 10, 3300.0), 1023);
	assert_int_equal(pt_adc_from_mv(-INFINITY, 10, 3300.0), 0);
	assert_int_equal(pt_adc_from_mv(NAN, 10, 3300.0), 0);
	assert_int_equal(pt_adc_from_mv(1e300, 62, 3300.0), INT64_MAX / 2);
}

static void
adc_from_mv_rejects_bad_parameters_with_zero(void **state)
{
	(void)state;
	assert_int_equal(pt_adc_from_mv(750.0, 0, 3300.0), 0);
	assert_int_equal(pt_adc_from_mv(750.0, 63, 3300.0), 0);
	assert_int_equal(pt_adc_from_mv(750.0, 10, 0.0), 0);
	assert_int_equal(pt_adc_from_mv(750.0, 10, -3300.0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tmp36_converts_datasheet_points),
		cmocka_unit_test(tmp36_round_trips_celsius),
		cmocka_unit_test(tmp36_in_range_accepts_only_the_datasheet_range),
		cmocka_unit_test(adc_to_mv_scales_counts_by_vref),
		cmocka_unit_test(adc_to_mv_rejects_bad_bits_with_nan),
		cmocka_unit_test(adc_from_mv_rounds_to_nearest_code),
		cmocka_unit_test(adc_round_trips_every_code),
		cmocka_unit_test(adc_from_mv_clamps_like_a_saturating_adc),
		cmocka_unit_test(adc_from_mv_rejects_bad_parameters_with_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
