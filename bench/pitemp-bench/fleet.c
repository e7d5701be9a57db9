/*
 * fleet.c: N simulated sensors for pitemp-bench (see fleet.h).
 *
 * Nothing here is a shortcut around what a real sensor does: each sensor
 * has its own lib/mqtt.c client (birth, will, automatic reconnect, the
 * same buffer bound as pitemp-sensor: 60 s of readings), its own sim
 * source, and its payload goes through pt_codec_encode, which refuses
 * anything the sink would reject.
 */
#include "fleet.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pt_codec.h"
#include "pt_log.h"
#include "pt_mqtt.h"
#include "pt_time.h"
#include "source.h"

struct fleet;

struct sensor {
	struct fleet    *f;
	struct pt_mqtt  *m;
	struct source   *src;
	char             device[PT_DEVICE_MAX + 1];
	char             boot[PT_BOOT_LEN + 1];
	char             topic[PT_DEVICE_MAX + 32];
	char             status[PT_DEVICE_MAX + 32];
	uint64_t         seq;           /* next sample's seq */
	int64_t          prev_ts;       /* last sample time, us */
};

struct fleet {
	struct fleet_cfg  cfg;
	struct sensor    *s;
	unsigned          n;
	/* Owner's thread only. */
	uint64_t          dropped, errors;
	/* paho's threads (event hook) and the owner: atomics. */
	atomic_uint_fast64_t lost, connect_failed, refused, other;
};

/*
 * paho's thread. With hundreds of sensors a line per event would flood
 * the log when the broker goes away, so each kind of event is counted and
 * logged at its 1st, 2nd, 4th, 8th... occurrence, naming the device.
 */
static void
on_event(void *ctx, enum pt_mqtt_event ev, const char *detail)
{
	struct sensor *s = ctx;
	struct fleet *f = s->f;
	atomic_uint_fast64_t *count;
	uint64_t n;
	const char *what;

	switch (ev) {
	case PT_MQTT_LOST:
		count = &f->lost;
		what = "connection lost";
		break;
	case PT_MQTT_CONNECT_FAILED:
		count = &f->connect_failed;
		what = "connect failed";
		break;
	case PT_MQTT_REFUSED:
		count = &f->refused;
		what = "refused";
		break;
	case PT_MQTT_ERROR:
		count = &f->other;
		what = "error";
		break;
	default:
		return;         /* connects are counted by lib/mqtt.c */
	}
	n = atomic_fetch_add(count, 1) + 1;
	if ((n & (n - 1)) == 0)
		pt_log_warnx("%s: %s: %s (%llu such event%s so far)", s->device, what,
		    detail, (unsigned long long)n, n == 1 ? "" : "s");
}

static int
sensor_init(struct fleet *f, struct sensor *s, unsigned num, char *err,
            size_t err_cap)
{
	struct pt_mqtt_cfg mc;
	char spec[64], msg[256];
	int rc;

	s->f = f;
	if ((size_t)snprintf(s->device, sizeof(s->device), "%s%04u", f->cfg.prefix,
	    num) >= sizeof(s->device)) {
		snprintf(err, err_cap, "option --prefix: device '%s%04u' is longer than %d",
		    f->cfg.prefix, num, PT_DEVICE_MAX);
		return -EINVAL;
	}
	snprintf(s->topic, sizeof(s->topic), "pitemp/%s/temperature", s->device);
	snprintf(s->status, sizeof(s->status), "pitemp/%s/status", s->device);
	if ((rc = pt_reading_boot_id(s->boot)) < 0) {
		snprintf(err, err_cap, "getrandom: %s", strerror(-rc));
		return rc;
	}
	/* A fixed seed per sensor number: the same run gives the same values. */
	snprintf(spec, sizeof(spec), "sim:%u", num + 1);
	if ((s->src = source_open(spec, msg, sizeof(msg))) == NULL) {
		snprintf(err, err_cap, "%s", msg);
		return -errno;
	}
	memset(&mc, 0, sizeof(mc));
	mc.host = f->cfg.host;
	mc.port = f->cfg.port;
	mc.client_id = s->device;
	/* As pitemp-sensor: a persistent session, so unacknowledged QoS 1
	 * readings are sent again after a reconnect. */
	mc.clean_session = 0;
	mc.status_topic = s->status;
	mc.max_buffered = f->cfg.buffer > 0 && f->cfg.buffer < 1000000 ?
	    (int)f->cfg.buffer : 1000;
	mc.on_event = on_event;
	mc.ctx = s;
	if ((s->m = pt_mqtt_new(&mc)) == NULL) {
		rc = -errno;
		snprintf(err, err_cap, "%s: cannot create the MQTT client: %s",
		    s->device, strerror(errno));
		return rc;
	}
	return 0;
}

struct fleet *
fleet_new(const struct fleet_cfg *cfg, char *err, size_t err_cap)
{
	struct fleet *f;
	int rc = -ENOMEM;

	if (cfg == NULL || cfg->n == 0 || cfg->prefix == NULL) {
		snprintf(err, err_cap, "no sensors");
		errno = EINVAL;
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->s = calloc(cfg->n, sizeof(*f->s))) == NULL) {
		snprintf(err, err_cap, "out of memory for %u sensors", cfg->n);
		goto fail;
	}
	f->cfg = *cfg;
	for (f->n = 0; f->n < cfg->n; f->n++)
		if ((rc = sensor_init(f, &f->s[f->n], cfg->first + f->n, err, err_cap)) < 0) {
			f->n++;         /* so fleet_free releases its part */
			goto fail;
		}
	return f;
fail:
	fleet_free(f);
	errno = -rc;
	return NULL;
}

void
fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	for (unsigned i = 0; f->s != NULL && i < f->n; i++) {
		pt_mqtt_free(f->s[i].m);
		source_close(f->s[i].src);
	}
	free(f->s);
	free(f);
}

int
fleet_start(struct fleet *f, char *err, size_t err_cap)
{
	int rc;

	for (unsigned i = 0; i < f->n; i++)
		if ((rc = pt_mqtt_start(f->s[i].m)) < 0) {
			snprintf(err, err_cap, "%s: cannot start connecting: %s",
			    f->s[i].device, strerror(-rc));
			return rc;
		}
	return 0;
}

void
fleet_poll(struct fleet *f)
{
	for (unsigned i = 0; i < f->n; i++)
		(void)pt_mqtt_poll(f->s[i].m);
}

int
fleet_send(struct fleet *f, unsigned i)
{
	struct sensor *s = &f->s[i];
	struct source_sample smp;
	struct pt_reading r;
	char payload[PT_PAYLOAD_MAX + 1];
	int64_t ts;
	int len, rc;

	memset(&r, 0, sizeof(r));
	memcpy(r.device, s->device, sizeof(r.device));
	memcpy(r.boot, s->boot, sizeof(r.boot));
	r.seq = s->seq++;
	/* The sample is taken now: its time is now, never before the last. */
	ts = pt_time_now_us();
	if (ts <= s->prev_ts)
		ts = s->prev_ts + 1;
	s->prev_ts = r.ts_us = ts;
	if ((rc = source_read(s->src, &smp, NULL, 0)) < 0 ||
	    (rc = source_fill_reading(&smp, &r)) < 0 ||
	    (len = rc = pt_codec_encode(&r, payload, sizeof(payload))) < 0) {
		f->errors++;
		if ((f->errors & (f->errors - 1)) == 0)
			pt_log_warnx("%s: sample %llu: %s (%llu errors so far)", s->device,
			    (unsigned long long)r.seq, strerror(-rc),
			    (unsigned long long)f->errors);
		return rc;
	}
	rc = pt_mqtt_publish(s->m, s->topic, payload, (size_t)len, f->cfg.qos, 0);
	if (rc == -ENOBUFS) {
		f->dropped++;
		if ((f->dropped & (f->dropped - 1)) == 0)
			pt_log_warnx("%s: buffer full (%zu readings): reading %llu dropped, "
			    "%llu dropped so far in the fleet", s->device, f->cfg.buffer,
			    (unsigned long long)r.seq, (unsigned long long)f->dropped);
	} else if (rc < 0) {
		f->errors++;
		if ((f->errors & (f->errors - 1)) == 0)
			pt_log_warnx("%s: publish of reading %llu failed: %s (%llu errors so far)",
			    s->device, (unsigned long long)r.seq, strerror(-rc),
			    (unsigned long long)f->errors);
	}
	return rc;
}

void
fleet_totals(struct fleet *f, struct fleet_totals *t)
{
	struct pt_mqtt_counters k;

	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < f->n; i++) {
		pt_mqtt_counters(f->s[i].m, &k);
		t->sent += k.published;
		t->acked += k.delivered;
		t->failed += k.failed;
		t->connects += k.connects;
		t->connected += k.connected ? 1u : 0u;
		t->refused += k.refused ? 1u : 0u;
	}
	t->dropped = f->dropped;
	t->errors = f->errors;
	t->lost = atomic_load(&f->lost);
	t->connect_failed = atomic_load(&f->connect_failed);
}

int
fleet_flush(struct fleet *f, int64_t deadline_ns)
{
	int64_t left_ms;

	for (unsigned i = 0; i < f->n; i++) {
		left_ms = (deadline_ns - pt_time_mono_ns()) / 1000000;
		if (pt_mqtt_flush(f->s[i].m, left_ms > 0 ? (int)left_ms : 0) < 0)
			return -ETIMEDOUT;
	}
	return 0;
}

unsigned
fleet_stop(struct fleet *f, int timeout_ms)
{
	unsigned bad = 0;

	for (unsigned i = 0; i < f->n; i++)
		if (pt_mqtt_stop(f->s[i].m, timeout_ms) < 0)
			bad++;
	return bad;
}

const char *
fleet_device(const struct fleet *f, unsigned i)
{
	return i < f->n ? f->s[i].device : "";
}
