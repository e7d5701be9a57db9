/*
 * pt_reading.h: the reading model shared by sensor and sink. One reading is
 * one sample of one sensor; (device, boot, seq) identifies it.
 */
#ifndef PT_READING_H
#define PT_READING_H

#include <stdbool.h>
#include <stdint.h>

#define PT_DEVICE_MAX   64      /* device name: ^[A-Za-z0-9._-]{1,64}$ */
#define PT_BOOT_LEN     16      /* boot id: 16 lowercase hex chars */
#define PT_PAYLOAD_MAX  1024    /* a payload over this many bytes is invalid */
#define PT_TS_LEN       27      /* "2026-11-24T21:23:04.123456Z" */
#define PT_TEMP_MIN     (-40.0) /* the TMP36 range, degrees C */
#define PT_TEMP_MAX     125.0
#define PT_MV_MIN       0.0
#define PT_MV_MAX       3300.0
#define PT_SEQ_MAX      9007199254740991ULL /* 2^53 - 1: exact in a JSON number */

struct pt_reading {
	char     device[PT_DEVICE_MAX + 1];
	char     boot[PT_BOOT_LEN + 1];
	uint64_t seq;
	int64_t  ts_us;     /* sample time, microseconds since the Unix epoch, UTC */
	double   temp_c;    /* rounded to 2 decimals on encode */
	bool     has_mv;
	double   mv;
	bool     has_raw;
	int64_t  raw;
};

/*
 * A new boot id: PT_BOOT_LEN lowercase hex characters from getrandom(2),
 * NUL terminated, into out. 0, or -errno. (reading.c)
 */
int pt_reading_boot_id(char out[PT_BOOT_LEN + 1]);

#endif
