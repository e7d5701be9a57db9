/*
 * mqtt_int.h: the inside of lib/mqtt*.c, pitemp's only user of paho's
 * MQTTAsync API (the public side is pt_mqtt.h). The wrapper is split by
 * concern: mqtt.c the client's life and connection, mqtt_diag.c why a
 * connection failed, mqtt_pub.c the publish path, mqtt_sub.c the subscribe
 * path. Nothing outside these files includes this header or MQTTAsync.h.
 *
 * Threads: paho calls the callbacks of all four files on its own threads;
 * the owner calls the pt_mqtt_* functions on its thread. Shared state
 * (counters, retry schedule) is guarded by m->lock; m->cond is signalled
 * whenever a publish completes so pt_mqtt_flush can wait without polling.
 */
#ifndef MQTT_INT_H
#define MQTT_INT_H

#include "pt_mqtt.h"

#include <MQTTAsync.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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

/* Tell the owner (paho's thread or the owner's). */
void mqtt_event(struct pt_mqtt *m, enum pt_mqtt_event ev, const char *detail);

/* mqtt_pub.c: hand one message to paho (copied); user says whether it
 * counts among the owner's publishes (the birth and "offline" do not).
 * 0, -ENOBUFS (buffer full or no free message id), -EMSGSIZE or -EIO. */
int mqtt_enqueue(struct pt_mqtt *m, const char *topic, const void *payload,
                 size_t len, int qos, int retain, int user);

/* mqtt_sub.c: subscribe to cfg.sub_filter (paho's thread, from the
 * connected callback), and paho's message-arrived callback. */
void mqtt_subscribe(struct pt_mqtt *m);
int mqtt_msgarrvd(void *context, char *topic, int topiclen,
                  MQTTAsync_message *msg);

/* mqtt_diag.c: why a connect failed, when retrying cannot fix it: a
 * CONNACK refusal, or a TLS failure the probe (lib/tls.c) pins down. NULL
 * when it may be a passing network error; else the reason, in why (cap
 * bytes) or static storage. why may also receive a better description of
 * the network error when NULL is returned. Blocks for at most 3 s (the TLS probe). */
const char *mqtt_refusal(struct pt_mqtt *m, const MQTTAsync_failureData *r,
                         char *why, size_t cap);

#endif
