/*
 * test_optcheck.c: pt_opts_check (lib/optcheck.c): options that cannot
 * apply in the chosen mode, TLS files, topics.
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
#include <unistd.h>

#include "pt_opts.h"

/* Parse args (NULL-terminated, after the program name) for prog, then
 * check; returns pt_opts_check's result, err holds its message. */
static int
parse_check(enum pt_prog prog, char *err, const char **args)
{
	struct pt_opts o;
	char *argv[32];
	int argc = 0, rc;

	argv[argc++] = strdup("prog");
	while (args[argc - 1] != NULL && argc < 31) {
		argv[argc] = strdup(args[argc - 1]);
		argc++;
	}
	argv[argc] = NULL;
	err[0] = '\0';
	assert_int_equal(pt_opts_parse(&o, prog, argc, argv, err, 256), PT_OPTS_RUN);
	rc = pt_opts_check(&o, err, 256);
	pt_opts_free(&o);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

#define CHECK(prog, err, ...) \
	parse_check(prog, err, (const char *[]){ __VA_ARGS__, NULL })

static void
optcheck_defaults_pass_in_both_modes(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "-d"), 0);
	assert_int_equal(CHECK(PT_PROG_SINK, err, "-d"), 0);
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--mode", "socket"), 0);
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--mode", "socket", "--bind",
	    "127.0.0.1", "--max-clients", "3", "--idle-timeout", "5"), 0);
	assert_int_equal(CHECK(PT_PROG_SINK, err, "-t", "pitemp/#", "-q", "0",
	    "-u", "me", "-i", "x", "-c"), 0);
}

static void
optcheck_names_an_option_the_mode_cannot_use(void **state)
{
	static const char *const mqtt_only[] = {
		"--cafile=/dev/null", "--username=u", "--password-file=/x",
		"--qos=0", "--topic=a", "--id=x", "--insecure",
	};
	char err[256], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(mqtt_only) / sizeof(mqtt_only[0]); i++) {
		for (int prog = PT_PROG_SENSOR; prog <= PT_PROG_SINK; prog++) {
			assert_int_equal(CHECK((enum pt_prog)prog, err, "--mode", "socket",
			    mqtt_only[i]), -EINVAL);
			snprintf(want, sizeof(want), "option %.*s applies only to --mode mqtt",
			    (int)strcspn(mqtt_only[i], "="), mqtt_only[i]);
			assert_non_null(strstr(err, want));
		}
	}
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--mode", "socket", "-c"), -EINVAL);
	assert_non_null(strstr(err, "option --persistent applies only to --mode mqtt"));
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--mode", "socket", "-h", "x"), -EINVAL);
	assert_non_null(strstr(err, "--bind ADDR"));
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--bind", "0.0.0.0"), -EINVAL);
	assert_non_null(strstr(err, "option --bind applies only to --mode socket, not to --mode mqtt"));
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--max-clients", "5"), -EINVAL);
	assert_non_null(strstr(err, "--max-clients"));
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--idle-timeout", "5"), -EINVAL);
	assert_non_null(strstr(err, "--idle-timeout"));
}

static void
optcheck_sees_options_from_the_config_file(void **state)
{
	char err[256], path[] = "/tmp/pt-optcheck-XXXXXX";
	const char *text = "mode socket\nusername pi\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--config", path), -EINVAL);
	assert_non_null(strstr(err, "option --username applies only to --mode mqtt"));
	unlink(path);
}

static void
optcheck_config_with_a_nul_byte_is_refused(void **state)
{
	struct pt_opts o;
	char err[256], path[] = "/tmp/pt-optcheck-XXXXXX";
	static const char text[] = "topic pitemp/a\0/x\n";
	char prog[] = "prog", opt[] = "--config";
	char *argv[] = { prog, opt, path, NULL };
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(pt_opts_parse(&o, PT_PROG_SINK, 3, argv, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "line 1: NUL byte at column 15"));
	pt_opts_free(&o);
	unlink(path);
}

static void
optcheck_tls_files_are_read_at_start(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--cafile", "/nonexistent/ca.crt"),
	    -EINVAL);
	assert_string_equal(err, "option --cafile: cannot read '/nonexistent/ca.crt': "
	    "No such file or directory");
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--cafile", "/dev/null",
	    "--cert", "/nonexistent/c.crt"), -EINVAL);
	assert_non_null(strstr(err, "option --cert: cannot read"));
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--cafile", "/dev/null",
	    "--cert", "/dev/null", "--key", "/nonexistent/k"), -EINVAL);
	assert_non_null(strstr(err, "option --key: cannot read"));
	assert_int_equal(CHECK(PT_PROG_SINK, err, "--cafile", "/dev/null",
	    "--cert", "/dev/null", "--key", "/dev/null"), 0);
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--cert", "/dev/null"), -EINVAL);
	assert_non_null(strstr(err, "option --cert needs --cafile"));
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--insecure"), -EINVAL);
	assert_non_null(strstr(err, "option --insecure needs --cafile"));
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--cafile", "/dev/null",
	    "--key", "/dev/null"), -EINVAL);
	assert_non_null(strstr(err, "option --key needs --cert"));
}

static void
optcheck_topic_is_a_name_for_the_sensor_and_a_filter_for_the_sink(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(CHECK(PT_PROG_SINK, err, "-t", "pitemp/#/x"), -EINVAL);
	assert_string_equal(err, "option --topic: 'pitemp/#/x' has '#' at byte 7: "
	    "'#' must be the whole last level (a/#)");
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "-t", "pitemp/+/temperature"),
	    -EINVAL);
	assert_non_null(strstr(err, "option --topic: 'pitemp/+/temperature' has the wildcard '+'"));
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--device", "x", "-t", "a//b"), 0);
}

/* The summary and Home Assistant discovery are MQTT topics: asking for
 * them in socket mode is an error naming the option (their default is
 * simply off there); a too short period, discovery without a summary and a
 * prefix that cannot start a topic name are errors too. */
static void
optcheck_summary_and_ha_discovery(void **state)
{
	static const char *const bad[][5] = {
		{ "--mode", "socket", "--summary-period", "1", "--summary-period" },
		{ "--mode", "socket", "--summary-period", "0", "--summary-period" },
		{ "--mode", "socket", "--ha-discovery", NULL, "--ha-discovery" },
		{ "--summary-period", "0", "--ha-discovery", NULL, "--ha-discovery" },
		{ "--summary-period", "0.05", NULL, NULL, "--summary-period" },
		{ "--ha-discovery", "ha/#", NULL, NULL, "wildcard" },
		{ "--ha-discovery", "+", NULL, NULL, "wildcard" },
		{ "--ha-discovery", "ha/", NULL, NULL, "empty topic level" },
		{ "--ha-discovery", "/ha", NULL, NULL, "empty topic level" },
		{ "--ha-discovery", "a//b", NULL, NULL, "empty topic level" },
		{ "--ha-discovery", "a\001b", NULL, NULL, "control character" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_check(PT_PROG_SENSOR, err, (const char *[]){
		    bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL }), -EINVAL);
		assert_non_null(strstr(err, bad[i][4]));
		if (strncmp(bad[i][0], "--ha", 4) == 0)
			assert_non_null(strstr(err, "--ha-discovery"));
	}
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--ha-discovery", "ha/site-1",
	    "--summary-period", "0.1"), 0);
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--summary-period", "0"), 0);
	/* the default period in socket mode is off, not an error */
	assert_int_equal(CHECK(PT_PROG_SENSOR, err, "--mode", "socket"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(optcheck_summary_and_ha_discovery),
		cmocka_unit_test(optcheck_defaults_pass_in_both_modes),
		cmocka_unit_test(optcheck_names_an_option_the_mode_cannot_use),
		cmocka_unit_test(optcheck_sees_options_from_the_config_file),
		cmocka_unit_test(optcheck_config_with_a_nul_byte_is_refused),
		cmocka_unit_test(optcheck_tls_files_are_read_at_start),
		cmocka_unit_test(optcheck_topic_is_a_name_for_the_sensor_and_a_filter_for_the_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
