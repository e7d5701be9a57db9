/*
 * pt_ratelimit.h: how often a log line an outside party can trigger at
 * will may be printed (an invalid payload, a refused peer, a gap). A fixed
 * window: at most `burst` lines per `period`; the rest are held back and
 * counted, and the next line printed (or a line of its own once the window
 * is over) says how many. The count of events itself is never limited:
 * counters stay the caller's.
 *
 * Pure bookkeeping (no clock, no output): the caller passes the monotonic
 * time, which keeps it testable; pt_log_*_limited (pt_log.h) prints through
 * it. Not thread-safe: one owner, or the caller's lock.
 */
#ifndef PT_RATELIMIT_H
#define PT_RATELIMIT_H

#include <stdint.h>

struct pt_ratelimit {
	int64_t  period_ns;     /* window length */
	unsigned burst;         /* lines per window */
	int      started;       /* a window has begun */
	int64_t  window_ns;     /* start of the current window */
	unsigned used;          /* lines allowed in the current window */
	uint64_t held;          /* events held back and not yet reported */
};

/* Defaults used by both programs: a few lines a second per cause. */
#define PT_RATELIMIT_BURST      5
#define PT_RATELIMIT_PERIOD_NS  1000000000LL

/* burst 0 is taken as 1; period_ns <= 0 as PT_RATELIMIT_PERIOD_NS. */
void pt_ratelimit_init(struct pt_ratelimit *rl, unsigned burst, int64_t period_ns);

/*
 * One event at now_ns. 1: print its line; *held (may be NULL) receives the
 * number of events held back since the last line printed (the count then
 * starts again from 0). 0: hold it back (counted).
 */
int pt_ratelimit_allow(struct pt_ratelimit *rl, int64_t now_ns, uint64_t *held);

/*
 * Events held back whose window is over, with no line printed since to
 * report them: their number (and the count starts again from 0), else 0.
 * With force, report them even while the window is open (at exit).
 */
uint64_t pt_ratelimit_expired(struct pt_ratelimit *rl, int64_t now_ns, int force);

#endif
