/*
 * store_file.c: the file backends (text, csv, jsonl) behind store.h:
 * writer.c writes the lines, recover.c reads a logger's tail back so a
 * redelivered reading is not written twice.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outcheck.h"
#include "recover.h"
#include "writer.h"

struct file_store {
	struct store    base;
	struct writer  *w;
	struct recover *rec;    /* APPEND: the file's tail (text format) */
};

static void
file_close(struct store *s)
{
	struct file_store *f = (struct file_store *)s;

	writer_free(f->w);
	recover_free(f->rec);
	free(f);
}

static struct store *
file_open(const struct store_cfg *cfg, struct store_info *info, char *err,
          size_t err_cap)
{
	struct file_store *f;
	struct recover_info ri;
	enum writer_format fmt;
	int e;

	if (writer_format_parse(cfg->format, &fmt) < 0) {
		snprintf(err, err_cap, "option --format: '%s' is not a file format",
		    cfg->format);
		errno = EINVAL;
		return NULL;
	}
	/* A directory, a missing one, or a logger's file of another format:
	 * a usage error now, not a failure after receiving. */
	if (output_check(cfg->output, cfg->format, cfg->mode == STORE_APPEND, err,
	    err_cap) < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->base.ops = &store_file_ops;
	f->w = writer_open(cfg->output, fmt,
	    cfg->mode == STORE_APPEND ? WRITER_APPEND : WRITER_COMPLETE);
	if (f->w == NULL) {
		e = errno;
		snprintf(err, err_cap, "cannot open %s: %s", cfg->output, strerror(e));
		goto fail;
	}
	/* --sync full: fsync every line before it is acknowledged; normal
	 * (the default): the main thread fsyncs about once a second. */
	writer_set_sync(f->w, cfg->sync == STORE_SYNC_FULL);
	if (cfg->mode == STORE_APPEND && cfg->dedup != NULL) {
		/* Readings already in the file are not stored again when the
		 * broker or paho delivers them a second time after a crash. */
		if ((f->rec = recover_load(cfg->output, fmt, cfg->dedup, &ri)) == NULL) {
			e = errno;
			snprintf(err, err_cap, "cannot read back %s: %s", cfg->output,
			    strerror(e));
			goto fail;
		}
		info->recovered = ri.lines;
		info->skipped = ri.skipped;
	}
	return &f->base;
fail:
	file_close(&f->base);
	errno = e;
	return NULL;
}

static int
file_seen(struct store *s, const struct pt_reading *r)
{
	return recover_seen(((struct file_store *)s)->rec, r);
}

static int
file_last_before(struct store *s, const struct pt_reading *r, uint64_t *seq)
{
	return recover_last_before(((struct file_store *)s)->rec, r, seq);
}

static int
file_put(struct store *s, const struct pt_reading *r, const void *payload,
         size_t len, int64_t recv_us)
{
	return writer_write(((struct file_store *)s)->w, r, payload, len, recv_us);
}

static int
file_ready(struct store *s)
{
	return writer_ready(((struct file_store *)s)->w);
}

static int
file_commit(struct store *s)
{
	return writer_commit(((struct file_store *)s)->w);
}

static void
file_abandon(struct store *s, const char **kept)
{
	writer_abandon(((struct file_store *)s)->w, kept);
}

static int
file_reopen(struct store *s)
{
	return writer_reopen(((struct file_store *)s)->w);
}

static int
file_sync_fd(struct store *s)
{
	return writer_sync_fd(((struct file_store *)s)->w);
}

const struct store_ops store_file_ops = {
	.name = "file",
	.open = file_open,
	.seen = file_seen,
	.last_before = file_last_before,
	.put = file_put,
	.ready = file_ready,
	.commit = file_commit,
	.abandon = file_abandon,
	.reopen = file_reopen,
	.sync_fd = file_sync_fd,
	.close = file_close,
};
