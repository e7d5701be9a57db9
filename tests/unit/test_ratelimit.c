/*
 * test_ratelimit.c: the log rate limit (lib/ratelimit.c) and the limited
 * log calls built on it (lib/log.c): at most burst lines per window, every
 * event counted, the held-back count said once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pt_log.h"
#include "pt_ratelimit.h"

#define S 1000000000LL

static void
ratelimit_allows_burst_lines_per_window_then_holds_back(void **state)
{
	struct pt_ratelimit rl;
	uint64_t held = 99;
	int allowed = 0;

	(void)state;
	pt_ratelimit_init(&rl, 5, S);
	for (int i = 0; i < 50000; i++)
		allowed += pt_ratelimit_allow(&rl, 10 * S + i, &held);
	assert_int_equal(allowed, 5);
	assert_int_equal(held, 0);              /* the 5 allowed held none back */
	assert_int_equal(rl.held, 50000 - 5);
}

static void
ratelimit_first_line_of_next_window_reports_what_was_held(void **state)
{
	struct pt_ratelimit rl;
	uint64_t held = 0;

	(void)state;
	pt_ratelimit_init(&rl, 2, S);
	assert_true(pt_ratelimit_allow(&rl, 0, &held));
	assert_true(pt_ratelimit_allow(&rl, 1, &held));
	assert_false(pt_ratelimit_allow(&rl, 2, &held));
	assert_false(pt_ratelimit_allow(&rl, S - 1, &held));
	/* The window is one period from its first event. */
	assert_true(pt_ratelimit_allow(&rl, S, &held));
	assert_int_equal(held, 2);
	assert_true(pt_ratelimit_allow(&rl, S + 1, &held));
	assert_int_equal(held, 0);              /* said once only */
}

static void
ratelimit_over_a_long_flood_stays_near_burst_per_second(void **state)
{
	struct pt_ratelimit rl;
	uint64_t held, said = 0;
	unsigned lines = 0;
	const int n = 100000;

	(void)state;
	pt_ratelimit_init(&rl, PT_RATELIMIT_BURST, PT_RATELIMIT_PERIOD_NS);
	/* 100,000 events over 10 s, evenly. */
	for (int i = 0; i < n; i++) {
		if (pt_ratelimit_allow(&rl, (int64_t)i * (10 * S / n), &held)) {
			lines++;
			said += held;
		}
	}
	said += pt_ratelimit_expired(&rl, 10 * S, 1);
	assert_true(lines <= 10 * PT_RATELIMIT_BURST + PT_RATELIMIT_BURST);
	assert_true(lines >= 10 * PT_RATELIMIT_BURST - PT_RATELIMIT_BURST);
	/* Every event is either a line or counted in a held-back report. */
	assert_int_equal(said + lines, (uint64_t)n);
}

static void
ratelimit_expired_reports_only_after_the_window(void **state)
{
	struct pt_ratelimit rl;

	(void)state;
	pt_ratelimit_init(&rl, 1, S);
	assert_true(pt_ratelimit_allow(&rl, 0, NULL));
	assert_false(pt_ratelimit_allow(&rl, 10, NULL));
	assert_false(pt_ratelimit_allow(&rl, 20, NULL));
	assert_int_equal(pt_ratelimit_expired(&rl, S / 2, 0), 0);
	assert_int_equal(pt_ratelimit_expired(&rl, S, 0), 2);
	assert_int_equal(pt_ratelimit_expired(&rl, S + 1, 0), 0);  /* once */
	/* force: at exit, whatever the window. */
	pt_ratelimit_init(&rl, 1, S);
	(void)pt_ratelimit_allow(&rl, 0, NULL);
	(void)pt_ratelimit_allow(&rl, 1, NULL);
	assert_int_equal(pt_ratelimit_expired(&rl, 2, 0), 0);
	assert_int_equal(pt_ratelimit_expired(&rl, 2, 1), 1);
}

static void
ratelimit_init_sanitises_its_settings(void **state)
{
	struct pt_ratelimit rl;

	(void)state;
	pt_ratelimit_init(&rl, 0, 0);
	assert_int_equal(rl.burst, 1);
	assert_int_equal(rl.period_ns, PT_RATELIMIT_PERIOD_NS);
	/* A clock that goes back (a caller mixing clocks) opens a new window
	 * rather than holding lines back for ever. */
	assert_true(pt_ratelimit_allow(&rl, 5 * S, NULL));
	assert_false(pt_ratelimit_allow(&rl, 5 * S, NULL));
	assert_true(pt_ratelimit_allow(&rl, 1 * S, NULL));
}

/* Run fn with stderr sent to a temporary file; return what it wrote. */
static char *
capture_stderr(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *out;
	off_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	assert_int_equal(pread(fileno(tmp), out, (size_t)n, 0), n);
	fclose(tmp);
	return out;
}

static void
flood(void)
{
	struct pt_ratelimit rl;

	pt_log_init("t", 0);
	pt_ratelimit_init(&rl, 3, 3600 * S);    /* one window for the whole run */
	for (int i = 0; i < 50000; i++)
		pt_log_warnx_limited(&rl, "invalid payload %d", i);
	pt_log_held(&rl, "invalid payload", 0); /* window still open: nothing */
	pt_log_held(&rl, "invalid payload", 1);
	pt_log_debug_limited(&rl, "not shown without -d");
}

static void
log_limited_prints_burst_lines_and_one_held_back_line(void **state)
{
	char *out = capture_stderr(flood);

	(void)state;
	assert_string_equal(out,
	    "t: warning: invalid payload 0\n"
	    "t: warning: invalid payload 1\n"
	    "t: warning: invalid payload 2\n"
	    "t: warning: invalid payload: 49997 more line(s) held back\n");
	free(out);
}

static void
second_window(void)
{
	struct pt_ratelimit rl;

	pt_log_init("t", 0);
	pt_ratelimit_init(&rl, 1, 3600 * S);
	pt_log_warnx_limited(&rl, "refused %s", "a");
	pt_log_warnx_limited(&rl, "refused %s", "b");
	pt_log_warnx_limited(&rl, "refused %s", "c");
	rl.window_ns -= rl.period_ns;   /* the window is over */
	pt_log_warnx_limited(&rl, "refused %s", "d");
}

static void
log_limited_line_after_a_held_stretch_says_how_many(void **state)
{
	char *out = capture_stderr(second_window);

	(void)state;
	assert_string_equal(out,
	    "t: warning: refused a\n"
	    "t: warning: refused d; 2 more like it held back\n");
	free(out);
}

static void
verbose_flood(void)
{
	struct pt_ratelimit rl;

	pt_log_init("t", 1);
	pt_ratelimit_init(&rl, 1, 3600 * S);
	for (int i = 0; i < 3; i++)
		pt_log_warnx_limited(&rl, "line %d", i);
	pt_log_held(&rl, "line", 1);
	pt_log_init("t", 0);
}

static void
log_limited_prints_every_line_with_debug_on(void **state)
{
	char *out = capture_stderr(verbose_flood);

	(void)state;
	assert_string_equal(out,
	    "t: warning: line 0\n"
	    "t: warning: line 1\n"
	    "t: warning: line 2\n");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ratelimit_allows_burst_lines_per_window_then_holds_back),
		cmocka_unit_test(ratelimit_first_line_of_next_window_reports_what_was_held),
		cmocka_unit_test(ratelimit_over_a_long_flood_stays_near_burst_per_second),
		cmocka_unit_test(ratelimit_expired_reports_only_after_the_window),
		cmocka_unit_test(ratelimit_init_sanitises_its_settings),
		cmocka_unit_test(log_limited_prints_burst_lines_and_one_held_back_line),
		cmocka_unit_test(log_limited_line_after_a_held_stretch_says_how_many),
		cmocka_unit_test(log_limited_prints_every_line_with_debug_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
