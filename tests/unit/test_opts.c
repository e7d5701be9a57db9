/*
 * test_opts.c: the shared option table and the --config file.
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

#define PARSE(o, prog, err, ...) \
	parse(o, prog, err, (const char *[]){ "prog", __VA_ARGS__, NULL })

/* argv is copied: getopt_long wants writable strings. */
static int
parse(struct pt_opts *o, enum pt_prog prog, char *err, const char **args)
{
	char *argv[32];
	int argc = 0, rc;

	while (args[argc] != NULL && argc < 31) {
		argv[argc] = strdup(args[argc]);
		argc++;
	}
	argv[argc] = NULL;
	err[0] = '\0';
	rc = pt_opts_parse(o, prog, argc, argv, err, 256);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

static char *
write_config(const char *text)
{
	static char path[] = "/tmp/pt-opts-XXXXXX";
	char *p = strdup(path);
	int fd = mkstemp(p);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return p;
}

static void
opts_sensor_defaults_follow_the_spec(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, PT_PROG_SENSOR, err, (const char *[]){ "prog", NULL }), PT_OPTS_RUN);
	assert_int_equal(o.mode, PT_MODE_MQTT);
	assert_string_equal(o.host, "localhost");
	assert_int_equal(o.port, 1883);
	assert_true(o.rate == 100.0);
	assert_int_equal(o.count, 0);
	assert_int_equal(o.qos, 1);
	assert_string_equal(o.source, "sim");
	assert_non_null(o.device);
	assert_true(strncmp(o.topic, "pitemp/", 7) == 0);
	pt_opts_free(&o);
}

static void
opts_sink_defaults_follow_the_spec(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, PT_PROG_SINK, err, (const char *[]){ "prog", NULL }), PT_OPTS_RUN);
	assert_int_equal(o.count, 100);
	assert_string_equal(o.topic, "pitemp/+/temperature");
	assert_string_equal(o.output, "readings.txt");
	assert_string_equal(o.format, "text");
	assert_string_equal(o.bind, "0.0.0.0");
	pt_opts_free(&o);
}

static void
opts_sink_output_default_follows_the_format(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--format", "sqlite"), 0);
	assert_string_equal(o.output, "readings.db");
	assert_null(o.sync);
	assert_null(o.state_dir);
	pt_opts_free(&o);
	/* postgresql: "" is libpq's own defaults (PGHOST, PGDATABASE, ...) */
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-F", "postgresql",
	    "--sync", "full", "--state-dir", "/srv/s"), 0);
	assert_string_equal(o.output, "");
	assert_string_equal(o.sync, "full");
	assert_string_equal(o.state_dir, "/srv/s");
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-F", "sqlite", "-o", "x.db"), 0);
	assert_string_equal(o.output, "x.db");
	pt_opts_free(&o);
}

static void
opts_port_default_follows_mode_and_tls(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--mode", "socket"), 0);
	assert_int_equal(o.port, 50007);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--cafile", "ca.crt"), 0);
	assert_int_equal(o.port, 8883);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--cafile", "ca.crt", "-p", "9000"), 0);
	assert_int_equal(o.port, 9000);
	pt_opts_free(&o);
}

static void
opts_rejects_bad_values_naming_the_option(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--qos", "7"), -EINVAL);
	assert_non_null(strstr(err, "--qos"));
	assert_non_null(strstr(err, "'7'"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--rate", "abc"), -EINVAL);
	assert_non_null(strstr(err, "--rate"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--rate", "-5"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--count", "-1"), -EINVAL);
	assert_non_null(strstr(err, "--count"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--count", "12x"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--port", "70000"), -EINVAL);
	assert_non_null(strstr(err, "--port"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--mode", "udp"), -EINVAL);
	assert_non_null(strstr(err, "--mode"));
	pt_opts_free(&o);
}

static void
opts_rejects_unknown_and_foreign_options(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--frobnicate"), -EINVAL);
	assert_non_null(strstr(err, "--frobnicate"));
	pt_opts_free(&o);
	/* --output belongs to the sink */
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--output", "x"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--rate", "5"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--qos"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "stray"), -EINVAL);
	assert_non_null(strstr(err, "stray"));
	pt_opts_free(&o);
}

static void
opts_help_and_version_are_reported(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--help"), PT_OPTS_HELP);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--version"), PT_OPTS_VERSION);
	pt_opts_free(&o);
	assert_non_null(strstr(pt_opts_usage(PT_PROG_SINK), "--output"));
	assert_null(strstr(pt_opts_usage(PT_PROG_SINK), "--rate"));
	assert_non_null(strstr(pt_opts_usage(PT_PROG_SENSOR), "--rate"));
}

static void
opts_config_file_is_read_and_command_line_wins(void **state)
{
	struct pt_opts o;
	char err[256];
	char *path = write_config("# broker\nhost broker.lan\nport 1884\n\n"
	    "qos = 2\ndevice  pi-7 \nverbose\n");

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--port", "1999", "--config", path), 0);
	assert_string_equal(o.host, "broker.lan");
	assert_int_equal(o.port, 1999);
	assert_int_equal(o.qos, 2);
	assert_string_equal(o.device, "pi-7");
	assert_string_equal(o.topic, "pitemp/pi-7/temperature");
	assert_int_equal(o.verbose, 1);
	pt_opts_free(&o);
	unlink(path);
	free(path);
}

static void
opts_config_errors_name_file_line_and_option(void **state)
{
	struct pt_opts o;
	char err[256];
	char *path = write_config("host a\nbogus 1\n");

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--config", path), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 2"));
	assert_non_null(strstr(err, "bogus"));
	pt_opts_free(&o);
	unlink(path);
	free(path);

	path = write_config("qos 9\n");
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--config", path), -EINVAL);
	assert_non_null(strstr(err, "line 1"));
	assert_non_null(strstr(err, "--qos"));
	pt_opts_free(&o);
	unlink(path);
	free(path);

	/* A control character is named, not echoed (found by fuzz_config). */
	path = write_config("host a\nmode \001socket\n");
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--config", path), -EINVAL);
	assert_non_null(strstr(err, "line 2: control character 0x01 at column 6"));
	assert_null(strchr(err, '\001'));
	pt_opts_free(&o);
	unlink(path);
	free(path);

	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--config", "/nonexistent/pitemp.conf"), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/pitemp.conf"));
	pt_opts_free(&o);
}

static void
opts_password_comes_from_file_or_environment(void **state)
{
	struct pt_opts o;
	char err[256], *pw = NULL;
	char *path = write_config("s3cret\nsecond line ignored\n");

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--password-file", path), 0);
	assert_int_equal(pt_opts_password(&o, &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "s3cret");
	free(pw);
	pt_opts_free(&o);
	unlink(path);
	free(path);

	setenv("PITEMP_PASSWORD", "fromenv", 1);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-d"), 0);
	assert_int_equal(pt_opts_password(&o, &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "fromenv");
	free(pw);
	unsetenv("PITEMP_PASSWORD");
	assert_int_equal(pt_opts_password(&o, &pw, err, sizeof(err)), 0);
	assert_null(pw);
	pt_opts_free(&o);

	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--password-file", "/nonexistent/pw"), 0);
	assert_true(pt_opts_password(&o, &pw, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/pw"));
	pt_opts_free(&o);
}

static void
opts_password_on_the_command_line_is_taken_and_flagged(void **state)
{
	struct pt_opts o;
	char err[256], *pw = NULL;
	char *path = write_config("password fromconfig\n");

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "-P", "s3cret"), 0);
	assert_true(o.password_argv);
	assert_int_equal(pt_opts_password(&o, &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "s3cret");
	free(pw);
	pt_opts_free(&o);
	/* from a config file it is out of ps's sight: no warning */
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--config", path), 0);
	assert_false(o.password_argv);
	assert_string_equal(o.password, "fromconfig");
	pt_opts_free(&o);
	unlink(path);
	free(path);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-P", "a", "--password-file", "/x"), 0);
	assert_true(pt_opts_password(&o, &pw, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--password-file"));
	pt_opts_free(&o);
}

/* mosquitto_sub/mosquitto_pub habits: the same letter means the same thing,
 * and none of their letters means something else here. */
static void
opts_short_letters_follow_mosquitto_clients(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-C", "7", "-W", "2.5", "-c",
	    "-F", "csv", "-d", "-o", "out.csv", "-h", "h", "-p", "1", "-t", "x/#",
	    "-q", "0", "-i", "me", "-u", "user"), 0);
	assert_int_equal(o.count, 7);
	assert_true(o.timeout == 2.5);
	assert_true(o.persistent);
	assert_string_equal(o.format, "csv");
	assert_true(o.verbose);
	assert_string_equal(o.output, "out.csv");
	assert_string_equal(o.host, "h");
	assert_int_equal(o.port, 1);
	assert_string_equal(o.topic, "x/#");
	assert_int_equal(o.qos, 0);
	assert_string_equal(o.id, "me");
	assert_string_equal(o.username, "user");
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "-C", "5", "-d"), 0);
	assert_int_equal(o.count, 5);
	assert_true(o.verbose);
	pt_opts_free(&o);
	/* Letters mosquitto's clients use for something else are not taken. */
	static const char *const foreign[] = { "-T", "-v", "-r", "-s", "-f", "-V" };
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, foreign[i], "1"), -EINVAL);
		pt_opts_free(&o);
		assert_int_equal(PARSE(&o, PT_PROG_SINK, err, foreign[i], "1"), -EINVAL);
		pt_opts_free(&o);
	}
	/* the long spellings stay */
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--verbose", "--count", "3",
	    "--timeout", "1", "--format", "jsonl"), 0);
	assert_true(o.verbose);
	assert_int_equal(o.count, 3);
	pt_opts_free(&o);
}

/* The whole text, ending with its tail, for each program. */
static void
assert_usage_complete(enum pt_prog prog)
{
	const char *u = pt_opts_usage(prog), *tail = pt_opts_usage_tail(prog);
	size_t n = strlen(u), t = strlen(tail);

	assert_null(strstr(u, "(truncated)"));
	assert_true(n > t);
	assert_string_equal(u + n - t, tail);
	assert_non_null(strstr(u, "  --help "));
}

static void
opts_usage_lists_exit_codes_signals_and_environment(void **state)
{
	const char *sensor = pt_opts_usage(PT_PROG_SENSOR);
	const char *sink;

	(void)state;
	assert_usage_complete(PT_PROG_SENSOR);
	for (const char *const *w = (const char *const[]){ "exit status:",
	    "\n  0  success", "\n  1  runtime failure", "\n  2  usage",
	    "SIGINT/SIGTERM", "environment:", "PITEMP_PASSWORD", "NOTIFY_SOCKET",
	    "WATCHDOG_USEC", "pitemp-sensor(1)", NULL }; *w != NULL; w++)
		assert_non_null(strstr(sensor, *w));
	assert_null(strstr(sensor, "\n  3  "));    /* the sensor has no timeout */

	assert_usage_complete(PT_PROG_SINK);
	sink = pt_opts_usage(PT_PROG_SINK);
	for (const char *const *w = (const char *const[]){ "exit status:",
	    "\n  0  success", "\n  1  runtime failure", "\n  2  usage",
	    "\n  3  timeout", "SIGINT/SIGTERM", "FILE.partial", "environment:",
	    "PITEMP_PASSWORD", "NOTIFY_SOCKET", "WATCHDOG_USEC", "pitemp-sink(1)",
	    NULL }; *w != NULL; w++)
		assert_non_null(strstr(sink, *w));
	assert_null(strstr(sink, "PITEMP_SYSFS_ROOT"));  /* a sensor source's */
}

/* --summary-period defaults by mode; --ha-discovery takes an optional
 * prefix in every spelling, also from a config file. */
static void
opts_summary_and_ha_discovery_follow_the_mode(void **state)
{
	struct pt_opts o;
	char err[256], *cfg;

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--device", "d"), 0);
	assert_true(o.summary_period == 1.0);
	assert_null(o.ha_discovery);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--mode", "socket"), 0);
	assert_true(o.summary_period == 0.0);     /* the default does not apply */
	pt_opts_free(&o);

	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--ha-discovery",
	    "--summary-period", "2.5"), 0);
	assert_string_equal(o.ha_discovery, "homeassistant");
	assert_true(o.summary_period == 2.5);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--ha-discovery", "ha/x", "-d"), 0);
	assert_string_equal(o.ha_discovery, "ha/x");
	assert_true(o.verbose);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--ha-discovery=hass"), 0);
	assert_string_equal(o.ha_discovery, "hass");
	pt_opts_free(&o);
	cfg = write_config("ha-discovery\nsummary-period 5\n");
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--config", cfg), 0);
	assert_string_equal(o.ha_discovery, "homeassistant");
	assert_true(o.summary_period == 5.0);
	pt_opts_free(&o);
	unlink(cfg);
	free(cfg);
	cfg = write_config("ha-discovery mine\n");
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--config", cfg), 0);
	assert_string_equal(o.ha_discovery, "mine");
	pt_opts_free(&o);
	unlink(cfg);
	free(cfg);
}

/* Sensor options only. */
static void
opts_summary_and_ha_discovery_are_the_sensors(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--summary-period", "1"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--ha-discovery"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--summary-period", "-1"), -EINVAL);
	assert_non_null(strstr(err, "--summary-period"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--summary-period", "1e9"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--ha-discovery="), -EINVAL);
	assert_non_null(strstr(err, "--ha-discovery"));
	pt_opts_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(opts_sensor_defaults_follow_the_spec),
		cmocka_unit_test(opts_sink_defaults_follow_the_spec),
		cmocka_unit_test(opts_sink_output_default_follows_the_format),
		cmocka_unit_test(opts_port_default_follows_mode_and_tls),
		cmocka_unit_test(opts_rejects_bad_values_naming_the_option),
		cmocka_unit_test(opts_rejects_unknown_and_foreign_options),
		cmocka_unit_test(opts_help_and_version_are_reported),
		cmocka_unit_test(opts_config_file_is_read_and_command_line_wins),
		cmocka_unit_test(opts_config_errors_name_file_line_and_option),
		cmocka_unit_test(opts_password_comes_from_file_or_environment),
		cmocka_unit_test(opts_password_on_the_command_line_is_taken_and_flagged),
		cmocka_unit_test(opts_short_letters_follow_mosquitto_clients),
		cmocka_unit_test(opts_usage_lists_exit_codes_signals_and_environment),
		cmocka_unit_test(opts_summary_and_ha_discovery_follow_the_mode),
		cmocka_unit_test(opts_summary_and_ha_discovery_are_the_sensors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
