/*
 * pt_log.h: one line per event on stderr, "program: level: message"
 * (after OpenBSD's log.c). The *_warn and *_err forms append strerror(errno),
 * the *x forms do not. Data never goes through here.
 */
#ifndef PT_LOG_H
#define PT_LOG_H

#include <stdarg.h>

/* Set the program name shown on every line and whether debug lines print. */
void pt_log_init(const char *prog, int verbose);
int pt_log_verbose(void);

void pt_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
