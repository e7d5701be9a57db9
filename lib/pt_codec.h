/*
 * pt_codec.h: the payload codec. Encoding writes the SPEC.md JSON object;
 * decoding parses with cJSON (the only file that includes cJSON.h is
 * codec.c) and applies every rule of SPEC.md's payload table, so a decoded
 * reading is a valid reading. The JSON Schema twin of these rules is
 * schemas/reading.schema.json; tests keep the two in agreement.
 */
#ifndef PT_CODEC_H
#define PT_CODEC_H

#include <stddef.h>

#include "pt_reading.h"

/*
 * Encode r as one JSON object, no trailing newline, fields in the order
 * device, boot, seq, ts, temp_c[, mv][, raw]; temp_c with 2 decimals, mv
 * with 1. Writes a NUL. Returns the length (excluding the NUL), -ENOSPC if
 * cap is too small, -EINVAL if r breaks a rule (the sensor never sends
 * what the sink would reject).
 */
int pt_codec_encode(const struct pt_reading *r, char *buf, size_t cap);

/*
 * Decode and validate len bytes at buf (not NUL-terminated). The whole
 * buffer must be one JSON object (whitespace around it allowed), valid UTF-8
 * with no raw control characters, at most PT_PAYLOAD_MAX bytes, with no
 * duplicate and no unknown member. Returns 0 and fills *out, or -EINVAL and
 * writes a one-line reason naming the field and the offending value
 * (e.g. "temp_c 130.25 out of range -40..125") into why (cap why_cap;
 * why may be NULL).
 */
int pt_codec_decode(const void *buf, size_t len, struct pt_reading *out,
                    char *why, size_t why_cap);

#endif
