/*
 * ingest.c: the one path every payload takes in pitemp-sink (see sink.h):
 * decode and validate it, check its topic names its device, drop what the
 * dedup or the store has seen, count gaps, store it.
 *
 * In MQTT mode it runs on paho's thread inside the message callback and
 * stores the reading (as a logger: safe against a kill, see store.h)
 * before returning; paho 1.3.12 acknowledges the message (PUBACK, or
 * PUBCOMP at QoS 2) only after that, so a kill -9 before the store loses
 * nothing (the broker, or at QoS 2 paho's files, has it:
 * tests/integration/test_qos.py); a crash after the store can only repeat
 * a reading, which dedup and the store's recovery absorb. When the store
 * cannot take readings (a full disk, a database away: store_transient),
 * the callback waits rather than return (sink_hold()): paho reads nothing
 * more meanwhile, so the broker keeps what was not stored. In socket
 * mode it runs on the main thread from the listener's loop, and what it
 * returns is what the sensor is answered (pt_ack.h). ctx->lock guards all
 * it touches.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pt_codec.h"
#include "pt_log.h"
#include "pt_time.h"
#include "sink.h"

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

/* What an invalid payload looked like, for its log line: its length and
 * its first bytes, escaped ("\xNN", \" and \\), quoted; "..." when cut. */
#define SHOW_BYTES 48
static void
show_payload(const void *payload, size_t len, char *out, size_t cap)
{
	const unsigned char *p = payload;
	size_t i, j, n = len < SHOW_BYTES ? len : SHOW_BYTES;

	j = (size_t)snprintf(out, cap, "%zu bytes, begins \"", len);
	for (i = 0; i < n && j + 8 < cap; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			out[j++] = '\\';
			out[j++] = (char)p[i];
		} else if (p[i] >= 0x20 && p[i] < 0x7f)
			out[j++] = (char)p[i];
		else
			j += (size_t)snprintf(out + j, cap - j, "\\x%02x", p[i]);
	}
	snprintf(out + j, cap - j, "\"%s", i < len ? "..." : "");
}

/*
 * The store cannot take a reading now (rc, a store_transient error: a full
 * disk, a database away or busy). Wait HOLD_MS with c->lock released and
 * return 0 to try again, or -1 when the run is ending. Waiting here is the
 * point: in MQTT mode paho reads no further message while its callback
 * waits, so the broker keeps what the sink could not store instead of
 * having it acknowledged. The first wait says so, once; sink_resumed() says
 * when it is over. In socket mode this is the main thread: keep the
 * watchdog fed (the sink is alive, and a restart would not help).
 */
int
sink_hold(struct sink_ctx *c, int rc)
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
	return *c->stop || c->failed || c->done ? -1 : 0;
}

void
sink_resumed(struct sink_ctx *c)
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
	char why[256], where[200], shown[4 * SHOW_BYTES + 40];
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
	if (pt_codec_decode(payload, len, &r, why, sizeof(why)) < 0) {
		c->st.invalid++;
		/* Escaped only here: the good path has no use for it. */
		printable(topic != NULL ? topic : from, where, sizeof(where));
		show_payload(payload, len, shown, sizeof(shown));
		pt_log_warnx_limited(&c->rl_invalid, "invalid payload %s %s: %s "
		    "(%s)", topic ? "on" : "from", where, why, shown);
		v = LISTENER_REJECTED;
		goto out;
	}
	if (topic != NULL && !topic_matches_device(topic, r.device)) {
		c->st.invalid++;
		printable(topic, where, sizeof(where));
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
		if (sink_hold(c, rc) < 0) {
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
	/* Take the next reading only when it can be stored (see sink_hold()). */
	while ((rc = store_ready(c->store)) < 0 && store_transient(rc))
		if (sink_hold(c, rc) < 0)
			goto out;
	sink_resumed(c);
out:
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* MQTT: paho's thread. Non-zero: leave it unacknowledged. */
int
sink_on_message(void *vctx, const char *topic, const void *payload, size_t len)
{
	int keep = 0;

	(void)handle_payload(vctx, topic, NULL, payload, len, &keep);
	return keep;
}

/* Socket mode: the main thread, from listener_run(). What is not taken
 * stays unanswered, whatever the session: the sensor keeps it. */
enum listener_verdict
sink_on_line(void *vctx, const char *peer, const char *line, size_t len)
{
	int keep = 0;

	return handle_payload(vctx, NULL, peer, line, len, &keep);
}

/* Say what the rate limits held back (force: all of it, at exit). */
void
sink_log_held(struct sink_ctx *c, int force)
{
	pthread_mutex_lock(&c->lock);
	pt_log_held(&c->rl_invalid, "invalid payload", force);
	pt_log_held(&c->rl_gap, "gap", force);
	pt_log_held(&c->rl_dup, "duplicate", force);
	pthread_mutex_unlock(&c->lock);
}

