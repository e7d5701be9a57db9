/*
 * progress.h: the sink's progress as a person at a terminal sees it, one
 * line rewritten in place below the log (pt_log_status): "42 of 100
 * stored, 99.8 readings/s, 0 gaps". Under systemd (no terminal) nothing.
 * With -d the same figures go to the log every PROGRESS_LOG_S seconds as
 * a debug line, terminal or not.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#define PROGRESS_DRAW_MS    250     /* status line redraws */
#define PROGRESS_LOG_S      10      /* debug counter lines */

struct progress {
	uint64_t count;         /* --count (0: a logger) */
	int64_t  next_draw_ns;
	int64_t  next_log_ns;
	int64_t  win_start_ns;  /* rate: readings stored since then */
	uint64_t win_stored;
	double   rate;          /* readings/s over the last full second; <0: none yet */
};

void progress_init(struct progress *p, uint64_t count, int64_t now_ns);

/* The figures as one line (no newline), e.g.
 * "42 of 100 stored, 99.8 readings/s, 0 gaps, 1 invalid, 2 duplicates"
 * (invalid and duplicates only when non-zero). */
int progress_format(const struct progress *p, uint64_t stored, int64_t gaps,
                    uint64_t invalid, uint64_t duplicates, char *buf,
                    size_t cap);

/* Call often (every 50 ms) from the main thread with the current counters:
 * draws the status line and logs the debug line when due. */
void progress_tick(struct progress *p, int64_t now_ns, uint64_t stored,
                   int64_t gaps, uint64_t invalid, uint64_t duplicates);

#endif
