/*
 * codec.c: the payload codec, and the only file that includes cJSON.h.
 *
 * Decoding is three passes. cJSON is lenient where the contract is not: it
 * passes invalid UTF-8 and raw control characters, skips any byte <= 0x20
 * and a UTF-8 BOM as whitespace, truncates a string at "\u0000" and at a
 * "\u" escape with a bad hex digit, reads numbers with strtod (so 01, 1.
 * and -.5 pass) and keeps duplicate keys.
 * So a lexical pass over the raw bytes refuses all that first, cJSON then
 * builds the tree, and the last pass applies the field table and the value
 * rules of validate.c.
 */
#include "pt_codec.h"
#include "pt_fmt.h"
#include "pt_time.h"
#include "pt_utf8.h"
#include "pt_validate.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QBUF    (4 * PT_VALIDATE_QUOTE_MAX + 8)

enum field { F_DEVICE, F_BOOT, F_SEQ, F_TS, F_TEMP_C, F_MV, F_RAW, F_COUNT };

static const struct {
	const char *name;
	bool        required;
	bool        string;     /* else a number */
} fields[F_COUNT] = {
	[F_DEVICE] = { "device", true, true },
	[F_BOOT]   = { "boot",   true, true },
	[F_SEQ]    = { "seq",    true, false },
	[F_TS]     = { "ts",     true, true },
	[F_TEMP_C] = { "temp_c", true, false },
	[F_MV]     = { "mv",     false, false },
	[F_RAW]    = { "raw",    false, false },
};

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
hex4(const unsigned char *p, size_t avail, unsigned *out)
{
	unsigned v = 0, d;
	size_t i;

	if (avail < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if (is_digit(p[i]))
			d = (unsigned)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = (unsigned)(p[i] - 'a' + 10);
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = (unsigned)(p[i] - 'A' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/*
 * The string starting at p[*i] (its opening quote). Leaves *i past the
 * closing quote. An unterminated string, or an escape other than \u that
 * JSON lacks, is left for cJSON to refuse (it does).
 */
static int
scan_string(const unsigned char *p, size_t len, size_t *i, char *why,
            size_t cap)
{
	size_t j = *i + 1;
	unsigned u, lo;

	while (j < len) {
		if (p[j] == '"') {
			*i = j + 1;
			return 0;
		}
		if (p[j] < 0x20)
			return pt_validate_reason(why, cap,
			    "control character 0x%02x in a string at byte %zu",
			    p[j], j);
		if (p[j] != '\\') {
			j++;
			continue;
		}
		if (j + 1 >= len || p[j + 1] != 'u') {
			j += 2;
			continue;
		}
		/* cJSON reads a bad digit as 0 and so cuts the string. */
		if (hex4(p + j + 2, len - j - 2, &u) != 0)
			return pt_validate_reason(why, cap,
			    "escape \\u without 4 hex digits in a string at byte %zu",
			    j);
		if (u == 0)
			return pt_validate_reason(why, cap,
			    "escape \\u0000 (NUL) in a string at byte %zu", j);
		if (u >= 0xdc00 && u <= 0xdfff)
			goto lone;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (j + 7 >= len || p[j + 6] != '\\' || p[j + 7] != 'u' ||
			    hex4(p + j + 8, len - j - 8, &lo) != 0 ||
			    lo < 0xdc00 || lo > 0xdfff)
				goto lone;
			j += 6;
		}
		j += 6;
	}
	*i = len;
	return 0;
lone:
	return pt_validate_reason(why, cap,
	    "escape \\u%04x is a lone UTF-16 surrogate at byte %zu", u, j);
}

/*
 * The number starting at p[*i]. cJSON hands the longest run of [0-9+-.eE]
 * to strtod, so check that run against the JSON grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 */
static int
scan_number(const unsigned char *p, size_t len, size_t *i, char *why,
            size_t cap)
{
	size_t start = *i, end = *i, j;
	char q[QBUF];

	while (end < len && (is_digit(p[end]) || p[end] == '+' ||
	    p[end] == '-' || p[end] == '.' || p[end] == 'e' || p[end] == 'E'))
		end++;
	j = start;
	if (p[j] == '-')
		j++;
	if (j < end && p[j] == '0')
		j++;
	else if (j < end && is_digit(p[j]))
		while (j < end && is_digit(p[j]))
			j++;
	else
		goto bad;
	if (j < end && p[j] == '.') {
		if (++j >= end || !is_digit(p[j]))
			goto bad;
		while (j < end && is_digit(p[j]))
			j++;
	}
	if (j < end && (p[j] == 'e' || p[j] == 'E')) {
		if (++j < end && (p[j] == '+' || p[j] == '-'))
			j++;
		if (j >= end || !is_digit(p[j]))
			goto bad;
		while (j < end && is_digit(p[j]))
			j++;
	}
	if (j != end)
		goto bad;
	*i = end;
	return 0;
bad:
	return pt_validate_reason(why, cap, "invalid number %s at byte %zu",
	    pt_validate_quote((const char *)p + start, end - start, q,
	    sizeof(q)), start);
}

static int
scan_lexical(const unsigned char *p, size_t len, char *why, size_t cap)
{
	size_t i = 0;
	int rc;

	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		return pt_validate_reason(why, cap,
		    "byte order mark at byte 0 (not a JSON object)");
	while (i < len) {
		if (p[i] == '"')
			rc = scan_string(p, len, &i, why, cap);
		else if (p[i] == '-' || is_digit(p[i]))
			rc = scan_number(p, len, &i, why, cap);
		else if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r')
			return pt_validate_reason(why, cap,
			    "control character 0x%02x at byte %zu", p[i], i);
		else {
			rc = 0;
			i++;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static const char *
type_name(const cJSON *it)
{
	if (cJSON_IsString(it))
		return "a string";
	if (cJSON_IsNumber(it))
		return "a number";
	if (cJSON_IsBool(it))
		return "a boolean";
	if (cJSON_IsNull(it))
		return "null";
	if (cJSON_IsArray(it))
		return "an array";
	return "an object";
}

/* A member's value as a reason quotes it. */
static const char *
show(const cJSON *it, char *out, size_t cap)
{
	if (cJSON_IsString(it))
		return pt_validate_quote(it->valuestring,
		    strlen(it->valuestring), out, cap);
	if (cJSON_IsNumber(it))
		return pt_validate_number(it->valuedouble, out, cap);
	if (cJSON_IsTrue(it))
		return "true";
	if (cJSON_IsFalse(it))
		return "false";
	if (cJSON_IsNull(it))
		return "null";
	return cJSON_IsArray(it) ? "[...]" : "{...}";
}

static int
check_field(enum field f, const cJSON *it, struct pt_reading *r, char *why,
            size_t cap)
{
	const char *s;
	double v;
	char q[QBUF];
	size_t n;

	if (fields[f].string ? !cJSON_IsString(it) : !cJSON_IsNumber(it))
		return pt_validate_reason(why, cap, "%s %s is %s, not %s",
		    fields[f].name, show(it, q, sizeof(q)), type_name(it),
		    fields[f].string ? "a string" :
		    (f == F_SEQ || f == F_RAW) ? "an integer" : "a number");
	s = it->valuestring;
	v = it->valuedouble;
	switch (f) {
	case F_DEVICE:
		n = strlen(s);
		if (pt_validate_device(s, n, why, cap) != 0)
			return -EINVAL;
		memcpy(r->device, s, n + 1);
		return 0;
	case F_BOOT:
		if (pt_validate_boot(s, strlen(s), why, cap) != 0)
			return -EINVAL;
		memcpy(r->boot, s, PT_BOOT_LEN + 1);
		return 0;
	case F_SEQ:
		return pt_validate_seq(v, &r->seq, why, cap);
	case F_TS:
		return pt_validate_ts(s, strlen(s), &r->ts_us, why, cap);
	case F_TEMP_C:
		r->temp_c = v;
		return pt_validate_temp_c(v, why, cap);
	case F_MV:
		r->has_mv = true;
		r->mv = v;
		return pt_validate_mv(v, why, cap);
	case F_RAW:
		r->has_raw = true;
		return pt_validate_raw(v, &r->raw, why, cap);
	case F_COUNT:
		break;
	}
	return -EINVAL;
}

/* The object's members against the field table, then each value. */
static int
check_object(const cJSON *root, struct pt_reading *r, char *why, size_t cap)
{
	const cJSON *seen[F_COUNT] = { NULL };
	const cJSON *it;
	char q[QBUF];
	size_t f;

	cJSON_ArrayForEach(it, root) {
		for (f = 0; f < F_COUNT; f++)
			if (strcmp(it->string, fields[f].name) == 0)
				break;
		if (f == F_COUNT)
			return pt_validate_reason(why, cap, "unknown field %s",
			    pt_validate_quote(it->string, strlen(it->string), q,
			    sizeof(q)));
		if (seen[f] != NULL)
			return pt_validate_reason(why, cap,
			    "duplicate field \"%s\"", fields[f].name);
		seen[f] = it;
	}
	for (f = 0; f < F_COUNT; f++)
		if (fields[f].required && seen[f] == NULL)
			return pt_validate_reason(why, cap,
			    "missing field \"%s\"", fields[f].name);
	for (f = 0; f < F_COUNT; f++)
		if (seen[f] != NULL &&
		    check_field((enum field)f, seen[f], r, why, cap) != 0)
			return -EINVAL;
	return 0;
}

/*
 * cJSON allocates each node and each string of the tree it builds: about
 * twenty heap allocations and frees per reading. It parses into a
 * per-thread arena instead, emptied by each decode (the tree never
 * outlives pt_codec_decode); cJSON_Delete's frees of arena memory do
 * nothing. A payload whose tree outgrows the arena (hostile ones: deep or
 * long arrays) spills into malloc. cJSON's hooks are process-wide: this
 * file is cJSON's only user. Under AddressSanitizer (make asan, the fuzz
 * target) cJSON keeps the heap, so its bounds stay checked.
 */
#define ARENA_BYTES 8192

#if defined(__SANITIZE_ADDRESS__)
#define USE_ARENA 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_ARENA 0
#endif
#endif
#ifndef USE_ARENA
#define USE_ARENA 1
#endif

static _Thread_local struct {
	size_t used;
	_Alignas(max_align_t) unsigned char b[ARENA_BYTES];
} arena;

static void *
arena_alloc(size_t n)
{
	void *p;

	n = (n + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
	if (n == 0 || n > ARENA_BYTES - arena.used)
		return malloc(n);
	p = arena.b + arena.used;
	arena.used += n;
	return p;
}

static void
arena_free(void *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)arena.b;

	if (a >= lo && a < lo + ARENA_BYTES)
		return;
	free(p);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void
arena_hooks(void)
{
	cJSON_Hooks h = { arena_alloc, arena_free };

	cJSON_InitHooks(&h);
}

int
pt_codec_decode(const void *buf, size_t len, struct pt_reading *out,
                char *why, size_t why_cap)
{
	const unsigned char *p = buf;
	struct pt_reading r;
	cJSON *root = NULL;
	const char *end = NULL;
	size_t bad, i;
	int rc = -EINVAL;

	if (why != NULL && why_cap > 0)
		why[0] = '\0';
	if (buf == NULL && len > 0)
		return pt_validate_reason(why, why_cap, "no payload");
	if (len > PT_PAYLOAD_MAX)
		return pt_validate_reason(why, why_cap,
		    "payload is %zu bytes, over the %d limit", len,
		    PT_PAYLOAD_MAX);
	if (pt_utf8_check(p, len, &bad) != 0)
		return pt_validate_reason(why, why_cap,
		    "invalid UTF-8 at byte %zu", bad);
	if ((rc = scan_lexical(p, len, why, why_cap)) != 0)
		goto out;
	rc = -EINVAL;
	if (USE_ARENA) {
		(void)pthread_once(&hooks_once, arena_hooks);
		arena.used = 0;
	}
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		if (len == 0)
			pt_validate_reason(why, why_cap,
			    "not a JSON object: empty payload");
		else if (end == NULL)
			pt_validate_reason(why, why_cap, "not a JSON object");
		else
			pt_validate_reason(why, why_cap,
			    "not a JSON object: syntax error at byte %zu",
			    (size_t)(end - (const char *)buf));
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		pt_validate_reason(why, why_cap, "not a JSON object: %s",
		    type_name(root));
		goto out;
	}
	for (i = (size_t)(end - (const char *)buf); i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
			pt_validate_reason(why, why_cap,
			    "trailing data after the JSON object at byte %zu", i);
			goto out;
		}
	memset(&r, 0, sizeof(r));
	if (check_object(root, &r, why, why_cap) != 0)
		goto out;
	if (out != NULL)
		*out = r;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/*
 * v rounded to prec decimals, as text, checked by the decoder's rule after
 * rounding. "-0.00" loses its sign: the payload never carries one. The
 * sensor's values are already the double nearest k / 10^prec, so they
 * print without snprintf and need no reading back (pt_fmt.h).
 */
static int
round_text(double v, int prec, int (*check)(double, char *, size_t),
           char *out, size_t cap)
{
	double scale = prec == 1 ? 10.0 : 100.0;

	/* Out of every range pitemp has; also keeps "%f" short. */
	if (!isfinite(v) || fabs(v) > 1e6 || pt_fmt_fixed(out, cap, v, prec) < 0)
		return -EINVAL;
	if ((double)llround(v * scale) / scale != v)
		v = strtod(out, NULL);
	if (v == 0 && out[0] == '-')
		memmove(out, out + 1, strlen(out));
	return check(v, NULL, 0);
}

/* Append s (n bytes) at *o if it fits in cap (keeping room for a NUL). */
static int
put(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
	if (*o + n >= cap)
		return -1;
	memcpy(buf + *o, s, n);
	*o += n;
	return 0;
}

#define PUT_LIT(lit)  put(buf, cap, &o, lit, sizeof(lit) - 1)

int
pt_codec_encode(const struct pt_reading *r, char *buf, size_t cap)
{
	char ts[PT_TS_LEN + 1], temp[PT_FMT_MAX], mv[PT_FMT_MAX], num[PT_FMT_MAX];
	size_t dlen, o = 0, n;

	if (r == NULL || (buf == NULL && cap > 0))
		return -EINVAL;
	dlen = strnlen(r->device, sizeof(r->device));
	if (dlen == sizeof(r->device) ||
	    pt_validate_device(r->device, dlen, NULL, 0) != 0 ||
	    pt_validate_boot(r->boot, strnlen(r->boot, sizeof(r->boot)),
	    NULL, 0) != 0 ||
	    r->seq > PT_SEQ_MAX ||
	    pt_time_format(r->ts_us, ts, sizeof(ts)) < 0 ||
	    round_text(r->temp_c, 2, pt_validate_temp_c, temp,
	    sizeof(temp)) != 0)
		return -EINVAL;
	if (r->has_mv && round_text(r->mv, 1, pt_validate_mv, mv,
	    sizeof(mv)) != 0)
		return -EINVAL;
	if (r->has_raw && (r->raw < PT_RAW_MIN || r->raw > PT_RAW_MAX))
		return -EINVAL;
	/* Field by field, no snprintf: the sensor encodes every sample. */
	if (PUT_LIT("{\"device\":\"") || put(buf, cap, &o, r->device, dlen) ||
	    PUT_LIT("\",\"boot\":\"") || put(buf, cap, &o, r->boot, PT_BOOT_LEN) ||
	    PUT_LIT("\",\"seq\":"))
		return -ENOSPC;
	n = pt_fmt_u64(num, r->seq);
	if (put(buf, cap, &o, num, n) ||
	    PUT_LIT(",\"ts\":\"") || put(buf, cap, &o, ts, PT_TS_LEN) ||
	    PUT_LIT("\",\"temp_c\":") || put(buf, cap, &o, temp, strlen(temp)))
		return -ENOSPC;
	if (r->has_mv && (PUT_LIT(",\"mv\":") || put(buf, cap, &o, mv, strlen(mv))))
		return -ENOSPC;
	if (r->has_raw) {
		n = pt_fmt_i64(num, r->raw);
		if (PUT_LIT(",\"raw\":") || put(buf, cap, &o, num, n))
			return -ENOSPC;
	}
	if (PUT_LIT("}"))
		return -ENOSPC;
	buf[o] = '\0';
	return (int)o;
}
