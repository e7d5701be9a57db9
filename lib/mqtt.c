/*
 * mqtt.c: lib/mqtt's client life and connection (see pt_mqtt.h for the
 * API and mqtt_int.h for how the wrapper is split): create and free the
 * paho client, connect in the background and retry a first connection
 * that failed, the (re)connect and connection-lost callbacks, and a clean
 * stop.
 */
#include "mqtt_int.h"
#include "pt_time.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RETRY_MIN_MS    500
#define RETRY_MAX_MS    10000

void
mqtt_event(struct pt_mqtt *m, enum pt_mqtt_event ev, const char *detail)
{
	if (m->cfg.on_event != NULL)
		m->cfg.on_event(m->cfg.ctx, ev, detail);
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
	char detail[300];

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

	pthread_mutex_lock(&m->lock);
	m->c.connected = 0;
	pthread_mutex_unlock(&m->lock);
	mqtt_event(m, PT_MQTT_LOST, cause ? cause : "connection lost");
}

static void
conn_fail(void *context, MQTTAsync_failureData *r)
{
	struct pt_mqtt *m = context;
	char msg[600], tls[400] = "";
	const char *why = mqtt_refusal(m, r, tls, sizeof(tls));

	if (why != NULL) {
		snprintf(msg, sizeof(msg), "connection refused by %s:%d: %s", m->host,
		    m->cfg.port, why);
		pthread_mutex_lock(&m->lock);
		m->c.refused = 1;
		pthread_mutex_unlock(&m->lock);
		mqtt_event(m, PT_MQTT_REFUSED, msg);
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
		mqtt_event(m, PT_MQTT_CONNECT_FAILED, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "cannot connect to %s:%d: %s", m->host,
	    m->cfg.port, r && r->message ? r->message :
	    r && r->code == 3 ? "server unavailable" :
	    MQTTAsync_strerror(r ? r->code : -1));
	mqtt_event(m, PT_MQTT_CONNECT_FAILED, msg);
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
	if (MQTTAsync_setCallbacks(m->client, m, connlost, mqtt_msgarrvd, NULL) != 0 ||
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
		(void)mqtt_enqueue(m, m->status_topic, "offline", 7, 1, 1, 0);
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
