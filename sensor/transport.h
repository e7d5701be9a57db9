/*
 * transport.h: where the sensor's readings go. MQTT (lib/mqtt.c through
 * transport_mqtt.c) and the plain socket (transport_socket.c) sit behind
 * one ops table, so main.c has one loop for both. All calls are made from
 * the main thread.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "pt_opts.h"

struct transport_counters {
	uint64_t published;     /* readings accepted by publish() */
	uint64_t delivered;     /* MQTT QoS>0: acknowledged by the broker; QoS 0:
	                         * written; socket: answered stored by the sink */
	uint64_t failed;        /* reported failed (socket: rejected by the sink) */
	uint64_t unacked;       /* socket: let go unanswered by a peer that
	                         * never acknowledges (not a pitemp-sink) */
	uint64_t connects;      /* successful (re)connects */
	uint64_t watched;       /* cfg.watch_payload seen on cfg.watch_topic */
	int      connected;
};

struct transport;

struct transport_ops {
	const char *name;
	/* Start connecting in the background. 0 or -errno. */
	int  (*start)(struct transport *t);
	/*
	 * Hand over one payload (copied). 0; -ENOBUFS when the buffer is full
	 * (nothing queued); -ECONNREFUSED when the peer refused us for good.
	 */
	int  (*publish)(struct transport *t, const char *payload, size_t len);
	/*
	 * --rate 0: wait up to timeout_ms until the next reading can be handed
	 * over without queueing deep (a window of readings outstanding), so
	 * the sensor goes as fast as the far end takes them. 0 when there is
	 * room, -ETIMEDOUT otherwise.
	 */
	int  (*wait)(struct transport *t, int timeout_ms);
	/* Let the transport make progress (reconnect, send). Call at least
	 * every 100 ms. 0, or -ECONNREFUSED when refused for good. */
	int  (*poll)(struct transport *t);
	/* Wait up to timeout_ms until every reading is delivered: 0,
	 * -ETIMEDOUT, or -EPROTO when all is sent to a peer that never
	 * acknowledges (socket mode, not a pitemp-sink). */
	int  (*flush)(struct transport *t, int timeout_ms);
	/* Clean shutdown (status "offline", flush, disconnect). 0 or -errno. */
	int  (*stop)(struct transport *t, int timeout_ms);
	void (*counters)(struct transport *t, struct transport_counters *out);
	/*
	 * MQTT only (NULL in socket mode): hand over one message that is not a
	 * reading (summary, discovery config) to topic, QoS 1, copied. It is
	 * not counted among the readings' counters, but flush and stop wait
	 * for it too. 0, -ENOBUFS (buffer full: nothing queued) or -EIO.
	 */
	int  (*publish_aux)(struct transport *t, const char *topic,
	                    const char *payload, size_t len, int retain);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
};

/* Settings both transports share; the rest comes from opts. */
struct transport_cfg {
	const struct pt_opts *opts;
	const char           *password;     /* MQTT only; may be NULL */
	size_t                buffer;       /* readings held while disconnected */
	/* MQTT only, may be NULL: subscribe to watch_topic (QoS 0) and count
	 * the messages whose payload is exactly watch_payload (counters'
	 * watched), e.g. Home Assistant's "online" on <prefix>/status. */
	const char           *watch_topic;
	const char           *watch_payload;
};

/* NULL with errno set and a message in err. */
struct transport *transport_mqtt_new(const struct transport_cfg *cfg,
                                     char *err, size_t err_cap);
struct transport *transport_socket_new(const struct transport_cfg *cfg,
                                       char *err, size_t err_cap);

#endif
