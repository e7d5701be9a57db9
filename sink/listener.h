/*
 * listener.h: the sink's plain TCP listener (--mode socket). One epoll loop
 * on the main thread serves many sensors; each connection's bytes are
 * reassembled into lines and every line is handed to the same validate ->
 * dedup -> writer path as an MQTT message, then answered on the same
 * connection (pt_ack.h: a greeting, then cumulative acks), so a sensor
 * lets go only of what the sink stored. Hostile peers are contained: a
 * line over the payload limit and a client idle for too long are closed
 * with a log line; a connection beyond the client limit is refused in
 * order (a FIN at once, what it had already sent still stored, closed when
 * it closes or after 2 s), and beyond twice the limit closed unread; a peer
 * outside the allow list is closed unread at once; none of this disturbs
 * anyone else or buffers without bound.
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <stddef.h>

/* What on_line made of a line: the listener acknowledges it to the peer
 * (pt_ack.h) in the first two cases, and in the third closes the
 * connection with the line unanswered, so a sensor sends it again. */
enum listener_verdict {
	LISTENER_STORED = 0,    /* stored, or found already stored */
	LISTENER_REJECTED,      /* invalid: rejected for good */
	LISTENER_NOT_TAKEN,     /* not stored (output failing, run complete) */
};

struct listener_cfg {
	const char *bind;           /* address to listen on, e.g. "0.0.0.0" */
	int         port;
	int         max_clients;    /* concurrent connections */
	int         idle_ms;        /* drop a client silent this long; 0: never */
	size_t      max_line;       /* bytes per line, without the newline */
	/* One complete line (without its newline and one CR before it), peer
	 * "addr:port". */
	enum listener_verdict (*on_line)(void *ctx, const char *peer,
	                                 const char *line, size_t len);
	void       *ctx;
	const struct allow *allow;  /* peers to accept (allow.h); NULL: anyone */
};

/* What the listener did with the connections it was offered. */
struct listener_stats {
	unsigned long long accepted;    /* served */
	unsigned long long over_limit;  /* refused over max_clients */
	unsigned long long not_allowed; /* refused: not in the allow list */
};

struct listener;

/* Bind and listen. NULL with errno set and a message in err. */
struct listener *listener_open(const struct listener_cfg *cfg, char *err,
                               size_t err_cap);
/* The port actually bound (useful with port 0). */
int listener_port(const struct listener *l);
/* Wait up to timeout_ms for events and handle them. The number of events
 * handled, or -errno. */
int listener_run(struct listener *l, int timeout_ms);
/*
 * Orderly end: stop accepting, send every client a FIN, and go on reading
 * until each has closed its side (a pitemp-sensor closes as soon as it sees
 * the FIN), for at most timeout_ms. So every line a sensor wrote before it
 * knew the sink was going is read and stored, not acknowledged by TCP and
 * then thrown away. 0, or -ETIMEDOUT with clients still open.
 */
int listener_drain(struct listener *l, int timeout_ms);
void listener_stats(const struct listener *l, struct listener_stats *out);
/* Clients served now (connections being closed in order not counted). */
int listener_clients(const struct listener *l);
void listener_free(struct listener *l); /* accepts NULL; closes everything */

#endif
