/*
 * pt_tmp36.h: ADC counts -> millivolts -> degrees C for the TMP36
 * (datasheet: 10 mV/C, 500 mV offset; 100 mV = -40 C, 750 mV = 25 C,
 * 1750 mV = 125 C).
 */
#ifndef PT_TMP36_H
#define PT_TMP36_H

#include <stdint.h>

/* Counts of a `bits`-bit ADC with reference vref_mv -> millivolts
 * (raw * vref / 2^bits). */
double pt_adc_to_mv(int64_t raw, unsigned bits, double vref_mv);
/* Millivolts -> counts, rounded to the nearest code and clamped to
 * 0 .. 2^bits - 1 (what a real ADC would report). */
int64_t pt_adc_from_mv(double mv, unsigned bits, double vref_mv);
/* TMP36 output millivolts -> degrees C. */
double pt_tmp36_mv_to_c(double mv);
/* Degrees C -> TMP36 output millivolts. */
double pt_tmp36_c_to_mv(double c);
/* True when c lies in the TMP36 range (-40 .. 125 C) and is finite. */
int pt_tmp36_in_range(double c);

#endif
