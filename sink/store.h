/*
 * store.h: where the sink's readings go. Files (text, csv, jsonl:
 * store_file.c over writer.c and recover.c), SQLite (store_sqlite.c) and
 * PostgreSQL (store_pg.c) sit behind one ops table, as the sensor's
 * transports do (sensor/transport.h), so main.c has one path for all.
 *
 * The promise (docs/storage.md): in STORE_APPEND mode (the logger,
 * --count 0), once put() has returned 0 the reading survives a kill -9 of
 * the sink, and with STORE_SYNC_FULL a power cut; the caller acknowledges
 * it only then. In STORE_COMPLETE mode (--count N) a store may buffer
 * (batch) what it is given: commit() is where all of it is stored.
 *
 * Threads: the caller serialises every call (sink/main.c's ctx->lock);
 * put() and ready() run on paho's thread in MQTT mode, the rest on the
 * main thread. A store may run a thread of its own (store_pg.c) and
 * guards what it shares with it.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dedup.h"
#include "pt_reading.h"

enum store_mode { STORE_COMPLETE = 0, STORE_APPEND };

/* What put() returning 0 survives (--sync). DEFAULT: NORMAL (files: a
 * kill, and a power cut once synced a second later; databases: their own
 * NORMAL). */
enum store_sync { STORE_SYNC_DEFAULT = 0, STORE_SYNC_NORMAL, STORE_SYNC_FULL };

struct store_cfg {
	const char     *format;     /* text csv jsonl sqlite postgresql */
	const char     *output;     /* a file, "-", or a database URI */
	enum store_mode mode;
	enum store_sync sync;
	const char     *state_dir;  /* --state-dir; NULL: the default */
	const char     *client_id;  /* names the state of a database store */
	struct dedup   *dedup;      /* seeded with what is already stored */
};

struct store_info {
	uint64_t recovered;     /* readings read back into the dedup */
	uint64_t skipped;       /* records that did not parse */
};

struct store;

struct store_ops {
	const char *name;
	/* NULL with errno set (EINVAL: a bad --output; err says why). */
	struct store *(*open)(const struct store_cfg *cfg, struct store_info *info,
	                      char *err, size_t err_cap);
	/* 1 when r is known to be stored already beyond what the dedup can
	 * tell (the text format's tail). NULL: never. */
	int  (*seen)(struct store *s, const struct pt_reading *r);
	/* For a stream the dedup does not know: 1 and in *seq the latest
	 * reading of r's device before r the store holds beyond what the dedup
	 * was seeded with (the text format's tail has no boot), so the stream
	 * goes on from there rather than seem to start with a hole. NULL:
	 * never. */
	int  (*last_before)(struct store *s, const struct pt_reading *r,
	                    uint64_t *seq);
	/* Store one reading: 0 stored, 1 it was there already, -errno. */
	int  (*put)(struct store *s, const struct pt_reading *r,
	            const void *payload, size_t len, int64_t recv_us);
	/* 0 when the store can take the next reading, -ENOSPC (or another
	 * store_transient error) while it cannot. NULL: always 0. */
	int  (*ready)(struct store *s);
	/* Everything put is stored: 0, -EINPROGRESS (not yet: call again),
	 * or -errno. COMPLETE mode: afterwards the store takes no more. */
	int  (*commit)(struct store *s);
	/* Stop without committing; *kept names where readings of a COMPLETE
	 * run stayed (static storage of s), else NULL. */
	void (*abandon)(struct store *s, const char **kept);
	/* Open the output again (SIGHUP, logrotate). NULL: nothing to do. */
	int  (*reopen)(struct store *s);
	/* APPEND mode, STORE_SYNC_NORMAL, a store whose put() leaves its
	 * writes in the kernel (files): a descriptor for the caller to fsync
	 * and close outside its lock when something was put since the last
	 * call, else -1. The caller does this about once a second, so a power
	 * cut loses at most that. NULL: the store needs none. */
	int  (*sync_fd)(struct store *s);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

extern const struct store_ops store_file_ops;
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* The ops for a --format name, NULL when there is none. */
const struct store_ops *store_find(const char *format);
/* "text, csv, jsonl, sqlite or postgresql", for messages. */
const char *store_names(void);

/* Parse --sync: "normal" / "full". 0 or -EINVAL. NULL: DEFAULT. */
int store_sync_parse(const char *s, enum store_sync *out);

/*
 * A local path for state that belongs with this output, ending in suffix
 * (".mqtt": paho's persistence; ".journal": store_pg.c's journal):
 * "<dir>/.<base><suffix>" where base is the output file's name and dir its
 * directory (or --state-dir); for a database URI base is the client id and
 * dir --state-dir or "."; for "-" (stdout) likewise, but only with
 * --state-dir. NULL for "-" without it, or ENOMEM. The caller frees it.
 */
char *store_state_path(const struct store_cfg *cfg, const char *suffix);

/* 1 when an error from put(), ready() or commit() may pass by itself (a
 * full disk, a database away or busy): retry, do not give up. */
int store_transient(int rc);

/* Dispatch; each accepts what its op accepts. */
struct store *store_open(const struct store_cfg *cfg, struct store_info *info,
                         char *err, size_t err_cap);
int  store_seen(struct store *s, const struct pt_reading *r);
int  store_last_before(struct store *s, const struct pt_reading *r,
                       uint64_t *seq);
int  store_put(struct store *s, const struct pt_reading *r,
               const void *payload, size_t len, int64_t recv_us);
int  store_ready(struct store *s);
int  store_commit(struct store *s);
void store_abandon(struct store *s, const char **kept);
int  store_reopen(struct store *s);
int  store_sync_fd(struct store *s);
void store_close(struct store *s);  /* accepts NULL */

#endif
