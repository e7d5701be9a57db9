/*
 * test_topic.c: MQTT topic names and filters (lib/topic.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pt_topic.h"

static int
check(const char *s, int filter, char *why)
{
	why[0] = '\0';
	return pt_topic_check(s, filter, why, 160);
}

static void
topic_accepts_names_and_filters_mqtt_allows(void **state)
{
	static const char *const both[] = {
		"pitemp/pi-1/temperature", "a", "/", "a//b", "/a", "a/", "caf\xc3\xa9",
		"$SYS/broker/uptime", "\xf0\x9f\x8c\xa1",
	};
	static const char *const filters[] = {
		"#", "+", "pitemp/+/temperature", "pitemp/#", "+/+", "/+", "+/",
		"a/+/#", "//#",
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
		assert_int_equal(check(both[i], 0, why), 0);
		assert_int_equal(check(both[i], 1, why), 0);
	}
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		assert_int_equal(check(filters[i], 1, why), 0);
}

static void
topic_rejects_misplaced_wildcards_in_filters(void **state)
{
	static const char *const bad[] = {
		"pitemp/#/x", "a#", "#/", "a/#/", "a+", "+a", "a/b+/c", "##", "++",
		"a/+b",
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check(bad[i], 1, why), -EINVAL);
		assert_non_null(strstr(why, strchr(bad[i], '#') != NULL &&
		    (strchr(bad[i], '+') == NULL ||
		     strchr(bad[i], '#') < strchr(bad[i], '+')) ?
		    "'#' must be the whole last level" : "'+' must be a whole level"));
	}
}

static void
topic_rejects_wildcards_in_a_topic_to_publish_on(void **state)
{
	char why[160];

	(void)state;
	assert_int_equal(check("pitemp/+/temperature", 0, why), -EINVAL);
	assert_non_null(strstr(why, "wildcard '+'"));
	assert_int_equal(check("pitemp/#", 0, why), -EINVAL);
	assert_non_null(strstr(why, "wildcard '#'"));
}

static void
topic_rejects_empty_long_bad_utf8_and_control_characters(void **state)
{
	char why[160], *big;

	(void)state;
	assert_int_equal(check("", 0, why), -EINVAL);
	assert_string_equal(why, "is empty");
	assert_int_equal(check("", 1, why), -EINVAL);
	big = malloc(PT_TOPIC_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', PT_TOPIC_MAX);
	big[PT_TOPIC_MAX] = '\0';
	assert_int_equal(check(big, 0, why), 0);
	big[PT_TOPIC_MAX] = 'a';
	big[PT_TOPIC_MAX + 1] = '\0';
	assert_int_equal(check(big, 1, why), -EINVAL);
	assert_non_null(strstr(why, "65536 bytes long"));
	free(big);
	assert_int_equal(check("a/\xc3(", 0, why), -EINVAL);
	assert_non_null(strstr(why, "not valid UTF-8 (at byte 2)"));
	assert_int_equal(check("a/\xed\xa0\x80", 1, why), -EINVAL);  /* surrogate */
	assert_int_equal(check("a\tb", 0, why), -EINVAL);
	assert_non_null(strstr(why, "control character (U+0009 at byte 1)"));
	assert_int_equal(check("a\x7f", 1, why), -EINVAL);
	assert_int_equal(check("a\xc2\x85", 1, why), -EINVAL);       /* U+0085 */
	assert_non_null(strstr(why, "U+0085"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(topic_accepts_names_and_filters_mqtt_allows),
		cmocka_unit_test(topic_rejects_misplaced_wildcards_in_filters),
		cmocka_unit_test(topic_rejects_wildcards_in_a_topic_to_publish_on),
		cmocka_unit_test(topic_rejects_empty_long_bad_utf8_and_control_characters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
