/*
 * transport_socket.c: the sensor's plain TCP transport (--mode socket): one
 * JSON reading per line, TCP_NODELAY so each reading leaves in its own
 * segment, MSG_NOSIGNAL, non-blocking so the 100 Hz loop never stalls.
 *
 * Readings wait in a bounded ring until the sink says it stored them (or
 * rejected them for good): the sensor opens each connection with a hello,
 * a pitemp-sink answers it with a greeting and then cumulative acks
 * (pt_ack.h). The kernel's TCP acknowledgement
 * is not the sink's: bytes its kernel took can still be lost unread, so
 * only an ack retires a reading. When the connection breaks, every reading
 * not answered is sent again on the next connection, oldest first; the sink
 * drops those it already had (dedup on device, boot, seq). A line cut short
 * by a broken connection is discarded by the sink and sent again whole.
 *
 * A peer that is not a pitemp-sink (`nc -l`, an older sink) sends no
 * greeting. After GREETING_MS the sensor says so once and goes on
 * streaming to it, but counts nothing as delivered: readings stay in the
 * ring as if unanswered, and only when the ring is full is the oldest one
 * already written let go (counted as unacked) to make room, so the stream
 * goes on and memory stays bounded. A pitemp-sink that greets late (a
 * stalled sink) still gets, and answers for, everything in the ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pt_log.h"
#include "pt_time.h"
#include "socket_int.h"

void
sock_drop_connection(struct sock_transport *s, const char *why, int err)
{
	if (s->fd >= 0) {
		if (s->stopping || s->connecting)
			;       /* our own end, or no connection yet: nothing to say */
		else if (s->count == 0)
			pt_log_info("connection to %s:%d ended: %s%s%s", s->host, s->port,
			    why, err ? ": " : "", err ? strerror(err) : "");
		else
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
		sock_drop_connection(s, "resolve", 0);
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
		sock_drop_connection(s, "connect", err);
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
		sock_drop_connection(s, "connect", err);
		return;
	}
	s->connecting = 0;
	s->failures = 0;
	s->c.connected = 1;
	s->c.connects++;
	s->peer = PEER_UNKNOWN;
	s->connected_ns = pt_time_mono_ns();
	s->gone = 0;
	s->rejected = 0;
	s->hello_off = 0;
	pt_linebuf_reset(&s->in);
	pt_log_info("connected to %s:%d", s->host, s->port);
}

/* Take n lines off the head of the ring. */
void
sock_pop_lines(struct sock_transport *s, size_t n)
{
	s->head = (s->head + n) % s->cap;
	s->count -= n;
	s->sent_lines -= n;
	s->gone += n;
}

/* Write what the socket takes, in order: the hello, then the readings. */
static void
send_pending(struct sock_transport *s)
{
	while (s->hello_off < s->hello_len) {
		ssize_t n = send(s->fd, s->hello + s->hello_off,
		    s->hello_len - s->hello_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				sock_drop_connection(s, "send", errno);
			return;
		}
		s->hello_off += (size_t)n;
	}
	while (s->sent_lines < s->count) {
		struct slot *sl = &s->ring[(s->head + s->sent_lines) % s->cap];
		ssize_t n = send(s->fd, sl->data + s->sent_off, sl->len - s->sent_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				sock_drop_connection(s, "send", errno);
			return;
		}
		s->sent_off += (size_t)n;
		if (s->sent_off == sl->len) {
			s->sent_lines++;
			s->sent_off = 0;
		}
	}
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
		sock_read_peer(s);
		if (s->fd >= 0 && s->peer == PEER_UNKNOWN &&
		    pt_time_mono_ns() - s->connected_ns > (int64_t)GREETING_MS * 1000000)
			sock_become_plain(s, NULL, 0);
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
		(void)s_poll(t);        /* acks may free room */
		/* A peer that acknowledges nothing: let the oldest reading it was
		 * sent go (not delivered, as far as anyone knows). */
		if (s->count == s->cap && s->fd >= 0 && s->peer == PEER_PLAIN &&
		    s->sent_lines > 0) {
			sock_pop_lines(s, 1);
			s->c.unacked++;
		}
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

/* Everything written to a peer that will never answer for it. */
static int
all_sent_unanswerable(const struct sock_transport *s)
{
	return s->fd >= 0 && !s->connecting && s->peer == PEER_PLAIN &&
	    s->hello_off == s->hello_len && s->sent_lines == s->count &&
	    s->sent_off == 0;
}

static int
s_wait(struct transport *t, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	int64_t until = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		(void)s_poll(t);
		/* Room, or a peer that never answers: publish lets the oldest
		 * reading already written go (see s_publish). */
		if (s->count < s->cap || (s->fd >= 0 && s->peer == PEER_PLAIN &&
		    s->sent_lines > 0))
			return 0;
		if (pt_time_mono_ns() >= until)
			return -ETIMEDOUT;
		/* The sink's acks make the socket readable; so does its end. A
		 * short nap also covers room to write and the greeting timer. */
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		(void)poll(&p, s->fd >= 0 ? 1 : 0, 1);
	}
}

static int
s_flush(struct transport *t, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	int64_t until = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int64_t left;

		(void)s_poll(t);
		if (s->count == 0)
			return 0;
		if (all_sent_unanswerable(s))
			return -EPROTO;
		if ((left = until - pt_time_mono_ns()) <= 0)
			return -ETIMEDOUT;
		/* Acks wake us; so does room to write, or a reconnect due. */
		struct pollfd p = { .fd = s->fd, .events = POLLIN };

		if (s->sent_lines < s->count || s->hello_off < s->hello_len ||
		    s->connecting)
			p.events |= POLLOUT;
		left /= 1000000;
		(void)poll(&p, s->fd >= 0 ? 1 : 0, left < 50 ? (int)left + 1 : 50);
	}
}

/* Our FIN is out: take the last acks and wait for the peer's FIN, briefly,
 * so the connection ends in order (no reset over unread acks). */
static void
finish_reading(struct sock_transport *s)
{
	int64_t until = pt_time_mono_ns() + (int64_t)STOP_READ_MS * 1000000;

	while (s->fd >= 0 && pt_time_mono_ns() < until) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			sock_read_peer(s);
	}
}

static int
s_stop(struct transport *t, int timeout_ms)
{
	struct sock_transport *s = (struct sock_transport *)t;
	/* Not connected: nothing can be acknowledged, so do not wait. */
	int rc = s->c.connected ? s_flush(t, timeout_ms) :
	    s->count > 0 ? -ETIMEDOUT : 0;

	if (s->fd >= 0 && !s->connecting) {
		shutdown(s->fd, SHUT_WR);
		s->stopping = 1;
		finish_reading(s);
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->c.connected = 0;
	return s->count == 0 ? 0 : rc == 0 ? -ETIMEDOUT : rc;
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
	.wait = s_wait,
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
	(void)pt_linebuf_init(&s->in, s->inbuf, sizeof(s->inbuf), PT_ACK_LINE_MAX);
	s->hello_len = (size_t)pt_ack_hello(s->hello, sizeof(s->hello));
	pt_ratelimit_init(&s->rl_peer, PT_RATELIMIT_BURST, PT_RATELIMIT_PERIOD_NS);
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
