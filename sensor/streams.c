/*
 * streams.c: the summary stream and Home Assistant discovery (see
 * streams.h).
 */
#include "streams.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pt_log.h"
#include "pt_time.h"

#define ANNOUNCE_GAP_NS 1000000000LL   /* discovery configs at most 1/s */
#define ANNOUNCE_LOG_NS 60000000000LL  /* their info line at most 1/min */

int
streams_setup(struct streams *st, const struct pt_opts *o, const char *boot,
              char *err, size_t cap)
{
	struct discovery_info d;

	memset(st, 0, sizeof(*st));
	st->device = o->device;
	st->boot = boot;
	if (o->mode != PT_MODE_MQTT || o->summary_period <= 0)
		return 0;
	summary_init(&st->sum, llround(o->summary_period * 1e6));
	snprintf(st->topic, sizeof(st->topic), "pitemp/%s/summary", o->device);
	if (o->ha_discovery == NULL)
		return 0;
	memset(&d, 0, sizeof(d));
	d.prefix = o->ha_discovery;
	d.device = o->device;
	d.source = o->source;
	d.sw_version = PITEMP_VERSION;
	d.period_s = o->summary_period;
	d.rate_hz = o->rate;
	if (discovery_topic(&d, st->ha_topic, sizeof(st->ha_topic)) < 0 ||
	    discovery_status_topic(&d, st->ha_status, sizeof(st->ha_status)) < 0 ||
	    (st->ha_len = discovery_config(&d, st->ha_config,
	    sizeof(st->ha_config))) < 0) {
		st->ha_len = 0;
		snprintf(err, cap, "option --ha-discovery: cannot build the config "
		    "for prefix '%s'", o->ha_discovery);
		return -EINVAL;
	}
	return 0;
}

void
streams_transport_cfg(const struct streams *st, struct transport_cfg *tc)
{
	if (st->ha_len > 0) {
		tc->watch_topic = st->ha_status;
		tc->watch_payload = "online";
	}
}

void
streams_log_start(const struct streams *st, double period_s)
{
	if (st->topic[0] == '\0')
		return;
	pt_log_info("summary every %g s on %s (retained)%s%s", period_s,
	    st->topic, st->ha_len > 0 ? "; home assistant discovery on " : "",
	    st->ha_len > 0 ? st->ha_topic : "");
}

/* Publish one closed window, retained. A full buffer drops it: counted,
 * logged at the 1st, 2nd, 4th, 8th ... */
static void
publish_window(struct streams *st, struct transport *tr,
               const struct summary_window *w)
{
	char payload[SUMMARY_PAYLOAD_MAX];
	int len;

	if ((len = summary_encode(w, st->device, st->boot, payload,
	    sizeof(payload))) < 0) {
		pt_log_errx("summary of %llu readings: cannot encode (%s)",
		    (unsigned long long)w->n, strerror(-len));
		return;
	}
	if (tr->ops->publish_aux(tr, st->topic, payload, (size_t)len, 1) == 0) {
		st->sent++;
		return;
	}
	st->dropped++;
	if ((st->dropped & (st->dropped - 1)) == 0)
		pt_log_warnx("buffer full: summary dropped, %llu dropped so far",
		    (unsigned long long)st->dropped);
}

void
streams_reading(struct streams *st, struct transport *tr, int64_t ts_us,
                double temp_c)
{
	struct summary_window w;

	if (st->topic[0] != '\0' && summary_add(&st->sum, ts_us, temp_c, &w))
		publish_window(st, tr, &w);
}

void
streams_stop(struct streams *st, struct transport *tr)
{
	struct summary_window w;

	if (st->topic[0] != '\0' && summary_cut(&st->sum, pt_time_now_us(), &w))
		publish_window(st, tr, &w);
}

/*
 * The config goes out when the transport has connected since the last one
 * (every connect), or Home Assistant said "online" since (it restarted and
 * lost what it had not kept). Only while connected: one queued while away
 * would go out twice. Anyone may publish "online", so configs go at most
 * 1/s and their info line at most 1/min (the rest at debug, counted).
 */
void
streams_tick(struct streams *st, struct transport *tr,
             const struct transport_counters *k)
{
	int64_t now;
	int connect;

	if (st->ha_len == 0 || !k->connected)
		return;
	connect = k->connects != st->ha_connects;
	if (!connect && k->watched == st->ha_watched)
		return;
	now = pt_time_mono_ns();
	if (now < st->ha_next_ns)
		return;
	if (tr->ops->publish_aux(tr, st->ha_topic, st->ha_config,
	    (size_t)st->ha_len, 1) < 0)
		return;         /* buffer full: again at the next turn */
	st->ha_connects = k->connects;
	st->ha_watched = k->watched;
	st->ha_next_ns = now + ANNOUNCE_GAP_NS;
	st->ha_sent++;
	if (connect || now >= st->ha_log_ns) {
		pt_log_info("home assistant discovery: config sent on %s (%s; "
		    "%llu sent so far, %llu not logged)", st->ha_topic,
		    connect ? "connected" : "home assistant online",
		    (unsigned long long)st->ha_sent,
		    (unsigned long long)st->ha_unlogged);
		st->ha_log_ns = now + ANNOUNCE_LOG_NS;
	} else {
		st->ha_unlogged++;
		pt_log_debug("home assistant online: discovery config sent again");
	}
}
