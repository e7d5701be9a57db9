/*
 * test_listener.c: the sink's TCP listener (sink/listener.c) against plain
 * client sockets on 127.0.0.1, the lines: reassembly across any split, CR
 * stripping, empty lines, the line limit, a refused line
 * (test_listener_clients.c has the clients: limit, idle drop, drain).
 *
 * One thread; waits are bounded loops of listener_run() (support/
 * listener_rig.c): no assertion depends on how long anything took, only on
 * what happened and in which order.
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

static void
listener_delivers_lines_in_order_with_the_peer_name(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int fd = connect_to(listener_port(l));
	struct sockaddr_in me;
	socklen_t mlen = sizeof(me);
	char want_peer[64];

	(void)state;
	run_until_clients(l, 1);
	send_str(fd, "one\ntwo\nthree\n");
	run_until_lines(l, r, 3);
	assert_line(r, 0, "one");
	assert_line(r, 1, "two");
	assert_line(r, 2, "three");
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &mlen), 0);
	snprintf(want_peer, sizeof(want_peer), "127.0.0.1:%d", ntohs(me.sin_port));
	assert_string_equal(r->peers[0], want_peer);

	close(fd);
	run_until_clients(l, 0);
	listener_free(l);
	rec_free(r);
}

/* Every split point of a stream, one byte at a time: the worst case. */
static void
listener_reassembles_lines_sent_byte_by_byte(void **state)
{
	static const char stream[] = "{\"a\":1}\n{\"b\":22}\r\n\nxyz\r\n";
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int fd = connect_to(listener_port(l));

	(void)state;
	run_until_clients(l, 1);
	for (size_t i = 0; i < sizeof(stream) - 1; i++) {
		send_all(fd, stream + i, 1);
		/* Let the listener read this byte on its own. */
		run_rounds(l, 2);
	}
	run_until_lines(l, r, 3);
	assert_line(r, 0, "{\"a\":1}");
	assert_line(r, 1, "{\"b\":22}");
	assert_line(r, 2, "xyz");
	run_rounds(l, 5);
	assert_int_equal(r->n, 3);
	close(fd);
	listener_free(l);
	rec_free(r);
}

/*
 * 2000 lines of varying length (up to the limit, some with CRLF) in chunks
 * of random size (fixed seed), chunks cut anywhere, including between the
 * CR and the LF: every line arrives once, whole, in order.
 */
static void
listener_reassembles_lines_across_random_splits(void **state)
{
	enum { NLINES = 2000, MAXL = 100 };
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, MAXL);
	int fd = connect_to(listener_port(l));
	char *stream = malloc((size_t)NLINES * (MAXL + 2));
	char (*want)[MAXL + 1] = calloc(NLINES, MAXL + 1);
	size_t len = 0, off = 0;
	unsigned int seed = 12345;

	(void)state;
	assert_non_null(stream);
	assert_non_null(want);
	for (int i = 0; i < NLINES; i++) {
		/* 1..MAXL bytes: "<i>:" then filler, the longest exactly MAXL. */
		size_t n = i % 97 == 0 ? MAXL : 1 + (size_t)rand_r(&seed) % MAXL;
		int k = snprintf(want[i], MAXL + 1, "%d:", i);

		for (size_t j = (size_t)k; j < n; j++)
			want[i][j] = (char)('a' + (i + (int)j) % 26);
		if ((size_t)k > n)
			n = (size_t)k;
		want[i][n] = '\0';
		memcpy(stream + len, want[i], n);
		len += n;
		if (rand_r(&seed) % 3 == 0)
			stream[len++] = '\r';
		stream[len++] = '\n';
	}
	run_until_clients(l, 1);
	while (off < len) {
		size_t chunk = 1 + (size_t)rand_r(&seed) % 300;

		if (chunk > len - off)
			chunk = len - off;
		send_all(fd, stream + off, chunk);
		off += chunk;
		run_rounds(l, 1);
	}
	run_until_lines(l, r, NLINES);
	for (int i = 0; i < NLINES; i++)
		assert_line(r, (size_t)i, want[i]);
	assert_int_equal(listener_clients(l), 1);
	close(fd);
	free(stream);
	free(want);
	listener_free(l);
	rec_free(r);
}

static void
listener_strips_one_trailing_cr_and_skips_empty_lines(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int fd = connect_to(listener_port(l));

	(void)state;
	run_until_clients(l, 1);
	/* Empty lines (LF, CRLF) are skipped; a CR inside a line is kept;
	 * only one trailing CR is stripped. */
	send_str(fd, "\n\r\n\n" "a\r\n" "b\rc\n" "\r\n" "d\r\r\n" "e\n");
	run_until_lines(l, r, 4);
	assert_line(r, 0, "a");
	assert_line(r, 1, "b\rc");
	/* The CR LF terminator goes, a CR before it is data. */
	assert_line(r, 2, "d\r");
	assert_line(r, 3, "e");
	run_rounds(l, 5);
	assert_int_equal(r->n, 4);
	close(fd);
	listener_free(l);
	rec_free(r);
}

/* A line of exactly max_line bytes passes, with LF or CRLF; one byte more
 * closes the client and the callback never sees it, while the lines before
 * it in the same write are delivered. */
static void
listener_closes_a_client_whose_line_is_over_the_limit(void **state)
{
	enum { MAXL = 32 };
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, MAXL);
	int bad = connect_to(listener_port(l));
	int good = connect_to(listener_port(l));
	char exact[MAXL + 1], over[MAXL + 2], buf[4 * MAXL];

	(void)state;
	memset(exact, 'x', MAXL);
	exact[MAXL] = '\0';
	memset(over, 'y', MAXL + 1);
	over[MAXL + 1] = '\0';
	run_until_clients(l, 2);

	snprintf(buf, sizeof(buf), "%s\n%s\r\n%s\nafter\n", exact, exact, over);
	send_str(bad, buf);
	run_until_closed(l, bad);
	assert_int_equal(r->n, 2);
	assert_line(r, 0, exact);
	assert_line(r, 1, exact);
	assert_int_equal(listener_clients(l), 1);

	/* The other client goes on. */
	send_str(good, "still here\n");
	run_until_lines(l, r, 3);
	assert_line(r, 2, "still here");
	for (size_t i = 0; i < r->n; i++)
		assert_null(memchr(r->lines[i], 'y', r->lens[i]));
	close(bad);
	close(good);
	listener_free(l);
	rec_free(r);
}

/* No newline at all: the client is closed once its line cannot fit any
 * more, without waiting for a newline that may never come. */
static void
listener_closes_a_client_that_sends_no_newline(void **state)
{
	enum { MAXL = 32 };
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, MAXL);
	int fd = connect_to(listener_port(l));
	char junk[3 * MAXL];

	(void)state;
	memset(junk, 'z', sizeof(junk));
	run_until_clients(l, 1);
	/* max_line + 1 bytes may still end in CR + LF: not closed yet. */
	send_all(fd, junk, MAXL + 1);
	run_rounds(l, 5);
	assert_int_equal(listener_clients(l), 1);
	assert_false(closed_by_listener(fd));
	/* One more byte and it cannot be a valid line any more. */
	send_all(fd, junk, sizeof(junk) - (MAXL + 1));
	run_until_closed(l, fd);
	assert_int_equal(listener_clients(l), 0);
	assert_int_equal(r->n, 0);
	close(fd);
	listener_free(l);
	rec_free(r);
}

/* The sink's real limit, 1024 bytes: 2000 bytes without a newline and a
 * 1500-byte line with one each close their client, the callback sees
 * neither. */
static void
listener_enforces_the_payload_limit_of_1024_bytes(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 1024);
	int a = connect_to(listener_port(l));
	int b = connect_to(listener_port(l));
	char big[2000];

	(void)state;
	memset(big, 'q', sizeof(big));
	run_until_clients(l, 2);
	send_all(a, big, sizeof(big));
	big[1500] = '\n';
	send_all(b, big, 1501);
	run_until_closed(l, a);
	run_until_closed(l, b);
	assert_int_equal(listener_clients(l), 0);
	assert_int_equal(r->n, 0);
	close(a);
	close(b);
	listener_free(l);
	rec_free(r);
}

/* on_line returning non-zero closes that client; its later lines are not
 * handed over. */
static void
listener_closes_a_client_when_on_line_refuses(void **state)
{
	struct rec *r = rec_new();
	struct listener *l = open_listener(r, 4, 0, 64);
	int fd = connect_to(listener_port(l));

	(void)state;
	r->refuse_at = 2;
	run_until_clients(l, 1);
	send_str(fd, "l1\nl2\nl3\n");
	run_until_closed(l, fd);
	assert_int_equal(r->n, 2);
	assert_line(r, 1, "l2");
	assert_int_equal(listener_clients(l), 0);
	close(fd);
	listener_free(l);
	rec_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listener_delivers_lines_in_order_with_the_peer_name),
		cmocka_unit_test(listener_reassembles_lines_sent_byte_by_byte),
		cmocka_unit_test(listener_reassembles_lines_across_random_splits),
		cmocka_unit_test(listener_strips_one_trailing_cr_and_skips_empty_lines),
		cmocka_unit_test(listener_closes_a_client_whose_line_is_over_the_limit),
		cmocka_unit_test(listener_closes_a_client_that_sends_no_newline),
		cmocka_unit_test(listener_enforces_the_payload_limit_of_1024_bytes),
		cmocka_unit_test(listener_closes_a_client_when_on_line_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
