/*
 * tls.c: pitemp's only user of OpenSSL: the handshake probe of pt_tls.h.
 * Blocking, bounded by its timeout, no state kept between calls; the
 * OpenSSL error queue of the calling thread is left empty (paho shares the
 * thread when lib/mqtt.c calls this from a paho callback).
 */
#include "pt_tls.h"
#include "pt_time.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define AFTER_HANDSHAKE_MS 500  /* how long to wait for a late rejection */

/*
 * OpenSSL frees its global state and that of every thread in an exit
 * handler (OPENSSL_cleanup) unless told not to, and the first
 * initialisation in the process decides (OPENSSL_init_crypto(3)). paho's
 * threads are detached: MQTTAsync_destroy returns while they are still
 * ending, and each frees its own OpenSSL state on the way out. When the
 * exit handler ran at the same time, AddressSanitizer saw a double free in
 * paho's receive thread (both freed its list of thread-exit handlers);
 * when it ran first, LeakSanitizer saw the thread's random generators
 * lost (the cleanup drops other threads' handlers without running them).
 * Without the handler, a thread still ending keeps its state reachable
 * until it frees it, and the process's memory goes with the process.
 */
int
pt_tls_init(void)
{
	return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) == 1 ? 0 : -EIO;
}

static int
left_ms(int64_t deadline_ns)
{
	int64_t ms = (deadline_ns - pt_time_mono_ns()) / 1000000;

	return ms <= 0 ? 0 : ms > 600000 ? 600000 : (int)ms;
}

static int
set_io_timeout(int fd, int ms)
{
	struct timeval tv;

	if (ms < 50)
		ms = 50;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/* A blocking TCP socket connected to host:port, or -errno. */
static int
tcp_connect(const char *host, int port, int64_t deadline_ns, char *why,
            size_t cap)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, err = ETIMEDOUT, rc, flags;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(why, cap, "cannot resolve the host name '%s' (--host): %s",
		    host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			err = 0;
		else if (errno != EINPROGRESS)
			err = errno;
		else {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			rc = poll(&pfd, 1, left_ms(deadline_ns));
			if (rc == 0)
				err = ETIMEDOUT;
			else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
		}
		if (err == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(why, cap, "cannot connect to %s:%d: %s", host, port, strerror(err));
		return -err;
	}
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    set_io_timeout(fd, left_ms(deadline_ns)) < 0) {
		err = errno;
		close(fd);
		snprintf(why, cap, "socket setup: %s", strerror(err));
		return -err;
	}
	return fd;
}

/* The reason text of the newest queued OpenSSL error, e.g.
 * "certificate verify failed"; empties the queue. */
static const char *
ssl_reason(void)
{
	unsigned long e, last = 0;
	const char *r;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		return NULL;
	r = ERR_reason_error_string(last);
	return r != NULL ? r : "unknown OpenSSL error";
}

/* What a failed SSL_connect/SSL_read means; see pt_tls.h. */
static int
classify(SSL *ssl, int rc, int verifying, const char *when, char *why,
         size_t cap)
{
	int kind = SSL_get_error(ssl, rc), saved = errno;
	long vr = SSL_get_verify_result(ssl);
	const char *reason = ssl_reason();

	if (verifying && vr != X509_V_OK) {
		snprintf(why, cap, "server certificate not accepted: %s",
		    X509_verify_cert_error_string(vr));
		return -EACCES;
	}
	if (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE) {
		/* SO_RCVTIMEO/SO_SNDTIMEO expired */
		snprintf(why, cap, "timed out %s", when);
		return -ETIMEDOUT;
	}
	if (kind == SSL_ERROR_ZERO_RETURN ||
	    (kind == SSL_ERROR_SYSCALL && reason == NULL)) {
		if (saved == EAGAIN || saved == EWOULDBLOCK) {
			snprintf(why, cap, "timed out %s", when);
			return -ETIMEDOUT;
		}
		snprintf(why, cap, "connection closed %s%s%s", when,
		    saved != 0 ? ": " : "", saved != 0 ? strerror(saved) : "");
		return -ECONNRESET;
	}
	if (reason == NULL)
		reason = "unknown TLS error";
	if (strstr(reason, "alert") != NULL) {
		/* The server said no, e.g. "tlsv13 alert certificate required"
		 * or "tlsv1 alert unknown ca": it does not accept our
		 * certificate (or its absence). */
		snprintf(why, cap, "the broker rejected the TLS connection %s: %s",
		    when, reason);
		return -EACCES;
	}
	if (strstr(reason, "wrong version number") != NULL ||
	    strstr(reason, "packet length too long") != NULL ||
	    strstr(reason, "unknown protocol") != NULL ||
	    strstr(reason, "record layer failure") != NULL) {
		snprintf(why, cap, "the port does not speak TLS (%s)", reason);
		return -EPROTO;
	}
	snprintf(why, cap, "TLS handshake failed: %s", reason);
	return -EPROTO;
}

int
pt_tls_probe(const char *host, int port, const char *cafile, const char *cert,
             const char *key, int check_host, int timeout_ms, char *why,
             size_t why_cap)
{
	int64_t deadline = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;
	unsigned char ip[16];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char byte;
	const char *r;
	int fd = -1, rc, is_ip;

	why[0] = '\0';
	if (pt_tls_init() < 0) {
		snprintf(why, why_cap, "TLS setup failed: OpenSSL cannot be initialised");
		return -ENOMEM;
	}
	ERR_clear_error();
	is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(why, why_cap, "TLS setup failed: %s",
		    (r = ssl_reason()) ? r : "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (cafile != NULL && access(cafile, R_OK) < 0) {
		snprintf(why, why_cap, "cannot read CA file '%s': %s", cafile,
		    strerror(errno));
		rc = -EINVAL;
		goto out;
	}
	if (cafile != NULL && SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		snprintf(why, why_cap, "cannot load CA file '%s': %s", cafile,
		    (r = ssl_reason()) ? r : "unknown error");
		rc = -EINVAL;
		goto out;
	}
	SSL_CTX_set_verify(ctx, cafile != NULL ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (cert != NULL && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM) != 1)) {
		snprintf(why, why_cap, "cannot load client certificate '%s' / key '%s': %s",
		    cert, key ? key : cert, (r = ssl_reason()) ? r : "unknown error");
		rc = -EINVAL;
		goto out;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		snprintf(why, why_cap, "TLS setup failed");
		rc = -ENOMEM;
		goto out;
	}
	if (!is_ip)
		(void)SSL_set_tlsext_host_name(ssl, host);
	if (cafile != NULL && check_host) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		rc = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) :
		    X509_VERIFY_PARAM_set1_host(vp, host, 0);
		if (rc != 1) {
			snprintf(why, why_cap, "cannot check host name '%s'", host);
			rc = -EINVAL;
			goto out;
		}
	}
	if ((fd = tcp_connect(host, port, deadline, why, why_cap)) < 0) {
		rc = fd;
		goto out;
	}
	if (SSL_set_fd(ssl, fd) != 1) {
		snprintf(why, why_cap, "TLS setup failed");
		rc = -ENOMEM;
		goto out;
	}
	errno = 0;
	if ((rc = SSL_connect(ssl)) != 1) {
		rc = classify(ssl, rc, cafile != NULL, "during the handshake", why, why_cap);
		goto out;
	}
	/* TLS 1.3: the server checks our certificate after the client has
	 * finished its side, so a rejection arrives as an alert just after. */
	if (set_io_timeout(fd, left_ms(deadline) < AFTER_HANDSHAKE_MS ?
	    left_ms(deadline) : AFTER_HANDSHAKE_MS) < 0) {
		rc = 0;
		goto out;
	}
	errno = 0;
	rc = SSL_read(ssl, &byte, 1);
	if (rc > 0) {
		rc = 0;
		goto out;
	}
	rc = classify(ssl, rc, cafile != NULL, "after the handshake", why, why_cap);
	if (rc == -ETIMEDOUT) {         /* nothing came: accepted */
		why[0] = '\0';
		rc = 0;
	}
out:
	if (ssl != NULL)
		SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int
pt_tls_probe_plain(const char *host, int port, int timeout_ms, char *why,
                   size_t why_cap)
{
	/* CONNECT, MQTT 3.1.1, clean session, keep-alive 10 s, client id "". */
	static const unsigned char connect_pkt[] = {
		0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, 0,
	};
	static const unsigned char disconnect_pkt[] = { 0xe0, 0 };
	int64_t deadline = pt_time_mono_ns() + (int64_t)timeout_ms * 1000000;
	unsigned char ack[4];
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	why[0] = '\0';
	if ((fd = tcp_connect(host, port, deadline, why, why_cap)) < 0)
		return fd;
	if (send(fd, connect_pkt, sizeof(connect_pkt), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(connect_pkt)) {
		rc = -errno;
		snprintf(why, why_cap, "cannot send to %s:%d: %s", host, port,
		    strerror(errno));
		goto out;
	}
	while (got < sizeof(ack)) {
		if ((n = recv(fd, ack + got, sizeof(ack) - got, 0)) > 0) {
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (got >= 2 && ack[0] == 0x20 && ack[1] == 2) {
		(void)!send(fd, disconnect_pkt, sizeof(disconnect_pkt), MSG_NOSIGNAL);
		rc = 0;
	} else if (got > 0) {
		snprintf(why, why_cap, "%s:%d answers neither TLS nor MQTT", host, port);
		rc = -EPROTO;
	} else {
		snprintf(why, why_cap, "no answer from %s:%d", host, port);
		rc = -ECONNRESET;
	}
out:
	close(fd);
	return rc;
}
