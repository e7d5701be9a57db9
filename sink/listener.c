/*
 * listener.c: see listener.h. Level-triggered epoll; each client has one
 * fixed input buffer of max_line + 2 bytes (pt_linebuf.h) and one small
 * output buffer for its acknowledgements, so memory is bounded by
 * max_clients * (max_line + 2 + OUT_CAP) whatever the peers send or fail
 * to read. Acknowledgements are cumulative: a client that does not read
 * them costs one pending number, not a growing queue.
 */
#include "listener_int.h"
#include "allow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pt_log.h"
#include "pt_time.h"

const char *const listener_rl_what[RL_NCAUSES] = {
	"client connected", "client disconnected", "unfinished line discarded",
	"line over the limit", "idle client closed", "accept failed",
	"peer not allowed",
};

static void
accept_pause(struct listener *l, int pause)
{
	struct epoll_event ev;

	if (l->lfd < 0 || pause == !l->accepting)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;     /* NULL marks the listening socket */
	if (pause) {
		epoll_ctl(l->efd, EPOLL_CTL_DEL, l->lfd, NULL);
		l->resume_ns = pt_time_mono_ns() + (int64_t)ACCEPT_PAUSE_MS * 1000000;
		l->accepting = 0;
	} else if (epoll_ctl(l->efd, EPOLL_CTL_ADD, l->lfd, &ev) == 0) {
		l->accepting = 1;
	}
}

static void
peer_name(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";

	(void)getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(out, cap, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

static struct client *
free_slot(struct listener *l, int served)
{
	int from = served ? 0 : l->cfg.max_clients;
	int to = served ? l->cfg.max_clients : l->nslots;

	for (int i = from; i < to; i++)
		if (l->clients[i].fd < 0)
			return &l->clients[i];
	return NULL;
}

/* Accept one connection. Returns 0, or -EAGAIN when none is pending. */
static int
accept_one(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct epoll_event ev;
	struct client *c;
	char peer[64];
	int fd, over;

	fd = accept4(l->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The connection stays queued; epoll would wake us at once
			 * again and again. */
			pt_log_warnx_limited(&l->rl[RL_ACCEPT], "accept: %s; pausing "
			    "for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
			accept_pause(l, 1);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED) {
			pt_log_warnx_limited(&l->rl[RL_ACCEPT], "accept: %s",
			    strerror(errno));
		}
		return -EAGAIN;
	}
	peer_name(&ss, len, peer, sizeof(peer));
	if (!allow_match(l->cfg.allow, (struct sockaddr *)&ss, len)) {
		/* Not one of ours: nothing it sent is read. */
		l->not_allowed++;
		pt_log_warnx_limited(&l->rl[RL_NOT_ALLOWED], "client %s refused: not "
		    "in --allow; %llu refused so far", peer, l->not_allowed);
		close(fd);
		return 0;
	}
	over = l->nclients >= l->cfg.max_clients;
	if ((c = free_slot(l, !over)) == NULL) {
		/* Beyond even the closing slots: a flood. Close unread. */
		l->hard_refused++;
		if ((l->hard_refused & (l->hard_refused - 1)) == 0)
			pt_log_warnx("client %s refused: no slot left, closed unread; "
			    "%llu so far", peer, l->hard_refused);
		close(fd);
		return 0;
	}
	if (c->buf == NULL && (c->buf = malloc(l->cfg.max_line + 2)) == NULL) {
		pt_log_warnx("client %s refused: out of memory", peer);
		close(fd);
		return 0;
	}
	(void)pt_linebuf_init(&c->in, c->buf, l->cfg.max_line + 2, l->cfg.max_line);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(l->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		pt_log_warn("epoll_ctl");
		close(fd);
		return 0;
	}
	c->fd = fd;
	c->lines = 0;
	c->closing = 0;
	c->served = 0;
	c->want_out = 0;
	c->acking = 0;
	c->answered = c->rejected = c->ack_answered = c->ack_rejected = 0;
	c->out_len = 0;
	c->last_ns = pt_time_mono_ns();
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (over) {
		/* Refused, in order: what it already sent is still stored. */
		l->refused++;
		if ((l->refused & (l->refused - 1)) == 0)
			pt_log_warnx("client %s refused: %d clients already connected "
			    "(--max-clients); %llu refused so far", peer,
			    l->cfg.max_clients, l->refused);
		client_begin_close(l, c);
		return 0;
	}
	c->served = 1;
	l->nclients++;
	l->accepted++;
	pt_log_info_limited(&l->rl[RL_CONNECT], "client %s connected", c->peer);
	return 0;
}

static void
housekeeping(struct listener *l)
{
	int64_t now = pt_time_mono_ns();

	if (!l->accepting && now >= l->resume_ns)
		accept_pause(l, 0);
	for (int i = 0; i < RL_NCAUSES; i++)
		pt_log_held(&l->rl[i], listener_rl_what[i], 0);
	for (int i = 0; i < l->nslots; i++) {
		struct client *c = &l->clients[i];

		if (c->fd < 0)
			continue;
		if (c->closing) {
			if (now >= c->close_by_ns)
				client_close(l, c, "did not close in time");
			continue;
		}
		if (l->cfg.idle_ms > 0 &&
		    now - c->last_ns > (int64_t)l->cfg.idle_ms * 1000000) {
			pt_log_warnx_limited(&l->rl[RL_IDLE], "client %s: nothing "
			    "received for %d ms (--idle-timeout); closing", c->peer,
			    l->cfg.idle_ms);
			client_close(l, c, "idle");
		}
	}
}

int
listener_run(struct listener *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n;

	n = epoll_wait(l->efd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct client *c = evs[i].data.ptr;

		if (c == NULL) {
			(void)accept_one(l);
			continue;
		}
		if (c->fd < 0)
			continue;   /* closed earlier in this round */
		if (evs[i].events & EPOLLOUT)
			client_flush(l, c);
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			read_client(l, c);
	}
	housekeeping(l);
	return n;
}

static int
open_slots(const struct listener *l)
{
	int n = 0;

	for (int i = 0; i < l->nslots; i++)
		n += l->clients[i].fd >= 0;
	return n;
}

int
listener_drain(struct listener *l, int timeout_ms)
{
	int64_t until = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;
	int rc, guard = 0;

	if (l->lfd >= 0) {
		/* Connections the kernel already completed may hold data it has
		 * acknowledged: take them in (as closing) before closing the door. */
		while (accept_one(l) == 0 && ++guard < l->nslots)
			;
		accept_pause(l, 1);
		close(l->lfd);
		l->lfd = -1;
	}
	for (int i = 0; i < l->nslots; i++)
		if (l->clients[i].fd >= 0)
			client_begin_close(l, &l->clients[i]);
	while (open_slots(l) > 0 && pt_time_mono_ns() < until)
		if ((rc = listener_run(l, 50)) < 0)
			return rc;
	return open_slots(l) == 0 ? 0 : -ETIMEDOUT;
}

/*
 * Every slot may hold a descriptor: make sure the process may open that
 * many (raising the soft limit up to the hard one), or say which option
 * asks too much, rather than spin on EMFILE later.
 */
static int
check_fd_limit(int slots, char *err, size_t err_cap)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)slots + 64;   /* + output, logs, epoll, paho... */

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return 0;
	}
	snprintf(err, err_cap, "option --max-clients: %d clients need %llu file "
	    "descriptors, the limit is %llu (ulimit -n)", slots / 2,
	    (unsigned long long)need, (unsigned long long)rl.rlim_max);
	return -EINVAL;
}

struct listener *
listener_open(const struct listener_cfg *cfg, char *err, size_t err_cap)
{
	struct addrinfo hints, *res = NULL;
	struct epoll_event ev;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct listener *l;
	char port[16];
	int one = 1, rc, e;

	if (cfg->max_clients <= 0 || cfg->on_line == NULL || cfg->max_line == 0) {
		snprintf(err, err_cap, "bad listener settings");
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->clients = calloc((size_t)cfg->max_clients * 2, sizeof(*l->clients))) == NULL) {
		free(l);
		snprintf(err, err_cap, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	l->cfg = *cfg;
	l->lfd = l->efd = -1;
	l->nslots = cfg->max_clients * 2;
	for (int i = 0; i < l->nslots; i++)
		l->clients[i].fd = -1;
	for (int i = 0; i < RL_NCAUSES; i++)
		pt_ratelimit_init(&l->rl[i], PT_RATELIMIT_BURST, PT_RATELIMIT_PERIOD_NS);
	if (check_fd_limit(l->nslots, err, err_cap) < 0) {
		errno = EINVAL;
		goto fail;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->port);
	if ((rc = getaddrinfo(cfg->bind, port, &hints, &res)) != 0) {
		snprintf(err, err_cap, "option --bind: '%s': %s", cfg->bind, gai_strerror(rc));
		errno = EINVAL;
		goto fail;
	}
	l->lfd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    res->ai_protocol);
	if (l->lfd < 0 ||
	    setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l->lfd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(l->lfd, 64) < 0) {
		e = errno;
		snprintf(err, err_cap, "cannot listen on %s:%d: %s", cfg->bind, cfg->port,
		    strerror(e));
		errno = e;
		goto fail;
	}
	if (getsockname(l->lfd, (struct sockaddr *)&ss, &sslen) == 0)
		l->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	if ((l->efd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		e = errno;
		snprintf(err, err_cap, "epoll_create1: %s", strerror(e));
		errno = e;
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;     /* NULL marks the listening socket */
	if (epoll_ctl(l->efd, EPOLL_CTL_ADD, l->lfd, &ev) < 0) {
		e = errno;
		snprintf(err, err_cap, "epoll_ctl: %s", strerror(e));
		errno = e;
		goto fail;
	}
	l->accepting = 1;
	freeaddrinfo(res);
	return l;
fail:
	e = errno;
	if (res != NULL)
		freeaddrinfo(res);
	listener_free(l);
	errno = e;
	return NULL;
}

int
listener_port(const struct listener *l)
{
	return l->port;
}

void
listener_stats(const struct listener *l, struct listener_stats *out)
{
	out->accepted = l->accepted;
	out->over_limit = l->refused + l->hard_refused;
	out->not_allowed = l->not_allowed;
}

int
listener_clients(const struct listener *l)
{
	return l->nclients;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < RL_NCAUSES; i++)
		pt_log_held(&l->rl[i], listener_rl_what[i], 1);
	for (int i = 0; i < l->nslots; i++) {
		if (l->clients[i].fd >= 0)
			close(l->clients[i].fd);
		free(l->clients[i].buf);
	}
	if (l->efd >= 0)
		close(l->efd);
	if (l->lfd >= 0)
		close(l->lfd);
	free(l->clients);
	free(l);
}
