/*
 * pt_notify.h: the systemd notification protocol (sd_notify(3)) without
 * libsystemd: one datagram "KEY=VALUE\n..." to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@').
 * With Type=notify the unit is "started" at READY=1, and with WatchdogSec=
 * it is restarted when WATCHDOG=1 stops arriving.
 *
 * Every sender returns as sd_notify does: 1 sent, 0 not run under systemd
 * (no NOTIFY_SOCKET: nothing to do), or -errno.
 */
#ifndef PT_NOTIFY_H
#define PT_NOTIFY_H

#include <stdint.h>

/* Send state verbatim ("READY=1", "STATUS=..."; several lines allowed). */
int pt_notify(const char *state);
/* READY=1: started up (options read, source open, transport started). */
int pt_notify_ready(void);
/* STOPPING=1: shutting down. */
int pt_notify_stopping(void);
/* WATCHDOG=1: still alive. */
int pt_notify_watchdog(void);
/* STATUS=<formatted text>, shown by systemctl status. */
int pt_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The watchdog interval systemd asked for: *usec from $WATCHDOG_USEC, or 0
 * when there is none or $WATCHDOG_PID names another process (the variable
 * was inherited). 0, or -EINVAL (with *usec 0) for a malformed value.
 */
int pt_notify_watchdog_usec(uint64_t *usec);

/*
 * Watchdog pacing for a main loop: init reads the interval; tick sends
 * WATCHDOG=1 when half of it has passed since the last ping (systemd's
 * advice), and does nothing when the watchdog is off. now_ns is
 * CLOCK_MONOTONIC. tick returns as pt_notify_watchdog, or 0 when not due.
 */
struct pt_notify_wd {
	int64_t interval_ns;    /* half of WATCHDOG_USEC; 0 = off */
	int64_t last_ns;
	int     sent;           /* a ping has gone out */
};
void pt_notify_wd_init(struct pt_notify_wd *wd);
int  pt_notify_wd_tick(struct pt_notify_wd *wd, int64_t now_ns);

#endif
