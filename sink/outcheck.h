/*
 * outcheck.h: what the sink can know about a file --output before it
 * receives anything: that it is not a directory, that its directory
 * exists, and, when appending, that the file holds the same --format (a
 * text line after a CSV header would make a file neither can read).
 */
#ifndef OUTCHECK_H
#define OUTCHECK_H

#include <stddef.h>

/*
 * Check path ("-" always passes) for format ("text", "csv", "jsonl"),
 * appending (append != 0: a logger's existing file is kept and added to)
 * or replacing. 0, or -EINVAL with a message naming the option, the file
 * and, for a mismatch, both formats in err (the caller exits 2).
 */
int output_check(const char *path, const char *format, int append, char *err,
                 size_t err_cap);

/* The format of a file whose first bytes are head (len bytes): "text",
 * "csv", "jsonl", "sqlite", or NULL when it is none of them. */
const char *output_format_of(const char *head, size_t len);

#endif
