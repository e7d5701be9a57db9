/*
 * pt_hosts.h: the broker list of --host, "HOST[:PORT],HOST[:PORT],..."
 * (a cluster's nodes, or a primary broker and its standbys). The MQTT
 * wrapper hands it to paho as serverURIs, tried in turn at connect and at
 * every reconnect; option checking parses it first so a bad entry is a
 * usage error naming the entry. An IPv6 address takes brackets when it has
 * a port ("[::1]:1884"); without a port it may stand bare ("::1").
 */
#ifndef PT_HOSTS_H
#define PT_HOSTS_H

#include <stddef.h>

#define PT_HOSTS_MAX    16      /* entries in one list */
#define PT_HOST_LEN     255     /* a DNS name's longest text form */

struct pt_host {
	char host[PT_HOST_LEN + 1];     /* without brackets */
	int  port;
};

/*
 * Parse list into out[0..max-1]; an entry without a port gets
 * default_port. Returns the number of entries (>= 1), or -EINVAL with a
 * message naming the bad entry in err (an empty entry, a port that is not
 * 1-65535, an unclosed bracket, more than max entries, a name too long).
 */
int pt_hosts_parse(const char *list, int default_port, struct pt_host *out,
                   size_t max, char *err, size_t err_cap);

/* "host:port", or "[v6]:port" for an address with a colon. */
void pt_host_format(const struct pt_host *h, char *buf, size_t cap);

/* The list with every port spelled out, "h1:1883,h2:1884", for log
 * lines; list itself, with ":port", when it does not parse. */
void pt_hosts_format(const char *list, int default_port, char *buf,
                     size_t cap);

#endif
