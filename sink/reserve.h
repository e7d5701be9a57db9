/*
 * reserve.h: disk space held ahead of an append-only file, so that a
 * reading the sink has taken can always be written.
 *
 * Why: a logger whose filesystem fills must stop taking readings, not
 * take one it cannot write. With a reserve the reading in hand is written
 * at once from space already held, whole (no torn line to cut back), and
 * the sink asks for more before it takes the next reading; when none is
 * left it waits (sink_hold()) and takes nothing more (the broker keeps
 * it). paho 1.3.12 acknowledges only after the callback returns, so the
 * wait alone keeps the broker's copy of the reading in hand; the reserve
 * keeps it also where the acknowledgement comes first (older paho
 * sources), without leaning on paho's own files, which sit on the same
 * full filesystem by default.
 *
 * The space is held with fallocate(FALLOC_FL_KEEP_SIZE): the file's size
 * does not change, readers see nothing, and writes at the end use the held
 * blocks. Filesystems without it (EOPNOTSUPP) get no reserve: writes there
 * fail with ENOSPC the ordinary way. reserve_release() gives the space back
 * (ftruncate to the current size) and must run before the file is closed
 * or renamed; a crash leaves the blocks held until the next open releases
 * them.
 */
#ifndef RESERVE_H
#define RESERVE_H

#include <stdbool.h>
#include <sys/types.h>

struct reserve {
	off_t want;         /* bytes to hold ahead of the end */
	off_t low;          /* top up when less than this is left */
	off_t end;          /* held up to here (file offset); -1 unknown */
	bool  unsupported;  /* the filesystem has no fallocate */
};

/* want bytes ahead, topped up below want / 2. */
void reserve_init(struct reserve *r, off_t want);

/*
 * Make sure at least `need` bytes are held past size (the file's end),
 * topping up to `want` when below `low`. 0 when the next `need` bytes can
 * be written; -ENOSPC / -EDQUOT when they cannot be held (nothing taken
 * then); 0 as well when the filesystem cannot reserve (unsupported).
 */
int reserve_ensure(struct reserve *r, int fd, off_t size, off_t need);

/* Give back what is held past size (ftruncate to size; after
 * reserve_init also what a crashed run left held). 0 or -errno. */
int reserve_release(struct reserve *r, int fd, off_t size);

#endif
