/*
 * test_outcheck.c: the sink's start-up checks of a file --output
 * (sink/outcheck.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outcheck.h"

static char dir[] = "/tmp/pt-outcheck-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
file_with(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

static void
outcheck_tells_the_formats_apart(void **state)
{
	static const struct { const char *head, *fmt; } cases[] = {
		{ "# seq ts device temp_c\n1 2026", "text" },
		{ "device,boot,seq,ts,temp_c,mv,raw,recv_ts\nx,", "csv" },
		{ "{\"device\":\"x\"}\n", "jsonl" },
		{ "SQLite format 3", "sqlite" },
		{ "root:x:0:0", NULL },
		{ "# seq ts device", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = output_format_of(cases[i].head, strlen(cases[i].head));

		if (cases[i].fmt == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].fmt);
	}
}

static void
outcheck_refuses_to_append_another_format(void **state)
{
	char err[512];
	char *p = file_with("r.csv", "device,boot,seq,ts,temp_c,mv,raw,recv_ts\n");

	(void)state;
	assert_int_equal(output_check(p, "csv", 1, err, sizeof(err)), 0);
	assert_int_equal(output_check(p, "text", 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "option --format text: "));
	assert_non_null(strstr(err, "r.csv' holds csv, not text"));
	assert_non_null(strstr(err, "give --format csv"));
	/* Replacing (--count N) renames a new file over it: no mixing. */
	assert_int_equal(output_check(p, "text", 0, err, sizeof(err)), 0);
	p = file_with("r.txt", "# seq ts device temp_c\n");
	assert_int_equal(output_check(p, "jsonl", 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "holds text, not jsonl"));
	p = file_with("other", "hello\n");
	assert_int_equal(output_check(p, "text", 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not a pitemp text file"));
	p = file_with("empty", "");
	assert_int_equal(output_check(p, "csv", 1, err, sizeof(err)), 0);
}

static void
outcheck_refuses_a_directory_or_a_missing_one(void **state)
{
	char err[512], path[300];

	(void)state;
	assert_int_equal(output_check(dir, "text", 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is a directory; give a file name"));
	assert_int_equal(output_check(dir, "text", 1, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/no/such/readings.txt", dir);
	assert_int_equal(output_check(path, "text", 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "No such file or directory"));
	snprintf(path, sizeof(path), "%s/new.txt", dir);
	assert_int_equal(output_check(path, "text", 1, err, sizeof(err)), 0);
	assert_int_equal(output_check("-", "text", 1, err, sizeof(err)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(outcheck_tells_the_formats_apart),
		cmocka_unit_test(outcheck_refuses_to_append_another_format),
		cmocka_unit_test(outcheck_refuses_a_directory_or_a_missing_one),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
