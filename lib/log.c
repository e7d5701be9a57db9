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

#include "pt_time.h"

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
vlog_held(const char *level, int errnum, uint64_t held, const char *fmt,
          va_list ap)
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
	if (held != 0) {
		m = snprintf(line + n, sizeof(line) - (size_t)n,
		    "; %llu more like it held back", (unsigned long long)held);
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

static void
vlog(const char *level, int errnum, const char *fmt, va_list ap)
{
	vlog_held(level, errnum, 0, fmt, ap);
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

#define LOGFN_LIMITED(name, level, gate)                            \
	void name(struct pt_ratelimit *rl, const char *fmt, ...)        \
	{                                                               \
		int saved = errno;                                          \
		uint64_t held = 0;                                          \
		va_list ap;                                                 \
		if (gate)                                                   \
			return;                                                 \
		/* -d asks for every line: the limit is off. */             \
		if (!log_debug_on &&                                        \
		    !pt_ratelimit_allow(rl, pt_time_mono_ns(), &held))      \
			return;                                                 \
		va_start(ap, fmt);                                          \
		vlog_held(level, 0, held, fmt, ap);                         \
		va_end(ap);                                                 \
		errno = saved;                                              \
	}

LOGFN_LIMITED(pt_log_info_limited, "info", 0)
LOGFN_LIMITED(pt_log_warnx_limited, "warning", 0)
LOGFN_LIMITED(pt_log_debug_limited, "debug", !log_debug_on)

void
pt_log_held(struct pt_ratelimit *rl, const char *what, int force)
{
	uint64_t n = pt_ratelimit_expired(rl, pt_time_mono_ns(), force);

	if (n > 0)
		pt_log_warnx("%s: %llu more line(s) held back", what,
		    (unsigned long long)n);
}
