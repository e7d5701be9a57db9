/*
 * pt_opts.h: the option table shared by pitemp-sensor and pitemp-sink
 * (getopt_long, like libgpiod's tools) and the --config file: one
 * "option value" per line (the long option name without "--"; a flag
 * takes no value or yes/no/true/false; # starts a comment). The file is
 * read first, so the command line wins.
 */
#ifndef PT_OPTS_H
#define PT_OPTS_H

#include <stddef.h>
#include <stdint.h>

enum pt_prog { PT_PROG_SENSOR = 1, PT_PROG_SINK = 2 };
enum pt_mode { PT_MODE_MQTT = 0, PT_MODE_SOCKET };

#define PT_PORT_MQTT    1883
#define PT_PORT_MQTTS   8883
#define PT_PORT_SOCKET  50007

struct pt_opts {
	enum pt_prog prog;
	enum pt_mode mode;
	char    *host;          /* default "localhost"; MQTT: a list HOST[:PORT],...
	                         * (pt_hosts.h), tried in turn (failover) */
	int      port;          /* default by mode: 1883, 8883 with cafile, 50007 */
	int      mqtt_version;  /* -V: 4 (MQTT 3.1.1, default) or 5 */
	int64_t  session_expiry; /* -x, MQTT 5 persistent sessions: seconds;
	                          * -1: not given (for ever) */
	char    *group;         /* sink: shared subscription $share/GROUP/topic */
	char    *bind;          /* sink socket mode, default "0.0.0.0" */
	char    *source;        /* sensor, default "sim" */
	double   rate;          /* sensor, Hz, default 100; 0 = as fast as possible */
	uint64_t count;         /* sensor default 0, sink default 100 */
	char    *device;        /* sensor, default the host name */
	char    *topic;         /* sensor: pitemp/<device>/temperature; sink: pitemp/+/temperature */
	int      qos;           /* default 1 */
	char    *id;            /* client id; default derived from program and host/device */
	int      persistent;    /* sink: persistent session with --count N;
	                         * sensor: unacknowledged readings on disk */
	char    *output;        /* sink, default "readings.txt" */
	char    *format;        /* sink, default "text" */
	char    *sync;          /* sink: "normal" | "full", NULL = the format's default */
	char    *state_dir;     /* local state directory, NULL = the default */
	double   timeout;       /* sink, seconds, 0 = none */
	int      max_clients;   /* sink socket mode, default 64 */
	double   idle_timeout;  /* sink socket mode, seconds, default 60; 0 = never */
	char    *allow;         /* sink socket mode: CIDR list, NULL = anyone */
	char    *username;
	char    *password;      /* -P: shows in ps; prefer the file or the environment */
	int      password_argv; /* the password came from the command line */
	char    *password_file;
	char    *cafile;
	char    *cert;
	char    *key;
	int      insecure;      /* TLS without the server host name check */
	int      verbose;
	char    *led;           /* sensor: status LED line (CHIP:LINE or name), NULL = none */
	char    *drdy;          /* sensor: ADS1115 ALERT/RDY line, NULL = timer only */
	uint64_t given;         /* options set by the command line or --config
	                         * (see pt_opts_given) */
	double   summary_period; /* sensor: seconds per summary, 0 = off; default
	                          * 1 in MQTT mode, 0 in socket mode */
	char    *ha_discovery;  /* sensor: Home Assistant discovery prefix, NULL = off */
};

enum {
	PT_OPTS_RUN = 0,        /* go on and run */
	PT_OPTS_HELP = 1,       /* --help was given: print pt_opts_usage(), exit 0 */
	PT_OPTS_VERSION = 2,    /* --version was given: exit 0 */
};

/*
 * Fill o with the defaults for prog, then apply --config (if any) and the
 * command line. Returns PT_OPTS_RUN/HELP/VERSION, or -EINVAL with a message
 * naming the option and the value in err (the caller exits 2). Strings in
 * o are owned by o: release them with pt_opts_free.
 */
int pt_opts_parse(struct pt_opts *o, enum pt_prog prog, int argc, char **argv,
                  char *err, size_t err_cap);
void pt_opts_free(struct pt_opts *o);

/*
 * opts_scale.c, run by pt_opts_parse last: the checks of the scale-out
 * options -- the --host list (one host in socket mode), --session-expiry
 * only with MQTT 5 and a persistent session, --group against a hand-written
 * $share/ topic -- and the default they imply (a group member's client
 * id). 0, or -EINVAL with a message naming the option in err.
 */
int pt_opts_scale(struct pt_opts *o, char *err, size_t err_cap);

/* opts_scale.c, for opts.c's table: the value of -V (protocol-version:
 * mqttv311|311|mqttv5|5) or -x (session-expiry: seconds or never) into o.
 * 0, or -EINVAL with a message naming the option in err. */
int pt_opts_set_mqtt(struct pt_opts *o, const char *name, const char *val,
                     char *err, size_t err_cap);

/* The subscription of a sink: "$share/GROUP/TOPIC" with --group, else
 * --topic, in buf. 1 when it is a shared subscription ($share/...), else
 * 0; -ENAMETOOLONG when it does not fit. */
int pt_opts_sub_filter(const struct pt_opts *o, char *buf, size_t cap);

/* 1 when the long option name was given on the command line or in the
 * --config file (a default does not count), else 0. */
int pt_opts_given(const struct pt_opts *o, const char *name);

/*
 * What the parser cannot see option by option (lib/optcheck.c): an option
 * that does not apply in the chosen --mode, a --cert/--key/--insecure
 * without --cafile, a --password-file/--cafile/--cert/--key that cannot
 * be read, a --topic that is not a valid MQTT topic (sensor) or filter
 * (sink), a --summary-period too short, --ha-discovery without a summary
 * or with a prefix that cannot start a topic. 0, or -EINVAL with a message naming the option in err (the
 * caller exits 2).
 */
int pt_opts_check(const struct pt_opts *o, char *err, size_t err_cap);

/* The usage text of prog (static storage): the options, then
 * pt_opts_usage_tail(prog). */
const char *pt_opts_usage(enum pt_prog prog);
/* The end of the usage text: exit codes, signals, environment (static). */
const char *pt_opts_usage_tail(enum pt_prog prog);

/*
 * The MQTT password: --password (-P), else the first line of
 * --password-file, else the environment variable PITEMP_PASSWORD, else none
 * (*out = NULL). Both options at once is an error. 0, or -errno with a
 * message naming the option or the file in err. The caller frees *out.
 */
int pt_opts_password(const struct pt_opts *o, char **out, char *err,
                     size_t err_cap);

/*
 * One line of a --config file (len bytes, its newline included): a NUL
 * would end a value unseen (a topic cut short), and a control character
 * other than a tab or the line's end is a broken file that would go raw
 * into an error message. 0, or -EINVAL with the file, line and column in
 * err (opts_config.c).
 */
int pt_opts_config_bytes(const char *line, size_t len, const char *path,
                         unsigned lineno, char *err, size_t err_cap);

/* Parse a whole number in [min, max] (base 10). 0 or -EINVAL. */
int pt_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a finite number in [min, max]. 0 or -EINVAL. */
int pt_parse_double(const char *s, double min, double max, double *out);

#endif
