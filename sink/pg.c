/*
 * pg.c: the sink's PostgreSQL connection (see pg.h). The only file that
 * includes libpq-fe.h.
 */
#include "pg.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_time.h"

#define STMT "pitemp_insert"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS readings ("
	" device text NOT NULL,"
	" boot text NOT NULL,"
	" seq bigint NOT NULL,"
	" ts timestamptz NOT NULL,"
	" temp_c double precision NOT NULL,"
	" mv double precision,"
	" raw integer,"
	" recv_ts timestamptz NOT NULL,"
	" PRIMARY KEY (device, boot, seq));"
	"CREATE INDEX IF NOT EXISTS readings_ts_idx ON readings (ts)";

/* One statement, any number of rows: the arrays are the columns. */
static const char insert_sql[] =
	"INSERT INTO readings (device, boot, seq, ts, temp_c, mv, raw, recv_ts)"
	" SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[],"
	" $4::timestamptz[], $5::float8[], $6::float8[], $7::integer[],"
	" $8::timestamptz[])"
	" ON CONFLICT DO NOTHING";

#define NCOLS 8

struct sbuf {
	char   *p;
	size_t  len, cap;
};

struct pg {
	char       *conninfo;
	PGconn     *conn;
	char        where[256];
	struct sbuf col[NCOLS];
};

/* Append printf output to b. 0 or -ENOMEM. */
static int __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return 0;
		}
		size_t cap = b->cap ? b->cap * 2 : 65536;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
}

/* libpq's message, on one line, into err. */
static void
say(char *err, size_t cap, const char *what, const char *msg)
{
	size_t n;

	snprintf(err, cap, "%s%s%s", what, *what ? ": " : "", msg != NULL ? msg : "");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (err[i] == '\n')
			err[i] = ' ';
}

int
pg_check(const char *conninfo, char *desc, size_t desc_cap, char *err,
         size_t err_cap)
{
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
	PQconninfoOption *opts, *o;
	char *msg = NULL;

	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		say(err, err_cap, "", msg != NULL ? msg : "out of memory");
		PQfreemem(msg);
		return -EINVAL;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0 ||
		    (strcmp(o->keyword, "hostaddr") == 0 && host == NULL))
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	if (port != NULL && port[strspn(port, "0123456789,")] != '\0') {
		snprintf(err, err_cap, "port \"%s\" is not a number", port);
		PQconninfoFree(opts);
		return -EINVAL;
	}
	snprintf(desc, desc_cap, "postgresql://%s%s%s%s%s/%s%s", user ? user : "",
	    user ? "@" : "", host ? host : "", port ? ":" : "", port ? port : "",
	    db ? db : "", user || host || port || db ? "" : " (libpq's PG* defaults)");
	PQconninfoFree(opts);
	return 0;
}

struct pg *
pg_new(const char *conninfo)
{
	struct pg *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->conninfo = strdup(conninfo)) == NULL) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void
pg_disconnect(struct pg *p)
{
	if (p->conn != NULL)
		PQfinish(p->conn);
	p->conn = NULL;
	p->where[0] = '\0';
}

void
pg_free(struct pg *p)
{
	if (p == NULL)
		return;
	pg_disconnect(p);
	for (int i = 0; i < NCOLS; i++)
		free(p->col[i].p);
	free(p->conninfo);
	free(p);
}

int
pg_connected(const struct pg *p)
{
	return p->conn != NULL;
}

const char *
pg_where(const struct pg *p)
{
	return p->where;
}

/* Run sql; 1 when its first value is "t", 0 otherwise, -1 on error. */
static int
exec_ok(PGconn *c, const char *sql, char *err, size_t cap, char *first, size_t fcap)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		say(err, cap, "", PQresultErrorMessage(res));
	else if (first != NULL)
		snprintf(first, fcap, "%s", st == PGRES_TUPLES_OK && PQntuples(res) > 0 ?
		    PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return ok ? 0 : -1;
}

int
pg_connect(struct pg *p, char *err, size_t err_cap, char *note, size_t note_cap)
{
	/* Bounded waits on a dead network; the URI's own values win (they
	 * come later: expand_dbname). */
	static const char *const kw[] = { "connect_timeout", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "tcp_user_timeout",
		"application_name", "dbname", NULL };
	const char *val[] = { "10", "10", "5", "3", "30000", "pitemp-sink",
		p->conninfo, NULL };
	char v[64];
	PGresult *res;

	note[0] = '\0';
	if (p->conn != NULL)
		return 0;
	p->conn = PQconnectdbParams(kw, val, 1);
	if (p->conn == NULL) {
		snprintf(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		say(err, err_cap, "", PQerrorMessage(p->conn));
		goto fail;
	}
	/* The journal is trimmed once a batch is committed: committed
	 * must mean on the server's disk. */
	if (exec_ok(p->conn, "SHOW synchronous_commit", err, err_cap, v, sizeof(v)) < 0)
		goto fail;
	if (strcmp(v, "off") == 0) {
		if (exec_ok(p->conn, "SET synchronous_commit = local", err, err_cap,
		    NULL, 0) < 0)
			goto fail;
		snprintf(note, note_cap, "the server has synchronous_commit off; "
		    "this session sets it to local (a batch is removed from the "
		    "journal only once it is on the server's disk)");
	}
	/* CREATE needs a privilege a plain user may lack: only when missing. */
	if (exec_ok(p->conn, "SELECT to_regclass('readings') IS NULL", err, err_cap,
	    v, sizeof(v)) < 0)
		goto fail;
	if (strcmp(v, "t") == 0 &&
	    exec_ok(p->conn, schema, err, err_cap, NULL, 0) < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_cap, "creating the table readings: %s", why);
		goto fail;
	}
	res = PQprepare(p->conn, STMT, insert_sql, NCOLS, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		say(err, err_cap, "", PQresultErrorMessage(res));
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	snprintf(p->where, sizeof(p->where), "%s@%s:%s/%s", PQuser(p->conn),
	    PQhost(p->conn), PQport(p->conn), PQdb(p->conn));
	return 0;
fail:
	pg_disconnect(p);
	return -ECONNREFUSED;
}

/* The eight column arrays of rows, as array literals. 0 or -ENOMEM. */
static int
build(struct pg *p, const struct pt_reading *rows, const int64_t *recv_us, size_t n)
{
	char ts[PT_TS_LEN + 1], recv[PT_TS_LEN + 1];
	int rc = 0;

	for (int c = 0; c < NCOLS; c++) {
		p->col[c].len = 0;
		rc |= sb_printf(&p->col[c], "{");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct pt_reading *r = &rows[i];
		const char *sep = i == 0 ? "" : ",";

		if (pt_time_format(r->ts_us, ts, sizeof(ts)) < 0 ||
		    pt_time_format(recv_us[i], recv, sizeof(recv)) < 0)
			return -EINVAL;
		/* Quoted: a device may be named NULL. Neither it nor the
		 * boot can hold a quote or a backslash (validated). */
		rc |= sb_printf(&p->col[0], "%s\"%s\"", sep, r->device);
		rc |= sb_printf(&p->col[1], "%s\"%s\"", sep, r->boot);
		rc |= sb_printf(&p->col[2], "%s%" PRIu64, sep, r->seq);
		rc |= sb_printf(&p->col[3], "%s\"%s\"", sep, ts);
		rc |= sb_printf(&p->col[4], "%s%.17g", sep, r->temp_c);
		if (r->has_mv)
			rc |= sb_printf(&p->col[5], "%s%.17g", sep, r->mv);
		else
			rc |= sb_printf(&p->col[5], "%sNULL", sep);
		if (r->has_raw)
			rc |= sb_printf(&p->col[6], "%s%" PRId64, sep, r->raw);
		else
			rc |= sb_printf(&p->col[6], "%sNULL", sep);
		rc |= sb_printf(&p->col[7], "%s\"%s\"", sep, recv);
	}
	for (int c = 0; c < NCOLS && rc == 0; c++)
		rc |= sb_printf(&p->col[c], "}");
	return rc != 0 ? -ENOMEM : 0;
}

int
pg_insert(struct pg *p, const struct pt_reading *rows, const int64_t *recv_us,
          size_t n, uint64_t *inserted, char *err, size_t err_cap)
{
	const char *values[NCOLS];
	const char *state;
	PGresult *res;
	int rc;

	*inserted = 0;
	if (p->conn == NULL) {
		snprintf(err, err_cap, "not connected");
		return -ECONNRESET;
	}
	if ((rc = build(p, rows, recv_us, n)) < 0) {
		snprintf(err, err_cap, "%s", strerror(-rc));
		return rc;
	}
	for (int c = 0; c < NCOLS; c++)
		values[c] = p->col[c].p;
	res = PQexecPrepared(p->conn, STMT, NCOLS, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		*inserted = strtoull(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		return 0;
	}
	say(err, err_cap, "", res != NULL ? PQresultErrorMessage(res) :
	    PQerrorMessage(p->conn));
	if (err[0] == '\0')
		say(err, err_cap, "", PQerrorMessage(p->conn));
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(p->conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strcmp(state, "42P01") == 0 ||
	    strcmp(state, "26000") == 0) {
		/* Gone, or the table or our statement went away: a new
		 * connection sets both up again. */
		rc = -ECONNRESET;
		pg_disconnect(p);
	} else if (strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "40", 2) == 0 || strncmp(state, "55", 2) == 0 ||
	    strncmp(state, "58", 2) == 0) {
		rc = -EAGAIN;   /* shutdown, disk full, lock, serialization, I/O */
	} else {
		rc = -EIO;
	}
	PQclear(res);
	return rc;
}
