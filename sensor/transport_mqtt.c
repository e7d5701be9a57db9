/*
 * transport_mqtt.c: the sensor's MQTT transport, an adapter from
 * struct transport_ops to lib/mqtt.c. Readings go to --topic at --qos; the
 * retained status topic pitemp/<device>/status carries the birth "online"
 * (re-sent on every connect) and the will "offline". Other messages
 * (summaries, discovery configs) go through publish_aux; a watched topic
 * (Home Assistant's status) is subscribed and its matching messages
 * counted. With --persistent paho keeps what is not yet acknowledged in
 * its files, and a restarted sensor sends it first.
 *
 * Threads: on_message runs on paho's thread and only bumps an atomic
 * counter; everything else runs on the main thread.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_cli.h"
#include "pt_log.h"
#include "pt_mqtt.h"
#include "transport.h"

struct mqtt_transport {
	struct transport    base;
	char                state[4096];    /* --persistent: paho's files */
	uint64_t            cap;            /* readings held, queued or in flight */
	struct pt_mqtt     *m;
	const char         *topic;
	int                 qos;
	char                status_topic[256];
	char                watch_topic[256];
	char                watch_payload[64];
	atomic_uint_fast64_t watched;
};

/*
 * --persistent: where paho keeps the readings not yet acknowledged
 * (--state-dir; else systemd's StateDirectory, $STATE_DIRECTORY, whose
 * first entry is ours; else the working directory). paho makes its own
 * <client id>-<host>-<port>/ in there.
 */
static int
state_dir(const struct pt_opts *o, char *out, size_t cap)
{
	const char *env = getenv("STATE_DIRECTORY");
	size_t n;

	if (o->state_dir != NULL)
		n = (size_t)snprintf(out, cap, "%s", o->state_dir);
	else if (env != NULL && env[0] != '\0')
		n = (size_t)snprintf(out, cap, "%.*s", (int)strcspn(env, ":"), env);
	else
		n = (size_t)snprintf(out, cap, ".");
	return n < cap ? 0 : -ENAMETOOLONG;
}

static int
m_start(struct transport *t)
{
	return pt_mqtt_start(((struct mqtt_transport *)t)->m);
}

/*
 * The buffer bound counts every reading held: paho's maxBufferedMessages
 * bounds only its queue, not what it has sent and awaits a PUBACK for, up
 * to 65535 message ids. Before this (and m_wait's window), a sensor ahead
 * of a slow broker held 30,000 readings and 4 MB more
 * (tests/integration/test_long_run.py).
 */
static int
m_publish(struct transport *t, const char *payload, size_t len)
{
	struct mqtt_transport *mt = (struct mqtt_transport *)t;
	struct pt_mqtt_counters k;

	pt_mqtt_counters(mt->m, &k);
	if (k.published - k.delivered - k.failed >= mt->cap)
		return -ENOBUFS;
	return pt_mqtt_publish(mt->m, mt->topic, payload, len, mt->qos, 0);
}

/*
 * Readings outstanding at --rate 0: enough to keep paho's send thread and
 * the broker busy while the sensor waits, few enough that paho's
 * per-message scans of its queues stay short. At QoS 0 a completion is
 * paho's own write, so the sensor sleeps until half the window is out; at
 * QoS 1 and 2 it refills on the first acknowledgements that arrive (see
 * pt_mqtt_wait_room: the broker's Nagle would stall a deeper wait).
 */
#define RATE0_WINDOW 64

static int
m_wait(struct transport *t, int timeout_ms)
{
	struct mqtt_transport *mt = (struct mqtt_transport *)t;

	return pt_mqtt_wait_room(mt->m, RATE0_WINDOW,
	    mt->qos == 0 ? RATE0_WINDOW / 2 : RATE0_WINDOW - 1, timeout_ms);
}

static int
m_publish_aux(struct transport *t, const char *topic, const char *payload,
              size_t len, int retain)
{
	struct mqtt_transport *mt = (struct mqtt_transport *)t;

	return pt_mqtt_publish_other(mt->m, topic, payload, len, 1, retain);
}

/* paho's thread. */
static int
m_message(void *ctx, const char *topic, const void *payload, size_t len)
{
	struct mqtt_transport *mt = ctx;

	if (strcmp(topic, mt->watch_topic) == 0 &&
	    len == strlen(mt->watch_payload) &&
	    memcmp(payload, mt->watch_payload, len) == 0)
		atomic_fetch_add(&mt->watched, 1);
	return 0;
}

static int
m_poll(struct transport *t)
{
	return pt_mqtt_poll(((struct mqtt_transport *)t)->m);
}

static int
m_flush(struct transport *t, int timeout_ms)
{
	return pt_mqtt_flush(((struct mqtt_transport *)t)->m, timeout_ms);
}

static int
m_stop(struct transport *t, int timeout_ms)
{
	struct mqtt_transport *mt = (struct mqtt_transport *)t;
	struct pt_mqtt_counters k;

	pt_mqtt_counters(mt->m, &k);
	if (k.refused)
		return 0;
	return pt_mqtt_stop(mt->m, timeout_ms);
}

static void
m_counters(struct transport *t, struct transport_counters *out)
{
	struct pt_mqtt_counters k;

	pt_mqtt_counters(((struct mqtt_transport *)t)->m, &k);
	out->published = k.published;
	out->delivered = k.delivered;
	out->failed = k.failed;
	out->unacked = 0;       /* socket mode only: MQTT has PUBACKs */
	out->connects = k.connects;
	out->connected = k.connected;
	out->watched = atomic_load(&((struct mqtt_transport *)t)->watched);
}

static void
m_free(struct transport *t)
{
	struct mqtt_transport *mt = (struct mqtt_transport *)t;

	if (mt == NULL)
		return;
	pt_mqtt_free(mt->m);
	free(mt);
}

static const struct transport_ops mqtt_ops = {
	.name = "mqtt",
	.start = m_start,
	.publish = m_publish,
	.wait = m_wait,
	.poll = m_poll,
	.flush = m_flush,
	.stop = m_stop,
	.counters = m_counters,
	.free = m_free,
	.publish_aux = m_publish_aux,
};

struct transport *
transport_mqtt_new(const struct transport_cfg *tc, char *err, size_t err_cap)
{
	const struct pt_opts *o = tc->opts;
	struct mqtt_transport *mt;
	struct pt_mqtt_cfg cfg = { 0 };

	if ((mt = calloc(1, sizeof(*mt))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	mt->base.ops = &mqtt_ops;
	mt->topic = o->topic;
	mt->qos = o->qos;
	mt->cap = tc->buffer > 0 ? tc->buffer : 1000;
	snprintf(mt->status_topic, sizeof(mt->status_topic), "pitemp/%s/status",
	    o->device);
	cfg.host = o->host;
	cfg.port = o->port;
	cfg.client_id = o->id;
	/* A persistent session keeps unacknowledged QoS 1/2 readings across a
	 * reconnect: paho re-sends them with DUP set. */
	cfg.clean_session = 0;
	cfg.mqtt_version = o->mqtt_version;
	cfg.session_expiry = o->session_expiry >= 0 ? (uint32_t)o->session_expiry :
	    UINT32_MAX;
	cfg.status_topic = mt->status_topic;
	/* main.c bounds the buffer (and quotes it in its messages). */
	cfg.max_buffered = tc->buffer > 0 && tc->buffer <= 65535 ? (int)tc->buffer : 1000;
	cfg.username = o->username;
	cfg.password = tc->password;
	cfg.cafile = o->cafile;
	cfg.cert = o->cert;
	cfg.key = o->key;
	cfg.insecure = o->insecure;
	cfg.on_event = pt_cli_mqtt_event;
	cfg.ctx = mt;
	if (o->persistent) {
		if (state_dir(o, mt->state, sizeof(mt->state)) < 0) {
			snprintf(err, err_cap, "option --state-dir: too long");
			free(mt);
			errno = EINVAL;
			return NULL;
		}
		cfg.persist_dir = mt->state;
	}
	atomic_init(&mt->watched, 0);
	if (tc->watch_topic != NULL && tc->watch_payload != NULL) {
		if ((size_t)snprintf(mt->watch_topic, sizeof(mt->watch_topic), "%s",
		    tc->watch_topic) >= sizeof(mt->watch_topic) ||
		    (size_t)snprintf(mt->watch_payload, sizeof(mt->watch_payload),
		    "%s", tc->watch_payload) >= sizeof(mt->watch_payload)) {
			snprintf(err, err_cap, "topic %s: too long", tc->watch_topic);
			free(mt);
			errno = EINVAL;
			return NULL;
		}
		cfg.sub_filter = mt->watch_topic;
		cfg.sub_qos = 0;
		cfg.on_message = m_message;
	}
	if ((mt->m = pt_mqtt_new(&cfg)) == NULL) {
		int e = errno;

		snprintf(err, err_cap, "cannot create the MQTT client for %s%s%s",
		    o->host, cfg.persist_dir ? " with its files in " : "",
		    cfg.persist_dir ? cfg.persist_dir : "");
		free(mt);
		errno = e;
		return NULL;
	}
	if (cfg.persist_dir != NULL) {
		int n = pt_mqtt_restored(mt->m);

		pt_log_info("readings not yet acknowledged are kept in %s (--persistent)",
		    cfg.persist_dir);
		if (n > 0)
			pt_log_info("%d message(s) an earlier run left there go out first",
			    n);
	}
	return &mt->base;
}
