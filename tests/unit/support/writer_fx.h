/*
 * writer_fx.h: what the writer unit tests share (support/writer_fx.c): a
 * fresh directory under /tmp per test (cmocka setup/teardown), a reading,
 * and readers of what the writer left there.
 */
#ifndef WRITER_FX_H
#define WRITER_FX_H

#include <stdint.h>
#include <sys/types.h>

#include "writer.h"

#define TS_US    1795555384123456LL    /* 2026-11-24T21:23:04.123456Z */
#define RECV_US  1795555384125000LL    /* 2026-11-24T21:23:04.125000Z */
#define PAYLOAD_BODY "{\"device\":\"pi-sensor-1\",\"boot\":\"5f0c2a9e41d3b7a8\"," \
                     "\"seq\":42,\"ts\":\"2026-11-24T21:23:04.123456Z\"," \
                     "\"temp_c\":22.53,\"mv\":725.3,\"raw\":225"
#define PAYLOAD      PAYLOAD_BODY "}"

struct fx {
	char dir[64];
	char path[128];
};

/* cmocka setup/teardown: *state is a struct fx with an empty dir and
 * path = dir/out.txt; teardown removes everything in dir. */
int writer_fx_setup(void **state);
int writer_fx_teardown(void **state);
#define T(fn) cmocka_unit_test_setup_teardown(fn, writer_fx_setup, writer_fx_teardown)

/* pitemp-sensor's reading seq of pi-sensor-1 at TS_US; with_extras: mv, raw. */
struct pt_reading reading(uint64_t seq, int with_extras);
/* The whole file as a string (static buffer); "" when missing. */
const char *slurp(const char *path);
/* Entries of dir other than . and .. */
int count_entries(const char *dir);
/* writer_write reading(seq, extras) with PAYLOAD; asserts it worked. */
void put(struct writer *w, uint64_t seq, int extras);
/* Size of the one temporary file ".out.txt.XXXXXX" in dir, -1 if none. */
off_t temp_size(const char *dir);
/* Newlines in path. */
int count_lines(const char *path);

#endif
