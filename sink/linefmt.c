/*
 * linefmt.c: a reading as one line of the sink's file formats (linefmt.h).
 */
#include "linefmt.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pt_fmt.h"
#include "pt_time.h"

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * A line under construction. Built field by field with memcpy and
 * pt_fmt.h instead of snprintf: at a few hundred thousand readings a
 * second, printf's parsing and "%.2f" cost more than the rest of a line.
 */
struct line {
	char   *b;
	size_t  n, cap;
	bool    over;
};

static void
add(struct line *l, const char *s, size_t n)
{
	if (l->over || n >= l->cap - l->n) {
		l->over = true;
		return;
	}
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

static void
add_str(struct line *l, const char *s)
{
	add(l, s, strlen(s));
}

static void
add_u64(struct line *l, uint64_t v)
{
	char num[PT_FMT_MAX];

	add(l, num, pt_fmt_u64(num, v));
}

static void
add_fixed(struct line *l, double v, int prec)
{
	char num[PT_FMT_MAX];
	int n = pt_fmt_fixed(num, sizeof(num), v, prec);

	if (n < 0)
		l->over = true;
	else
		add(l, num, (size_t)n);
}

/* jsonl: the payload, trimmed and on one line, with recv_ts added. */
static int
format_jsonl(struct line *l, const char *p, size_t len, const char *recv)
{
	size_t i, body;

	while (len > 0 && is_ws(p[0])) {
		p++;
		len--;
	}
	while (len > 0 && is_ws(p[len - 1]))
		len--;
	if (len < 2 || p[0] != '{' || p[len - 1] != '}')
		return -EINVAL;
	body = len - 1;
	while (body > 1 && is_ws(p[body - 1]))
		body--;
	add(l, p, body);
	if (body > 1)
		add(l, ",", 1);
	add_str(l, "\"recv_ts\":\"");
	add(l, recv, PT_TS_LEN);
	add_str(l, "\"}\n");
	if (l->over)
		return -EMSGSIZE;
	/* Valid JSON has raw CR/LF only as whitespace between tokens. */
	for (i = 0; i + 1 < l->n; i++)
		if (l->b[i] == '\n' || l->b[i] == '\r')
			l->b[i] = ' ';
	return 0;
}

int
linefmt_reading(enum writer_format fmt, const struct pt_reading *r,
                const void *payload, size_t len, int64_t recv_us, char *buf,
                size_t cap)
{
	char ts[PT_TS_LEN + 1], recv[PT_TS_LEN + 1];
	struct line l = { buf, 0, cap, false };
	int n;

	if (r == NULL || buf == NULL)
		return -EINVAL;
	if (fmt != WRITER_TEXT &&
	    (n = pt_time_format(recv_us, recv, sizeof(recv))) < 0)
		return n;
	if (fmt != WRITER_JSONL &&
	    (n = pt_time_format(r->ts_us, ts, sizeof(ts))) < 0)
		return n;
	switch (fmt) {
	case WRITER_TEXT:       /* seq ts device temp_c */
		add_u64(&l, r->seq);
		add(&l, " ", 1);
		add(&l, ts, PT_TS_LEN);
		add(&l, " ", 1);
		add_str(&l, r->device);
		add(&l, " ", 1);
		add_fixed(&l, r->temp_c, 2);
		add(&l, "\n", 1);
		break;
	case WRITER_CSV:        /* device,boot,seq,ts,temp_c,mv,raw,recv_ts */
		add_str(&l, r->device);
		add(&l, ",", 1);
		add_str(&l, r->boot);
		add(&l, ",", 1);
		add_u64(&l, r->seq);
		add(&l, ",", 1);
		add(&l, ts, PT_TS_LEN);
		add(&l, ",", 1);
		add_fixed(&l, r->temp_c, 2);
		add(&l, ",", 1);
		if (r->has_mv)
			add_fixed(&l, r->mv, 1);
		add(&l, ",", 1);
		if (r->has_raw) {
			char num[PT_FMT_MAX];

			add(&l, num, pt_fmt_i64(num, r->raw));
		}
		add(&l, ",", 1);
		add(&l, recv, PT_TS_LEN);
		add(&l, "\n", 1);
		break;
	case WRITER_JSONL:
		if (payload == NULL || len > PT_PAYLOAD_MAX)
			return -EINVAL;
		if ((n = format_jsonl(&l, payload, len, recv)) < 0)
			return n;
		break;
	default:
		return -EINVAL;
	}
	if (l.over)
		return -EMSGSIZE;
	return (int)l.n;
}
