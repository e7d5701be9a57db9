/*
 * summary.h: the sensor's summary stream (--summary-period S). Readings are
 * grouped into windows of S seconds aligned on the realtime clock (a window
 * is [k*S, (k+1)*S) since the Unix epoch), and each window that held
 * readings becomes one JSON message on pitemp/<device>/summary:
 *
 *   {"device":"pi-sensor-1","boot":"5f0c2a9e41d3b7a8",
 *    "start":"2026-11-24T21:23:04.000000Z","end":"2026-11-24T21:23:05.000000Z",
 *    "n":100,"mean":22.53,"min":22.41,"max":22.66}
 *
 * start and end bound the window, start included, end excluded: the
 * summary covers exactly the readings whose ts lies in [start, end). A
 * window cut short by a clean stop ends at the stop time. mean, min and max
 * are of the readings' published temp_c (2 decimals), computed exactly in
 * hundredths of a degree; mean is rounded half away from zero. Schema:
 * schemas/summary.schema.json.
 *
 * Pure and cheap: summary_add is a few integer operations per reading and
 * nothing allocates. Main thread only.
 */
#ifndef SUMMARY_H
#define SUMMARY_H

#include <stddef.h>
#include <stdint.h>

/* Longest summary: 64-char device, temperatures like -40.00, n up to 2^64. */
#define SUMMARY_PAYLOAD_MAX 320

struct summary {
	int64_t  period_us;
	int64_t  start_us, end_us;      /* the open window [start, end) */
	uint64_t n;                     /* readings in it; 0: no window open */
	int64_t  sum_cc;                /* temp_c in hundredths of a degree */
	int64_t  min_cc, max_cc;
	int64_t  last_us;               /* ts of the latest reading */
};

/* One closed window. */
struct summary_window {
	int64_t  start_us, end_us;
	uint64_t n;                     /* >= 1 */
	int64_t  mean_cc, min_cc, max_cc;
};

/* period_us > 0. */
void summary_init(struct summary *s, int64_t period_us);

/*
 * Add one published reading (ts_us: its payload time; temp_c: the value
 * published, 2 decimals). When ts_us lies past the open window, that window
 * is closed first: returns 1 and fills *done; otherwise 0. Timestamps are
 * expected not to go back (the sensor keeps them increasing); one that
 * does is counted in the open window.
 */
int summary_add(struct summary *s, int64_t ts_us, double temp_c,
                struct summary_window *done);

/*
 * Close the open window early (a clean stop) at now_us, which becomes its
 * end (never before its last reading's ts + 1 us, never after its nominal
 * end). Returns 1 and fills *done when the window held readings, else 0.
 */
int summary_cut(struct summary *s, int64_t now_us, struct summary_window *done);

/*
 * Write the window's JSON (see above; no newline, NUL-terminated) into buf.
 * device and boot are the reading's (already valid). Returns the length,
 * -ENOSPC when cap is too small, -EINVAL when a value is out of range.
 */
int summary_encode(const struct summary_window *w, const char *device,
                   const char *boot, char *buf, size_t cap);

#endif
