/*
 * mqtt_diag.c: why a connection of lib/mqtt failed (see mqtt_int.h), told
 * apart into "retrying cannot fix it" (a refusal, with the reason) and "a
 * network error, retry".
 */
#include "mqtt_int.h"
#include "pt_tls.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#define PROBE_MS        3000    /* bound of one TLS diagnosis (diagnose()) */

/* MQTT 3.1.1 CONNACK return codes and MQTT 5 CONNACK reason codes that
 * retrying cannot fix. */
static const char *
refusal(int code)
{
	switch (code) {
	case 1: return "unacceptable protocol version (does the broker speak "
	    "MQTT 3.1.1?)";
	case 2: return "client identifier rejected";
	case 4: return "bad user name or password";
	case 5: return "not authorised";
	case 0x84: return "unsupported protocol version (reason 0x84; does the "
	    "broker speak MQTT 5? try --protocol-version mqttv311)";
	case 0x85: return "client identifier not valid (reason 0x85)";
	case 0x86: return "bad user name or password (reason 0x86)";
	case 0x87: return "not authorized (reason 0x87)";
	case 0x8a: return "banned (reason 0x8a)";
	case 0x8c: return "bad authentication method (reason 0x8c)";
	case 0x9a: return "retain not supported (reason 0x9a; the status "
	    "messages are retained)";
	case 0x9b: return "QoS not supported (reason 0x9b)";
	default: return NULL;
	}
}

/* 1 when host resolves; else 0 with the reason in why. Blocks for as
 * long as the resolver takes (its own timeouts). */
static int
resolves(const char *host, char *why, size_t cap)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) == 0) {
		freeaddrinfo(res);
		return 1;
	}
	snprintf(why, cap, "cannot resolve the host name '%s' (--host): %s", host,
	    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	return 0;
}

/*
 * paho's thread, after a failed connect that was not a CONNACK refusal.
 * paho 1.3 reports every failed TLS connection like a refused TCP one
 * (code -1 "TCP/TLS connect failure"; a host name mismatch comes without
 * any OpenSSL error), and a broker that drops the connection after our
 * CONNECT (a plain client on a TLS port) as -1 "TCP connect completion
 * failure". So ask the TLS probe (lib/tls.c) what it was. Returns 1 when
 * retrying cannot help (why says the reason), 0 otherwise (why may hold a
 * better description of the network error). The probe blocks this thread
 * for at most PROBE_MS; the client is not connected, so nothing waits.
 */
static int
diagnose_one(struct pt_mqtt *m, const struct pt_host *h, const char *pm,
             int probe_ms, char *why, size_t cap)
{
	char plain[160];
	int rc;

	why[0] = '\0';
	if (m->cafile != NULL) {
		rc = pt_tls_probe(h->host, h->port, m->cafile, m->cert, m->key,
		    !m->cfg.insecure, probe_ms, why, cap);
		/* Cut off in the handshake: a plain MQTT port (mosquitto
		 * takes the ClientHello for a bad packet and resets)? */
		if (rc == -ECONNRESET && strstr(why, "during the handshake") != NULL &&
		    pt_tls_probe_plain(h->host, h->port, probe_ms, plain,
		        sizeof(plain)) == 0) {
			snprintf(why, cap, "the port speaks plain MQTT, not TLS (drop "
			    "--cafile, or use the broker's TLS port: 8883 unless "
			    "configured otherwise)");
			return 1;
		}
		if (rc == -EACCES && strstr(why, "certificate not accepted") != NULL) {
			size_t n = strlen(why);

			if (strstr(why, "mismatch") != NULL)
				snprintf(why + n, cap - n,
				    " (the certificate does not name %s)", h->host);
			else
				snprintf(why + n, cap - n,
				    " (is %s the CA that signed the broker's certificate?)",
				    m->cafile);
		}
		return rc == -EACCES || rc == -EPROTO || rc == -EINVAL;
	}
	if (pm == NULL || strstr(pm, "completion") == NULL) {
		/* paho says only "Failure" when the name does not resolve. */
		(void)resolves(h->host, why, cap);
		return 0;
	}
	/* Plain MQTT, and the broker hung up on our CONNECT: a TLS port? */
	rc = pt_tls_probe(h->host, h->port, NULL, NULL, NULL, 0, probe_ms,
	    why, cap);
	if (rc == 0 || rc == -EACCES) {
		snprintf(why, cap, "the port expects TLS (use --cafile)");
		return 1;
	}
	why[0] = '\0';
	return 0;
}

/* With a broker list (failover), once every broker was tried: retrying
 * cannot help only when every broker refuses for good (the reason given
 * is the first one's). When some do and some do not answer, the retry's
 * warning carries the first refusal. The probes share PROBE_MS, at least
 * 1 s each. */
static int
diagnose(struct pt_mqtt *m, const MQTTAsync_failureData *r, char *why,
         size_t cap)
{
	const char *pm = r != NULL ? r->message : NULL;
	int ms = m->nhosts > 0 ? PROBE_MS / m->nhosts : PROBE_MS, all = 1;
	char one[400], name[300];

	why[0] = '\0';
	if (r == NULL || r->code != MQTTASYNC_FAILURE ||
	    (pm != NULL && strstr(pm, "timeout") != NULL))
		return 0;
	if (m->nhosts == 1)
		return diagnose_one(m, &m->hosts[0], pm, PROBE_MS, why, cap);
	for (int i = 0; i < m->nhosts; i++) {
		if (!diagnose_one(m, &m->hosts[i], pm, ms < 1000 ? 1000 : ms, one,
		    sizeof(one)))
			all = 0;
		else if (why[0] == '\0') {
			pt_host_format(&m->hosts[i], name, sizeof(name));
			snprintf(why, cap, "%s: %s", name, one);
		}
	}
	/* Not all: retry, but say what the refusing broker said. */
	return all;
}

const char *
mqtt_refusal(struct pt_mqtt *m, const MQTTAsync_failureData *r, char *why,
             size_t cap)
{
	const char *code = r != NULL ? refusal(r->code) : NULL;

	/* A 3.1.1-only broker (nats-server) answers a v5 CONNECT so. */
	if (m->v5 && r != NULL && r->code == 1)
		return "unacceptable protocol version: the broker does not speak "
		    "MQTT 5 (use --protocol-version mqttv311)";

	if (code != NULL)
		return code;
	return diagnose(m, r, why, cap) ? why : NULL;
}
