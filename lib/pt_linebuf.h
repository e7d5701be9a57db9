/*
 * pt_linebuf.h: newline framing of a byte stream in one fixed buffer, for
 * socket mode on both sides (the sink's listener reads readings, the
 * sensor reads the sink's acknowledgements). Bytes go in as they arrive,
 * cut anywhere; whole lines come out without their LF and one CR before it;
 * empty lines are skipped. Memory is the buffer the caller gives, whatever
 * the peer sends: a line longer than max_line is an error, not a reason to
 * grow.
 *
 * Pure (no I/O, no allocation): the fuzz target tests/fuzz/fuzz_framing.c
 * checks it against a plain split of the whole stream.
 */
#ifndef PT_LINEBUF_H
#define PT_LINEBUF_H

#include <stddef.h>

struct pt_linebuf {
	char   *buf;
	size_t  cap;            /* max_line + 2: the line, a CR, the LF */
	size_t  max_line;
	size_t  start;          /* first byte not yet handed out */
	size_t  used;           /* bytes in buf */
};

/* cap must be max_line + 2 or more (max_line >= 1). 0 or -EINVAL. */
int pt_linebuf_init(struct pt_linebuf *lb, char *buf, size_t cap, size_t max_line);

/* Forget everything buffered (a new connection). */
void pt_linebuf_reset(struct pt_linebuf *lb);

/*
 * Where the next bytes go: returns a pointer to *room free bytes (the
 * lines already handed out are dropped first). *room is never 0 unless the
 * buffer holds an unfinished line over the limit (pt_linebuf_next says so).
 */
char *pt_linebuf_space(struct pt_linebuf *lb, size_t *room);

/* n bytes were written at the pointer pt_linebuf_space returned. */
void pt_linebuf_added(struct pt_linebuf *lb, size_t n);

/*
 * The next complete line: 1, with *line and *len (valid until the next
 * pt_linebuf_space or pt_linebuf_reset); 0 when none is complete yet;
 * -EMSGSIZE when the next line is longer than max_line; -E2BIG when more
 * than max_line + 1 bytes wait with no LF among them (it can only get
 * longer). On either error *line and *len give the offending bytes, and
 * the stream cannot be framed any further: close it (or reset).
 */
int pt_linebuf_next(struct pt_linebuf *lb, const char **line, size_t *len);

/* Bytes of an unfinished line waiting for their LF. */
size_t pt_linebuf_pending(const struct pt_linebuf *lb);

#endif
