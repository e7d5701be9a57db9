/*
 * opts.c: one option table for both programs. Each entry says which program
 * takes it, how to parse its value and where it lands in struct pt_opts;
 * getopt_long's table is built from it, and the --config reader feeds the
 * same setter, so a config line and a command-line option cannot disagree.
 */
#include "pt_opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { K_STR, K_U64, K_INT, K_QOS, K_PORT, K_DOUBLE, K_FLAG, K_MODE, K_CONFIG,
            K_HELP, K_VERSION,
            K_OPTSTR,       /* optional value: --name, --name=V or --name V */
            K_PROTO, K_EXPIRY };

#define HA_PREFIX_DEFAULT "homeassistant"

struct opt {
	const char *name;
	int         shortopt;       /* 0: long only */
	enum kind   kind;
	int         progs;          /* PT_PROG_SENSOR | PT_PROG_SINK */
	size_t      off;            /* offset in struct pt_opts */
	double      min, max;       /* K_DOUBLE range */
	const char *arg;            /* argument name in the usage text */
	const char *help;           /* the sensor's (or both programs') */
};

#define BOTH (PT_PROG_SENSOR | PT_PROG_SINK)
#define SEN  PT_PROG_SENSOR
#define SNK  PT_PROG_SINK
#define OFF(f) offsetof(struct pt_opts, f)

static const struct opt table[] = {
	{ "mode", 0, K_MODE, BOTH, OFF(mode), 0, 0, "mqtt|socket", "transport (default mqtt)" },
	{ "host", 'h', K_STR, BOTH, OFF(host), 0, 0, "H[:P],...", "broker host (default localhost); a list is tried in turn (failover)" },
	{ "port", 'p', K_PORT, BOTH, OFF(port), 0, 0, "P", "port (1883; 8883 with --cafile; 50007 in socket mode)" },
	{ "protocol-version", 'V', K_PROTO, BOTH, OFF(mqtt_version), 0, 0, "mqttv311|mqttv5", "MQTT version (default mqttv311)" },
	{ "session-expiry", 'x', K_EXPIRY, BOTH, OFF(session_expiry), 0, 0, "S|never", "MQTT 5: keep a persistent session S seconds after a disconnect (default never)" },
	{ "bind", 0, K_STR, SNK, OFF(bind), 0, 0, "ADDR", "socket mode: listen address (default 0.0.0.0)" },
	{ "source", 0, K_STR, SEN, OFF(source), 0, 0, "SPEC", "sim[:SEED] | replay:FILE | mcp3008:DEV:CH | iio:DEV:CH | ads1115:DEV:ADDR:CH (default sim)" },
	{ "rate", 0, K_DOUBLE, SEN, OFF(rate), 0, 100000, "HZ", "samples per second (default 100; 0 = as fast as acknowledged)" },
	{ "count", 'C', K_U64, BOTH, OFF(count), 0, 0, "N",
	  "stop after N readings are delivered (default 0: run until signalled)" },
	{ "device", 0, K_STR, SEN, OFF(device), 0, 0, "NAME", "device name (default the host name)" },
	{ "topic", 't', K_STR, BOTH, OFF(topic), 0, 0, "T",
	  "topic (default pitemp/<device>/temperature)" },
	{ "qos", 'q', K_QOS, BOTH, OFF(qos), 0, 0, "0|1|2", "MQTT QoS (default 1)" },
	{ "id", 'i', K_STR, BOTH, OFF(id), 0, 0, "CLIENT_ID", "MQTT client id" },
	{ "group", 0, K_STR, SNK, OFF(group), 0, 0, "NAME", "share the stream with the sinks of group NAME ($share/NAME/topic)" },
	{ "persistent", 'c', K_FLAG, BOTH, OFF(persistent), 0, 0, NULL,
	  "keep readings not yet acknowledged on disk (--state-dir) and send them after a restart" },
	{ "output", 'o', K_STR, SNK, OFF(output), 0, 0, "FILE|URI", "output file, - for stdout (default readings.txt; sqlite: readings.db); postgresql: a libpq URI" },
	{ "format", 'F', K_STR, SNK, OFF(format), 0, 0, "FORMAT", "text, csv, jsonl, sqlite or postgresql (default text)" },
	{ "sync", 0, K_STR, SNK, OFF(sync), 0, 0, "normal|full", "a stored reading survives a kill (normal, the default; files are fsynced within a second), or also a power cut (full: fsync per reading)" },
	{ "state-dir", 0, K_STR, BOTH, OFF(state_dir), 0, 0, "DIR",
	  "where --persistent keeps its files (default $STATE_DIRECTORY, else .)" },
	{ "timeout", 'W', K_DOUBLE, SNK, OFF(timeout), 0, 1e9, "S", "exit 3 if N readings have not arrived in S seconds" },
	{ "max-clients", 0, K_INT, SNK, OFF(max_clients), 1, 10000, "N", "socket mode: connections served at once (default 64)" },
	{ "idle-timeout", 0, K_DOUBLE, SNK, OFF(idle_timeout), 0, 1e6, "S", "socket mode: drop a client silent for S seconds (default 60; 0 = never)" },
	{ "allow", 0, K_STR, SNK, OFF(allow), 0, 0, "CIDR[,CIDR...]", "socket mode: accept only peers in these networks (IPv4, IPv6; default anyone)" },
	{ "username", 'u', K_STR, BOTH, OFF(username), 0, 0, "U", "MQTT user name" },
	{ "password", 'P', K_STR, BOTH, OFF(password), 0, 0, "PASSWORD", "MQTT password (shows in ps: prefer --password-file or PITEMP_PASSWORD)" },
	{ "password-file", 0, K_STR, BOTH, OFF(password_file), 0, 0, "F", "file holding the MQTT password" },
	{ "cafile", 0, K_STR, BOTH, OFF(cafile), 0, 0, "F", "CA certificate: use TLS" },
	{ "cert", 0, K_STR, BOTH, OFF(cert), 0, 0, "F", "client certificate" },
	{ "key", 0, K_STR, BOTH, OFF(key), 0, 0, "F", "client key" },
	{ "insecure", 0, K_FLAG, BOTH, OFF(insecure), 0, 0, NULL, "TLS: do not check that the server certificate names --host" },
	{ "led", 0, K_STR, SEN, OFF(led), 0, 0, "CHIP:LINE", "status LED GPIO line, or a line name like GPIO17" },
	{ "drdy", 0, K_STR, SEN, OFF(drdy), 0, 0, "CHIP:LINE", "ADS1115 ALERT/RDY GPIO line: read on its falling edge" },
	{ "summary-period", 0, K_DOUBLE, SEN, OFF(summary_period), 0, 86400, "S", "retained summary on pitemp/<device>/summary every S seconds (default 1; 0 = off; MQTT only)" },
	{ "ha-discovery", 0, K_OPTSTR, SEN, OFF(ha_discovery), 0, 0, "[PREFIX]", "announce the summary to Home Assistant (MQTT discovery, default prefix " HA_PREFIX_DEFAULT ")" },
	{ "config", 0, K_CONFIG, BOTH, 0, 0, 0, "F", "read options from F (command line wins)" },
	{ "debug", 'd', K_FLAG, BOTH, OFF(verbose), 0, 0, NULL, "debug logging" },
	{ "verbose", 0, K_FLAG, BOTH, OFF(verbose), 0, 0, NULL, "the same as --debug" },
	{ "version", 0, K_VERSION, BOTH, 0, 0, 0, NULL, "print the version and exit" },
	{ "help", 0, K_HELP, BOTH, 0, 0, 0, NULL, "this help" },
};
#define NOPTS (sizeof(table) / sizeof(table[0]))

/* The sink's help, where it differs from the sensor's above. */
static const struct { const char *name, *help; } sink_help[] = {
	{ "count", "exit 0 after N distinct readings (default 100; 0: run as a logger)" },
	{ "topic", "topic filter (default pitemp/+/temperature)" },
	{ "persistent", "persistent session (no clean session) also with --count N" },
	{ "state-dir", "MQTT session files and the postgresql journal (default: beside the output file; postgresql: .; stdout: none)" },
};
_Static_assert(NOPTS <= 64, "struct pt_opts.given has one bit per option");

/* Remember that op was given (pt_opts_given). */
static void
mark_given(struct pt_opts *o, const struct opt *op)
{
	o->given |= UINT64_C(1) << (op - table);
}

int
pt_opts_given(const struct pt_opts *o, const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if ((table[i].progs & (int)o->prog) && strcmp(table[i].name, name) == 0)
			return (o->given >> i) & 1;
	return 0;
}

int
pt_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
pt_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static const struct opt *
find_long(const char *name, enum pt_prog prog)
{
	for (size_t i = 0; i < NOPTS; i++)
		if ((table[i].progs & (int)prog) && strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

static const struct opt *
find_short(int c, enum pt_prog prog)
{
	for (size_t i = 0; i < NOPTS; i++)
		if ((table[i].progs & (int)prog) && table[i].shortopt == c)
			return &table[i];
	return NULL;
}

/* Apply one option. val may be NULL for flags. */
static int
set_opt(struct pt_opts *o, const struct opt *op, const char *val,
        char *err, size_t cap)
{
	char *base = (char *)o;
	uint64_t u;
	double d;

	switch (op->kind) {
	case K_OPTSTR:
		if (val == NULL)
			val = HA_PREFIX_DEFAULT;
		/* FALLTHROUGH */
	case K_STR: {
		char **dst = (char **)(void *)(base + op->off);
		char *copy;

		if (val[0] == '\0') {
			snprintf(err, cap, "option --%s: empty value", op->name);
			return -EINVAL;
		}
		if ((copy = strdup(val)) == NULL) {
			snprintf(err, cap, "option --%s: out of memory", op->name);
			return -ENOMEM;
		}
		free(*dst);
		*dst = copy;
		return 0;
	}
	case K_U64:
		if (pt_parse_u64(val, 0, UINT64_MAX, &u) < 0) {
			snprintf(err, cap, "option --%s: '%s' is not a whole number >= 0",
			    op->name, val);
			return -EINVAL;
		}
		*(uint64_t *)(void *)(base + op->off) = u;
		return 0;
	case K_INT:
		if (pt_parse_u64(val, (uint64_t)op->min, (uint64_t)op->max, &u) < 0) {
			snprintf(err, cap, "option --%s: '%s' is not a whole number in %g..%g",
			    op->name, val, op->min, op->max);
			return -EINVAL;
		}
		*(int *)(void *)(base + op->off) = (int)u;
		return 0;
	case K_QOS:
		if (pt_parse_u64(val, 0, 2, &u) < 0) {
			snprintf(err, cap, "option --%s: '%s' is not 0, 1 or 2", op->name, val);
			return -EINVAL;
		}
		*(int *)(void *)(base + op->off) = (int)u;
		return 0;
	case K_PORT:
		if (pt_parse_u64(val, 1, 65535, &u) < 0) {
			snprintf(err, cap, "option --%s: '%s' is not a port (1-65535)",
			    op->name, val);
			return -EINVAL;
		}
		*(int *)(void *)(base + op->off) = (int)u;
		return 0;
	case K_DOUBLE:
		if (pt_parse_double(val, op->min, op->max, &d) < 0) {
			snprintf(err, cap, "option --%s: '%s' is not a number in %g..%g",
			    op->name, val, op->min, op->max);
			return -EINVAL;
		}
		*(double *)(void *)(base + op->off) = d;
		return 0;
	case K_FLAG: {
		int on = 1;

		if (val != NULL) {
			if (!strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1"))
				on = 1;
			else if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "0"))
				on = 0;
			else {
				snprintf(err, cap, "option --%s: '%s' is not yes or no",
				    op->name, val);
				return -EINVAL;
			}
		}
		*(int *)(void *)(base + op->off) = on;
		return 0;
	}
	case K_PROTO:
	case K_EXPIRY:
		return pt_opts_set_mqtt(o, op->name, val, err, cap);
	case K_MODE:
		if (strcmp(val, "mqtt") == 0)
			o->mode = PT_MODE_MQTT;
		else if (strcmp(val, "socket") == 0)
			o->mode = PT_MODE_SOCKET;
		else {
			snprintf(err, cap, "option --mode: '%s' is not mqtt or socket", val);
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
read_config(struct pt_opts *o, const char *path, char *err, size_t cap)
{
	FILE *f;
	char *line = NULL, *key, *val, msg[256];
	size_t n = 0;
	ssize_t len;
	unsigned lineno = 0;
	const struct opt *op;
	int rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, cap, "option --config: cannot open '%s': %s", path,
		    strerror(errno));
		return -EINVAL;
	}
	while ((len = getline(&line, &n, f)) != -1) {
		lineno++;
		if ((rc = pt_opts_config_bytes(line, (size_t)len, path, lineno, err,
		    cap)) < 0)
			break;
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		val = key + strcspn(key, " \t=");
		if (*val != '\0') {
			*val++ = '\0';
			val = trim(val);
			if (*val == '=')
				val = trim(val + 1);
		}
		if (strncmp(key, "--", 2) == 0)
			key += 2;
		op = find_long(key, o->prog);
		if (op == NULL || op->kind == K_CONFIG || op->kind == K_HELP ||
		    op->kind == K_VERSION) {
			snprintf(err, cap, "config %s line %u: unknown option '%s'", path,
			    lineno, key);
			rc = -EINVAL;
			break;
		}
		if (*val == '\0' && op->kind != K_FLAG && op->kind != K_OPTSTR) {
			snprintf(err, cap, "config %s line %u: option '%s' needs a value",
			    path, lineno, key);
			rc = -EINVAL;
			break;
		}
		if ((rc = set_opt(o, op, *val ? val : NULL, msg, sizeof(msg))) < 0) {
			snprintf(err, cap, "config %s line %u: %s", path, lineno, msg);
			break;
		}
		mark_given(o, op);
	}
	free(line);
	fclose(f);
	return rc;
}

static int
set_defaults(struct pt_opts *o, enum pt_prog prog, char *err, size_t cap)
{
	memset(o, 0, sizeof(*o));
	o->prog = prog;
	o->mode = PT_MODE_MQTT;
	o->rate = 100.0;
	o->qos = 1;
	o->mqtt_version = 4;
	o->session_expiry = -1;
	o->count = (prog == PT_PROG_SINK) ? 100 : 0;
	o->summary_period = 1;      /* MQTT; socket mode: 0 (finish) */
	o->max_clients = 64;
	o->idle_timeout = 60;
	if ((o->host = strdup("localhost")) == NULL)
		goto nomem;
	return 0;
nomem:
	snprintf(err, cap, "out of memory");
	return -ENOMEM;
}

/* Defaults that depend on other options. */
static int
finish(struct pt_opts *o, char *err, size_t cap)
{
	char host[256], buf[512];

	if (o->port == 0)
		o->port = o->mode == PT_MODE_SOCKET ? PT_PORT_SOCKET :
		    o->cafile != NULL ? PT_PORT_MQTTS : PT_PORT_MQTT;
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "pitemp");
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0'; /* short name: a device name has no domain */
	if (o->prog == PT_PROG_SENSOR) {
		if (o->device == NULL && (o->device = strdup(host)) == NULL)
			goto nomem;
		if (o->source == NULL && (o->source = strdup("sim")) == NULL)
			goto nomem;
		if (o->topic == NULL) {
			snprintf(buf, sizeof(buf), "pitemp/%s/temperature", o->device);
			if ((o->topic = strdup(buf)) == NULL)
				goto nomem;
		}
		if (o->id == NULL) {
			snprintf(buf, sizeof(buf), "pitemp-sensor-%s", o->device);
			if ((o->id = strdup(buf)) == NULL)
				goto nomem;
		}
		/* The summary is an MQTT topic: its default does not apply in
		 * socket mode (asking for it there: pt_opts_check). */
		if (o->mode == PT_MODE_SOCKET && !pt_opts_given(o, "summary-period"))
			o->summary_period = 0;
	} else {
		if (o->topic == NULL && (o->topic = strdup("pitemp/+/temperature")) == NULL)
			goto nomem;
		if (o->format == NULL && (o->format = strdup("text")) == NULL)
			goto nomem;
		if (o->output == NULL &&
		    (o->output = strdup(strcmp(o->format, "sqlite") == 0 ? "readings.db" :
		    strcmp(o->format, "postgresql") == 0 ? "" : "readings.txt")) == NULL)
			goto nomem;
		if (o->bind == NULL && (o->bind = strdup("0.0.0.0")) == NULL)
			goto nomem;
		if (o->id == NULL && o->group == NULL) {   /* group: opts_check.c */
			snprintf(buf, sizeof(buf), "pitemp-sink-%s", host);
			if ((o->id = strdup(buf)) == NULL)
				goto nomem;
		}
	}
	return 0;
nomem:
	snprintf(err, cap, "out of memory");
	return -ENOMEM;
}

int
pt_opts_parse(struct pt_opts *o, enum pt_prog prog, int argc, char **argv,
              char *err, size_t err_cap)
{
	struct option longopts[NOPTS + 1];
	char shortopts[NOPTS * 2 + 2], *sp = shortopts;
	const struct opt *op;
	const char *config = NULL;
	size_t n = 0;
	int c, idx, rc, result = PT_OPTS_RUN;

	if ((rc = set_defaults(o, prog, err, err_cap)) < 0)
		return rc;
	*sp++ = ':';    /* report a missing argument as ':' */
	for (size_t i = 0; i < NOPTS; i++) {
		if (!(table[i].progs & (int)prog))
			continue;
		longopts[n].name = table[i].name;
		longopts[n].has_arg = table[i].kind == K_OPTSTR ? optional_argument :
		    table[i].arg != NULL ? required_argument : no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 256 + (int)i;
		n++;
		if (table[i].shortopt) {
			*sp++ = (char)table[i].shortopt;
			if (table[i].arg != NULL)
				*sp++ = ':';
		}
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));
	*sp = '\0';

	/* Pass 1: find --config (the file goes first, the command line wins). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
	}
	if (config != NULL && (rc = read_config(o, config, err, err_cap)) < 0)
		return rc;

	/* Pass 2: the command line. */
	optind = 0;  /* glibc: 0 also resets getopt's internal state */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		if (c == '?') {
			if (optopt != 0)
				snprintf(err, err_cap, "unknown option -%c", optopt);
			else
				snprintf(err, err_cap, "unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
		if (c == ':') {
			snprintf(err, err_cap, "option %s needs a value", argv[optind - 1]);
			return -EINVAL;
		}
		op = c >= 256 ? &table[c - 256] : find_short(c, prog);
		if (op == NULL) {
			snprintf(err, err_cap, "unknown option -%c", c);
			return -EINVAL;
		}
		/* "--name VALUE" for an optional value too: the programs take no
		 * operands, so a following word that is not an option is it. */
		if (op->kind == K_OPTSTR && optarg == NULL && optind < argc &&
		    argv[optind][0] != '-')
			optarg = argv[optind++];
		if (op->kind == K_HELP)
			result = PT_OPTS_HELP;
		else if (op->kind == K_VERSION && result != PT_OPTS_HELP)
			result = PT_OPTS_VERSION;
		else if ((rc = set_opt(o, op, optarg, err, err_cap)) < 0)
			return rc;
		else {
			mark_given(o, op);
			if (op->off == OFF(password) && op->kind == K_STR)
				o->password_argv = 1;
		}
	}
	if (optind < argc) {
		snprintf(err, err_cap, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if ((rc = finish(o, err, err_cap)) < 0 ||
	    (rc = pt_opts_scale(o, err, err_cap)) < 0)
		return rc;
	return result;
}

void
pt_opts_free(struct pt_opts *o)
{
	if (o == NULL)
		return;
	free(o->host);
	free(o->bind);
	free(o->allow);
	free(o->source);
	free(o->device);
	free(o->topic);
	free(o->id);
	free(o->output);
	free(o->format);
	free(o->sync);
	free(o->state_dir);
	free(o->group);
	free(o->username);
	if (o->password != NULL)
		explicit_bzero(o->password, strlen(o->password));
	free(o->password);
	free(o->password_file);
	free(o->cafile);
	free(o->cert);
	free(o->key);
	free(o->led);
	free(o->drdy);
	free(o->ha_discovery);
	memset(o, 0, sizeof(*o));
}

/*
 * The buffer holds the whole text with room to spare; should the table
 * outgrow it, the text ends in "...(truncated)" rather than silently, and
 * test_opts.c fails.
 */
const char *
pt_opts_usage(enum pt_prog prog)
{
	static char buf[8192];
	static const char cut[] = "...(truncated)\n";
	size_t len;
	int w;

	len = (size_t)snprintf(buf, sizeof(buf), "usage: %s [options]\n\noptions:\n",
	    prog == PT_PROG_SENSOR ? "pitemp-sensor" : "pitemp-sink");
	for (size_t i = 0; i < NOPTS && len < sizeof(buf); i++) {
		const struct opt *op = &table[i];
		const char *help = op->help;
		char left[64];

		if (!(op->progs & (int)prog))
			continue;
		for (size_t j = 0; prog == PT_PROG_SINK &&
		    j < sizeof(sink_help) / sizeof(sink_help[0]); j++)
			if (strcmp(sink_help[j].name, op->name) == 0)
				help = sink_help[j].help;
		if (op->shortopt)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", op->shortopt, op->name,
			    op->arg ? " " : "", op->arg ? op->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", op->name,
			    op->arg ? " " : "", op->arg ? op->arg : "");
		w = snprintf(buf + len, sizeof(buf) - len, "  %-28s %s\n", left,
		    help ? help : "");
		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (len < sizeof(buf))
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s",
		    pt_opts_usage_tail(prog));
	if (len >= sizeof(buf))
		memcpy(buf + sizeof(buf) - sizeof(cut), cut, sizeof(cut));
	return buf;
}
