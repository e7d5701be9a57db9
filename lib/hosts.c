/*
 * hosts.c: the --host broker list (see pt_hosts.h). No outside library:
 * both the option checks and the paho wrapper use it.
 */
#include "pt_hosts.h"
#include "pt_opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One entry, s[0..n-1], already trimmed. 0 or -EINVAL (err says why). */
static int
parse_one(const char *s, size_t n, int default_port, struct pt_host *h,
          char *err, size_t cap)
{
	const char *host = s, *port = NULL, *close;
	size_t hlen = n;
	uint64_t p;
	char num[8];

	if (n == 0) {
		snprintf(err, cap, "empty entry");
		return -EINVAL;
	}
	if (s[0] == '[') {
		close = memchr(s, ']', n);
		if (close == NULL) {
			snprintf(err, cap, "'%.*s': no closing ]", (int)n, s);
			return -EINVAL;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		if ((size_t)(close - s) + 1 < n) {
			if (close[1] != ':') {
				snprintf(err, cap, "'%.*s': expected :PORT after ]", (int)n, s);
				return -EINVAL;
			}
			port = close + 2;
		}
	} else {
		const char *c = memchr(s, ':', n);

		/* One colon: HOST:PORT. More: a bare IPv6 address. */
		if (c != NULL && memchr(c + 1, ':', n - (size_t)(c + 1 - s)) == NULL) {
			hlen = (size_t)(c - s);
			port = c + 1;
		}
	}
	if (hlen == 0 || hlen > PT_HOST_LEN) {
		snprintf(err, cap, "'%.*s': %s", (int)n, s,
		    hlen == 0 ? "no host name" : "host name too long");
		return -EINVAL;
	}
	memcpy(h->host, host, hlen);
	h->host[hlen] = '\0';
	h->port = default_port;
	if (port == NULL)
		return 0;
	hlen = n - (size_t)(port - s);
	if (hlen == 0 || hlen >= sizeof(num)) {
		snprintf(err, cap, "'%.*s': '%.*s' is not a port (1-65535)", (int)n, s,
		    (int)hlen, port);
		return -EINVAL;
	}
	memcpy(num, port, hlen);
	num[hlen] = '\0';
	if (pt_parse_u64(num, 1, 65535, &p) < 0) {
		snprintf(err, cap, "'%.*s': '%s' is not a port (1-65535)", (int)n, s, num);
		return -EINVAL;
	}
	h->port = (int)p;
	return 0;
}

int
pt_hosts_parse(const char *list, int default_port, struct pt_host *out,
               size_t max, char *err, size_t err_cap)
{
	const char *p = list, *end, *a, *b;
	size_t count = 0;

	if (list == NULL) {
		snprintf(err, err_cap, "no host");
		return -EINVAL;
	}
	for (;;) {
		end = p + strcspn(p, ",");
		a = p;
		b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (count == max) {
			snprintf(err, err_cap, "more than %zu brokers", max);
			return -EINVAL;
		}
		if (parse_one(a, (size_t)(b - a), default_port, &out[count], err,
		    err_cap) < 0)
			return -EINVAL;
		count++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return (int)count;
}

void
pt_host_format(const struct pt_host *h, char *buf, size_t cap)
{
	if (strchr(h->host, ':') != NULL)
		snprintf(buf, cap, "[%s]:%d", h->host, h->port);
	else
		snprintf(buf, cap, "%s:%d", h->host, h->port);
}

void
pt_hosts_format(const char *list, int default_port, char *buf, size_t cap)
{
	struct pt_host h[PT_HOSTS_MAX];
	char err[200], one[PT_HOST_LEN + 10];
	size_t len = 0;
	int n;

	n = pt_hosts_parse(list, default_port, h, PT_HOSTS_MAX, err, sizeof(err));
	if (n < 0) {
		snprintf(buf, cap, "%s:%d", list, default_port);
		return;
	}
	buf[0] = '\0';
	for (int i = 0; i < n && len < cap; i++) {
		pt_host_format(&h[i], one, sizeof(one));
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", one);
	}
}
