/*
 * utf8.c: strict UTF-8 validation (RFC 3629, Unicode table 3-7). Written as
 * a table of the valid second-byte ranges so overlongs and surrogates are
 * refused by the same comparison that checks continuation bytes.
 */
#include "pt_utf8.h"

#include <errno.h>
#include <stdint.h>

int
pt_utf8_check(const void *buf, size_t len, size_t *bad)
{
	const uint8_t *p = buf;
	size_t i = 0, need, k;
	uint8_t c, lo, hi;

	while (i < len) {
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* Lead byte: how many continuation bytes, and the range the
		 * first of them must fall in (Unicode table 3-7). */
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c == 0xe0) {
			need = 2;
			lo = 0xa0;      /* no overlong 3-byte forms */
		} else if (c == 0xed) {
			need = 2;
			hi = 0x9f;      /* no surrogates */
		} else if (c >= 0xe1 && c <= 0xef)
			need = 2;
		else if (c == 0xf0) {
			need = 3;
			lo = 0x90;      /* no overlong 4-byte forms */
		} else if (c >= 0xf1 && c <= 0xf3)
			need = 3;
		else if (c == 0xf4) {
			need = 3;
			hi = 0x8f;      /* nothing above U+10FFFF */
		} else
			goto fail;      /* 0x80..0xc1, 0xf5..0xff */
		if (len - i - 1 < need)
			goto fail;
		if (p[i + 1] < lo || p[i + 1] > hi)
			goto fail;
		for (k = 2; k <= need; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				goto fail;
		i += need + 1;
	}
	return 0;
fail:
	if (bad != NULL)
		*bad = i;
	return -EILSEQ;
}
