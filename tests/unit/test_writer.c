/*
 * test_writer.c: the sink's output file, byte for byte, in each format and
 * mode, in a fresh directory under /tmp per test (test_writer_faults.c has
 * failed writes, block writes, fsync batches, reopening and the reserve).
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
writer_parses_the_three_format_names(void **state)
{
	enum writer_format f;

	(void)state;
	assert_int_equal(writer_format_parse("text", &f), 0);
	assert_int_equal(f, WRITER_TEXT);
	assert_int_equal(writer_format_parse("csv", &f), 0);
	assert_int_equal(f, WRITER_CSV);
	assert_int_equal(writer_format_parse("jsonl", &f), 0);
	assert_int_equal(f, WRITER_JSONL);
	assert_int_equal(writer_format_parse("json", &f), -EINVAL);
	assert_int_equal(writer_format_parse(NULL, &f), -EINVAL);
}

static void
writer_text_lines_are_byte_exact(void **state)
{
	struct fx *f = *state;
	struct writer *w;

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	put(w, 42, 1);
	put(w, 43, 0);
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	assert_string_equal(slurp(f->path), "# seq ts device temp_c\n"
	    "42 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n"
	    "43 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
}

static void
writer_csv_leaves_absent_mv_and_raw_empty(void **state)
{
	struct fx *f = *state;
	struct writer *w;

	assert_non_null(w = writer_open(f->path, WRITER_CSV, WRITER_COMPLETE));
	put(w, 42, 1);
	put(w, 43, 0);
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	assert_string_equal(slurp(f->path),
	    "device,boot,seq,ts,temp_c,mv,raw,recv_ts\n"
	    "pi-sensor-1,5f0c2a9e41d3b7a8,42,2026-11-24T21:23:04.123456Z,22.53,"
	    "725.3,225,2026-11-24T21:23:04.125000Z\n"
	    "pi-sensor-1,5f0c2a9e41d3b7a8,43,2026-11-24T21:23:04.123456Z,22.53,"
	    ",,2026-11-24T21:23:04.125000Z\n");
}

static void
writer_jsonl_appends_recv_ts(void **state)
{
	struct fx *f = *state;
	struct pt_reading r = reading(42, 1);
	const char *spaced = " \r\n{\"seq\":42,\n \"temp_c\":22.53 }\n\t";
	struct writer *w;

	assert_non_null(w = writer_open(f->path, WRITER_JSONL, WRITER_COMPLETE));
	put(w, 42, 1);
	assert_int_equal(writer_write(w, &r, spaced, strlen(spaced), RECV_US), 0);
	assert_int_equal(writer_write(w, &r, "{}", 2, RECV_US), 0);
	assert_int_equal(writer_write(w, &r, "[1]", 3, RECV_US), -EINVAL);
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	assert_string_equal(slurp(f->path),
	    PAYLOAD_BODY ",\"recv_ts\":\"2026-11-24T21:23:04.125000Z\"}\n"
	    "{\"seq\":42,  \"temp_c\":22.53,\"recv_ts\":\"2026-11-24T21:23:04.125000Z\"}\n"
	    "{\"recv_ts\":\"2026-11-24T21:23:04.125000Z\"}\n");
}

static void
writer_complete_mode_renames_only_on_commit(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	struct stat st;
	mode_t old = umask(022);

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	put(w, 1, 0);
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(f->dir), 1);     /* the hidden temp */
	assert_int_equal(writer_commit(w), 0);
	assert_int_equal(writer_write(w, &(struct pt_reading){ .seq = 2 },
	    NULL, 0, RECV_US), -EBADF);
	writer_free(w);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(count_entries(f->dir), 1);
	umask(old);
}

static void
writer_file_mode_respects_the_umask(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	struct stat st;
	mode_t old = umask(077);

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	umask(old);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
writer_abandon_keeps_a_partial_file(void **state)
{
	struct fx *f = *state;
	char partial[160];
	const char *kept = "x";
	struct writer *w;

	snprintf(partial, sizeof(partial), "%s.partial", f->path);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	put(w, 7, 0);
	writer_abandon(w, &kept);
	assert_non_null(kept);
	assert_string_equal(kept, partial);
	writer_free(w);
	assert_string_equal(slurp(partial), "# seq ts device temp_c\n"
	    "7 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(count_entries(f->dir), 1);
}

static void
writer_abandon_without_readings_leaves_nothing(void **state)
{
	struct fx *f = *state;
	const char *kept = "x";
	struct writer *w;

	assert_non_null(w = writer_open(f->path, WRITER_CSV, WRITER_COMPLETE));
	writer_abandon(w, &kept);
	assert_null(kept);
	writer_free(w);
	assert_int_equal(count_entries(f->dir), 0);
	writer_abandon(NULL, &kept);
	assert_null(kept);
	writer_free(NULL);
}

static void
writer_free_without_commit_keeps_what_was_written(void **state)
{
	struct fx *f = *state;
	char partial[160];
	struct writer *w;

	snprintf(partial, sizeof(partial), "%s.partial", f->path);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_COMPLETE));
	put(w, 7, 0);
	writer_free(w);
	assert_int_equal(access(partial, F_OK), 0);
	assert_int_equal(count_entries(f->dir), 1);
}

static void
writer_append_writes_header_once(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	const char *kept = "x";

	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	put(w, 1, 0);
	assert_int_equal(writer_commit(w), 0);
	writer_free(w);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	put(w, 2, 0);
	writer_abandon(w, &kept);
	assert_null(kept);
	writer_free(w);
	assert_string_equal(slurp(f->path), "# seq ts device temp_c\n"
	    "1 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n"
	    "2 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
}

static void
writer_append_trims_a_torn_last_line(void **state)
{
	struct fx *f = *state;
	const char *torn = "# seq ts device temp_c\n"
	    "1 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n2 2026-11-2";
	struct writer *w;
	int fd;

	assert_true((fd = open(f->path, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(write(fd, torn, strlen(torn)), (ssize_t)strlen(torn));
	close(fd);
	assert_non_null(w = writer_open(f->path, WRITER_TEXT, WRITER_APPEND));
	put(w, 2, 0);
	writer_free(w);
	assert_string_equal(slurp(f->path), "# seq ts device temp_c\n"
	    "1 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n"
	    "2 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
}

static void
writer_dash_writes_to_stdout(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	int saved, fd;

	/* Point fd 1 at a file for the duration. */
	fflush(stdout);
	assert_true((saved = dup(STDOUT_FILENO)) >= 0);
	assert_true((fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
	w = writer_open("-", WRITER_TEXT, WRITER_COMPLETE);
	if (w != NULL) {
		put(w, 5, 0);
		assert_int_equal(writer_commit(w), 0);
		writer_free(w);
	}
	/* stdout stays open after the writer is gone. */
	assert_int_equal(fcntl(STDOUT_FILENO, F_GETFD), 0);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	assert_non_null(w);
	assert_string_equal(slurp(f->path), "# seq ts device temp_c\n"
	    "5 2026-11-24T21:23:04.123456Z pi-sensor-1 22.53\n");
	assert_int_equal(count_entries(f->dir), 1);
}

static void
writer_open_fails_in_a_missing_directory(void **state)
{
	struct fx *f = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/no/such/out.txt", f->dir);
	errno = 0;
	assert_null(writer_open(path, WRITER_TEXT, WRITER_COMPLETE));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(writer_open(path, WRITER_TEXT, WRITER_APPEND));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(writer_open(NULL, WRITER_TEXT, WRITER_APPEND));
	assert_int_equal(errno, EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writer_parses_the_three_format_names),
		T(writer_text_lines_are_byte_exact),
		T(writer_csv_leaves_absent_mv_and_raw_empty),
		T(writer_jsonl_appends_recv_ts),
		T(writer_complete_mode_renames_only_on_commit),
		T(writer_file_mode_respects_the_umask),
		T(writer_abandon_keeps_a_partial_file),
		T(writer_abandon_without_readings_leaves_nothing),
		T(writer_free_without_commit_keeps_what_was_written),
		T(writer_append_writes_header_once),
		T(writer_append_trims_a_torn_last_line),
		T(writer_dash_writes_to_stdout),
		T(writer_open_fails_in_a_missing_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
