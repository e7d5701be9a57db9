/*
 * pitemp-bench: one process that is N pitemp sensors, for measuring how
 * many sensors one broker and one sink hold (bench/fleet.py).
 *
 * Sends follow absolute CLOCK_MONOTONIC deadlines, spread evenly over the
 * period: with N sensors at HZ, send j (sensor j mod N, its seq j div N)
 * is due at start + j / (N * HZ), computed from j by lib/pacer.c, so the
 * fleet never bursts all N at once and a late send does not shift the
 * ones after it. How late each send left is measured and reported: when
 * that grows, the figures are about this generator, not about the server.
 *
 * Threads: main() owns the schedule, the counters it reads each second,
 * and the exit status; paho's two threads (one sending, one receiving, for
 * all N clients of the process) stay inside lib/mqtt*.c and fleet.c.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fleet.h"
#include "options.h"
#include "pt_cli.h"
#include "pt_log.h"
#include "pt_pacer.h"
#include "pt_time.h"
#include "report.h"
#include "stats.h"

#define NS_PER_S        1000000000LL
#define BUFFER_SECONDS  60      /* as pitemp-sensor: readings held per sensor */
#define STOP_MS         2000    /* per sensor: "offline" and disconnect */

static volatile sig_atomic_t stop;

struct ticker {
	int64_t            start_ns, next_ns, last_ns;
	double             last_cpu;
	struct fleet_totals last;
	struct stats       late;        /* this second */
	int64_t            late_max_us;
	struct bench_tick *ticks;
	size_t             n, cap;
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double
cpu_seconds(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return *user + *sys;
}

static double
cpu_now(void)
{
	double u, s;

	return cpu_seconds(&u, &s);
}

/*
 * Peak RSS of this process in KiB: VmHWM of /proc/self/status. Not
 * ru_maxrss: at exec the kernel carries the parent's peak into it, so a
 * bench started by a big parent (a Python script) would report the
 * parent's memory. ru_maxrss only where /proc is missing.
 */
static long
peak_rss_kib(void)
{
	struct rusage ru;
	char line[128];
	long kib = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
				break;
		fclose(f);
	}
	if (kib < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
		kib = ru.ru_maxrss;
	return kib;
}

static void
sleep_until(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };

	(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void
ticker_init(struct ticker *tk, struct fleet *f, int64_t start_ns)
{
	memset(tk, 0, sizeof(*tk));
	tk->start_ns = tk->last_ns = start_ns;
	tk->next_ns = start_ns + NS_PER_S;
	tk->last_cpu = cpu_now();
	fleet_totals(f, &tk->last);
	stats_init(&tk->late);
}

/* Close the current second: one line and one entry in the JSON. */
static void
ticker_emit(struct ticker *tk, struct fleet *f, int json, int64_t now)
{
	struct fleet_totals t;
	struct bench_tick k;
	double cpu = cpu_now(), dt = (double)(now - tk->last_ns) / 1e9;

	fleet_totals(f, &t);
	memset(&k, 0, sizeof(k));
	k.t_s = (double)(now - tk->start_ns) / 1e9;
	k.sent = t.sent - tk->last.sent;
	k.acked = t.acked - tk->last.acked;
	k.errors = (t.dropped + t.failed + t.errors) -
	    (tk->last.dropped + tk->last.failed + tk->last.errors);
	k.connected = t.connected;
	k.cpu_pct = dt > 0 ? 100.0 * (cpu - tk->last_cpu) / dt : 0.0;
	k.late_p99_ms = tk->late.lat_n ? stats_latency_ms(&tk->late, 0.99) : 0.0;
	k.late_max_ms = (double)tk->late_max_us / 1000.0;
	report_tick(stdout, json, &k);
	if (tk->n == tk->cap) {
		size_t cap = tk->cap ? tk->cap * 2 : 64;
		struct bench_tick *p = realloc(tk->ticks, cap * sizeof(*p));

		if (p != NULL) {
			tk->ticks = p;
			tk->cap = cap;
		}
	}
	if (tk->n < tk->cap)
		tk->ticks[tk->n++] = k;
	tk->last = t;
	tk->last_cpu = cpu;
	tk->last_ns = now;
	tk->next_ns += NS_PER_S;
	if (tk->next_ns <= now)         /* a stall: no burst of empty lines */
		tk->next_ns = now + NS_PER_S;
	stats_init(&tk->late);
	tk->late_max_us = 0;
}

/* Wait until every sensor is connected. 0, or the exit status. */
static int
connect_all(struct fleet *f, const struct bench_opts *o, double *secs)
{
	struct fleet_totals t;
	int64_t t0 = pt_time_mono_ns(), end, next_log;
	char err[300];

	if (fleet_start(f, err, sizeof(err)) < 0) {
		pt_log_errx("%s", err);
		return PT_EXIT_FAIL;
	}
	end = t0 + (int64_t)(o->connect_timeout * 1e9);
	next_log = t0 + NS_PER_S;
	for (;;) {
		fleet_totals(f, &t);
		*secs = (double)(pt_time_mono_ns() - t0) / 1e9;
		if (t.connected == o->sensors)
			break;
		if (t.refused > 0) {
			pt_log_errx("the broker refused %u of %u sensors", t.refused,
			    o->sensors);
			return PT_EXIT_FAIL;
		}
		if (stop)
			return PT_EXIT_FAIL;
		if (pt_time_mono_ns() >= end) {
			pt_log_errx("only %u of %u sensors connected within %g s "
			    "(--connect-timeout): the broker cannot take them, or "
			    "connects this slowly", t.connected, o->sensors,
			    o->connect_timeout);
			return PT_EXIT_TIMEOUT;
		}
		if (pt_time_mono_ns() >= next_log) {
			pt_log_info("connecting: %u of %u", t.connected, o->sensors);
			next_log += NS_PER_S;
		}
		fleet_poll(f);
		sleep_until(pt_time_mono_ns() + 20 * 1000000LL);
	}
	pt_log_info("%u sensors connected in %.2f s", o->sensors, *secs);
	return 0;
}

/*
 * The schedule: send j is due at deadline j of a pacer at N * HZ. Sleep
 * only while the next send is not due (the sleep's own slack then gathers
 * the sends due meanwhile into one wake-up), and close each second.
 */
static void
send_all(struct fleet *f, const struct bench_opts *o, struct bench_result *r,
         struct ticker *tk, struct stats *late_all, int64_t *late_max_us)
{
	struct pt_pacer p;
	int64_t now, dl, late_us, cut_ns;
	uint64_t j;

	(void)pt_pacer_init(&p, o->rate * o->sensors);
	ticker_init(tk, f, p.start_ns);
	cut_ns = p.start_ns + (int64_t)(fmax(2.0 * o->duration, o->duration + 5.0) * 1e9);
	for (j = 0; j < r->scheduled && !stop; j++) {
		dl = pt_pacer_deadline(&p, j);
		for (;;) {
			now = pt_time_mono_ns();
			if (now >= tk->next_ns)
				ticker_emit(tk, f, o->json, now);
			if (now >= dl || stop || now >= cut_ns)
				break;
			sleep_until(dl < tk->next_ns ? dl : tk->next_ns);
		}
		if (stop)
			break;
		if (now >= cut_ns) {
			r->behind = r->scheduled - j;
			pt_log_warnx("the generator fell behind its schedule: %llu of %llu "
			    "readings not sent by %.0f s; stopped sending",
			    (unsigned long long)r->behind,
			    (unsigned long long)r->scheduled, (double)(cut_ns - p.start_ns) / 1e9);
			break;
		}
		late_us = (now - dl) / 1000;
		stats_latency(late_all, late_us);
		stats_latency(&tk->late, late_us);
		if (late_us > *late_max_us)
			*late_max_us = late_us;
		if (late_us > tk->late_max_us)
			tk->late_max_us = late_us;
		(void)fleet_send(f, (unsigned)(j % o->sensors));
	}
	r->samples = j;
	r->interrupted = stop != 0;
}

/* After the last send: wait for the acknowledgements, a line a second. */
static void
drain_all(struct fleet *f, const struct bench_opts *o, struct bench_result *r,
          struct ticker *tk)
{
	struct fleet_totals t;
	int64_t t0 = pt_time_mono_ns(), end, now;

	end = t0 + (int64_t)(o->drain_timeout * 1e9);
	for (;;) {
		now = pt_time_mono_ns();
		if (fleet_flush(f, tk->next_ns < end ? tk->next_ns : end) == 0) {
			r->drained = 1;
			break;
		}
		now = pt_time_mono_ns();
		if (now >= tk->next_ns)
			ticker_emit(tk, f, o->json, now);
		if (now >= end || stop)
			break;
	}
	now = pt_time_mono_ns();
	/* The last, partial second, whenever it counted anything: the lines
	 * add up to the totals. */
	fleet_totals(f, &t);
	if (t.sent != tk->last.sent || t.acked != tk->last.acked ||
	    t.dropped + t.failed + t.errors !=
	    tk->last.dropped + tk->last.failed + tk->last.errors)
		ticker_emit(tk, f, o->json, now);
	r->drain_s = (double)(now - t0) / 1e9;
	if (!r->drained)
		pt_log_warnx("not every reading was acknowledged within %g s "
		    "(--drain-timeout)", o->drain_timeout);
}

int
main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_result r;
	struct fleet_cfg fc;
	struct fleet *f = NULL;
	struct ticker tk;
	struct stats late_all;
	int64_t t0, t_send, late_max_us = 0;
	double cpu_send0;
	char err[300];
	int rc, status = PT_EXIT_FAIL;

	memset(&tk, 0, sizeof(tk));
	pt_log_init("pitemp-bench", 0);
	if ((rc = options_parse(&o, argc, argv)) >= 0)
		return rc;
	pt_log_init("pitemp-bench", o.verbose);
	pt_cli_signals(on_signal);
	t0 = pt_time_mono_ns();

	memset(&r, 0, sizeof(r));
	r.sensors = o.sensors;
	r.first = o.first;
	r.rate = o.rate;
	r.duration_s = o.duration;
	r.qos = o.qos;
	r.host = o.host;
	r.port = o.port;
	r.prefix = o.prefix;
	r.per_sensor = (uint64_t)llround(o.duration * o.rate);
	r.scheduled = r.per_sensor * o.sensors;
	if (options_raise_nofile(&o, &r.nofile, &r.nofile_needed) < 0)
		return PT_EXIT_USAGE;

	memset(&fc, 0, sizeof(fc));
	fc.host = o.host;
	fc.port = o.port;
	fc.prefix = o.prefix;
	fc.first = o.first;
	fc.n = o.sensors;
	fc.qos = o.qos;
	fc.buffer = (size_t)fmax(100.0, o.rate * BUFFER_SECONDS);
	if ((f = fleet_new(&fc, err, sizeof(err))) == NULL) {
		pt_log_errx("%s", err);
		return errno == EINVAL ? PT_EXIT_USAGE : PT_EXIT_FAIL;
	}
	if ((rc = connect_all(f, &o, &r.connect_s)) != 0) {
		status = rc;
		goto out;
	}
	if (!o.json)
		report_header(stdout, &r);
	stats_init(&late_all);
	cpu_send0 = cpu_now();
	t_send = pt_time_mono_ns();
	send_all(f, &o, &r, &tk, &late_all, &late_max_us);
	r.send_s = (double)(pt_time_mono_ns() - t_send) / 1e9;
	r.send_cpu_pct = r.send_s > 0 ? 100.0 * (cpu_now() - cpu_send0) / r.send_s : 0;
	drain_all(f, &o, &r, &tk);
	r.stop_failed = fleet_stop(f, STOP_MS);

	fleet_totals(f, &r.t);
	r.late_p50_ms = late_all.lat_n ? stats_latency_ms(&late_all, 0.50) : 0;
	r.late_p99_ms = late_all.lat_n ? stats_latency_ms(&late_all, 0.99) : 0;
	r.late_max_ms = (double)late_max_us / 1000.0;
	(void)cpu_seconds(&r.cpu_user_s, &r.cpu_sys_s);
	r.max_rss_kib = peak_rss_kib();
	r.wall_s = (double)(pt_time_mono_ns() - t0) / 1e9;
	r.ticks = tk.ticks;
	r.nticks = tk.n;
	report_totals(stdout, o.json, &r);
	status = r.drained && r.behind == 0 && r.t.dropped == 0 && r.t.failed == 0 &&
	    r.t.errors == 0 && r.t.acked == r.t.sent ? PT_EXIT_OK : PT_EXIT_FAIL;
out:
	fleet_free(f);
	free(tk.ticks);
	return status;
}
