/*
 * allow.c: see allow.h. A handful of networks, matched by prefix on the
 * address bytes; checked once per accepted connection.
 */
#include "allow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALLOW_MAX   64

struct net {
	int           family;       /* AF_INET or AF_INET6 */
	unsigned char addr[16];     /* 4 bytes for AF_INET */
	unsigned      prefix;       /* bits */
};

struct allow {
	size_t     n;
	struct net nets[ALLOW_MAX];
};

/* The host bits of n->addr must be zero: "10.1.2.3/8" is a mistake worth
 * naming (which network was meant?). */
static int
host_bits_clear(const struct net *n)
{
	size_t bytes = n->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < bytes; i++) {
		unsigned keep = n->prefix >= (i + 1) * 8 ? 8 :
		    n->prefix > i * 8 ? n->prefix - (unsigned)i * 8 : 0;
		unsigned char mask = (unsigned char)(keep == 8 ? 0xff :
		    (0xff << (8 - keep)) & 0xff);

		if ((n->addr[i] & (unsigned char)~mask) != 0)
			return 0;
	}
	return 1;
}

/* One "ADDR" or "ADDR/BITS" of len bytes. 0 or -EINVAL. */
static int
parse_one(const char *s, size_t len, struct net *n)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long bits;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1)
		n->family = AF_INET6;
	else
		return -EINVAL;
	n->prefix = n->family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || bits > n->prefix ||
		    (slash[1] == '0' && slash[2] != '\0'))
			return -EINVAL;
		n->prefix = (unsigned)bits;
	}
	return host_bits_clear(n) ? 0 : -EINVAL;
}

struct allow *
allow_parse(const char *list, char *err, size_t err_cap)
{
	struct allow *a;
	const char *p = list, *comma;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	for (;;) {
		size_t len;

		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (a->n == ALLOW_MAX) {
			snprintf(err, err_cap, "option --allow: more than %d networks",
			    ALLOW_MAX);
			goto bad;
		}
		if (parse_one(p, len, &a->nets[a->n]) < 0) {
			snprintf(err, err_cap, "option --allow: '%.*s' is not an address "
			    "or a network (e.g. 192.168.1.0/24, 10.0.0.7, fd00::/8; host "
			    "bits zero)", (int)(len > 60 ? 60 : len), p);
			goto bad;
		}
		a->n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return a;
bad:
	free(a);
	errno = EINVAL;
	return NULL;
}

void
allow_free(struct allow *a)
{
	free(a);
}

static int
in_net(const struct net *n, const unsigned char *addr)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (memcmp(n->addr, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((n->addr[full] ^ addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int
allow_match(const struct allow *a, const struct sockaddr *sa, socklen_t len)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                          0xff, 0xff };
	const unsigned char *addr;
	int family;

	if (a == NULL)
		return 1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		family = AF_INET;
		addr = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		family = AF_INET6;
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			family = AF_INET;
			addr += 12;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < a->n; i++)
		if (a->nets[i].family == family && in_net(&a->nets[i], addr))
			return 1;
	return 0;
}
