/*
 * pitemp-sink: receives readings, validates each, stores each (device, boot,
 * seq) once, in a file or a database (store.h).
 *
 * Data flow: transport -> codec + validate -> dedup -> store, one path
 * (handle_payload) for both transports. In MQTT mode it runs on paho's
 * thread inside the message callback and stores the reading (as a logger:
 * safe against a kill, see store.h) before returning. paho 1.3 sends a
 * QoS 1 PUBACK just before it queues the message for this callback, so a
 * kill -9 in those microseconds can lose one reading (the sink reports it
 * as a gap on the next one); a crash after the store can only repeat a
 * reading, which dedup and the store's recovery absorb. When the store
 * cannot take readings (a full disk, a database away: store_transient),
 * the callback waits rather than return (hold()): paho reads nothing more
 * meanwhile, so the broker keeps what was not stored. In socket mode it
 * runs on the main thread from the listener's loop. ctx->lock guards all
 * it touches.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dedup.h"
#include "listener.h"
#include "pt_cli.h"
#include "pt_codec.h"
#include "pt_log.h"
#include "pt_mqtt.h"
#include "pt_opts.h"
#include "pt_notify.h"
#include "pt_ratelimit.h"
#include "pt_time.h"
#include "stats.h"
#include "store.h"

#define EXIT_USAGE      2
#define EXIT_TIMEOUT    3
#define STOP_MS         3000
#define HOLD_MS         200     /* retry period while the store cannot take readings */

/* Set by the signal handler: stop (SIGINT, SIGTERM), reopen the output
 * (SIGHUP). */
static volatile sig_atomic_t stop, reopen;

struct sink_ctx {
	struct pt_opts      opts;
	struct store_cfg    scfg;
	pthread_mutex_t     lock;       /* guards all below */
	struct dedup       *dedup;
	char               *state_dir;  /* paho's file persistence, or NULL */
	int                 shared;     /* a shared subscription: this sink
	                                 * sees part of each device's seqs */
	struct store       *store;
	struct stats        st;
	int                 done;       /* --count N reached */
	int                 failed;     /* no more stores (failed, or finishing) */
	int64_t             held_ns;    /* hold() began (monotonic), 0: not holding */
	struct pt_notify_wd wd;         /* the main thread's watchdog pacing */
	/* Lines a publisher or peer can trigger at will (pt_ratelimit.h);
	 * the counters in st still count every event. */
	struct pt_ratelimit rl_invalid, rl_gap, rl_dup;
};

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen = 1;
	else
		stop = 1;
}

/*
 * A reading published on pitemp/<device>/temperature must name that device:
 * with per-device ACLs, this is what stops one sensor speaking for another.
 * Topics of any other shape are not checked.
 */
static int
topic_matches_device(const char *topic, const char *device)
{
	const char *p, *rest;
	size_t n;

	if (strncmp(topic, "pitemp/", 7) != 0)
		return 1;
	p = topic + 7;
	rest = strchr(p, '/');
	if (rest == NULL || strcmp(rest, "/temperature") != 0)
		return 1;
	n = (size_t)(rest - p);
	return strlen(device) == n && strncmp(p, device, n) == 0;
}

/* Escape a topic for a log line: it came from the network. */
static void
printable(const char *in, char *out, size_t cap)
{
	size_t j = 0;

	for (size_t i = 0; in[i] != '\0' && j + 5 < cap; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch >= 0x20 && ch < 0x7f)
			out[j++] = (char)ch;
		else
			j += (size_t)snprintf(out + j, cap - j, "\\x%02x", ch);
	}
	out[j] = '\0';
}

/*
 * The store cannot take a reading now (rc, a store_transient error: a full
 * disk, a database away or busy). Wait HOLD_MS with c->lock released and
 * return 0 to try again, or -1 when the run is ending. Waiting here is the
 * point: in MQTT mode paho reads no further message while its callback
 * waits, so the broker keeps what the sink could not store instead of
 * having it acknowledged. The first wait says so, once; resumed() says
 * when it is over. In socket mode this is the main thread: keep the
 * watchdog fed (the sink is alive, and a restart would not help).
 */
static int
hold(struct sink_ctx *c, int rc)
{
	struct timespec ts = { 0, HOLD_MS * 1000000L };

	if (c->held_ns == 0) {
		c->held_ns = pt_time_mono_ns();
		c->held_ns += c->held_ns == 0;
		pt_log_errx("cannot store in %s: %s; taking no more readings (the broker "
		    "keeps them) until it can; retrying every %d ms", c->opts.output,
		    strerror(-rc), HOLD_MS);
	}
	pthread_mutex_unlock(&c->lock);
	nanosleep(&ts, NULL);
	if (c->opts.mode == PT_MODE_SOCKET)
		(void)pt_notify_wd_tick(&c->wd, pt_time_mono_ns());
	pthread_mutex_lock(&c->lock);
	return stop || c->failed || c->done ? -1 : 0;
}

static void
resumed(struct sink_ctx *c)
{
	if (c->held_ns == 0)
		return;
	pt_log_info("%s takes readings again after %.1f s; resuming", c->opts.output,
	    (double)(pt_time_mono_ns() - c->held_ns) / 1e9);
	c->held_ns = 0;
}

/*
 * One payload from either transport; topic is NULL in socket mode, where
 * from names the peer. Returns what became of it: stored (or already
 * stored), rejected for good, or not taken; *keep says whether an MQTT
 * message not taken must stay unacknowledged (redelivered later): in a
 * clean --count N session nothing past the end was promised.
 */
static enum listener_verdict
handle_payload(struct sink_ctx *c, const char *topic, const char *from,
               const void *payload, size_t len, int *keep)
{
	struct pt_reading r;
	char why[256], where[200];
	int64_t gap = 0, recv_us;
	enum listener_verdict v = LISTENER_NOT_TAKEN;
	enum dedup_verdict dv = DEDUP_NEW;
	uint64_t last;
	int rc;

	recv_us = pt_time_now_us();
	pthread_mutex_lock(&c->lock);
	if (c->failed || c->done) {
		/* Past the end of this run: a persistent session keeps the rest
		 * for the next run; a clean one had nothing promised. */
		*keep = c->opts.persistent || c->opts.count == 0;
		goto out;
	}
	printable(topic != NULL ? topic : from, where, sizeof(where));
	if (pt_codec_decode(payload, len, &r, why, sizeof(why)) < 0) {
		c->st.invalid++;
		pt_log_warnx_limited(&c->rl_invalid, "invalid payload %s %s: %s",
		    topic ? "on" : "from", where, why);
		v = LISTENER_REJECTED;
		goto out;
	}
	if (topic != NULL && !topic_matches_device(topic, r.device)) {
		c->st.invalid++;
		pt_log_warnx_limited(&c->rl_invalid, "invalid payload on %s: device "
		    "\"%s\" does not match the topic", where, r.device);
		v = LISTENER_REJECTED;
		goto out;
	}
	/* Text format after a restart: a stream the file already holds goes on
	 * from where the file left it; it does not start with a hole. */
	if (!dedup_known(c->dedup, r.device, r.boot) &&
	    store_last_before(c->store, &r, &last))
		dedup_seed(c->dedup, r.device, r.boot, last);
	if (store_seen(c->store, &r) ||
	    (dv = dedup_check(c->dedup, r.device, r.boot, r.seq, &gap)) ==
	    DEDUP_DUPLICATE) {
		c->st.duplicates++;
		pt_log_debug_limited(&c->rl_dup, "duplicate %s/%s/%llu dropped",
		    r.device, r.boot, (unsigned long long)r.seq);
		v = LISTENER_STORED;
		goto out;
	}
	if (c->shared)
		gap = 0;        /* the other members have the missing seqs */
	if (gap > 0 && dv == DEDUP_FIRST)
		pt_log_warnx_limited(&c->rl_gap, "gap: %s boot %s: the first reading "
		    "seen is seq %llu: %lld reading(s) before it never arrived",
		    r.device, r.boot, (unsigned long long)r.seq, (long long)gap);
	else if (gap > 0)
		pt_log_warnx_limited(&c->rl_gap, "gap: %s boot %s: %lld reading(s) "
		    "missing before seq %llu", r.device, r.boot, (long long)gap,
		    (unsigned long long)r.seq);
	c->st.gaps += gap;
	while ((rc = store_put(c->store, &r, payload, len, recv_us)) < 0 &&
	    store_transient(rc))
		if (hold(c, rc) < 0) {
			/* Not stored: leave it to the MQTT session. */
			*keep = 1;
			goto out;
		}
	if (rc < 0) {
		/* Not acknowledged, so the broker keeps it; stop here. */
		pt_log_errx("cannot store in %s: %s", c->opts.output, strerror(-rc));
		c->failed = 1;
		*keep = 1;
		goto out;
	}
	v = LISTENER_STORED;
	if (rc == 1) {
		c->st.duplicates++;     /* the store had it already */
	} else {
		c->st.stored++;
		stats_latency(&c->st, recv_us - r.ts_us);
	}
	if (c->opts.count != 0 && c->st.stored >= c->opts.count)
		c->done = 1;
	/* Take the next reading only when it can be stored (see hold()). */
	while ((rc = store_ready(c->store)) < 0 && store_transient(rc))
		if (hold(c, rc) < 0)
			goto out;
	resumed(c);
out:
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* MQTT: paho's thread. Non-zero: leave it unacknowledged. */
static int
on_message(void *vctx, const char *topic, const void *payload, size_t len)
{
	int keep = 0;

	(void)handle_payload(vctx, topic, NULL, payload, len, &keep);
	return keep;
}

/* Socket mode: the main thread, from listener_run(). What is not taken
 * stays unanswered, whatever the session: the sensor keeps it. */
static enum listener_verdict
on_line(void *vctx, const char *peer, const char *line, size_t len)
{
	int keep = 0;

	return handle_payload(vctx, NULL, peer, line, len, &keep);
}

/* Say what the rate limits held back (force: all of it, at exit). */
static void
log_held(struct sink_ctx *c, int force)
{
	pthread_mutex_lock(&c->lock);
	pt_log_held(&c->rl_invalid, "invalid payload", force);
	pt_log_held(&c->rl_gap, "gap", force);
	pt_log_held(&c->rl_dup, "duplicate", force);
	pthread_mutex_unlock(&c->lock);
}

static void
summary(struct sink_ctx *c)
{
	char line[256];

	log_held(c, 1);
	pthread_mutex_lock(&c->lock);
	stats_format(&c->st, line, sizeof(line));
	pthread_mutex_unlock(&c->lock);
	pt_log_info("%s", line);
}

/* SIGHUP: open the output again (logrotate renamed it). Main thread. */
static void
reopen_output(struct sink_ctx *c)
{
	int rc;

	reopen = 0;
	pthread_mutex_lock(&c->lock);
	rc = c->failed ? 0 : store_reopen(c->store);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		pt_log_errx("SIGHUP: cannot reopen %s: %s; still writing where it was",
		    c->opts.output, strerror(-rc));
	else
		pt_log_info("SIGHUP: reopened %s", c->opts.output);
}

/*
 * Wait for --count, --timeout, a signal or a failure, driving the listener
 * in socket mode. Returns the exit status.
 */
static int
wait_for_end(struct sink_ctx *c, struct pt_mqtt *m, struct listener *l,
             int64_t deadline)
{
	struct timespec tick = { 0, 50 * 1000000L };
	int done, failed, rc;

	for (;;) {
		(void)pt_notify_wd_tick(&c->wd, pt_time_mono_ns());
		if (reopen)
			reopen_output(c);
		log_held(c, 0);
		pthread_mutex_lock(&c->lock);
		done = c->done;
		failed = c->failed;
		pthread_mutex_unlock(&c->lock);
		if (done)
			return 0;
		if (failed)
			return 1;
		if (stop)
			return c->opts.count == 0 ? 0 : 1;
		if (m != NULL && pt_mqtt_poll(m) == -ECONNREFUSED)
			return 1;
		if (deadline != 0 && pt_time_mono_ns() >= deadline)
			return EXIT_TIMEOUT;
		if (l == NULL) {
			nanosleep(&tick, NULL);
		} else if ((rc = listener_run(l, 50)) < 0) {
			pt_log_errx("listener: %s", strerror(-rc));
			return 1;
		}
	}
}

/*
 * store_commit() until it is done (a database store may still be writing
 * what it took), a signal, or deadline (monotonic ns; 0: none). Called
 * with c->lock held; released while waiting. 0 or -errno (-EINTR: a
 * signal, -ETIMEDOUT).
 */
static int
commit_wait(struct sink_ctx *c, int64_t deadline)
{
	struct timespec tick = { 0, 50 * 1000000L };
	int rc;

	while ((rc = store_commit(c->store)) == -EINPROGRESS) {
		if (stop)
			return -EINTR;
		if (deadline != 0 && pt_time_mono_ns() >= deadline)
			return -ETIMEDOUT;
		pthread_mutex_unlock(&c->lock);
		nanosleep(&tick, NULL);
		(void)pt_notify_wd_tick(&c->wd, pt_time_mono_ns());
		pthread_mutex_lock(&c->lock);
	}
	return rc;
}

/* Commit or keep the output as the exit status says. */
static int
finish_output(struct sink_ctx *c, int status, int64_t deadline)
{
	const char *kept = NULL;
	int rc;

	pthread_mutex_lock(&c->lock);
	c->failed = 1;  /* no more stores from paho's thread */
	if (status == 0 && c->opts.count != 0) {
		/* N stored: wait for the store to have them all (a second
		 * signal or --timeout ends the wait). */
		stop = 0;
		if ((rc = commit_wait(c, deadline)) < 0) {
			pt_log_errx("cannot complete %s: %s", c->opts.output,
			    rc == -EINTR ? "interrupted" : strerror(-rc));
			status = rc == -ETIMEDOUT ? EXIT_TIMEOUT : 1;
			store_abandon(c->store, &kept);
		}
	} else if (status == 0) {
		/* The logger stops: what the store still works on stays
		 * where it is safe (store_pg.c: its journal). */
		if ((rc = commit_wait(c, pt_time_mono_ns() + STOP_MS * 1000000LL)) < 0 &&
		    rc != -ETIMEDOUT && rc != -EINTR)
			pt_log_errx("cannot complete %s: %s", c->opts.output, strerror(-rc));
	} else if (c->opts.count != 0) {
		store_abandon(c->store, &kept);
		if (status == EXIT_TIMEOUT)
			pt_log_errx("timeout: %llu of %llu readings in %g s",
			    (unsigned long long)c->st.stored,
			    (unsigned long long)c->opts.count, c->opts.timeout);
		else
			pt_log_errx("stopped after %llu of %llu readings",
			    (unsigned long long)c->st.stored,
			    (unsigned long long)c->opts.count);
	} else {
		(void)store_commit(c->store);
	}
	if (kept != NULL)
		pt_log_info("the %llu readings received are kept in %s",
		    (unsigned long long)c->st.stored, kept);
	pthread_mutex_unlock(&c->lock);
	return status;
}

/* Subscribe through lib/mqtt.c. NULL on failure (logged). */
static struct pt_mqtt *
start_mqtt(struct sink_ctx *c, const char *password)
{
	struct pt_mqtt_cfg cfg;
	struct pt_mqtt *m;
	char filter[1024];
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	if ((rc = pt_opts_sub_filter(&c->opts, filter, sizeof(filter))) < 0) {
		pt_log_errx("option --topic: '%s' is too long", c->opts.topic);
		return NULL;
	}
	c->shared = rc;
	if (c->shared)
		pt_log_info("shared subscription %s: this sink stores its share of "
		    "the readings; gaps are not counted (they are in the other "
		    "members' files)", filter);
	cfg.host = c->opts.host;
	cfg.port = c->opts.port;
	cfg.client_id = c->opts.id;
	/* SPEC.md: a logger keeps a persistent session so nothing published
	 * while it is down is lost; a --count N run starts clean unless asked. */
	cfg.clean_session = !(c->opts.count == 0 || c->opts.persistent);
	cfg.mqtt_version = c->opts.mqtt_version;
	cfg.session_expiry = c->opts.session_expiry >= 0 ?
	    (uint32_t)c->opts.session_expiry : UINT32_MAX;
	/* A persistent session also keeps paho's client state on disk:
	 * messages paho acknowledged but handle_payload() declined (output
	 * failing, or arriving while the sink stops) come back next run. */
	if (!cfg.clean_session &&
	    (c->state_dir = store_state_path(&c->scfg, ".mqtt")) != NULL)
		cfg.persist_dir = c->state_dir;
	cfg.sub_filter = filter;
	cfg.sub_qos = c->opts.qos;
	cfg.username = c->opts.username;
	cfg.password = password;
	cfg.cafile = c->opts.cafile;
	cfg.cert = c->opts.cert;
	cfg.key = c->opts.key;
	cfg.insecure = c->opts.insecure;
	cfg.on_event = pt_cli_mqtt_event;
	cfg.on_message = on_message;
	cfg.ctx = c;
	if ((m = pt_mqtt_new(&cfg)) == NULL) {
		pt_log_err("cannot create the MQTT client for %s", cfg.host);
		return NULL;
	}
	if (pt_mqtt_start(m) < 0) {
		pt_log_errx("cannot start connecting to %s", cfg.host);
		pt_mqtt_free(m);
		return NULL;
	}
	return m;
}

/* Listen for sensors (--mode socket). NULL on failure (logged, *status
 * set: 2 for a bad --bind or --max-clients, 1 otherwise). */
static struct listener *
start_listener(struct sink_ctx *c, int *status)
{
	struct listener_cfg lc;
	struct listener *l;
	char err[300];

	memset(&lc, 0, sizeof(lc));
	lc.bind = c->opts.bind;
	lc.port = c->opts.port;
	lc.max_clients = c->opts.max_clients;
	lc.idle_ms = (int)(c->opts.idle_timeout * 1000.0);
	lc.max_line = PT_PAYLOAD_MAX;
	lc.on_line = on_line;
	lc.ctx = c;
	if ((l = listener_open(&lc, err, sizeof(err))) == NULL) {
		pt_log_errx("%s", err);
		*status = errno == EINVAL ? EXIT_USAGE : 1;
		return NULL;
	}
	pt_log_info("listening on %s:%d", c->opts.bind, listener_port(l));
	return l;
}

/*
 * Open the output (--format, --output) and read back what it holds for the
 * dedup. *status is set on failure (2: a bad --format, --sync or
 * --output). Then wait until it can take readings: a sink started on a
 * full disk subscribes only once it can store what it receives.
 */
static int
open_output(struct sink_ctx *c, int *status)
{
	struct store_info si;
	char err[512];
	int rc;

	c->scfg.format = c->opts.format;
	c->scfg.output = c->opts.output;
	c->scfg.mode = c->opts.count == 0 ? STORE_APPEND : STORE_COMPLETE;
	c->scfg.state_dir = c->opts.state_dir;
	c->scfg.client_id = c->opts.id;
	c->scfg.dedup = c->dedup;
	if (store_sync_parse(c->opts.sync, &c->scfg.sync) < 0) {
		pt_log_errx("option --sync: '%s' is not normal or full (see --help)",
		    c->opts.sync);
		*status = EXIT_USAGE;
		return -1;
	}
	if ((c->store = store_open(&c->scfg, &si, err, sizeof(err))) == NULL) {
		*status = errno == EINVAL ? EXIT_USAGE : 1;
		pt_log_errx("%s%s", err, *status == EXIT_USAGE ? " (see --help)" : "");
		return -1;
	}
	if (si.recovered > 0 || si.skipped > 0)
		pt_log_info("%s: %llu readings read back for dedup (%llu skipped)",
		    c->opts.output, (unsigned long long)si.recovered,
		    (unsigned long long)si.skipped);
	pthread_mutex_lock(&c->lock);
	while ((rc = store_ready(c->store)) < 0 && store_transient(rc))
		if (hold(c, rc) < 0)
			break;
	resumed(c);
	pthread_mutex_unlock(&c->lock);
	return stop ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct sink_ctx c;
	struct pt_mqtt *m = NULL;
	struct listener *l = NULL;
	char err[512], *password = NULL;
	int64_t deadline = 0;
	int status = 1, rc;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	stats_init(&c.st);
	pt_notify_wd_init(&c.wd);
	pt_ratelimit_init(&c.rl_invalid, PT_RATELIMIT_BURST, PT_RATELIMIT_PERIOD_NS);
	pt_ratelimit_init(&c.rl_gap, PT_RATELIMIT_BURST, PT_RATELIMIT_PERIOD_NS);
	pt_ratelimit_init(&c.rl_dup, PT_RATELIMIT_BURST, PT_RATELIMIT_PERIOD_NS);
	if ((rc = pt_cli_start(&c.opts, PT_PROG_SINK, argc, argv)) >= 0) {
		status = rc;
		goto out;
	}
	if (store_find(c.opts.format) == NULL) {
		pt_log_errx("option --format: '%s' is not %s (see --help)",
		    c.opts.format, store_names());
		status = EXIT_USAGE;
		goto out;
	}
	if (pt_opts_password(&c.opts, &password, err, sizeof(err)) < 0) {
		pt_log_errx("%s", err);
		status = EXIT_USAGE;
		goto out;
	}
	if ((c.dedup = dedup_new(0, 0)) == NULL) {
		pt_log_err("dedup");
		goto out;
	}
	if (c.opts.timeout > 0)
		deadline = pt_time_mono_ns() + (int64_t)(c.opts.timeout * 1e9);
	pt_cli_signals(on_signal);
	{
		/* SIGHUP reopens the output (logrotate's postrotate). */
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);
	}
	if (open_output(&c, &status) < 0)
		goto out;

	if (c.opts.mode == PT_MODE_SOCKET)
		l = start_listener(&c, &status);
	else
		m = start_mqtt(&c, password);
	if (l == NULL && m == NULL)
		goto out;
	(void)pt_notify_ready();	/* systemd Type=notify */
	status = wait_for_end(&c, m, l, deadline);
	if (l != NULL && listener_drain(l, STOP_MS) < 0)
		pt_log_warnx("sensors still connected %d ms after the FIN; closing",
		    STOP_MS);
	(void)pt_notify_stopping();
	status = finish_output(&c, status, deadline);
	if (m != NULL)
		(void)pt_mqtt_stop(m, STOP_MS);
	summary(&c);
out:
	pt_mqtt_free(m);
	listener_free(l);
	store_close(c.store);
	dedup_free(c.dedup);
	free(c.state_dir);
	free(password);
	pt_opts_free(&c.opts);
	pthread_mutex_destroy(&c.lock);
	return status;
}
