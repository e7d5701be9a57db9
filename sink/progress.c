/*
 * progress.c: the sink's progress line and debug counters (progress.h).
 */
#include "progress.h"

#include <stdio.h>

#include "pt_log.h"

void
progress_init(struct progress *p, uint64_t count, int64_t now_ns)
{
	p->count = count;
	p->next_draw_ns = now_ns;
	p->next_log_ns = now_ns + (int64_t)PROGRESS_LOG_S * 1000000000;
	p->win_start_ns = now_ns;
	p->win_stored = 0;
	p->rate = -1;
}

int
progress_format(const struct progress *p, uint64_t stored, int64_t gaps,
                uint64_t invalid, uint64_t duplicates, char *buf, size_t cap)
{
	char of[32] = "", rate[32] = "";
	int n;

	if (p->count > 0)
		snprintf(of, sizeof(of), " of %llu", (unsigned long long)p->count);
	if (p->rate >= 0)
		snprintf(rate, sizeof(rate), ", %.1f readings/s", p->rate);
	n = snprintf(buf, cap, "%llu%s stored%s, %lld gap%s",
	    (unsigned long long)stored, of, rate, (long long)gaps,
	    gaps == 1 ? "" : "s");
	if (n >= 0 && (size_t)n < cap && invalid > 0)
		n += snprintf(buf + n, cap - (size_t)n, ", %llu invalid",
		    (unsigned long long)invalid);
	if (n >= 0 && (size_t)n < cap && duplicates > 0)
		n += snprintf(buf + n, cap - (size_t)n, ", %llu duplicate%s",
		    (unsigned long long)duplicates, duplicates == 1 ? "" : "s");
	return n;
}

void
progress_tick(struct progress *p, int64_t now_ns, uint64_t stored,
              int64_t gaps, uint64_t invalid, uint64_t duplicates)
{
	char line[200];

	if (now_ns - p->win_start_ns >= 1000000000) {
		p->rate = (double)(stored - p->win_stored) * 1e9 /
		    (double)(now_ns - p->win_start_ns);
		p->win_start_ns = now_ns;
		p->win_stored = stored;
	}
	if (pt_log_tty() && now_ns >= p->next_draw_ns) {
		p->next_draw_ns = now_ns + (int64_t)PROGRESS_DRAW_MS * 1000000;
		progress_format(p, stored, gaps, invalid, duplicates, line, sizeof(line));
		pt_log_status("%s", line);
	}
	if (pt_log_verbose() && now_ns >= p->next_log_ns) {
		while (p->next_log_ns <= now_ns)
			p->next_log_ns += (int64_t)PROGRESS_LOG_S * 1000000000;
		progress_format(p, stored, gaps, invalid, duplicates, line, sizeof(line));
		pt_log_debug("counters: %s", line);
	}
}
