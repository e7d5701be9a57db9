/*
 * test_writer_faults.c: the sink's output file when things go wrong or
 * have to be cheap: a write that fails partway, --count N's block writes,
 * --sync normal's fsync batches, reopening after a rename (SIGHUP), and
 * the space held ahead for a full disk (test_writer.c has the formats and
 * modes). A fresh directory under /tmp per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/writer_fx.h"

static void
writer_truncates_a_line_that_fails_partway(void **state)
{
	struct fx *f = *state;
	struct pt_reading r = reading(2, 0);
	struct rlimit old, lim;
	struct writer *w;
	struct stat st;
	off_t good;

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	put(w, 1, 0);
	assert_int_equal(stat(f->path, &st), 0);
	good = st.st_size;
	/* Let 10 more bytes in: the next write is short, then EFBIG. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)good + 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(writer_write(w, &r, NULL, 0, RECV_US), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, good);
	put(w, 3, 0);
	writer_free(w);
	assert_string_equal(slurp(f->path), "# seq ts device temp_c\n"
	    "1 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n"
	    "3 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
}

static void
writer_complete_mode_writes_lines_in_blocks(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	off_t mid;

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	put(w, 0, 0);
	/* One reading is held, not written: no write(2) per line. */
	assert_int_equal(temp_size(f->dir), 0);
	for (uint64_t seq = 1; seq < 2000; seq++)
		put(w, seq, 0);
	/* ~100 KB of lines: the full blocks are written, the last is held. */
	mid = temp_size(f->dir);
	assert_true(mid >= 32 * 1024);
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	assert_int_equal(count_lines(f->path), 2001);
	assert_true(temp_size(f->dir) == -1);
}

static void
writer_complete_mode_keeps_a_block_that_failed(void **state)
{
	struct fx *f = *state;
	struct pt_reading r = reading(0, 0);
	struct rlimit old, lim;
	struct writer *w;
	uint64_t seq;
	int rc = 0;

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	/* The file may not grow past 10 bytes: the first block fails. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (seq = 0; seq < 2000 && rc == 0; seq++) {
		r.seq = seq;
		rc = writer_write(w, &r, NULL, 0, RECV_US);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	/* The reading that found no room was not taken; nothing torn stays
	 * and every line taken before it is still held, to be written where
	 * the failed block began (no hole). */
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(temp_size(f->dir), 0);
	seq--;
	for (; seq < 2000; seq++)
		put(w, seq, 0);
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	assert_int_equal(count_lines(f->path), 2001);
}

static void
writer_normal_sync_hands_out_a_descriptor_once_per_batch(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	int fd;

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	writer_set_sync(w, 0);
	assert_int_equal(writer_sync_fd(w), -1);        /* header: synced at open */
	put(w, 1, 0);
	put(w, 2, 0);
	/* Two lines since: one descriptor of the same file to fsync... */
	assert_true((fd = writer_sync_fd(w)) >= 0);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(close(fd), 0);
	/* ...and none until another line comes. */
	assert_int_equal(writer_sync_fd(w), -1);
	put(w, 3, 0);
	assert_true((fd = writer_sync_fd(w)) >= 0);
	close(fd);
	writer_free(w);
	/* --sync full fsyncs each line itself: nothing to hand out. */
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	writer_set_sync(w, 1);
	put(w, 4, 0);
	assert_int_equal(writer_sync_fd(w), -1);
	writer_free(w);
	assert_int_equal(writer_sync_fd(NULL), -1);
}

static void
writer_reopen_starts_a_new_file_after_a_rename(void **state)
{
	struct fx *f = *state;
	char rotated[160];
	struct writer *w;

	snprintf(rotated, sizeof(rotated), "%s.1", f->path);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	put(w, 1, 0);
	assert_int_equal(rename(f->path, rotated), 0);
	put(w, 2, 0);           /* still the renamed file, as logrotate expects */
	assert_int_equal(writer_reopen(w), 0);
	put(w, 3, 0);
	writer_free(w);
	assert_string_equal(slurp(rotated), "# seq ts device temp_c\n"
	    "1 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n"
	    "2 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
	assert_string_equal(slurp(f->path), "# seq ts device temp_c\n"
	    "3 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
}

static void
writer_reopen_keeps_the_old_file_when_the_new_cannot_open(void **state)
{
	struct fx *f = *state;
	char moved[160];
	struct writer *w;

	snprintf(moved, sizeof(moved), "%s.d", f->dir);
	assert_non_null(w = writer_open(f->path, WRITER_CSV, WRITER_APPEND));
	put(w, 1, 0);
	/* The directory goes away: the reopen fails, writing goes on. */
	assert_int_equal(rename(f->dir, moved), 0);
	assert_int_equal(writer_reopen(w), -ENOENT);
	put(w, 2, 0);
	writer_free(w);
	assert_int_equal(rename(moved, f->dir), 0);
	assert_non_null(strstr(slurp(f->path), ",2,"));
	/* COMPLETE mode has nothing to reopen. */
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	assert_int_equal(writer_reopen(w), 0);
	writer_free(w);
}

static void
writer_holds_space_ahead_and_gives_it_back(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	struct stat st;
	int fd;

	/* Where fallocate is missing there is no reserve to see. */
	assert_true((fd = open(f->path, O_RDWR | O_CREAT, 0644)) >= 0);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) != 0) {
		close(fd);
		skip();
	}
	close(fd);
	unlink(f->path);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	put(w, 1, 0);
	assert_int_equal(writer_ready(w), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size < 200);
	assert_true((off_t)st.st_blocks * 512 >= 32 * 1024);
	writer_free(w);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true((off_t)st.st_blocks * 512 <= 8192);
	/* What a killed run left held is given back on the next open. */
	assert_true((fd = open(f->path, O_RDWR)) >= 0);
	assert_int_equal(fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, 1 << 20), 0);
	close(fd);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	writer_free(w);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true((off_t)st.st_blocks * 512 <= 8192);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(writer_truncates_a_line_that_fails_partway),
		T(writer_complete_mode_writes_lines_in_blocks),
		T(writer_complete_mode_keeps_a_block_that_failed),
		T(writer_normal_sync_hands_out_a_descriptor_once_per_batch),
		T(writer_reopen_starts_a_new_file_after_a_rename),
		T(writer_reopen_keeps_the_old_file_when_the_new_cannot_open),
		T(writer_holds_space_ahead_and_gives_it_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
