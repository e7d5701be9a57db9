/*
 * mqtt_sub.c: the subscribe path of lib/mqtt (see mqtt_int.h): the
 * subscription made on every (re)connect and the messages it brings.
 */
#include "mqtt_int.h"

#include <stdio.h>

static void
sub_ok(void *context, MQTTAsync_successData *r)
{
	struct pt_mqtt *m = context;
	char msg[300];

	if (r != NULL && r->alt.qos == 0x80) {
		snprintf(msg, sizeof(msg), "subscription to %s refused by the broker",
		    m->sub_filter);
		mqtt_event(m, PT_MQTT_ERROR, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%s (qos %d)", m->sub_filter,
	    r != NULL ? r->alt.qos : m->cfg.sub_qos);
	mqtt_event(m, PT_MQTT_SUBSCRIBED, msg);
}

static void
sub_fail(void *context, MQTTAsync_failureData *r)
{
	struct pt_mqtt *m = context;
	char msg[300];

	snprintf(msg, sizeof(msg), "subscribe to %s failed (code %d)", m->sub_filter,
	    r ? r->code : -1);
	mqtt_event(m, PT_MQTT_ERROR, msg);
}

/* MQTT 5: the SUBACK's reason code is the granted QoS, or >= 0x80 for a
 * refusal (not authorized, shared subscriptions not supported ...). */
static void
sub_ok5(void *context, MQTTAsync_successData5 *r)
{
	struct pt_mqtt *m = context;
	char msg[300];

	snprintf(msg, sizeof(msg), "%s (qos %d)", m->sub_filter,
	    r != NULL ? (int)r->reasonCode : m->cfg.sub_qos);
	mqtt_event(m, PT_MQTT_SUBSCRIBED, msg);
}

static void
sub_fail5(void *context, MQTTAsync_failureData5 *r)
{
	struct pt_mqtt *m = context;
	char why[120], msg[400];

	if (r != NULL && r->reasonCode >= 0x80)
		mqtt_reason(r->reasonCode, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "code %d", r ? r->code : -1);
	snprintf(msg, sizeof(msg), "subscription to %s refused by the broker: %s",
	    m->sub_filter, why);
	mqtt_event(m, PT_MQTT_ERROR, msg);
}

void
mqtt_subscribe(struct pt_mqtt *m)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char detail[300];
	int rc;

	if (m->v5) {
		ro.onSuccess5 = sub_ok5;
		ro.onFailure5 = sub_fail5;
	} else {
		ro.onSuccess = sub_ok;
		ro.onFailure = sub_fail;
	}
	ro.context = m;
	mqtt_debug(m, "subscribing to %s at qos %d", m->sub_filter, m->cfg.sub_qos);
	rc = MQTTAsync_subscribe(m->client, m->sub_filter, m->cfg.sub_qos, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(detail, sizeof(detail), "subscribe: %s",
		    MQTTAsync_strerror(rc));
		mqtt_event(m, PT_MQTT_ERROR, detail);
	}
}

int
mqtt_msgarrvd(void *context, char *topic, int topiclen,
              MQTTAsync_message *msg)
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
