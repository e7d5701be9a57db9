/*
 * pt_tls.h: a TLS handshake probe (lib/tls.c is the only file that includes
 * OpenSSL). paho.mqtt.c reports every failed TLS connection the same way as
 * a refused TCP connection ("TCP/TLS connect failure", code -1), and a
 * host name mismatch without any OpenSSL error at all; lib/mqtt.c calls
 * this probe after such a failure to learn which it was, so a certificate
 * that will never be accepted ends the program instead of being retried
 * forever, while a network error is still retried.
 */
#ifndef PT_TLS_H
#define PT_TLS_H

#include <stddef.h>

/*
 * OpenSSL's process-wide set-up, without its exit handler: call it before
 * anything else in the process uses OpenSSL (lib/mqtt.c does, before paho
 * sets OpenSSL up; the probe below does too). Any thread, any number of
 * times. 0, or -EIO when OpenSSL cannot be initialised.
 */
int pt_tls_init(void);

/*
 * Connect to host:port and do a TLS handshake (TLS 1.2 or later) the way
 * the MQTT client does: with cafile, the server certificate must chain to
 * it and, when check_host is set, name host (a DNS name or an IP address
 * in its subjectAltName); cert/key (may be NULL) are presented as the
 * client certificate. cafile NULL: no verification at all (used to ask
 * "does this port speak TLS?"). The whole probe takes at most timeout_ms.
 *
 * Returns 0 when the handshake and every check succeed (and the server did
 * not reject us right after it); otherwise writes the reason to why and
 * returns
 *   -EACCES  the server certificate was not accepted (unknown CA, host
 *            name mismatch, expired ...) or the server rejected ours;
 *   -EPROTO  the port does not speak TLS;
 *   -EINVAL  cafile, cert or key cannot be loaded;
 *   any other -errno: a network error (refused, unreachable, timeout,
 *            connection closed), worth retrying.
 */
int pt_tls_probe(const char *host, int port, const char *cafile,
                 const char *cert, const char *key, int check_host,
                 int timeout_ms, char *why, size_t why_cap);

/*
 * The other half of the question, for a TLS client whose handshake the
 * server cut off: does host:port speak plain MQTT? Connects without TLS,
 * sends an MQTT 3.1.1 CONNECT (clean session, empty client id) and waits
 * for a CONNACK, whatever its return code, then disconnects. 0 when a
 * CONNACK came; -EPROTO when something else did; any other -errno a
 * network error (why says which). At most timeout_ms.
 */
int pt_tls_probe_plain(const char *host, int port, int timeout_ms, char *why,
                       size_t why_cap);

#endif
