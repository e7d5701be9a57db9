/*
 * pitemp-sink: receives readings, validates each, stores each (device, boot,
 * seq) once, in a file or a database (store.h).
 *
 * Data flow: transport -> codec + validate -> dedup -> store, one path
 * (ingest.c) for both transports. main() wires it: options, the transport
 * (MQTT through lib/mqtt*.c, or the socket listener), the output, the
 * signals and the exit status.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allow.h"
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
#include "progress.h"
#include "stats.h"
#include "store.h"
#include "sink.h"

#define EXIT_USAGE      2
#define EXIT_TIMEOUT    3
#define STOP_MS         3000
#define SYNC_EVERY_MS   1000    /* --sync normal: the logger fsyncs this often */

/* Set by the signal handler: stop (SIGINT, SIGTERM), reopen the output
 * (SIGHUP). */
static volatile sig_atomic_t stop, reopen;


static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen = 1;
	else
		stop = 1;
}

static void
summary(struct sink_ctx *c)
{
	char line[256];

	sink_log_held(c, 1);
	pt_log_status_clear();
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
/*
 * --sync normal (the default): make what the logger wrote in the last second
 * durable. The fsync runs here, on the main thread, outside c->lock, so
 * paho's thread goes on writing (and acknowledging) readings meanwhile: a
 * per-line fsync held each reading for the disk (milliseconds when it is
 * busy, 100 a second on an SD card). A kill loses nothing either way (each
 * line is written before it is acknowledged); a power cut, at most the last
 * SYNC_EVERY_MS of readings.
 */
static void
sync_output(struct sink_ctx *c)
{
	int fd;

	pthread_mutex_lock(&c->lock);
	fd = store_sync_fd(c->store);
	pthread_mutex_unlock(&c->lock);
	if (fd < 0)
		return;
	if (fsync(fd) == -1)
		pt_log_err("fsync of %s (readings of the last second may not survive "
		    "a power cut)", c->opts.output);
	close(fd);
}

static int
wait_for_end(struct sink_ctx *c, struct pt_mqtt *m, struct listener *l,
             int64_t deadline)
{
	struct timespec tick = { 0, 50 * 1000000L };
	struct progress pg;
	uint64_t stored, invalid, duplicates;
	int64_t gaps;
	int64_t next_sync = 0, now;
	int done, failed, rc;

	progress_init(&pg, c->opts.count, pt_time_mono_ns());
	for (;;) {
		now = pt_time_mono_ns();
		(void)pt_notify_wd_tick(&c->wd, now);
		if (now >= next_sync) {
			sync_output(c);
			next_sync = now + SYNC_EVERY_MS * 1000000LL;
		}
		if (reopen)
			reopen_output(c);
		sink_log_held(c, 0);
		pthread_mutex_lock(&c->lock);
		done = c->done;
		failed = c->failed;
		stored = c->st.stored;
		gaps = c->st.gaps;
		invalid = c->st.invalid;
		duplicates = c->st.duplicates;
		pthread_mutex_unlock(&c->lock);
		/* A terminal's status line; with -d, counters every 10 s. */
		progress_tick(&pg, pt_time_mono_ns(), stored, gaps, invalid, duplicates);
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
		if (status == EXIT_TIMEOUT)
			pt_log_warnx("timeout: %g s passed; a logger (-C 0) has no count "
			    "to reach, so --timeout ends it with status 3 (%llu readings "
			    "stored in %s)", c->opts.timeout,
			    (unsigned long long)c->st.stored, c->opts.output);
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
	/* QoS 2: the broker forgets a message once paho answered PUBREC,
	 * before the sink has it; only paho's files keep it across a kill. */
	if (!cfg.clean_session && cfg.persist_dir == NULL && c->opts.qos == 2)
		pt_log_warnx("-q 2 without client persistence (-o - needs "
		    "--state-dir): a kill -9 loses the readings paho has answered "
		    "with PUBREC; give --state-dir, or use -q 1");
	cfg.sub_filter = filter;
	cfg.sub_qos = c->opts.qos;
	cfg.username = c->opts.username;
	cfg.password = password;
	cfg.cafile = c->opts.cafile;
	cfg.cert = c->opts.cert;
	cfg.key = c->opts.key;
	cfg.insecure = c->opts.insecure;
	cfg.on_event = pt_cli_mqtt_event;
	cfg.on_message = sink_on_message;
	cfg.ctx = c;
	pt_log_debug("session: %s (%s)%s%s", cfg.clean_session ? "clean" :
	    "persistent: the broker keeps readings while the sink is away",
	    c->opts.count == 0 ? "a logger" : c->opts.persistent ?
	    "-c" : "--count N", cfg.persist_dir ? "; paho's state in " : "",
	    cfg.persist_dir ? cfg.persist_dir : "");
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
start_listener(struct sink_ctx *c, const struct allow *allow, int *status)
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
	lc.on_line = sink_on_line;
	lc.ctx = c;
	lc.allow = allow;
	if ((l = listener_open(&lc, err, sizeof(err))) == NULL) {
		pt_log_errx("%s", err);
		*status = errno == EINVAL ? EXIT_USAGE : 1;
		return NULL;
	}
	pt_log_info("listening on %s:%d", c->opts.bind, listener_port(l));
	if (allow == NULL)
		pt_log_warnx("socket mode has no authentication: anyone who reaches "
		    "%s:%d can store readings (--allow CIDR limits the peers; or use "
		    "MQTT with the secure broker profile)", c->opts.bind,
		    listener_port(l));
	else
		pt_log_info("accepting only peers in %s (--allow)", c->opts.allow);
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
	int rc, e = 0;

	c->scfg.format = c->opts.format;
	c->scfg.output = c->opts.output;
	c->scfg.mode = c->opts.count == 0 ? STORE_APPEND : STORE_COMPLETE;
	c->scfg.state_dir = c->opts.state_dir;
	c->scfg.client_id = c->opts.id;
	c->scfg.dedup = c->dedup;
	pt_log_debug("output %s: format %s, %s", c->opts.output, c->opts.format,
	    c->scfg.mode == STORE_APPEND ? "appended to (a logger, -C 0)" :
	    "complete once N are stored (-C N; until then FILE.partial on a stop)");
	if (store_sync_parse(c->opts.sync, &c->scfg.sync) < 0) {
		pt_log_errx("option --sync: '%s' is not normal or full (see --help)",
		    c->opts.sync);
		*status = EXIT_USAGE;
		return -1;
	}
	/* A new file on a full disk cannot even get its header: wait for
	 * room as for a reading (nothing is received before). */
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if ((c->store = store_open(&c->scfg, &si, err, sizeof(err))) != NULL)
			break;
		e = errno;
		if ((e != ENOSPC && e != EDQUOT) || sink_hold(c, -e) < 0)
			break;
	}
	pthread_mutex_unlock(&c->lock);
	if (c->store == NULL && stop)
		return -1;
	if (c->store == NULL) {
		*status = e == EINVAL ? EXIT_USAGE : 1;
		pt_log_errx("%s%s", err, *status == EXIT_USAGE ? " (see --help)" : "");
		return -1;
	}
	if (si.recovered > 0 || si.skipped > 0)
		pt_log_info("%s: %llu readings read back for dedup (%llu skipped)",
		    c->opts.output, (unsigned long long)si.recovered,
		    (unsigned long long)si.skipped);
	pthread_mutex_lock(&c->lock);
	while ((rc = store_ready(c->store)) < 0 && store_transient(rc))
		if (sink_hold(c, rc) < 0)
			break;
	sink_resumed(c);
	pthread_mutex_unlock(&c->lock);
	return stop ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct sink_ctx c;
	struct pt_mqtt *m = NULL;
	struct listener *l = NULL;
	struct allow *allow = NULL;
	char err[512], *password = NULL;
	int64_t deadline = 0;
	int status = 1, rc;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	c.stop = &stop;
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
	if (c.opts.allow != NULL &&
	    (allow = allow_parse(c.opts.allow, err, sizeof(err))) == NULL) {
		pt_log_errx("%s", err);
		status = errno == EINVAL ? EXIT_USAGE : 1;
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
		l = start_listener(&c, allow, &status);
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
	if (l != NULL) {
		struct listener_stats ls;

		listener_stats(l, &ls);
		pt_log_info("clients: served=%llu refused_over_limit=%llu "
		    "refused_not_allowed=%llu", ls.accepted, ls.over_limit,
		    ls.not_allowed);
	}
	summary(&c);
out:
	pt_mqtt_free(m);
	listener_free(l);
	allow_free(allow);
	store_close(c.store);
	dedup_free(c.dedup);
	free(c.state_dir);
	free(password);
	pt_opts_free(&c.opts);
	pthread_mutex_destroy(&c.lock);
	return status;
}
