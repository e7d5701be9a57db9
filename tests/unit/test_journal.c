/*
 * test_journal.c: the PostgreSQL store's local journal (journal.c), in a
 * fresh directory under /tmp per test.
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
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "support/reading_fx.h"

struct fx {
	char base[64];
	char dir[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->base, "/tmp/pitemp-journal-XXXXXX");
	if (mkdtemp(f->base) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/.id.journal", f->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->base);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
append(struct journal *j, uint64_t seq)
{
	struct pt_reading r = reading(seq, 1);
	char line[JOURNAL_LINE_MAX];
	int n = journal_format(&r, RECV_US, line, sizeof(line));

	assert_true(n > 0);
	assert_int_equal(journal_append(j, line, (size_t)n), 0);
}

struct got {
	uint64_t seqs[64];
	size_t   n, stop_at;
};

static int
collect(void *ctx, const struct pt_reading *r, int64_t recv_us)
{
	struct got *g = ctx;

	assert_int_equal(recv_us, RECV_US);
	if (g->stop_at != 0 && g->n == g->stop_at)
		return 1;
	g->seqs[g->n++] = r->seq;
	return 0;
}

static void
journal_lines_round_trip_every_field(void **state)
{
	struct pt_reading r = reading(9007199254740991ULL, 1), back;
	char line[JOURNAL_LINE_MAX];
	int64_t recv;
	int n;

	(void)state;
	r.temp_c = -40.0;
	r.mv = 0.1 + 0.2;       /* not a short decimal: must come back exact */
	r.raw = -32768;
	assert_true((n = journal_format(&r, RECV_US, line, sizeof(line))) > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_int_equal(journal_parse(line, (size_t)n - 1, &back, &recv), 0);
	assert_int_equal(recv, RECV_US);
	assert_memory_equal(&back, &r, sizeof(r));
	r.has_mv = r.has_raw = false;
	r.mv = 0;
	r.raw = 0;
	assert_true((n = journal_format(&r, RECV_US, line, sizeof(line))) > 0);
	assert_non_null(strstr(line, " - - "));
	assert_int_equal(journal_parse(line, (size_t)n - 1, &back, &recv), 0);
	assert_memory_equal(&back, &r, sizeof(r));
}

static void
journal_parse_rejects_what_it_did_not_write(void **state)
{
	static const char *const bad[] = {
		"", "a b c", "pi 5f0c2a9e41d3b7a8 1 2 3.5 - - x",
		"pi 5f0c2a9e 1 2 3.5 - - 4", "pi 5f0c2a9e41d3b7a8 -1 2 3.5 - - 4",
		"pi 5f0c2a9e41d3b7a8 1 2 3.5 - - 4 extra",
		"pi  5f0c2a9e41d3b7a8 1 2 3.5 - - 4",
	};
	struct pt_reading r;
	int64_t recv;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(journal_parse(bad[i], strlen(bad[i]), &r, &recv), -EINVAL);
	assert_int_equal(journal_parse("pi 5f0c2a9e41d3b7a8 1 2 3.5 - - 4", 33, &r,
	    &recv), 0);
}

static void
journal_rotates_reads_and_drops_in_order(void **state)
{
	struct fx *f = *state;
	struct got g = { .n = 0 };
	char path[256];
	uint64_t num, off = 0, bad = 0;
	struct journal *j;

	assert_non_null(j = journal_open(f->dir, 0));
	assert_int_equal(journal_ready(j), 0);
	assert_int_equal(journal_pending(j), 0);
	append(j, 1);
	append(j, 2);
	assert_int_equal(journal_current(j), 2);
	assert_int_equal(journal_rotate(j), 0);
	append(j, 3);
	assert_int_equal(journal_rotate(j), 0);
	assert_int_equal(journal_rotate(j), 0);        /* nothing new: no segment */
	assert_int_equal(journal_pending(j), 2);
	assert_int_equal(journal_current(j), 0);
	assert_int_equal(journal_pending_at(j, 0, &num, path, sizeof(path)), 0);
	assert_int_equal(journal_read_segment(path, &off, &bad, collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seqs[0], 1);
	assert_int_equal(g.seqs[1], 2);
	assert_int_equal(journal_drop(j, num + 1), -EINVAL);   /* not the oldest */
	assert_int_equal(journal_drop(j, num), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(journal_pending(j), 1);
	assert_int_equal(journal_pending_at(j, 0, &num, path, sizeof(path)), 0);
	assert_int_equal(journal_drop(j, num), 0);
	assert_int_equal(journal_pending_at(j, 0, &num, path, sizeof(path)), -ENOENT);
	journal_close(j);
	/* Nothing left: no directory left either. */
	assert_int_equal(access(f->dir, F_OK), -1);
}

static void
journal_read_stops_where_told_and_goes_on(void **state)
{
	struct fx *f = *state;
	struct got g = { .n = 0, .stop_at = 2 };
	char path[256];
	uint64_t num, off = 0, bad = 0;
	struct journal *j;

	assert_non_null(j = journal_open(f->dir, 0));
	for (uint64_t s = 10; s < 15; s++)
		append(j, s);
	assert_int_equal(journal_rotate(j), 0);
	assert_int_equal(journal_pending_at(j, 0, &num, path, sizeof(path)), 0);
	assert_int_equal(journal_read_segment(path, &off, &bad, collect, &g), 1);
	assert_int_equal(g.n, 2);
	g.stop_at = 0;
	assert_int_equal(journal_read_segment(path, &off, &bad, collect, &g), 0);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.seqs[2], 12);
	assert_int_equal(g.seqs[4], 14);
	assert_int_equal(bad, 0);
	journal_close(j);
}

static void
journal_left_by_a_crash_is_pending_at_the_next_open(void **state)
{
	struct fx *f = *state;
	struct got g = { .n = 0 };
	char path[256];
	const char *torn = "pi-sensor-1 5f0c2a9e41d3b7a8 99 17955";
	uint64_t num, off = 0, bad = 0;
	struct journal *j;
	int fd;

	assert_non_null(j = journal_open(f->dir, 1));
	append(j, 7);
	append(j, 8);
	/* A crash: the files stay as they are (close keeps what is there). */
	journal_close(j);
	assert_non_null(j = journal_open(f->dir, 0));
	assert_int_equal(journal_pending(j), 1);
	assert_int_equal(journal_pending_at(j, 0, &num, path, sizeof(path)), 0);
	/* A torn last line (a crash mid-write) is not a reading. */
	assert_true((fd = open(path, O_WRONLY | O_APPEND)) >= 0);
	assert_int_equal(write(fd, torn, strlen(torn)), (ssize_t)strlen(torn));
	close(fd);
	assert_int_equal(journal_read_segment(path, &off, &bad, collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seqs[1], 8);
	journal_close(j);
}

static void
journal_has_one_owner(void **state)
{
	struct fx *f = *state;
	struct journal *j, *k;

	assert_non_null(j = journal_open(f->dir, 0));
	errno = 0;
	assert_null(k = journal_open(f->dir, 0));
	assert_int_equal(errno, EWOULDBLOCK);
	journal_close(j);
	assert_non_null(k = journal_open(f->dir, 0));
	journal_close(k);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(journal_lines_round_trip_every_field),
		cmocka_unit_test(journal_parse_rejects_what_it_did_not_write),
		T(journal_rotates_reads_and_drops_in_order),
		T(journal_read_stops_where_told_and_goes_on),
		T(journal_left_by_a_crash_is_pending_at_the_next_open),
		T(journal_has_one_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
