/*
 * pt_cli.h: the command-line glue both programs share, as mosquitto_pub and
 * mosquitto_sub share client_shared.c. Unlike the rest of lib/, these
 * functions talk to the user: they print --help and --version on stdout
 * and log on stderr through pt_log.
 */
#ifndef PT_CLI_H
#define PT_CLI_H

#include "pt_mqtt.h"
#include "pt_opts.h"

#define PT_EXIT_OK      0
#define PT_EXIT_FAIL    1
#define PT_EXIT_USAGE   2
#define PT_EXIT_TIMEOUT 3

/*
 * Parse the options of prog into o and set up logging. Returns -1 when the
 * program should go on, or the exit status when it should stop now: 0
 * after printing --help or --version, PT_EXIT_USAGE after logging what was
 * wrong with the command line or the config file.
 */
int pt_cli_start(struct pt_opts *o, enum pt_prog prog, int argc, char **argv);

/* SIGINT and SIGTERM call handler; SIGPIPE is ignored (send with
 * MSG_NOSIGNAL; paho 1.3 can be killed by it otherwise). */
void pt_cli_signals(void (*handler)(int));

/* A struct pt_mqtt_cfg on_event that logs each event as one line (paho's
 * thread; ctx unused). */
void pt_cli_mqtt_event(void *ctx, enum pt_mqtt_event ev, const char *detail);

#endif
