/*
 * test_recover.c: what a restarted logger sink reads back from its output
 * file's tail (sink/recover.c): the text set, the dedup seeding of csv, and
 * where a text stream left off (so it does not seem to start with a hole).
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

#include "dedup.h"
#include "pt_time.h"
#include "recover.h"

#define BOOT "5f0c2a9e41d3b7a8"

static void
write_file(char *path, const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct pt_reading
reading(const char *device, uint64_t seq, const char *ts)
{
	struct pt_reading r;

	memset(&r, 0, sizeof(r));
	snprintf(r.device, sizeof(r.device), "%s", device);
	memcpy(r.boot, BOOT, sizeof(r.boot));
	r.seq = seq;
	assert_int_equal(pt_time_parse(ts, strlen(ts), &r.ts_us), 0);
	return r;
}

static void
recover_text_tail_says_where_each_device_left_off(void **state)
{
	char path[] = "/tmp/pitemp-test-recover-XXXXXX";
	struct dedup *d = dedup_new(0, 0);
	struct recover_info info;
	struct recover *rec;
	struct pt_reading r;
	uint64_t last = 0;

	(void)state;
	write_file(path,
	    "# seq ts device temp_c\n"
	    "798 2026-11-24T21:23:04.100000Z pi-a 22.50\n"
	    "41 2026-11-24T21:23:04.105000Z pi-b 21.00\n"
	    "799 2026-11-24T21:23:04.110000Z pi-a 22.51\n"
	    "800 2026-11-24T21:23:04.120000Z pi-a 22.52\n"
	    "801 2026-11-24T21:23:04.13");     /* torn: not a reading */
	rec = recover_load(path, WRITER_TEXT, d, &info);
	assert_non_null(rec);
	assert_int_equal(info.lines, 4);

	/* Already in the file: seen. */
	r = reading("pi-a", 800, "2026-11-24T21:23:04.120000Z");
	assert_true(recover_seen(rec, &r));
	/* The next one after a restart: it goes on from 800. */
	r = reading("pi-a", 801, "2026-11-24T21:23:04.130000Z");
	assert_false(recover_seen(rec, &r));
	assert_true(recover_last_before(rec, &r, &last));
	assert_int_equal(last, 800);
	/* One lost in between: still from 800 (the hole is 801 only). */
	r = reading("pi-a", 802, "2026-11-24T21:23:04.140000Z");
	assert_true(recover_last_before(rec, &r, &last));
	assert_int_equal(last, 800);
	/* Another device is its own. */
	r = reading("pi-b", 42, "2026-11-24T21:23:04.140000Z");
	assert_true(recover_last_before(rec, &r, &last));
	assert_int_equal(last, 41);
	/* Unknown device, or nothing earlier: 0. */
	r = reading("pi-c", 5, "2026-11-24T21:23:04.140000Z");
	assert_false(recover_last_before(rec, &r, &last));
	r = reading("pi-a", 700, "2026-11-24T21:23:03.000000Z");
	assert_false(recover_last_before(rec, &r, &last));
	assert_false(recover_last_before(NULL, &r, &last));

	recover_free(rec);
	dedup_free(d);
	unlink(path);
}

static void
recover_csv_tail_seeds_the_dedup_without_gaps(void **state)
{
	char path[] = "/tmp/pitemp-test-recover-XXXXXX";
	struct dedup *d = dedup_new(0, 0);
	struct recover *rec;
	int64_t gap = -1;

	(void)state;
	write_file(path,
	    "device,boot,seq,ts,temp_c,mv,raw,recv_ts\n"
	    "pi-a," BOOT ",500,2026-11-24T21:23:04.100000Z,22.50,,,"
	    "2026-11-24T21:23:04.101000Z\n"
	    "pi-a," BOOT ",501,2026-11-24T21:23:04.110000Z,22.50,,,"
	    "2026-11-24T21:23:04.111000Z\n");
	rec = recover_load(path, WRITER_CSV, d, NULL);
	assert_non_null(rec);
	assert_true(dedup_known(d, "pi-a", BOOT));
	assert_int_equal(dedup_check(d, "pi-a", BOOT, 501, &gap), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(d, "pi-a", BOOT, 502, &gap), DEDUP_NEW);
	assert_int_equal(gap, 0);
	recover_free(rec);
	dedup_free(d);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recover_text_tail_says_where_each_device_left_off),
		cmocka_unit_test(recover_csv_tail_seeds_the_dedup_without_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
