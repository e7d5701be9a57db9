/*
 * time.c: clocks and the one timestamp form pitemp payloads use,
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ" (RFC 3339, UTC, microseconds). Parsing
 * accepts exactly what formatting writes, so a timestamp that decodes
 * re-encodes to the same bytes.
 */
#include "pt_time.h"
#include "pt_reading.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>

#define US_PER_S 1000000LL

int64_t
pt_time_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

int64_t
pt_time_mono_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's algorithms, "chrono-Compatible Low-Level Date Algorithms").
 * Integer arithmetic only: the sink formats and parses two timestamps per
 * reading, and gmtime_r/timegm + snprintf cost more than the rest of the
 * line. Exact for every year the format has (0000..9999).
 */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* v as exactly n decimal digits (v >= 0, fits), right to left. */
static void
put_digits(char *p, int64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

int
pt_time_format(int64_t us, char *buf, size_t cap)
{
	int64_t secs, frac, days, sod, y, m, d;

	if (buf == NULL)
		return -EINVAL;
	if (cap < PT_TS_LEN + 1)
		return -ENOSPC;
	/* Floor division: 1969-12-31T23:59:59.5 is -500000 us. */
	secs = us / US_PER_S;
	frac = us % US_PER_S;
	if (frac < 0) {
		frac += US_PER_S;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	/* Four year digits is all the format has room for: 0000..9999. */
	if (days < days_from_civil(0, 1, 1) || days > days_from_civil(9999, 12, 31))
		return -EINVAL;
	civil_from_days(days, &y, &m, &d);
	put_digits(buf, y, 4);
	buf[4] = '-';
	put_digits(buf + 5, m, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = 'T';
	put_digits(buf + 11, sod / 3600, 2);
	buf[13] = ':';
	put_digits(buf + 14, sod / 60 % 60, 2);
	buf[16] = ':';
	put_digits(buf + 17, sod % 60, 2);
	buf[19] = '.';
	put_digits(buf + 20, frac, 6);
	buf[26] = 'Z';
	buf[27] = '\0';
	return PT_TS_LEN;
}

/*
 * Fixed-width unsigned decimal field. Not strtol: it would accept a sign and
 * leading blanks, and the format has neither.
 */
static long
digits(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool
is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static long
days_in_month(long y, long m)
{
	static const long days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return days[m - 1];
}

int
pt_time_parse(const char *s, size_t len, int64_t *us)
{
	long year, mon, day, hour, min, sec, frac;

	if (s == NULL || us == NULL || len != PT_TS_LEN)
		return -EINVAL;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[26] != 'Z')
		return -EINVAL;
	year = digits(s, 4);
	mon = digits(s + 5, 2);
	day = digits(s + 8, 2);
	hour = digits(s + 11, 2);
	min = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	frac = digits(s + 20, 6);
	if (year < 0 || frac < 0)
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
		return -EINVAL;
	/* No leap second: pitemp clocks are POSIX time, which has none. */
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return -EINVAL;
	*us = ((days_from_civil(year, mon, day) * 24 + hour) * 60 + min) * 60 * US_PER_S +
	    sec * US_PER_S + frac;
	return 0;
}
