/*
 * fmt.c: numbers as text without printf (see pt_fmt.h).
 */
#include "pt_fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t
pt_fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t
pt_fmt_i64(char *out, int64_t v)
{
	if (v >= 0)
		return pt_fmt_u64(out, (uint64_t)v);
	out[0] = '-';
	return 1 + pt_fmt_u64(out + 1, 0 - (uint64_t)v);
}

int
pt_fmt_fixed(char *out, size_t cap, double v, int prec)
{
	static const double scale[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };
	char tmp[24];
	unsigned long long u;
	long long k;
	size_t n = 0, o = 0;
	int len;

	if (out == NULL || cap < PT_FMT_MAX || prec < 0 || prec > 6 || !isfinite(v))
		return -1;
	if (fabs(v) < 1e12) {
		k = llround(v * scale[prec]);
		/* Division is correctly rounded: k / 10^prec is then exactly v's
		 * own value as "%.*f" would round it. */
		if ((double)k / scale[prec] == v) {
			u = k < 0 ? 0ULL - (unsigned long long)k : (unsigned long long)k;
			while (u > 0 || n <= (size_t)prec) {
				tmp[n++] = (char)('0' + u % 10);
				u /= 10;
			}
			/* "%.*f" keeps the sign of a negative v, also -0.0. */
			if (k < 0 || signbit(v))
				out[o++] = '-';
			while (n > 0) {
				out[o++] = tmp[--n];
				if (n == (size_t)prec && prec > 0)
					out[o++] = '.';
			}
			out[o] = '\0';
			return (int)o;
		}
	}
	len = snprintf(out, cap, "%.*f", prec, v);
	return len < 0 || (size_t)len >= cap ? -1 : len;
}
