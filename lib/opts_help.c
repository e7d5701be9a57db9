/*
 * opts_help.c: what --help says after the option table: the exit codes,
 * what SIGINT/SIGTERM do, and the environment variables each program reads.
 * docs/spec.md and the man pages say the same; tests/integration/
 * test_docs.py checks that every variable named here is documented there.
 */
#include "pt_opts.h"

static const char usage_sensor_tail[] =
    "\nexit status:\n"
    "  0  success: --count readings delivered, replay file ended, or SIGINT/SIGTERM\n"
    "  1  runtime failure: refused by the broker, source failed, readings undelivered\n"
    "  2  usage or configuration error (the message names the option)\n"
    "  SIGINT/SIGTERM: publish offline, flush, disconnect, all within 5 s (at once\n"
    "  when not connected; what is left is counted in one line), exit 0\n"
    "\nenvironment:\n"
    "  PITEMP_PASSWORD      MQTT password when neither -P nor --password-file is given\n"
    "  NOTIFY_SOCKET        set by systemd (Type=notify): readiness and status\n"
    "  WATCHDOG_USEC        set by systemd (WatchdogSec=): ping at half this interval\n"
    "  PITEMP_SYSFS_ROOT    replaces /sys when an iio: source looks a name up (tests)\n"
    "  JOURNAL_STREAM       set by systemd: when it names stderr, no times on lines\n"
    "\nSee pitemp-sensor(1).\n";
static const char usage_sink_tail[] =
    "\nexit status:\n"
    "  0  success: --count readings stored, or a logger (--count 0) stopped by a signal\n"
    "  1  runtime failure: refused by the broker, output not writable, or stopped\n"
    "     by SIGINT/SIGTERM before --count readings (kept in FILE.partial)\n"
    "  2  usage or configuration error (the message names the option)\n"
    "  3  timeout: --timeout expired before --count readings (kept in FILE.partial),\n"
    "     or ended a logger (--count 0)\n"
    "\nenvironment:\n"
    "  PITEMP_PASSWORD      MQTT password when neither -P nor --password-file is given\n"
    "  NOTIFY_SOCKET        set by systemd (Type=notify): readiness\n"
    "  WATCHDOG_USEC        set by systemd (WatchdogSec=): ping at half this interval\n"
    "  JOURNAL_STREAM       set by systemd: when it names stderr, no times on lines and\n"
    "                       no progress line (those are for a terminal)\n"
    "\nSee pitemp-sink(1).\n";

const char *
pt_opts_usage_tail(enum pt_prog prog)
{
	return prog == PT_PROG_SENSOR ? usage_sensor_tail : usage_sink_tail;
}
