/*
 * test_pacer.c: absolute-deadline pacing. Deadlines are checked as exact
 * integers; waits only by ordering (after a wait the clock has reached the
 * deadline), never by how long they took.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pt_pacer.h"

#define NS_PER_S 1000000000LL

static int64_t
now_ns(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void
pacer_rejects_invalid_rates(void **state)
{
	struct pt_pacer p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(pt_pacer_init(&p, -1.0), -EINVAL);
	assert_int_equal(pt_pacer_init(&p, -0.001), -EINVAL);
	assert_int_equal(pt_pacer_init(&p, NAN), -EINVAL);
	assert_int_equal(pt_pacer_init(&p, INFINITY), -EINVAL);
	assert_int_equal(pt_pacer_init(&p, -INFINITY), -EINVAL);
	assert_int_equal(pt_pacer_init(NULL, 100.0), -EINVAL);
}

static void
pacer_starts_at_deadline_zero_now(void **state)
{
	struct pt_pacer p;
	int64_t before, after;

	(void)state;
	before = now_ns();
	assert_int_equal(pt_pacer_init(&p, 100.0), 0);
	after = now_ns();
	assert_true(p.start_ns >= before && p.start_ns <= after);
	assert_int_equal(pt_pacer_deadline(&p, 0), p.start_ns);
	assert_int_equal(p.k, 0);
	assert_int_equal(p.late, 0);
}

static void
pacer_deadlines_are_exact_multiples_at_100_hz(void **state)
{
	struct pt_pacer p;
	uint64_t k;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 100.0), 0);
	assert_int_equal(pt_pacer_deadline(&p, 1000) - pt_pacer_deadline(&p, 0),
	    10 * NS_PER_S);
	for (k = 0; k < 1000; k++)
		assert_int_equal(pt_pacer_deadline(&p, k + 1) -
		    pt_pacer_deadline(&p, k), 10000000);
	/* A year at 100 Hz lands on the exact second. */
	assert_int_equal(pt_pacer_deadline(&p, 100ULL * 86400 * 365) - p.start_ns,
	    86400LL * 365 * NS_PER_S);
}

/* Periods that are not whole nanoseconds must not accumulate rounding. */
static void
pacer_deadlines_do_not_drift_at_3_and_7_hz(void **state)
{
	struct pt_pacer p;
	uint64_t k, hz[] = { 3, 7 };
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(pt_pacer_init(&p, (double)hz[i]), 0);
		for (k = 0; k < 100000; k += 997)
			assert_int_equal(pt_pacer_deadline(&p, k + hz[i]) -
			    pt_pacer_deadline(&p, k), NS_PER_S);
		assert_int_equal(pt_pacer_deadline(&p, hz[i] * 1000000) -
		    p.start_ns, 1000000 * NS_PER_S);
		/* Each step is the period rounded one way or the other. */
		for (k = 0; k < 100; k++)
			assert_in_range(pt_pacer_deadline(&p, k + 1) -
			    pt_pacer_deadline(&p, k), NS_PER_S / (int64_t)hz[i],
			    NS_PER_S / (int64_t)hz[i] + 1);
	}
}

static void
pacer_deadlines_are_exact_for_fractional_rates(void **state)
{
	struct pt_pacer p;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 2.5), 0);
	assert_int_equal(pt_pacer_deadline(&p, 5) - p.start_ns, 2 * NS_PER_S);
	assert_int_equal(pt_pacer_deadline(&p, 2500000) - p.start_ns,
	    1000000 * NS_PER_S);
	assert_int_equal(pt_pacer_init(&p, 0.5), 0);
	assert_int_equal(pt_pacer_deadline(&p, 1) - p.start_ns, 2 * NS_PER_S);
}

static void
pacer_deadline_saturates_instead_of_overflowing(void **state)
{
	struct pt_pacer p;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 1.0), 0);
	assert_int_equal(pt_pacer_deadline(&p, UINT64_MAX), INT64_MAX);
	assert_int_equal(pt_pacer_init(&p, 0.25), 0);
	assert_int_equal(pt_pacer_deadline(&p, UINT64_MAX), INT64_MAX);
	/* A start moved before the epoch of the clock must not trip the
	 * overflow check (INT64_MAX - start would itself overflow). */
	p.start_ns = -NS_PER_S;
	assert_int_equal(pt_pacer_deadline(&p, 1), 3 * NS_PER_S);
}

static void
pacer_wait_returns_at_or_after_each_deadline(void **state)
{
	struct pt_pacer p;
	uint64_t k;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 1000.0), 0);
	for (k = 0; k < 5; k++) {
		assert_int_equal(pt_pacer_wait(&p), 0);
		assert_true(now_ns() >= pt_pacer_deadline(&p, k));
		assert_int_equal(p.k, k + 1);
	}
}

static void
pacer_late_wait_counts_and_returns_at_once(void **state)
{
	struct pt_pacer p;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 100.0), 0);
	/* Pretend we started a second ago: deadlines 1, 2, 3 are long past.
	 * The alarm kills the test rather than hang it if a wait blocks. */
	p.start_ns -= NS_PER_S;
	p.k = 1;
	alarm(10);
	assert_int_equal(pt_pacer_wait(&p), 0);
	assert_int_equal(pt_pacer_wait(&p), 0);
	assert_int_equal(pt_pacer_wait(&p), 0);
	alarm(0);
	assert_int_equal(p.late, 3);
	assert_int_equal(p.k, 4);
}

static void
pacer_never_counts_deadline_zero_late(void **state)
{
	struct pt_pacer p;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 100.0), 0);
	assert_int_equal(pt_pacer_wait(&p), 0);
	assert_int_equal(p.late, 0);
	assert_int_equal(p.k, 1);
}

static void
pacer_at_zero_hz_does_not_sleep(void **state)
{
	struct pt_pacer p;
	int i;

	(void)state;
	assert_int_equal(pt_pacer_init(&p, 0.0), 0);
	/* A start an hour ahead would block any wait that sleeps; the alarm
	 * ends the test instead of hanging it. */
	p.start_ns += 3600 * NS_PER_S;
	alarm(10);
	for (i = 0; i < 1000; i++)
		assert_int_equal(pt_pacer_wait(&p), 0);
	alarm(0);
	assert_int_equal(p.k, 1000);
	assert_int_equal(p.late, 0);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

static void
pacer_wait_interrupted_keeps_the_deadline(void **state)
{
	struct sigaction sa, old;
	struct itimerval it;
	struct pt_pacer p;
	int rc;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(pt_pacer_init(&p, 1.0), 0);
	p.k = 3600; /* an hour ahead: only the signal can end this wait */
	memset(&it, 0, sizeof(it));
	/* Periodic, so a tick that fires before the sleep begins is not lost. */
	it.it_value.tv_usec = 20000;
	it.it_interval.tv_usec = 20000;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	rc = pt_pacer_wait(&p);
	memset(&it, 0, sizeof(it));
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_int_equal(rc, -EINTR);
	assert_int_equal(p.k, 3600);
	assert_int_equal(p.late, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pacer_rejects_invalid_rates),
		cmocka_unit_test(pacer_starts_at_deadline_zero_now),
		cmocka_unit_test(pacer_deadlines_are_exact_multiples_at_100_hz),
		cmocka_unit_test(pacer_deadlines_do_not_drift_at_3_and_7_hz),
		cmocka_unit_test(pacer_deadlines_are_exact_for_fractional_rates),
		cmocka_unit_test(pacer_deadline_saturates_instead_of_overflowing),
		cmocka_unit_test(pacer_wait_returns_at_or_after_each_deadline),
		cmocka_unit_test(pacer_late_wait_counts_and_returns_at_once),
		cmocka_unit_test(pacer_never_counts_deadline_zero_late),
		cmocka_unit_test(pacer_at_zero_hz_does_not_sleep),
		cmocka_unit_test(pacer_wait_interrupted_keeps_the_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
