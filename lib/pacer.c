/*
 * pacer.c: absolute-deadline pacing on CLOCK_MONOTONIC. Deadline k is
 * computed from k and the start time every time, never by summing a rounded
 * period, so 3 Hz or 7 Hz (whose periods are not whole nanoseconds) keep an
 * exact long-run rate, and a late sample does not move the ones after it.
 */
#include "pt_pacer.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <time.h>

#define NS_PER_S	1000000000LL

static int64_t
mono_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/*
 * k * 1e9 / hz in nanoseconds, rounded to nearest, saturating at INT64_MAX.
 * A whole hz (every rate a user types) takes an integer path that is exact
 * for any k; that matters on 32-bit ARM, where long double is only double.
 */
static int64_t
offset_ns(uint64_t k, double hz)
{
	long double off;
	uint64_t h, q, r, sec_max;

	if (hz == floor(hz) && hz <= (double)UINT32_MAX) {
		h = (uint64_t)hz;
		q = k / h;
		r = k % h;
		sec_max = (uint64_t)(INT64_MAX / NS_PER_S) - 1;
		if (q > sec_max)
			return INT64_MAX;
		/* r < h <= 2^32, so r * 1e9 + h / 2 fits in 64 bits. */
		return (int64_t)(q * (uint64_t)NS_PER_S +
		    (r * (uint64_t)NS_PER_S + h / 2) / h);
	}
	off = (long double)k * (long double)NS_PER_S / (long double)hz;
	if (!(off < (long double)INT64_MAX / 2))
		return INT64_MAX;
	return (int64_t)llroundl(off);
}

/*
 * p must not be NULL (-EINVAL). hz 0 disables pacing; negative, NaN or
 * infinite hz is -EINVAL and leaves *p untouched.
 */
int
pt_pacer_init(struct pt_pacer *p, double hz)
{
	if (p == NULL || !isfinite(hz) || hz < 0.0)
		return -EINVAL;
	p->hz = hz;
	p->start_ns = mono_ns();
	p->k = 0;
	p->late = 0;
	return 0;
}

/* start_ns + k / hz seconds, saturating at INT64_MAX; start_ns for hz 0. */
int64_t
pt_pacer_deadline(const struct pt_pacer *p, uint64_t k)
{
	int64_t off;

	if (p->hz == 0.0)
		return p->start_ns;
	off = offset_ns(k, p->hz);
	/* start_ns is only ever negative when a test moves it back. */
	if (p->start_ns > 0 && off > INT64_MAX - p->start_ns)
		return INT64_MAX;
	return p->start_ns + off;
}

/*
 * Deadline 0 is the start itself, so it never counts as late: a caller
 * that inits and then waits at once gets sample 0 immediately. Init the
 * pacer just before the loop, or slow setup in between turns into a burst
 * of late (catch-up) samples.
 */
int
pt_pacer_wait(struct pt_pacer *p)
{
	struct timespec ts;
	int64_t dl;
	int rc;

	if (p->hz == 0.0) {
		p->k++;
		return 0;
	}
	dl = pt_pacer_deadline(p, p->k);
	if (mono_ns() >= dl) {
		if (p->k > 0)
			p->late++;
		p->k++;
		return 0;
	}
	ts.tv_sec = (time_t)(dl / NS_PER_S);
	ts.tv_nsec = (long)(dl % NS_PER_S);
	/* clock_nanosleep returns the error number itself, not -1. */
	rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	if (rc != 0)
		return -rc;
	p->k++;
	return 0;
}
