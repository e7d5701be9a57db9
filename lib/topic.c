/*
 * topic.c: MQTT topic name and filter syntax (see pt_topic.h).
 */
#include "pt_topic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pt_utf8.h"

/* The code point starting at s (well-formed UTF-8, checked before). */
static unsigned
code_point(const unsigned char *s, size_t *len)
{
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xe0) {
		*len = 2;
		return ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
	}
	if (s[0] < 0xf0) {
		*len = 3;
		return ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
	}
	*len = 4;
	return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) |
	    ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
}

int
pt_topic_check(const char *s, int filter, char *why, size_t cap)
{
	size_t n = strlen(s), bad, len;
	unsigned cp;

	if (n == 0) {
		snprintf(why, cap, "is empty");
		return -EINVAL;
	}
	if (n > PT_TOPIC_MAX) {
		snprintf(why, cap, "is %zu bytes long, longer than MQTT's %d", n,
		    PT_TOPIC_MAX);
		return -EINVAL;
	}
	if (pt_utf8_check(s, n, &bad) < 0) {
		snprintf(why, cap, "is not valid UTF-8 (at byte %zu)", bad);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i += len) {
		cp = code_point((const unsigned char *)s + i, &len);
		if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) {
			snprintf(why, cap, "has a control character (U+%04X at byte %zu)",
			    cp, i);
			return -EINVAL;
		}
		if (cp != '+' && cp != '#')
			continue;
		if (!filter) {
			snprintf(why, cap, "has the wildcard '%c': a topic to publish on "
			    "names one topic", (char)cp);
			return -EINVAL;
		}
		/* A wildcard is a whole level: '/' (or the start) before it,
		 * '/' (or the end) after it; '#' also ends the filter. */
		if ((i > 0 && s[i - 1] != '/') ||
		    (s[i + 1] != '\0' && (cp == '#' || s[i + 1] != '/'))) {
			snprintf(why, cap, cp == '#' ?
			    "has '#' at byte %zu: '#' must be the whole last level (a/#)" :
			    "has '+' at byte %zu: '+' must be a whole level (a/+/b)", i);
			return -EINVAL;
		}
	}
	return 0;
}
