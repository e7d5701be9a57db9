/*
 * test_listener_ack.c: socket mode's acknowledgements from the sink's side
 * (sink/listener.c with pt_ack.h): a client that says hello gets a
 * greeting and cumulative acks for what on_line stored or rejected, never
 * for a line not taken; a client that says nothing gets nothing; one that
 * never reads its acks costs the listener nothing and is served all the
 * same. Real sockets on 127.0.0.1; waits are bounded rounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "listener.h"
#include "pt_ack.h"

#define ROUNDS      500
#define ROUND_MS    20

struct rec {
	size_t n;
	size_t not_taken_from;      /* NOT_TAKEN from this line on (1-based); 0: never */
};

static enum listener_verdict
on_line(void *ctx, const char *peer, const char *line, size_t len)
{
	struct rec *r = ctx;

	(void)peer;
	r->n++;
	if (r->not_taken_from != 0 && r->n >= r->not_taken_from)
		return LISTENER_NOT_TAKEN;
	return len >= 3 && memcmp(line, "bad", 3) == 0 ? LISTENER_REJECTED :
	    LISTENER_STORED;
}

static struct listener *
open_listener(struct rec *r)
{
	struct listener_cfg cfg;
	struct listener *l;
	char err[256] = "";

	memset(&cfg, 0, sizeof(cfg));
	cfg.bind = "127.0.0.1";
	cfg.max_clients = 4;
	cfg.max_line = 64;
	cfg.on_line = on_line;
	cfg.ctx = r;
	if ((l = listener_open(&cfg, err, sizeof(err))) == NULL)
		fail_msg("listener_open: %s", err);
	return l;
}

static int
connect_to(int port, int rcvbuf)
{
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
send_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

/* Everything the listener has sent so far (non-blocking), appended to buf. */
static void
drain_into(int fd, char *buf, size_t cap)
{
	size_t used = strlen(buf);
	ssize_t n;

	while (used + 1 < cap &&
	    (n = recv(fd, buf + used, cap - 1 - used, MSG_DONTWAIT)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
}

/* Run the listener until what fd received ends with want (bounded). */
static void
run_until_received(struct listener *l, int fd, char *buf, size_t cap,
                   const char *want)
{
	for (int i = 0; i < ROUNDS; i++) {
		size_t n, w = strlen(want);

		drain_into(fd, buf, cap);
		n = strlen(buf);
		if (n >= w && strcmp(buf + n - w, want) == 0)
			return;
		assert_true(listener_run(l, ROUND_MS) >= 0);
	}
	fail_msg("received \"%s\", want it to end with \"%s\"", buf, want);
}

static void
ack_client_that_says_hello_gets_a_greeting_and_cumulative_acks(void **state)
{
	struct rec r = { 0, 0 };
	struct listener *l = open_listener(&r);
	int fd = connect_to(listener_port(l), 0);
	char got[4096] = "";

	(void)state;
	send_str(fd, "pitemp-sensor 1\nr1\nr2\n");
	run_until_received(l, fd, got, sizeof(got), "ack 2\n");
	assert_int_equal(strncmp(got, "pitemp-sink 1\n", 14), 0);
	assert_int_equal(r.n, 2);               /* the hello is not a reading */
	/* A rejected line is answered too, and said to be rejected. */
	send_str(fd, "bad1\nr3\n");
	run_until_received(l, fd, got, sizeof(got), "ack 4 1\n");
	send_str(fd, "r4\n");
	run_until_received(l, fd, got, sizeof(got), "ack 5 1\n");
	close(fd);
	listener_free(l);
}

static void
ack_line_not_taken_is_never_answered(void **state)
{
	struct rec r = { 0, 3 };
	struct listener *l = open_listener(&r);
	int fd = connect_to(listener_port(l), 0);
	char got[4096] = "", b;
	int i;

	(void)state;
	send_str(fd, "pitemp-sensor 1\nr1\nr2\nr3\nr4\n");
	/* r1, r2 answered; r3 not taken: the listener ends the connection in
	 * order (FIN) and answers nothing more. */
	for (i = 0; i < ROUNDS && recv(fd, &b, 0, MSG_DONTWAIT) != 0; i++) {
		drain_into(fd, got, sizeof(got));
		if (strstr(got, "ack 2\n") != NULL &&
		    recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
			break;
		assert_true(listener_run(l, ROUND_MS) >= 0);
	}
	drain_into(fd, got, sizeof(got));
	assert_string_equal(got, "pitemp-sink 1\nack 2\n");
	assert_int_equal(recv(fd, &b, 1, 0), 0);        /* the FIN */
	close(fd);
	listener_free(l);
}

static void
ack_client_without_hello_gets_nothing_back(void **state)
{
	struct rec r = { 0, 0 };
	struct listener *l = open_listener(&r);
	int fd = connect_to(listener_port(l), 0);
	char b;

	(void)state;
	/* nc, a script: readings only. They are stored, nothing is sent. */
	send_str(fd, "r1\nr2\npitemp-sensor 1\n");
	for (int i = 0; i < ROUNDS && r.n < 3; i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_int_equal(r.n, 3);       /* a late hello is just a line */
	for (int i = 0; i < 5; i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
	listener_free(l);
}

/* A client that says hello and then never reads: the acks it leaves unread
 * fill its small receive buffer and then the listener's send buffer; the
 * listener keeps one pending number, not a queue, and goes on reading and
 * storing every line. When the client finally reads, the last ack says
 * all of them. */
static void
ack_client_that_never_reads_is_served_all_the_same(void **state)
{
	enum { N = 50000 };
	struct rec r = { 0, 0 };
	struct listener *l = open_listener(&r);
	int fd = connect_to(listener_port(l), 1024);
	static char chunk[64 * 1024], got[1 << 20];
	char want[64];
	size_t fill = 0;
	int sent = 0;

	(void)state;
	send_str(fd, "pitemp-sensor 1\n");
	/* Lines in many small writes, so the listener sends many acks. */
	while (sent < N) {
		fill = 0;
		for (int k = 0; k < 50 && sent < N; k++, sent++)
			fill += (size_t)snprintf(chunk + fill, sizeof(chunk) - fill,
			    "r%d\n", sent);
		send_str(fd, chunk);
		assert_true(listener_run(l, 0) >= 0);
	}
	/* Each round reads at most one buffer: bound the rounds without a new
	 * line, not the rounds. */
	for (int idle = 0; idle < ROUNDS && r.n < N;) {
		size_t before = r.n;

		assert_true(listener_run(l, ROUND_MS) >= 0);
		idle = r.n == before ? idle + 1 : 0;
	}
	assert_int_equal(r.n, N);
	snprintf(want, sizeof(want), "ack %d\n", N);
	got[0] = '\0';
	for (int i = 0; i < ROUNDS; i++) {
		size_t n;

		drain_into(fd, got, sizeof(got));
		n = strlen(got);
		if (n >= strlen(want) && strcmp(got + n - strlen(want), want) == 0)
			break;
		/* Keep only the tail: the many earlier acks are of no interest. */
		if (n > sizeof(got) / 2)
			memmove(got, got + n - 64, 65);
		assert_true(listener_run(l, ROUND_MS) >= 0);
	}
	assert_non_null(strstr(got, want));
	close(fd);
	listener_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ack_client_that_says_hello_gets_a_greeting_and_cumulative_acks),
		cmocka_unit_test(ack_line_not_taken_is_never_answered),
		cmocka_unit_test(ack_client_without_hello_gets_nothing_back),
		cmocka_unit_test(ack_client_that_never_reads_is_served_all_the_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
