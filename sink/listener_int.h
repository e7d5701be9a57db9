/*
 * listener_int.h: the inside of the sink's socket listener (listener.h),
 * split by concern: listener.c the listening socket, the epoll loop,
 * accepting and refusing, the drain; listener_client.c one connection:
 * reading and framing its lines, answering them (pt_ack.h), closing it.
 * Main thread only.
 */
#ifndef LISTENER_INT_H
#define LISTENER_INT_H

#include "listener.h"

#include <stdint.h>

#include "pt_linebuf.h"
#include "pt_ratelimit.h"

#define OUT_CAP 128             /* greeting + an ack or two */

struct client {
	int      fd;                /* -1: free slot */
	char     peer[64];
	char    *buf;
	struct pt_linebuf in;
	int64_t  last_ns;           /* last byte received */
	int64_t  close_by_ns;       /* closing: hard close at this time */
	int      closing;           /* FIN sent: read until the peer closes */
	int      served;            /* counted in nclients */
	int      want_out;          /* EPOLLOUT asked for: out is not empty */
	int      acking;            /* said hello: gets a greeting and acks */
	unsigned long long lines;
	/* Acknowledgements (pt_ack.h): lines answered and rejected so far on
	 * this connection, what the last ack queued said, and the bytes
	 * waiting to be sent. */
	uint64_t answered, rejected;
	uint64_t ack_answered, ack_rejected;
	char     out[OUT_CAP];
	size_t   out_len;
};

/*
 * Slots: max_clients served ones, and as many again for connections being
 * closed in order (refused over the limit, or at drain): those get a FIN at
 * once and are read until they close, for at most CLOSING_MS, so the lines
 * a sensor wrote before it saw the FIN are stored, not acknowledged by TCP
 * and thrown away.
 */
#define CLOSING_MS      2000
#define ACCEPT_PAUSE_MS 100     /* out of descriptors: stop accepting a while */

/* Log lines a peer can trigger at will, each limited on its own
 * (pt_ratelimit.h): one peer's flood of one kind hides no other kind. */
enum rl_cause { RL_CONNECT, RL_DISCONNECT, RL_TORN, RL_LONG, RL_IDLE,
                RL_ACCEPT, RL_NOT_ALLOWED, RL_NCAUSES };
extern const char *const listener_rl_what[RL_NCAUSES];

struct listener {
	struct listener_cfg cfg;
	struct pt_ratelimit rl[RL_NCAUSES];
	int                 lfd, efd, port;
	int                 nclients;       /* served (not closing) */
	int                 nslots;         /* 2 * max_clients */
	int                 accepting;      /* lfd is in the epoll set */
	int64_t             resume_ns;      /* accept again from then */
	struct client      *clients;
	unsigned long long  refused;        /* over max_clients */
	unsigned long long  hard_refused;   /* no slot at all: closed unread */
	unsigned long long  accepted;       /* served */
	unsigned long long  not_allowed;    /* not in cfg.allow: closed unread */
};

/* listener_client.c */
void client_close(struct listener *l, struct client *c, const char *why);
/* Send a FIN and keep reading until the peer closes (or CLOSING_MS). */
void client_begin_close(struct listener *l, struct client *c);
/* Send what is queued for c, then an ack if lines were answered since. */
void client_flush(struct listener *l, struct client *c);
/* c is readable: read, hand its lines over, answer them. */
void read_client(struct listener *l, struct client *c);

#endif
