/*
 * mqtt_int.h: the inside of lib/mqtt*.c, pitemp's only user of paho's
 * MQTTAsync API (the public side is pt_mqtt.h). The wrapper is split by
 * concern: mqtt.c the client's life and connection (MQTT 3.1.1 or 5),
 * mqtt_uri.c the broker list (failover) and paho's socket, mqtt_diag.c why
 * a connection failed, mqtt_pub.c the publish path, mqtt_keep.c the kept
 * copies of the owner's QoS>0 messages, mqtt_sub.c the subscribe path.
 * Nothing outside these files includes this header or
 * MQTTAsync.h.
 *
 * Threads: paho calls the callbacks of these files on its own threads;
 * the owner calls the pt_mqtt_* functions on its thread. Shared state
 * (counters, retry schedule) is guarded by m->lock; m->cond is signalled
 * when a publish completes and the owner waits for that many outstanding
 * (waiting, wake_at), so pt_mqtt_flush and pt_mqtt_wait_room wait without
 * polling and are woken once per batch, not once per message.
 */
#ifndef MQTT_INT_H
#define MQTT_INT_H

#include "pt_hosts.h"
#include "pt_mqtt.h"

#include <MQTTAsync.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* A reading's payload fits (lib/codec.c writes at most ~230 bytes); a
 * longer user message is sent without a kept copy. */
#define MQTT_KEEP_MAX   320
/* Kept copies beyond max_buffered: messages written and not yet
 * acknowledged (in flight). */
#define MQTT_KEEP_EXTRA 1024

/*
 * One owner's QoS 1/2 message kept by mqtt_keep.c from pt_mqtt_publish
 * until paho completes it, so that one paho gives back because the
 * connection dropped is handed to paho again (same bytes). Preallocated:
 * no malloc per message. next links the free stack or the resend queue
 * (MQTT_NIL ends them).
 */
#define MQTT_NIL        UINT32_MAX
struct pub_slot {
	struct pt_mqtt *m;
	const char     *topic;          /* the owner's; outlives the message */
	uint32_t        next;
	uint16_t        len;
	uint8_t         qos, retain;
	char            payload[MQTT_KEEP_MAX];
};

struct pt_mqtt {
	struct pt_mqtt_cfg          cfg;
	char                       *host, *client_id, *status_topic, *sub_filter;
	char                       *username, *password, *cafile, *cert, *key;
	/* The broker list (mqtt_uri.c): entries, their URIs for paho, and
	 * the list as shown in log lines. */
	struct pt_host              hosts[PT_HOSTS_MAX];
	int                         nhosts;
	char                        uri_buf[PT_HOSTS_MAX][PT_HOST_LEN + 20];
	char                       *uris[PT_HOSTS_MAX];
	char                        where[600];
	int                         v5;         /* MQTT 5 (else 3.1.1) */
	MQTTProperties              props;      /* v5 CONNECT properties */
	MQTTAsync                   client;
	MQTTAsync_connectOptions    conn;
	MQTTAsync_willOptions       will;
	MQTTAsync_SSLOptions        ssl;

	pthread_mutex_t             lock;
	pthread_cond_t              cond;
	struct pt_mqtt_counters     c;          /* user publishes */
	uint64_t                    all_sent;   /* every send, birth included */
	uint64_t                    all_done;
	int                         waiting;    /* the owner waits on cond for */
	uint64_t                    wake_at;    /* all_sent - all_done <= this */
	int                         ever_connected;
	int                         retry_pending;
	int64_t                     retry_at_ns;
	int                         retry_ms;
	int                         disconnected;
	/* A list: the broker of the current (or last) attempt, the attempts
	 * in this round, and whether one is under way (mqtt_uri.c). */
	int                         cur;
	int                         tried;
	int                         attempting;
	/* Kept copies (mqtt_keep.c): nslots, the first never used (fresh), a
	 * LIFO free stack (the same few stay warm at 100 Hz), the FIFO of
	 * those to hand over again, and whether the client must be replaced. */
	struct pub_slot            *slots;
	uint32_t                    nslots, fresh, free_top;
	uint32_t                    resend_head, resend_tail;
	int                         renew;
	int                         stopping;   /* pt_mqtt_stop began: failed
	                                         * publishes are counted, not told */
	int64_t                     since_ns;   /* connected or lost since (debug) */
	int                         restored;   /* messages paho restored from
	                                         * persist_dir at create, still
	                                         * to be flushed (owner thread) */
};

/* A PT_MQTT_DEBUG event, printf-style (a no-op without on_event). */
void mqtt_debug(struct pt_mqtt *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* mqtt_uri.c: parse cfg.host into m->hosts, m->uris and m->where. 0 or
 * -EINVAL. */
int mqtt_uris_init(struct pt_mqtt *m);

/* mqtt_uri.c, paho's thread right after a (re)connect: find paho's socket
 * to the broker, set TCP_NODELAY on it, and name the broker of the list it
 * is connected to ("host:port") in name. */
void mqtt_broker_socket(struct pt_mqtt *m, char *name, size_t cap);

/*
 * mqtt_uri.c, failover over a list (nhosts > 1), m->lock held. paho's own
 * reconnect is off then and each attempt is one MQTTAsync_connect to one
 * broker, made by pt_mqtt_poll on the owner's thread when due.
 * restart: a new round from the first broker, delay_ms from now.
 * next: after a failed attempt, 1 when the next broker of the round is
 * scheduled, 0 when every one was tried (the caller backs off and
 * restarts). uri: the URI to connect to now.
 */
void mqtt_failover_restart(struct pt_mqtt *m, int delay_ms);
int mqtt_failover_next(struct pt_mqtt *m);
char *mqtt_failover_uri(struct pt_mqtt *m);

/* MQTT 5 reason code as text: "not authorized (reason 0x87)". */
void mqtt_reason(int code, char *buf, size_t cap);

/* Tell the owner (paho's thread or the owner's). */
void mqtt_event(struct pt_mqtt *m, enum pt_mqtt_event ev, const char *detail);

/* mqtt_pub.c: one publish completed (paho's thread): counters, wake-up. */
void mqtt_done_one(struct pt_mqtt *m, int user, int ok);

/* mqtt.c: create m->client from m's options and set its callbacks. 0 or
 * -EINVAL. */
int mqtt_client_create(struct pt_mqtt *m);
#define MQTT_RETRY_MIN_MS 500

/* mqtt_keep.c. slots_init: 0 or -ENOMEM. keep_publish: an owner's QoS>0
 * message of at most MQTT_KEEP_MAX bytes, as mqtt_enqueue. resend (owner's
 * thread, m->lock not held): replace the client if paho corrupted it, and
 * hand paho again what it gave back; 0, or -ENOBUFS when paho's buffer is
 * full (some are left for the next call). */
int mqtt_slots_init(struct pt_mqtt *m, int max_buffered);
int mqtt_keep_publish(struct pt_mqtt *m, const char *topic, const void *payload,
                      size_t len, int qos, int retain);
int mqtt_resend(struct pt_mqtt *m);

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
