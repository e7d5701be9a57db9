/*
 * mqtt.c: lib/mqtt's client life and connection (see pt_mqtt.h for the
 * API and mqtt_int.h for how the wrapper is split): create and free the
 * paho client, connect in the background and retry a first connection
 * that failed, the (re)connect and connection-lost callbacks, and a clean
 * stop; in MQTT 3.1.1 or MQTT 5 (--protocol-version). paho 1.3 wants each
 * version's own connect fields and callbacks: a v5 connection takes
 * cleanstart (cleansession must stay 0) and onSuccess5/onFailure5 for
 * every call, and a v3 one the opposite; a mix fails with -15
 * (MQTTASYNC_BAD_MQTT_OPTION).
 */
#include "mqtt_int.h"
#include "pt_time.h"
#include "pt_tls.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MIN_MS    MQTT_RETRY_MIN_MS
#define RETRY_MAX_MS    10000

/* MQTTAsync_global_init was called (by the first pt_mqtt_new). */
static int global_init_done;

void
mqtt_event(struct pt_mqtt *m, enum pt_mqtt_event ev, const char *detail)
{
	if (m->cfg.on_event != NULL)
		m->cfg.on_event(m->cfg.ctx, ev, detail);
}

void
mqtt_debug(struct pt_mqtt *m, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (m->cfg.on_event == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->cfg.on_event(m->cfg.ctx, PT_MQTT_DEBUG, msg);
}

/* Publishes handed to paho and not yet completed (m->lock held). */
static unsigned long long
outstanding(const struct pt_mqtt *m)
{
	return (unsigned long long)(m->all_sent - m->all_done);
}

/* Every (re)connect, first one included: birth, then subscribe. */
static void
connected(void *context, char *cause)
{
	struct pt_mqtt *m = context;
	char detail[300];
	unsigned long long pending;
	int64_t now = pt_time_mono_ns(), was;
	int reconnect;

	/* paho 1.3 passes cause "automatic reconnect" on the first connect
	 * too: the count of connects tells. */
	(void)cause;
	mqtt_broker_socket(m, detail, sizeof(detail));
	pthread_mutex_lock(&m->lock);
	m->c.connected = 1;
	/* Also after mqtt_keep.c replaced the client (ever_connected 0). */
	reconnect = m->c.connects++ > 0;
	m->ever_connected = 1;
	m->retry_pending = 0;
	m->attempting = 0;
	m->retry_ms = RETRY_MIN_MS;
	was = m->since_ns;
	m->since_ns = now;
	pending = outstanding(m);
	pthread_mutex_unlock(&m->lock);
	mqtt_debug(m, "%s to %s after %.1f s %s; %llu publishes outstanding%s",
	    reconnect ? "reconnected" : "connected", detail,
	    (double)(now - was) / 1e9, reconnect ? "offline" : "of trying",
	    pending, pending > 0 ? ", sent now" : "");

	mqtt_event(m, PT_MQTT_CONNECTED, detail);
	if (m->status_topic != NULL &&
	    mqtt_enqueue(m, m->status_topic, "online", 6, 1, 1, 0) < 0)
		mqtt_event(m, PT_MQTT_ERROR, "could not queue the birth message");
	if (m->sub_filter != NULL)
		mqtt_subscribe(m);
}

static void
connlost(void *context, char *cause)
{
	struct pt_mqtt *m = context;
	unsigned long long pending;
	int64_t now = pt_time_mono_ns(), was;

	pthread_mutex_lock(&m->lock);
	m->c.connected = 0;
	if (m->nhosts > 1)
		mqtt_failover_restart(m, 0);
	was = m->since_ns;
	m->since_ns = now;
	pending = outstanding(m);
	pthread_mutex_unlock(&m->lock);
	/* paho 1.3 gives a cause only sometimes; the keep-alive (no answer
	 * from the broker in 1.5 keep-alive periods) or a closed socket are
	 * the usual ones. */
	mqtt_debug(m, "connection lost after %.1f s connected (paho's cause: %s); "
	    "%llu publishes outstanding, kept and re-sent after the reconnect; "
	    "paho reconnects every 1 .. 10 s", (double)(now - was) / 1e9,
	    cause != NULL ? cause : "none given", pending);
	mqtt_event(m, PT_MQTT_LOST, cause ? cause : "connection lost");
}

/* MQTT 5: the broker closed the connection with a DISCONNECT and a reason
 * (session taken over, server shutting down ...). paho then reconnects
 * without calling connlost. */
static void
disconnected5(void *context, MQTTProperties *props, enum MQTTReasonCodes rc)
{
	struct pt_mqtt *m = context;
	char why[120], msg[200];

	(void)props;
	mqtt_reason((int)rc, why, sizeof(why));
	snprintf(msg, sizeof(msg), "disconnected by the broker: %s", why);
	pthread_mutex_lock(&m->lock);
	m->c.connected = 0;
	if (m->nhosts > 1)
		mqtt_failover_restart(m, 0);
	pthread_mutex_unlock(&m->lock);
	mqtt_event(m, PT_MQTT_LOST, msg);
}

void
mqtt_reason(int code, char *buf, size_t cap)
{
	const char *s = MQTTReasonCode_toString((enum MQTTReasonCodes)code);

	snprintf(buf, cap, "%s (reason 0x%02x)", s != NULL ? s : "unknown", code);
}

static void
conn_fail(void *context, MQTTAsync_failureData *r)
{
	struct pt_mqtt *m = context;
	char msg[800], tls[400] = "", rc5[120] = "", name[300];
	const char *why;
	int next = 0, mine = 1, next_ms = -1;

	if (m->v5 && r != NULL && r->code >= 0x80)     /* a v5 CONNACK */
		mqtt_reason(r->code, rc5, sizeof(rc5));
	if (m->nhosts > 1) {
		pthread_mutex_lock(&m->lock);
		pt_host_format(&m->hosts[m->cur], name, sizeof(name));
		/* paho also reports a broker's DISCONNECT here (MQTT 5) */
		if ((mine = m->attempting) != 0)
			next = mqtt_failover_next(m);
		pthread_mutex_unlock(&m->lock);
		if (!mine)
			return;
		if (next) {
			snprintf(msg, sizeof(msg), "cannot connect to %s: %s; trying the "
			    "next broker", name, rc5[0] != '\0' ? rc5 : r && r->message ?
			    r->message : MQTTAsync_strerror(r ? r->code : -1));
			mqtt_event(m, PT_MQTT_CONNECT_FAILED, msg);
			return;
		}
	}
	if ((why = mqtt_refusal(m, r, tls, sizeof(tls))) != NULL) {
		snprintf(msg, sizeof(msg), "connection refused by %s: %s", m->where,
		    why);
		pthread_mutex_lock(&m->lock);
		m->c.refused = 1;
		pthread_mutex_unlock(&m->lock);
		mqtt_event(m, PT_MQTT_REFUSED, msg);
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (m->nhosts > 1) {    /* every broker failed: back off, start over */
		mqtt_failover_restart(m, m->retry_ms);
		m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
	} else if (!m->ever_connected) {
		m->retry_pending = 1;
		m->retry_at_ns = pt_time_mono_ns() + (int64_t)m->retry_ms * 1000000;
		next_ms = m->retry_ms;
		m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
	}
	pthread_mutex_unlock(&m->lock);
	if (next_ms >= 0)
		mqtt_debug(m, "connect failed (paho code %d: %s); next attempt in %d ms",
		    r ? r->code : -1, r && r->message ? r->message :
		    MQTTAsync_strerror(r ? r->code : -1), next_ms);
	else
		mqtt_debug(m, "connect failed (paho code %d: %s); paho or the broker "
		    "list tries again within 10 s", r ? r->code : -1,
		    r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1));
	if (tls[0] != '\0') {   /* the probe's account of the network error */
		snprintf(msg, sizeof(msg), "%s", tls);
		mqtt_event(m, PT_MQTT_CONNECT_FAILED, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "cannot connect to %s: %s", m->where,
	    rc5[0] != '\0' ? rc5 : r && r->message ? r->message :
	    r && r->code == 3 ? "server unavailable" :
	    MQTTAsync_strerror(r ? r->code : -1));
	mqtt_event(m, PT_MQTT_CONNECT_FAILED, msg);
}

/* MQTT 5's failure callback: a CONNACK refusal comes as code (a reason
 * code >= 0x80), as in 3.1.1 (1..5). */
static void
conn_fail5(void *context, MQTTAsync_failureData5 *r)
{
	MQTTAsync_failureData d = { 0, -1, NULL };

	if (r != NULL) {
		d.token = r->token;
		d.code = r->code;
		d.message = r->message;
	}
	conn_fail(context, &d);
}

/* The connect options of each version (see the header comment). */
static void
set_version(struct pt_mqtt *m, MQTTAsync_connectOptions *conn)
{
	MQTTAsync_connectOptions v5 = MQTTAsync_connectOptions_initializer5;
	MQTTProperty p;

	if (!m->v5) {
		conn->MQTTVersion = MQTTVERSION_3_1_1;
		conn->cleansession = m->cfg.clean_session;
		conn->onFailure = conn_fail;
		return;
	}
	conn->MQTTVersion = MQTTVERSION_5;
	conn->struct_version = v5.struct_version;
	conn->cleansession = 0;
	conn->cleanstart = m->cfg.clean_session;
	conn->onFailure5 = conn_fail5;
	/* A v5 session ends when the connection does unless it has an
	 * expiry: a persistent one gets cfg.session_expiry. */
	if (!m->cfg.clean_session && m->cfg.session_expiry > 0) {
		memset(&p, 0, sizeof(p));
		p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
		p.value.integer4 = m->cfg.session_expiry;
		if (MQTTProperties_add(&m->props, &p) == 0)
			conn->connectProperties = &m->props;
	}
}

static int
dup_opt(char **dst, const char *src)
{
	if (src == NULL)
		return 0;
	return (*dst = strdup(src)) == NULL ? -1 : 0;
}

/* Also after paho corrupted its session (mqtt_keep.c). */
int
mqtt_client_create(struct pt_mqtt *m)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	int rc;

	co.sendWhileDisconnected = 1;
	co.allowDisconnectedSendAtAnyTime = 1;  /* also before the first connect */
	co.maxBufferedMessages = m->cfg.max_buffered > 0 ? m->cfg.max_buffered : 100;
	co.MQTTVersion = m->v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
	co.deleteOldestMessages = 0;
	co.restoreMessages = 1;
	/* persistQoS0 defaults to 1 with file persistence: keep QoS 0 out. */
	co.persistQoS0 = 0;
	/* Without TLS, paho need not set OpenSSL up (error strings, every
	 * algorithm): ~2 MB less touched memory. With TLS it does, as before.
	 * Process-wide, and set before the first client, as paho asks. */
	if (!global_init_done) {
		MQTTAsync_init_options io = MQTTAsync_init_options_initializer;

		/* First, so that OpenSSL gets no exit handler (lib/tls.c):
		 * paho's threads may still be ending at exit. Also without
		 * TLS: the diagnosis probes TLS from paho's thread. */
		(void)pt_tls_init();
		io.do_openssl_init = m->cafile != NULL;
		MQTTAsync_global_init(&io);
		global_init_done = 1;
	}
	/* m->cfg.persist_dir: paho's file persistence (see pt_mqtt.h). paho
	 * stores its files under persist_dir/<client id>-<host>-<port>/ of
	 * the first broker of the list. */
	rc = MQTTAsync_createWithOptions(&m->client, m->uris[0], m->client_id,
	    m->cfg.persist_dir != NULL ? MQTTCLIENT_PERSISTENCE_DEFAULT :
	    MQTTCLIENT_PERSISTENCE_NONE,
	    (void *)(uintptr_t)m->cfg.persist_dir, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		m->client = NULL;
		errno = EINVAL;
		return -EINVAL;
	}
	if (MQTTAsync_setCallbacks(m->client, m, connlost, mqtt_msgarrvd, NULL) != 0 ||
	    MQTTAsync_setConnected(m->client, m, connected) != 0 ||
	    (m->v5 && MQTTAsync_setDisconnected(m->client, m, disconnected5) != 0)) {
		errno = EINVAL;
		return -EINVAL;
	}
	return 0;
}

struct pt_mqtt *
pt_mqtt_new(const struct pt_mqtt_cfg *cfg)
{
	MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	struct pt_mqtt *m;
	int rc;

	if (cfg == NULL || cfg->host == NULL || cfg->client_id == NULL ||
	    cfg->port <= 0 || cfg->port > 65535) {
		errno = EINVAL;
		return NULL;
	}
	/* paho 1.3 can die of SIGPIPE on a socket the broker closed. */
	signal(SIGPIPE, SIG_IGN);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->cfg = *cfg;
	m->client = NULL;
	if (dup_opt(&m->host, cfg->host) || dup_opt(&m->client_id, cfg->client_id) ||
	    dup_opt(&m->status_topic, cfg->status_topic) ||
	    dup_opt(&m->sub_filter, cfg->sub_filter) ||
	    dup_opt(&m->username, cfg->username) ||
	    dup_opt(&m->password, cfg->password) ||
	    dup_opt(&m->cafile, cfg->cafile) || dup_opt(&m->cert, cfg->cert) ||
	    dup_opt(&m->key, cfg->key))
		goto fail;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->retry_ms = RETRY_MIN_MS;
	m->v5 = cfg->mqtt_version == 5;
	if (mqtt_slots_init(m, cfg->max_buffered) < 0) {
		errno = ENOMEM;
		goto fail_sync;
	}
	if (mqtt_uris_init(m) < 0) {
		errno = EINVAL;
		goto fail_sync;
	}
	if (mqtt_client_create(m) < 0)
		goto fail_sync;
	/* What an earlier run left in persist_dir goes out first; flush waits
	 * for it too (paho calls no completion for it). */
	if (cfg->persist_dir != NULL && (rc = pt_mqtt_pending(m)) > 0)
		m->restored = rc;

	conn.keepAliveInterval = cfg->keepalive > 0 ? cfg->keepalive : 30;
	conn.minRetryInterval = 1;
	conn.maxRetryInterval = 10;
	conn.connectTimeout = 5;
	set_version(m, &conn);
	conn.automaticReconnect = m->nhosts == 1;       /* else mqtt_uri.c */
	conn.serverURIcount = m->nhosts > 1;            /* one at a time */
	conn.context = m;
	conn.username = m->username;
	conn.password = m->password;
	if (m->status_topic != NULL) {
		will.topicName = m->status_topic;
		will.message = "offline";
		will.qos = 1;
		will.retained = 1;
		m->will = will;
		conn.will = &m->will;
	}
	if (m->cafile != NULL) {
		ssl.trustStore = m->cafile;
		ssl.keyStore = m->cert;
		ssl.privateKey = m->key;
		ssl.enableServerCertAuth = 1;
		ssl.verify = cfg->insecure ? 0 : 1;
		ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
		m->ssl = ssl;
		conn.ssl = &m->ssl;
	}
	m->conn = conn;
	return m;

fail_sync:
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
fail:
	{
		int saved = errno;

		pt_mqtt_free(m);
		errno = saved;
	}
	return NULL;
}

void
pt_mqtt_free(struct pt_mqtt *m)
{
	if (m == NULL)
		return;
	if (m->client != NULL) {
		/* paho fails what it still holds, one callback each: quietly. */
		pthread_mutex_lock(&m->lock);
		m->stopping = 1;
		pthread_mutex_unlock(&m->lock);
		MQTTAsync_destroy(&m->client);
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
	}
	MQTTProperties_free(&m->props);
	free(m->slots);
	free(m->host);
	free(m->client_id);
	free(m->status_topic);
	free(m->sub_filter);
	free(m->username);
	if (m->password != NULL)
		explicit_bzero(m->password, strlen(m->password));
	free(m->password);
	free(m->cafile);
	free(m->cert);
	free(m->key);
	free(m);
}

int
pt_mqtt_start(struct pt_mqtt *m)
{
	char *uri[1] = { m->uris[0] };
	int rc;

	pthread_mutex_lock(&m->lock);
	if (m->since_ns == 0)
		m->since_ns = pt_time_mono_ns();
	if (m->nhosts > 1) {
		uri[0] = mqtt_failover_uri(m);
		m->conn.serverURIs = uri;       /* paho copies it */
	}
	pthread_mutex_unlock(&m->lock);
	mqtt_debug(m, "connecting to %s as '%s' (MQTT %s, %s session, keep-alive "
	    "%d s, user %s, %s)", uri[0], m->client_id, m->v5 ? "5" : "3.1.1",
	    m->cfg.clean_session ? "clean" : "persistent", m->conn.keepAliveInterval,
	    m->username ? m->username : "none", m->cafile == NULL ? "no TLS" :
	    m->cfg.insecure ? "TLS without host name check" : "TLS");
	rc = MQTTAsync_connect(m->client, &m->conn);
	m->conn.serverURIs = NULL;
	if (rc != MQTTASYNC_SUCCESS && m->nhosts > 1) {
		pthread_mutex_lock(&m->lock);
		mqtt_failover_restart(m, RETRY_MIN_MS);
		pthread_mutex_unlock(&m->lock);
	}
	return rc == MQTTASYNC_SUCCESS ? 0 : -EIO;
}

int
pt_mqtt_poll(struct pt_mqtt *m)
{
	int due, refused;

	pthread_mutex_lock(&m->lock);
	refused = m->c.refused;
	due = !refused && m->retry_pending &&
	    (!m->ever_connected || m->nhosts > 1) &&
	    pt_time_mono_ns() >= m->retry_at_ns;
	if (due)
		m->retry_pending = 0;
	pthread_mutex_unlock(&m->lock);
	if (refused)
		return -ECONNREFUSED;
	/* First a client paho corrupted is replaced, then what it gave back
	 * is handed over again (mqtt_keep.c). */
	(void)mqtt_resend(m);
	if (due && m->client != NULL && !MQTTAsync_isConnected(m->client))
		(void)pt_mqtt_start(m);
	return 0;
}

static void
disc_done(void *context, MQTTAsync_successData *r)
{
	struct pt_mqtt *m = context;

	(void)r;
	pthread_mutex_lock(&m->lock);
	m->disconnected = 1;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void
disc_fail(void *context, MQTTAsync_failureData *r)
{
	(void)r;
	disc_done(context, NULL);
}

static void
disc_done5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	disc_done(context, NULL);
}

static void
disc_fail5(void *context, MQTTAsync_failureData5 *r)
{
	(void)r;
	disc_done(context, NULL);
}

int
pt_mqtt_stop(struct pt_mqtt *m, int timeout_ms)
{
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	int64_t end_ns = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec until;
	int rc = 0, flushed, left_ms;

	/* From here a message paho gives up on is counted, not logged: the
	 * owner says in one line how many were left. */
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	pthread_mutex_unlock(&m->lock);
	if (m->client == NULL || !MQTTAsync_isConnected(m->client)) {
		/* Nothing can complete without a connection: do not wait. */
		pthread_mutex_lock(&m->lock);
		flushed = m->all_done < m->all_sent ? -ETIMEDOUT : 0;
		pthread_mutex_unlock(&m->lock);
		return flushed;
	}
	if (m->status_topic != NULL)
		(void)mqtt_enqueue(m, m->status_topic, "offline", 7, 1, 1, 0);
	flushed = pt_mqtt_flush(m, timeout_ms);
	if (!MQTTAsync_isConnected(m->client))
		return flushed;
	/* The whole stop stays within timeout_ms (a service manager's stop
	 * timeout counts on it): the disconnect gets what the flush left. */
	left_ms = (int)((end_ns - pt_time_mono_ns()) / 1000000);
	if (left_ms < 100)
		left_ms = 100;
	d.timeout = left_ms;
	if (m->v5) {
		d.onSuccess5 = disc_done5;
		d.onFailure5 = disc_fail5;
	} else {
		d.onSuccess = disc_done;
		d.onFailure = disc_fail;
	}
	d.context = m;
	if (MQTTAsync_disconnect(m->client, &d) != MQTTASYNC_SUCCESS)
		return -EIO;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += left_ms / 1000;
	until.tv_nsec += (long)(left_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	while (!m->disconnected && rc == 0)
		rc = pthread_cond_timedwait(&m->cond, &m->lock, &until);
	pthread_mutex_unlock(&m->lock);
	return flushed;
}
