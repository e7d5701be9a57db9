/*
 * pt_utf8.h: a strict UTF-8 checker. cJSON passes any byte sequence through
 * its strings, so the codec checks the raw payload here before parsing.
 */
#ifndef PT_UTF8_H
#define PT_UTF8_H

#include <stddef.h>

/*
 * Check that the len bytes at buf are well-formed UTF-8 as RFC 3629 defines
 * it: shortest form only, no UTF-16 surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no truncated sequence. NUL bytes are well-formed UTF-8;
 * the caller decides about control characters. Returns 0, or -EILSEQ and
 * sets *bad (when not NULL) to the offset of the first byte of the first
 * ill-formed sequence. buf may be NULL only when len is 0.
 */
int pt_utf8_check(const void *buf, size_t len, size_t *bad);

#endif
