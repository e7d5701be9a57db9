/*
 * writer.c: the sink's output file (formats and modes in writer.h).
 *
 * In APPEND mode and on stdout every line goes out with one write(2); in
 * COMPLETE mode lines gather in a 32 KiB buffer written with one write(2)
 * when full and on commit (nothing needs them in the file earlier). Writes
 * are retried on EINTR and short writes; if one still fails, the file is
 * truncated back to where it began, so no torn line stays.
 *
 * APPEND mode (the logger): once writer_write() returns, the line is in the
 * kernel, which a kill of the sink cannot undo; the caller acknowledges the
 * reading only then. With writer_set_sync(w, 1) (--sync full) each line is
 * also fsynced first (a power cut loses none); otherwise (--sync normal)
 * the owner fsyncs a moment later, off the writing thread
 * (writer_sync_fd()). COMPLETE mode writes a temporary file
 * "<dir>/.<base>.XXXXXX" and renames it into place on commit. "-" is
 * stdout, written with write(2) as well, so nothing is buffered.
 *
 * Files (not stdout) keep WRITER_RESERVE bytes held ahead of their end
 * (reserve.h), so the line in hand is written even when the filesystem has
 * filled; writer_ready() says when no more can be held.
 */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linefmt.h"
#include "reserve.h"

#define LINE_MAX_LEN    LINEFMT_MAX
#define TAIL_SCAN       2048  /* longer than any line this writer writes */
#define WRITER_RESERVE  (64 * 1024)
#define WRITER_BUF      (32 * 1024)     /* COMPLETE: lines per write(2) */

struct writer {
	int                 fd;
	enum writer_format  fmt;
	enum writer_mode    mode;
	bool                is_stdout;
	bool                nosync;   /* APPEND: no fsync per line */
	bool                unsynced; /* nosync: lines since writer_sync_fd() */
	bool                done;     /* committed (COMPLETE) or abandoned */
	struct reserve      res;      /* space held past size (not stdout) */
	off_t               size;     /* file size before the next line */
	uint64_t            lines;    /* readings written */
	char               *path;
	char               *dir;
	char               *tmp;      /* COMPLETE: the temporary file */
	char               *kept;     /* abandon: where the readings stayed */
	char               *buf;      /* COMPLETE (not stdout): lines not yet */
	size_t              buf_len;  /* written, WRITER_BUF bytes at most */
};

static const char *const headers[] = {
	[WRITER_TEXT] = "# seq ts device temp_c\n",
	[WRITER_CSV] = "device,boot,seq,ts,temp_c,mv,raw,recv_ts\n",
	[WRITER_JSONL] = "",
};

int
writer_format_parse(const char *s, enum writer_format *out)
{
	if (s == NULL || out == NULL)
		return -EINVAL;
	if (strcmp(s, "text") == 0)
		*out = WRITER_TEXT;
	else if (strcmp(s, "csv") == 0)
		*out = WRITER_CSV;
	else if (strcmp(s, "jsonl") == 0)
		*out = WRITER_JSONL;
	else
		return -EINVAL;
	return 0;
}

/* Write all of buf, retrying EINTR and short writes. 0 or -errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * COMPLETE mode: write the lines gathered in w->buf at w->size. On failure
 * truncate back and keep them (a later flush, commit or abandon tries
 * again). 0 or -errno.
 */
static int
flush_buf(struct writer *w)
{
	int rc;

	if (w->buf_len == 0)
		return 0;
	if ((rc = reserve_ensure(&w->res, w->fd, w->size, (off_t)w->buf_len)) != 0)
		return rc;
	if ((rc = write_all(w->fd, w->buf, w->buf_len)) != 0) {
		/* No O_APPEND here: the next write goes where this began. */
		(void)reserve_release(&w->res, w->fd, w->size);
		(void)lseek(w->fd, w->size, SEEK_SET);
		return rc;
	}
	w->size += (off_t)w->buf_len;
	w->buf_len = 0;
	return 0;
}

/*
 * One line. COMPLETE mode (a file): into w->buf, which goes out in one
 * write(2) when full and at commit; nothing needs a line in the file before
 * then, and a write per line was a system call per reading. Otherwise at
 * w->size, fsynced as writer_set_sync() says; on failure truncated back.
 * 0 or -errno (the line was not taken).
 */
static int
put_line(struct writer *w, const char *buf, size_t len)
{
	int rc;

	if (w->buf != NULL) {
		if (len > WRITER_BUF - w->buf_len && (rc = flush_buf(w)) != 0)
			return rc;
		memcpy(w->buf + w->buf_len, buf, len);
		w->buf_len += len;
		return 0;
	}

	/* Normally a no-op: writer_ready() already holds the room. */
	if (!w->is_stdout &&
	    (rc = reserve_ensure(&w->res, w->fd, w->size, (off_t)len)) != 0)
		return rc;
	rc = write_all(w->fd, buf, len);
	if (rc == 0 && w->mode == WRITER_APPEND && !w->is_stdout &&
	    !w->nosync && fsync(w->fd) == -1)
		rc = -errno;
	if (rc != 0) {
		/* An unsynced line must not stay either: it would be
		 * written again when the reading is redelivered. */
		if (!w->is_stdout)
			(void)reserve_release(&w->res, w->fd, w->size);
		return rc;
	}
	w->size += (off_t)len;
	if (w->nosync && !w->is_stdout)
		w->unsynced = true;
	return 0;
}

/* The directory part of path ("." for a bare name); NULL on ENOMEM. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
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

/* The process umask, without changing it where /proc tells us. */
static mode_t
current_umask(void)
{
	char line[128];
	unsigned int u;
	mode_t m = 022;
	FILE *f;

	if ((f = fopen("/proc/self/status", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "Umask: %o", &u) == 1) {
				fclose(f);
				return (mode_t)u;
			}
		fclose(f);
	}
	/* Racy with threads that create files, so only as a fallback. */
	m = umask(m);
	umask(m);
	return m;
}

/*
 * APPEND onto a file that a crash left with a torn last line: cut back to
 * the last newline, if there is one within TAIL_SCAN bytes of the end (or
 * none at all in a file shorter than that). Anything else is left alone.
 */
static int
trim_torn_tail(struct writer *w)
{
	char buf[TAIL_SCAN];
	off_t from;
	ssize_t n;

	if (w->size == 0)
		return 0;
	from = w->size > TAIL_SCAN ? w->size - TAIL_SCAN : 0;
	if ((n = pread(w->fd, buf, (size_t)(w->size - from), from)) == -1)
		return -errno;
	if (n == 0 || buf[n - 1] == '\n')
		return 0;
	while (n > 0 && buf[n - 1] != '\n')
		n--;
	if (n == 0 && from > 0)
		return 0;
	if (ftruncate(w->fd, from + n) == -1)
		return -errno;
	w->size = from + n;
	return 0;
}

static int
open_complete(struct writer *w)
{
	const char *slash = strrchr(w->path, '/');
	const char *base = slash != NULL ? slash + 1 : w->path;

	if ((w->dir = dir_of(w->path)) == NULL)
		return -ENOMEM;
	if (*base == '\0')
		return -EISDIR;
	if (asprintf(&w->tmp, "%s/.%s.XXXXXX", w->dir, base) == -1) {
		w->tmp = NULL;
		return -ENOMEM;
	}
	if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) == -1) {
		free(w->tmp);
		w->tmp = NULL;
		return -errno;
	}
	/* mkstemp makes 0600; the finished file is an ordinary 0644 one. */
	if (fchmod(w->fd, 0644 & ~current_umask()) == -1)
		return -errno;
	return 0;
}

static int
open_append(struct writer *w)
{
	struct stat st;
	int rc;

	w->fd = open(w->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (w->fd == -1)
		return -errno;
	if (fstat(w->fd, &st) == -1)
		return -errno;
	w->size = st.st_size;
	/* A killed run may have left its reserve held past the end. */
	if ((rc = reserve_release(&w->res, w->fd, w->size)) != 0)
		return rc;
	if ((rc = trim_torn_tail(w)) != 0)
		return rc;
	return 0;
}

/* A new file's header (and, appending, its name made durable). */
static int
put_header(struct writer *w)
{
	int rc;

	if (w->size != 0 || *headers[w->fmt] == '\0')
		return 0;
	if ((rc = put_line(w, headers[w->fmt], strlen(headers[w->fmt]))) != 0)
		return rc;
	if (w->mode == WRITER_APPEND && !w->is_stdout &&
	    (w->dir != NULL || (w->dir = dir_of(w->path)) != NULL))
		(void)fsync_dir(w->dir);
	return 0;
}

struct writer *
writer_open(const char *path, enum writer_format fmt, enum writer_mode mode)
{
	struct writer *w = NULL;
	struct stat st;
	int rc = -EINVAL;

	if (path == NULL || *path == '\0' || (unsigned)fmt > WRITER_JSONL ||
	    (unsigned)mode > WRITER_APPEND)
		goto out;
	rc = -ENOMEM;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->path = strdup(path)) == NULL)
		goto out;
	w->fd = -1;
	w->fmt = fmt;
	w->mode = mode;
	reserve_init(&w->res, WRITER_RESERVE);
	if (strcmp(path, "-") == 0) {
		w->is_stdout = true;
		w->fd = STDOUT_FILENO;
		fflush(stdout);
		/* Appending to a non-empty redirected file: no second header. */
		if (mode == WRITER_APPEND && fstat(w->fd, &st) == 0 &&
		    S_ISREG(st.st_mode))
			w->size = st.st_size;
	} else if (mode == WRITER_COMPLETE) {
		if ((rc = open_complete(w)) != 0)
			goto out;
		rc = -ENOMEM;
		if ((w->buf = malloc(WRITER_BUF)) == NULL)
			goto out;
	} else {
		if ((rc = open_append(w)) != 0)
			goto out;
	}
	if ((rc = put_header(w)) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		writer_free(w);     /* unlinks a temporary file: no line in it */
		errno = -rc;
		return NULL;
	}
	return w;
}

int
writer_write(struct writer *w, const struct pt_reading *r,
             const void *payload, size_t len, int64_t recv_us)
{
	char buf[LINE_MAX_LEN];
	int n;

	if (w == NULL || r == NULL)
		return -EINVAL;
	if (w->done || w->fd == -1)
		return -EBADF;
	if ((n = linefmt_reading(w->fmt, r, payload, len, recv_us, buf,
	    sizeof(buf))) < 0)
		return n;
	if ((n = put_line(w, buf, (size_t)n)) != 0)
		return n;
	w->lines++;
	return 0;
}

/*
 * COMPLETE: fsync, rename over path, fsync the directory; afterwards the
 * writer takes no more lines. APPEND: fsync (every line already was).
 * stdout: nothing to do. 0 or -errno; after a failure the temporary file is
 * still there for writer_abandon().
 */
int
writer_commit(struct writer *w)
{
	int rc;

	if (w == NULL)
		return -EINVAL;
	if (w->done || w->fd == -1)
		return -EBADF;
	if (w->is_stdout)
		return 0;
	if ((rc = flush_buf(w)) != 0 ||
	    (rc = reserve_release(&w->res, w->fd, w->size)) != 0)
		return rc;
	if (fsync(w->fd) == -1)
		return -errno;
	if (w->mode == WRITER_APPEND)
		return 0;
	if (rename(w->tmp, w->path) == -1)
		return -errno;
	free(w->tmp);
	w->tmp = NULL;
	w->done = true;
	if ((rc = fsync_dir(w->dir)) != 0)
		return rc;
	return 0;
}

void
writer_abandon(struct writer *w, const char **kept)
{
	if (kept != NULL)
		*kept = NULL;
	if (w == NULL || w->done)
		return;
	w->done = true;
	if (w->fd != -1 && !w->is_stdout) {
		(void)flush_buf(w);     /* best effort: keep all that fits */
		(void)reserve_release(&w->res, w->fd, w->size);
	}
	if (w->tmp != NULL && w->lines == 0) {
		unlink(w->tmp);
	} else if (w->tmp != NULL) {
		(void)fsync(w->fd);
		if (asprintf(&w->kept, "%s.partial", w->path) == -1)
			w->kept = NULL;
		if (w->kept != NULL && rename(w->tmp, w->kept) == 0) {
			(void)fsync_dir(w->dir);
		} else {
			/* The readings stay in the temporary file: say so. */
			free(w->kept);
			w->kept = w->tmp;
			w->tmp = NULL;
		}
	}
	free(w->tmp);
	w->tmp = NULL;
	if (w->fd != -1 && !w->is_stdout)
		close(w->fd);
	w->fd = -1;
	if (kept != NULL)
		*kept = w->kept;
}

/* Freeing a COMPLETE writer neither committed nor abandoned abandons it. */
void
writer_free(struct writer *w)
{
	if (w == NULL)
		return;
	if (!w->done && w->tmp != NULL)
		writer_abandon(w, NULL);
	if (w->fd != -1 && !w->is_stdout) {
		(void)reserve_release(&w->res, w->fd, w->size);
		close(w->fd);
	}
	free(w->kept);
	free(w->tmp);
	free(w->buf);
	free(w->dir);
	free(w->path);
	free(w);
}

void
writer_set_sync(struct writer *w, int per_line)
{
	if (w != NULL)
		w->nosync = !per_line;
}

int
writer_sync_fd(struct writer *w)
{
	int fd;

	if (w == NULL || !w->unsynced || w->done || w->fd == -1 || w->is_stdout)
		return -1;
	if ((fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	w->unsynced = false;
	return fd;
}

int
writer_ready(struct writer *w)
{
	if (w == NULL)
		return -EINVAL;
	if (w->done || w->fd == -1 || w->is_stdout)
		return 0;
	/* Buffered: room for what a flush on the next line would write. */
	return reserve_ensure(&w->res, w->fd, w->size,
	    (off_t)(w->buf_len + LINE_MAX_LEN));
}

/*
 * APPEND: close the file and open path again (logrotate renamed it; a new
 * file gets its header). On failure the old file stays in use. COMPLETE
 * and stdout: nothing to do.
 */
int
writer_reopen(struct writer *w)
{
	struct writer old;
	int rc;

	if (w == NULL)
		return -EINVAL;
	if (w->mode != WRITER_APPEND || w->is_stdout)
		return 0;
	if (w->done || w->fd == -1)
		return -EBADF;
	old = *w;
	reserve_init(&w->res, WRITER_RESERVE);
	if ((rc = open_append(w)) == 0 && (rc = put_header(w)) == 0) {
		if (!old.nosync || old.unsynced)
			(void)fsync(old.fd);
		(void)reserve_release(&old.res, old.fd, old.size);
		close(old.fd);
		return 0;
	}
	if (w->fd != -1 && w->fd != old.fd)
		close(w->fd);
	w->fd = old.fd;
	w->size = old.size;
	w->res = old.res;
	return rc;
}
