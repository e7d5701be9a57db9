/*
 * pt_validate.h: the value rules of SPEC.md's payload table, one function
 * per field, free of any JSON library so the encoder, the decoder and the
 * tests share them. Each check returns 0, or -EINVAL and writes a one-line
 * reason naming the field and the value into why (cap bytes; why may be
 * NULL). schemas/reading.schema.json states the same rules.
 */
#ifndef PT_VALIDATE_H
#define PT_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "pt_reading.h"

/* raw: ADC counts. Wide enough for a signed 16-bit ADS1115 reading and any
 * unsigned ADC up to 16 bits (the MCP3008 gives 0..1023). */
#define PT_RAW_MIN      (-32768)
#define PT_RAW_MAX      65535

/* The longest value a reason quotes before cutting it with "...". */
#define PT_VALIDATE_QUOTE_MAX 40

/* device: len bytes (s need not be NUL-terminated), ^[A-Za-z0-9._-]{1,64}$. */
int pt_validate_device(const char *s, size_t len, char *why, size_t cap);
/* boot: exactly 16 lowercase hex digits. */
int pt_validate_boot(const char *s, size_t len, char *why, size_t cap);
/* ts: see pt_time_parse; sets *us on success (us may be NULL). */
int pt_validate_ts(const char *s, size_t len, int64_t *us, char *why,
                   size_t cap);
/*
 * seq: a JSON number with an integral value (1.0 counts, as in JSON Schema
 * 2020-12) in 0..2^53-1; sets *seq (seq may be NULL).
 */
int pt_validate_seq(double v, uint64_t *seq, char *why, size_t cap);
/*
 * temp_c: -40..125 with at most 2 decimals, which here means that the
 * double is the one "%.2f" of it reads back as; that is also exactly what
 * the encoder can reproduce.
 */
int pt_validate_temp_c(double v, char *why, size_t cap);
/* mv: 0..3300, any precision (the encoder writes 1 decimal). */
int pt_validate_mv(double v, char *why, size_t cap);
/* raw: integral value in PT_RAW_MIN..PT_RAW_MAX; sets *raw (may be NULL). */
int pt_validate_raw(double v, int64_t *raw, char *why, size_t cap);

/*
 * Helpers for reasons. pt_validate_quote writes s (len bytes) in double
 * quotes, escaping '"', '\\' and every byte outside printable ASCII as
 * \xNN, cut after PT_VALIDATE_QUOTE_MAX bytes with "...". pt_validate_number
 * writes the shortest "%g" form of v that reads back as v. Both always
 * NUL-terminate when cap > 0 and return out.
 */
char *pt_validate_quote(const char *s, size_t len, char *out, size_t cap);
char *pt_validate_number(double v, char *out, size_t cap);
/* snprintf into why when why is not NULL; returns -EINVAL for tail calls. */
int pt_validate_reason(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
