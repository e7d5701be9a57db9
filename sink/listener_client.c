/*
 * listener_client.c: one connection of the sink's socket listener (see
 * listener_int.h): read what the peer sends into its fixed buffer, frame it
 * into lines (pt_linebuf.h), hand each to on_line, and answer a peer that
 * said hello (pt_ack.h) with cumulative acks; close it, abruptly or in
 * order.
 */
#include "listener_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pt_ack.h"
#include "pt_log.h"
#include "pt_time.h"

static void
set_events(struct listener *l, struct client *c, int want_out)
{
	struct epoll_event ev;

	if (c->want_out == want_out)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(l->efd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want_out;
}

/*
 * Send what is queued for c, then an ack if lines were answered since the
 * last one. Never blocks: what the socket does not take waits for
 * EPOLLOUT. A send error is left for the read side to see.
 */
void
client_flush(struct listener *l, struct client *c)
{
	for (int round = 0; round < 2 && c->acking && !c->closing; round++) {
		if (c->out_len == 0 && (c->answered != c->ack_answered ||
		    c->rejected != c->ack_rejected)) {
			int n = pt_ack_format(c->out, sizeof(c->out), c->answered,
			    c->rejected);

			if (n < 0)
				break;
			c->out_len = (size_t)n;
			c->ack_answered = c->answered;
			c->ack_rejected = c->rejected;
		}
		if (c->out_len == 0)
			break;
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	set_events(l, c, c->out_len > 0 && !c->closing);
}

void
client_close(struct listener *l, struct client *c, const char *why)
{
	size_t torn;

	if (c->fd < 0)
		return;
	if ((torn = pt_linebuf_pending(&c->in)) > 0)
		pt_log_warnx_limited(&l->rl[RL_TORN], "client %s: %zu byte(s) of an "
		    "unfinished line discarded", c->peer, torn);
	pt_log_info_limited(&l->rl[RL_DISCONNECT], "client %s disconnected (%s) "
	    "after %llu line(s)", c->peer, why, c->lines);
	epoll_ctl(l->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	pt_linebuf_reset(&c->in);
	if (c->served)
		l->nclients--;
	c->served = 0;
	c->closing = 0;
}

/* Send a FIN and keep reading until the peer closes (or CLOSING_MS). */
void
client_begin_close(struct listener *l, struct client *c)
{
	if (c->closing)
		return;
	if (c->served)
		l->nclients--;
	c->served = 0;
	if (c->out_len > 0 || c->answered != c->ack_answered)
		client_flush(l, c);     /* last acks, if the socket takes them */
	set_events(l, c, 0);
	shutdown(c->fd, SHUT_WR);
	c->closing = 1;
	c->close_by_ns = pt_time_mono_ns() + (int64_t)CLOSING_MS * 1000000;
}

/* The first line of a pitemp-sensor: "pitemp-sensor 1" (pt_ack.h). */
static int
is_hello(const char *line, size_t len)
{
	struct pt_ack_msg m;

	return pt_ack_parse(line, len, &m) == PT_ACK_HELLO &&
	    m.version == PT_ACK_VERSION;
}

/* Answer the hello: the greeting now (it leaves with the first ack), acks
 * from here on. Acks go out as soon as lines are stored: no Nagle wait. */
static void
start_acking(struct client *c)
{
	int n = pt_ack_greeting(c->out, sizeof(c->out));

	if (n < 0)
		return;
	c->acking = 1;
	c->out_len = (size_t)n;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
}

/* Hand every complete line in the buffer over; keep the rest. */
static int
split_lines(struct listener *l, struct client *c)
{
	const char *line;
	size_t len;
	int rc;

	while ((rc = pt_linebuf_next(&c->in, &line, &len)) == 1) {
		if (c->lines == 0 && !c->acking && is_hello(line, len)) {
			start_acking(c);
			continue;
		}
		c->lines++;
		switch (l->cfg.on_line(l->cfg.ctx, c->peer, line, len)) {
		case LISTENER_STORED:
			c->answered++;
			break;
		case LISTENER_REJECTED:
			c->answered++;
			c->rejected++;
			break;
		default:
			return -EIO;
		}
	}
	if (rc == -EMSGSIZE)
		pt_log_warnx_limited(&l->rl[RL_LONG], "client %s: line of %zu "
		    "bytes is over the %zu-byte limit; closing", c->peer, len,
		    l->cfg.max_line);
	else if (rc == -E2BIG)
		pt_log_warnx_limited(&l->rl[RL_LONG], "client %s: line longer than "
		    "the %zu-byte limit; closing", c->peer, l->cfg.max_line);
	return rc < 0 ? -EMSGSIZE : 0;
}

void
read_client(struct listener *l, struct client *c)
{
	size_t room;
	char *at = pt_linebuf_space(&c->in, &room);
	ssize_t n = recv(c->fd, at, room, 0);
	int rc;

	if (n == 0) {
		client_close(l, c, "closed by the peer");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			client_close(l, c, strerror(errno));
		return;
	}
	pt_linebuf_added(&c->in, (size_t)n);
	c->last_ns = pt_time_mono_ns();
	rc = split_lines(l, c);
	if (rc == -EMSGSIZE) {
		pt_linebuf_reset(&c->in);
		client_close(l, c, "line too long");
	} else if (rc < 0) {
		/* A line the sink did not store: answer what came before it,
		 * then end in order and answer nothing more; the sensor sends
		 * the rest again on its next connection. */
		pt_linebuf_reset(&c->in);
		if (!c->closing) {
			client_flush(l, c);
			client_begin_close(l, c);
		}
	} else {
		client_flush(l, c);
	}
}
