/*
 * log.c: stderr logging shared by both programs. Each call writes one whole
 * line with a single write(2) so lines from paho's thread and the main
 * thread never interleave. On a terminal (not under systemd) each line
 * starts with the time and a status line may stand below them (see
 * pt_log_status).
 */
#include "pt_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pt_time.h"

static const char *log_prog = "pitemp";
static int log_debug_on;
static int log_tty = -1;        /* -1: not decided yet */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;  /* status */
static char status[256];
static size_t status_len;       /* 0: no status line shown */

/*
 * A person watching: stderr is a terminal and not the journal. systemd
 * sets JOURNAL_STREAM to the "device:inode" of the stream it gave a
 * service; a shell in a terminal that systemd started (GNOME's) inherits
 * the variable, so it counts only when it names our stderr
 * (systemd.exec(5) says to compare).
 */
static int
detect_tty(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!isatty(STDERR_FILENO))
		return 0;
	if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
		return 0;
	return 1;
}

void
pt_log_init(const char *prog, int verbose)
{
	if (prog != NULL)
		log_prog = prog;
	log_debug_on = verbose;
	if (log_tty < 0)
		log_tty = detect_tty();
}

int
pt_log_tty(void)
{
	return log_tty > 0;
}

static size_t
add(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
	if (n > cap - len)
		n = cap - len;
	memcpy(buf + len, s, n);
	return len + n;
}

/* One finished line (with its newline) to stderr; on a terminal after the
 * time, erasing the status line first and drawing it again below. */
static void
emit(const char *line, size_t n)
{
	char buf[2048 + sizeof(status) + 32], when[32];
	struct timespec ts;
	struct tm tm;
	size_t len = 0;

	if (log_tty <= 0) {
		(void)!write(STDERR_FILENO, line, n);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	len = strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(when + len, sizeof(when) - len, ".%03ld ", ts.tv_nsec / 1000000);
	pthread_mutex_lock(&log_lock);
	len = 0;
	if (status_len > 0)
		len = add(buf, len, sizeof(buf), "\r\033[K", 4);
	len = add(buf, len, sizeof(buf), when, strlen(when));
	len = add(buf, len, sizeof(buf), line, n);
	len = add(buf, len, sizeof(buf), status, status_len);
	(void)!write(STDERR_FILENO, buf, len);
	pthread_mutex_unlock(&log_lock);
}

void
pt_log_status(const char *fmt, ...)
{
	char buf[sizeof(status) + 8];
	va_list ap;
	int n;

	if (log_tty <= 0)
		return;
	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	n = vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	status_len = n < 0 ? 0 : (size_t)n >= sizeof(status) ?
	    sizeof(status) - 1 : (size_t)n;
	memcpy(buf, "\r\033[K", 4);
	memcpy(buf + 4, status, status_len);
	(void)!write(STDERR_FILENO, buf, status_len + 4);
	pthread_mutex_unlock(&log_lock);
}

void
pt_log_status_clear(void)
{
	if (log_tty <= 0)
		return;
	pthread_mutex_lock(&log_lock);
	if (status_len > 0)
		(void)!write(STDERR_FILENO, "\r\033[K", 4);
	status_len = 0;
	pthread_mutex_unlock(&log_lock);
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
	emit(line, (size_t)n);
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
