/*
 * report.h: what pitemp-bench prints: one line per second while it sends
 * and drains, and the totals at the end, as text or as one JSON object
 * (--json). Data goes to stdout; with --json the per-second lines go to
 * stderr as log lines, so stdout holds exactly the one object.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fleet.h"

struct bench_tick {
	double   t_s;           /* since the first deadline */
	uint64_t sent, acked, errors;   /* in this second; errors: dropped + failed + other */
	unsigned connected;
	double   cpu_pct;       /* this process, % of one CPU, in this second */
	double   late_p99_ms;   /* how late sends left, against their deadlines */
	double   late_max_ms;
};

struct bench_result {
	/* What was asked. */
	unsigned    sensors, first;
	double      rate, duration_s;
	int         qos, port;
	const char *host, *prefix;
	uint64_t    per_sensor;     /* readings scheduled per sensor */
	uint64_t    scheduled;      /* per_sensor * sensors */
	/* What happened. */
	struct fleet_totals t;
	uint64_t    samples;        /* samples taken, sends 0 .. samples - 1: sensor i
	                             * (of N) has seq 0 .. (samples - i + N - 1) / N - 1 */
	uint64_t    behind;         /* not sent: the schedule could not be kept */
	double      connect_s, send_s, drain_s, wall_s;
	double      late_p50_ms, late_p99_ms, late_max_ms;
	double      cpu_user_s, cpu_sys_s;      /* whole run */
	double      send_cpu_pct;               /* % of one CPU while sending */
	long        max_rss_kib;
	uint64_t    nofile, nofile_needed;
	unsigned    stop_failed;    /* sensors that did not disconnect cleanly */
	int         interrupted, drained;
	struct bench_tick *ticks;
	size_t      nticks;
};

/* The header of the per-second table (text mode; stdout). */
void report_header(FILE *out, const struct bench_result *r);
/* One per-second line: a table row on out, or a log line (json). */
void report_tick(FILE *out, int json, const struct bench_tick *k);
/* The totals: text lines or one JSON object, on out. */
void report_totals(FILE *out, int json, const struct bench_result *r);

#endif
