/*
 * transport_socket.c: the sensor's plain TCP transport (--mode socket): one
 * JSON reading per line, TCP_NODELAY so each reading leaves in its own
 * segment, MSG_NOSIGNAL, non-blocking so the 100 Hz loop never stalls.
 *
 * Readings wait in a bounded ring until the peer's TCP has acknowledged
 * their bytes (SIOCOUTQ tells how much of what we wrote is still
 * unacknowledged), not merely until write() took them: when the connection
 * breaks, every reading the peer had not acknowledged is sent again on the
 * next connection, oldest first. The sink drops the few it already had
 * (dedup on device, boot, seq), so a sink restart or a link cut loses
 * nothing the sensor still held. A line cut short by a broken connection is
 * discarded by the sink and sent again whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pt_log.h"
#include "pt_reading.h"
#include "pt_time.h"
#include "transport.h"

#define RETRY_MIN_MS    250
#define RETRY_MAX_MS    10000
#define USER_TIMEOUT_MS 10000   /* unacknowledged data: give the link up */

struct slot {
	uint16_t len;                   /* with the '\n' */
	char     data[PT_PAYLOAD_MAX + 1];
};

struct sock_transport {
	struct transport    base;
	char               *host;
	int                 port;
	int                 fd;             /* -1: no connection */
	int                 connecting;     /* non-blocking connect under way */
	int64_t             retry_at_ns;
	int                 retry_ms;
	int                 failures;       /* consecutive, for quieter logs */

	struct slot        *ring;
	size_t              cap, head, count;
	size_t              sent_lines;     /* ring lines fully written on this connection */
	size_t              sent_off;       /* bytes of the next line written */
	uint64_t            written;        /* bytes written on this connection */
	uint64_t            retired;        /* bytes of lines acknowledged and popped */

	struct transport_counters c;
};

static void retire_acked(struct sock_transport *s);

static void
drop_connection(struct sock_transport *s, const char *why, int err)
{
	if (s->fd >= 0 && !s->connecting)
		retire_acked(s);        /* what the peer did acknowledge is done */
	if (s->fd >= 0) {
		if (!s->connecting && s->count == 0)
			pt_log_info("connection to %s:%d ended: %s%s%s", s->host, s->port,
			    why, err ? ": " : "", err ? strerror(err) : "");
		else if (!s->connecting)
			pt_log_warnx("connection to %s:%d lost: %s%s%s; %zu reading(s) "
			    "kept to send again", s->host, s->port, why,
			    err ? ": " : "", err ? strerror(err) : "", s->count);
		close(s->fd);
	}
	s->fd = -1;
	s->connecting = 0;
	s->c.connected = 0;
	s->sent_lines = 0;
	s->sent_off = 0;
	s->written = 0;
	s->retired = 0;
	s->retry_at_ns = pt_time_mono_ns() + (int64_t)s->retry_ms * 1000000;
	s->retry_ms = s->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : s->retry_ms * 2;
}

static void
set_sockopts(int fd)
{
	int one = 1;
	unsigned int user_timeout = USER_TIMEOUT_MS;

	/* One segment per reading, as soon as it is written. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A cut link shows up as an error after 10 s of unacknowledged data,
	 * not after the kernel's default of ~15 minutes of retransmissions. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
	    sizeof(user_timeout));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static void
try_connect(struct sock_transport *s)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int rc, fd = -1, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", s->port);
	if ((rc = getaddrinfo(s->host, port, &hints, &res)) != 0) {
		if (s->failures++ == 0)
			pt_log_warnx("cannot resolve %s: %s; retrying", s->host,
			    gai_strerror(rc));
		drop_connection(s, "resolve", 0);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		set_sockopts(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (s->failures++ == 0)
			pt_log_warnx("cannot connect to %s:%d: %s; retrying", s->host,
			    s->port, strerror(err));
		drop_connection(s, "connect", err);
		return;
	}
	s->fd = fd;
	s->connecting = 1;
}

/* A non-blocking connect finished? */
static void
check_connect(struct sock_transport *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 0) <= 0)
		return;
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		if (s->failures++ == 0 || s->failures % 10 == 0)
			pt_log_warnx("cannot connect to %s:%d: %s; retrying", s->host,
			    s->port, strerror(err));
		drop_connection(s, "connect", err);
		return;
	}
	s->connecting = 0;
	s->failures = 0;
	s->c.connected = 1;
	s->c.connects++;
	pt_log_info("connected to %s:%d", s->host, s->port);
}

/* Pop the lines whose every byte the peer's TCP has acknowledged. */
static void
retire_acked(struct sock_transport *s)
{
	int outq = 0;
	uint64_t acked;

	if (ioctl(s->fd, SIOCOUTQ, &outq) < 0)
		return;
	acked = s->written - (uint64_t)outq;
	while (s->sent_lines > 0 && s->retired + s->ring[s->head].len <= acked) {
		s->retired += s->ring[s->head].len;
		s->head = (s->head + 1) % s->cap;
		s->count--;
		s->sent_lines--;
		s->c.delivered++;
		/* Only a peer that takes readings resets the backoff: one that
		 * accepts and hangs up (a full sink) is retried ever more slowly. */
		s->retry_ms = RETRY_MIN_MS;
	}
}

/* Write what the socket takes, in order. */
static void
send_pending(struct sock_transport *s)
{
	while (s->sent_lines < s->count) {
		struct slot *sl = &s->ring[(s->head + s->sent_lines) % s->cap];
		ssize_t n = send(s->fd, sl->data + s->sent_off, sl->len - s->sent_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				drop_connection(s, "send", errno);
			return;
		}
		s->written += (uint64_t)n;
		s->sent_off += (size_t)n;
		if (s->sent_off == sl->len) {
			s->sent_lines++;
			s->sent_off = 0;
		}
	}
}

/* The sink never talks: readable means closed (or reset). */
static void
check_peer(struct sock_transport *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	char buf[64];
	ssize_t n;

	if (poll(&p, 1, 0) <= 0)
		return;
	n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0)
		drop_connection(s, "closed by the peer", 0);
	else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		drop_connection(s, "receive", errno);
}

static int
s_poll(struct transport *t)
{
	struct sock_transport *s = (struct sock_transport *)t;

	if (s->fd < 0 && pt_time_mono_ns() >= s->retry_at_ns)
		try_connect(s);
	if (s->fd >= 0 && s->connecting)
		check_connect(s);
	if (s->fd >= 0 && !s->connecting) {
		retire_acked(s);
		check_peer(s);
		if (s->fd >= 0)
			send_pending(s);
	}
	return 0;
}

static int
s_start(struct transport *t)
{
	return s_poll(t);
}

static int
s_publish(struct transport *t, const char *payload, size_t len)
{
	struct sock_transport *s = (struct sock_transport *)t;
	struct slot *sl;

	if (len > PT_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (s->count == s->cap) {
		(void)s_poll(t);        /* acknowledgements may free room */
		if (s->count == s->cap)
			return -ENOBUFS;
	}
	sl = &s->ring[(s->head + s->count) % s->cap];
	memcpy(sl->data, payload, len);
	sl->data[len] = '\n';
	sl->len = (uint16_t)(len + 1);
	s->count++;
	s->c.published++;
	return s_poll(t);
}

static int
s_flush(struct transport *t, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	int64_t until = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		(void)s_poll(t);
		if (s->count == 0)
			return 0;
		if (pt_time_mono_ns() >= until)
			return -ETIMEDOUT;
		/* Acknowledgements arrive without waking us: nap briefly. */
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		(void)poll(&p, s->fd >= 0 ? 1 : 0, 5);
	}
}

static int
s_stop(struct transport *t, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	int rc = s_flush(t, timeout_ms);

	if (s->fd >= 0) {
		shutdown(s->fd, SHUT_WR);
		close(s->fd);
		s->fd = -1;
	}
	s->c.connected = 0;
	return rc;
}

static void
s_counters(struct transport *t, struct transport_counters *out)
{
	*out = ((struct sock_transport *)t)->c;
}

static void
s_free(struct transport *t)
{
	struct sock_transport *s = (struct sock_transport *)t;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->ring);
	free(s->host);
	free(s);
}

static const struct transport_ops socket_ops = {
	.name = "socket",
	.start = s_start,
	.publish = s_publish,
	.poll = s_poll,
	.flush = s_flush,
	.stop = s_stop,
	.counters = s_counters,
	.free = s_free,
};

struct transport *
transport_socket_new(const struct transport_cfg *tc, char *err, size_t err_cap)
{
	struct sock_transport *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	s->base.ops = &socket_ops;
	s->fd = -1;
	s->port = tc->opts->port;
	s->retry_ms = RETRY_MIN_MS;
	s->cap = tc->buffer > 0 ? tc->buffer : 1000;
	if ((s->host = strdup(tc->opts->host)) == NULL ||
	    (s->ring = calloc(s->cap, sizeof(*s->ring))) == NULL)
		goto nomem;
	return &s->base;
nomem:
	snprintf(err, err_cap, "out of memory");
	s_free(s ? &s->base : NULL);
	errno = ENOMEM;
	return NULL;
}
