/*
 * test_codec.c: the payload codec (lib/codec.c, lib/validate.c,
 * lib/utf8.c). Every rejection checks the reason names the field (or, for
 * rules about the whole payload, the rule), since the sink logs that line
 * as the only account of what it dropped.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pt_codec.h"
#include "pt_reading.h"
#include "pt_validate.h"

#define SPEC_EXAMPLE "{\"device\":\"pi-sensor-1\",\"boot\":\"5f0c2a9e41d3b7a8\"," \
	"\"seq\":42,\"ts\":\"2026-11-24T21:23:04.123456Z\",\"temp_c\":22.53," \
	"\"mv\":725.3,\"raw\":225}"
#define TS_US   1795555384123456LL

static const char *names[] = {
	"device", "boot", "seq", "ts", "temp_c", "mv", "raw"
};
static const char *values[] = {
	"\"pi-sensor-1\"", "\"5f0c2a9e41d3b7a8\"", "42",
	"\"2026-11-24T21:23:04.123456Z\"", "22.53", "725.3", "225"
};

/* The spec example with field replaced by value (NULL: left out). */
static const char *
with(const char *field, const char *value)
{
	static char buf[4096];
	size_t i, n = 0;
	const char *v;

	buf[n++] = '{';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = strcmp(names[i], field) == 0 ? value : values[i];
		if (v == NULL)
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\":%s",
		    n > 1 ? "," : "", names[i], v);
	}
	snprintf(buf + n, sizeof(buf) - n, "}");
	return buf;
}

static void
reading(struct pt_reading *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->device, "pi-sensor-1");
	strcpy(r->boot, "5f0c2a9e41d3b7a8");
	r->seq = 42;
	r->ts_us = TS_US;
	r->temp_c = 22.53;
	r->has_mv = true;
	r->mv = 725.3;
	r->has_raw = true;
	r->raw = 225;
}

static void
reject_len(const char *json, size_t len, const char *needle)
{
	struct pt_reading r;
	char why[256];
	int rc;

	memset(&r, 0x5a, sizeof(r));
	rc = pt_codec_decode(json, len, &r, why, sizeof(why));
	if (rc != -EINVAL)
		fail_msg("accepted (rc %d): %.*s", rc, (int)len, json);
	if (strstr(why, needle) == NULL)
		fail_msg("reason \"%s\" does not name \"%s\"", why, needle);
	if (strchr(why, '\n') != NULL)
		fail_msg("reason \"%s\" is not one line", why);
	/* A rejected payload leaves *out alone. */
	assert_int_equal(((unsigned char *)&r)[0], 0x5a);
}

static void
reject(const char *json, const char *needle)
{
	reject_len(json, strlen(json), needle);
}

static void
accept(const char *json, struct pt_reading *r)
{
	char why[256] = "unset";

	if (pt_codec_decode(json, strlen(json), r, why, sizeof(why)) != 0)
		fail_msg("rejected %s: %s", json, why);
	assert_string_equal(why, "");
}

static void
codec_encodes_the_spec_example_byte_for_byte(void **state)
{
	struct pt_reading r;
	char buf[PT_PAYLOAD_MAX + 1];

	(void)state;
	reading(&r);
	assert_int_equal(pt_codec_encode(&r, buf, sizeof(buf)),
	    (int)strlen(SPEC_EXAMPLE));
	assert_string_equal(buf, SPEC_EXAMPLE);
}

static void
codec_encode_leaves_out_optional_fields_it_does_not_have(void **state)
{
	struct pt_reading r;
	char buf[PT_PAYLOAD_MAX + 1];

	(void)state;
	reading(&r);
	r.has_mv = r.has_raw = false;
	assert_true(pt_codec_encode(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"device\":\"pi-sensor-1\","
	    "\"boot\":\"5f0c2a9e41d3b7a8\",\"seq\":42,"
	    "\"ts\":\"2026-11-24T21:23:04.123456Z\",\"temp_c\":22.53}");
}

static void
codec_encode_rounds_temp_c_to_2_and_mv_to_1_decimal(void **state)
{
	struct pt_reading r;
	char buf[PT_PAYLOAD_MAX + 1];

	(void)state;
	reading(&r);
	r.has_raw = false;
	r.temp_c = 22.526;
	r.mv = 725.26;
	assert_true(pt_codec_encode(&r, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"temp_c\":22.53,\"mv\":725.3}"));
	r.temp_c = 125.004;     /* in range once rounded */
	assert_true(pt_codec_encode(&r, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"temp_c\":125.00,"));
}

static void
codec_encodes_negative_zero_as_zero(void **state)
{
	struct pt_reading r;
	char buf[PT_PAYLOAD_MAX + 1];

	(void)state;
	reading(&r);
	r.temp_c = -0.004;
	r.mv = -0.0;
	assert_true(pt_codec_encode(&r, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"temp_c\":0.00,\"mv\":0.0,"));
}

static void
codec_encode_refuses_what_the_sink_would_reject(void **state)
{
	struct pt_reading r;
	char buf[PT_PAYLOAD_MAX + 1];

	(void)state;
#define ENC_BAD(stmt) do {                                              \
		reading(&r);                                            \
		stmt;                                                   \
		assert_int_equal(pt_codec_encode(&r, buf, sizeof(buf)), -EINVAL); \
	} while (0)
	ENC_BAD(strcpy(r.device, ""));
	ENC_BAD(strcpy(r.device, "pi/1"));
	ENC_BAD(strcpy(r.device, "pi\"1"));
	ENC_BAD(memset(r.device, 'd', sizeof(r.device)));  /* no NUL */
	ENC_BAD(strcpy(r.boot, "5F0C2A9E41D3B7A8"));
	ENC_BAD(strcpy(r.boot, "5f0c"));
	ENC_BAD(r.seq = PT_SEQ_MAX + 1);
	ENC_BAD(r.ts_us = 253402300800LL * 1000000);        /* year 10000 */
	ENC_BAD(r.temp_c = 125.006);
	ENC_BAD(r.temp_c = -40.006);
	ENC_BAD(r.temp_c = NAN);
	ENC_BAD(r.temp_c = INFINITY);
	ENC_BAD(r.temp_c = 1e300);
	ENC_BAD(r.mv = 3300.06);
	ENC_BAD(r.mv = -0.06);
	ENC_BAD(r.raw = PT_RAW_MAX + 1);
	ENC_BAD(r.raw = PT_RAW_MIN - 1);
#undef ENC_BAD
	reading(&r);
	r.seq = PT_SEQ_MAX;
	assert_true(pt_codec_encode(&r, buf, sizeof(buf)) > 0);
	assert_int_equal(pt_codec_encode(NULL, buf, sizeof(buf)), -EINVAL);
}

static void
codec_encode_reports_a_short_buffer_as_enospc(void **state)
{
	struct pt_reading r;
	char buf[PT_PAYLOAD_MAX + 1];
	size_t n = strlen(SPEC_EXAMPLE);

	(void)state;
	reading(&r);
	assert_int_equal(pt_codec_encode(&r, buf, n), -ENOSPC);
	assert_int_equal(pt_codec_encode(&r, buf, n + 1), (int)n);
	assert_int_equal(pt_codec_encode(&r, NULL, 0), -ENOSPC);
}

static void
codec_decodes_the_spec_example(void **state)
{
	struct pt_reading r;

	(void)state;
	accept(SPEC_EXAMPLE, &r);
	assert_string_equal(r.device, "pi-sensor-1");
	assert_string_equal(r.boot, "5f0c2a9e41d3b7a8");
	assert_int_equal(r.seq, 42);
	assert_int_equal(r.ts_us, TS_US);
	assert_true(r.temp_c == 22.53);
	assert_true(r.has_mv && r.mv == 725.3);
	assert_true(r.has_raw && r.raw == 225);
	accept(with("mv", NULL), &r);
	assert_false(r.has_mv);
	assert_true(r.has_raw);
}

static void
codec_round_trips_every_field(void **state)
{
	struct pt_reading a, b;
	char buf[PT_PAYLOAD_MAX + 1];

	(void)state;
	reading(&a);
	a.seq = PT_SEQ_MAX;
	a.temp_c = -39.99;
	a.raw = PT_RAW_MIN;
	assert_true(pt_codec_encode(&a, buf, sizeof(buf)) > 0);
	accept(buf, &b);
	assert_memory_equal(&a, &b, offsetof(struct pt_reading, temp_c));
	assert_true(a.temp_c == b.temp_c && a.mv == b.mv && a.raw == b.raw);
}

static void
codec_accepts_whitespace_around_and_integral_floats(void **state)
{
	char buf[2048];
	struct pt_reading r;

	(void)state;
	snprintf(buf, sizeof(buf), " \r\n\t%s\n", SPEC_EXAMPLE);
	accept(buf, &r);
	accept(with("seq", "42.0"), &r);
	assert_int_equal(r.seq, 42);
	accept(with("raw", "2.25e2"), &r);
	assert_int_equal(r.raw, 225);
	accept(with("temp_c", "0.07"), &r);
	accept(with("temp_c", "-40"), &r);
	accept(with("temp_c", "125.00"), &r);
	accept(with("seq", "9007199254740991"), &r);
	assert_int_equal(r.seq, PT_SEQ_MAX);
}

static void
codec_rejects_missing_ts(void **state)
{
	(void)state;
	reject(with("ts", NULL), "missing field \"ts\"");
}

static void
codec_rejects_each_missing_required_field(void **state)
{
	char needle[64];
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(needle, sizeof(needle), "missing field \"%s\"", names[i]);
		reject(with(names[i], NULL), needle);
	}
	reject("{}", "missing field");
}

static void
codec_rejects_unknown_fields(void **state)
{
	(void)state;
	reject(with("raw", "1,\"foo\":1"), "unknown field \"foo\"");
	reject(with("raw", "1,\"Device\":\"x\""), "unknown field \"Device\"");
	reject(with("raw", "1,\"recv_ts\":\"x\""), "unknown field \"recv_ts\"");
}

static void
codec_rejects_duplicate_fields(void **state)
{
	(void)state;
	reject(with("raw", "1,\"seq\":43"), "duplicate field \"seq\"");
	reject(with("raw", "1,\"s\\u0065q\":42"), "duplicate field \"seq\"");
}

static void
codec_rejects_a_payload_over_1024_bytes(void **state)
{
	char buf[PT_PAYLOAD_MAX + 2];
	size_t n = strlen(SPEC_EXAMPLE);
	struct pt_reading r;

	(void)state;
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, SPEC_EXAMPLE, n);
	assert_int_equal(pt_codec_decode(buf, PT_PAYLOAD_MAX, &r, NULL, 0), 0);
	reject_len(buf, PT_PAYLOAD_MAX + 1,
	    "payload is 1025 bytes, over the 1024 limit");
}

static void
codec_rejects_invalid_utf8(void **state)
{
	(void)state;
	reject(with("device", "\"pi\xff\""), "invalid UTF-8 at byte 13");
	reject(with("device", "\"pi\xc0\xaf\""), "invalid UTF-8");    /* overlong */
	reject(with("device", "\"pi\xed\xa0\x80\""), "invalid UTF-8"); /* surrogate */
	reject(with("device", "\"pi\xf4\x90\x80\x80\""), "invalid UTF-8");
	reject(with("device", "\"pi\xe2\x82\""), "invalid UTF-8");     /* truncated */
	reject("\xef\xbb\xbf" SPEC_EXAMPLE, "byte order mark");
}

static void
codec_rejects_raw_control_characters(void **state)
{
	(void)state;
	reject(with("device", "\"pi\tx\""), "control character 0x09");
	reject("\x01" SPEC_EXAMPLE, "control character 0x01 at byte 0");
	/* The literal's own NUL, as a C string sender might put on the wire. */
	reject_len(SPEC_EXAMPLE, sizeof(SPEC_EXAMPLE), "control character 0x00");
}

static void
codec_rejects_nul_lone_surrogate_and_bad_hex_escapes(void **state)
{
	(void)state;
	/* cJSON would cut "device\u0000x" to "device". */
	reject(with("raw", "1,\"device\\u0000x\":1"), "\\u0000");
	reject(with("device", "\"pi\\u0000\""), "\\u0000");
	reject(with("device", "\"pi\\ud800\""), "lone UTF-16 surrogate");
	reject(with("device", "\"pi\\udc00x\""), "lone UTF-16 surrogate");
	reject(with("device", "\"pi\\ud800\\u0041\""), "lone UTF-16 surrogate");
	/* cJSON would read "pi\u00zz" as "pi". */
	reject(with("device", "\"pi\\u00zz\""), "\\u without 4 hex digits");
	reject(with("device", "\"pi\\u00\""), "\\u without 4 hex digits");
	/* A proper pair decodes; it is then simply not a device name. */
	reject(with("device", "\"pi\\ud83d\\ude00\""), "device");
}

static void
codec_rejects_anything_but_one_object(void **state)
{
	(void)state;
	reject("", "not a JSON object");
	reject("  ", "not a JSON object");
	reject("[" SPEC_EXAMPLE "]", "not a JSON object");
	reject("\"x\"", "not a JSON object");
	reject("null", "not a JSON object");
	reject(SPEC_EXAMPLE " x", "trailing data");
	reject(SPEC_EXAMPLE SPEC_EXAMPLE, "trailing data");
	reject(with("raw", "1,"), "not a JSON object");
	reject(with("temp_c", "NaN"), "not a JSON object");
}

static void
codec_rejects_numbers_json_does_not_allow(void **state)
{
	(void)state;
	reject(with("seq", "042"), "invalid number \"042\"");
	reject(with("temp_c", "22."), "invalid number \"22.\"");
	reject(with("temp_c", "-.5"), "invalid number \"-.5\"");
	reject(with("temp_c", "1e"), "invalid number");
	reject(with("temp_c", "1.5e+"), "invalid number");
	reject(with("temp_c", "--1"), "invalid number");
	reject(with("temp_c", "+1"), "not a JSON object");
}

static void
codec_rejects_booleans_and_other_types_as_numbers(void **state)
{
	(void)state;
	reject(with("temp_c", "true"), "temp_c true is a boolean, not a number");
	reject(with("seq", "false"), "seq false is a boolean, not an integer");
	reject(with("mv", "null"), "mv null is null");
	reject(with("raw", "\"225\""), "raw \"225\" is a string");
	reject(with("temp_c", "[1]"), "temp_c [...] is an array");
	reject(with("device", "42"), "device 42 is a number, not a string");
	reject(with("boot", "{}"), "boot {...} is an object");
	reject(with("ts", "1795555384123456"), "ts 1795555384123456 is a number");
}

static void
codec_rejects_temp_c_out_of_range(void **state)
{
	(void)state;
	reject(with("temp_c", "130.25"), "temp_c 130.25 out of range -40..125");
	reject(with("temp_c", "-40.01"), "temp_c -40.01 out of range");
	reject(with("temp_c", "1e400"), "temp_c inf out of range");
}

static void
codec_rejects_temp_c_with_more_than_2_decimals(void **state)
{
	(void)state;
	reject(with("temp_c", "22.531"), "temp_c 22.531 has more than 2 decimals");
	reject(with("temp_c", "0.001"), "temp_c");
}

static void
codec_rejects_bad_device_names(void **state)
{
	char buf[80];

	(void)state;
	reject(with("device", "\"\""), "device \"\" is 0 bytes long");
	snprintf(buf, sizeof(buf), "\"%065d\"", 0);
	reject(with("device", buf), "is 65 bytes long, not 1..64");
	reject(with("device", "\"pi sensor\""), "device \"pi sensor\" has a character");
	reject(with("device", "\"pi/1\""), "device \"pi/1\"");
	reject(with("device", "\"pi\\n\""), "device \"pi\\x0a\"");
	reject(with("device", "\"caf\xc3\xa9\""), "device \"caf\\xc3\\xa9\"");
}

static void
codec_rejects_bad_boot_ids(void **state)
{
	(void)state;
	reject(with("boot", "\"5F0C2A9E41D3B7A8\""),
	    "boot \"5F0C2A9E41D3B7A8\" is not 16 lowercase hex digits");
	reject(with("boot", "\"5f0c2a9e41d3b7a\""), "boot");
	reject(with("boot", "\"5f0c2a9e41d3b7a80\""), "boot");
	reject(with("boot", "\"5f0c2a9e41d3b7ag\""), "boot");
}

static void
codec_rejects_bad_seq(void **state)
{
	(void)state;
	reject(with("seq", "-1"), "seq -1 out of range 0..9007199254740991");
	reject(with("seq", "9007199254740992"), "seq 9007199254740992 out of range");
	reject(with("seq", "1.5"), "seq 1.5 is not an integer");
	reject(with("seq", "\"42\""), "seq \"42\" is a string, not an integer");
}

static void
codec_rejects_bad_ts(void **state)
{
	(void)state;
	reject(with("ts", "\"2026-11-24T21:23:04Z\""),
	    "ts \"2026-11-24T21:23:04Z\" is not a UTC time");
	reject(with("ts", "\"2026-13-24T21:23:04.123456Z\""), "ts \"2026-13");
	reject(with("ts", "\"2024-02-30T21:23:04.123456Z\""), "ts \"2024-02-30");
	reject(with("ts", "\"2026-11-24T21:23:04.123456z\""), "ts");
	reject(with("ts", "\"2026-11-24T21:23:04.123456+00:00\""), "ts");
}

static void
codec_rejects_bad_mv_and_raw(void **state)
{
	(void)state;
	reject(with("mv", "3300.1"), "mv 3300.1 out of range 0..3300");
	reject(with("mv", "-0.1"), "mv -0.1 out of range");
	reject(with("raw", "65536"), "raw 65536 out of range -32768..65535");
	reject(with("raw", "-32769"), "raw -32769 out of range");
	reject(with("raw", "225.5"), "raw 225.5 is not an integer");
}

static void
codec_reasons_truncate_long_values_and_fit_small_buffers(void **state)
{
	char big[300], why[16];
	struct pt_reading r;

	(void)state;
	big[0] = '"';
	memset(big + 1, 'x', 200);
	snprintf(big + 201, sizeof(big) - 201, " \"");
	reject(with("device", big), "\"...");
	assert_int_equal(pt_codec_decode(with("device", big), strlen(with(
	    "device", big)), &r, why, sizeof(why)), -EINVAL);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_int_equal(pt_codec_decode(with("ts", NULL), 10, &r, NULL, 0),
	    -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_encodes_the_spec_example_byte_for_byte),
		cmocka_unit_test(codec_encode_leaves_out_optional_fields_it_does_not_have),
		cmocka_unit_test(codec_encode_rounds_temp_c_to_2_and_mv_to_1_decimal),
		cmocka_unit_test(codec_encodes_negative_zero_as_zero),
		cmocka_unit_test(codec_encode_refuses_what_the_sink_would_reject),
		cmocka_unit_test(codec_encode_reports_a_short_buffer_as_enospc),
		cmocka_unit_test(codec_decodes_the_spec_example),
		cmocka_unit_test(codec_round_trips_every_field),
		cmocka_unit_test(codec_accepts_whitespace_around_and_integral_floats),
		cmocka_unit_test(codec_rejects_missing_ts),
		cmocka_unit_test(codec_rejects_each_missing_required_field),
		cmocka_unit_test(codec_rejects_unknown_fields),
		cmocka_unit_test(codec_rejects_duplicate_fields),
		cmocka_unit_test(codec_rejects_a_payload_over_1024_bytes),
		cmocka_unit_test(codec_rejects_invalid_utf8),
		cmocka_unit_test(codec_rejects_raw_control_characters),
		cmocka_unit_test(codec_rejects_nul_lone_surrogate_and_bad_hex_escapes),
		cmocka_unit_test(codec_rejects_anything_but_one_object),
		cmocka_unit_test(codec_rejects_numbers_json_does_not_allow),
		cmocka_unit_test(codec_rejects_booleans_and_other_types_as_numbers),
		cmocka_unit_test(codec_rejects_temp_c_out_of_range),
		cmocka_unit_test(codec_rejects_temp_c_with_more_than_2_decimals),
		cmocka_unit_test(codec_rejects_bad_device_names),
		cmocka_unit_test(codec_rejects_bad_boot_ids),
		cmocka_unit_test(codec_rejects_bad_seq),
		cmocka_unit_test(codec_rejects_bad_ts),
		cmocka_unit_test(codec_rejects_bad_mv_and_raw),
		cmocka_unit_test(codec_reasons_truncate_long_values_and_fit_small_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
