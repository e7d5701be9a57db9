/*
 * ratelimit.c: see pt_ratelimit.h. A fixed window rather than a token
 * bucket: its promise ("at most N lines in any window of a second, then one
 * line saying how many were held back") is easy to state and to test.
 */
#include "pt_ratelimit.h"

#include <stddef.h>

void
pt_ratelimit_init(struct pt_ratelimit *rl, unsigned burst, int64_t period_ns)
{
	rl->period_ns = period_ns > 0 ? period_ns : PT_RATELIMIT_PERIOD_NS;
	rl->burst = burst > 0 ? burst : 1;
	rl->started = 0;
	rl->window_ns = 0;
	rl->used = 0;
	rl->held = 0;
}

int
pt_ratelimit_allow(struct pt_ratelimit *rl, int64_t now_ns, uint64_t *held)
{
	/* A new window begins with the first event after the old one ended
	 * (not on a fixed grid), so a burst always gets its full quota. */
	if (!rl->started || now_ns - rl->window_ns >= rl->period_ns ||
	    now_ns < rl->window_ns) {
		rl->started = 1;
		rl->window_ns = now_ns;
		rl->used = 0;
	}
	if (rl->used >= rl->burst) {
		rl->held++;
		return 0;
	}
	rl->used++;
	if (held != NULL)
		*held = rl->held;
	rl->held = 0;
	return 1;
}

uint64_t
pt_ratelimit_expired(struct pt_ratelimit *rl, int64_t now_ns, int force)
{
	uint64_t n = rl->held;

	if (n == 0 || (!force && now_ns - rl->window_ns < rl->period_ns &&
	    now_ns >= rl->window_ns))
		return 0;
	rl->held = 0;
	return n;
}
