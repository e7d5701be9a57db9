/*
 * test_ack.c: socket mode's acknowledgement lines (lib/ack.c) and the
 * framing both sides read them with (lib/linebuf.c). The fuzz target
 * tests/fuzz/fuzz_framing.c goes wider; these pin the forms down.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pt_ack.h"
#include "pt_linebuf.h"

static enum pt_ack_kind
parse(const char *s, struct pt_ack_msg *m)
{
	return pt_ack_parse(s, strlen(s), m);
}

static void
ack_formats_and_parses_the_four_kinds_of_line(void **state)
{
	struct pt_ack_msg m;
	char buf[PT_ACK_LINE_MAX + 2];

	(void)state;
	assert_int_equal(pt_ack_hello(buf, sizeof(buf)), 16);
	assert_string_equal(buf, "pitemp-sensor 1\n");
	assert_int_equal(pt_ack_greeting(buf, sizeof(buf)), 14);
	assert_string_equal(buf, "pitemp-sink 1\n");
	assert_int_equal(pt_ack_format(buf, sizeof(buf), 42, 0), 7);
	assert_string_equal(buf, "ack 42\n");
	assert_int_equal(pt_ack_format(buf, sizeof(buf), 42, 3), 9);
	assert_string_equal(buf, "ack 42 3\n");
	assert_int_equal(pt_ack_format(buf, sizeof(buf), 1, 2), -EINVAL);
	assert_int_equal(pt_ack_format(buf, 5, 42, 0), -ENOSPC);
	assert_true(pt_ack_format(buf, sizeof(buf), UINT64_MAX, UINT64_MAX) > 0);

	assert_int_equal(parse("pitemp-sensor 1", &m), PT_ACK_HELLO);
	assert_int_equal(m.version, 1);
	assert_int_equal(parse("pitemp-sink 1", &m), PT_ACK_GREETING);
	assert_int_equal(parse("pitemp-sink 7", &m), PT_ACK_GREETING);
	assert_int_equal(m.version, 7);
	assert_int_equal(parse("ack 42", &m), PT_ACK_ACK);
	assert_true(m.answered == 42 && m.rejected == 0);
	assert_int_equal(parse("ack 42 3", &m), PT_ACK_ACK);
	assert_true(m.answered == 42 && m.rejected == 3);
	assert_int_equal(parse("ack 18446744073709551615", &m), PT_ACK_ACK);
	assert_true(m.answered == UINT64_MAX);
	assert_int_equal(parse("# anything", &m), PT_ACK_COMMENT);
}

static void
ack_parse_refuses_every_other_form(void **state)
{
	const char *bad[] = {
		"", "ack", "ack ", "ack x", "ack 01", "ack -1", "ack +1", "ack 1 ",
		"ack  1", "ack 1  1", "ack 1 0", "ack 1 2", "ack 18446744073709551616",
		"ACK 1", "ack 1 1 1", "ack 1\r", "pitemp-sink", "pitemp-sink 0",
		"pitemp-sink 01", "pitemp-sink 1 x", "pitemp-sensor", " ack 1",
		"{\"device\":\"x\"}", "ack\t1",
	};
	struct pt_ack_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &m) != PT_ACK_UNKNOWN)
			fail_msg("'%s' was accepted", bad[i]);
	/* Length counts, not a NUL: "ack 12" cut to "ack 1". */
	assert_int_equal(pt_ack_parse("ack 12", 5, &m), PT_ACK_ACK);
	assert_int_equal(m.answered, 1);
}

static void
linebuf_frames_lines_cut_anywhere(void **state)
{
	const char *stream = "ack 1\r\n\nack 2\npitemp-sink 1\nack 3";
	char buf[18];
	struct pt_linebuf lb;
	const char *line, *want[] = { "ack 1", "ack 2", "pitemp-sink 1" };
	size_t len, room, k = 0;

	(void)state;
	assert_int_equal(pt_linebuf_init(&lb, buf, sizeof(buf), 16), 0);
	for (size_t i = 0; stream[i] != '\0'; i++) {      /* byte by byte */
		*pt_linebuf_space(&lb, &room) = stream[i];
		assert_true(room >= 1);
		pt_linebuf_added(&lb, 1);
		while (pt_linebuf_next(&lb, &line, &len) == 1) {
			assert_true(k < 3);
			assert_int_equal(len, strlen(want[k]));
			assert_memory_equal(line, want[k], len);
			k++;
		}
	}
	assert_int_equal(k, 3);
	assert_int_equal(pt_linebuf_pending(&lb), 5);      /* "ack 3" */
	pt_linebuf_reset(&lb);
	assert_int_equal(pt_linebuf_pending(&lb), 0);
}

static void
linebuf_says_when_a_line_is_over_the_limit(void **state)
{
	char buf[6], *at;
	struct pt_linebuf lb;
	const char *line;
	size_t len, room;

	(void)state;
	assert_int_equal(pt_linebuf_init(&lb, buf, sizeof(buf), 5), -EINVAL);
	assert_int_equal(pt_linebuf_init(&lb, buf, sizeof(buf), 4), 0);
	/* 4 bytes and CR LF fit exactly. */
	at = pt_linebuf_space(&lb, &room);
	assert_int_equal(room, 6);
	memcpy(at, "abcd\r\n", 6);
	pt_linebuf_added(&lb, 6);
	assert_int_equal(pt_linebuf_next(&lb, &line, &len), 1);
	assert_int_equal(len, 4);
	/* 5 bytes and LF: a whole line over the limit. */
	at = pt_linebuf_space(&lb, &room);
	memcpy(at, "abcde\n", 6);
	pt_linebuf_added(&lb, 6);
	assert_int_equal(pt_linebuf_next(&lb, &line, &len), -EMSGSIZE);
	assert_int_equal(len, 5);
	/* 6 bytes, no LF: it can only get longer. */
	pt_linebuf_reset(&lb);
	at = pt_linebuf_space(&lb, &room);
	memcpy(at, "abcdef", 6);
	pt_linebuf_added(&lb, 6);
	assert_int_equal(pt_linebuf_next(&lb, &line, &len), -E2BIG);
	assert_int_equal(len, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ack_formats_and_parses_the_four_kinds_of_line),
		cmocka_unit_test(ack_parse_refuses_every_other_form),
		cmocka_unit_test(linebuf_frames_lines_cut_anywhere),
		cmocka_unit_test(linebuf_says_when_a_line_is_over_the_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
