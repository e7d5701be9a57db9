/*
 * reserve.h: disk space held ahead of an append-only file, so that a
 * reading the sink has taken can always be written.
 *
 * Why: paho acknowledges a QoS 1 message before the sink sees it, so on a
 * full filesystem the reading in hand has nowhere to go (paho's own
 * persistence sits on the same filesystem by default). With a reserve the
 * reading in hand is written from space already held; the sink then asks
 * for more before it takes the next reading, and when none is left it
 * stops taking readings (the broker keeps them) instead of taking one it
 * cannot write.
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
