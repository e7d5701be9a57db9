/*
 * socket_int.h: the inside of the sensor's socket transport, split by
 * concern: transport_socket.c the connection, the ring of readings and the
 * transport ops; socket_ack.c what the peer says back (pt_ack.h: the
 * greeting, the acks, or nothing at all from a peer that is not a
 * pitemp-sink). Main thread only.
 */
#ifndef SOCKET_INT_H
#define SOCKET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pt_ack.h"
#include "pt_linebuf.h"
#include "pt_ratelimit.h"
#include "pt_reading.h"
#include "transport.h"

#define RETRY_MIN_MS    250
#define RETRY_MAX_MS    10000
#define USER_TIMEOUT_MS 10000   /* unacknowledged data: give the link up */
#define GREETING_MS     3000    /* no greeting by then: not a pitemp-sink */
#define STOP_READ_MS    500     /* after our FIN: last acks, the peer's FIN */

enum peer_kind {
	PEER_UNKNOWN = 0,       /* connected, no greeting yet */
	PEER_SINK,              /* greeted: answers with acks */
	PEER_PLAIN,             /* no greeting: nothing will be acknowledged */
};

struct slot {
	uint16_t len;                   /* with the '\n' */
	char     data[PT_PAYLOAD_MAX + 1];
};

struct sock_transport {
	struct transport    base;
	char               *host;
	int                 port;
	int                 fd;             /* -1: no connection */
	int                 connecting;     /* non-blocking connect under way */
	int64_t             retry_at_ns;
	int                 retry_ms;
	int                 failures;       /* consecutive, for quieter logs */
	int                 stopping;       /* our FIN is out: the end is ours */

	struct slot        *ring;
	size_t              cap, head, count;

	/* This connection. Its lines are numbered from 1 in the order sent;
	 * `gone` of them have left the ring (answered, or let go), so ring
	 * line i (from head) is connection line gone + i + 1. */
	enum peer_kind      peer;
	int64_t             connected_ns;
	size_t              sent_lines;     /* ring lines fully written */
	size_t              sent_off;       /* bytes of the next line written */
	uint64_t            gone;
	uint64_t            rejected;       /* the sink's R of the last ack */
	char                hello[24];      /* "pitemp-sensor 1\n", sent first */
	size_t              hello_len, hello_off;
	struct pt_linebuf   in;             /* the sink's lines */
	char                inbuf[PT_ACK_LINE_MAX + 2];
	struct pt_ratelimit rl_peer;        /* lines about what the peer sent */

	struct transport_counters c;
};

/* transport_socket.c */
void sock_drop_connection(struct sock_transport *s, const char *why, int err);
/* Take n lines off the head of the ring (answered, or let go). */
void sock_pop_lines(struct sock_transport *s, size_t n);

/* socket_ack.c: read what the peer sent (acks, its end), non-blocking. */
void sock_read_peer(struct sock_transport *s);
/* The peer is not a pitemp-sink: say so once (line: what it sent, or NULL
 * when it sent no greeting in time). */
void sock_become_plain(struct sock_transport *s, const char *line, size_t len);

#endif
