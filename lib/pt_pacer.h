/*
 * pt_pacer.h: sample pacing on absolute CLOCK_MONOTONIC deadlines. Deadline
 * k is start + k * period computed from k (not by adding a rounded period),
 * so the long-run rate is exact even when 1e9/hz is not whole, and a late
 * sample never shifts the ones after it.
 */
#ifndef PT_PACER_H
#define PT_PACER_H

#include <stdint.h>

struct pt_pacer {
	double   hz;        /* 0: no pacing */
	int64_t  start_ns;  /* CLOCK_MONOTONIC at deadline 0 */
	uint64_t k;         /* index of the next deadline */
	uint64_t late;      /* deadlines already past when waited for */
};

/* Start pacing at hz (0 = as fast as possible; negative or non-finite:
 * -EINVAL). Deadline 0 is now. */
int pt_pacer_init(struct pt_pacer *p, double hz);

/* CLOCK_MONOTONIC time of deadline k. */
int64_t pt_pacer_deadline(const struct pt_pacer *p, uint64_t k);

/*
 * Sleep until the next deadline (clock_nanosleep TIMER_ABSTIME) and advance.
 * Returns 0, or -EINTR when a signal interrupted the sleep (the deadline is
 * not consumed; the caller checks its stop flag and calls again).
 * A deadline already past returns at once and counts in p->late.
 */
int pt_pacer_wait(struct pt_pacer *p);

#endif
