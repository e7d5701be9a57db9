/*
 * linefmt.h: one reading as one line of the sink's file formats (writer.h
 * names them): text "seq ts device temp_c", csv
 * "device,boot,seq,ts,temp_c,mv,raw,recv_ts", jsonl (the payload, trimmed
 * and on one line, with "recv_ts" added). Built field by field with memcpy
 * and lib/fmt.c: the same bytes printf would write, for a fraction of its
 * cost (it runs for every reading).
 */
#ifndef LINEFMT_H
#define LINEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "pt_reading.h"
#include "writer.h"

/* Longest line any format makes, newline included. */
#define LINEFMT_MAX (PT_PAYLOAD_MAX + 64)

/*
 * The line for r (payload/len: the original payload, used by jsonl;
 * recv_us: the receive time) into buf, newline included, no NUL. Returns
 * its length, -EINVAL (a jsonl payload that is not an object, a time out of
 * range) or -EMSGSIZE (longer than cap).
 */
int linefmt_reading(enum writer_format fmt, const struct pt_reading *r,
                    const void *payload, size_t len, int64_t recv_us,
                    char *buf, size_t cap);

#endif
