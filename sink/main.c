/*
 * pitemp-sink: receives readings, validates each, stores each (device, boot,
 * seq) once, and writes them to a file.
 *
 * Data flow: transport -> codec + validate -> dedup -> writer, one path
 * (handle_payload) for both transports. In MQTT mode it runs on paho's
 * thread inside the message callback and writes (and, as a logger, fsyncs)
 * the line before returning. paho 1.3 sends a QoS 1 PUBACK just before it
 * queues the message for this callback, so a kill -9 in those microseconds
 * can lose one reading (the sink reports it as a gap on the next one); a
 * crash after the write can only repeat a reading, which dedup and the
 * file-tail recovery (recover.c) absorb. In socket mode it runs on the
 * main thread from the listener's loop. ctx->lock guards all it touches.
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
#include "recover.h"
#include "pt_cli.h"
#include "pt_codec.h"
#include "pt_log.h"
#include "pt_mqtt.h"
#include "pt_opts.h"
#include "pt_notify.h"
#include "pt_time.h"
#include "stats.h"
#include "writer.h"

#define EXIT_USAGE      2
#define EXIT_TIMEOUT    3
#define STOP_MS         3000

static volatile sig_atomic_t stop;

struct sink_ctx {
	struct pt_opts      opts;
	enum writer_format  fmt;
	pthread_mutex_t     lock;       /* guards all below */
	struct dedup       *dedup;
	struct recover     *recover;    /* --count 0: the output's tail (text) */
	char               *state_dir;  /* paho's file persistence, or NULL */
	struct writer      *writer;
	struct stats        st;
	int                 done;       /* --count N reached */
	int                 failed;     /* the output cannot be written */
};

static void
on_signal(int sig)
{
	(void)sig;
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
 * One payload from either transport; topic is NULL in socket mode, where
 * from names the peer. Returns 0 when handled (acknowledge it), non-zero to
 * leave it unacknowledged (redelivered later).
 */
static int
handle_payload(struct sink_ctx *c, const char *topic, const char *from,
               const void *payload, size_t len)
{
	struct pt_reading r;
	char why[256], where[200];
	int64_t gap = 0, recv_us;
	int rc, keep = 0;

	recv_us = pt_time_now_us();
	pthread_mutex_lock(&c->lock);
	if (c->failed || c->done) {
		/* Past the end of this run: a persistent session keeps the rest
		 * for the next run; a clean one had nothing promised. */
		keep = c->opts.persistent || c->opts.count == 0;
		goto out;
	}
	printable(topic != NULL ? topic : from, where, sizeof(where));
	if (pt_codec_decode(payload, len, &r, why, sizeof(why)) < 0) {
		c->st.invalid++;
		pt_log_warnx("invalid payload %s %s: %s", topic ? "on" : "from", where, why);
		goto out;
	}
	if (topic != NULL && !topic_matches_device(topic, r.device)) {
		c->st.invalid++;
		pt_log_warnx("invalid payload on %s: device \"%s\" does not match the topic",
		    where, r.device);
		goto out;
	}
	if (recover_seen(c->recover, &r) ||
	    dedup_check(c->dedup, r.device, r.boot, r.seq, &gap) == DEDUP_DUPLICATE) {
		c->st.duplicates++;
		pt_log_debug("duplicate %s/%s/%llu dropped", r.device, r.boot,
		    (unsigned long long)r.seq);
		goto out;
	}
	if (gap > 0)
		pt_log_warnx("gap: %s boot %s: %lld reading(s) missing before seq %llu",
		    r.device, r.boot, (long long)gap, (unsigned long long)r.seq);
	c->st.gaps += gap;
	if ((rc = writer_write(c->writer, &r, payload, len, recv_us)) < 0) {
		/* Not acknowledged, so the broker keeps it; stop here. */
		pt_log_errx("cannot write %s: %s", c->opts.output, strerror(-rc));
		c->failed = 1;
		keep = 1;
		goto out;
	}
	c->st.stored++;
	stats_latency(&c->st, recv_us - r.ts_us);
	if (c->opts.count != 0 && c->st.stored >= c->opts.count)
		c->done = 1;
out:
	pthread_mutex_unlock(&c->lock);
	return keep;
}

/* MQTT: paho's thread. */
static int
on_message(void *vctx, const char *topic, const void *payload, size_t len)
{
	return handle_payload(vctx, topic, NULL, payload, len);
}

/* Socket mode: the main thread, from listener_run(). */
static int
on_line(void *vctx, const char *peer, const char *line, size_t len)
{
	return handle_payload(vctx, NULL, peer, line, len);
}

static void
summary(struct sink_ctx *c)
{
	char line[256];

	pthread_mutex_lock(&c->lock);
	stats_format(&c->st, line, sizeof(line));
	pthread_mutex_unlock(&c->lock);
	pt_log_info("%s", line);
}

/*
 * Wait for --count, --timeout, a signal or a failure, driving the listener
 * in socket mode. Returns the exit status.
 */
static int
wait_for_end(struct sink_ctx *c, struct pt_mqtt *m, struct listener *l)
{
	int64_t deadline = 0;
	struct timespec tick = { 0, 50 * 1000000L };
	struct pt_notify_wd wd;
	int done, failed, rc;

	if (c->opts.timeout > 0)
		deadline = pt_time_mono_ns() + (int64_t)(c->opts.timeout * 1e9);
	pt_notify_wd_init(&wd);
	for (;;) {
		(void)pt_notify_wd_tick(&wd, pt_time_mono_ns());
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

/* Commit or keep the output as the exit status says. */
static int
finish_output(struct sink_ctx *c, int status)
{
	const char *kept = NULL;
	int rc;

	pthread_mutex_lock(&c->lock);
	c->failed = 1;  /* no more writes from paho's thread */
	if (status == 0) {
		if ((rc = writer_commit(c->writer)) < 0) {
			pt_log_errx("cannot complete %s: %s", c->opts.output, strerror(-rc));
			status = 1;
		}
	} else if (c->opts.count != 0) {
		writer_abandon(c->writer, &kept);
		if (status == EXIT_TIMEOUT)
			pt_log_errx("timeout: %llu of %llu readings in %g s",
			    (unsigned long long)c->st.stored,
			    (unsigned long long)c->opts.count, c->opts.timeout);
		else
			pt_log_errx("stopped after %llu of %llu readings",
			    (unsigned long long)c->st.stored,
			    (unsigned long long)c->opts.count);
		if (kept != NULL)
			pt_log_info("the %llu readings received are kept in %s",
			    (unsigned long long)c->st.stored, kept);
	} else {
		(void)writer_commit(c->writer);
	}
	pthread_mutex_unlock(&c->lock);
	return status;
}

/* Subscribe through lib/mqtt.c. NULL on failure (logged). */
static struct pt_mqtt *
start_mqtt(struct sink_ctx *c, const char *password)
{
	struct pt_mqtt_cfg cfg;
	struct pt_mqtt *m;

	memset(&cfg, 0, sizeof(cfg));
	cfg.host = c->opts.host;
	cfg.port = c->opts.port;
	cfg.client_id = c->opts.id;
	/* SPEC.md: a logger keeps a persistent session so nothing published
	 * while it is down is lost; a --count N run starts clean unless asked. */
	cfg.clean_session = !(c->opts.count == 0 || c->opts.persistent);
	/* A persistent session also keeps paho's client state on disk:
	 * messages paho acknowledged but handle_payload() declined (output
	 * failing, or arriving while the sink stops) come back next run. */
	if (!cfg.clean_session && (c->state_dir = recover_state_dir(c->opts.output)) != NULL)
		cfg.persist_dir = c->state_dir;
	cfg.sub_filter = c->opts.topic;
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
		pt_log_err("cannot create the MQTT client for %s:%d", cfg.host, cfg.port);
		return NULL;
	}
	if (pt_mqtt_start(m) < 0) {
		pt_log_errx("cannot start connecting to %s:%d", cfg.host, cfg.port);
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

int
main(int argc, char **argv)
{
	struct sink_ctx c;
	struct pt_mqtt *m = NULL;
	struct listener *l = NULL;
	char err[512], *password = NULL;
	int rc, status = 1;

	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	stats_init(&c.st);
	if ((rc = pt_cli_start(&c.opts, PT_PROG_SINK, argc, argv)) >= 0) {
		status = rc;
		goto out;
	}
	if (writer_format_parse(c.opts.format, &c.fmt) < 0) {
		pt_log_errx("option --format: '%s' is not text, csv or jsonl (see --help)",
		    c.opts.format);
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
	c.writer = writer_open(c.opts.output, c.fmt,
	    c.opts.count == 0 ? WRITER_APPEND : WRITER_COMPLETE);
	if (c.writer == NULL) {
		pt_log_err("cannot open %s", c.opts.output);
		goto out;
	}
	if (c.opts.count == 0) {
		struct recover_info ri;

		/* Readings already in the file are not stored again when the
		 * broker or paho delivers them a second time after a crash. */
		if ((c.recover = recover_load(c.opts.output, c.fmt, c.dedup, &ri)) == NULL) {
			pt_log_err("cannot read back %s", c.opts.output);
			goto out;
		}
		if (ri.lines > 0 || ri.skipped > 0)
			pt_log_info("%s: %llu readings read back for dedup (%llu lines skipped)",
			    c.opts.output, (unsigned long long)ri.lines,
			    (unsigned long long)ri.skipped);
	}
	pt_cli_signals(on_signal);

	if (c.opts.mode == PT_MODE_SOCKET)
		l = start_listener(&c, &status);
	else
		m = start_mqtt(&c, password);
	if (l == NULL && m == NULL)
		goto out;
	(void)pt_notify_ready();	/* systemd Type=notify */
	status = wait_for_end(&c, m, l);
	if (l != NULL && listener_drain(l, STOP_MS) < 0)
		pt_log_warnx("sensors still connected %d ms after the FIN; closing",
		    STOP_MS);
	(void)pt_notify_stopping();
	status = finish_output(&c, status);
	if (m != NULL)
		(void)pt_mqtt_stop(m, STOP_MS);
	summary(&c);
out:
	pt_mqtt_free(m);
	listener_free(l);
	writer_free(c.writer);
	dedup_free(c.dedup);
	recover_free(c.recover);
	free(c.state_dir);
	free(password);
	pt_opts_free(&c.opts);
	pthread_mutex_destroy(&c.lock);
	return status;
}
