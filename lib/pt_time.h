/*
 * pt_time.h: clocks and RFC 3339 timestamps. Payload timestamps come from
 * CLOCK_REALTIME; pacing and durations from CLOCK_MONOTONIC.
 */
#ifndef PT_TIME_H
#define PT_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t pt_time_now_us(void);
/* Nanoseconds of CLOCK_MONOTONIC. */
int64_t pt_time_mono_ns(void);

/*
 * Format us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always 6 fraction digits, UTC)
 * into buf (cap >= PT_TS_LEN + 1). Returns the length, or -ENOSPC / -EINVAL.
 */
int pt_time_format(int64_t us, char *buf, size_t cap);

/*
 * Parse exactly the form pt_time_format writes (len bytes, no NUL needed),
 * checking every field's range (month 1-12, day within the month, hour
 * 0-23, minute and second 0-59). Returns 0 and sets *us, or -EINVAL.
 */
int pt_time_parse(const char *s, size_t len, int64_t *us);

#endif
