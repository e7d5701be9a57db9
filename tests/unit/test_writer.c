/*
 * test_writer.c: the sink's output file, byte for byte, in each format and
 * mode, in a fresh directory under /tmp per test.
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

#include "writer.h"

#define TS_US    1795555384123456LL    /* 2026-11-24T21:23:04.123456Z */
#define RECV_US  1795555384125000LL    /* 2026-11-24T21:23:04.125000Z */
#define PAYLOAD_BODY "{\"device\":\"pi-sensor-1\",\"boot\":\"5f0c2a9e41d3b7a8\"," \
                     "\"seq\":42,\"ts\":\"2026-11-24T21:23:04.123456Z\"," \
                     "\"temp_c\":22.53,\"mv\":725.3,\"raw\":225"
#define PAYLOAD      PAYLOAD_BODY "}"

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/pitemp-writer-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/out.txt", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[512];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(f->dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct pt_reading
reading(uint64_t seq, int with_extras)
{
	struct pt_reading r;

	memset(&r, 0, sizeof(r));
	strcpy(r.device, "pi-sensor-1");
	strcpy(r.boot, "5f0c2a9e41d3b7a8");
	r.seq = seq;
	r.ts_us = TS_US;
	r.temp_c = 22.53;
	r.has_mv = with_extras;
	r.mv = 725.3;
	r.has_raw = with_extras;
	r.raw = 225;
	return r;
}

/* The whole file as a string (static buffer); "" when missing. */
static const char *
slurp(const char *path)
{
	static char buf[8192];
	ssize_t n = 0;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Entries of dir other than . and .. */
static int
count_entries(const char *dir)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
put(struct writer *w, uint64_t seq, int extras)
{
	struct pt_reading r = reading(seq, extras);

	assert_int_equal(writer_write(w, &r, PAYLOAD, strlen(PAYLOAD), RECV_US), 0);
}

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

/* Size of the one temporary file ".out.txt.XXXXXX" in dir, -1 if none. */
static off_t
temp_size(const char *dir)
{
	char p[512];
	struct dirent *e;
	struct stat st;
	off_t size = -1;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".out.txt.", 9) == 0) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			assert_int_equal(stat(p, &st), 0);
			size = st.st_size;
		}
	closedir(d);
	return size;
}

static int
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int c, n = 0;

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

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
		T(writer_truncates_a_line_that_fails_partway),
		T(writer_complete_mode_writes_lines_in_blocks),
		T(writer_complete_mode_keeps_a_block_that_failed),
		T(writer_normal_sync_hands_out_a_descriptor_once_per_batch),
		T(writer_dash_writes_to_stdout),
		T(writer_open_fails_in_a_missing_directory),
		T(writer_reopen_starts_a_new_file_after_a_rename),
		T(writer_reopen_keeps_the_old_file_when_the_new_cannot_open),
		T(writer_holds_space_ahead_and_gives_it_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
