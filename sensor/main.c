/*
 * pitemp-sensor: samples a TMP36 (or a stand-in source) on absolute
 * deadlines and publishes one JSON reading per sample.
 *
 * Data flow: source -> pacer -> reading -> codec -> transport (MQTT or a
 * plain socket, behind struct transport_ops). main() owns the loop, the
 * signals and the exit status; everything here runs on the main thread
 * (paho's thread stays inside lib/mqtt.c and transport_mqtt.c). In MQTT
 * mode the summary stream and Home Assistant discovery ride along
 * (streams.c).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "pt_cli.h"
#include "pt_hosts.h"
#include "pt_codec.h"
#include "pt_log.h"
#include "pt_opts.h"
#include "pt_pacer.h"
#include "pt_time.h"
#include "pt_tmp36.h"
#include "source.h"
#include "hw.h"
#include "pt_notify.h"
#include "report.h"
#include "streams.h"
#include "transport.h"

#define EXIT_USAGE      2
#define BUFFER_SECONDS  60      /* readings paho may hold while the broker is away */
/* ... but at most this many: MQTT has 65535 message ids for what is in
 * flight and queued at QoS 1/2 (60 s at 1000 Hz; at --rate 100000, 0.6 s). */
#define BUFFER_MAX      60000
#define BUFFER_MIN      100
#define STOP_FLUSH_MS   5000    /* the whole stop: within the unit's TimeoutStopSec=10s */
#define STOP_FLUSH_TEXT "5 s"

static volatile sig_atomic_t stop;

struct sensor_ctx {
	struct pt_opts   opts;
	struct source   *src;
	struct transport *tr;
	size_t           buffer;        /* readings held while disconnected */
	char             buffer_note[48]; /* ", 60 s at 100 Hz" */
	char             boot[PT_BOOT_LEN + 1];
	uint64_t         seq;           /* next sample's seq */
	uint64_t         handed;        /* readings handed to the transport */
	uint64_t         read_errors;
	uint64_t         out_of_range;
	uint64_t         dropped;       /* buffer full: counted and logged */
	struct report    report;        /* counters on stderr every 10 s */
	struct hw       *hw;            /* --led, --drdy (no-ops without) */
	struct pt_notify_wd wd;         /* systemd watchdog pings */
	struct streams   streams;       /* summaries, discovery (MQTT only) */
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
valid_device(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PT_DEVICE_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/* Build and publish the reading of one sample. 0, or -ENOBUFS when it was
 * dropped because the buffer was full. */
static int
publish_sample(struct sensor_ctx *c, const struct source_sample *s, int64_t ts_us)
{
	struct pt_reading r;
	char payload[PT_PAYLOAD_MAX + 1];
	int len, rc;

	memset(&r, 0, sizeof(r));
	snprintf(r.device, sizeof(r.device), "%s", c->opts.device);
	memcpy(r.boot, c->boot, sizeof(r.boot));
	r.seq = c->seq;
	r.ts_us = ts_us;
	if (source_fill_reading(s, &r) < 0) {
		/* A bogus temperature is never published; the seq gap tells the sink. */
		c->out_of_range++;
		pt_log_warnx("sample %llu: %.1f mV (%.2f C) is outside the TMP36 range; skipped",
		    (unsigned long long)c->seq, s->mv, pt_tmp36_mv_to_c(s->mv));
		return 0;
	}
	if ((len = pt_codec_encode(&r, payload, sizeof(payload))) < 0) {
		pt_log_errx("sample %llu: cannot encode (%s)", (unsigned long long)c->seq,
		    strerror(-len));
		return len;
	}
	rc = -ENOBUFS;          /* what a stop before it was handed over is */
	for (;;) {
		/* --rate 0: go as fast as the far end takes readings, waiting
		 * (on a condition, not a sleep) while a window is outstanding. */
		if (c->opts.rate <= 0 && c->tr->ops->wait(c->tr, 100) == -ETIMEDOUT) {
			if (stop)
				break;
			if (c->tr->ops->poll(c->tr) == -ECONNREFUSED)
				return -ECONNREFUSED;
			continue;
		}
		rc = c->tr->ops->publish(c->tr, payload, (size_t)len);
		if (rc != -ENOBUFS || c->opts.rate > 0 || stop)
			break;
		/* Full although the window had room (a limit of the transport's
		 * own): try again shortly. */
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
		if (c->tr->ops->poll(c->tr) == -ECONNREFUSED)
			return -ECONNREFUSED;
	}
	if (rc == -ENOBUFS) {
		c->dropped++;
		if ((c->dropped & (c->dropped - 1)) == 0)  /* 1, 2, 4, 8 ... */
			pt_log_warnx("buffer full (%zu readings%s): reading %llu dropped, "
			    "%llu dropped so far", c->buffer, c->buffer_note,
			    (unsigned long long)c->seq, (unsigned long long)c->dropped);
		return rc;
	}
	if (rc < 0)
		pt_log_errx("publish of reading %llu failed", (unsigned long long)c->seq);
	else {
		c->handed++;
		hw_on_publish(c->hw);
		streams_reading(&c->streams, c->tr, ts_us, r.temp_c);
	}
	return rc;
}

static void
summary(struct sensor_ctx *c)
{
	struct transport_counters k;

	c->tr->ops->counters(c->tr, &k);
	pt_log_info("samples=%llu published=%llu delivered=%llu failed=%llu "
	    "dropped=%llu unacked=%llu read_errors=%llu out_of_range=%llu "
	    "connects=%llu summaries=%llu",
	    (unsigned long long)c->seq, (unsigned long long)k.published,
	    (unsigned long long)k.delivered, (unsigned long long)k.failed,
	    (unsigned long long)c->dropped, (unsigned long long)k.unacked,
	    (unsigned long long)c->read_errors,
	    (unsigned long long)c->out_of_range, (unsigned long long)k.connects,
	    (unsigned long long)c->streams.sent);
}

/*
 * The payload time of the sample just taken: its deadline on the realtime
 * clock. The sampling clock is the deadline schedule, so wake-up jitter
 * (hundreds of microseconds on a busy Pi) stays out of the timestamps and
 * their mean interval is the exact period. A sample more than half a period
 * late was really taken later, so it carries the time it was taken; and
 * as the samples after a stall catch up, a deadline can lie before the
 * time given to the late sample just before it, so times never go back
 * (*prev_us: the previous sample's time, updated).
 */
static int64_t
sample_time(const struct pt_pacer *p, int64_t *prev_us)
{
	int64_t ts = pt_time_now_us();
	int64_t late_ns;

	if (p->hz > 0 && p->k > 0) {
		late_ns = pt_time_mono_ns() - pt_pacer_deadline(p, p->k - 1);
		if (late_ns >= 0 && (double)late_ns <= 0.5e9 / p->hz)
			ts -= late_ns / 1000;
	}
	if (ts <= *prev_us)
		ts = *prev_us + 1;
	*prev_us = ts;
	return ts;
}

/* Sample until --count or a signal. Returns an exit status. */
static int
run(struct sensor_ctx *c)
{
	struct pt_pacer pacer;
	struct source_sample s;
	struct transport_counters k;
	char err[256];
	int64_t prev_ts = 0;
	int rc;

	if (pt_pacer_init(&pacer, c->opts.rate) < 0) {
		pt_log_errx("option --rate: %g is not a usable rate", c->opts.rate);
		return EXIT_USAGE;
	}
	/* --count counts readings handed over: a skipped sample still uses a
	 * seq (the sink sees the gap) but not a place among the N. */
	while (!stop && (c->opts.count == 0 || c->handed < c->opts.count)) {
		if ((rc = hw_wait_sample(c->hw, &pacer)) == -EINTR)
			continue;
		if (c->tr->ops->poll(c->tr) == -ECONNREFUSED)
			return 1;
		c->tr->ops->counters(c->tr, &k);
		hw_on_connect(c->hw, k.connected);
		streams_tick(&c->streams, c->tr, &k);
		(void)pt_notify_wd_tick(&c->wd, pt_time_mono_ns());
		report_tick(&c->report, c->tr, c->dropped, 0);
		int64_t ts = sample_time(&pacer, &prev_ts);
		rc = source_read(c->src, &s, err, sizeof(err));
		if (rc == -ENODATA) {
			pt_log_info("source %s: end of data after %llu samples",
			    source_name(c->src), (unsigned long long)c->seq);
			break;
		}
		if (rc == -EAGAIN) {
			c->read_errors++;
			pt_log_warnx("sample %llu: %s; skipped", (unsigned long long)c->seq,
			    err);
		} else if (rc < 0) {
			pt_log_errx("source %s: %s", source_name(c->src), err);
			return 1;
		} else if (publish_sample(c, &s, ts) == -ECONNREFUSED) {
			return 1;
		}
		c->seq++;
	}
	return 0;
}

/* --count N: wait until every reading is acknowledged (or a signal). */
static int
drain(struct sensor_ctx *c)
{
	while (c->tr->ops->flush(c->tr, 100) == -ETIMEDOUT) {
		if (stop)
			return -EINTR;
		report_tick(&c->report, c->tr, c->dropped, 0);
		if (c->tr->ops->poll(c->tr) == -ECONNREFUSED)
			return -ECONNREFUSED;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sensor_ctx c;
	struct transport_cfg tc;
	struct transport_counters k;
	char err[512], where[1200], *password = NULL;
	int rc, status = 1, was_connected;

	memset(&c, 0, sizeof(c));
	if ((rc = pt_cli_start(&c.opts, PT_PROG_SENSOR, argc, argv)) >= 0) {
		status = rc;
		goto out;
	}
	/* Wake at the pacer's deadlines, not up to 50 us after them (Linux's
	 * default timer slack): a payload's ts is its deadline, so the slack
	 * would show as latency at the sink. Inherited by paho's threads. */
	(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	if (!valid_device(c.opts.device)) {
		pt_log_errx("option --device: '%s' must be 1-64 of A-Z a-z 0-9 . _ -",
		    c.opts.device);
		status = EXIT_USAGE;
		goto out;
	}
	if ((c.src = source_open(c.opts.source, err, sizeof(err))) == NULL) {
		pt_log_errx("option --source: %s", err);
		status = EXIT_USAGE;
		goto out;
	}
	if ((c.hw = hw_open(&c.opts, err, sizeof(err))) == NULL) {
		pt_log_errx("%s", err);
		status = errno == EINVAL || errno == ENOENT ? EXIT_USAGE : 1;
		goto out;
	}
	if (pt_opts_password(&c.opts, &password, err, sizeof(err)) < 0) {
		pt_log_errx("%s", err);
		status = EXIT_USAGE;
		goto out;
	}
	if (pt_reading_boot_id(c.boot) < 0) {
		pt_log_err("getrandom");
		goto out;
	}
	if (streams_setup(&c.streams, &c.opts, c.boot, err, sizeof(err)) < 0) {
		pt_log_errx("%s", err);
		status = EXIT_USAGE;
		goto out;
	}
	pt_cli_signals(on_signal);

	/* The same bound in both modes: BUFFER_SECONDS of readings, within
	 * BUFFER_MIN..BUFFER_MAX; the one number every message quotes. */
	c.buffer = c.opts.rate > 0 ? (size_t)(c.opts.rate * BUFFER_SECONDS) : 1000;
	if (c.buffer < BUFFER_MIN)
		c.buffer = BUFFER_MIN;
	if (c.buffer > BUFFER_MAX)
		c.buffer = BUFFER_MAX;
	if (c.opts.rate > 0)
		snprintf(c.buffer_note, sizeof(c.buffer_note), ", %.3g s at %g Hz",
		    (double)c.buffer / c.opts.rate, c.opts.rate);
	pt_log_debug("buffer: %zu readings%s", c.buffer, c.buffer_note);
	memset(&tc, 0, sizeof(tc));
	tc.opts = &c.opts;
	tc.password = password;
	tc.buffer = c.buffer;
	streams_transport_cfg(&c.streams, &tc);
	c.tr = c.opts.mode == PT_MODE_SOCKET ?
	    transport_socket_new(&tc, err, sizeof(err)) :
	    transport_mqtt_new(&tc, err, sizeof(err));
	if (c.tr == NULL) {
		pt_log_errx("%s", err);
		goto out;
	}
	pt_hosts_format(c.opts.host, c.opts.port, where, sizeof(where));
	if (c.opts.mode == PT_MODE_SOCKET)
		pt_log_info("device %s boot %s: %s at %g Hz to %s (socket)",
		    c.opts.device, c.boot, source_name(c.src), c.opts.rate, where);
	else
		pt_log_info("device %s boot %s: %s at %g Hz to %s topic %s qos %d "
		    "(MQTT %s)", c.opts.device, c.boot, source_name(c.src),
		    c.opts.rate, where, c.opts.topic, c.opts.qos,
		    c.opts.mqtt_version == 5 ? "5" : "3.1.1");
	streams_log_start(&c.streams, c.opts.summary_period);
	if (c.opts.mode == PT_MODE_MQTT)
		pt_log_debug("client id %s; status pitemp/%s/status (retained \"online\", "
		    "will \"offline\"); %s", c.opts.id, c.opts.device, c.opts.count ?
		    "exits once --count readings are acknowledged" : "runs until stopped");
	if (c.tr->ops->start(c.tr) < 0) {
		pt_log_errx("cannot start connecting to %s", where);
		goto out;
	}
	/* systemd (Type=notify): up once the source is open and the transport
	 * started; the broker may come later, readings are buffered. */
	pt_notify_wd_init(&c.wd);
	(void)pt_notify_ready();
	(void)pt_notify_status("%s at %g Hz to %s", source_name(c.src),
	    c.opts.rate, where);

	report_init(&c.report, REPORT_EVERY_S);
	status = run(&c);
	(void)pt_notify_stopping();
	if (status == 0)        /* not after a refusal */
		streams_stop(&c.streams, c.tr);
	if (status == 0 && c.opts.count != 0 && !stop) {
		rc = drain(&c);
		if (rc == -ECONNREFUSED)
			status = 1;
	}
	c.tr->ops->counters(c.tr, &k);
	was_connected = k.connected;
	if ((rc = c.tr->ops->stop(c.tr, STOP_FLUSH_MS)) < 0) {
		c.tr->ops->counters(c.tr, &k);
		if (k.published == k.delivered + k.failed) {
			/* Every reading is done: what is left is the "offline"
			 * status or a summary (a nats node storing retained
			 * messages during a failover can take longer). */
			pt_log_warnx("%s did not acknowledge the status or summary "
			    "messages (%s); no reading is left", where,
			    was_connected ? "no acknowledgement within "
			    STOP_FLUSH_TEXT : "not connected");
		} else {
			/* One line for what is left, not one per reading. */
			pt_log_warnx("%llu readings not acknowledged by %s are "
			    "discarded at exit (%s)", (unsigned long long)(k.published -
			    k.delivered - k.failed), where, rc == -EPROTO ? "the peer "
			    "never acknowledges: not a pitemp-sink" : was_connected ?
			    "no acknowledgement within " STOP_FLUSH_TEXT :
			    "not connected");
			if (c.opts.count != 0 && !stop)
				status = 1;
		}
	}
	report_tick(&c.report, c.tr, c.dropped, 1);
	summary(&c);
out:
	if (c.tr != NULL)
		c.tr->ops->free(c.tr);
	hw_close(c.hw);
	source_close(c.src);
	free(password);
	pt_opts_free(&c.opts);
	return status;
}
