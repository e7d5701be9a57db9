/*
 * report.c: pitemp-bench's output (see report.h). The JSON is written by
 * hand: numbers and names only; the one free-form string (the host) is
 * escaped.
 */
#include "report.h"

#include <inttypes.h>

#include "pt_log.h"

#define U(x) ((unsigned long long)(x))

void
report_header(FILE *out, const struct bench_result *r)
{
	fprintf(out, "pitemp-bench: %u sensors (%s%04u..%s%04u) x %g Hz, QoS %d, "
	    "%g s to %s:%d: %llu readings\n", r->sensors, r->prefix, r->first,
	    r->prefix, r->first + r->sensors - 1, r->rate, r->qos, r->duration_s,
	    r->host, r->port, U(r->scheduled));
	fprintf(out, "%6s %9s %9s %7s %9s %6s %11s %11s\n", "t_s", "sent", "acked",
	    "errors", "connected", "cpu%", "late_p99_ms", "late_max_ms");
	fflush(out);
}

void
report_tick(FILE *out, int json, const struct bench_tick *k)
{
	if (json) {
		pt_log_info("t=%.0f s: sent=%llu acked=%llu errors=%llu connected=%u "
		    "cpu=%.1f%% late_p99_ms=%.2f late_max_ms=%.2f", k->t_s, U(k->sent),
		    U(k->acked), U(k->errors), k->connected, k->cpu_pct, k->late_p99_ms,
		    k->late_max_ms);
		return;
	}
	fprintf(out, "%6.0f %9llu %9llu %7llu %9u %6.1f %11.2f %11.2f\n", k->t_s,
	    U(k->sent), U(k->acked), U(k->errors), k->connected, k->cpu_pct,
	    k->late_p99_ms, k->late_max_ms);
	fflush(out);
}

static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static uint64_t
unacked(const struct bench_result *r)
{
	uint64_t done = r->t.acked + r->t.failed;

	return r->t.sent > done ? r->t.sent - done : 0;
}

static void
totals_json(FILE *out, const struct bench_result *r)
{
	fprintf(out, "{\"sensors\":%u,\"first\":%u,\"prefix\":\"%s\",\"rate_hz\":%g,"
	    "\"qos\":%d,\"duration_s\":%g,\"host\":", r->sensors, r->first,
	    r->prefix, r->rate, r->qos, r->duration_s);
	json_string(out, r->host);
	fprintf(out, ",\"port\":%d,\"per_sensor\":%llu,\"scheduled\":%llu,"
	    "\"samples\":%llu,\"behind\":%llu,\"sent\":%llu,\"acked\":%llu,\"failed\":%llu,"
	    "\"dropped\":%llu,\"errors\":%llu,\"unacked\":%llu,\"connects\":%llu,"
	    "\"connections_lost\":%llu,\"connect_failures\":%llu,\"refused\":%u,"
	    "\"stop_failed\":%u,\"interrupted\":%s,\"drained\":%s,",
	    r->port, U(r->per_sensor), U(r->scheduled), U(r->samples), U(r->behind),
	    U(r->t.sent),
	    U(r->t.acked), U(r->t.failed), U(r->t.dropped), U(r->t.errors),
	    U(unacked(r)), U(r->t.connects), U(r->t.lost), U(r->t.connect_failed),
	    r->t.refused, r->stop_failed, r->interrupted ? "true" : "false",
	    r->drained ? "true" : "false");
	fprintf(out, "\"connect_s\":%.3f,\"send_s\":%.3f,\"drain_s\":%.3f,"
	    "\"wall_s\":%.3f,\"late_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
	    "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"send_cpu_pct\":%.1f,"
	    "\"max_rss_kib\":%ld,\"nofile\":%llu,\"nofile_needed\":%llu,"
	    "\"per_second\":[", r->connect_s, r->send_s, r->drain_s, r->wall_s,
	    r->late_p50_ms, r->late_p99_ms, r->late_max_ms, r->cpu_user_s,
	    r->cpu_sys_s, r->send_cpu_pct, r->max_rss_kib, U(r->nofile),
	    U(r->nofile_needed));
	for (size_t i = 0; i < r->nticks; i++) {
		const struct bench_tick *k = &r->ticks[i];

		fprintf(out, "%s{\"t_s\":%.0f,\"sent\":%llu,\"acked\":%llu,"
		    "\"errors\":%llu,\"connected\":%u,\"cpu_pct\":%.1f,"
		    "\"late_p99_ms\":%.3f,\"late_max_ms\":%.3f}", i ? "," : "",
		    k->t_s, U(k->sent), U(k->acked), U(k->errors), k->connected,
		    k->cpu_pct, k->late_p99_ms, k->late_max_ms);
	}
	fputs("]}\n", out);
}

void
report_totals(FILE *out, int json, const struct bench_result *r)
{
	if (json) {
		totals_json(out, r);
		fflush(out);
		return;
	}
	fprintf(out, "totals: scheduled=%llu behind=%llu sent=%llu acked=%llu "
	    "failed=%llu dropped=%llu errors=%llu unacked=%llu%s\n",
	    U(r->scheduled), U(r->behind), U(r->t.sent), U(r->t.acked), U(r->t.failed), U(r->t.dropped),
	    U(r->t.errors), U(unacked(r)), r->interrupted ? " (interrupted)" : "");
	fprintf(out, "connections: sensors=%u connects=%llu lost=%llu "
	    "connect_failures=%llu refused=%u stop_failed=%u connect_s=%.3f\n",
	    r->sensors, U(r->t.connects), U(r->t.lost), U(r->t.connect_failed),
	    r->t.refused, r->stop_failed, r->connect_s);
	fprintf(out, "timing: send_s=%.3f drain_s=%.3f wall_s=%.3f rate=%.0f/s "
	    "late_p50_ms=%.3f late_p99_ms=%.3f late_max_ms=%.3f\n", r->send_s,
	    r->drain_s, r->wall_s, r->send_s > 0 ? (double)r->t.sent / r->send_s : 0.0,
	    r->late_p50_ms, r->late_p99_ms, r->late_max_ms);
	fprintf(out, "process: cpu_user_s=%.3f cpu_sys_s=%.3f send_cpu_pct=%.1f "
	    "max_rss_kib=%ld nofile=%llu (needed %llu)\n", r->cpu_user_s,
	    r->cpu_sys_s, r->send_cpu_pct, r->max_rss_kib, U(r->nofile),
	    U(r->nofile_needed));
	fflush(out);
}
