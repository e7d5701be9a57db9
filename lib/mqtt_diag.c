/*
 * mqtt_diag.c: why a connection of lib/mqtt failed (see mqtt_int.h), told
 * apart into "retrying cannot fix it" (a refusal, with the reason) and "a
 * network error, retry".
 */
#include "mqtt_int.h"
#include "pt_tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PROBE_MS        3000    /* bound of one TLS diagnosis (diagnose()) */

/* MQTT 3.1.1 CONNACK return codes that retrying cannot fix. */
static const char *
refusal(int code)
{
	switch (code) {
	case 1: return "unacceptable protocol version";
	case 2: return "client identifier rejected";
	case 4: return "bad user name or password";
	case 5: return "not authorised";
	default: return NULL;
	}
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
diagnose(struct pt_mqtt *m, const MQTTAsync_failureData *r, char *why,
         size_t cap)
{
	const char *pm = r != NULL ? r->message : NULL;
	int rc;

	why[0] = '\0';
	if (r == NULL || r->code != MQTTASYNC_FAILURE ||
	    (pm != NULL && strstr(pm, "timeout") != NULL))
		return 0;
	if (m->cafile != NULL) {
		rc = pt_tls_probe(m->host, m->cfg.port, m->cafile, m->cert, m->key,
		    !m->cfg.insecure, PROBE_MS, why, cap);
		if (rc == -EACCES && strstr(why, "certificate not accepted") != NULL) {
			size_t n = strlen(why);

			if (strstr(why, "mismatch") != NULL)
				snprintf(why + n, cap - n,
				    " (the certificate does not name %s)", m->host);
			else
				snprintf(why + n, cap - n,
				    " (is %s the CA that signed the broker's certificate?)",
				    m->cafile);
		}
		return rc == -EACCES || rc == -EPROTO || rc == -EINVAL;
	}
	if (pm == NULL || strstr(pm, "completion") == NULL)
		return 0;
	/* Plain MQTT, and the broker hung up on our CONNECT: a TLS port? */
	rc = pt_tls_probe(m->host, m->cfg.port, NULL, NULL, NULL, 0, PROBE_MS,
	    why, cap);
	if (rc == 0 || rc == -EACCES) {
		snprintf(why, cap, "the port expects TLS (use --cafile)");
		return 1;
	}
	why[0] = '\0';
	return 0;
}

const char *
mqtt_refusal(struct pt_mqtt *m, const MQTTAsync_failureData *r, char *why,
             size_t cap)
{
	const char *code = r != NULL ? refusal(r->code) : NULL;

	if (code != NULL)
		return code;
	return diagnose(m, r, why, cap) ? why : NULL;
}
