/*
 * fleet.h: N simulated sensors in one process, for pitemp-bench. Each is
 * what pitemp-sensor is on the wire: its own MQTT connection (one
 * struct pt_mqtt, so one paho client) and client id, device <prefix>NNNN,
 * its own random boot id and seq from 0, the retained status topic with
 * birth "online" and will "offline", and readings from its own simulated
 * TMP36 (the sim source, seeded by the sensor's number) encoded by
 * lib/codec.c.
 *
 * Threads: fleet_send, fleet_poll, fleet_totals and fleet_stop belong to
 * the owner's thread; paho calls the event hook on its own threads, which
 * touches only the atomic event counters.
 */
#ifndef FLEET_H
#define FLEET_H

#include <stddef.h>
#include <stdint.h>

struct fleet_cfg {
	const char *host;
	int         port;
	const char *prefix;     /* device = prefix + 4-digit number */
	unsigned    first;      /* number of the first sensor */
	unsigned    n;          /* sensors */
	int         qos;
	size_t      buffer;     /* readings paho may hold per sensor */
};

/* Counters summed over the fleet. */
struct fleet_totals {
	uint64_t sent;          /* handed to paho */
	uint64_t acked;         /* QoS 0: written to the socket; QoS > 0: acknowledged */
	uint64_t failed;        /* reported failed by paho */
	uint64_t dropped;       /* paho's buffer was full: not sent, seq used */
	uint64_t errors;        /* other publish or encode errors */
	uint64_t connects;      /* successful (re)connects */
	uint64_t lost;          /* connections lost */
	uint64_t connect_failed;
	unsigned connected;     /* sensors connected now */
	unsigned refused;       /* sensors the broker refused for good */
};

/* NULL with errno and a message in err. Creates the clients, does not
 * connect. */
struct fleet *fleet_new(const struct fleet_cfg *cfg, char *err, size_t err_cap);
void fleet_free(struct fleet *f);   /* accepts NULL; does not disconnect */

/* Start connecting every sensor; 0 or -errno (err says which sensor). */
int fleet_start(struct fleet *f, char *err, size_t err_cap);

/* Retry first connections that failed (call every 100 ms or so while
 * waiting for the fleet to connect). */
void fleet_poll(struct fleet *f);

/* Take and publish sensor i's next sample (seq = its count of samples so
 * far). 0, -ENOBUFS (dropped: paho's buffer full), or another -errno
 * (counted as an error). The sample's time is now (CLOCK_REALTIME), kept
 * strictly increasing per sensor. */
int fleet_send(struct fleet *f, unsigned i);

void fleet_totals(struct fleet *f, struct fleet_totals *t);

/* Wait until every reading is acknowledged or failed, or deadline_ns
 * (CLOCK_MONOTONIC) passes: 0 or -ETIMEDOUT. */
int fleet_flush(struct fleet *f, int64_t deadline_ns);

/* Every sensor: "offline" on its status topic, then a clean disconnect,
 * each bounded by timeout_ms. Returns the number that did not stop
 * cleanly. */
unsigned fleet_stop(struct fleet *f, int timeout_ms);

/* The device name of sensor i (valid until fleet_free). */
const char *fleet_device(const struct fleet *f, unsigned i);

#endif
