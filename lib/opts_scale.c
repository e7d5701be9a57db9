/*
 * opts_scale.c: the checks of the scale-out options that opts.c's table
 * cannot make one option at a time (the --host list, MQTT 5's session
 * expiry, --group), and the default that follows from them (see
 * pt_opts_scale in pt_opts.h); the values of -V and -x. Each message names the option. The checks
 * of the other options are in optcheck.c.
 */
#include "pt_hosts.h"
#include "pt_opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHARE_PREFIX "$share/"

/* FNV-1a, 32 bits: a short, stable tag for a path. */
static uint32_t
tag(const char *a, const char *b)
{
	uint32_t h = 2166136261u;

	for (const char *s = a; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = b; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * A group member's default client id. Every member needs its own (two
 * clients with one id throw each other off the broker in turn), and the
 * same one at every start (its persistent session holds the readings
 * queued for it). The output file is both: each member writes its own,
 * and a restarted member writes the same one. So the id is
 * pitemp-sink-<host>-<group>-<tag of the output's absolute path>.
 */
static int
group_id(struct pt_opts *o, char *err, size_t cap)
{
	char host[256], cwd[4096] = "", buf[600];

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "pitemp");
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	if (o->output[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	snprintf(buf, sizeof(buf), "pitemp-sink-%s-%s-%08x", host, o->group,
	    (unsigned)tag(o->output[0] == '/' ? "" : cwd, o->output));
	if ((o->id = strdup(buf)) == NULL) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int
pt_opts_scale(struct pt_opts *o, char *err, size_t cap)
{
	struct pt_host hosts[PT_HOSTS_MAX];
	char why[300];
	int n;

	n = pt_hosts_parse(o->host, o->port, hosts, PT_HOSTS_MAX, why, sizeof(why));
	if (n < 0) {
		snprintf(err, cap, "option --host: %s", why);
		return -EINVAL;
	}
	if (n > 1 && o->mode == PT_MODE_SOCKET) {
		snprintf(err, cap, "option --host: socket mode takes one host, not "
		    "the list '%s'", o->host);
		return -EINVAL;
	}
	if (o->session_expiry >= 0 && o->mqtt_version != 5) {
		snprintf(err, cap, "option --session-expiry: MQTT 3.1.1 has no "
		    "session expiry (add --protocol-version mqttv5)");
		return -EINVAL;
	}
	if (o->prog != PT_PROG_SINK)
		return 0;
	if (o->session_expiry >= 0 && o->count != 0 && !o->persistent) {
		snprintf(err, cap, "option --session-expiry: a --count %llu run has a "
		    "clean session (add -c for a persistent one)",
		    (unsigned long long)o->count);
		return -EINVAL;
	}
	if (o->group == NULL)
		return 0;
	if (o->group[strcspn(o->group, "/+#")] != '\0') {
		snprintf(err, cap, "option --group: '%s' may not hold /, + or #",
		    o->group);
		return -EINVAL;
	}
	if (strncmp(o->topic, SHARE_PREFIX, strlen(SHARE_PREFIX)) == 0) {
		snprintf(err, cap, "option --group: --topic '%s' is already a shared "
		    "subscription (give one of them)", o->topic);
		return -EINVAL;
	}
	return o->id == NULL ? group_id(o, err, cap) : 0;
}

int
pt_opts_set_mqtt(struct pt_opts *o, const char *name, const char *val,
                 char *err, size_t cap)
{
	uint64_t u;

	if (strcmp(name, "protocol-version") == 0) {
		if (!strcmp(val, "mqttv311") || !strcmp(val, "311"))
			o->mqtt_version = 4;
		else if (!strcmp(val, "mqttv5") || !strcmp(val, "5"))
			o->mqtt_version = 5;
		else {
			snprintf(err, cap, "option --%s: '%s' is not mqttv311 or mqttv5",
			    name, val);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(val, "never") == 0)
		u = UINT32_MAX;
	else if (pt_parse_u64(val, 0, UINT32_MAX, &u) < 0) {
		snprintf(err, cap, "option --%s: '%s' is not a number of seconds "
		    "(0-4294967295) or never", name, val);
		return -EINVAL;
	}
	o->session_expiry = (int64_t)u;
	return 0;
}

int
pt_opts_sub_filter(const struct pt_opts *o, char *buf, size_t cap)
{
	int n;

	if (o->group != NULL)
		n = snprintf(buf, cap, SHARE_PREFIX "%s/%s", o->group, o->topic);
	else
		n = snprintf(buf, cap, "%s", o->topic);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return strncmp(buf, SHARE_PREFIX, strlen(SHARE_PREFIX)) == 0;
}
