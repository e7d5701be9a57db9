/*
 * store.c: the table of output backends by --format, and what they share:
 * where their local state lives, which errors are worth waiting out.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char             *format;
	const struct store_ops *ops;
	int                     uri;    /* output is a database URI, not a file */
} formats[] = {
	{ "text", &store_file_ops, 0 },
	{ "csv", &store_file_ops, 0 },
	{ "jsonl", &store_file_ops, 0 },
	{ "sqlite", &store_sqlite_ops, 0 },
	{ "postgresql", &store_pg_ops, 1 },
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static int
find(const char *format)
{
	for (size_t i = 0; format != NULL && i < NFORMATS; i++)
		if (strcmp(formats[i].format, format) == 0)
			return (int)i;
	return -1;
}

const struct store_ops *
store_find(const char *format)
{
	int i = find(format);

	return i < 0 ? NULL : formats[i].ops;
}

const char *
store_names(void)
{
	static char names[128];
	size_t n = 0;

	if (names[0] != '\0')
		return names;
	for (size_t i = 0; i < NFORMATS; i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
		    i == 0 ? "" : i + 1 == NFORMATS ? " or " : ", ",
		    formats[i].format);
	return names;
}

int
store_sync_parse(const char *s, enum store_sync *out)
{
	if (s == NULL)
		*out = STORE_SYNC_DEFAULT;
	else if (strcmp(s, "normal") == 0)
		*out = STORE_SYNC_NORMAL;
	else if (strcmp(s, "full") == 0)
		*out = STORE_SYNC_FULL;
	else
		return -EINVAL;
	return 0;
}

/* A client id as a file name: anything but [A-Za-z0-9._-] becomes '_'. */
static void
safe_name(const char *in, char *out, size_t cap)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < cap; i++) {
		char ch = in[i];

		out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ? ch : '_';
	}
	out[i] = '\0';
	if (out[0] == '.')      /* never "." or ".." */
		out[0] = '_';
}

char *
store_state_path(const struct store_cfg *cfg, const char *suffix)
{
	const char *path = cfg->output, *slash, *base, *dir;
	char id[128];
	char *out = NULL;
	int n, i = find(cfg->format), dirlen;

	/* stdout keeps no state unless told where (--state-dir): a pipe is
	 * not a place to put it beside. */
	if (path == NULL || (strcmp(path, "-") == 0 && cfg->state_dir == NULL))
		return NULL;
	if ((i >= 0 && formats[i].uri) || strcmp(path, "-") == 0) {
		safe_name(cfg->client_id != NULL ? cfg->client_id : "pitemp-sink",
		    id, sizeof(id));
		base = id;
		dir = cfg->state_dir != NULL ? cfg->state_dir : ".";
		dirlen = (int)strlen(dir);
	} else {
		slash = strrchr(path, '/');
		base = slash != NULL ? slash + 1 : path;
		if (cfg->state_dir != NULL) {
			dir = cfg->state_dir;
			dirlen = (int)strlen(dir);
		} else if (slash == NULL) {
			dir = ".";
			dirlen = 1;
		} else {
			dir = path;
			dirlen = (int)(slash - path);
		}
	}
	n = asprintf(&out, "%.*s/.%s%s", dirlen, dir, base, suffix);
	return n < 0 ? NULL : out;
}

int
store_transient(int rc)
{
	switch (-rc) {
	case ENOSPC:
	case EDQUOT:
	case EAGAIN:
	case EBUSY:
	case ENOTCONN:
	case ECONNREFUSED:
	case ECONNRESET:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return 1;
	default:
		return 0;
	}
}

struct store *
store_open(const struct store_cfg *cfg, struct store_info *info, char *err,
           size_t err_cap)
{
	const struct store_ops *ops = store_find(cfg->format);
	struct store_info scratch;

	if (info == NULL)
		info = &scratch;
	memset(info, 0, sizeof(*info));
	if (ops == NULL) {
		snprintf(err, err_cap, "option --format: '%s' is not %s",
		    cfg->format != NULL ? cfg->format : "", store_names());
		errno = EINVAL;
		return NULL;
	}
	return ops->open(cfg, info, err, err_cap);
}

int
store_seen(struct store *s, const struct pt_reading *r)
{
	return s->ops->seen != NULL ? s->ops->seen(s, r) : 0;
}

int
store_last_before(struct store *s, const struct pt_reading *r, uint64_t *seq)
{
	return s->ops->last_before != NULL ? s->ops->last_before(s, r, seq) : 0;
}

int
store_put(struct store *s, const struct pt_reading *r, const void *payload,
          size_t len, int64_t recv_us)
{
	return s->ops->put(s, r, payload, len, recv_us);
}

int
store_ready(struct store *s)
{
	return s->ops->ready != NULL ? s->ops->ready(s) : 0;
}

int
store_commit(struct store *s)
{
	return s->ops->commit(s);
}

void
store_abandon(struct store *s, const char **kept)
{
	if (kept != NULL)
		*kept = NULL;
	s->ops->abandon(s, kept);
}

int
store_reopen(struct store *s)
{
	return s->ops->reopen != NULL ? s->ops->reopen(s) : 0;
}

int
store_sync_fd(struct store *s)
{
	return s->ops->sync_fd != NULL ? s->ops->sync_fd(s) : -1;
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}
