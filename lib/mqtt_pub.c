/*
 * mqtt_pub.c: the publish path of lib/mqtt (see mqtt_int.h): hand messages
 * to paho, count what completes, and let the owner wait for it.
 */
#include "mqtt_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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
	/* Wake the owner only when what it waits for has come (room in the
	 * window at --rate 0, everything at a flush), not for every message. */
	if (m->waiting && m->all_sent - m->all_done <= m->wake_at)
		pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void
mqtt_done_one(struct pt_mqtt *m, int user, int ok)
{
	done_one(m, user, ok);
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
	int stopping;

	pthread_mutex_lock(&m->lock);
	stopping = m->stopping;
	pthread_mutex_unlock(&m->lock);
	/* While stopping, paho discards what is still buffered, one call
	 * each: thousands of lines after the owner's summary. The owner
	 * counts them in one line instead. */
	if (!stopping) {
		snprintf(msg, sizeof(msg), "publish failed: %s (code %d)",
		    r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1),
		    r ? r->code : -1);
		mqtt_event(m, PT_MQTT_ERROR, msg);
	}
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

/* MQTT 5 wants its own callbacks (else -15); a PUBACK with a reason code
 * >= 0x80 (quota exceeded, not authorized ...) comes to pub_fail5. */
static void
pub_ok5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	done_one(context, 1, 1);
}

static void
pub_fail5(void *context, MQTTAsync_failureData5 *r)
{
	struct pt_mqtt *m = context;
	char why[120], msg[200];

	if (r != NULL && r->reasonCode >= 0x80)
		mqtt_reason(r->reasonCode, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s (code %d)", r && r->message ? r->message :
		    MQTTAsync_strerror(r ? r->code : -1), r ? r->code : -1);
	snprintf(msg, sizeof(msg), "publish failed: %s", why);
	mqtt_event(m, PT_MQTT_ERROR, msg);
	done_one(m, 1, 0);
}

static void
ctl_ok5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	done_one(context, 0, 1);
}

static void
ctl_fail5(void *context, MQTTAsync_failureData5 *r)
{
	(void)r;
	done_one(context, 0, 0);
}

/*
 * paho 1.3.12 (eclipse-paho/paho.mqtt.c issues 1401, 1621, 1622, open):
 * when the write of a QoS>0 PUBLISH fails (-1: the broker reset the
 * connection), paho frees the message's topic and payload but keeps the
 * message in its session, sends the freed memory again after the reconnect
 * and frees it again. mqtt_keep.c then replaces the client (m->renew) for
 * the messages it keeps; the QoS>0 ones it does not keep (the birth,
 * "offline", the summary, a long one) mark it here: ASan saw paho's retry
 * of a birth message that failed so read freed memory.
 */
static void
cut(struct pt_mqtt *m, int code)
{
	if (code != MQTTASYNC_FAILURE)
		return;
	pthread_mutex_lock(&m->lock);
	m->renew = !m->stopping;
	pthread_mutex_unlock(&m->lock);
}

static void
pub_fail_q(void *context, MQTTAsync_failureData *r)
{
	cut(context, r ? r->code : 0);
	pub_fail(context, r);
}

static void
ctl_fail_q(void *context, MQTTAsync_failureData *r)
{
	cut(context, r ? r->code : 0);
	ctl_fail(context, r);
}

static void
pub_fail_q5(void *context, MQTTAsync_failureData5 *r)
{
	cut(context, r ? r->code : 0);
	pub_fail5(context, r);
}

static void
ctl_fail_q5(void *context, MQTTAsync_failureData5 *r)
{
	cut(context, r ? r->code : 0);
	ctl_fail5(context, r);
}

int
mqtt_enqueue(struct pt_mqtt *m, const char *topic, const void *payload,
             size_t len, int qos, int retain, int user)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	int rc;

	if (len > (size_t)INT32_MAX)
		return -EMSGSIZE;
	/* A copy kept until it completes (mqtt_keep.c). */
	if (user && qos > 0 && len <= MQTT_KEEP_MAX)
		return mqtt_keep_publish(m, topic, payload, len, qos, retain);
	msg.payload = (void *)(uintptr_t)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retain;
	if (m->v5) {
		ro.onSuccess5 = user ? pub_ok5 : ctl_ok5;
		ro.onFailure5 = qos == 0 ? (user ? pub_fail5 : ctl_fail5) :
		    user ? pub_fail_q5 : ctl_fail_q5;
	} else {
		ro.onSuccess = user ? pub_ok : ctl_ok;
		ro.onFailure = qos == 0 ? (user ? pub_fail : ctl_fail) :
		    user ? pub_fail_q : ctl_fail_q;
	}
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

int
pt_mqtt_publish(struct pt_mqtt *m, const char *topic, const void *payload,
                size_t len, int qos, int retain)
{
	return mqtt_enqueue(m, topic, payload, len, qos, retain, 1);
}

int
pt_mqtt_publish_other(struct pt_mqtt *m, const char *topic, const void *payload,
                      size_t len, int qos, int retain)
{
	return mqtt_enqueue(m, topic, payload, len, qos, retain, 0);
}

/* Absolute CLOCK_REALTIME deadline timeout_ms from now (pthread_cond_timedwait). */
static struct timespec
deadline(int timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

/* Wait (m->lock held) until at most `level` messages are outstanding or
 * the deadline passes. 0 or -ETIMEDOUT. */
static int
wait_level(struct pt_mqtt *m, uint64_t level, const struct timespec *until)
{
	struct timespec soon;
	int rc = 0, full;

	m->waiting = 1;
	m->wake_at = level;
	while (m->all_sent - m->all_done > level && rc == 0) {
		/* Kept messages paho gave back are handed over again here too
		 * (kept_done wakes us); with paho full, look again in 10 ms. */
		if (m->resend_head != MQTT_NIL || m->renew) {
			pthread_mutex_unlock(&m->lock);
			full = mqtt_resend(m) == -ENOBUFS;
			pthread_mutex_lock(&m->lock);
			if (!full)
				continue;
			soon = deadline(10);
			if (soon.tv_sec < until->tv_sec || (soon.tv_sec ==
			    until->tv_sec && soon.tv_nsec < until->tv_nsec)) {
				(void)pthread_cond_timedwait(&m->cond, &m->lock, &soon);
				continue;
			}
		}
		rc = pthread_cond_timedwait(&m->cond, &m->lock, until);
	}
	m->waiting = 0;
	return m->all_sent - m->all_done > level ? -ETIMEDOUT : 0;
}

int
pt_mqtt_flush(struct pt_mqtt *m, int timeout_ms)
{
	struct timespec until = deadline(timeout_ms);
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = wait_level(m, 0, &until);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int
pt_mqtt_wait_room(struct pt_mqtt *m, unsigned window, unsigned low, int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	if (window == 0 || low >= window)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (m->all_sent - m->all_done >= window) {
		until = deadline(timeout_ms);
		rc = wait_level(m, low, &until);
	}
	pthread_mutex_unlock(&m->lock);
	/* Messages restored from persist_dir complete without a callback:
	 * look at paho's pending list until they are gone. */
	while (rc == 0 && m->restored > 0) {
		struct timespec now, nap = { 0, 20 * 1000000L };

		if (pt_mqtt_pending(m) == 0) {
			m->restored = 0;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > until.tv_sec ||
		    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
			rc = -ETIMEDOUT;
		else
			nanosleep(&nap, NULL);
	}
	return rc;
}

int
pt_mqtt_pending(struct pt_mqtt *m)
{
	MQTTAsync_token *tokens = NULL;
	int n = 0;

	if (MQTTAsync_getPendingTokens(m->client, &tokens) != MQTTASYNC_SUCCESS)
		return -EIO;
	if (tokens != NULL) {
		while (tokens[n] != -1)
			n++;
		MQTTAsync_free(tokens);
	}
	return n;
}

int
pt_mqtt_restored(struct pt_mqtt *m)
{
	return m->restored;
}

void
pt_mqtt_counters(struct pt_mqtt *m, struct pt_mqtt_counters *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->c;
	pthread_mutex_unlock(&m->lock);
}

