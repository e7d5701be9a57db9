/*
 * test_listener.c: the sink's TCP listener (sink/listener.c) against plain
 * client sockets on 127.0.0.1: line reassembly across any split, CR
 * stripping, empty lines, the line limit, the client limit, the idle drop
 * and the orderly drain.
 *
 * Everything runs on one thread except where a client must react to the
 * drain's FIN while listener_drain() blocks. Waits are loops of
 * listener_run() with a bounded number of rounds; no assertion depends on
 * how long anything took, only on what happened and in which order.
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

#include "listener.h"

#define MAX_REC     20000
#define ROUNDS      500         /* listener_run() rounds a wait may take */
#define ROUND_MS    20

/* What on_line saw, in order. */
struct rec {
	size_t  n;
	char   *lines[MAX_REC];
	size_t  lens[MAX_REC];
	char    peers[MAX_REC][64];
	int     refuse_at;          /* NOT_TAKEN for line number refuse_at (1-based); 0: never */
};

static enum listener_verdict
record(void *ctx, const char *peer, const char *line, size_t len)
{
	struct rec *r = ctx;

	assert_true(r->n < MAX_REC);
	assert_non_null(peer);
	/* The listener hands over no newline and no empty line. */
	assert_null(memchr(line, '\n', len));
	assert_true(len > 0);
	r->lines[r->n] = malloc(len + 1);
	assert_non_null(r->lines[r->n]);
	memcpy(r->lines[r->n], line, len);
	r->lines[r->n][len] = '\0';
	r->lens[r->n] = len;
	snprintf(r->peers[r->n], sizeof(r->peers[r->n]), "%s", peer);
	r->n++;
	if (r->refuse_at != 0 && (size_t)r->refuse_at == r->n)
		return LISTENER_NOT_TAKEN;
	/* Lines starting "bad" stand for invalid readings. */
	return len >= 3 && memcmp(line, "bad", 3) == 0 ? LISTENER_REJECTED :
	    LISTENER_STORED;
}

static struct rec *
rec_new(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static void
rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->lines[i]);
	free(r);
}

static void
assert_line(const struct rec *r, size_t i, const char *want)
{
	assert_true(i < r->n);
	assert_int_equal(r->lens[i], strlen(want));
	assert_memory_equal(r->lines[i], want, strlen(want));
}

static struct listener *
open_listener(struct rec *r, int max_clients, int idle_ms, size_t max_line)
{
	struct listener_cfg cfg;
	struct listener *l;
	char err[256] = "";

	memset(&cfg, 0, sizeof(cfg));
	cfg.bind = "127.0.0.1";
	cfg.port = 0;
	cfg.max_clients = max_clients;
	cfg.idle_ms = idle_ms;
	cfg.max_line = max_line;
	cfg.on_line = record;
	cfg.ctx = r;
	l = listener_open(&cfg, err, sizeof(err));
	if (l == NULL)
		fail_msg("listener_open: %s", err);
	assert_true(listener_port(l) > 0);
	assert_int_equal(listener_clients(l), 0);
	return l;
}

/* A blocking client connected to the listener (the kernel completes the
 * handshake from the backlog, before listener_run() accepts it). Reads
 * time out after 10 s so a missing EOF fails instead of hanging. */
static int
connect_to(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/*
 * Has the listener closed this client? Non-blocking look: 1 on EOF or
 * reset, 0 if still open. The listener never writes, so any readable
 * state means it closed.
 */
static int
closed_by_listener(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	if (n == 0)
		return 1;
	if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
		return 1;
	assert_true(n < 0);     /* the listener sends no data */
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return 0;
}

/*
 * Run the listener until the recorder holds n lines. Each round reads at
 * most one buffer (max_line + 2 bytes) per client, so a long backlog takes
 * many rounds: the bound is ROUNDS rounds in a row without a new line.
 */
static void
run_until_lines(struct listener *l, struct rec *r, size_t n)
{
	int idle = 0;

	while (r->n < n && idle < ROUNDS) {
		size_t before = r->n;

		assert_true(listener_run(l, ROUND_MS) >= 0);
		idle = r->n == before ? idle + 1 : 0;
	}
	assert_int_equal(r->n, n);
}

/* Run the listener until it has n clients (bounded). */
static void
run_until_clients(struct listener *l, int n)
{
	for (int i = 0; i < ROUNDS && listener_clients(l) != n; i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_int_equal(listener_clients(l), n);
}

/* Run the listener until it has closed fd (bounded). */
static void
run_until_closed(struct listener *l, int fd)
{
	int i;

	for (i = 0; i < ROUNDS && !closed_by_listener(fd); i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_true(i < ROUNDS);
}

/* A few more rounds: nothing pending should change anything. */
static void
run_rounds(struct listener *l, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(listener_run(l, 1) >= 0);
}

/* ------------------------------------------------------------------------ */

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
		cmocka_unit_test(listener_delivers_lines_in_order_with_the_peer_name),
		cmocka_unit_test(listener_reassembles_lines_sent_byte_by_byte),
		cmocka_unit_test(listener_reassembles_lines_across_random_splits),
		cmocka_unit_test(listener_strips_one_trailing_cr_and_skips_empty_lines),
		cmocka_unit_test(listener_closes_a_client_whose_line_is_over_the_limit),
		cmocka_unit_test(listener_closes_a_client_that_sends_no_newline),
		cmocka_unit_test(listener_enforces_the_payload_limit_of_1024_bytes),
		cmocka_unit_test(listener_closes_a_client_when_on_line_refuses),
		cmocka_unit_test(listener_refuses_clients_beyond_max_clients),
		cmocka_unit_test(listener_drops_an_idle_client),
		cmocka_unit_test(listener_with_idle_0_keeps_a_silent_client),
		cmocka_unit_test(listener_drain_reads_until_every_client_has_closed),
		cmocka_unit_test(listener_drain_times_out_on_a_client_that_stays),
		cmocka_unit_test(listener_open_rejects_bad_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
