/*
 * ack.c: see pt_ack.h.
 */
#include "pt_ack.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HELLO    "pitemp-sensor "
#define GREETING "pitemp-sink "

int
pt_ack_hello(char *buf, size_t cap)
{
	int n = snprintf(buf, cap, HELLO "%d\n", PT_ACK_VERSION);

	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int
pt_ack_greeting(char *buf, size_t cap)
{
	int n = snprintf(buf, cap, GREETING "%d\n", PT_ACK_VERSION);

	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int
pt_ack_format(char *buf, size_t cap, uint64_t answered, uint64_t rejected)
{
	int n;

	if (rejected > answered)
		return -EINVAL;
	if (rejected == 0)
		n = snprintf(buf, cap, "ack %llu\n", (unsigned long long)answered);
	else
		n = snprintf(buf, cap, "ack %llu %llu\n", (unsigned long long)answered,
		    (unsigned long long)rejected);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* A decimal number at s[*i] up to a space or the end: no sign, no leading
 * zero, no overflow. 0 or -EINVAL. */
static int
number(const char *s, size_t len, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		unsigned d = (unsigned)(s[*i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start || (s[start] == '0' && *i - start > 1))
		return -EINVAL;
	if (*i < len && s[*i] != ' ')
		return -EINVAL;
	*out = v;
	return 0;
}

/* "<word> <version>": 0 and *v (>= 1), or -EINVAL. */
static int
version_line(const char *line, size_t len, const char *word, uint64_t *v)
{
	size_t i = strlen(word);

	if (len <= i || memcmp(line, word, i) != 0 ||
	    number(line, len, &i, v) < 0 || i != len || *v == 0)
		return -EINVAL;
	return 0;
}

enum pt_ack_kind
pt_ack_parse(const char *line, size_t len, struct pt_ack_msg *m)
{
	size_t i;
	uint64_t v;

	memset(m, 0, sizeof(*m));
	if (len > 0 && line[0] == '#')
		return PT_ACK_COMMENT;
	if (len > 4 && memcmp(line, "ack ", 4) == 0) {
		i = 4;
		if (number(line, len, &i, &m->answered) < 0)
			return PT_ACK_UNKNOWN;
		if (i < len) {
			i++;
			if (number(line, len, &i, &m->rejected) < 0 || i != len ||
			    m->rejected == 0 || m->rejected > m->answered)
				return PT_ACK_UNKNOWN;
		}
		return PT_ACK_ACK;
	}
	if (version_line(line, len, GREETING, &v) == 0) {
		m->version = (unsigned long)v;
		return PT_ACK_GREETING;
	}
	if (version_line(line, len, HELLO, &v) == 0) {
		m->version = (unsigned long)v;
		return PT_ACK_HELLO;
	}
	return PT_ACK_UNKNOWN;
}
