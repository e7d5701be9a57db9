/*
 * options.h: pitemp-bench's options (options.c).
 */
#ifndef BENCH_OPTIONS_H
#define BENCH_OPTIONS_H

#include <stdint.h>

struct bench_opts {
	unsigned    sensors, first;
	double      rate, duration, connect_timeout, drain_timeout;
	int         qos, port, json, verbose;
	const char *host, *prefix;
};

/* Parse argv into o (strings point into argv). -1 to go on, else the exit
 * status: 0 after --help or --version, 2 after logging what was wrong. */
int options_parse(struct bench_opts *o, int argc, char **argv);

/*
 * One descriptor per sensor (its socket) plus the process's own: raise the
 * soft RLIMIT_NOFILE as far as o->sensors needs. 0, or -EMFILE when N
 * cannot be served (logged: the limit, and how many can). *have: the soft
 * limit now; *needed: what N needs.
 */
int options_raise_nofile(const struct bench_opts *o, uint64_t *have,
                         uint64_t *needed);

#endif
