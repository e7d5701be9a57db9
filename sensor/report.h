/*
 * report.h: the sensor's delivery counters on stderr, every `every`
 * seconds and once at exit, so an operator can see a broker outage being
 * buffered and drained: one line
 *
 *   pitemp-sensor: info: counters: published=N acknowledged=N buffered=N
 *   dropped=N failed=N unacked=N reconnects=N connected=0|1
 *
 * published: handed to the transport; acknowledged: PUBACK received (QoS
 * 1/2), written (QoS 0), or answered stored by the sink (socket mode);
 * buffered: published - acknowledged - failed - unacked (queued while
 * disconnected, or in flight); dropped: readings the sensor could not
 * hand over because the buffer was full (counted by the caller); failed:
 * reported failed by paho, or rejected by the sink (socket mode); unacked:
 * let go unanswered by a socket peer that is not a pitemp-sink;
 * reconnects: connections after the first.
 *
 * Main thread only; the counters come from the transport's counters op
 * (for MQTT, pt_mqtt_counters() under the wrapper's lock).
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

#define REPORT_EVERY_S  10

struct report {
	int64_t every_ns;
	int64_t next_ns;    /* CLOCK_MONOTONIC */
};

/* every_s <= 0: REPORT_EVERY_S. The first line is due every_s from now. */
void report_init(struct report *r, double every_s);

/* Log the counters line when it is due (or always with force). Returns 1
 * when a line was logged. t may be NULL (nothing logged). */
int report_tick(struct report *r, struct transport *t, uint64_t dropped,
                int force);

/* Format the counters line (no program prefix, no newline) into buf. */
int report_format(const struct transport_counters *k, uint64_t dropped,
                  char *buf, size_t cap);

#endif
