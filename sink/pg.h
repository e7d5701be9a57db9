/*
 * pg.h: the sink's PostgreSQL connection (sink/pg.c is the only file that
 * includes libpq-fe.h): connect with libpq's conninfo (a URI such as
 * postgresql://user@host:5432/db, or "" for libpq's PG* environment
 * variables; passwords through PGPASSWORD or ~/.pgpass as libpq users
 * expect), create the table if missing, insert batches of readings.
 *
 * Table readings: device text, boot text, seq bigint, ts timestamptz,
 * temp_c double precision, mv double precision, raw integer, recv_ts
 * timestamptz; primary key (device, boot, seq); index on ts.
 *
 * One batch is one INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT DO
 * NOTHING, in autocommit: one round trip, one transaction. It returns only
 * once the server has committed it; the session's synchronous_commit is
 * raised to local when the server has it off, so "committed" means in the
 * server's WAL on disk.
 *
 * Threads: a struct pg is used by one thread at a time (store_pg.c's
 * writer); pg_check() may be called from any.
 */
#ifndef PG_H
#define PG_H

#include <stddef.h>
#include <stdint.h>

#include "pt_reading.h"

struct pg;

/*
 * Check a conninfo string without connecting and describe it for logs
 * with no password ("postgresql://user@host:port/db", parts libpq will
 * default left out). 0, or -EINVAL with libpq's reason in err.
 */
int pg_check(const char *conninfo, char *desc, size_t desc_cap, char *err,
             size_t err_cap);

/* NULL with errno set (ENOMEM). Copies conninfo. */
struct pg *pg_new(const char *conninfo);
void pg_free(struct pg *p);  /* accepts NULL; disconnects */

/*
 * Connect (when not connected) and make sure the table exists. 0, or
 * -errno with the server's or libpq's reason in err; a failure to reach
 * or use the server is transient (-ECONNREFUSED), the caller retries.
 * *note gets a line worth logging once (synchronous_commit raised), or "".
 */
int pg_connect(struct pg *p, char *err, size_t err_cap, char *note, size_t note_cap);
int pg_connected(const struct pg *p);
void pg_disconnect(struct pg *p);

/* Where the connection went ("user@host:port/db"), "" when not connected. */
const char *pg_where(const struct pg *p);

/*
 * Insert n readings (recv_us[i] the receive time of rows[i]) in one
 * transaction. 0 (*inserted: rows new to the table, the rest were there),
 * or -errno with the reason in err: -ECONNRESET when the connection is
 * gone (it is closed: reconnect), -EAGAIN for a server condition that may
 * pass (shutdown, disk full, lock, serialization), -EIO for a failure
 * retrying the same rows will not fix (the table changed under us).
 */
int pg_insert(struct pg *p, const struct pt_reading *rows, const int64_t *recv_us,
              size_t n, uint64_t *inserted, char *err, size_t err_cap);

#endif
