/*
 * test_store_sqlite.c: --format sqlite through store.h, in a fresh
 * directory under /tmp per test; the database is read back with the
 * sqlite3 command-line tool (make deps installs it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"
#include "store.h"
#include "support/reading_fx.h"

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
	strcpy(f->dir, "/tmp/pitemp-sqlite-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/r.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}
/* The output of `sqlite3 -batch db sql` (static buffer). */
static const char *
query(const char *db, const char *sql)
{
	static char out[4096];
	char cmd[512];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sqlite3 -batch '%s' \"%s\"", db, sql);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

static struct store *
open_db(struct fx *f, enum store_mode mode, struct dedup *d, struct store_info *si)
{
	struct store_cfg c = { .format = "sqlite", .output = f->path, .mode = mode,
	                       .dedup = d };
	char err[256];
	struct store *s = store_open(&c, si, err, sizeof(err));

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

static void
sqlite_stores_each_reading_once_with_its_fields(void **state)
{
	struct fx *f = *state;
	struct pt_reading a = reading(42, 1), b = reading(43, 0);
	struct store *s;

	s = open_db(f, STORE_APPEND, NULL, NULL);
	assert_int_equal(store_ready(s), 0);
	assert_int_equal(store_put(s, &a, NULL, 0, RECV_US), 0);
	assert_int_equal(store_put(s, &b, NULL, 0, RECV_US), 0);
	assert_int_equal(store_put(s, &a, NULL, 0, RECV_US), 1);   /* the key is there */
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_string_equal(query(f->path, "select * from readings order by seq"),
	    "pi-sensor-1|5f0c2a9e41d3b7a8|42|2026-11-24T21:23:04.123456Z|22.53|725.3|225"
	    "|2026-11-24T21:23:04.125000Z\n"
	    "pi-sensor-1|5f0c2a9e41d3b7a8|43|2026-11-24T21:23:04.123456Z|22.53|||"
	    "2026-11-24T21:23:04.125000Z\n");
	assert_string_equal(query(f->path, "pragma journal_mode"), "wal\n");
	assert_non_null(strstr(query(f->path, ".schema readings"),
	    "PRIMARY KEY (device, boot, seq)"));
}

static void
sqlite_reads_the_last_rows_back_for_dedup(void **state)
{
	struct fx *f = *state;
	struct pt_reading r = reading(0, 0);
	struct store_info si;
	struct dedup *d;
	struct store *s;

	s = open_db(f, STORE_APPEND, NULL, NULL);
	for (r.seq = 0; r.seq < 5; r.seq++)
		assert_int_equal(store_put(s, &r, NULL, 0, RECV_US), 0);
	store_close(s);
	assert_non_null(d = dedup_new(0, 0));
	s = open_db(f, STORE_APPEND, d, &si);
	assert_int_equal(si.recovered, 5);
	assert_int_equal(dedup_check(d, r.device, r.boot, 4, NULL), DEDUP_DUPLICATE);
	assert_int_equal(dedup_check(d, r.device, r.boot, 5, NULL), DEDUP_NEW);
	store_close(s);
	dedup_free(d);
}

static void
sqlite_needs_a_file_and_says_so(void **state)
{
	struct store_cfg c = { .format = "sqlite", .output = "-", .mode = STORE_APPEND };
	char err[256];

	(void)state;
	errno = 0;
	assert_null(store_open(&c, NULL, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "--output"));
}

static void
sqlite_refuses_a_file_that_is_not_a_database(void **state)
{
	struct fx *f = *state;
	struct store_cfg c = { .format = "sqlite", .output = f->path, .mode = STORE_APPEND };
	const char junk[] = "# seq ts device temp_c\nthis is a text file, not sqlite\n";
	char err[256];
	int fd;

	assert_true((fd = open(f->path, O_WRONLY | O_CREAT, 0644)) >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	close(fd);
	err[0] = '\0';
	assert_null(store_open(&c, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "not a database"));
}

static void
sqlite_reopen_and_abandon(void **state)
{
	struct fx *f = *state;
	struct pt_reading r = reading(1, 1);
	const char *kept = NULL;
	struct store *s;

	s = open_db(f, STORE_COMPLETE, NULL, NULL);
	assert_int_equal(store_put(s, &r, NULL, 0, RECV_US), 0);
	assert_int_equal(store_reopen(s), 0);
	r.seq = 2;
	assert_int_equal(store_put(s, &r, NULL, 0, RECV_US), 0);
	store_abandon(s, &kept);
	assert_non_null(kept);
	assert_string_equal(kept, f->path);
	assert_int_equal(store_put(s, &r, NULL, 0, RECV_US), -EBADF);
	store_close(s);
	assert_string_equal(query(f->path, "select count(*) from readings"), "2\n");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(sqlite_stores_each_reading_once_with_its_fields),
		T(sqlite_reads_the_last_rows_back_for_dedup),
		cmocka_unit_test(sqlite_needs_a_file_and_says_so),
		T(sqlite_refuses_a_file_that_is_not_a_database),
		T(sqlite_reopen_and_abandon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
