/*
 * notify.c: sd_notify(3) by hand, so the programs need no libsystemd: the
 * protocol is one datagram on an AF_UNIX socket, stable since systemd 209.
 */
#include "pt_notify.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * NOTIFY_SOCKET -> address. "@name" is abstract (leading NUL, length
 * counts exactly the name); otherwise an absolute path.
 */
static int
notify_addr(const char *e, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(e);

	if ((e[0] != '/' && e[0] != '@') || n < 2 || n >= sizeof(sa->sun_path))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, e, n);
	if (e[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

/* state must not be NULL or empty (-EINVAL). */
int
pt_notify(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	size_t n;
	int fd = -1, rc;

	if (state == NULL || (n = strlen(state)) == 0)
		return -EINVAL;
	if (e == NULL || *e == '\0')
		return 0;
	if ((rc = notify_addr(e, &sa, &len)) < 0)
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = -errno;
		goto out;
	}
	if (sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0) {
		rc = -errno;
		goto out;
	}
	rc = 1;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

int
pt_notify_ready(void)
{
	return pt_notify("READY=1");
}

int
pt_notify_stopping(void)
{
	return pt_notify("STOPPING=1");
}

int
pt_notify_watchdog(void)
{
	return pt_notify("WATCHDOG=1");
}

/* The text is cut at 200 bytes; a newline in it would start a new key. */
int
pt_notify_status(const char *fmt, ...)
{
	char buf[8 + 200];
	va_list ap;
	int n;

	memcpy(buf, "STATUS=", 7);
	va_start(ap, fmt);
	n = vsnprintf(buf + 7, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	for (char *p = buf + 7; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return pt_notify(buf);
}

static int
parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int
pt_notify_watchdog_usec(uint64_t *usec)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	*usec = 0;
	if (us == NULL)
		return 0;
	if (parse_u64(us, &v) < 0 || v == 0)
		return -EINVAL;
	if (pid != NULL) {
		if (parse_u64(pid, &p) < 0)
			return -EINVAL;
		if (p != (uint64_t)getpid())
			return 0;	/* meant for another process */
	}
	*usec = v;
	return 0;
}

void
pt_notify_wd_init(struct pt_notify_wd *wd)
{
	uint64_t us = 0;

	memset(wd, 0, sizeof(*wd));
	if (pt_notify_watchdog_usec(&us) == 0 && us > 0 &&
	    us < (uint64_t)INT64_MAX / 1000)
		wd->interval_ns = (int64_t)(us * 1000 / 2);
}

int
pt_notify_wd_tick(struct pt_notify_wd *wd, int64_t now_ns)
{
	if (wd->interval_ns == 0)
		return 0;
	if (wd->sent && now_ns - wd->last_ns < wd->interval_ns)
		return 0;
	wd->last_ns = now_ns;
	wd->sent = 1;
	return pt_notify_watchdog();
}
