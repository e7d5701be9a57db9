/*
 * test_notify.c: the sd_notify protocol against a real AF_UNIX datagram
 * socket, bound in a temp directory and in the abstract namespace, and
 * the WATCHDOG_USEC / WATCHDOG_PID rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pt_notify.h"

static char dir[64];
static char path[128];
static int sock = -1;

/* A datagram socket at name ("@..." abstract); NOTIFY_SOCKET points at it. */
static int
bind_at(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len;
	size_t n = strlen(name);
	struct timeval tv = { 2, 0 };

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	if ((sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(sock, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", name, 1);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pitemp-test-notify-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/notify", dir);
	return bind_at(path);
}

static int
teardown(void **state)
{
	(void)state;
	if (sock >= 0)
		close(sock);
	sock = -1;
	unlink(path);
	rmdir(dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return 0;
}

/* The next datagram as a string. */
static const char *
received(void)
{
	static char buf[512];
	ssize_t n;

	n = recv(sock, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void
notify_sends_ready_watchdog_stopping_as_datagrams(void **state)
{
	(void)state;
	assert_int_equal(pt_notify_ready(), 1);
	assert_string_equal(received(), "READY=1");
	assert_int_equal(pt_notify_watchdog(), 1);
	assert_string_equal(received(), "WATCHDOG=1");
	assert_int_equal(pt_notify_stopping(), 1);
	assert_string_equal(received(), "STOPPING=1");
}

static void
notify_status_is_formatted_on_one_line(void **state)
{
	(void)state;
	assert_int_equal(pt_notify_status("publishing %d Hz to %s", 100, "pi:1883"), 1);
	assert_string_equal(received(), "STATUS=publishing 100 Hz to pi:1883");
	assert_int_equal(pt_notify_status("two\nlines"), 1);
	assert_string_equal(received(), "STATUS=two lines");
}

static void
notify_reaches_an_abstract_socket(void **state)
{
	char name[64];

	(void)state;
	close(sock);
	snprintf(name, sizeof(name), "@pitemp-test-notify-%d", (int)getpid());
	assert_int_equal(bind_at(name), 0);
	assert_int_equal(pt_notify_ready(), 1);
	assert_string_equal(received(), "READY=1");
}

static void
notify_without_notify_socket_does_nothing(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(pt_notify_ready(), 0);
	assert_int_equal(pt_notify_status("x"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(pt_notify_watchdog(), 0);
}

static void
notify_reports_a_bad_or_absent_socket_as_an_error(void **state)
{
	char gone[160];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(pt_notify_ready(), -EINVAL);
	snprintf(gone, sizeof(gone), "%s/nobody-listens", dir);
	setenv("NOTIFY_SOCKET", gone, 1);
	assert_int_equal(pt_notify_ready(), -ENOENT);
	assert_int_equal(pt_notify(""), -EINVAL);
}

static void
watchdog_usec_comes_from_the_environment_for_this_pid(void **state)
{
	char pid[32];
	uint64_t us = 99;

	(void)state;
	assert_int_equal(pt_notify_watchdog_usec(&us), 0);
	assert_int_equal(us, 0);			/* no watchdog */
	setenv("WATCHDOG_USEC", "10000000", 1);
	assert_int_equal(pt_notify_watchdog_usec(&us), 0);
	assert_int_equal(us, 10000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(pt_notify_watchdog_usec(&us), 0);
	assert_int_equal(us, 10000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);			/* inherited from a parent */
	assert_int_equal(pt_notify_watchdog_usec(&us), 0);
	assert_int_equal(us, 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "10s", 1);
	assert_int_equal(pt_notify_watchdog_usec(&us), -EINVAL);
	assert_int_equal(us, 0);
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(pt_notify_watchdog_usec(&us), -EINVAL);
}

static void
watchdog_tick_pings_every_half_interval(void **state)
{
	struct pt_notify_wd wd;
	const int64_t s = 1000000000LL;

	(void)state;
	setenv("WATCHDOG_USEC", "10000000", 1);		/* 10 s */
	pt_notify_wd_init(&wd);
	assert_int_equal(wd.interval_ns, 5 * s);
	assert_int_equal(pt_notify_wd_tick(&wd, 100 * s), 1);	/* first: at once */
	assert_string_equal(received(), "WATCHDOG=1");
	assert_int_equal(pt_notify_wd_tick(&wd, 104 * s), 0);
	assert_int_equal(pt_notify_wd_tick(&wd, 105 * s), 1);
	assert_string_equal(received(), "WATCHDOG=1");
	unsetenv("WATCHDOG_USEC");
	pt_notify_wd_init(&wd);
	assert_int_equal(pt_notify_wd_tick(&wd, 200 * s), 0);	/* off */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(notify_sends_ready_watchdog_stopping_as_datagrams, setup, teardown),
		cmocka_unit_test_setup_teardown(notify_status_is_formatted_on_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(notify_reaches_an_abstract_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(notify_without_notify_socket_does_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(notify_reports_a_bad_or_absent_socket_as_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(watchdog_usec_comes_from_the_environment_for_this_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(watchdog_tick_pings_every_half_interval, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
