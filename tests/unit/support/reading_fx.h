/*
 * reading_fx.h: what the unit tests of the sink's outputs share
 * (support/reading_fx.c): one reading at a fixed time, and a file's text.
 */
#ifndef READING_FX_H
#define READING_FX_H

#include <stdint.h>

#include "pt_reading.h"

#define TS_US    1795555384123456LL    /* 2026-11-24T21:23:04.123456Z */
#define RECV_US  1795555384125000LL    /* 2026-11-24T21:23:04.125000Z */

/* pitemp-sensor's reading seq of pi-sensor-1 at TS_US; with_extras: mv, raw. */
struct pt_reading reading(uint64_t seq, int with_extras);
/* The whole file as a string (static buffer); "" when missing. */
const char *slurp(const char *path);

#endif
