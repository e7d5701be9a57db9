/*
 * opts_config.c: what a line of a --config file may hold, byte by byte
 * (see pt_opts.h); opts.c reads the file and parses its options.
 */
#include "pt_opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
pt_opts_config_bytes(const char *line, size_t len, const char *path,
                     unsigned lineno, char *err, size_t err_cap)
{
	const char *p;

	if ((p = memchr(line, '\0', len)) != NULL) {
		snprintf(err, err_cap, "config %s line %u: NUL byte at column %zu",
		    path, lineno, (size_t)(p - line) + 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		/* The line's end (CR LF, LF) and tabs are whitespace. */
		if (ch == '\t' || ((ch == '\r' || ch == '\n') && i + 2 >= len))
			continue;
		if (ch < 0x20 || ch == 0x7f) {
			snprintf(err, err_cap, "config %s line %u: control character "
			    "0x%02x at column %zu", path, lineno, ch, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}
