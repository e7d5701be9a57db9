/*
 * optcheck.c: pt_opts_check (see pt_opts.h), the checks that need more
 * than one option at a time or the file system. The message names the
 * option and says what to do, as mosquitto's clients do for options that
 * conflict ("Error: ..." and exit): an option that cannot apply is an
 * error, never silently ignored.
 */
#include "pt_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pt_topic.h"

/* Options of one transport only; prog: which program has them. */
static const struct {
	const char  *name;
	enum pt_mode mode;
	int          progs;
} mode_only[] = {
	{ "topic", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "qos", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "id", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "persistent", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "username", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "password", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "password-file", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "cafile", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "cert", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "key", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "insecure", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "protocol-version", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "session-expiry", PT_MODE_MQTT, PT_PROG_SENSOR | PT_PROG_SINK },
	{ "group", PT_MODE_MQTT, PT_PROG_SINK },
	/* The sink listens in socket mode: --bind, not --host. */
	{ "host", PT_MODE_MQTT, PT_PROG_SINK },
	{ "bind", PT_MODE_SOCKET, PT_PROG_SINK },
	{ "max-clients", PT_MODE_SOCKET, PT_PROG_SINK },
	{ "idle-timeout", PT_MODE_SOCKET, PT_PROG_SINK },
	{ "allow", PT_MODE_SOCKET, PT_PROG_SINK },
	/* MQTT topics of the sensor's own (the default period is 0 in
	 * socket mode, so only asking for them is an error). */
	{ "summary-period", PT_MODE_MQTT, PT_PROG_SENSOR },
	{ "ha-discovery", PT_MODE_MQTT, PT_PROG_SENSOR },
};

#define SUMMARY_MIN_S   0.1
#define HA_PREFIX_MAX   128

/*
 * --summary-period and --ha-discovery (MQTT mode): a period is 0 or at
 * least SUMMARY_MIN_S; discovery shows the summary, so it needs one; its
 * prefix is the start of topic names: no wildcard, no empty level (Home
 * Assistant's own prefix settings refuse those too).
 */
static int
check_summary(const struct pt_opts *o, char *err, size_t cap)
{
	const char *p = o->ha_discovery;
	char why[160];
	size_t n;

	if (o->summary_period > 0 && o->summary_period < SUMMARY_MIN_S) {
		snprintf(err, cap, "option --summary-period: %g is too short (0 = "
		    "off, else at least %g s)", o->summary_period, SUMMARY_MIN_S);
		return -EINVAL;
	}
	if (p == NULL)
		return 0;
	if (o->summary_period == 0) {
		snprintf(err, cap, "option --ha-discovery: Home Assistant shows the "
		    "summary stream, which --summary-period 0 turns off");
		return -EINVAL;
	}
	n = strlen(p);
	why[0] = '\0';
	if (pt_topic_check(p, 0, why, sizeof(why)) == 0) {
		if (n > HA_PREFIX_MAX)
			snprintf(why, sizeof(why), "is longer than %d bytes", HA_PREFIX_MAX);
		else if (p[0] == '/' || p[n - 1] == '/' || strstr(p, "//") != NULL)
			snprintf(why, sizeof(why), "has an empty topic level (a leading, "
			    "trailing or double '/')");
	}
	if (why[0] != '\0') {
		snprintf(err, cap, "option --ha-discovery: '%.200s' %s: give a "
		    "discovery prefix like homeassistant", p, why);
		return -EINVAL;
	}
	return 0;
}

static int
check_mode(const struct pt_opts *o, char *err, size_t cap)
{
	for (size_t i = 0; i < sizeof(mode_only) / sizeof(mode_only[0]); i++) {
		if (!(mode_only[i].progs & (int)o->prog) || mode_only[i].mode == o->mode ||
		    !pt_opts_given(o, mode_only[i].name))
			continue;
		snprintf(err, cap, "option --%s applies only to --mode %s, not to "
		    "--mode %s: remove it%s", mode_only[i].name,
		    mode_only[i].mode == PT_MODE_MQTT ? "mqtt" : "socket",
		    o->mode == PT_MODE_MQTT ? "mqtt" : "socket",
		    strcmp(mode_only[i].name, "host") == 0 ? " (the sink listens on "
		    "--bind ADDR --port P)" : "");
		return -EINVAL;
	}
	return 0;
}

/* A file named by an option must be readable now, not at the first
 * connect (where paho reports it as a refused connection). */
static int
check_readable(const char *opt, const char *path, char *err, size_t cap)
{
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, cap, "option --%s: cannot read '%s': %s", opt, path,
		    strerror(errno));
		return -EINVAL;
	}
	close(fd);
	return 0;
}

int
pt_opts_check(const struct pt_opts *o, char *err, size_t err_cap)
{
	char why[160];
	int rc;

	if ((rc = check_mode(o, err, err_cap)) < 0)
		return rc;
	if (o->mode != PT_MODE_MQTT)
		return 0;
	if (o->cafile == NULL && (o->cert != NULL || o->key != NULL || o->insecure)) {
		snprintf(err, err_cap, "option --%s needs --cafile (TLS is on only "
		    "with a CA file)", o->cert != NULL ? "cert" : o->key != NULL ?
		    "key" : "insecure");
		return -EINVAL;
	}
	if (o->key != NULL && o->cert == NULL) {
		snprintf(err, err_cap, "option --key needs --cert (the client "
		    "certificate it belongs to)");
		return -EINVAL;
	}
	if ((rc = check_readable("password-file", o->password_file, err, err_cap)) < 0 ||
	    (rc = check_readable("cafile", o->cafile, err, err_cap)) < 0 ||
	    (rc = check_readable("cert", o->cert, err, err_cap)) < 0 ||
	    (rc = check_readable("key", o->key, err, err_cap)) < 0)
		return rc;
	if (o->prog == PT_PROG_SENSOR && (rc = check_summary(o, err, err_cap)) < 0)
		return rc;
	if (o->prog == PT_PROG_SENSOR && o->persistent && o->qos == 0) {
		snprintf(err, err_cap, "option --persistent: QoS 0 readings are never "
		    "kept (use -q 1 or 2)");
		return -EINVAL;
	}
	if (o->topic != NULL &&
	    pt_topic_check(o->topic, o->prog == PT_PROG_SINK, why, sizeof(why)) < 0) {
		snprintf(err, err_cap, "option --topic: '%.200s%s' %s", o->topic,
		    strlen(o->topic) > 200 ? "..." : "", why);
		return -EINVAL;
	}
	return 0;
}
