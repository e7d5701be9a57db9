/*
 * reserve.c: space held ahead of an append-only file (see reserve.h).
 */
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void
reserve_init(struct reserve *r, off_t want)
{
	r->want = want;
	r->low = want / 2;
	r->end = -1;        /* unknown: a crash may have left blocks held */
	r->unsupported = false;
}

int
reserve_ensure(struct reserve *r, int fd, off_t size, off_t need)
{
	off_t left = r->end > size ? r->end - size : 0;
	off_t ask = r->want > need ? r->want : need;

	if (r->unsupported || (left >= r->low && left >= need))
		return 0;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, size, ask) == 0) {
		r->end = size + ask;
		return 0;
	}
	if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL ||
	    errno == ENODEV || errno == ESPIPE) {
		/* Not a regular file on a filesystem that can do it. */
		r->unsupported = true;
		return 0;
	}
	if ((errno == ENOSPC || errno == EDQUOT) && left >= need)
		return 0;       /* enough for the next one; try again later */
	return -errno;
}

int
reserve_release(struct reserve *r, int fd, off_t size)
{
	if (r->unsupported || (r->end != -1 && r->end <= size)) {
		r->end = size;
		return 0;
	}
	r->end = size;
	return ftruncate(fd, size) == 0 ? 0 : -errno;
}
