/*
 * log.c: stderr logging shared by both programs. Each call writes one whole
 * line with a single write(2) so lines from paho's thread and the main
 * thread never interleave.
 */
#include "pt_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "pitemp";
static int log_debug_on;

void
pt_log_init(const char *prog, int verbose)
{
	if (prog != NULL)
		log_prog = prog;
	log_debug_on = verbose;
}

int
pt_log_verbose(void)
{
	return log_debug_on;
}

static void
vlog(const char *level, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	n = snprintf(line, sizeof(line), "%s: %s: ", log_prog, level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	if (errnum != 0) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnum));
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#define LOGFN(name, level, use_errno, gate)                 \
	void name(const char *fmt, ...)                         \
	{                                                       \
		int saved = errno;                                  \
		va_list ap;                                         \
		if (gate)                                           \
			return;                                         \
		va_start(ap, fmt);                                  \
		vlog(level, (use_errno) ? saved : 0, fmt, ap);      \
		va_end(ap);                                         \
		errno = saved;                                      \
	}

LOGFN(pt_log_debug, "debug", 0, !log_debug_on)
LOGFN(pt_log_info, "info", 0, 0)
LOGFN(pt_log_warn, "warning", 1, 0)
LOGFN(pt_log_warnx, "warning", 0, 0)
LOGFN(pt_log_err, "error", 1, 0)
LOGFN(pt_log_errx, "error", 0, 0)
