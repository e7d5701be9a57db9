/*
 * linebuf.c: see pt_linebuf.h.
 */
#include "pt_linebuf.h"

#include <errno.h>
#include <string.h>

int
pt_linebuf_init(struct pt_linebuf *lb, char *buf, size_t cap, size_t max_line)
{
	if (lb == NULL || buf == NULL || max_line == 0 || cap < max_line + 2)
		return -EINVAL;
	lb->buf = buf;
	lb->cap = cap;
	lb->max_line = max_line;
	lb->start = lb->used = 0;
	return 0;
}

void
pt_linebuf_reset(struct pt_linebuf *lb)
{
	lb->start = lb->used = 0;
}

char *
pt_linebuf_space(struct pt_linebuf *lb, size_t *room)
{
	if (lb->start > 0) {
		memmove(lb->buf, lb->buf + lb->start, lb->used - lb->start);
		lb->used -= lb->start;
		lb->start = 0;
	}
	*room = lb->cap - lb->used;
	return lb->buf + lb->used;
}

void
pt_linebuf_added(struct pt_linebuf *lb, size_t n)
{
	lb->used += n <= lb->cap - lb->used ? n : lb->cap - lb->used;
}

int
pt_linebuf_next(struct pt_linebuf *lb, const char **line, size_t *len)
{
	for (;;) {
		char *p = lb->buf + lb->start, *nl;
		size_t avail = lb->used - lb->start, n;

		if ((nl = memchr(p, '\n', avail)) == NULL) {
			/* No LF within the limit (+1 for a CR): too long already. */
			if (avail > lb->max_line + 1) {
				*line = p;
				*len = avail;
				return -E2BIG;
			}
			return 0;
		}
		n = (size_t)(nl - p);
		lb->start += n + 1;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > lb->max_line) {
			*line = p;
			*len = n;
			return -EMSGSIZE;
		}
		if (n == 0)
			continue;
		*line = p;
		*len = n;
		return 1;
	}
}

size_t
pt_linebuf_pending(const struct pt_linebuf *lb)
{
	return lb->used - lb->start;
}
