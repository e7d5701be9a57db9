/*
 * store_sqlite.c: --format sqlite, the readings in an SQLite database
 * (store.h). The only file that includes sqlite3.h.
 *
 * Table `readings` (created if missing): device, boot, seq, ts (RFC 3339
 * text as in the payload), temp_c, mv, raw, recv_ts; primary key (device,
 * boot, seq), so the database itself stores a reading once (a repeat is
 * ignored: ON CONFLICT DO NOTHING, and put() says 1). Index on ts for
 * queries by time.
 *
 * Every put() is its own transaction, committed before it returns: with
 * the write-ahead log (journal_mode WAL) a commit is an append to the WAL
 * file. synchronous NORMAL (--sync normal, the default) does not fsync it:
 * a committed reading survives a kill of the sink (the kernel has it) but
 * a power cut may roll back the last commits. synchronous FULL (--sync
 * full) fsyncs the WAL at every commit: a committed reading survives a
 * power cut too, at the disk's fsync rate (docs/storage.md has figures).
 *
 * paho 1.3.12 acknowledges the message only after the callback has
 * returned, so a kill inside the commit loses nothing: the broker sends
 * the reading again (docs/delivery.md).
 *
 * A busy database (another writer holding the lock past busy_timeout) and
 * a full disk are transient errors (-EBUSY, -ENOSPC): main.c waits them out.
 */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_log.h"
#include "pt_time.h"

#define BUSY_MS 1000

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS readings ("
	" device TEXT NOT NULL,"
	" boot TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" ts TEXT NOT NULL,"
	" temp_c REAL NOT NULL,"
	" mv REAL,"
	" raw INTEGER,"
	" recv_ts TEXT NOT NULL,"
	" PRIMARY KEY (device, boot, seq));"
	"CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts);";

static const char insert_sql[] =
	"INSERT INTO readings (device, boot, seq, ts, temp_c, mv, raw, recv_ts)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";

/* The rows last written, oldest first: what a crash may see again. */
static const char tail_sql[] =
	"SELECT device, boot, seq FROM (SELECT rowid AS r, device, boot, seq"
	" FROM readings ORDER BY rowid DESC LIMIT 20000) ORDER BY r";

struct sqlite_store {
	struct store    base;
	sqlite3        *db;
	sqlite3_stmt   *ins;
	char           *path;
	int             full;       /* synchronous FULL */
	enum store_mode mode;
	uint64_t        rows;       /* inserted by this run */
	int             done;       /* COMPLETE: committed or abandoned */
};

/* An SQLite result code as -errno, looking at the system call that failed
 * where there was one (a full disk may come back as SQLITE_IOERR_WRITE). */
static int
to_errno(sqlite3 *db, int rc)
{
	int sys = db != NULL ? sqlite3_system_errno(db) : 0;

	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		return sys == ENOSPC || sys == EDQUOT ? -ENOSPC : sys > 0 ? -sys : -EIO;
	default:
		return -EIO;    /* corrupt, not a database, misuse, ... */
	}
}

static void
close_db(struct sqlite_store *q)
{
	sqlite3_finalize(q->ins);
	q->ins = NULL;
	if (q->db != NULL)
		sqlite3_close_v2(q->db);  /* a last close checkpoints the WAL */
	q->db = NULL;
}

/* Open q->path, set it up, prepare the insert. 0, or -errno with err set. */
static int
open_db(struct sqlite_store *q, char *err, size_t cap)
{
	char pragmas[96];
	sqlite3_stmt *st = NULL;
	const char *mode = NULL;
	int rc;

	rc = sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, BUSY_MS);
	/* WAL: a commit is an append, and readers do not block the sink. */
	if ((rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		snprintf(err, cap, "%s: cannot use the write-ahead log (journal mode %s)",
		    q->path, mode != NULL ? mode : sqlite3_errmsg(q->db));
		sqlite3_finalize(st);
		close_db(q);
		return -EIO;
	}
	sqlite3_finalize(st);
	st = NULL;
	snprintf(pragmas, sizeof(pragmas), "PRAGMA synchronous=%s;",
	    q->full ? "FULL" : "NORMAL");
	if ((rc = sqlite3_exec(q->db, pragmas, NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(q->db, schema, NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v3(q->db, insert_sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &q->ins, NULL)) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, cap, "%s: %s", q->path,
	    q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	rc = to_errno(q->db, rc);
	sqlite3_finalize(st);
	close_db(q);
	return rc;
}

/* Insert r (one statement: its own transaction unless one is open).
 * 0 new, 1 there already, or an SQLite result code (> 1). */
static int
insert(struct sqlite_store *q, const struct pt_reading *r, int64_t recv_us)
{
	char ts[PT_TS_LEN + 1], recv[PT_TS_LEN + 1];
	sqlite3_stmt *st = q->ins;
	int rc;

	if (pt_time_format(r->ts_us, ts, sizeof(ts)) < 0 ||
	    pt_time_format(recv_us, recv, sizeof(recv)) < 0)
		return SQLITE_MISMATCH;
	sqlite3_bind_text(st, 1, r->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->boot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->seq);
	sqlite3_bind_text(st, 4, ts, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, r->temp_c);
	if (r->has_mv)
		sqlite3_bind_double(st, 6, r->mv);
	else
		sqlite3_bind_null(st, 6);
	if (r->has_raw)
		sqlite3_bind_int64(st, 7, r->raw);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_text(st, 8, recv, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return rc;
	return sqlite3_changes(q->db) == 0 ? 1 : 0;
}

/* Feed the last rows to the dedup (a restarted logger). */
static int
read_tail(struct sqlite_store *q, struct dedup *d, struct store_info *info)
{
	sqlite3_stmt *st = NULL;
	const char *dev, *boot;
	int rc;

	if ((rc = sqlite3_prepare_v2(q->db, tail_sql, -1, &st, NULL)) != SQLITE_OK)
		return to_errno(q->db, rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dev = (const char *)sqlite3_column_text(st, 0);
		boot = (const char *)sqlite3_column_text(st, 1);
		if (dev == NULL || boot == NULL || sqlite3_column_int64(st, 2) < 0) {
			info->skipped++;
			continue;
		}
		dedup_seed(d, dev, boot, (uint64_t)sqlite3_column_int64(st, 2));
		info->recovered++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : to_errno(q->db, rc);
}

static void
sq_close(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	close_db(q);
	free(q->path);
	free(q);
}

static struct store *
sq_open(const struct store_cfg *cfg, struct store_info *info, char *err,
        size_t err_cap)
{
	struct sqlite_store *q;
	int rc;

	if (cfg->output == NULL || cfg->output[0] == '\0' ||
	    strcmp(cfg->output, "-") == 0) {
		snprintf(err, err_cap, "option --output: sqlite needs a file name, not '%s'",
		    cfg->output != NULL ? cfg->output : "");
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL || (q->path = strdup(cfg->output)) == NULL) {
		free(q);
		snprintf(err, err_cap, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	q->base.ops = &store_sqlite_ops;
	q->full = cfg->sync == STORE_SYNC_FULL;
	q->mode = cfg->mode;
	if ((rc = open_db(q, err, err_cap)) < 0)
		goto fail;
	if (cfg->mode == STORE_APPEND && cfg->dedup != NULL &&
	    (rc = read_tail(q, cfg->dedup, info)) < 0)
		snprintf(err, err_cap, "cannot read back %s: %s", q->path,
		    sqlite3_errmsg(q->db));
fail:
	if (rc < 0) {
		sq_close(&q->base);
		errno = -rc;
		return NULL;
	}
	return &q->base;
}

static int
sq_put(struct store *s, const struct pt_reading *r, const void *payload,
       size_t len, int64_t recv_us)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	int rc;

	(void)payload;
	(void)len;
	if (q->db == NULL || q->done)
		return -EBADF;
	if ((rc = insert(q, r, recv_us)) > 1) {
		rc = to_errno(q->db, rc);
		if (!store_transient(rc))
			pt_log_errx("sqlite %s: %s", q->path, sqlite3_errmsg(q->db));
		return rc;
	}
	if (rc == 0)
		q->rows++;
	return rc;
}

/* Every put() was committed as it came; COMPLETE: take no more. */
static int
sq_commit(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	if (q->db == NULL || q->done)
		return -EBADF;
	if (q->mode == STORE_COMPLETE)
		q->done = 1;
	return 0;
}

static void
sq_abandon(struct store *s, const char **kept)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	q->done = 1;
	if (kept != NULL && q->mode == STORE_COMPLETE && q->rows > 0)
		*kept = q->path;
}

/* SIGHUP: open the database again (it may have been moved); on failure
 * keep the one open. */
static int
sq_reopen(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	struct sqlite_store fresh = *q;
	char err[256];
	int rc;

	fresh.db = NULL;
	fresh.ins = NULL;
	if ((rc = open_db(&fresh, err, sizeof(err))) < 0) {
		pt_log_warnx("%s", err);
		return rc;
	}
	close_db(q);
	q->db = fresh.db;
	q->ins = fresh.ins;
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.put = sq_put,
	.commit = sq_commit,
	.abandon = sq_abandon,
	.reopen = sq_reopen,
	.close = sq_close,
};
