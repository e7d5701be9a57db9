/*
 * validate.c: the per-field value rules of the payload (SPEC.md) and the
 * wording of their reasons. The codec calls these after parsing and before
 * encoding, so the sink accepts exactly what the sensor can send.
 */
#include "pt_validate.h"
#include "pt_time.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define QBUF    (4 * PT_VALIDATE_QUOTE_MAX + 8)

int
pt_validate_reason(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

char *
pt_validate_quote(const char *s, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, lim = len;
	unsigned char c;

	if (out == NULL || cap == 0)
		return out;
	if (lim > PT_VALIDATE_QUOTE_MAX)
		lim = PT_VALIDATE_QUOTE_MAX;
	/* Reserve room for the closing quote, "..." and the NUL. */
	if (cap < 6) {
		out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (i = 0; i < lim; i++) {
		c = (unsigned char)s[i];
		if (o + 4 > cap - 5)
			break;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c > 0x7e) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		} else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	if (i < len) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = '\0';
	return out;
}

char *
pt_validate_number(double v, char *out, size_t cap)
{
	int prec;

	if (out == NULL || cap == 0)
		return out;
	for (prec = 15; prec <= 17; prec++) {
		(void)snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return out;
}

static bool
is_integral(double v)
{
	return isfinite(v) && floor(v) == v;
}

int
pt_validate_device(const char *s, size_t len, char *why, size_t cap)
{
	char q[QBUF];
	size_t i;
	char c;

	if (len < 1 || len > PT_DEVICE_MAX)
		return pt_validate_reason(why, cap,
		    "device %s is %zu bytes long, not 1..%d",
		    pt_validate_quote(s, len, q, sizeof(q)), len, PT_DEVICE_MAX);
	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
			continue;
		return pt_validate_reason(why, cap,
		    "device %s has a character outside [A-Za-z0-9._-] at byte %zu",
		    pt_validate_quote(s, len, q, sizeof(q)), i);
	}
	return 0;
}

int
pt_validate_boot(const char *s, size_t len, char *why, size_t cap)
{
	char q[QBUF];
	size_t i;

	if (len != PT_BOOT_LEN)
		goto bad;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			goto bad;
	return 0;
bad:
	return pt_validate_reason(why, cap,
	    "boot %s is not %d lowercase hex digits",
	    pt_validate_quote(s, len, q, sizeof(q)), PT_BOOT_LEN);
}

int
pt_validate_ts(const char *s, size_t len, int64_t *us, char *why, size_t cap)
{
	char q[QBUF];
	int64_t t;

	if (pt_time_parse(s, len, &t) != 0)
		return pt_validate_reason(why, cap,
		    "ts %s is not a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ",
		    pt_validate_quote(s, len, q, sizeof(q)));
	if (us != NULL)
		*us = t;
	return 0;
}

int
pt_validate_seq(double v, uint64_t *seq, char *why, size_t cap)
{
	char n[32];

	if (!is_integral(v))
		return pt_validate_reason(why, cap, "seq %s is not an integer",
		    pt_validate_number(v, n, sizeof(n)));
	if (v < 0 || v > (double)PT_SEQ_MAX)
		return pt_validate_reason(why, cap,
		    "seq %s out of range 0..%llu",
		    pt_validate_number(v, n, sizeof(n)),
		    (unsigned long long)PT_SEQ_MAX);
	if (seq != NULL)
		*seq = (uint64_t)v;
	return 0;
}

int
pt_validate_temp_c(double v, char *why, size_t cap)
{
	char n[32];

	if (!isfinite(v) || v < PT_TEMP_MIN || v > PT_TEMP_MAX)
		return pt_validate_reason(why, cap,
		    "temp_c %s out of range %g..%g",
		    pt_validate_number(v, n, sizeof(n)), PT_TEMP_MIN, PT_TEMP_MAX);
	/* Exact, no tolerance to argue about: v must be the double nearest
	 * some k/100. In range, v * 100 is within far less than 0.5 of k, and
	 * k / 100.0 is correctly rounded, so this is what printing "%.2f" and
	 * reading it back with strtod tells, without the cost of either. */
	if ((double)llround(v * 100.0) / 100.0 != v)
		return pt_validate_reason(why, cap,
		    "temp_c %s has more than 2 decimals",
		    pt_validate_number(v, n, sizeof(n)));
	return 0;
}

int
pt_validate_mv(double v, char *why, size_t cap)
{
	char n[32];

	if (!isfinite(v) || v < PT_MV_MIN || v > PT_MV_MAX)
		return pt_validate_reason(why, cap, "mv %s out of range %g..%g",
		    pt_validate_number(v, n, sizeof(n)), PT_MV_MIN, PT_MV_MAX);
	return 0;
}

int
pt_validate_raw(double v, int64_t *raw, char *why, size_t cap)
{
	char n[32];

	if (!is_integral(v))
		return pt_validate_reason(why, cap, "raw %s is not an integer",
		    pt_validate_number(v, n, sizeof(n)));
	if (v < PT_RAW_MIN || v > PT_RAW_MAX)
		return pt_validate_reason(why, cap, "raw %s out of range %d..%d",
		    pt_validate_number(v, n, sizeof(n)), PT_RAW_MIN, PT_RAW_MAX);
	if (raw != NULL)
		*raw = (int64_t)v;
	return 0;
}
