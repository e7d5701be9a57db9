/*
 * tmp36.c: the arithmetic between ADC counts, millivolts and degrees C for
 * a TMP36 (10 mV/C, 500 mV at 0 C). Pure functions, no state: sources and
 * tests share them so a simulated reading is converted exactly as a real one.
 */
#include "pt_tmp36.h"

#include <math.h>

#define TMP36_OFFSET_MV	500.0
#define TMP36_MV_PER_C	10.0
#define TMP36_MIN_C	(-40.0)
#define TMP36_MAX_C	125.0
#define ADC_MAX_BITS	62	/* 2^bits - 1 must fit an int64_t */

/*
 * raw * vref / 2^bits. bits outside 1 .. 62 or a non-finite vref give NaN,
 * which every caller's range check rejects.
 */
double
pt_adc_to_mv(int64_t raw, unsigned bits, double vref_mv)
{
	if (bits == 0 || bits > ADC_MAX_BITS || !isfinite(vref_mv))
		return NAN;
	return ldexp((double)raw * vref_mv, -(int)bits);
}

/*
 * Nearest code to mv, clamped to 0 .. 2^bits - 1 like a saturating ADC.
 * NaN, a bad bits or a non-positive vref give 0.
 */
int64_t
pt_adc_from_mv(double mv, unsigned bits, double vref_mv)
{
	int64_t top;
	double code;

	if (bits == 0 || bits > ADC_MAX_BITS || !isfinite(vref_mv) ||
	    vref_mv <= 0.0 || isnan(mv))
		return 0;
	top = ((int64_t)1 << bits) - 1;
	code = nearbyint(ldexp(mv / vref_mv, (int)bits));
	if (!(code > 0.0))
		return 0;
	/* Compare as double before converting: a huge code would overflow. */
	if (code >= (double)top)
		return top;
	return (int64_t)code;
}

/* (mv - 500) / 10; no clamping, so an out-of-range input stays visible. */
double
pt_tmp36_mv_to_c(double mv)
{
	return (mv - TMP36_OFFSET_MV) / TMP36_MV_PER_C;
}

/* c * 10 + 500; the inverse of pt_tmp36_mv_to_c. */
double
pt_tmp36_c_to_mv(double c)
{
	return c * TMP36_MV_PER_C + TMP36_OFFSET_MV;
}

/* 1 when c is finite and within -40 .. 125 C inclusive, else 0. */
int
pt_tmp36_in_range(double c)
{
	return isfinite(c) && c >= TMP36_MIN_C && c <= TMP36_MAX_C;
}
