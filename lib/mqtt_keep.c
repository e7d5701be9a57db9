/*
 * mqtt_keep.c: the owner's QoS 1/2 messages, kept until paho completes
 * them, and what is done when paho gives one back (see mqtt_int.h).
 *
 * paho 1.3.12 gives a message back in two ways. It discards messages unsent
 * (onFailure -13 or -3: a session that ends, a client destroyed): they are
 * handed to paho again. And when the write of a QoS>0 PUBLISH meets a
 * connection the broker has just reset, it calls onFailure with -1 and
 * frees the message's topic and payload while its session still holds
 * them: after the reconnect it sends that freed memory again under the
 * same message id (valgrind: an invalid read in the retry, of a block
 * freed by the failed send), and frees it a second time when the broker
 * acknowledges it. mosquitto closes the connection on the garbled topic,
 * at every reconnect (the sensor never delivers again); nats-server stores
 * the garbage. So after a -1 the client is replaced (mqtt_renew): paho
 * discards all it held (-13, kept copies go back to the queue below), a new
 * client connects, and every kept message is handed over again, same
 * bytes. The sink's dedup absorbs what the broker already had.
 * docs/scaling.md ("A reading paho gave up") has the evidence.
 *
 * Threads: the callbacks run on paho's threads and only queue; handing
 * over again and renewing the client run on the owner's thread.
 */
#include "mqtt_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
mqtt_slots_init(struct pt_mqtt *m, int max_buffered)
{
	uint32_t n = (uint32_t)(max_buffered > 0 ? max_buffered : 100) +
	    MQTT_KEEP_EXTRA;

	/* calloc, and slots taken in order on first use: pages are touched
	 * only as far as the most ever outstanding at once (an outage). */
	if ((m->slots = calloc(n, sizeof(*m->slots))) == NULL)
		return -ENOMEM;
	m->nslots = n;
	m->fresh = 0;
	m->free_top = MQTT_NIL;
	m->resend_head = m->resend_tail = MQTT_NIL;
	return 0;
}

/* m->lock held. */
static struct pub_slot *
slot_take(struct pt_mqtt *m)
{
	struct pub_slot *s;

	if (m->free_top != MQTT_NIL) {
		s = &m->slots[m->free_top];
		m->free_top = s->next;
	} else if (m->fresh < m->nslots) {
		s = &m->slots[m->fresh++];
		s->m = m;
	} else
		return NULL;
	return s;
}

/* m->lock held. */
static void
slot_put(struct pt_mqtt *m, struct pub_slot *s)
{
	s->next = m->free_top;
	m->free_top = (uint32_t)(s - m->slots);
}

/* paho gave the message back because the connection dropped (-1: its write
 * failed; -3, -13: discarded unsent). Anything else (a v5 reason code, a
 * bad argument) would fail again. */
static int
interrupted(int code)
{
	return code == MQTTASYNC_FAILURE || code == MQTTASYNC_DISCONNECTED ||
	    code == MQTTASYNC_OPERATION_INCOMPLETE;
}

/* paho's thread (or the owner's, from mqtt_resend): s completed. */
static void
kept_done(struct pub_slot *s, int ok, int code, const char *why)
{
	struct pt_mqtt *m = s->m;
	uint32_t i = (uint32_t)(s - m->slots);
	char msg[200];

	pthread_mutex_lock(&m->lock);
	if (!ok && !m->stopping && interrupted(code)) {
		/* Still outstanding: flush and stop wait for it. */
		s->next = MQTT_NIL;
		if (m->resend_tail == MQTT_NIL)
			m->resend_head = i;
		else
			m->slots[m->resend_tail].next = i;
		m->resend_tail = i;
		m->c.resent++;
		if (code == MQTTASYNC_FAILURE)
			m->renew = 1;
		if (m->waiting)
			pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		if (code == MQTTASYNC_FAILURE)
			mqtt_event(m, PT_MQTT_ERROR, "a publish was cut by the "
			    "connection loss (paho code -1); paho's copy is "
			    "unusable: a new client sends it again");
		return;
	}
	slot_put(m, s);
	pthread_mutex_unlock(&m->lock);
	if (!ok && why != NULL) {
		snprintf(msg, sizeof(msg), "publish failed: %s", why);
		mqtt_event(m, PT_MQTT_ERROR, msg);
	}
	mqtt_done_one(m, 1, ok);
}

static void
kept_ok(void *context, MQTTAsync_successData *r)
{
	(void)r;
	kept_done(context, 1, 0, NULL);
}

static void
kept_fail(void *context, MQTTAsync_failureData *r)
{
	struct pub_slot *s = context;
	char why[140];
	int code = r ? r->code : MQTTASYNC_FAILURE, stopping;

	pthread_mutex_lock(&s->m->lock);
	stopping = s->m->stopping;
	pthread_mutex_unlock(&s->m->lock);
	snprintf(why, sizeof(why), "%s (code %d)", r && r->message ? r->message :
	    MQTTAsync_strerror(code), code);
	/* While stopping: counted in the owner's one line, as in mqtt_pub.c. */
	kept_done(s, 0, code, stopping ? NULL : why);
}

static void
kept_ok5(void *context, MQTTAsync_successData5 *r)
{
	(void)r;
	kept_done(context, 1, 0, NULL);
}

static void
kept_fail5(void *context, MQTTAsync_failureData5 *r)
{
	struct pub_slot *s = context;
	char why[140];
	int code = r ? r->code : MQTTASYNC_FAILURE;

	if (r != NULL && r->reasonCode >= 0x80) {
		mqtt_reason(r->reasonCode, why, sizeof(why));
		code = r->reasonCode;   /* refused by the broker: not again */
	} else
		snprintf(why, sizeof(why), "%s (code %d)", r && r->message ?
		    r->message : MQTTAsync_strerror(code), code);
	kept_done(s, 0, code, why);
}

/* Hand a kept message to paho. paho's return code. */
static int
send_kept(struct pt_mqtt *m, struct pub_slot *s)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTAsync_message msg = MQTTAsync_message_initializer;

	msg.payload = s->payload;
	msg.payloadlen = s->len;
	msg.qos = s->qos;
	msg.retained = s->retain;
	if (m->v5) {
		ro.onSuccess5 = kept_ok5;
		ro.onFailure5 = kept_fail5;
	} else {
		ro.onSuccess = kept_ok;
		ro.onFailure = kept_fail;
	}
	ro.context = s;
	return MQTTAsync_sendMessage(m->client, s->topic, &msg, &ro);
}

/* Owner's thread: replace the client whose session paho corrupted. */
static void
renew(struct pt_mqtt *m)
{
	unsigned long long back;

	/* Its failures (-13) come back to the queue, not the counters. */
	MQTTAsync_destroy(&m->client);
	pthread_mutex_lock(&m->lock);
	m->c.connected = 0;
	/* Connect as a first time: retried until it succeeds (pt_mqtt_poll). */
	m->ever_connected = 0;
	m->retry_ms = MQTT_RETRY_MIN_MS;
	back = (unsigned long long)(m->all_sent - m->all_done);
	pthread_mutex_unlock(&m->lock);
	mqtt_debug(m, "new paho client; %llu publishes outstanding, sent again",
	    back);
	if (mqtt_client_create(m) < 0) {
		pthread_mutex_lock(&m->lock);
		m->renew = 1;           /* out of memory: the next call tries again */
		pthread_mutex_unlock(&m->lock);
		mqtt_event(m, PT_MQTT_ERROR, "cannot create a new MQTT client");
		return;
	}
	if (m->nhosts > 1) {            /* a round of the list, as after a loss */
		pthread_mutex_lock(&m->lock);
		mqtt_failover_restart(m, 0);
		pthread_mutex_unlock(&m->lock);
	} else
		(void)pt_mqtt_start(m);
}

int
mqtt_resend(struct pt_mqtt *m)
{
	struct pub_slot *s;
	uint32_t i;
	int rc, renew_now;

	pthread_mutex_lock(&m->lock);
	renew_now = m->renew && !m->stopping;
	m->renew = 0;
	pthread_mutex_unlock(&m->lock);
	if (renew_now)
		renew(m);
	for (;;) {
		pthread_mutex_lock(&m->lock);
		if ((i = m->resend_head) == MQTT_NIL || m->client == NULL) {
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		s = &m->slots[i];
		if ((m->resend_head = s->next) == MQTT_NIL)
			m->resend_tail = MQTT_NIL;
		pthread_mutex_unlock(&m->lock);
		if ((rc = send_kept(m, s)) == MQTTASYNC_SUCCESS)
			continue;
		if (rc == MQTTASYNC_MAX_BUFFERED_MESSAGES ||
		    rc == MQTTASYNC_NO_MORE_MSGIDS) {
			/* Full: back to the head; the next call tries again. */
			pthread_mutex_lock(&m->lock);
			s->next = m->resend_head;
			m->resend_head = i;
			if (m->resend_tail == MQTT_NIL)
				m->resend_tail = i;
			pthread_mutex_unlock(&m->lock);
			return -ENOBUFS;
		}
		kept_done(s, 0, rc, "paho refused to queue it again");
	}
}

int
mqtt_keep_publish(struct pt_mqtt *m, const char *topic, const void *payload,
                  size_t len, int qos, int retain)
{
	struct pub_slot *s;
	int rc, pending;

	pthread_mutex_lock(&m->lock);
	pending = m->resend_head != MQTT_NIL || m->renew;
	pthread_mutex_unlock(&m->lock);
	if (pending)                    /* the older ones first */
		(void)mqtt_resend(m);
	pthread_mutex_lock(&m->lock);
	if (m->client == NULL) {        /* a new client could not be made */
		pthread_mutex_unlock(&m->lock);
		return -EIO;
	}
	if ((s = slot_take(m)) == NULL) {
		pthread_mutex_unlock(&m->lock);
		return -ENOBUFS;        /* every copy is outstanding */
	}
	memcpy(s->payload, payload, len);
	s->len = (uint16_t)len;
	s->qos = (uint8_t)qos;
	s->retain = (uint8_t)retain;
	s->topic = topic;
	/* Count before sending: the completion may run before sendMessage
	 * returns. */
	m->all_sent++;
	m->c.published++;
	pthread_mutex_unlock(&m->lock);
	if ((rc = send_kept(m, s)) == MQTTASYNC_SUCCESS)
		return 0;
	pthread_mutex_lock(&m->lock);
	m->all_sent--;
	m->c.published--;
	slot_put(m, s);
	pthread_mutex_unlock(&m->lock);
	return rc == MQTTASYNC_MAX_BUFFERED_MESSAGES ||
	    rc == MQTTASYNC_NO_MORE_MSGIDS ? -ENOBUFS : -EIO;
}
