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
#include <stdio.h>
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

int
pt_time_format(int64_t us, char *buf, size_t cap)
{
	struct tm tm;
	int64_t secs, frac;
	time_t t;
	int n;

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
	t = (time_t)secs;
	if ((int64_t)t != secs)         /* 32-bit time_t */
		return -EINVAL;
	if (gmtime_r(&t, &tm) == NULL)
		return -EINVAL;
	/* Four year digits is all the format has room for. */
	if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -EINVAL;
	n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long long)frac);
	if (n != PT_TS_LEN)
		return -EINVAL;
	return n;
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
	struct tm tm = { 0 };
	time_t t;

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
	tm.tm_year = (int)(year - 1900);
	tm.tm_mon = (int)(mon - 1);
	tm.tm_mday = (int)day;
	tm.tm_hour = (int)hour;
	tm.tm_min = (int)min;
	tm.tm_sec = (int)sec;
	t = timegm(&tm);
	/* -1 is also 1969-12-31T23:59:59, a real time; otherwise overflow. */
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31 &&
	    hour == 23 && min == 59 && sec == 59))
		return -EINVAL;
	*us = (int64_t)t * US_PER_S + frac;
	return 0;
}
