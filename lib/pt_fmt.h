/*
 * pt_fmt.h: numbers as text without printf, for the per-reading paths (the
 * sensor's encoder, the sink's writer). printf parses its format and, for
 * "%.2f", converts the exact binary value digit by digit: several thousand
 * instructions a number, more than the rest of a reading's work.
 */
#ifndef PT_FMT_H
#define PT_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest text any of these writes, NUL included. */
#define PT_FMT_MAX 32

/* v in decimal at out (no NUL). Returns the length (at most 20). */
size_t pt_fmt_u64(char *out, uint64_t v);
size_t pt_fmt_i64(char *out, int64_t v);

/*
 * v with exactly prec decimals (0..6), the same text as "%.*f", NUL
 * terminated, into out (cap >= PT_FMT_MAX). When v is the double nearest
 * some k / 10^prec (always so for the readings' temp_c and mv) it is built
 * from k; other values, and |v| >= 1e12, go through snprintf. Returns the
 * length, or -1 for a value that does not fit (non-finite, huge).
 */
int pt_fmt_fixed(char *out, size_t cap, double v, int prec);

#endif
