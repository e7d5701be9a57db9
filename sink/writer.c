/*
 * writer.c: the sink's output file (formats and modes in writer.h).
 *
 * Every line goes out with one write(2), retried on EINTR and short writes;
 * if it still fails, the file is truncated back to where the line began, so
 * no torn line stays. APPEND mode fsyncs each line before returning (unless
 * writer_set_sync() said otherwise): the caller acknowledges the reading
 * only then (SPEC: a reading is either on disk or still held by the MQTT
 * session). COMPLETE mode writes a temporary file "<dir>/.<base>.XXXXXX" and
 * renames it into place on commit. "-" is stdout, written with write(2) as
 * well, so nothing is buffered.
 *
 * Files (not stdout) keep WRITER_RESERVE bytes held ahead of their end
 * (reserve.h), so the line in hand is written even when the filesystem has
 * filled; writer_ready() says when no more can be held.
 */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pt_time.h"
#include "reserve.h"

#define LINE_MAX_LEN    (PT_PAYLOAD_MAX + 64)
#define TAIL_SCAN       2048  /* longer than any line this writer writes */
#define WRITER_RESERVE  (64 * 1024)

struct writer {
	int                 fd;
	enum writer_format  fmt;
	enum writer_mode    mode;
	bool                is_stdout;
	bool                nosync;   /* APPEND: no fsync per line */
	bool                done;     /* committed (COMPLETE) or abandoned */
	struct reserve      res;      /* space held past size (not stdout) */
	off_t               size;     /* file size before the next line */
	uint64_t            lines;    /* readings written */
	char               *path;
	char               *dir;
	char               *tmp;      /* COMPLETE: the temporary file */
	char               *kept;     /* abandon: where the readings stayed */
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

/* One line at w->size; on failure truncate back to it. 0 or -errno. */
static int
put_line(struct writer *w, const char *buf, size_t len)
{
	int rc;

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

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
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

/* jsonl: the payload, trimmed and on one line, with recv_ts added. */
static int
format_jsonl(char *buf, size_t cap, const char *p, size_t len, const char *recv)
{
	size_t i, body;
	int n;

	while (len > 0 && is_ws(p[0])) {
		p++;
		len--;
	}
	while (len > 0 && is_ws(p[len - 1]))
		len--;
	if (len < 2 || p[0] != '{' || p[len - 1] != '}')
		return -EINVAL;
	body = len - 1;
	while (body > 1 && is_ws(p[body - 1]))
		body--;
	n = snprintf(buf, cap, "%.*s%s\"recv_ts\":\"%s\"}\n", (int)body, p,
	    body > 1 ? "," : "", recv);
	if (n < 0 || (size_t)n >= cap)
		return -EMSGSIZE;
	/* Valid JSON has raw CR/LF only as whitespace between tokens. */
	for (i = 0; i < (size_t)n - 1; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	return n;
}

int
writer_write(struct writer *w, const struct pt_reading *r,
             const void *payload, size_t len, int64_t recv_us)
{
	char line[LINE_MAX_LEN], ts[PT_TS_LEN + 1], recv[PT_TS_LEN + 1];
	char mv[32] = "", raw[32] = "";
	int n;

	if (w == NULL || r == NULL)
		return -EINVAL;
	if (w->done || w->fd == -1)
		return -EBADF;
	if ((n = pt_time_format(recv_us, recv, sizeof(recv))) < 0)
		return n;
	switch (w->fmt) {
	case WRITER_TEXT:
		if ((n = pt_time_format(r->ts_us, ts, sizeof(ts))) < 0)
			return n;
		n = snprintf(line, sizeof(line), "%" PRIu64 " %s %s %.2f\n",
		    r->seq, ts, r->device, r->temp_c);
		break;
	case WRITER_CSV:
		if ((n = pt_time_format(r->ts_us, ts, sizeof(ts))) < 0)
			return n;
		if (r->has_mv)
			snprintf(mv, sizeof(mv), "%.1f", r->mv);
		if (r->has_raw)
			snprintf(raw, sizeof(raw), "%" PRId64, r->raw);
		n = snprintf(line, sizeof(line),
		    "%s,%s,%" PRIu64 ",%s,%.2f,%s,%s,%s\n", r->device, r->boot,
		    r->seq, ts, r->temp_c, mv, raw, recv);
		break;
	case WRITER_JSONL:
		if (payload == NULL || len > PT_PAYLOAD_MAX)
			return -EINVAL;
		n = format_jsonl(line, sizeof(line), payload, len, recv);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(line))
		return -EMSGSIZE;
	if ((n = put_line(w, line, (size_t)n)) != 0)
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
	if ((rc = reserve_release(&w->res, w->fd, w->size)) != 0)
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
	if (w->fd != -1 && !w->is_stdout)
		(void)reserve_release(&w->res, w->fd, w->size);
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
writer_ready(struct writer *w)
{
	if (w == NULL)
		return -EINVAL;
	if (w->done || w->fd == -1 || w->is_stdout)
		return 0;
	return reserve_ensure(&w->res, w->fd, w->size, LINE_MAX_LEN);
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
		if (!old.nosync)
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
