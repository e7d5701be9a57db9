/*
 * writer_fx.h: what the writer unit tests share (support/writer_fx.c): a
 * fresh directory under /tmp per test (cmocka setup/teardown) and readers
 * of what the writer left there; the reading is reading_fx.h's.
 */
#ifndef WRITER_FX_H
#define WRITER_FX_H

#include <stdint.h>
#include <sys/types.h>

#include "reading_fx.h"
#include "writer.h"

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

/* Entries of dir other than . and .. */
int count_entries(const char *dir);
/* writer_write reading(seq, extras) with PAYLOAD; asserts it worked. */
void put(struct writer *w, uint64_t seq, int extras);
/* Size of the one temporary file ".out.txt.XXXXXX" in dir, -1 if none. */
off_t temp_size(const char *dir);
/* Newlines in path. */
int count_lines(const char *path);

#endif
