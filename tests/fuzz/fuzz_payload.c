/*
 * fuzz_payload.c: libFuzzer target for the payload decoder. Whatever the
 * bytes, pt_codec_decode must not crash and must give a one-line reason
 * when it refuses; what it accepts must survive encode -> decode with every
 * field identical (mv rounded to the 1 decimal the encoder writes), and
 * encoding is then a fixed point.
 *
 *   make fuzz-replay                      replay the corpora (the test run)
 *   build/fuzz/fuzz_payload -max_total_time=600 tests/fuzz/corpus
 */
#include "pt_codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double
round_1(double v)
{
	char s[64];

	snprintf(s, sizeof(s), "%.1f", v);
	return strtod(s, NULL) + 0.0;   /* + 0.0: -0.0 becomes 0.0 */
}

static void
check_same(const struct pt_reading *a, const struct pt_reading *b)
{
	if (strcmp(a->device, b->device) != 0 || strcmp(a->boot, b->boot) != 0 ||
	    a->seq != b->seq || a->ts_us != b->ts_us ||
	    a->temp_c != b->temp_c || a->has_mv != b->has_mv ||
	    (a->has_mv && round_1(a->mv) != b->mv) ||
	    a->has_raw != b->has_raw || (a->has_raw && a->raw != b->raw))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_reading a, b;
	char why[256], buf[PT_PAYLOAD_MAX + 1], buf2[PT_PAYLOAD_MAX + 1];
	int n, n2;

	if (pt_codec_decode(data, size, &a, why, sizeof(why)) != 0) {
		if (why[0] == '\0' || strchr(why, '\n') != NULL)
			abort();
		return 0;
	}
	n = pt_codec_encode(&a, buf, sizeof(buf));
	if (n < 0)
		abort();
	if (pt_codec_decode(buf, (size_t)n, &b, why, sizeof(why)) != 0) {
		fprintf(stderr, "re-encoded payload rejected: %s\n%s\n", why, buf);
		abort();
	}
	check_same(&a, &b);
	n2 = pt_codec_encode(&b, buf2, sizeof(buf2));
	if (n2 != n || memcmp(buf, buf2, (size_t)n) != 0)
		abort();
	return 0;
}
