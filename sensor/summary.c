/*
 * summary.c: windows of readings for the summary stream (see summary.h).
 *
 * Temperatures are summed as whole hundredths (the payload's 2 decimals),
 * so mean, min and max are exact: a subscriber recomputing them from the
 * 100 Hz stream gets the same digits, whatever the window's length.
 */
#include "summary.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "pt_reading.h"
#include "pt_time.h"

void
summary_init(struct summary *s, int64_t period_us)
{
	s->period_us = period_us > 0 ? period_us : 1000000;
	s->start_us = s->end_us = 0;
	s->n = 0;
	s->sum_cc = s->min_cc = s->max_cc = 0;
	s->last_us = 0;
}

/* floor(a / b) for b > 0, also for a < 0 (times before 1970). */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Round num / den (den > 0) to the nearest integer, halves away from zero. */
static int64_t
div_round(int64_t num, int64_t den)
{
	int64_t q = num / den, r = num % den;

	if (r < 0)
		r = -r;
	if (2 * r >= den)
		q += num < 0 ? -1 : 1;
	return q;
}

static void
close_window(struct summary *s, int64_t end_us, struct summary_window *w)
{
	w->start_us = s->start_us;
	w->end_us = end_us;
	w->n = s->n;
	w->mean_cc = div_round(s->sum_cc, (int64_t)s->n);
	w->min_cc = s->min_cc;
	w->max_cc = s->max_cc;
	s->n = 0;
	s->sum_cc = 0;
}

int
summary_add(struct summary *s, int64_t ts_us, double temp_c,
            struct summary_window *done)
{
	int64_t cc = (int64_t)llround(temp_c * 100.0);
	int closed = 0;

	if (s->n > 0 && ts_us >= s->end_us) {
		close_window(s, s->end_us, done);
		closed = 1;
	}
	if (s->n == 0) {
		s->start_us = floor_div(ts_us, s->period_us) * s->period_us;
		s->end_us = s->start_us + s->period_us;
		s->min_cc = s->max_cc = cc;
	}
	s->n++;
	s->sum_cc += cc;
	if (cc < s->min_cc)
		s->min_cc = cc;
	if (cc > s->max_cc)
		s->max_cc = cc;
	if (ts_us > s->last_us || s->n == 1)
		s->last_us = ts_us;
	return closed;
}

int
summary_cut(struct summary *s, int64_t now_us, struct summary_window *done)
{
	int64_t end = now_us;

	if (s->n == 0)
		return 0;
	if (end <= s->last_us)
		end = s->last_us + 1;
	if (end > s->end_us)
		end = s->end_us;
	close_window(s, end, done);
	return 1;
}

/* cc hundredths as "-12.34" ("0.00", never "-0.00"). */
static void
centi_text(int64_t cc, char out[24])
{
	uint64_t a = cc < 0 ? (uint64_t)0 - (uint64_t)cc : (uint64_t)cc;

	(void)snprintf(out, 24, "%s%" PRIu64 ".%02" PRIu64, cc < 0 ? "-" : "",
	    a / 100, a % 100);
}

static int
temp_ok(int64_t cc)
{
	return cc >= (int64_t)(PT_TEMP_MIN * 100) && cc <= (int64_t)(PT_TEMP_MAX * 100);
}

int
summary_encode(const struct summary_window *w, const char *device,
               const char *boot, char *buf, size_t cap)
{
	char start[PT_TS_LEN + 1], end[PT_TS_LEN + 1];
	char mean[24], min[24], max[24];
	int n;

	if (w->n == 0 || w->end_us <= w->start_us || !temp_ok(w->mean_cc) ||
	    !temp_ok(w->min_cc) || !temp_ok(w->max_cc) ||
	    w->min_cc > w->mean_cc || w->mean_cc > w->max_cc ||
	    pt_time_format(w->start_us, start, sizeof(start)) < 0 ||
	    pt_time_format(w->end_us, end, sizeof(end)) < 0)
		return -EINVAL;
	centi_text(w->mean_cc, mean);
	centi_text(w->min_cc, min);
	centi_text(w->max_cc, max);
	n = snprintf(buf, cap, "{\"device\":\"%s\",\"boot\":\"%s\",\"start\":\"%s\","
	    "\"end\":\"%s\",\"n\":%" PRIu64 ",\"mean\":%s,\"min\":%s,\"max\":%s}",
	    device, boot, start, end, w->n, mean, min, max);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= cap)
		return -ENOSPC;
	return n;
}
