/*
 * listener_rig.h: what the listener unit tests share (support/listener_rig.c):
 * a recorder for on_line, a listener on a free port of 127.0.0.1, blocking
 * client sockets, and bounded loops of listener_run(). Waits are loops with
 * a bounded number of rounds; no assertion depends on how long anything
 * took.
 */
#ifndef LISTENER_RIG_H
#define LISTENER_RIG_H

#include <stddef.h>

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

/* on_line: records the line; NOT_TAKEN at refuse_at; lines starting "bad"
 * are REJECTED, the rest STORED. */
enum listener_verdict record(void *ctx, const char *peer, const char *line,
                             size_t len);
struct rec *rec_new(void);
void rec_free(struct rec *r);
void assert_line(const struct rec *r, size_t i, const char *want);
/* A listener recording into r (fails the test when it cannot open). */
struct listener *open_listener(struct rec *r, int max_clients, int idle_ms,
                               size_t max_line);
/* A blocking client of 127.0.0.1:port, reads time out after 10 s. */
int connect_to(int port);
void send_all(int fd, const void *buf, size_t len);
void send_str(int fd, const char *s);
/* 1 when the listener closed fd (EOF or reset), 0 if still open. */
int closed_by_listener(int fd);
void run_until_lines(struct listener *l, struct rec *r, size_t n);
void run_until_clients(struct listener *l, int n);
void run_until_closed(struct listener *l, int fd);
void run_rounds(struct listener *l, int n);

#endif
