/*
 * allow.h: who may speak to the sink in socket mode (--allow
 * CIDR[,CIDR...]): a list of IPv4 and IPv6 networks. A bare address is one
 * host (/32, /128). An IPv4 peer reaching an IPv6 socket (::ffff:a.b.c.d)
 * is matched against the IPv4 networks.
 */
#ifndef ALLOW_H
#define ALLOW_H

#include <stddef.h>
#include <sys/socket.h>

struct allow;

/* Parse "10.0.0.0/8,fd00::/8,192.168.1.7". NULL with errno EINVAL and a
 * message naming the bad entry in err, or ENOMEM. */
struct allow *allow_parse(const char *list, char *err, size_t err_cap);
void allow_free(struct allow *a);       /* accepts NULL */

/* 1 when the peer's address is in one of the networks; a NULL list allows
 * everyone. */
int allow_match(const struct allow *a, const struct sockaddr *sa, socklen_t len);

#endif
