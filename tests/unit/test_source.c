/*
 * test_source.c: source_open's dispatch and the sim and replay sources that
 * stand in for hardware in every other test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pt_reading.h"
#include "pt_tmp36.h"
#include "source.h"

#define STEP_MV (3300.0 / 1024.0)

/* Write text to a fresh temp file; path receives its name. */
static void
write_temp(char *path, size_t cap, const char *text)
{
	FILE *fp;
	int fd;

	snprintf(path, cap, "/tmp/pitemp-test-source-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static struct source *
open_replay(const char *path, char *err, size_t cap)
{
	char spec[256];

	snprintf(spec, sizeof(spec), "replay:%s", path);
	return source_open(spec, err, cap);
}

static void
source_rejects_unknown_prefix_naming_the_spec(void **state)
{
	char err[256];

	(void)state;
	errno = 0;
	assert_null(source_open("thermocouple:/dev/x", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "thermocouple:/dev/x"));
	assert_non_null(strstr(err, "sim, replay"));
	/* A prefix must match whole, not as the start of a longer word. */
	errno = 0;
	assert_null(source_open("simulator", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "simulator"));
	errno = 0;
	assert_null(source_open("", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(source_open(NULL, NULL, 0));
	assert_int_equal(errno, EINVAL);
}

static void
source_name_is_the_spec_and_close_accepts_null(void **state)
{
	struct source *s;
	char err[256];

	(void)state;
	s = source_open("sim:7", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(source_name(s), "sim:7");
	source_close(s);
	source_close(NULL);
}

static void
sim_is_reproducible_with_a_seed(void **state)
{
	struct source *a, *b, *c;
	struct source_sample sa, sb, sc;
	char err[256];
	int i, differs = 0;

	(void)state;
	a = source_open("sim:42", err, sizeof(err));
	b = source_open("sim:42", err, sizeof(err));
	c = source_open("sim:43", err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(source_read(a, &sa, err, sizeof(err)), 0);
		assert_int_equal(source_read(b, &sb, err, sizeof(err)), 0);
		assert_int_equal(source_read(c, &sc, err, sizeof(err)), 0);
		assert_int_equal(sa.raw, sb.raw);
		assert_true(sa.mv == sb.mv);
		differs |= sa.raw != sc.raw;
	}
	assert_true(differs);
	source_close(a);
	source_close(b);
	source_close(c);
}

/* An hour at 100 Hz for a few seeds: in the TMP36 range, and a room. */
static void
sim_stays_in_range_and_near_room_temperature(void **state)
{
	const char *specs[] = { "sim:0", "sim:1", "sim:18446744073709551615" };
	struct source_sample smp;
	struct source *s;
	double c, lo = 1e9, hi = -1e9;
	char err[256];
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		s = source_open(specs[i], err, sizeof(err));
		assert_non_null(s);
		for (k = 0; k < 360000; k++) {
			assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
			c = pt_tmp36_mv_to_c(smp.mv);
			assert_true(pt_tmp36_in_range(c));
			assert_in_range(smp.raw, 0, 1023);
			lo = fmin(lo, c);
			hi = fmax(hi, c);
		}
		source_close(s);
	}
	assert_true(lo > 18.0 && hi < 26.0);
	assert_true(hi - lo > 0.5); /* it drifts, it is not a constant */
}

/* Unseeded runs differ, so only the hard TMP36 range is asserted. */
static void
sim_without_a_seed_opens_and_stays_in_range(void **state)
{
	struct source_sample smp;
	struct source *s;
	char err[256];
	int k;

	(void)state;
	s = source_open("sim", err, sizeof(err));
	assert_non_null(s);
	for (k = 0; k < 10000; k++) {
		assert_int_equal(source_read(s, &smp, NULL, 0), 0);
		assert_true(pt_tmp36_in_range(pt_tmp36_mv_to_c(smp.mv)));
	}
	source_close(s);
}

static void
sim_values_are_quantised_to_adc_steps(void **state)
{
	struct source_sample smp, prev;
	struct source *s;
	char err[256];
	int k;

	(void)state;
	s = source_open("sim:12345", err, sizeof(err));
	assert_non_null(s);
	memset(&prev, 0, sizeof(prev));
	for (k = 0; k < 10000; k++) {
		assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
		assert_true(smp.has_raw);
		/* mv is exactly what the ADC code converts to. */
		assert_true(smp.mv == pt_adc_to_mv(smp.raw, 10, 3300.0));
		assert_true(fabs(smp.mv / STEP_MV - nearbyint(smp.mv / STEP_MV)) < 1e-9);
		/* Noise of a few mV: neighbouring samples are a few codes apart. */
		if (k > 0)
			assert_true(llabs(smp.raw - prev.raw) <= 8);
		prev = smp;
	}
	source_close(s);
}

static void
sim_rejects_a_bad_seed_naming_it(void **state)
{
	const char *bad[] = { "sim:abc", "sim:-1", "sim: 1", "sim:12x", "sim:" };
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(source_open(bad[i], err, sizeof(err)));
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err, bad[i]));
		assert_non_null(strstr(err, "seed"));
	}
	errno = 0;
	assert_null(source_open("sim:18446744073709551616", err, sizeof(err)));
	assert_int_equal(errno, ERANGE);
	assert_non_null(strstr(err, "out of range"));
}

static void
replay_reads_values_in_order_skipping_comments(void **state)
{
	const double want[] = { 750.0, 100.0, 1750.5, 0.0, 3300.0, 722.25 };
	struct source_sample smp;
	struct source *s;
	char path[64], err[256];
	size_t i;

	(void)state;
	write_temp(path, sizeof(path),
	    "# recorded on pi-sensor-1\n"
	    "750\n"
	    "\n"
	    "100.0\r\n"
	    "   # indented comment\n"
	    "  1750.5  \n"
	    "0\n"
	    "3300\n"
	    "\t\n"
	    "722.25");                  /* no final newline */
	s = open_replay(path, err, sizeof(err));
	assert_non_null(s);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		memset(&smp, 0xff, sizeof(smp));
		assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
		assert_true(smp.mv == want[i]);
		assert_false(smp.has_raw);
	}
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), -ENODATA);
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), -ENODATA);
	source_close(s);
	unlink(path);
}

static void
replay_rejects_a_bad_line_naming_file_and_line(void **state)
{
	char path[64], err[256], where[96];

	(void)state;
	write_temp(path, sizeof(path), "750\n# ok\n751\n75l\n752\n");
	errno = 0;
	assert_null(open_replay(path, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	snprintf(where, sizeof(where), "%s:4:", path);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, "'75l'"));
	unlink(path);
}

static void
replay_rejects_values_outside_0_to_3300_mv(void **state)
{
	const char *bad[] = { "3300.01\n", "-0.5\n", "1e400\n", "inf\n", "nan\n" };
	char path[64], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_temp(path, sizeof(path), bad[i]);
		errno = 0;
		assert_null(open_replay(path, err, sizeof(err)));
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err, ":1:"));
		unlink(path);
	}
	write_temp(path, sizeof(path), "3300.01\n");
	assert_null(open_replay(path, err, sizeof(err)));
	assert_non_null(strstr(err, "out of range"));
	unlink(path);
}

static void
replay_rejects_missing_empty_and_unnamed_files(void **state)
{
	char path[64], err[256];

	(void)state;
	errno = 0;
	assert_null(source_open("replay:/nonexistent/pitemp.txt", err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/pitemp.txt"));
	errno = 0;
	assert_null(source_open("replay", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "replay:FILE"));
	errno = 0;
	assert_null(source_open("replay:", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(source_open("replay:/tmp", err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	write_temp(path, sizeof(path), "# nothing but comments\n\n");
	errno = 0;
	assert_null(open_replay(path, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "no millivolt values"));
	unlink(path);
}

/* Validated at open, but a file rewritten during the run still fails clean. */
static void
replay_read_reports_a_line_gone_bad_after_open(void **state)
{
	struct source_sample smp;
	struct source *s;
	char path[64], err[256], where[96];
	FILE *fp;

	(void)state;
	write_temp(path, sizeof(path), "700\n701\n");
	s = open_replay(path, err, sizeof(err));
	assert_non_null(s);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("700\nbroken\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), 0);
	assert_true(smp.mv == 700.0);
	assert_int_equal(source_read(s, &smp, err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s:2:", path);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, "'broken'"));
	source_close(s);
	unlink(path);
}

/* 725.34 mV is 22.534 C: the payload carries 22.53 and 725.3. */
static void
fill_reading_rounds_as_the_payload_carries_it(void **state)
{
	struct source_sample smp = { .mv = 725.34, .has_raw = true, .raw = 225 };
	struct pt_reading r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(source_fill_reading(&smp, &r), 0);
	assert_true(fabs(r.temp_c - 22.53) < 1e-9);
	assert_true(r.has_mv && fabs(r.mv - 725.3) < 1e-9);
	assert_true(r.has_raw && r.raw == 225);
	smp.has_raw = false;
	assert_int_equal(source_fill_reading(&smp, &r), 0);
	assert_false(r.has_raw);
}

/* Outside the TMP36's -40..125 C (100..1750 mV) nothing is published. */
static void
fill_reading_refuses_what_a_tmp36_cannot_report(void **state)
{
	struct source_sample smp = { .mv = 99.0 };
	struct pt_reading r;

	(void)state;
	assert_int_equal(source_fill_reading(&smp, &r), -ERANGE);
	smp.mv = 1760.0;
	assert_int_equal(source_fill_reading(&smp, &r), -ERANGE);
	smp.mv = 100.0;
	assert_int_equal(source_fill_reading(&smp, &r), 0);
	assert_true(fabs(r.temp_c - -40.0) < 1e-9);
	smp.mv = 1750.0;
	assert_int_equal(source_fill_reading(&smp, &r), 0);
	assert_true(fabs(r.temp_c - 125.0) < 1e-9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(source_rejects_unknown_prefix_naming_the_spec),
		cmocka_unit_test(source_name_is_the_spec_and_close_accepts_null),
		cmocka_unit_test(sim_is_reproducible_with_a_seed),
		cmocka_unit_test(sim_stays_in_range_and_near_room_temperature),
		cmocka_unit_test(sim_without_a_seed_opens_and_stays_in_range),
		cmocka_unit_test(sim_values_are_quantised_to_adc_steps),
		cmocka_unit_test(sim_rejects_a_bad_seed_naming_it),
		cmocka_unit_test(replay_reads_values_in_order_skipping_comments),
		cmocka_unit_test(replay_rejects_a_bad_line_naming_file_and_line),
		cmocka_unit_test(replay_rejects_values_outside_0_to_3300_mv),
		cmocka_unit_test(replay_rejects_missing_empty_and_unnamed_files),
		cmocka_unit_test(replay_read_reports_a_line_gone_bad_after_open),
		cmocka_unit_test(fill_reading_rounds_as_the_payload_carries_it),
		cmocka_unit_test(fill_reading_refuses_what_a_tmp36_cannot_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
