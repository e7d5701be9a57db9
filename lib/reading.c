/*
 * reading.c: what the reading model needs at run time (pt_reading.h): a
 * fresh boot id for each sensor process, or each simulated sensor.
 */
#include "pt_reading.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/types.h>

int
pt_reading_boot_id(char out[PT_BOOT_LEN + 1])
{
	unsigned char b[PT_BOOT_LEN / 2];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return n < 0 ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}
