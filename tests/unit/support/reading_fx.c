/*
 * reading_fx.c: see reading_fx.h.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "reading_fx.h"

struct pt_reading
reading(uint64_t seq, int with_extras)
{
	struct pt_reading r;

	memset(&r, 0, sizeof(r));
	strcpy(r.device, "pi-sensor-1");
	strcpy(r.boot, "5f0c2a9e41d3b7a8");
	r.seq = seq;
	r.ts_us = TS_US;
	r.temp_c = 22.53;
	r.has_mv = with_extras;
	r.mv = 725.3;
	r.has_raw = with_extras;
	r.raw = 225;
	return r;
}

/* The whole file as a string (static buffer); "" when missing. */
const char *
slurp(const char *path)
{
	static char buf[8192];
	ssize_t n = 0;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}
