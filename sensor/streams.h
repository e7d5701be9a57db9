/*
 * streams.h: what the sensor publishes over MQTT besides its readings.
 *
 *  - The summary stream (--summary-period S): every reading handed to the
 *    transport goes into the open window (summary.c); a closed window is
 *    published, retained, on pitemp/<device>/summary, and the window in
 *    progress once more at a clean stop.
 *  - Home Assistant discovery (--ha-discovery [PREFIX], discovery.c): the
 *    retained config goes out on every connect and again whenever Home
 *    Assistant says "online" on <prefix>/status (the transport subscribes
 *    there and counts those messages: counters' watched).
 *
 * Neither counts as a reading: --count N and the readings' counters are
 * untouched. Main thread only; nothing allocates after streams_setup.
 */
#ifndef STREAMS_H
#define STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "discovery.h"
#include "pt_opts.h"
#include "summary.h"
#include "transport.h"

struct streams {
	const char      *device, *boot;
	/* Summaries: topic[0] == '\0' when off. */
	struct summary   sum;
	char             topic[128];
	uint64_t         sent;          /* summaries handed to the transport */
	uint64_t         dropped;       /* buffer full */

	/* Discovery: ha_len == 0 when off. */
	char             ha_topic[DISCOVERY_TOPIC_MAX];
	char             ha_status[DISCOVERY_TOPIC_MAX];
	char             ha_config[DISCOVERY_PAYLOAD_MAX];
	int              ha_len;
	uint64_t         ha_connects, ha_watched;   /* counters last answered */
	int64_t          ha_next_ns;                /* rate limit (monotonic) */
	int64_t          ha_log_ns;
	uint64_t         ha_sent, ha_unlogged;
};

/*
 * Build topics and payloads from the options, checked by pt_opts_check
 * (device and boot must stay valid as long as st). 0, or -EINVAL with a
 * message naming the option in err (a config that does not fit: not
 * expected after the checks).
 */
int streams_setup(struct streams *st, const struct pt_opts *o, const char *boot,
                  char *err, size_t err_cap);

/* Fill the transport's watch settings (Home Assistant's status topic). */
void streams_transport_cfg(const struct streams *st, struct transport_cfg *tc);

/* One reading was handed to the transport: ts and temp_c as published. */
void streams_reading(struct streams *st, struct transport *tr, int64_t ts_us,
                     double temp_c);

/* Every loop turn, with the transport's fresh counters: discovery when due. */
void streams_tick(struct streams *st, struct transport *tr,
                  const struct transport_counters *k);

/* Clean stop: publish the window in progress (cut at now). */
void streams_stop(struct streams *st, struct transport *tr);

/* One line on stderr describing what is on (nothing when all is off). */
void streams_log_start(const struct streams *st, double period_s);

#endif
