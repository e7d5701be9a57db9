/*
 * test_hosts.c: the --host broker list (lib/hosts.c) and the checks across
 * the scale-out options (lib/opts_check.c: -V, -x, --group).
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

#include "pt_hosts.h"
#include "pt_opts.h"

static void
hosts_list_takes_ports_and_defaults(void **state)
{
	struct pt_host h[PT_HOSTS_MAX];
	char err[256], buf[300];

	(void)state;
	assert_int_equal(pt_hosts_parse("a, b:1884 ,[::1]:1885,::1,10.0.0.1", 1883, h,
	    PT_HOSTS_MAX, err, sizeof(err)), 5);
	assert_string_equal(h[0].host, "a");
	assert_int_equal(h[0].port, 1883);
	assert_string_equal(h[1].host, "b");
	assert_int_equal(h[1].port, 1884);
	assert_string_equal(h[2].host, "::1");
	assert_int_equal(h[2].port, 1885);
	assert_string_equal(h[3].host, "::1");
	assert_int_equal(h[3].port, 1883);
	pt_host_format(&h[2], buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:1885");
	pt_host_format(&h[4], buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1:1883");
}

static void
hosts_list_rejects_bad_entries_by_name(void **state)
{
	struct pt_host h[2];
	char err[256];

	(void)state;
	assert_int_equal(pt_hosts_parse("a,,b", 1883, h, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty entry"));
	assert_int_equal(pt_hosts_parse("a:0", 1883, h, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'a:0'"));
	assert_int_equal(pt_hosts_parse("a:x", 1883, h, 2, err, sizeof(err)), -EINVAL);
	assert_int_equal(pt_hosts_parse("[::1", 1883, h, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no closing ]"));
	assert_int_equal(pt_hosts_parse(":1883", 1883, h, 2, err, sizeof(err)), -EINVAL);
	assert_int_equal(pt_hosts_parse("a,b,c", 1883, h, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 2"));
}

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

#define PARSE(o, prog, err, ...) \
	parse(o, prog, err, (const char *[]){ "prog", __VA_ARGS__, NULL })

static void
opts_protocol_version_and_session_expiry(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "-d"), PT_OPTS_RUN);
	assert_int_equal(o.mqtt_version, 4);
	assert_int_equal(o.session_expiry, -1);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "-V", "mqttv5", "-x", "never"),
	    PT_OPTS_RUN);
	assert_int_equal(o.mqtt_version, 5);
	assert_int_equal(o.session_expiry, 4294967295LL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-V", "5", "-x", "3600", "-C", "0"),
	    PT_OPTS_RUN);   /* a logger: persistent */
	assert_int_equal(o.session_expiry, 3600);
	pt_opts_free(&o);
}

static void
opts_scale_mistakes_name_the_option(void **state)
{
	struct pt_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "-V", "mqttv4"), -EINVAL);
	assert_non_null(strstr(err, "--protocol-version: 'mqttv4'"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "-x", "60"), -EINVAL);
	assert_non_null(strstr(err, "--session-expiry: MQTT 3.1.1"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-V", "5", "-x", "60", "-C", "10"),
	    -EINVAL);
	assert_non_null(strstr(err, "clean session"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-x", "-1", "-V", "5"), -EINVAL);
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SENSOR, err, "--mode", "socket", "-h", "a,b"),
	    -EINVAL);
	assert_non_null(strstr(err, "socket mode takes one host"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "-h", "a:70000"), -EINVAL);
	assert_non_null(strstr(err, "option --host: 'a:70000'"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--group", "a/b"), -EINVAL);
	assert_non_null(strstr(err, "--group: 'a/b'"));
	pt_opts_free(&o);
	assert_int_equal(PARSE(&o, PT_PROG_SINK, err, "--group", "g", "-t", "$share/h/x"),
	    -EINVAL);
	assert_non_null(strstr(err, "already a shared subscription"));
	pt_opts_free(&o);
}

static void
opts_group_members_get_their_own_stable_id(void **state)
{
	struct pt_opts a, b, c;
	char err[256], f[300];

	(void)state;
	assert_int_equal(PARSE(&a, PT_PROG_SINK, err, "--group", "g", "-o", "/x/1.txt"),
	    PT_OPTS_RUN);
	assert_int_equal(PARSE(&b, PT_PROG_SINK, err, "--group", "g", "-o", "/x/2.txt"),
	    PT_OPTS_RUN);
	assert_int_equal(PARSE(&c, PT_PROG_SINK, err, "--group", "g", "-o", "/x/1.txt"),
	    PT_OPTS_RUN);
	assert_non_null(strstr(a.id, "-g-"));
	assert_string_not_equal(a.id, b.id);
	assert_string_equal(a.id, c.id);
	assert_int_equal(pt_opts_sub_filter(&a, f, sizeof(f)), 1);
	assert_string_equal(f, "$share/g/pitemp/+/temperature");
	pt_opts_free(&a);
	pt_opts_free(&b);
	pt_opts_free(&c);
	assert_int_equal(PARSE(&a, PT_PROG_SINK, err, "--group", "g", "-i", "mine"),
	    PT_OPTS_RUN);
	assert_string_equal(a.id, "mine");
	pt_opts_free(&a);
	assert_int_equal(PARSE(&a, PT_PROG_SINK, err, "-t", "$share/h/pitemp/#"),
	    PT_OPTS_RUN);
	assert_int_equal(pt_opts_sub_filter(&a, f, sizeof(f)), 1);
	assert_string_equal(f, "$share/h/pitemp/#");
	pt_opts_free(&a);
	assert_int_equal(PARSE(&a, PT_PROG_SINK, err, "-d"), PT_OPTS_RUN);
	assert_int_equal(pt_opts_sub_filter(&a, f, sizeof(f)), 0);
	pt_opts_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hosts_list_takes_ports_and_defaults),
		cmocka_unit_test(hosts_list_rejects_bad_entries_by_name),
		cmocka_unit_test(opts_protocol_version_and_session_expiry),
		cmocka_unit_test(opts_scale_mistakes_name_the_option),
		cmocka_unit_test(opts_group_members_get_their_own_stable_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
