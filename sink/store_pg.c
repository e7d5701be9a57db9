/*
 * store_pg.c: --format postgresql (store.h): the readings in a PostgreSQL
 * table (pg.c), through a local journal (journal.c).
 *
 * Why a journal: the message callback must not return before the reading
 * is safe, and a database commit per reading in the callback (one round
 * trip and one server fsync each, one message at a time) does not reach
 * the fleet's 30,000 readings/s. So put() appends the reading to the
 * journal (one write(2); with --sync full also an fdatasync) and returns:
 * from then on it survives a kill of the sink (full: a power cut). A
 * writer thread takes what has gathered (journal_rotate), inserts it in
 * batches of up to BATCH rows, each one INSERT ... SELECT FROM unnest(...)
 * ON CONFLICT DO NOTHING committed in one round trip, and drops the segment
 * once every batch of it is committed. The journal is the group commit: the
 * more readings arrive while a commit runs, the bigger the next batch.
 *
 * What each failure costs (docs/storage.md): a sink crash nothing (the
 * next start replays the journal; the primary key absorbs what was in
 * already); a database crash or restart nothing (a batch leaves the
 * journal only once committed with synchronous_commit at least local;
 * the writer reconnects with backoff); a database away for long: the
 * journal grows on the local disk meanwhile (about 100 bytes a reading).
 *
 * Threads: put(), ready() and the other ops run under the sink's lock on
 * paho's or the main thread; the writer thread owns the connection. mu
 * guards the journal and the counters between them.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "pg.h"
#include "pt_log.h"
#include "pt_time.h"

#define BATCH           5000    /* rows per INSERT */
#define LINGER_MS       10      /* let a small batch grow this long */
#define LINGER_ROWS     1000    /* ... unless it has this many rows */
#define BACKOFF_MIN_MS  500
#define BACKOFF_MAX_MS  10000
#define REMIND_S        60      /* while the database is away, say so this often */
#define JOIN_MS         5000    /* close(): how long the writer may take to stop */

struct pg_store {
	struct store     base;
	struct pg       *pg;
	struct journal  *j;
	char            *jdir;
	char             desc[256];     /* the --output, without a password */
	enum store_mode  mode;
	int              done;          /* COMPLETE: committed or abandoned */

	pthread_t        thread;
	int              started;
	pthread_mutex_t  mu;            /* guards all below */
	pthread_cond_t   wake;          /* for the writer: work or stop */
	int              stopping;
	int              busy;          /* the writer has a segment out */
	int              idle;          /* the writer waits for work: wake it */
	uint64_t         appended;      /* lines put this run */
	uint64_t         committed;     /* rows committed this run (incl. replay) */
	uint64_t         waiting;       /* lines in the journal not yet committed */

	/* The writer thread's own. */
	struct pt_reading *rows;
	int64_t         *recv;
	size_t           n;
	uint64_t         bad;
};

/* A timed wait on wake, ms from now. mu held. */
static void
wait_ms(struct pg_store *p, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&p->wake, &p->mu, &ts);
}

static int
take_row(void *ctx, const struct pt_reading *r, int64_t recv_us)
{
	struct pg_store *p = ctx;

	if (p->n == BATCH)
		return 1;       /* full: this row starts the next batch */
	p->rows[p->n] = *r;
	p->recv[p->n] = recv_us;
	p->n++;
	return 0;
}

/*
 * Commit the segment at path from *off on, batch by batch. 0 when all of
 * it is in, 1 when the sink stops first, else -errno with the reason in
 * err (*off: where to go on).
 */
static int
commit_segment(struct pg_store *p, const char *path, uint64_t *off, char *err,
               size_t cap)
{
	uint64_t ins, at;
	int rc;

	for (;;) {
		p->n = 0;
		at = *off;
		rc = journal_read_segment(path, off, &p->bad, take_row, p);
		if (rc < 0) {
			snprintf(err, cap, "reading the journal %.300s: %s", path, strerror(-rc));
			return rc;
		}
		if (p->n > 0) {
			rc = pg_insert(p->pg, p->rows, p->recv, p->n, &ins, err, cap);
			if (rc < 0) {
				*off = at;
				return rc;
			}
			pthread_mutex_lock(&p->mu);
			p->committed += p->n;
			p->waiting -= p->n < p->waiting ? p->n : p->waiting;
			rc = p->stopping;
			pthread_mutex_unlock(&p->mu);
			if (rc != 0 && p->n == BATCH)
				return 1;
		}
		if (p->n < BATCH)
			return 0;   /* the end of the segment */
	}
}

/* The database is away: say so once, then every REMIND_S. */
struct outage {
	int64_t since_ns;       /* 0: connected (or never tried) */
	int64_t told_ns;
	int     backoff_ms;
};

static void
went_wrong(struct pg_store *p, struct outage *o, const char *err)
{
	int64_t now = pt_time_mono_ns();
	uint64_t waiting;

	pthread_mutex_lock(&p->mu);
	waiting = p->waiting;
	pthread_mutex_unlock(&p->mu);
	if (o->since_ns == 0) {
		o->since_ns = now;
		o->told_ns = now;
		o->backoff_ms = BACKOFF_MIN_MS;
		pt_log_warnx("%s: %s; readings wait in the journal %s, retrying",
		    p->desc, err, p->jdir);
	} else {
		if (now - o->told_ns >= (int64_t)REMIND_S * 1000000000LL) {
			o->told_ns = now;
			pt_log_warnx("%s: still failing after %.0f s (%s); %llu readings "
			    "wait in the journal", p->desc,
			    (double)(now - o->since_ns) / 1e9, err,
			    (unsigned long long)waiting);
		}
		o->backoff_ms = o->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    o->backoff_ms * 2;
	}
}

static void
went_right(struct pg_store *p, struct outage *o, int first)
{
	if (o->since_ns != 0)
		pt_log_info("%s: back after %.1f s", p->desc,
		    (double)(pt_time_mono_ns() - o->since_ns) / 1e9);
	else if (first)
		pt_log_info("%s: connected as %s", p->desc, pg_where(p->pg));
	o->since_ns = 0;
}

static void *
writer(void *arg)
{
	struct pg_store *p = arg;
	struct outage o = { 0, 0, BACKOFF_MIN_MS };
	char path[4096], err[512], note[256];
	uint64_t num, resume_num = 0, off = 0;
	int rc, first = 1, was;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && journal_pending(p->j) == 0 &&
		    journal_current(p->j) == 0) {
			p->idle = 1;
			pthread_cond_wait(&p->wake, &p->mu);
			p->idle = 0;
		}
		/* A reading or a few: let more gather for this batch (put()
		 * does not wake a writer that is not idle). Fewer, bigger
		 * commits cost the server and the sink less per reading; the
		 * reading is acknowledged already, this only delays its row. */
		if (!p->stopping && journal_pending(p->j) == 0 &&
		    journal_current(p->j) < LINGER_ROWS)
			wait_ms(p, LINGER_MS);
		if (p->stopping)
			break;
		if (journal_pending(p->j) == 0 && (rc = journal_rotate(p->j)) < 0) {
			snprintf(err, sizeof(err), "cannot start a journal segment: %s",
			    strerror(-rc));
			pthread_mutex_unlock(&p->mu);
			went_wrong(p, &o, err);
			pthread_mutex_lock(&p->mu);
			wait_ms(p, o.backoff_ms);
			continue;
		}
		if (journal_pending_at(p->j, 0, &num, path, sizeof(path)) < 0)
			continue;
		p->busy = 1;
		pthread_mutex_unlock(&p->mu);

		was = pg_connected(p->pg);
		rc = pg_connect(p->pg, err, sizeof(err), note, sizeof(note));
		if (rc == 0 && !was && note[0] != '\0')
			pt_log_warnx("%s: %s", p->desc, note);
		if (rc == 0) {
			if (!was)
				went_right(p, &o, first);
			first = 0;
			if (num != resume_num)
				off = 0;
			resume_num = num;
			rc = commit_segment(p, path, &off, err, sizeof(err));
		}
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		if (rc == 1)
			break;      /* stopping: the rest stays journaled */
		if (rc == 0) {
			(void)journal_drop(p->j, num);
			resume_num = 0;
			off = 0;
			if (o.since_ns != 0) {
				pthread_mutex_unlock(&p->mu);
				went_right(p, &o, 0);
				pthread_mutex_lock(&p->mu);
			}
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		went_wrong(p, &o, err);
		pthread_mutex_lock(&p->mu);
		if (!p->stopping)
			wait_ms(p, o.backoff_ms);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Replay: what a previous run left in the journal goes to the dedup now
 * and to the database first. */
struct seed {
	struct dedup      *d;
	struct store_info *info;
};

static int
seed_row(void *ctx, const struct pt_reading *r, int64_t recv_us)
{
	struct seed *s = ctx;

	(void)recv_us;
	if (s->d != NULL)
		dedup_seed(s->d, r->device, r->boot, r->seq);
	s->info->recovered++;
	return 0;
}

static int
replay(struct pg_store *p, struct dedup *d, struct store_info *info)
{
	struct seed s = { d, info };
	char path[4096];
	uint64_t num, off;
	int rc;

	for (size_t i = 0; i < journal_pending(p->j); i++) {
		if ((rc = journal_pending_at(p->j, i, &num, path, sizeof(path))) < 0)
			return rc;
		off = 0;
		if ((rc = journal_read_segment(path, &off, &info->skipped, seed_row,
		    &s)) < 0 && rc != -ENOENT)
			return rc;
	}
	p->waiting = info->recovered;
	return 0;
}

static void
pgs_close(struct store *s)
{
	struct pg_store *p = (struct pg_store *)s;
	struct timespec until;
	uint64_t waiting;

	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += JOIN_MS / 1000;
		if (pthread_timedjoin_np(p->thread, NULL, &until) != 0) {
			/* Stuck in a database call: leave it; the journal
			 * keeps what it was writing. */
			pt_log_warnx("%s: the database writer did not stop within %d ms",
			    p->desc, JOIN_MS);
			return;
		}
	}
	waiting = p->waiting;
	if (p->started && p->j != NULL &&
	    (journal_pending(p->j) > 0 || journal_current(p->j) > 0))
		pt_log_warnx("%s: %llu readings not yet in the database stay in the "
		    "journal %s; the next start sends them", p->desc,
		    (unsigned long long)waiting, p->jdir);
	journal_close(p->j);
	pg_free(p->pg);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->rows);
	free(p->recv);
	free(p->jdir);
	free(p);
}

static struct store *
pgs_open(const struct store_cfg *cfg, struct store_info *info, char *err,
         size_t err_cap)
{
	struct pg_store *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base.ops = &store_pg_ops;
	p->mode = cfg->mode;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	if ((rc = pg_check(cfg->output, p->desc, sizeof(p->desc), err, err_cap)) < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_cap, "option --output: not a PostgreSQL connection "
		    "string or URI: %s", why);
		goto fail;
	}
	rc = -ENOMEM;
	if ((p->pg = pg_new(cfg->output)) == NULL ||
	    (p->jdir = store_state_path(cfg, ".journal")) == NULL ||
	    (p->rows = calloc(BATCH, sizeof(*p->rows))) == NULL ||
	    (p->recv = calloc(BATCH, sizeof(*p->recv))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	if ((p->j = journal_open(p->jdir, cfg->sync == STORE_SYNC_FULL)) == NULL) {
		rc = -errno;
		snprintf(err, err_cap, "journal %s: %s", p->jdir, rc == -EWOULDBLOCK ?
		    "in use by another pitemp-sink" : strerror(-rc));
		if (rc == -EWOULDBLOCK)
			rc = -EBUSY;
		goto fail;
	}
	if ((rc = replay(p, cfg->dedup, info)) < 0) {
		snprintf(err, err_cap, "journal %s: %s", p->jdir, strerror(-rc));
		goto fail;
	}
	if ((rc = -pthread_create(&p->thread, NULL, writer, p)) < 0) {
		snprintf(err, err_cap, "cannot start the database writer: %s",
		    strerror(-rc));
		goto fail;
	}
	p->started = 1;
	return &p->base;
fail:
	pgs_close(&p->base);
	errno = -rc;
	return NULL;
}

static int
pgs_put(struct store *s, const struct pt_reading *r, const void *payload,
        size_t len, int64_t recv_us)
{
	struct pg_store *p = (struct pg_store *)s;
	char line[JOURNAL_LINE_MAX];
	int n, rc;

	(void)payload;
	(void)len;
	if (p->done)
		return -EBADF;
	if ((n = journal_format(r, recv_us, line, sizeof(line))) < 0)
		return n;
	pthread_mutex_lock(&p->mu);
	if ((rc = journal_append(p->j, line, (size_t)n)) == 0) {
		p->appended++;
		p->waiting++;
		if (p->idle)
			pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int
pgs_ready(struct store *s)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc;

	pthread_mutex_lock(&p->mu);
	rc = journal_ready(p->j);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Everything put is in the database once the journal is empty. */
static int
pgs_commit(struct store *s)
{
	struct pg_store *p = (struct pg_store *)s;
	int drained;

	if (p->done)
		return -EBADF;
	pthread_mutex_lock(&p->mu);
	drained = !p->busy && journal_pending(p->j) == 0 && journal_current(p->j) == 0;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
	if (!drained)
		return -EINPROGRESS;
	if (p->mode == STORE_COMPLETE)
		p->done = 1;
	return 0;
}

static void
pgs_abandon(struct store *s, const char **kept)
{
	struct pg_store *p = (struct pg_store *)s;

	p->done = 1;
	if (kept != NULL && p->appended > 0)
		*kept = p->desc;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pgs_open,
	.put = pgs_put,
	.ready = pgs_ready,
	.commit = pgs_commit,
	.abandon = pgs_abandon,
	.close = pgs_close,
};
