/*
 * report.c: periodic delivery counters of the sensor (see report.h).
 */
#include "report.h"

#include <stdio.h>

#include "pt_log.h"
#include "pt_time.h"

void
report_init(struct report *r, double every_s)
{
	if (every_s <= 0)
		every_s = REPORT_EVERY_S;
	r->every_ns = (int64_t)(every_s * 1e9);
	r->next_ns = pt_time_mono_ns() + r->every_ns;
}

int
report_format(const struct transport_counters *k, uint64_t dropped, char *buf,
              size_t cap)
{
	uint64_t done = k->delivered + k->failed + k->unacked;

	return snprintf(buf, cap, "counters: published=%llu acknowledged=%llu "
	    "buffered=%llu dropped=%llu failed=%llu unacked=%llu reconnects=%llu "
	    "connected=%d",
	    (unsigned long long)k->published, (unsigned long long)k->delivered,
	    (unsigned long long)(k->published > done ? k->published - done : 0),
	    (unsigned long long)dropped, (unsigned long long)k->failed,
	    (unsigned long long)k->unacked,
	    (unsigned long long)(k->connects > 0 ? k->connects - 1 : 0),
	    k->connected);
}

int
report_tick(struct report *r, struct transport *t, uint64_t dropped, int force)
{
	struct transport_counters k;
	char line[256];
	int64_t now = pt_time_mono_ns();

	if (t == NULL || (!force && now < r->next_ns))
		return 0;
	/* Skip missed slots rather than log a burst after a long stall. */
	while (r->next_ns <= now)
		r->next_ns += r->every_ns;
	t->ops->counters(t, &k);
	report_format(&k, dropped, line, sizeof(line));
	pt_log_info("%s", line);
	return 1;
}
