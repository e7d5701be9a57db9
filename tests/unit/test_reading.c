/*
 * test_reading.c: the reading model's run-time helpers (lib/reading.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pt_reading.h"

/* 16 lowercase hex characters, as the payload's boot field demands, and a
 * new one each time (two equal ids from 64 random bits: never, in practice). */
static void
boot_id_is_16_lowercase_hex_and_new_each_time(void **state)
{
	char a[PT_BOOT_LEN + 1], b[PT_BOOT_LEN + 1];

	(void)state;
	memset(a, 'x', sizeof(a));
	assert_int_equal(pt_reading_boot_id(a), 0);
	assert_int_equal(strlen(a), PT_BOOT_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), PT_BOOT_LEN);
	assert_int_equal(pt_reading_boot_id(b), 0);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(boot_id_is_16_lowercase_hex_and_new_each_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
