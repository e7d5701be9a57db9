/*
 * cli.c: command-line glue shared by pitemp-sensor and pitemp-sink (see
 * pt_cli.h).
 */
#include "pt_cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pt_log.h"

int
pt_cli_start(struct pt_opts *o, enum pt_prog prog, int argc, char **argv)
{
	const char *name = prog == PT_PROG_SENSOR ? "pitemp-sensor" : "pitemp-sink";
	char err[512];
	int rc;

	pt_log_init(name, 0);
	rc = pt_opts_parse(o, prog, argc, argv, err, sizeof(err));
	if (rc < 0) {
		pt_log_errx("%s (see --help)", err);
		return PT_EXIT_USAGE;
	}
	if (rc == PT_OPTS_HELP) {
		fputs(pt_opts_usage(prog), stdout);
		return PT_EXIT_OK;
	}
	if (rc == PT_OPTS_VERSION) {
		printf("%s %s\n", name, PITEMP_VERSION);
		return PT_EXIT_OK;
	}
	if (pt_opts_check(o, err, sizeof(err)) < 0) {
		pt_log_errx("%s (see --help)", err);
		return PT_EXIT_USAGE;
	}
	pt_log_init(name, o->verbose);
	if (o->password_argv)
		pt_log_warnx("-P/--password: the password shows in ps and in the shell's "
		    "history; --password-file or PITEMP_PASSWORD keep it out of sight");
	if (o->insecure)
		pt_log_warnx("--insecure: the broker's TLS certificate is not checked "
		    "against --host %s (host name verification off)", o->host);
	return -1;
}

void
pt_cli_signals(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

void
pt_cli_mqtt_event(void *ctx, enum pt_mqtt_event ev, const char *detail)
{
	(void)ctx;
	switch (ev) {
	case PT_MQTT_CONNECTED:
		pt_log_info("connected to %s", detail);
		break;
	case PT_MQTT_SUBSCRIBED:
		pt_log_info("subscribed to %s", detail);
		break;
	case PT_MQTT_LOST:
		pt_log_warnx("connection lost: %s; reconnecting", detail);
		break;
	case PT_MQTT_CONNECT_FAILED:
		pt_log_warnx("%s; retrying", detail);
		break;
	case PT_MQTT_REFUSED:
		pt_log_errx("%s", detail);
		break;
	case PT_MQTT_ERROR:
		pt_log_warnx("%s", detail);
		break;
	case PT_MQTT_DEBUG:
		pt_log_debug("mqtt: %s", detail);
		break;
	}
}
