/*
 * pt_ack.h: socket mode's application acknowledgement, the few lines a
 * pitemp-sensor and the sink exchange besides the readings, on the same TCP
 * connection (docs/spec.md, "Socket mode"). Newline-delimited ASCII, so
 * `tshark -z follow,tcp,ascii` and a plain `nc` show it as it is:
 *
 *   sensor -> sink
 *   pitemp-sensor 1    hello, the first line of the connection (1: the
 *                      protocol version); the readings follow at once
 *   sink -> sensor, only to a client that said hello
 *   pitemp-sink 1      greeting, in answer to the hello
 *   ack N              the first N readings of this connection are
 *                      answered: each stored (or found already stored)
 *   ack N R            ... and R of them (counted from the start of the
 *                      connection) were rejected for good as invalid
 *   # text             a comment: ignored
 *
 * Acks are cumulative, so the sink sends one per batch of lines it read,
 * never one per line when several came together, and a lost or merged one
 * costs nothing. A reading the sink did not store (its output failing, a
 * --count run that is complete) is never answered: the sensor keeps it and
 * sends it again on its next connection. A client that says no hello (nc,
 * a script) gets nothing back, as before acks existed: it is never made
 * to read, and it cannot reset the connection over unread acks.
 *
 * Pure formatting and parsing; no I/O.
 */
#ifndef PT_ACK_H
#define PT_ACK_H

#include <stddef.h>
#include <stdint.h>

#define PT_ACK_VERSION  1
#define PT_ACK_LINE_MAX 64      /* longest line either side may send */

enum pt_ack_kind {
	PT_ACK_COMMENT = 0,     /* "# ...": ignore */
	PT_ACK_HELLO,           /* the sensor's; version in m->version */
	PT_ACK_GREETING,        /* the sink's; version in m->version */
	PT_ACK_ACK,             /* m->answered, m->rejected */
	PT_ACK_UNKNOWN,         /* not this protocol */
};

struct pt_ack_msg {
	unsigned long version;
	uint64_t      answered;
	uint64_t      rejected;
};

/* "pitemp-sensor 1\n" into buf. Its length, or -ENOSPC. */
int pt_ack_hello(char *buf, size_t cap);

/* "pitemp-sink 1\n" into buf. Its length, or -ENOSPC. */
int pt_ack_greeting(char *buf, size_t cap);

/* "ack N\n", or "ack N R\n" when rejected > 0. Its length, or -ENOSPC
 * (or -EINVAL when rejected > answered). */
int pt_ack_format(char *buf, size_t cap, uint64_t answered, uint64_t rejected);

/*
 * Classify one line (no LF; a CR is the framer's to strip). Numbers are
 * plain decimal, no sign, no leading zero, single spaces; 1 <= R <= N (no
 * R when it is 0): the one form pt_ack_format writes. Anything else is
 * PT_ACK_UNKNOWN.
 */
enum pt_ack_kind pt_ack_parse(const char *line, size_t len, struct pt_ack_msg *m);

#endif
