/*
 * Real HTTP servers for the http suites, on 127.0.0.1 only: an nginx
 * (Debian's nginx-light, unprivileged, in the foreground, with its own
 * prefix in a temporary directory) serving HTTP/1.1 on one port and
 * HTTPS with HTTP/2 on another, under a CA and a certificate made with
 * openssl for the test; and tests/http-server (its header says what it
 * serves) for delays, drips, redirects, echoes and a port that never
 * speaks. Criterion runs each test in a process of its own, so each test
 * starts its own (HTTPTEST_SUITE's .init) and harness_suite_fini stops
 * them; both die with the test's process if it is killed.
 *
 * nginx serves, from ht.html: 1k.txt (1,024 bytes of text), 1m.bin
 * (1 MiB of random bytes) and gz/zeros.txt (1 MiB of "a", gzipped on the
 * wire). Helpers assert (Criterion) instead of returning errors.
 */
#ifndef GATHERD_HTTPTEST_H
#define GATHERD_HTTPTEST_H

#include <sys/types.h>

#include <jansson.h>

#include "harness.h"

struct httptest {
	char	dir[256];	/* everything below, removed by httptest_stop */
	char	html[320];	/* nginx's root */
	char	ca[320];	/* the CA that signed the certificate */
	char	log[320];	/* http-server's events */
	pid_t	nginx;
	pid_t	server;
	int	http_port;	/* nginx, HTTP/1.1 */
	int	https_port;	/* nginx, HTTPS, HTTP/2 by ALPN */
	int	port;		/* http-server */
	int	hold_port;	/* http-server's port that never speaks */
};

extern struct httptest ht;

/*
 * Make the certificates and start nginx and http-server; have
 * harness_suite_fini stop them.
 */
void	 httptest_start(void);
/* Stop both and remove ht.dir; safe to call twice. */
void	 httptest_stop(void);
/* harness_suite_init, then httptest_start: an http suite's .init. */
void	 httptest_suite_init(void);
/* A Criterion suite whose every test has the servers, timing out in secs. */
#define HTTPTEST_SUITE(name, secs) \
	TestSuite(name, .init = httptest_suite_init, \
	    .fini = harness_suite_fini, .timeout = (secs))
/*
 * Configuration text for a test daemon: [http] allowing both servers
 * (http://127.0.0.1:PORT/ for each port, https as well) with the test's
 * CA, then extra lines (more [http] keys, or other sections), if any.
 * Caller frees.
 */
char	*httptest_conf(const char *extra);
/* httptest_conf, with more words in allow (may be NULL). Caller frees. */
char	*httptest_conf_allow(const char *allow, const char *extra);
/* Start d with httptest_conf_allow(allow, extra) as its configuration. */
void	 httptest_daemon(struct daemon *d, const char *allow,
	    const char *extra);
/*
 * URLs, path included; one of 16 static buffers each: SCHEME://HOST:PORT
 * PATH, and on the servers (127.0.0.1).
 */
const char *ht_url(const char *scheme, const char *host, int port,
	    const char *path);
const char *ht_nginx(const char *path);
const char *ht_nginx_tls(const char *path);
const char *ht_server(const char *path);
/* How many lines of http-server's log hold needle, waiting for count. */
int	 httptest_log_wait(const char *needle, int count, int timeout_ms);
/* Run jobs (a JSON array's text) as one batch; the reply. Caller decrefs. */
json_t	*ht_batch(struct daemon *, const char *jobs);
/*
 * Run n copies of job, then last if not NULL (JSON objects' text), as
 * one batch; the reply. Caller decrefs.
 */
json_t	*ht_batch_copies(struct daemon *, const char *job, size_t n,
	    const char *last);
/* Run one job (a JSON object's text); its result. Caller decrefs. */
json_t	*ht_job(struct daemon *, const char *job);
/* ht_job, asserting success; the value. Caller decrefs. */
json_t	*ht_ok(struct daemon *, const char *job);
/* ht_job, asserting failure with code; the message. Caller frees. */
char	*ht_fails(struct daemon *, const char *job, const char *code);
/* A GET job's text: url, plus more fields (may be NULL). Caller frees. */
char	*ht_get(const char *url, const char *more);
/* Run ht_get(url, more) as a batch of one; its result. Caller decrefs. */
json_t	*ht_get_result(struct daemon *, const char *url, const char *more);
/* A JSON string of s (quoted, escaped), in one of 16 static buffers. */
const char *ht_quote(const char *s);

#endif
