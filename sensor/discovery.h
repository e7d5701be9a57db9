/*
 * discovery.h: Home Assistant MQTT discovery for the sensor
 * (--ha-discovery [PREFIX]). One sensor entity per device, announced by a
 * retained config on <prefix>/sensor/pitemp_<device>/config whose state is
 * the summary stream (pitemp/<device>/summary, value: its mean), never the
 * 100 Hz readings: Home Assistant's recorder stores every state it gets.
 * Availability follows pitemp/<device>/status (online/offline), so a stopped
 * sensor shows as unavailable; nothing here ever deletes the entity.
 *
 * Field names are Home Assistant's current ones: default_entity_id (which
 * replaced object_id in 2025.10, "sensor.<object id>"), availability as a
 * list, the device block with identifiers, and an origin block.
 *
 * Pure: the strings are built once at start-up into caller buffers.
 */
#ifndef DISCOVERY_H
#define DISCOVERY_H

#include <stddef.h>

#define DISCOVERY_PREFIX_DEFAULT "homeassistant"
#define DISCOVERY_PREFIX_MAX     128     /* as lib/optcheck.c allows */
#define DISCOVERY_TOPIC_MAX      (DISCOVERY_PREFIX_MAX + 96)
#define DISCOVERY_PAYLOAD_MAX    1536

struct discovery_info {
	const char *prefix;         /* discovery prefix (pt_opts_check checked it) */
	const char *device;         /* a valid device name */
	const char *source;         /* the --source spec: names the ADC in "model" */
	const char *sw_version;
	double      period_s;       /* --summary-period (> 0) */
	double      rate_hz;        /* --rate (0: as fast as possible) */
};

/* <prefix>/sensor/pitemp_<device>/config, a '.' in the device written '_'
 * (Home Assistant takes only [A-Za-z0-9_-] there). Length or -ENOSPC. */
int discovery_topic(const struct discovery_info *d, char *buf, size_t cap);

/* <prefix>/status, where Home Assistant says online/offline. */
int discovery_status_topic(const struct discovery_info *d, char *buf, size_t cap);

/* The device model for the source spec, e.g. "TMP36 via MCP3008 (10-bit SPI ADC)". */
const char *discovery_model(const char *source);

/* expire_after in whole seconds: three summary intervals (a window holds
 * readings at least every 1/rate s), at least 3. */
int discovery_expire_after(double period_s, double rate_hz);

/* The config JSON (NUL-terminated). Length, or -ENOSPC / -EINVAL. */
int discovery_config(const struct discovery_info *d, char *buf, size_t cap);

#endif
