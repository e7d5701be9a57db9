/*
 * test_store.c: the output backends' common table (store.h) and the file
 * backend through it, in a fresh directory under /tmp per test.
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
#include "pg.h"
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
	strcpy(f->dir, "/tmp/pitemp-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/out.csv", f->dir);
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

static void
store_finds_the_file_formats_and_names_them_all(void **state)
{
	(void)state;
	assert_ptr_equal(store_find("text"), &store_file_ops);
	assert_ptr_equal(store_find("csv"), &store_file_ops);
	assert_ptr_equal(store_find("jsonl"), &store_file_ops);
	assert_ptr_equal(store_find("sqlite"), &store_sqlite_ops);
	assert_ptr_equal(store_find("postgresql"), &store_pg_ops);
	assert_null(store_find("json"));
	assert_null(store_find(NULL));
	assert_non_null(strstr(store_names(), "text, csv"));
	assert_non_null(strstr(store_names(), " or postgresql"));
}

static void
store_parses_sync_levels(void **state)
{
	enum store_sync s;

	(void)state;
	assert_int_equal(store_sync_parse(NULL, &s), 0);
	assert_int_equal(s, STORE_SYNC_DEFAULT);
	assert_int_equal(store_sync_parse("normal", &s), 0);
	assert_int_equal(s, STORE_SYNC_NORMAL);
	assert_int_equal(store_sync_parse("full", &s), 0);
	assert_int_equal(s, STORE_SYNC_FULL);
	assert_int_equal(store_sync_parse("off", &s), -EINVAL);
}

static void
store_state_lives_beside_the_output_file(void **state)
{
	struct store_cfg c = { .format = "text", .output = "/var/lib/pitemp/readings.txt" };
	char *p;

	(void)state;
	assert_non_null(p = store_state_path(&c, ".mqtt"));
	assert_string_equal(p, "/var/lib/pitemp/.readings.txt.mqtt");
	free(p);
	c.output = "readings.txt";
	assert_non_null(p = store_state_path(&c, ".mqtt"));
	assert_string_equal(p, "./.readings.txt.mqtt");
	free(p);
	c.state_dir = "/srv/state";
	assert_non_null(p = store_state_path(&c, ".mqtt"));
	assert_string_equal(p, "/srv/state/.readings.txt.mqtt");
	free(p);
	/* stdout: only where --state-dir says, named by the client id. */
	c.output = "-";
	c.client_id = "pitemp-sink-x";
	assert_non_null(p = store_state_path(&c, ".mqtt"));
	assert_string_equal(p, "/srv/state/.pitemp-sink-x.mqtt");
	free(p);
	c.state_dir = NULL;
	assert_null(store_state_path(&c, ".mqtt"));
}

static void
store_state_of_a_database_uri_is_named_by_the_client_id(void **state)
{
	struct store_cfg c = { .format = "postgresql",
	                       .output = "postgresql://u:secret@db.example:5432/pitemp",
	                       .client_id = "pitemp-sink-server" };
	char *p;

	(void)state;
	assert_non_null(p = store_state_path(&c, ".journal"));
	assert_string_equal(p, "./.pitemp-sink-server.journal");
	free(p);
	c.client_id = "../a b/";
	c.state_dir = "/var/lib/pitemp";
	assert_non_null(p = store_state_path(&c, ".mqtt"));
	assert_string_equal(p, "/var/lib/pitemp/._._a_b_.mqtt");
	free(p);
}

static void
pg_check_describes_a_uri_without_its_password(void **state)
{
	char desc[256], err[256];

	(void)state;
	assert_int_equal(pg_check("postgresql://u:secret@db.example:5432/pitemp",
	    desc, sizeof(desc), err, sizeof(err)), 0);
	assert_string_equal(desc, "postgresql://u@db.example:5432/pitemp");
	assert_int_equal(pg_check("host=db user=u password=secret dbname=x",
	    desc, sizeof(desc), err, sizeof(err)), 0);
	assert_null(strstr(desc, "secret"));
	assert_int_equal(pg_check("", desc, sizeof(desc), err, sizeof(err)), 0);
	assert_non_null(strstr(desc, "defaults"));
	assert_int_equal(pg_check("postgresql://u@h:port/db", desc, sizeof(desc),
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(pg_check("postgresql://u@h/db?bogus=1", desc, sizeof(desc),
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
}

static void
store_transient_errors_are_the_ones_to_wait_out(void **state)
{
	(void)state;
	assert_true(store_transient(-ENOSPC));
	assert_true(store_transient(-EDQUOT));
	assert_true(store_transient(-ECONNREFUSED));
	assert_false(store_transient(-EBADF));
	assert_false(store_transient(-EFBIG));
	assert_false(store_transient(0));
}

static void
store_rejects_an_unknown_format_naming_the_option(void **state)
{
	struct store_cfg c = { .format = "xml", .output = "x" };
	char err[256];

	(void)state;
	errno = 0;
	assert_null(store_open(&c, NULL, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "--format"));
	assert_non_null(strstr(err, "'xml'"));
}

static void
store_file_appends_reopens_and_reads_back(void **state)
{
	struct fx *f = *state;
	struct store_cfg c = { .format = "csv", .output = f->path, .mode = STORE_APPEND };
	struct pt_reading r = reading(1, 0);
	struct store_info si;
	struct dedup *d;
	struct store *s;
	char err[256], rotated[160];

	assert_non_null(d = dedup_new(0, 0));
	c.dedup = d;
	assert_non_null(s = store_open(&c, &si, err, sizeof(err)));
	assert_int_equal(si.recovered, 0);
	assert_int_equal(store_ready(s), 0);
	assert_int_equal(store_put(s, &r, NULL, 0, RECV_US), 0);
	snprintf(rotated, sizeof(rotated), "%s.1", f->path);
	assert_int_equal(rename(f->path, rotated), 0);
	assert_int_equal(store_reopen(s), 0);
	r.seq = 2;
	assert_int_equal(store_put(s, &r, NULL, 0, RECV_US), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_non_null(strstr(slurp(rotated), ",1,"));
	assert_non_null(strstr(slurp(f->path), "device,boot,seq"));
	assert_non_null(strstr(slurp(f->path), ",2,"));
	dedup_free(d);

	/* A restarted logger knows seq 2 is there. */
	assert_non_null(d = dedup_new(0, 0));
	c.dedup = d;
	assert_non_null(s = store_open(&c, &si, err, sizeof(err)));
	assert_int_equal(si.recovered, 1);
	assert_int_equal(dedup_check(d, r.device, r.boot, 2, NULL), DEDUP_DUPLICATE);
	store_close(s);
	dedup_free(d);
}

static void
store_file_open_failure_says_where(void **state)
{
	struct fx *f = *state;
	struct store_cfg c = { .format = "text", .mode = STORE_APPEND };
	char path[160], err[256];

	snprintf(path, sizeof(path), "%s/no/such/file", f->dir);
	c.output = path;
	errno = 0;
	assert_null(store_open(&c, NULL, err, sizeof(err)));
	/* A missing directory is a bad --output: found at start (exit 2). */
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file or directory"));
	store_close(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(store_finds_the_file_formats_and_names_them_all),
		cmocka_unit_test(store_parses_sync_levels),
		cmocka_unit_test(store_state_lives_beside_the_output_file),
		cmocka_unit_test(store_state_of_a_database_uri_is_named_by_the_client_id),
		cmocka_unit_test(pg_check_describes_a_uri_without_its_password),
		cmocka_unit_test(store_transient_errors_are_the_ones_to_wait_out),
		cmocka_unit_test(store_rejects_an_unknown_format_naming_the_option),
		T(store_file_appends_reopens_and_reads_back),
		T(store_file_open_failure_says_where),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
