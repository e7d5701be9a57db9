/*
 * fuzz_framing.c: libFuzzer target for socket mode's line framing
 * (lib/linebuf.c, used by the sink's listener and the sensor's ack reader)
 * and the acknowledgement lines (lib/ack.c). The input is a byte stream;
 * its first two bytes choose the line limit and how the stream is cut into
 * reads. Whatever the cut, the framer must hand over exactly the lines a
 * plain split of the whole stream gives (LF-terminated, one CR stripped,
 * empty ones skipped), stop with an error at the same line when one is
 * over the limit, and never hold more than its buffer. Every line is then
 * classified as the sensor would; an ack, hello or greeting it accepts
 * must format back to exactly the same bytes.
 *
 *   make fuzz-replay                      replay the corpora (the test run)
 *   build/fuzz/fuzz_framing -max_total_time=600 tests/fuzz/corpus-framing
 */
#include "pt_ack.h"
#include "pt_linebuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 4096

struct line {
	size_t off, len;
};

/* The plain split of the whole stream: lines until the first one over
 * max; *error when the stream has one (or an unterminated tail over
 * max + 1). */
static size_t
reference(const uint8_t *s, size_t n, size_t max, struct line *out, int *error)
{
	size_t pos = 0, k = 0;

	*error = 0;
	while (pos < n && k < MAX_LINES) {
		const uint8_t *nl = memchr(s + pos, '\n', n - pos);
		size_t len;

		if (nl == NULL) {
			*error = n - pos > max + 1;
			break;
		}
		len = (size_t)(nl - (s + pos));
		out[k].off = pos;
		pos += len + 1;
		if (len > 0 && s[out[k].off + len - 1] == '\r')
			len--;
		if (len > max) {
			*error = 1;
			break;
		}
		if (len == 0)
			continue;
		out[k++].len = len;
	}
	return k;
}

static void
check_ack_line(const char *line, size_t len)
{
	struct pt_ack_msg m;
	char buf[PT_ACK_LINE_MAX + 2];
	int n = -1;

	switch (pt_ack_parse(line, len, &m)) {
	case PT_ACK_ACK:
		if (m.rejected > m.answered)
			abort();
		n = pt_ack_format(buf, sizeof(buf), m.answered, m.rejected);
		break;
	case PT_ACK_HELLO:
	case PT_ACK_GREETING:
		if (m.version == 0)
			abort();
		if (m.version != PT_ACK_VERSION)
			return;         /* another version: nothing to format */
		n = pt_ack_parse(line, len, &m) == PT_ACK_HELLO ?
		    pt_ack_hello(buf, sizeof(buf)) : pt_ack_greeting(buf, sizeof(buf));
		break;
	default:
		return;
	}
	/* What was accepted is canonical: it formats back byte for byte. */
	if (n < 1 || (size_t)n != len + 1 || memcmp(buf, line, len) != 0 ||
	    buf[len] != '\n')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct line ref[MAX_LINES];
	struct pt_linebuf lb;
	char *buf;
	size_t max, nref, got = 0, pos = 0, chunk;
	int ref_error, error = 0;
	unsigned seed;

	if (size < 2)
		return 0;
	max = 1 + data[0] % 64;         /* small limits reach every edge */
	seed = data[1];
	data += 2;
	size -= 2;
	nref = reference(data, size, max, ref, &ref_error);
	if ((buf = malloc(max + 2)) == NULL || pt_linebuf_init(&lb, buf, max + 2, max) != 0)
		abort();
	while (!error && got < MAX_LINES) {
		const char *line;
		size_t room, len;
		char *at = pt_linebuf_space(&lb, &room);
		int rc;

		if (room > max + 2)
			abort();
		/* A cut that depends on the seed and the position: 1..room. */
		seed = seed * 1103515245u + 12345u;
		chunk = room == 0 ? 0 : 1 + (seed >> 16) % room;
		if (chunk > size - pos)
			chunk = size - pos;
		memcpy(at, data + pos, chunk);
		pt_linebuf_added(&lb, chunk);
		pos += chunk;
		while ((rc = pt_linebuf_next(&lb, &line, &len)) == 1) {
			if (got >= nref || len != ref[got].len ||
			    memcmp(line, data + ref[got].off, len) != 0 ||
			    memchr(line, '\n', len) != NULL || len > max)
				abort();
			check_ack_line(line, len);
			got++;
		}
		if (rc < 0)
			error = 1;
		else if (pt_linebuf_pending(&lb) > max + 1)
			abort();        /* over the limit, yet no error */
		else if (pos == size)
			break;
	}
	if (got < MAX_LINES && (got != nref || error != ref_error))
		abort();
	free(buf);
	return 0;
}
