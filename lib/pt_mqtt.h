/*
 * pt_mqtt.h: the one wrapper around paho.mqtt.c's MQTTAsync (lib/mqtt.c is
 * the only file that includes MQTTAsync.h). It keeps a session alive:
 * connects in the background (also when the broker is not up yet), retries
 * with backoff, re-sends the retained birth message and re-subscribes on
 * every (re)connect, buffers publishes while disconnected, and counts what
 * was handed over and what was acknowledged.
 *
 * Threads: paho runs its own threads and calls back on them. The callbacks
 * in struct pt_mqtt_cfg run on paho's thread; everything else is called by
 * the owner's (main) thread. Counters are guarded by the wrapper's mutex.
 */
#ifndef PT_MQTT_H
#define PT_MQTT_H

#include <stddef.h>
#include <stdint.h>

enum pt_mqtt_event {
	PT_MQTT_CONNECTED,      /* detail: "host:port" of the broker reached */
	PT_MQTT_LOST,           /* detail: cause (MQTT 5: the broker's reason) */
	PT_MQTT_CONNECT_FAILED, /* detail: reason; a retry follows */
	PT_MQTT_REFUSED,        /* detail: reason; the broker refused us for good */
	PT_MQTT_SUBSCRIBED,     /* detail: "FILTER (qos N)" */
	PT_MQTT_ERROR,          /* detail: what failed */
	PT_MQTT_DEBUG,          /* detail: what the client does and why (connect
	                         * attempts, causes, what is outstanding); for -d */
};

struct pt_mqtt_cfg {
	/* One broker, or a list "HOST[:PORT],..." (pt_hosts.h) tried in turn,
	 * first to last, at the first connect and at every reconnect; port is
	 * the port of an entry without one. */
	const char *host;
	int         port;
	const char *client_id;
	int         clean_session;
	int         mqtt_version;       /* 5: MQTT 5; else MQTT 3.1.1 */
	/* MQTT 5, clean_session 0: seconds the broker keeps the session (and
	 * queues QoS 1/2 messages) after a disconnect; 0xFFFFFFFF: for ever,
	 * as a 3.1.1 persistent session; 0: it ends with the connection. */
	uint32_t    session_expiry;
	int         keepalive;          /* seconds; 0: 30 */
	const char *status_topic;       /* NULL: no birth/will; else will "offline"
	                                 * and birth "online", both retained, QoS 1 */
	const char *sub_filter;         /* NULL: no subscription */
	int         sub_qos;
	int         max_buffered;       /* publishes queued inside paho; 0: 100 */
	/* NULL: no client persistence. Else a directory for paho's file
	 * persistence (created if missing): messages paho received and
	 * acknowledged but on_message declined (returned non-zero), and
	 * unacknowledged outgoing ones, survive a process exit or SIGKILL and
	 * are delivered again by the next client with the same id, host and
	 * port. paho acknowledges a QoS 1 message before on_message runs, so
	 * without it a declined message is lost when the process exits. Only
	 * meaningful with clean_session 0 (a clean session clears it). */
	const char *persist_dir;
	const char *username;
	const char *password;
	const char *cafile;             /* non-NULL: TLS */
	const char *cert;
	const char *key;
	int         insecure;           /* TLS without host name verification
	                                 * (the chain to cafile is still checked) */
	void       *ctx;
	/* Paho's thread. Must not block for long. */
	void (*on_event)(void *ctx, enum pt_mqtt_event ev, const char *detail);
	/* Paho's thread. Return 0 when the message was handled, non-zero to
	 * have it delivered again later (paho keeps it queued, and with
	 * persist_dir also across a restart). paho 1.3.12 calls this on its
	 * receive thread and sends the QoS 1 PUBACK (QoS 2: PUBCOMP) only
	 * after it returns (a message queued behind a busy callback is in
	 * persist_dir first); at QoS 2 the broker forgets the message at
	 * PUBREC, so only persist_dir keeps it across a kill
	 * (tests/integration/test_qos.py). */
	int  (*on_message)(void *ctx, const char *topic, const void *payload,
	                   size_t len);
};

struct pt_mqtt_counters {
	uint64_t published;     /* accepted by pt_mqtt_publish */
	uint64_t delivered;     /* QoS 0: written; QoS>0: acknowledged */
	uint64_t failed;        /* reported failed by paho */
	uint64_t resent;        /* handed to paho again: paho gave them back
	                         * because the connection dropped */
	uint64_t connects;      /* successful (re)connects */
	int      connected;
	int      refused;       /* the broker refused the connection: do not retry */
};

/* NULL with errno set (EINVAL for a bad cfg, ENOMEM). Copies what it needs
 * from cfg. */
struct pt_mqtt *pt_mqtt_new(const struct pt_mqtt_cfg *cfg);
void pt_mqtt_free(struct pt_mqtt *m); /* accepts NULL; does not disconnect */

/* Start connecting; returns at once (0 or -errno). */
int pt_mqtt_start(struct pt_mqtt *m);

/* Call now and then from the owner's thread (every 100 ms or sooner): it
 * retries a first connection that failed. Returns 0, or -ECONNREFUSED once
 * the broker refused the connection for good (bad credentials, not
 * authorised; with TLS also: server certificate not accepted -- unknown CA,
 * host name mismatch --, client certificate rejected, port not speaking
 * TLS; without TLS: the port expects TLS). Network errors are retried. */
int pt_mqtt_poll(struct pt_mqtt *m);

/*
 * Hand one message to paho (copied). 0 on success; -ENOBUFS when paho's
 * buffer is full (nothing queued: try again later or count a drop); -EIO
 * for other errors.
 */
int pt_mqtt_publish(struct pt_mqtt *m, const char *topic, const void *payload,
                    size_t len, int qos, int retain);

/* The same for a message that is not one of the owner's publishes (the
 * sensor's summaries and discovery configs): it stays out of the counters,
 * like the birth message, but flush and stop wait for it too. */
int pt_mqtt_publish_other(struct pt_mqtt *m, const char *topic,
                          const void *payload, size_t len, int qos, int retain);

/* Wait up to timeout_ms until every published message is delivered or
 * failed, and every one restored from persist_dir completed. 0 when all
 * are, -ETIMEDOUT otherwise. */
int pt_mqtt_flush(struct pt_mqtt *m, int timeout_ms);

/*
 * For a publisher that goes as fast as the broker takes its messages: 0 at
 * once while fewer than `window` messages are outstanding (handed over,
 * neither delivered nor failed); else wait, on a condition, until at most
 * `low` are (low < window), so the caller refills in a burst. -ETIMEDOUT
 * after timeout_ms, -EINVAL for a bad window. Why a window: paho 1.3 scans
 * its queued and in-flight lists to pick each new message id, so a deep
 * queue makes every publish cost more (at 1000 queued about as much as the
 * rest of the publish together). Why low = window - 1 at QoS 1: mosquitto
 * (without set_tcp_nodelay) holds back PUBACKs under Nagle's algorithm
 * until we acknowledge its last segment, which our TCP delays until we send
 * again; waiting for more than the first PUBACKs that come stalls each
 * round for the delayed-ACK timer (tens of ms).
 */
int pt_mqtt_wait_room(struct pt_mqtt *m, unsigned window, unsigned low,
                      int timeout_ms);

/* Messages paho holds not yet completed (queued, in flight, restored from
 * persist_dir), or -EIO. */
int pt_mqtt_pending(struct pt_mqtt *m);
/* How many messages an earlier run left in persist_dir, restored at
 * pt_mqtt_new and sent first; 0 once a flush has seen them all complete. */
int pt_mqtt_restored(struct pt_mqtt *m);

/* Publish "offline" (when a status topic is set), flush, and disconnect
 * cleanly, all within timeout_ms; when not connected, return at once
 * (nothing could complete). From the call on, publishes paho gives up on
 * are counted as failed but not reported through on_event (paho discards
 * what is buffered one message at a time). 0, or -ETIMEDOUT when
 * publishes were still outstanding, or -errno. */
int pt_mqtt_stop(struct pt_mqtt *m, int timeout_ms);

void pt_mqtt_counters(struct pt_mqtt *m, struct pt_mqtt_counters *out);

#endif
