/*
 * test_allow.c: the sink's --allow list (sink/allow.c): what parses, what is
 * refused with a message naming the entry, and which peers match (IPv4,
 * IPv6, IPv4 reaching an IPv6 socket, prefixes on and off byte bounds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "allow.h"

static int
match4(const struct allow *a, const char *ip)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	return allow_match(a, (struct sockaddr *)&sa, sizeof(sa));
}

static int
match6(const struct allow *a, const char *ip)
{
	struct sockaddr_in6 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
	return allow_match(a, (struct sockaddr *)&sa, sizeof(sa));
}

static struct allow *
parse(const char *list)
{
	char err[256] = "";
	struct allow *a = allow_parse(list, err, sizeof(err));

	if (a == NULL)
		fail_msg("allow_parse(%s): %s", list, err);
	return a;
}

static void
allow_matches_ipv4_networks_and_hosts(void **state)
{
	struct allow *a = parse("192.168.1.0/24,10.0.0.7,172.16.0.0/12");

	(void)state;
	assert_true(match4(a, "192.168.1.1"));
	assert_true(match4(a, "192.168.1.255"));
	assert_false(match4(a, "192.168.2.1"));
	assert_true(match4(a, "10.0.0.7"));
	assert_false(match4(a, "10.0.0.8"));
	assert_true(match4(a, "172.31.255.255"));     /* /12: 172.16-31 */
	assert_false(match4(a, "172.32.0.1"));
	/* An IPv4 peer on an IPv6 socket. */
	assert_true(match6(a, "::ffff:192.168.1.9"));
	assert_false(match6(a, "::ffff:8.8.8.8"));
	/* No IPv6 network listed: no IPv6 peer. */
	assert_false(match6(a, "::1"));
	allow_free(a);
}

static void
allow_matches_ipv6_networks(void **state)
{
	struct allow *a = parse("fd00::/8,::1,2001:db8:abcd:12::/63");

	(void)state;
	assert_true(match6(a, "fd12:3456::1"));
	assert_false(match6(a, "fe80::1"));
	assert_true(match6(a, "::1"));
	assert_true(match6(a, "2001:db8:abcd:13::5"));   /* /63 */
	assert_false(match6(a, "2001:db8:abcd:14::5"));
	assert_false(match4(a, "127.0.0.1"));
	allow_free(a);
}

static void
allow_everything_and_nothing(void **state)
{
	struct allow *a = parse("0.0.0.0/0");

	(void)state;
	assert_true(match4(a, "203.0.113.9"));
	assert_false(match6(a, "2001:db8::1"));
	allow_free(a);
	/* No list: anyone. */
	assert_true(match4(NULL, "203.0.113.9"));
	assert_true(match6(NULL, "2001:db8::1"));
	allow_free(NULL);
}

static void
allow_refuses_what_is_not_a_network_naming_it(void **state)
{
	const char *bad[] = {
		"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x",
		"10.0.0.0/08", "256.0.0.1", "10.1.2.3/8", "fd00::1/8",
		"192.168.1.0/24,", ",10.0.0.1", "192.168.1.0/24,,10.0.0.1",
		"localhost", "10.0.0.0/-1", " 10.0.0.1", "10.0.0.1 ",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		errno = 0;
		if (allow_parse(bad[i], err, sizeof(err)) != NULL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err, "option --allow: '"));
	}
	err[0] = '\0';
	assert_null(allow_parse("10.0.0.0/8,10.1.2.3/8", err, sizeof(err)));
	assert_non_null(strstr(err, "'10.1.2.3/8'"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allow_matches_ipv4_networks_and_hosts),
		cmocka_unit_test(allow_matches_ipv6_networks),
		cmocka_unit_test(allow_everything_and_nothing),
		cmocka_unit_test(allow_refuses_what_is_not_a_network_naming_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
