/*
 * discovery.c: the Home Assistant discovery config (see discovery.h).
 */
#include "discovery.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int
fit(int n, size_t cap)
{
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= cap ? -ENOSPC : n;
}

/* The device as a discovery topic level: '.' becomes '_'. */
static void
node_id(const char *device, char *out, size_t cap)
{
	size_t i;

	for (i = 0; device[i] != '\0' && i + 1 < cap; i++)
		out[i] = device[i] == '.' ? '_' : device[i];
	out[i] = '\0';
}

/* The device as an entity id part: lower case, runs of anything else than
 * [a-z0-9] become one '_', none at the end (Home Assistant's rule). */
static void
slug(const char *device, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; device[i] != '\0' && o + 1 < cap; i++) {
		unsigned char ch = (unsigned char)tolower((unsigned char)device[i]);

		if (isalnum(ch))
			out[o++] = (char)ch;
		else if (o > 0 && out[o - 1] != '_')
			out[o++] = '_';
	}
	while (o > 0 && out[o - 1] == '_')
		o--;
	out[o] = '\0';
}

int
discovery_topic(const struct discovery_info *d, char *buf, size_t cap)
{
	char node[80];

	node_id(d->device, node, sizeof(node));
	return fit(snprintf(buf, cap, "%s/sensor/pitemp_%s/config", d->prefix, node),
	    cap);
}

int
discovery_status_topic(const struct discovery_info *d, char *buf, size_t cap)
{
	return fit(snprintf(buf, cap, "%s/status", d->prefix), cap);
}

const char *
discovery_model(const char *source)
{
	static const struct { const char *prefix, *model; } models[] = {
		{ "sim", "TMP36, simulated (10-bit ADC)" },
		{ "replay", "TMP36, replayed from a file" },
		{ "mcp3008", "TMP36 via MCP3008 (10-bit SPI ADC)" },
		{ "ads1115", "TMP36 via ADS1115 (16-bit I2C ADC)" },
		{ "iio", "TMP36 via a Linux IIO ADC" },
	};
	size_t n = source != NULL ? strcspn(source, ":") : 0;

	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strlen(models[i].prefix) == n &&
		    strncmp(source, models[i].prefix, n) == 0)
			return models[i].model;
	return "TMP36";
}

int
discovery_expire_after(double period_s, double rate_hz)
{
	double every = period_s;

	if (rate_hz > 0 && 1.0 / rate_hz > every)
		every = 1.0 / rate_hz;
	every = ceil(3.0 * every);
	if (every < 3)
		return 3;
	return every > 1e9 ? 1000000000 : (int)every;
}

int
discovery_config(const struct discovery_info *d, char *buf, size_t cap)
{
	char id[80];

	if (d->period_s <= 0 || d->prefix == NULL || d->device == NULL)
		return -EINVAL;
	slug(d->device, id, sizeof(id));
	if (id[0] == '\0')         /* a name of only '.', '_' and '-' */
		snprintf(id, sizeof(id), "device");
	/* Device names are [A-Za-z0-9._-]: nothing to escape in JSON. */
	return fit(snprintf(buf, cap,
	    "{\"name\":\"Temperature\","
	    "\"unique_id\":\"pitemp_%s_temperature\","
	    "\"default_entity_id\":\"sensor.pitemp_%s_temperature\","
	    "\"state_topic\":\"pitemp/%s/summary\","
	    "\"value_template\":\"{{ value_json.mean }}\","
	    "\"unit_of_measurement\":\"\xc2\xb0" "C\","
	    "\"device_class\":\"temperature\","
	    "\"state_class\":\"measurement\","
	    "\"suggested_display_precision\":2,"
	    "\"expire_after\":%d,"
	    "\"availability\":[{\"topic\":\"pitemp/%s/status\","
	    "\"payload_available\":\"online\",\"payload_not_available\":\"offline\"}],"
	    "\"qos\":1,"
	    "\"device\":{\"identifiers\":[\"pitemp_%s\"],\"name\":\"%s\","
	    "\"model\":\"%s\",\"manufacturer\":\"pitemp\",\"sw_version\":\"%s\"},"
	    "\"origin\":{\"name\":\"pitemp\",\"sw_version\":\"%s\"}}",
	    d->device, id, d->device,
	    discovery_expire_after(d->period_s, d->rate_hz),
	    d->device, d->device, d->device, discovery_model(d->source),
	    d->sw_version, d->sw_version), cap);
}
