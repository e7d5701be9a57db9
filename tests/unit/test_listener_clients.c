/*
 * test_listener_clients.c: the sink's TCP listener (sink/listener.c) and its
 * clients: the client limit (refused in order), the idle drop, the orderly
 * drain, bad settings (test_listener.c has the lines).
 *
 * Everything runs on one thread except where a client must react to the
 * drain's FIN while listener_drain() blocks. Waits are bounded loops of
 * listener_run() (support/listener_rig.c); no assertion depends on how
 * long anything took, only on what happened and in which order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "support/listener_rig.h"

/* Beyond max_clients a connection is refused in order: it gets a FIN at
 * once, what it sends before it closes is still stored (its sensor may
 * already count it as delivered), and it does not count as a client; the
 * ones already served keep working, and a freed slot is used again. */
static void
listener_refuses_clients_beyond_max_clients(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 2, 0, 64);
	int port = listener_port(l);
	int c1 = connect_to(port), c2, c3, c4;

	(void)state;
	run_until_clients(l, 1);
	c2 = connect_to(port);
	run_until_clients(l, 2);
	c3 = connect_to(port);
	run_until_closed(l, c3);
	assert_int_equal(listener_clients(l), 2);

	send_str(c1, "from c1\n");
	send_str(c2, "from c2\n");
	run_until_lines(l, r, 2);

	/* The refused client's line in flight is stored; then it closes. */
	send_str(c3, "from c3\n");
	run_until_lines(l, r, 3);
	assert_line(r, 2, "from c3");
	close(c3);
	run_rounds(l, 3);
	assert_int_equal(listener_clients(l), 2);

	/* Free a slot (with half a line pending, which is discarded); a new
	 * client takes it and starts from an empty buffer. */
	send_str(c1, "half");
	run_rounds(l, 3);
	close(c1);
	run_until_clients(l, 1);
	c4 = connect_to(port);
	run_until_clients(l, 2);
	send_str(c4, "from c4\n");
	run_until_lines(l, r, 4);
	assert_line(r, 3, "from c4");
	assert_false(closed_by_listener(c2));
	assert_false(closed_by_listener(c4));

	close(c2);
	close(c3);
	close(c4);
	listener_free(l);
	rec_free(r);
}

/* A silent client is closed after idle_ms; one that keeps talking is not
 * closed for being idle before the silent one (ordering only). */
static void
listener_drops_an_idle_client(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 50, 64);
	int idle = connect_to(listener_port(l));
	int i;

	(void)state;
	run_until_clients(l, 1);
	for (i = 0; i < ROUNDS && !closed_by_listener(idle); i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_true(i < ROUNDS);
	assert_int_equal(listener_clients(l), 0);
	assert_int_equal(r->n, 0);
	close(idle);
	listener_free(l);
	rec_free(r);
}

/* idle_ms 0: never dropped for silence. */
static void
listener_with_idle_0_keeps_a_silent_client(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int fd = connect_to(listener_port(l));

	(void)state;
	run_until_clients(l, 1);
	for (int i = 0; i < 20; i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_int_equal(listener_clients(l), 1);
	assert_false(closed_by_listener(fd));
	send_str(fd, "late\n");
	run_until_lines(l, r, 1);
	close(fd);
	listener_free(l);
	rec_free(r);
}

/* A client that, like pitemp-sensor, writes one last line after it sees
 * the drain's FIN, then closes. */
struct late_writer {
	int fd;
	int saw_eof;
};

static void *
late_writer_main(void *arg)
{
	struct late_writer *w = arg;
	char b;
	ssize_t n = recv(w->fd, &b, 1, 0);     /* blocks until the FIN (10 s max) */

	w->saw_eof = n == 0;
	if (w->saw_eof)
		(void)send(w->fd, "after fin\n", 10, MSG_NOSIGNAL);
	close(w->fd);
	return NULL;
}

/*
 * listener_drain: no new connections; every client gets a FIN; lines
 * already sent and lines written after the FIN are all handed over; it
 * returns 0 once every client has closed, and clients that never close
 * make it give up with -ETIMEDOUT.
 */
static void
listener_drain_reads_until_every_client_has_closed(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int port = listener_port(l);
	int a = connect_to(port), b = connect_to(port);
	struct late_writer w;
	pthread_t th;
	struct sockaddr_in sa;
	int fd;

	(void)state;
	run_until_clients(l, 2);
	/* a: lines in flight, then its own FIN; b: reacts to the drain's FIN. */
	send_str(a, "a1\na2\n");
	send_str(b, "b1\n");
	assert_int_equal(shutdown(a, SHUT_WR), 0);
	w.fd = b;
	w.saw_eof = 0;
	assert_int_equal(pthread_create(&th, NULL, late_writer_main, &w), 0);

	assert_int_equal(listener_drain(l, 10000), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(w.saw_eof);
	assert_int_equal(listener_clients(l), 0);
	/* a saw the listener's FIN too. */
	assert_true(closed_by_listener(a));

	assert_int_equal(r->n, 4);
	{
		int a1 = -1, a2 = -1, b1 = -1, fin = -1;

		for (size_t i = 0; i < r->n; i++) {
			if (strcmp(r->lines[i], "a1") == 0) a1 = (int)i;
			if (strcmp(r->lines[i], "a2") == 0) a2 = (int)i;
			if (strcmp(r->lines[i], "b1") == 0) b1 = (int)i;
			if (strcmp(r->lines[i], "after fin") == 0) fin = (int)i;
		}
		assert_true(a1 >= 0 && a2 > a1);
		assert_true(b1 >= 0 && fin > b1);
	}

	/* Not listening any more. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	close(a);
	listener_free(l);
	rec_free(r);
}

static void
listener_drain_times_out_on_a_client_that_stays(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int fd = connect_to(listener_port(l));

	(void)state;
	run_until_clients(l, 1);
	send_str(fd, "x\n");
	assert_int_equal(listener_drain(l, 100), -ETIMEDOUT);
	assert_int_equal(listener_clients(l), 0);   /* closing, not served */
	assert_int_equal(r->n, 1);
	/* It got the FIN, and the connection is still there. */
	assert_true(closed_by_listener(fd));
	listener_free(l);   /* closes it */
	close(fd);
	rec_free(r);
}

static void
listener_open_rejects_bad_settings(void **state)
{
	struct rec *r = rec_new();
	struct listener_cfg cfg;
	struct listener *l, *l2;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.bind = "127.0.0.1";
	cfg.max_clients = 0;
	cfg.max_line = 64;
	cfg.on_line = record;
	cfg.ctx = r;
	errno = 0;
	assert_null(listener_open(&cfg, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);

	cfg.max_clients = 4;
	cfg.bind = "256.1.1.1";
	err[0] = '\0';
	assert_null(listener_open(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "256.1.1.1"));

	/* The port of a live listener is in use. */
	cfg.bind = "127.0.0.1";
	l = open_listener(r, 4, 0, 64);
	cfg.port = listener_port(l);
	err[0] = '\0';
	errno = 0;
	l2 = listener_open(&cfg, err, sizeof(err));
	assert_null(l2);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(strstr(err, "127.0.0.1"));
	listener_free(l);
	listener_free(NULL);
	rec_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listener_refuses_clients_beyond_max_clients),
		cmocka_unit_test(listener_drops_an_idle_client),
		cmocka_unit_test(listener_with_idle_0_keeps_a_silent_client),
		cmocka_unit_test(listener_drain_reads_until_every_client_has_closed),
		cmocka_unit_test(listener_drain_times_out_on_a_client_that_stays),
		cmocka_unit_test(listener_open_rejects_bad_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
