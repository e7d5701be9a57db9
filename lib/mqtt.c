/*
 * mqtt.c: pitemp's only user of paho's MQTTAsync API (see pt_mqtt.h).
 *
 * Threads: paho calls connected(), connlost(), msgarrvd() and the
 * onSuccess/onFailure callbacks on its own threads; the owner calls the
 * pt_mqtt_* functions on its thread. Shared state (counters, retry
 * schedule) is guarded by m->lock; m->cond is signalled whenever a publish
 * completes so pt_mqtt_flush can wait without polling.
 */
#include "pt_mqtt.h"
#include "pt_time.h"
#include "pt_tls.h"

#include <MQTTAsync.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RETRY_MIN_MS    500
#define RETRY_MAX_MS    10000
#define PROBE_MS        3000    /* bound of one TLS diagnosis (diagnose()) */

struct pt_mqtt {
	struct pt_mqtt_cfg          cfg;
	char                       *host, *client_id, *status_topic, *sub_filter;
	char                       *username, *password, *cafile, *cert, *key;
	char                        uri[600];
	MQTTAsync                   client;
	MQTTAsync_connectOptions    conn;
	MQTTAsync_willOptions       will;
	MQTTAsync_SSLOptions        ssl;

	pthread_mutex_t             lock;
	pthread_cond_t              cond;
	struct pt_mqtt_counters     c;          /* user publishes */
	uint64_t                    all_sent;   /* every send, birth included */
	uint64_t                    all_done;
	int                         ever_connected;
	int                         retry_pending;
	int64_t                     retry_at_ns;
	int                         retry_ms;
	int                         disconnected;
};

static void
event(struct pt_mqtt *m, enum pt_mqtt_event ev, const char *detail)
{
	if (m->cfg.on_event != NULL)
		m->cfg.on_event(m->cfg.ctx, ev, detail);
}

static void
done_one(struct pt_mqtt *m, int user, int ok)
{
	pthread_mutex_lock(&m->lock);
	m->all_done++;
	if (user) {
		if (ok)
			m->c.delivered++;
		else
			m->c.failed++;
	}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void
pub_ok(void *context, MQTTAsync_successData *r)
{
	(void)r;
	done_one(context, 1, 1);
}

static void
pub_fail(void *context, MQTTAsync_failureData *r)
{
	struct pt_mqtt *m = context;
	char msg[160];

	snprintf(msg, sizeof(msg), "publish failed: %s (code %d)",
	    r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1),
	    r ? r->code : -1);
	event(m, PT_MQTT_ERROR, msg);
	done_one(m, 1, 0);
}

static void
ctl_ok(void *context, MQTTAsync_successData *r)
{
	(void)r;
	done_one(context, 0, 1);
}

static void
ctl_fail(void *context, MQTTAsync_failureData *r)
{
	(void)r;
	done_one(context, 0, 0);
}

static int
enqueue(struct pt_mqtt *m, const char *topic, const void *payload, size_t len,
     int qos, int retain, int user)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	int rc;

	if (len > (size_t)INT32_MAX)
		return -EMSGSIZE;
	msg.payload = (void *)(uintptr_t)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retain;
	ro.onSuccess = user ? pub_ok : ctl_ok;
	ro.onFailure = user ? pub_fail : ctl_fail;
	ro.context = m;
	/* Count before sending: the completion may run before sendMessage
	 * returns. */
	pthread_mutex_lock(&m->lock);
	m->all_sent++;
	if (user)
		m->c.published++;
	pthread_mutex_unlock(&m->lock);
	rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
	if (rc == MQTTASYNC_SUCCESS)
		return 0;
	pthread_mutex_lock(&m->lock);
	m->all_sent--;
	if (user)
		m->c.published--;
	pthread_mutex_unlock(&m->lock);
	/* No free message id (65,535 in flight or queued) is a full buffer
	 * too: retry later. paho allocates ids itself and reuses them once
	 * acknowledged, so ids wrap without limit over a long run. */
	return rc == MQTTASYNC_MAX_BUFFERED_MESSAGES ||
	    rc == MQTTASYNC_NO_MORE_MSGIDS ? -ENOBUFS : -EIO;
}

static void
sub_ok(void *context, MQTTAsync_successData *r)
{
	struct pt_mqtt *m = context;
	char msg[300];

	if (r != NULL && r->alt.qos == 0x80) {
		snprintf(msg, sizeof(msg), "subscription to %s refused by the broker",
		    m->sub_filter);
		event(m, PT_MQTT_ERROR, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%s (qos %d)", m->sub_filter,
	    r != NULL ? r->alt.qos : m->cfg.sub_qos);
	event(m, PT_MQTT_SUBSCRIBED, msg);
}

static void
sub_fail(void *context, MQTTAsync_failureData *r)
{
	struct pt_mqtt *m = context;
	char msg[300];

	snprintf(msg, sizeof(msg), "subscribe to %s failed (code %d)", m->sub_filter,
	    r ? r->code : -1);
	event(m, PT_MQTT_ERROR, msg);
}

/*
 * paho 1.3 sets no TCP_NODELAY, so at QoS 0 (no PUBACK to carry the ACK
 * back) Nagle's algorithm holds readings back until the broker's delayed
 * ACK, ~40 ms, and sends them in bursts. paho has no socket hook: find its
 * connected TCP socket to the broker's port among our descriptors and set
 * the option there. Best effort; paho's thread, right after the connect.
 */
static void
set_nodelay(const struct pt_mqtt *m)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct dirent *de;
	DIR *d;
	int one = 1, type, fd, port;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = (int)strtol(de->d_name, NULL, 10);
		len = sizeof(type);
		if (fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    type != SOCK_STREAM)
			continue;
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else
			continue;
		if (port == m->cfg.port)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	closedir(d);
}

/* Every (re)connect, first one included: birth, then subscribe. */
static void
connected(void *context, char *cause)
{
	struct pt_mqtt *m = context;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char detail[300];
	int rc;

	(void)cause;
	pthread_mutex_lock(&m->lock);
	m->c.connected = 1;
	m->c.connects++;
	m->ever_connected = 1;
	m->retry_pending = 0;
	m->retry_ms = RETRY_MIN_MS;
	pthread_mutex_unlock(&m->lock);

	set_nodelay(m);
	snprintf(detail, sizeof(detail), "%s:%d", m->host, m->cfg.port);
	event(m, PT_MQTT_CONNECTED, detail);
	if (m->status_topic != NULL &&
	    enqueue(m, m->status_topic, "online", 6, 1, 1, 0) < 0)
		event(m, PT_MQTT_ERROR, "could not queue the birth message");
	if (m->sub_filter != NULL) {
		ro.onSuccess = sub_ok;
		ro.onFailure = sub_fail;
		ro.context = m;
		rc = MQTTAsync_subscribe(m->client, m->sub_filter, m->cfg.sub_qos, &ro);
		if (rc != MQTTASYNC_SUCCESS) {
			snprintf(detail, sizeof(detail), "subscribe: %s",
			    MQTTAsync_strerror(rc));
			event(m, PT_MQTT_ERROR, detail);
		}
	}
}

static void
connlost(void *context, char *cause)
{
	struct pt_mqtt *m = context;

	pthread_mutex_lock(&m->lock);
	m->c.connected = 0;
	pthread_mutex_unlock(&m->lock);
	event(m, PT_MQTT_LOST, cause ? cause : "connection lost");
}

/* MQTT 3.1.1 CONNACK return codes that retrying cannot fix. */
static const char *
refusal(int code)
{
	switch (code) {
	case 1: return "unacceptable protocol version";
	case 2: return "client identifier rejected";
	case 4: return "bad user name or password";
	case 5: return "not authorised";
	default: return NULL;
	}
}

/*
 * paho's thread, after a failed connect that was not a CONNACK refusal.
 * paho 1.3 reports every failed TLS connection like a refused TCP one
 * (code -1 "TCP/TLS connect failure"; a host name mismatch comes without
 * any OpenSSL error), and a broker that drops the connection after our
 * CONNECT (a plain client on a TLS port) as -1 "TCP connect completion
 * failure". So ask the TLS probe (lib/tls.c) what it was. Returns 1 when
 * retrying cannot help (why says the reason), 0 otherwise (why may hold a
 * better description of the network error). The probe blocks this thread
 * for at most PROBE_MS; the client is not connected, so nothing waits.
 */
static int
diagnose(struct pt_mqtt *m, const MQTTAsync_failureData *r, char *why,
         size_t cap)
{
	const char *pm = r != NULL ? r->message : NULL;
	int rc;

	why[0] = '\0';
	if (r == NULL || r->code != MQTTASYNC_FAILURE ||
	    (pm != NULL && strstr(pm, "timeout") != NULL))
		return 0;
	if (m->cafile != NULL) {
		rc = pt_tls_probe(m->host, m->cfg.port, m->cafile, m->cert, m->key,
		    !m->cfg.insecure, PROBE_MS, why, cap);
		if (rc == -EACCES && strstr(why, "certificate not accepted") != NULL) {
			size_t n = strlen(why);

			if (strstr(why, "mismatch") != NULL)
				snprintf(why + n, cap - n,
				    " (the certificate does not name %s)", m->host);
			else
				snprintf(why + n, cap - n,
				    " (is %s the CA that signed the broker's certificate?)",
				    m->cafile);
		}
		return rc == -EACCES || rc == -EPROTO || rc == -EINVAL;
	}
	if (pm == NULL || strstr(pm, "completion") == NULL)
		return 0;
	/* Plain MQTT, and the broker hung up on our CONNECT: a TLS port? */
	rc = pt_tls_probe(m->host, m->cfg.port, NULL, NULL, NULL, 0, PROBE_MS,
	    why, cap);
	if (rc == 0 || rc == -EACCES) {
		snprintf(why, cap, "the port expects TLS (use --cafile)");
		return 1;
	}
	why[0] = '\0';
	return 0;
}

static void
conn_fail(void *context, MQTTAsync_failureData *r)
{
	struct pt_mqtt *m = context;
	const char *why = r ? refusal(r->code) : NULL;
	char msg[600], tls[400] = "";

	if (why == NULL && diagnose(m, r, tls, sizeof(tls)))
		why = tls;
	if (why != NULL) {
		snprintf(msg, sizeof(msg), "connection refused by %s:%d: %s", m->host,
		    m->cfg.port, why);
		pthread_mutex_lock(&m->lock);
		m->c.refused = 1;
		pthread_mutex_unlock(&m->lock);
		event(m, PT_MQTT_REFUSED, msg);
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (!m->ever_connected) {
		m->retry_pending = 1;
		m->retry_at_ns = pt_time_mono_ns() + (int64_t)m->retry_ms * 1000000;
		m->retry_ms = m->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : m->retry_ms * 2;
	}
	pthread_mutex_unlock(&m->lock);
	if (tls[0] != '\0') {   /* the probe's account of the network error */
		snprintf(msg, sizeof(msg), "%s", tls);
		event(m, PT_MQTT_CONNECT_FAILED, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s", m->host,
	    m->cfg.port, r && r->message ? r->message :
	    r && r->code == 3 ? "server unavailable" :
	    MQTTAsync_strerror(r ? r->code : -1));
	event(m, PT_MQTT_CONNECT_FAILED, msg);
}

static int
msgarrvd(void *context, char *topic, int topiclen, MQTTAsync_message *msg)
{
	struct pt_mqtt *m = context;

	(void)topiclen;
	if (m->cfg.on_message != NULL &&
	    m->cfg.on_message(m->cfg.ctx, topic, msg->payload,
	        msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0) != 0)
		return 0;       /* not handled: paho delivers it again */
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static int
dup_opt(char **dst, const char *src)
{
	if (src == NULL)
		return 0;
	return (*dst = strdup(src)) == NULL ? -1 : 0;
}

struct pt_mqtt *
pt_mqtt_new(const struct pt_mqtt_cfg *cfg)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
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
	snprintf(m->uri, sizeof(m->uri), "%s://%s:%d", m->cafile ? "ssl" : "tcp",
	    m->host, cfg->port);

	co.sendWhileDisconnected = 1;
	co.allowDisconnectedSendAtAnyTime = 1;  /* also before the first connect */
	co.maxBufferedMessages = cfg->max_buffered > 0 ? cfg->max_buffered : 100;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.deleteOldestMessages = 0;
	co.restoreMessages = 1;
	/* persistQoS0 defaults to 1 with file persistence: keep QoS 0 out. */
	co.persistQoS0 = 0;
	/* cfg->persist_dir: paho's file persistence (see pt_mqtt.h). paho
	 * stores its files under persist_dir/<client id>-<host>-<port>/. */
	rc = MQTTAsync_createWithOptions(&m->client, m->uri, m->client_id,
	    cfg->persist_dir != NULL ? MQTTCLIENT_PERSISTENCE_DEFAULT :
	    MQTTCLIENT_PERSISTENCE_NONE,
	    (void *)(uintptr_t)cfg->persist_dir, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		errno = EINVAL;
		goto fail_sync;
	}
	if (MQTTAsync_setCallbacks(m->client, m, connlost, msgarrvd, NULL) != 0 ||
	    MQTTAsync_setConnected(m->client, m, connected) != 0) {
		errno = EINVAL;
		goto fail_sync;
	}

	conn.keepAliveInterval = cfg->keepalive > 0 ? cfg->keepalive : 30;
	conn.cleansession = cfg->clean_session;
	conn.automaticReconnect = 1;
	conn.minRetryInterval = 1;
	conn.maxRetryInterval = 10;
	conn.connectTimeout = 5;
	conn.MQTTVersion = MQTTVERSION_3_1_1;
	conn.onFailure = conn_fail;
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
		MQTTAsync_destroy(&m->client);
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
	}
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
	int rc = MQTTAsync_connect(m->client, &m->conn);

	return rc == MQTTASYNC_SUCCESS ? 0 : -EIO;
}

int
pt_mqtt_poll(struct pt_mqtt *m)
{
	int due, refused;

	pthread_mutex_lock(&m->lock);
	refused = m->c.refused;
	due = !refused && m->retry_pending && !m->ever_connected &&
	    pt_time_mono_ns() >= m->retry_at_ns;
	if (due)
		m->retry_pending = 0;
	pthread_mutex_unlock(&m->lock);
	if (refused)
		return -ECONNREFUSED;
	if (due && !MQTTAsync_isConnected(m->client))
		(void)pt_mqtt_start(m);
	return 0;
}

int
pt_mqtt_publish(struct pt_mqtt *m, const char *topic, const void *payload,
                size_t len, int qos, int retain)
{
	return enqueue(m, topic, payload, len, qos, retain, 1);
}

int
pt_mqtt_flush(struct pt_mqtt *m, int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->lock);
	while (m->all_done < m->all_sent && rc == 0)
		rc = pthread_cond_timedwait(&m->cond, &m->lock, &until);
	rc = m->all_done < m->all_sent ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&m->lock);
	return rc;
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

int
pt_mqtt_stop(struct pt_mqtt *m, int timeout_ms)
{
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	struct timespec until;
	int rc = 0, flushed;

	if (m->status_topic != NULL && MQTTAsync_isConnected(m->client))
		(void)enqueue(m, m->status_topic, "offline", 7, 1, 1, 0);
	flushed = pt_mqtt_flush(m, timeout_ms);
	if (!MQTTAsync_isConnected(m->client))
		return flushed;
	d.timeout = timeout_ms;
	d.onSuccess = disc_done;
	d.onFailure = disc_fail;
	d.context = m;
	if (MQTTAsync_disconnect(m->client, &d) != MQTTASYNC_SUCCESS)
		return -EIO;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000 + 1;
	pthread_mutex_lock(&m->lock);
	while (!m->disconnected && rc == 0)
		rc = pthread_cond_timedwait(&m->cond, &m->lock, &until);
	pthread_mutex_unlock(&m->lock);
	return flushed;
}

void
pt_mqtt_counters(struct pt_mqtt *m, struct pt_mqtt_counters *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->c;
	pthread_mutex_unlock(&m->lock);
}
