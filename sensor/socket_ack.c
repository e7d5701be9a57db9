/*
 * socket_ack.c: the sensor's side of socket mode's acknowledgement
 * (pt_ack.h; see socket_int.h): read the sink's lines, retire the readings
 * an ack answers (delivered, or failed when rejected), and tell a peer that
 * never greets (nc -l, an older sink) from a pitemp-sink.
 */
#include "socket_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pt_log.h"
#include "pt_validate.h"

/* "ack N R": retire the lines answered since the last ack. */
static int
on_ack(struct sock_transport *s, const struct pt_ack_msg *m)
{
	uint64_t n, rej;

	if (m->answered > s->gone + s->sent_lines || m->rejected < s->rejected)
		return -EPROTO; /* answers lines never sent, or goes back */
	if (m->answered <= s->gone) {
		s->rejected = m->rejected;
		return 0;       /* nothing new (or only lines already let go) */
	}
	n = m->answered - s->gone;
	rej = m->rejected - s->rejected;
	if (rej > n)
		rej = n;
	s->rejected = m->rejected;
	if (n == 0)
		return 0;
	sock_pop_lines(s, (size_t)n);
	s->c.delivered += n - rej;
	s->c.failed += rej;
	if (rej > 0)
		pt_log_warnx_limited(&s->rl_peer, "%s:%d rejected %llu reading(s) as "
		    "invalid (the sink's log says why)", s->host, s->port,
		    (unsigned long long)rej);
	/* Only a peer that takes readings resets the backoff: one that
	 * accepts and hangs up (a full sink) is retried ever more slowly. */
	s->retry_ms = RETRY_MIN_MS;
	return 0;
}

void
sock_become_plain(struct sock_transport *s, const char *line, size_t len)
{
	char shown[PT_VALIDATE_QUOTE_MAX * 4 + 8];

	s->peer = PEER_PLAIN;
	if (line != NULL) {
		pt_validate_quote(line, len, shown, sizeof(shown));
		pt_log_warnx("%s:%d is not a pitemp-sink (it sent %s): readings "
		    "go on being sent but none counts as delivered", s->host,
		    s->port, shown);
	} else {
		pt_log_warnx("%s:%d sent no greeting within %d ms: not a pitemp-sink "
		    "(nc -l?); readings go on being sent but none counts as delivered",
		    s->host, s->port, GREETING_MS);
	}
}

/* One line from the peer. 0, or -EPROTO to drop the connection. */
static int
on_peer_line(struct sock_transport *s, const char *line, size_t len)
{
	struct pt_ack_msg m;
	char shown[PT_VALIDATE_QUOTE_MAX * 4 + 8];

	switch (pt_ack_parse(line, len, &m)) {
	case PT_ACK_COMMENT:
		return 0;
	case PT_ACK_GREETING:
		if (m.version != PT_ACK_VERSION) {
			pt_log_warnx_limited(&s->rl_peer, "%s:%d speaks acknowledgement "
			    "protocol %lu, this sensor %d", s->host, s->port, m.version,
			    PT_ACK_VERSION);
			if (s->peer == PEER_UNKNOWN)
				sock_become_plain(s, NULL, 0);
			return 0;
		}
		if (s->peer == PEER_PLAIN)
			pt_log_info("%s:%d greeted late: a pitemp-sink after all", s->host,
			    s->port);
		s->peer = PEER_SINK;
		pt_log_debug("%s:%d is a pitemp-sink (protocol %lu)", s->host, s->port,
		    m.version);
		return 0;
	case PT_ACK_ACK:
		if (s->peer != PEER_SINK)
			return 0;       /* typed into nc: not an answer */
		if (on_ack(s, &m) == 0)
			return 0;
		pt_validate_quote(line, len, shown, sizeof(shown));
		pt_log_warnx("%s:%d: ack out of order (%s, %llu line(s) answered, "
		    "%zu more sent)", s->host, s->port, shown,
		    (unsigned long long)s->gone, s->sent_lines);
		return -EPROTO;
	default:
		if (s->peer == PEER_UNKNOWN) {
			sock_become_plain(s, line, len);
		} else if (s->peer == PEER_SINK) {
			pt_validate_quote(line, len, shown, sizeof(shown));
			pt_log_warnx("%s:%d: not an acknowledgement: %s", s->host,
			    s->port, shown);
			return -EPROTO;
		}
		return 0;
	}
}

/* Read what the peer sent: acks, or the end of the connection. */
void
sock_read_peer(struct sock_transport *s)
{
	for (int round = 0; round < 8 && s->fd >= 0; round++) {
		const char *line;
		size_t room, len;
		char *at = pt_linebuf_space(&s->in, &room);
		ssize_t n = recv(s->fd, at, room, MSG_DONTWAIT);
		int rc;

		if (n == 0) {
			sock_drop_connection(s, "closed by the peer", 0);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				sock_drop_connection(s, "receive", errno);
			return;
		}
		pt_linebuf_added(&s->in, (size_t)n);
		while ((rc = pt_linebuf_next(&s->in, &line, &len)) == 1)
			if (on_peer_line(s, line, len) < 0) {
				sock_drop_connection(s, "protocol error", 0);
				return;
			}
		if (rc < 0) {
			/* A long line: not from a pitemp-sink. */
			if (s->peer == PEER_SINK) {
				sock_drop_connection(s, "protocol error: line too long", 0);
				return;
			}
			if (s->peer == PEER_UNKNOWN)
				sock_become_plain(s, line, len);
			pt_linebuf_reset(&s->in);
		}
	}
}
