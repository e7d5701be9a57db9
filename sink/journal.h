/*
 * journal.h: a local write-ahead journal of readings, for a store whose
 * database commits later than the sink acknowledges (store_pg.c).
 *
 * The message callback appends a reading with one write(2) (and, with
 * sync, an fsync) and may then acknowledge it: from that moment the
 * reading survives a kill of the sink (sync: a power cut). A writer
 * thread takes the journal in segments: journal_rotate() closes the
 * segment being appended to and starts the next, the writer reads the
 * closed one (oldest first), commits its readings to the database and
 * journal_drop()s it. A crash between the commit and the drop replays
 * the segment at the next start; the database's primary key absorbs it.
 *
 * Layout: a directory ("<state>/.<id>.journal/") holding a lock file
 * (flock: one sink per journal) and segments "<20-digit number>.seg",
 * one reading per line (journal_format / journal_parse). The segment
 * being appended to keeps JOURNAL_RESERVE bytes held ahead of its end
 * (reserve.h), so the reading in hand is written even on a full disk.
 *
 * Threads: every call must be serialised by the caller (store_pg.c's
 * mutex), except journal_read_segment(), which reads a closed segment and
 * touches no journal state.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pt_reading.h"

#define JOURNAL_LINE_MAX    256     /* longest line journal_format writes */
#define JOURNAL_RESERVE     (1 << 20)

struct journal;

/*
 * Open (creating) dir, lock it, list the segments a previous run left
 * (they are pending, to be replayed) and start a new one. sync: fsync
 * every append (and the directory when a segment is made). NULL with
 * errno set: EWOULDBLOCK when another process holds the lock.
 */
struct journal *journal_open(const char *dir, int sync);
/* Accepts NULL. Keeps what is pending; an empty journal leaves no
 * directory behind. */
void journal_close(struct journal *j);

/* Append one line (from journal_format). 0 or -errno (-ENOSPC: the disk
 * is full and the reserve is spent; nothing was written). */
int journal_append(struct journal *j, const char *line, size_t len);

/* 0 when the next line can be written, -ENOSPC while no room can be held
 * for it. */
int journal_ready(struct journal *j);

/* Lines in the segment being appended to. */
uint64_t journal_current(const struct journal *j);

/* Close the current segment (when it has lines) and make it pending;
 * start the next. 0 or -errno (the current segment stays on error). */
int journal_rotate(struct journal *j);

/* Pending (closed, not yet dropped) segments. */
size_t journal_pending(const struct journal *j);

/* Pending segment i (0: the oldest): its number, and its path into buf.
 * 0, or -ENOENT when there is no such segment. */
int journal_pending_at(const struct journal *j, size_t i, uint64_t *num,
                       char *buf, size_t cap);

/* The oldest pending segment is committed: unlink it. 0 or -errno. */
int journal_drop(struct journal *j, uint64_t num);

/* One reading as a journal line ("\n"-terminated). The length, or -errno. */
int journal_format(const struct pt_reading *r, int64_t recv_us, char *buf,
                   size_t cap);

/* Parse one line (without its "\n"). 0 or -EINVAL. */
int journal_parse(const char *s, size_t len, struct pt_reading *r,
                  int64_t *recv_us);

/*
 * Read a closed segment from byte *off: call fn for each complete line,
 * in order, until fn returns non-zero (that value is returned, and *off
 * points at the line fn refused) or the end (0; *off is the size read).
 * Lines that do not parse are counted in *bad and skipped. -errno on a
 * read error.
 */
int journal_read_segment(const char *path, uint64_t *off, uint64_t *bad,
                         int (*fn)(void *ctx, const struct pt_reading *r,
                                   int64_t recv_us),
                         void *ctx);

#endif
