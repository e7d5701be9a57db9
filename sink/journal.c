/*
 * journal.c: the sink's local journal of readings not yet in the database
 * (see journal.h).
 */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reserve.h"

#define SEG_DIGITS  20
#define READ_CHUNK  (256 * 1024)

struct journal {
	char           *dir;
	int             lockfd;
	int             fd;         /* the segment being appended to */
	uint64_t        cur;        /* its number */
	off_t           size;
	uint64_t        lines;
	struct reserve  res;
	int             sync;
	uint64_t       *pending;    /* closed segments, oldest first */
	size_t          npending, cap;
};

static int
seg_path(const struct journal *j, uint64_t num, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%0*" PRIu64 ".seg", j->dir, SEG_DIGITS, num);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int
fsync_dir(const char *dir)
{
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	if (fsync(fd) == -1)
		rc = -errno;
	close(fd);
	return rc;
}

static int
push_pending(struct journal *j, uint64_t num)
{
	if (j->npending == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 16;
		uint64_t *p = realloc(j->pending, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		j->pending = p;
		j->cap = cap;
	}
	j->pending[j->npending++] = num;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* "<20 digits>.seg" -> its number. 0 or -1. */
static int
seg_name(const char *name, uint64_t *num)
{
	char *end;

	if (strlen(name) != SEG_DIGITS + 4 || strcmp(name + SEG_DIGITS, ".seg") != 0 ||
	    name[0] < '0' || name[0] > '9')
		return -1;
	errno = 0;
	*num = strtoull(name, &end, 10);
	return errno == 0 && end == name + SEG_DIGITS ? 0 : -1;
}

/* The segments a previous run left, into j->pending (sorted); empty ones
 * are removed. Returns the highest number seen (0: none) or -errno. */
static int64_t
scan(struct journal *j)
{
	char path[4096];
	struct dirent *e;
	struct stat st;
	uint64_t num, high = 0;
	DIR *d;
	int rc = 0;

	if ((d = opendir(j->dir)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (seg_name(e->d_name, &num) < 0)
			continue;
		if (num > high)
			high = num;
		if ((rc = seg_path(j, num, path, sizeof(path))) < 0)
			break;
		if (stat(path, &st) == 0 && st.st_size == 0) {
			(void)unlink(path);
			continue;
		}
		if ((rc = push_pending(j, num)) < 0)
			break;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	if (j->npending > 1)
		qsort(j->pending, j->npending, sizeof(*j->pending), cmp_u64);
	return (int64_t)(high & INT64_MAX);
}

/* Start segment num as the one appended to. 0 or -errno. */
static int
start_segment(struct journal *j, uint64_t num)
{
	char path[4096];
	int fd, rc;

	if ((rc = seg_path(j, num, path, sizeof(path))) < 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1)
		return -errno;
	/* A power cut must not lose the name of a segment whose lines
	 * were acknowledged. */
	if (j->sync && (rc = fsync_dir(j->dir)) < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	j->fd = fd;
	j->cur = num;
	j->size = 0;
	j->lines = 0;
	reserve_init(&j->res, JOURNAL_RESERVE);
	/* No room yet is not an error here: journal_ready() reports it. */
	(void)reserve_ensure(&j->res, fd, 0, JOURNAL_LINE_MAX);
	return 0;
}

struct journal *
journal_open(const char *dir, int sync)
{
	struct journal *j;
	char path[4096];
	int64_t high;
	int rc = -ENOMEM;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->fd = -1;
	j->lockfd = -1;
	j->sync = sync;
	if ((j->dir = strdup(dir)) == NULL)
		goto fail;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	if (snprintf(path, sizeof(path), "%s/lock", dir) >= (int)sizeof(path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if ((j->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(j->lockfd, LOCK_EX | LOCK_NB) == -1) {
		rc = -errno;
		goto fail;
	}
	if ((high = scan(j)) < 0) {
		rc = (int)high;
		goto fail;
	}
	if ((rc = start_segment(j, (uint64_t)high + 1)) < 0)
		goto fail;
	return j;
fail:
	journal_close(j);
	errno = -rc;
	return NULL;
}

void
journal_close(struct journal *j)
{
	char path[4096];

	if (j == NULL)
		return;
	if (j->fd != -1) {
		(void)reserve_release(&j->res, j->fd, j->size);
		close(j->fd);
		if (j->lines == 0 && seg_path(j, j->cur, path, sizeof(path)) == 0)
			(void)unlink(path);
	}
	if (j->lockfd != -1 && j->fd != -1 && j->lines == 0 && j->npending == 0 &&
	    snprintf(path, sizeof(path), "%s/lock", j->dir) < (int)sizeof(path)) {
		/* Nothing left to send: leave no directory behind. */
		(void)unlink(path);
		(void)rmdir(j->dir);
	}
	if (j->lockfd != -1)
		close(j->lockfd);       /* releases the lock */
	free(j->pending);
	free(j->dir);
	free(j);
}

int
journal_append(struct journal *j, const char *line, size_t len)
{
	ssize_t n;
	size_t done = 0;
	int rc;

	if (j->fd == -1)
		return -EBADF;
	if ((rc = reserve_ensure(&j->res, j->fd, j->size, (off_t)len)) < 0)
		return rc;
	while (done < len) {
		n = write(j->fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto undo;
		}
		done += (size_t)n;
	}
	if (j->sync && fdatasync(j->fd) == -1) {
		rc = -errno;
		goto undo;
	}
	j->size += (off_t)len;
	j->lines++;
	return 0;
undo:
	/* No half line may stay: the reading was not acknowledged. */
	(void)reserve_release(&j->res, j->fd, j->size);
	return rc;
}

int
journal_ready(struct journal *j)
{
	if (j->fd == -1)
		return -EBADF;
	return reserve_ensure(&j->res, j->fd, j->size, JOURNAL_LINE_MAX);
}

uint64_t
journal_current(const struct journal *j)
{
	return j->lines;
}

int
journal_rotate(struct journal *j)
{
	int oldfd = j->fd, rc;
	struct reserve oldres = j->res;
	off_t oldsize = j->size;
	uint64_t old = j->cur, oldlines = j->lines;

	if (j->lines == 0)
		return 0;
	if ((rc = push_pending(j, old)) < 0)
		return rc;
	if ((rc = start_segment(j, old + 1)) < 0) {
		j->npending--;
		j->fd = oldfd;
		j->cur = old;
		j->size = oldsize;
		j->lines = oldlines;
		j->res = oldres;
		return rc;
	}
	/* No reserve_release(): the segment is unlinked once committed,
	 * which frees the held space with it; a truncate here would cost a
	 * second round of freeing (and, with online discard, a wait). */
	close(oldfd);
	return 0;
}

size_t
journal_pending(const struct journal *j)
{
	return j->npending;
}

int
journal_pending_at(const struct journal *j, size_t i, uint64_t *num, char *buf,
                   size_t cap)
{
	if (i >= j->npending)
		return -ENOENT;
	*num = j->pending[i];
	return seg_path(j, *num, buf, cap);
}

int
journal_drop(struct journal *j, uint64_t num)
{
	char path[4096];
	int rc;

	if (j->npending == 0 || j->pending[0] != num)
		return -EINVAL;
	if ((rc = seg_path(j, num, path, sizeof(path))) < 0)
		return rc;
	if (unlink(path) == -1 && errno != ENOENT)
		return -errno;
	j->npending--;
	memmove(j->pending, j->pending + 1, j->npending * sizeof(*j->pending));
	return 0;
}

int
journal_format(const struct pt_reading *r, int64_t recv_us, char *buf, size_t cap)
{
	char mv[32] = "-", raw[32] = "-";
	int n;

	if (r->has_mv)
		snprintf(mv, sizeof(mv), "%.17g", r->mv);
	if (r->has_raw)
		snprintf(raw, sizeof(raw), "%" PRId64, r->raw);
	n = snprintf(buf, cap, "%s %s %" PRIu64 " %" PRId64 " %.17g %s %s %" PRId64 "\n",
	    r->device, r->boot, r->seq, r->ts_us, r->temp_c, mv, raw, recv_us);
	if (n < 0 || (size_t)n >= cap)
		return -EMSGSIZE;
	return n;
}

/* The next blank-separated field of [*p, end) as a string in out. */
static int
next_field(const char **p, const char *end, char *out, size_t cap)
{
	const char *s = *p, *e = memchr(s, ' ', (size_t)(end - s));
	size_t n;

	if (e == NULL)
		e = end;
	n = (size_t)(e - s);
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = e < end ? e + 1 : end;
	return 0;
}

static int
to_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return -1;
	*out = v;
	return 0;
}

static int
to_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno != 0 || *end != '\0' || end == s ? -1 : 0;
}

int
journal_parse(const char *s, size_t len, struct pt_reading *r, int64_t *recv_us)
{
	const char *p = s, *end = s + len;
	char f[8][PT_DEVICE_MAX + 2];
	int64_t seq;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 8; i++)
		if (next_field(&p, end, f[i], sizeof(f[i])) < 0)
			return -EINVAL;
	if (p != end || strlen(f[0]) > PT_DEVICE_MAX || strlen(f[1]) != PT_BOOT_LEN)
		return -EINVAL;
	strcpy(r->device, f[0]);
	strcpy(r->boot, f[1]);
	if (to_i64(f[2], &seq) < 0 || seq < 0 || to_i64(f[3], &r->ts_us) < 0 ||
	    to_double(f[4], &r->temp_c) < 0 || to_i64(f[7], recv_us) < 0)
		return -EINVAL;
	r->seq = (uint64_t)seq;
	if (strcmp(f[5], "-") != 0) {
		if (to_double(f[5], &r->mv) < 0)
			return -EINVAL;
		r->has_mv = true;
	}
	if (strcmp(f[6], "-") != 0) {
		if (to_i64(f[6], &r->raw) < 0)
			return -EINVAL;
		r->has_raw = true;
	}
	return 0;
}

int
journal_read_segment(const char *path, uint64_t *off, uint64_t *bad,
                     int (*fn)(void *ctx, const struct pt_reading *r, int64_t recv_us),
                     void *ctx)
{
	struct pt_reading r;
	int64_t recv_us;
	char *buf;
	const char *s, *nl;
	ssize_t n;
	size_t pos;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	if ((buf = malloc(READ_CHUNK)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		n = pread(fd, buf, READ_CHUNK, (off_t)*off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		for (pos = 0; pos < (size_t)n; pos = (size_t)(nl - buf) + 1) {
			s = buf + pos;
			if ((nl = memchr(s, '\n', (size_t)n - pos)) == NULL)
				break;
			if (journal_parse(s, (size_t)(nl - s), &r, &recv_us) < 0) {
				(*bad)++;
			} else if ((rc = fn(ctx, &r, recv_us)) != 0) {
				*off += pos;
				goto out;
			}
		}
		if (pos == 0 && n == READ_CHUNK) {
			/* No line end in a whole chunk: not ours. Skip it. */
			(*bad)++;
			pos = (size_t)n;
		}
		*off += pos;
		if (pos < (size_t)n && n < READ_CHUNK)
			break;  /* a torn last line: never acknowledged */
	}
out:
	free(buf);
	close(fd);
	return rc;
}
