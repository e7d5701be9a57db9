/*
 * mqtt_uri.c: lib/mqtt's broker list (see mqtt_int.h). --host may name
 * several brokers, "HOST[:PORT],..." (pt_hosts.h): the nodes of a cluster,
 * or a primary and its standbys. paho takes them as serverURIs and tries
 * them in turn, first to last, at the first connect and at every
 * reconnect. This file builds those URIs, drives the attempts, and once
 * paho is connected finds its socket to tell which broker it reached.
 *
 * paho 1.3 has serverURIs, but its automatic reconnect resumes at the
 * broker it was last connected to, so the ones before it in the list are
 * never tried again (upstream issue 1661, still open): after a failover
 * to the last broker, a client stays bound to it. So with a list we give
 * paho one URI at a time and make each attempt ourselves: a round over
 * the whole list from the first broker, FAILOVER_MS apart, then the usual
 * backoff. A refused broker costs about 1 s (paho notices the failed
 * socket on its next 1 s poll), a silent one connectTimeout (5 s).
 */
#include "mqtt_int.h"
#include "pt_time.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
mqtt_uris_init(struct pt_mqtt *m)
{
	char err[300], one[PT_HOST_LEN + 10];
	size_t len = 0;
	int n;

	n = pt_hosts_parse(m->host, m->cfg.port, m->hosts, PT_HOSTS_MAX, err,
	    sizeof(err));
	if (n < 0)
		return -EINVAL;
	m->nhosts = n;
	for (int i = 0; i < n; i++) {
		pt_host_format(&m->hosts[i], one, sizeof(one));
		snprintf(m->uri_buf[i], sizeof(m->uri_buf[i]), "%s://%s",
		    m->cafile != NULL ? "ssl" : "tcp", one);
		m->uris[i] = m->uri_buf[i];
		if (len < sizeof(m->where))
			len += (size_t)snprintf(m->where + len, sizeof(m->where) - len,
			    "%s%s", i > 0 ? "," : "", one);
	}
	return 0;
}

#define FAILOVER_MS     100     /* between two brokers of one round */

void
mqtt_failover_restart(struct pt_mqtt *m, int delay_ms)
{
	m->cur = 0;
	m->tried = 0;
	m->attempting = 0;
	m->retry_pending = 1;
	m->retry_at_ns = pt_time_mono_ns() + (int64_t)delay_ms * 1000000;
}

int
mqtt_failover_next(struct pt_mqtt *m)
{
	m->attempting = 0;
	if (++m->tried >= m->nhosts)
		return 0;
	m->cur = (m->cur + 1) % m->nhosts;
	m->retry_pending = 1;
	m->retry_at_ns = pt_time_mono_ns() + (int64_t)FAILOVER_MS * 1000000;
	return 1;
}

char *
mqtt_failover_uri(struct pt_mqtt *m)
{
	m->attempting = 1;
	return m->uris[m->cur];
}

static int
has_port(const struct pt_mqtt *m, int port)
{
	for (int i = 0; i < m->nhosts; i++)
		if (m->hosts[i].port == port)
			return 1;
	return 0;
}

/* The list entry paho is connected to, given the socket's peer: the one
 * naming that address and port, else the only one with that port, else
 * the address itself. */
static void
name_peer(const struct pt_mqtt *m, const char *addr, int port, char *name,
          size_t cap)
{
	int match = -1, same_port = 0;
	struct pt_host peer;

	for (int i = 0; i < m->nhosts && match < 0; i++) {
		if (m->hosts[i].port != port)
			continue;
		same_port++;
		if (strcmp(m->hosts[i].host, addr) == 0)
			match = i;
	}
	if (match < 0 && same_port == 1)
		for (int i = 0; i < m->nhosts; i++)
			if (m->hosts[i].port == port)
				match = i;
	if (match >= 0) {
		pt_host_format(&m->hosts[match], name, cap);
		return;
	}
	snprintf(peer.host, sizeof(peer.host), "%s", addr);
	peer.port = port;
	pt_host_format(&peer, name, cap);
}

/*
 * paho 1.3 sets no TCP_NODELAY, so at QoS 0 (no PUBACK to carry the ACK
 * back) Nagle's algorithm holds readings back until the broker's delayed
 * ACK, ~40 ms, and sends them in bursts. paho has no socket hook and does
 * not say which of the serverURIs an automatic reconnect reached: find its
 * connected TCP socket among our descriptors (the one without the option
 * yet whose peer port is a port of the list: the process has no other
 * connection to a broker port but those of its other clients, whose
 * option is set), set it there and name the broker from the peer address.
 * Best effort; paho's thread, right after the connect.
 */
void
mqtt_broker_socket(struct pt_mqtt *m, char *name, size_t cap)
{
	struct sockaddr_storage ss;
	char addr[INET6_ADDRSTRLEN] = "";
	socklen_t len;
	struct dirent *de;
	DIR *d;
	int one = 1, nodelay, fd, port;

	if (m->nhosts == 1)
		pt_host_format(&m->hosts[0], name, cap);
	else
		snprintf(name, cap, "%s", m->where);
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = (int)strtol(de->d_name, NULL, 10);
		/* Fails for what is not TCP, and skips sockets already set
		 * (every other client of this process, once its own connect
		 * ran; the socket of this connect is new, so not yet set): one
		 * syscall per descriptor, as a process with N clients
		 * (pitemp-bench) scans N descriptors on each of its N connects. */
		len = sizeof(nodelay);
		if (fd == dirfd(d) ||
		    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) < 0 ||
		    nodelay)
			continue;
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

			port = ntohs(s4->sin_port);
			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

			port = ntohs(s6->sin6_port);
			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		} else {
			continue;
		}
		if (!has_port(m, port))
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		name_peer(m, addr, port, name, cap);
	}
	closedir(d);
}
