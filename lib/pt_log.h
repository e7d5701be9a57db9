/*
 * pt_log.h: one line per event on stderr, "program: level: message"
 * (after OpenBSD's log.c). The *_warn and *_err forms append strerror(errno),
 * the *x forms do not. Data never goes through here.
 */
#ifndef PT_LOG_H
#define PT_LOG_H

#include <stdarg.h>

#include "pt_ratelimit.h"

/* Set the program name shown on every line and whether debug lines print. */
void pt_log_init(const char *prog, int verbose);
int pt_log_verbose(void);

/*
 * 1 when stderr is a terminal and not systemd's journal (JOURNAL_STREAM
 * does not name it): then every line starts with the local time
 * (HH:MM:SS.mmm) and pt_log_status shows. Decided by the first
 * pt_log_init.
 */
int pt_log_tty(void);

/*
 * On a terminal (pt_log_tty), one line of status that stays below the log
 * and is rewritten in place (\r, erase line): each call replaces it, log
 * lines are printed above it; pt_log_status_clear erases it (do so before
 * the last lines). Elsewhere both do nothing. Any thread.
 */
void pt_log_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_status_clear(void);

void pt_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pt_log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The same through a rate limit (pt_ratelimit.h), for lines an outside
 * party can trigger at will: at most rl's burst lines per period; the first
 * line after some were held back ends with "; N more like it held back".
 * With debug logging on (-d) every line is printed. The caller guards rl
 * (its thread or its lock).
 */
void pt_log_info_limited(struct pt_ratelimit *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pt_log_warnx_limited(struct pt_ratelimit *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pt_log_debug_limited(struct pt_ratelimit *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Say how many lines rl held back, once its window is over and no line has
 * said it yet (call it every second or so, and with force at exit):
 * "<what>: N more line(s) held back". what names the cause.
 */
void pt_log_held(struct pt_ratelimit *rl, const char *what, int force);

#endif
