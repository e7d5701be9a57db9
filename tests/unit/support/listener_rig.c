/*
 * listener_rig.c: the listener unit tests' shared rig (see listener_rig.h).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "listener_rig.h"

enum listener_verdict
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

struct rec *
rec_new(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

void
rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->lines[i]);
	free(r);
}

void
assert_line(const struct rec *r, size_t i, const char *want)
{
	assert_true(i < r->n);
	assert_int_equal(r->lens[i], strlen(want));
	assert_memory_equal(r->lines[i], want, strlen(want));
}

struct listener *
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
int
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

void
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

void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/*
 * Has the listener closed this client? Non-blocking look: 1 on EOF or
 * reset, 0 if still open. The listener never writes, so any readable
 * state means it closed.
 */
int
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
void
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
void
run_until_clients(struct listener *l, int n)
{
	for (int i = 0; i < ROUNDS && listener_clients(l) != n; i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_int_equal(listener_clients(l), n);
}

/* Run the listener until it has closed fd (bounded). */
void
run_until_closed(struct listener *l, int fd)
{
	int i;

	for (i = 0; i < ROUNDS && !closed_by_listener(fd); i++)
		assert_true(listener_run(l, ROUND_MS) >= 0);
	assert_true(i < ROUNDS);
}

/* A few more rounds: nothing pending should change anything. */
void
run_rounds(struct listener *l, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(listener_run(l, 1) >= 0);
}
