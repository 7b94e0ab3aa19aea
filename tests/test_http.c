/*
 * The http job against real servers (httptest.h): every field of the
 * request, every part of the value, redirects, encodings, HTTP/1.1 and
 * HTTP/2, and the request's validation. The destination policy has its
 * own suite (test_http_policy.c), cancels and limits theirs
 * (test_http_limits.c).
 */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httptest.h"
#include "jsonpath.h"

static struct daemon	d;

HTTPTEST_SUITE(http, 120);

/* Run a GET of url (plus fields) and assert it succeeds; its value. */
static json_t *
get_ok(const char *url, const char *more)
{
	char	*job = ht_get(url, more);
	json_t	*v = ht_ok(&d, job);

	free(job);
	return v;
}

/* Run a GET of url (plus fields) and assert it fails with code; the message. */
static char *
get_fails(const char *url, const char *more, const char *code)
{
	char	*job = ht_get(url, more), *msg;

	msg = ht_fails(&d, job, code);
	free(job);
	return msg;
}

/* The echo of a request: the value's body parsed. Caller decrefs. */
static json_t *
echo_of(json_t *v)
{
	json_t		*e;
	json_error_t	 err;

	e = json_loads(jstr(v, "body"), 0, &err);
	cr_assert_not_null(e, "echo body: %s: %s", err.text, jtext(v));
	return e;
}

/* The value of the request header name (lower-cased) the echo saw, or NULL. */
static const char *
echo_header(json_t *e, const char *name)
{
	json_t	*h = jget(e, "headers"), *pair;
	size_t	 i;

	json_array_foreach(h, i, pair) {
		if (strcasecmp(json_string_value(json_array_get(pair, 0)),
		    name) == 0)
			return json_string_value(json_array_get(pair, 1));
	}
	return NULL;
}

Test(http, get_from_nginx_over_http_1_1)
{
	json_t		*v;
	const char	*key;
	json_t		*val;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_nginx("/1k.txt"), NULL);
	jeq(v, "status", "200");
	jeq(v, "bytes", "1024");
	cr_assert_eq(strlen(jstr(v, "body")), 1024);
	cr_assert_eq(strncmp(jstr(v, "body"), "abcdefghij", 10), 0);
	jstr_is(v, "url", ht_nginx("/1k.txt"));
	jeq(v, "redirects", "0");
	jstr_is(v, "http_version", "1.1");
	jstr_is(v, "headers.content-type", "text/plain");
	jstr_is(v, "headers.content-length", "1024");
	json_object_foreach(jget(v, "headers"), key, val) {
		for (const char *p = key; *p != '\0'; p++)
			cr_assert(*p < 'A' || *p > 'Z', "header %s", key);
	}
	json_decref(v);
	daemon_stop(&d);
}

Test(http, https_is_verified_and_speaks_http_2)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_nginx_tls("/1k.txt"), NULL);
	jeq(v, "status", "200");
	jeq(v, "bytes", "1024");
	jstr_is(v, "http_version", "2");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, a_certificate_of_an_unknown_ca_is_a_tls_error)
{
	char	*conf, *msg, *more;

	/*
	 * The system's bundle does not know the test's CA. It is some 150
	 * certificates that OpenSSL parses for each handshake: seconds under
	 * valgrind on a loaded machine, so the connect deadline is stretched.
	 */
	conf = harness_fmt("[http]\nallow = https://127.0.0.1:%d/\n",
	    ht.https_port);
	daemon_start(&d, conf, NULL);
	free(conf);
	more = harness_fmt("\"connect_timeout_ms\":%d", slack_ms(10000));
	msg = get_fails(ht_nginx_tls("/1k.txt"), more, "http_error");
	free(more);
	cr_assert_not_null(strstr(msg, ": TLS: "), "%s", msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, every_status_is_an_ok_result)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_nginx("/missing"), NULL);
	jeq(v, "status", "404");
	json_decref(v);
	v = get_ok(ht_server("/status?code=500"), NULL);
	jeq(v, "status", "500");
	jstr_is(v, "body", "status");
	json_decref(v);
	v = get_ok(ht_server("/status?code=429"), NULL);
	jeq(v, "status", "429");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, methods_are_sent_upper_case)
{
	static const char *const methods[] = {
		"get", "Post", "PUT", "patch", "DELETE", "options"
	};
	static const char *const sent[] = {
		"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
	};
	char	*more;
	json_t	*v, *e;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		more = harness_fmt("\"method\":\"%s\"", methods[i]);
		v = get_ok(ht_server("/echo"), more);
		e = echo_of(v);
		jstr_is(e, "method", sent[i]);
		json_decref(e);
		json_decref(v);
		free(more);
	}
	v = get_ok(ht_server("/echo"), "\"method\":\"HEAD\"");
	jeq(v, "status", "200");
	jstr_is(v, "body", "");
	jeq(v, "bytes", "0");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, headers_and_bodies_are_sent_as_given)
{
	json_t		*v, *e;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_server("/echo"), "\"method\":\"POST\",\"headers\":"
	    "{\"X-One\":\"1\",\"x-empty\":\"\",\"Authorization\":\"Bearer t\"},"
	    "\"body\":\"h\\u00e9llo\\u0000!\"");
	e = echo_of(v);
	jstr_is(e, "method", "POST");
	cr_assert_str_eq(echo_header(e, "x-one"), "1");
	cr_assert_str_eq(echo_header(e, "x-empty"), "");
	cr_assert_str_eq(echo_header(e, "authorization"), "Bearer t");
	cr_assert_str_eq(echo_header(e, "content-type"),
	    "text/plain; charset=utf-8");
	cr_assert_str_eq(echo_header(e, "user-agent"), "gatherd/"
	    PACKAGE_VERSION);
	cr_assert_null(echo_header(e, "expect"));
	jeq(e, "body_len", "8");
	jb64_is(e, "body_base64", "h\xc3\xa9llo\0!", 8);
	json_decref(e);
	json_decref(v);

	/* Bytes, with a type of the client's. */
	v = get_ok(ht_server("/echo"), "\"method\":\"PUT\",\"headers\":"
	    "{\"Content-Type\":\"image/png\"},\"body_base64\":\"AAEC/w==\"");
	e = echo_of(v);
	jstr_is(e, "method", "PUT");
	cr_assert_str_eq(echo_header(e, "content-type"), "image/png");
	jb64_is(e, "body_base64", "\x00\x01\x02\xff", 4);
	json_decref(e);
	json_decref(v);

	/* Bytes without a type are octets; a POST without a body is empty. */
	v = get_ok(ht_server("/echo"), "\"method\":\"PATCH\","
	    "\"body_base64\":\"\"");
	e = echo_of(v);
	cr_assert_str_eq(echo_header(e, "content-type"),
	    "application/octet-stream");
	cr_assert_str_eq(echo_header(e, "content-length"), "0");
	json_decref(e);
	json_decref(v);
	v = get_ok(ht_server("/echo"), "\"method\":\"POST\"");
	e = echo_of(v);
	cr_assert_str_eq(echo_header(e, "content-length"), "0");
	cr_assert_null(echo_header(e, "content-type"));
	json_decref(e);
	json_decref(v);
	daemon_stop(&d);
}

Test(http, user_agent_is_configured)
{
	json_t	*v, *e;

	httptest_daemon(&d, NULL, "user_agent = probe/2\n");
	v = get_ok(ht_server("/echo"), NULL);
	e = echo_of(v);
	cr_assert_str_eq(echo_header(e, "user-agent"), "probe/2");
	json_decref(e);
	json_decref(v);
	daemon_stop(&d);
}

Test(http, header_injection_is_refused)
{
	static const char *const bad[] = {
		"\"headers\":{\"X-A\":\"1\\r\\nX-B: 2\"}",
		"\"headers\":{\"X-A\":\"1\\nX-B: 2\"}",
		"\"headers\":{\"X-A\":\"1\\u0000\"}",
		"\"headers\":{\"X-A\\r\\nX-B\":\"1\"}",
		"\"headers\":{\"X A\":\"1\"}",
		"\"headers\":{\"\":\"1\"}",
		"\"headers\":{\"X-A:\":\"1\"}",
		"\"headers\":{\"Content-Length\":\"0\"}",
		"\"headers\":{\"transfer-encoding\":\"chunked\"}",
		"\"headers\":{\"Connection\":\"close\"}",
		"\"headers\":{\"X-A\":1}",
		"\"headers\":[\"X-A: 1\"]",
	};
	json_t	*r;
	char	*line;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		line = harness_fmt("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
		    "{\"type\":\"http\",\"url\":%s,%s}]}",
		    ht_quote(ht_server("/echo")), bad[i]);
		r = daemon_request(&d, line);
		jstr_is(r, "error.code", "bad_request");
		jstr_has(r, "error.message", "jobs[1].headers");
		json_decref(r);
		free(line);
	}
	/* Nothing reached the server. */
	cr_assert_eq(httptest_log_wait("close", 1, 0), 0);
	daemon_stop(&d);
}

Test(http, bodies_are_checked)
{
	static const struct {
		const char	*more;
		const char	*says;
	} bad[] = {
		{ "\"body\":\"a\",\"body_base64\":\"YQ==\"", "not both" },
		{ "\"body\":1", "jobs[0].body: expected a string" },
		{ "\"body_base64\":\"YQ\"", "jobs[0].body_base64: not base64" },
		{ "\"body_base64\":\"Y Q==\"", "jobs[0].body_base64: not base64" },
		{ "\"body_base64\":\"YR==\"", "jobs[0].body_base64: not base64" },
		{ "\"method\":\"HEAD\",\"body\":\"\"", "HEAD request takes no body" },
	};
	json_t	*r;
	char	*line;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		line = harness_fmt("{\"jobs\":[{\"type\":\"http\",\"url\":"
		    "%s,%s}]}", ht_quote(ht_server("/echo")), bad[i].more);
		r = daemon_request(&d, line);
		jstr_is(r, "error.code", "bad_request");
		jstr_has(r, "error.message", bad[i].says);
		json_decref(r);
		free(line);
	}
	daemon_stop(&d);
}

Test(http, the_body_is_text_or_base64_as_asked)
{
	json_t	*v;
	char	*msg;

	httptest_daemon(&d, NULL, NULL);
	msg = get_fails(ht_server("/bytes?n=3"), NULL, "bad_encoding");
	cr_assert_not_null(strstr(msg, "not valid UTF-8 at byte 0"), "%s", msg);
	cr_assert_not_null(strstr(msg, "base64"), "%s", msg);
	free(msg);
	v = get_ok(ht_server("/bytes?n=3"), "\"encoding\":\"base64\"");
	jb64_is(v, "body", "\xff\xff\xff", 3);
	jeq(v, "bytes", "3");
	json_decref(v);
	v = get_ok(ht_nginx("/1k.txt"), "\"encoding\":\"base64\"");
	jeq(v, "bytes", "1024");
	cr_assert_eq(strlen(jstr(v, "body")), 1368);
	json_decref(v);
	daemon_stop(&d);
}

Test(http, a_large_body_is_encoded_whole)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_nginx("/1m.bin"), "\"encoding\":\"base64\"");
	jeq(v, "bytes", "1048576");
	cr_assert_eq(strlen(jstr(v, "body")), 1398104);
	json_decref(v);
	v = get_ok(ht_server("/chunked?bytes=300000"), NULL);
	jeq(v, "bytes", "300000");
	cr_assert_eq(strspn(jstr(v, "body"), "a"), 300000);
	json_decref(v);
	daemon_stop(&d);
}

Test(http, repeated_headers_are_joined_and_names_lower_case)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_server("/headers"), NULL);
	jstr_is(v, "headers.x-dup", "one, two");
	jstr_is(v, "headers.set-cookie", "a=1, b=2");
	jstr_is(v, "headers.x-mixed-case", "Value");
	/* A byte that is not UTF-8 is U+FFFD. */
	jstr_is(v, "headers.x-latin1", "caf\xef\xbf\xbd");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, gzip_bodies_are_decompressed_and_counted_so)
{
	json_t	*v;
	char	*msg;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_nginx("/gz/zeros.txt"), NULL);
	jstr_is(v, "headers.content-encoding", "gzip");
	jeq(v, "bytes", "1048576");
	cr_assert_eq(strspn(jstr(v, "body"), "a"), 1048576);
	json_decref(v);
	/* Some kilobytes on the wire, a mebibyte decompressed. */
	msg = get_fails(ht_nginx("/gz/zeros.txt"), "\"max_bytes\":100000",
	    "too_large");
	cr_assert_not_null(strstr(msg, "over max_bytes (100000 bytes)"), "%s",
	    msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, redirects_are_followed_and_counted)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_server("/redirect?n=3"), NULL);
	jeq(v, "status", "200");
	jstr_is(v, "body", "done");
	jeq(v, "redirects", "3");
	jstr_is(v, "url", ht_server("/redirect?n=0&code=302"));
	json_decref(v);
	/* Each code that redirects, to another server of the allowed. */
	v = get_ok(ht_server("/redirect?n=1&code=301&to=%2F1k.txt"), NULL);
	jeq(v, "redirects", "2");
	jeq(v, "status", "404");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, redirects_go_to_other_servers_and_schemes)
{
	json_t	*v;
	char	*path;

	httptest_daemon(&d, NULL, NULL);
	path = harness_fmt("/redirect?n=1&code=307&to=%s",
	    ht_nginx_tls("/1k.txt"));
	v = get_ok(ht_server(path), NULL);
	free(path);
	jeq(v, "status", "200");
	jeq(v, "redirects", "2");
	jstr_is(v, "url", ht_nginx_tls("/1k.txt"));
	jstr_is(v, "http_version", "2");
	jeq(v, "bytes", "1024");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, max_redirects_bounds_a_chain)
{
	json_t	*v;
	char	*msg;

	httptest_daemon(&d, NULL, "max_redirects = 2\n");
	v = get_ok(ht_server("/redirect?n=2"), NULL);
	jeq(v, "redirects", "2");
	json_decref(v);
	msg = get_fails(ht_server("/redirect?n=3"), NULL, "http_error");
	cr_assert_not_null(strstr(msg, "redirects: more than max_redirects"
	    " (2)"), "%s", msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, follow_false_returns_the_redirect)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_server("/redirect?n=1"), "\"follow\":false");
	jeq(v, "status", "302");
	jeq(v, "redirects", "0");
	jstr_is(v, "body", "moved");
	jstr_is(v, "headers.location", "/redirect?n=0&code=302");
	json_decref(v);
	daemon_stop(&d);
}

Test(http, a_redirect_changes_the_method_as_fetch_does)
{
	json_t	*v, *e;

	httptest_daemon(&d, NULL, NULL);
	/* 303: GET, without the body or its type. */
	v = get_ok(ht_server("/redirect?n=0&code=303&to=%2Fecho"),
	    "\"method\":\"PUT\",\"body\":\"x\",\"headers\":{\"Content-Type\":"
	    "\"a/b\",\"X-Keep\":\"k\"}");
	e = echo_of(v);
	jstr_is(e, "method", "GET");
	jeq(e, "body_len", "0");
	cr_assert_null(echo_header(e, "content-type"));
	cr_assert_str_eq(echo_header(e, "x-keep"), "k");
	json_decref(e);
	json_decref(v);
	/* 302 after a POST: GET. */
	v = get_ok(ht_server("/redirect?n=0&code=302&to=%2Fecho"),
	    "\"method\":\"POST\",\"body\":\"x\"");
	e = echo_of(v);
	jstr_is(e, "method", "GET");
	json_decref(e);
	json_decref(v);
	/* 307 and 308 keep the method and the body. */
	v = get_ok(ht_server("/redirect?n=0&code=307&to=%2Fecho"),
	    "\"method\":\"POST\",\"body\":\"xyz\"");
	e = echo_of(v);
	jstr_is(e, "method", "POST");
	jeq(e, "body_len", "3");
	json_decref(e);
	json_decref(v);
	v = get_ok(ht_server("/redirect?n=0&code=308&to=%2Fecho"),
	    "\"method\":\"PATCH\",\"body\":\"xy\"");
	e = echo_of(v);
	jstr_is(e, "method", "PATCH");
	jeq(e, "body_len", "2");
	json_decref(e);
	json_decref(v);
	daemon_stop(&d);
}

/* s percent-encoded for a query's value, in one of 4 static buffers. */
static const char *
escape(const char *s)
{
	static char	 bufs[4][1024];
	static int	 next;
	char		*b = bufs[next++ % 4], *p = b;

	for (; *s != '\0' && p < b + 1020; s++) {
		if (strchr(":/?&=%", *s) != NULL)
			p += sprintf(p, "%%%02X", (unsigned char)*s);
		else
			*p++ = *s;
	}
	*p = '\0';
	return b;
}

Test(http, credentials_do_not_follow_to_another_origin)
{
	json_t	*v, *e;
	char	*conf, *path, *back, *there;

	conf = harness_fmt("http://localhost:%d/", ht.port);
	httptest_daemon(&d, conf, NULL);
	free(conf);
	/* Same origin: kept. */
	v = get_ok(ht_server("/redirect?n=0&to=%2Fecho"), "\"headers\":"
	    "{\"Authorization\":\"Bearer t\",\"Cookie\":\"c=1\"}");
	e = echo_of(v);
	cr_assert_str_eq(echo_header(e, "authorization"), "Bearer t");
	cr_assert_str_eq(echo_header(e, "cookie"), "c=1");
	json_decref(e);
	json_decref(v);
	/*
	 * To another host and back: dropped from the first hop that leaves
	 * the origin on, as fetch does (libcurl alone would send them again
	 * once back on the first host); the other headers kept.
	 */
	back = harness_fmt("http://127.0.0.1:%d/echo", ht.port);
	there = harness_fmt("http://localhost:%d/redirect?n=0&to=%s", ht.port,
	    escape(back));
	path = harness_fmt("/redirect?n=0&to=%s", escape(there));
	v = get_ok(ht_server(path), "\"headers\":{\"Authorization\":"
	    "\"Bearer t\",\"Cookie\":\"c=1\",\"Proxy-Authorization\":"
	    "\"Basic p\",\"X-Other\":\"o\"}");
	free(path);
	free(there);
	jeq(v, "redirects", "2");
	jstr_is(v, "url", back);
	free(back);
	e = echo_of(v);
	cr_assert_null(echo_header(e, "authorization"));
	cr_assert_null(echo_header(e, "cookie"));
	cr_assert_str_eq(echo_header(e, "x-other"), "o");
	json_decref(e);
	json_decref(v);
	daemon_stop(&d);
}

Test(http, a_bad_redirect_is_an_http_error)
{
	char	*msg;

	httptest_daemon(&d, NULL, NULL);
	msg = get_fails(ht_server("/redirect?n=0&to=http%3A%2F%2Fu%3Ap%40"
	    "127.0.0.1%2F"), NULL, "http_error");
	cr_assert_not_null(strstr(msg, "redirect 1 to http://u:p@127.0.0.1/:"
	    " the URL has user information"), "%s", msg);
	free(msg);
	msg = get_fails(ht_server("/redirect?n=0&to=http%3A%2F%2F%2Fx"), NULL,
	    "http_error");
	cr_assert_not_null(strstr(msg, "no host"), "%s", msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, a_refused_connection_is_an_http_error)
{
	char	*msg;

	httptest_daemon(&d, "http://127.0.0.1:1/", NULL);
	msg = get_fails("http://127.0.0.1:1/", NULL, "http_error");
	cr_assert_not_null(strstr(msg, "GET http://127.0.0.1:1/: connect: "),
	    "%s", msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, a_name_that_does_not_resolve_is_a_dns_error)
{
	char	*msg;

	/* libcurl resolves no .onion name (RFC 7686): no query leaves. */
	httptest_daemon(&d, NULL, NULL);
	msg = get_fails("http://gatherd-test.onion/", NULL, "http_error");
	cr_assert_not_null(strstr(msg, "GET http://gatherd-test.onion/: DNS: "),
	    "%s", msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, requests_are_validated)
{
	static const struct {
		const char	*job;
		const char	*code;
		const char	*says;
	} bad[] = {
		{ "{\"type\":\"http\"}", "bad_request",
		    "jobs[0].url: missing required field" },
		{ "{\"type\":\"http\",\"url\":1}", "bad_request",
		    "jobs[0].url: expected a string" },
		{ "{\"type\":\"http\",\"url\":\"ftp://127.0.0.1/\"}",
		    "bad_request", "not http or https" },
		{ "{\"type\":\"http\",\"url\":\"file:///etc/passwd\"}",
		    "bad_request", "not http or https" },
		{ "{\"type\":\"http\",\"url\":\"/path\"}", "bad_request",
		    "absolute http:// or https:// URL" },
		{ "{\"type\":\"http\",\"url\":\"http://u:p@127.0.0.1/\"}",
		    "bad_request", "user information" },
		{ "{\"type\":\"http\",\"url\":\"http://@127.0.0.1/\"}",
		    "bad_request", "user information" },
		{ "{\"type\":\"http\",\"url\":\"http:///x\"}", "bad_request",
		    "no host" },
		{ "{\"type\":\"http\",\"url\":\"http:/x\"}", "bad_request",
		    "expected \"//\"" },
		{ "{\"type\":\"http\",\"url\":\"http://b\\u00fccher.de/\"}",
		    "bad_request", "punycode" },
		{ "{\"type\":\"http\",\"url\":\"http://h/a b\"}", "bad_request",
		    "jobs[0].url: not a valid URL" },
		{ "{\"type\":\"http\",\"url\":\"http://h:0/\"}", "bad_request",
		    "port 0" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"method\":"
		    "\"TRACE\"}", "bad_request", "jobs[0].method: expected" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"encoding\":"
		    "\"hex\"}", "bad_request", "jobs[0].encoding" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"follow\":1}",
		    "bad_request", "jobs[0].follow" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"max_bytes\":-1}",
		    "bad_request", "jobs[0].max_bytes: expected an integer" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"max_bytes\":1.0}",
		    "bad_request", "jobs[0].max_bytes: expected an integer" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"max_bytes\":"
		    "18446744073709551616}", "bad_request",
		    "jobs[0].max_bytes: integer out of range" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"max_bytes\":"
		    "16777217}", "bad_request", "max_response_bytes (16777216)" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\","
		    "\"connect_timeout_ms\":-1}", "bad_request",
		    "jobs[0].connect_timeout_ms" },
		{ "{\"type\":\"http\",\"url\":\"http://h/\",\"timout_ms\":1}",
		    "bad_request", "jobs[0].timout_ms: unknown field" },
	};
	json_t	*r;
	char	*line;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		line = harness_fmt("{\"jobs\":[%s]}", bad[i].job);
		r = daemon_request(&d, line);
		jstr_is(r, "error.code", bad[i].code);
		jstr_has(r, "error.message", bad[i].says);
		json_decref(r);
		free(line);
	}
	daemon_stop(&d);
}

Test(http, max_bytes_up_to_max_response_bytes_is_taken)
{
	json_t	*v;

	httptest_daemon(&d, NULL, "max_response_bytes = 2048\n");
	v = get_ok(ht_nginx("/1k.txt"), "\"max_bytes\":2048");
	jeq(v, "bytes", "1024");
	json_decref(v);
	v = get_ok(ht_nginx("/1k.txt"), "\"max_bytes\":1024");
	jeq(v, "bytes", "1024");
	json_decref(v);
	free(get_fails(ht_nginx("/1k.txt"), "\"max_bytes\":1023",
	    "too_large"));
	/* The default is the key. */
	free(get_fails(ht_nginx("/1m.bin"), NULL, "too_large"));
	daemon_stop(&d);
}

Test(http, a_disabled_type_refuses_its_jobs)
{
	json_t	*r;
	char	*line;

	daemon_start(&d, "[http]\nenabled = false\n", NULL);
	line = harness_fmt("{\"jobs\":[{\"type\":\"http\",\"url\":%s}]}",
	    ht_quote(ht_nginx("/1k.txt")));
	r = daemon_request(&d, line);
	free(line);
	jstr_is(r, "error.code", "unknown_type");
	jstr_has(r, "error.message", "[http] enabled = false");
	json_decref(r);
	r = daemon_request(&d, "{\"op\":\"status\"}");
	cr_assert_null(jget(r, "status.http"), "%s", jtext(r));
	json_decref(r);
	daemon_stop(&d);
}

Test(http, jobs_of_a_batch_run_at_once)
{
	json_t	*r;
	char	*job, path[32];
	size_t	 i;

	httptest_daemon(&d, NULL, "max_host_connections = 50\n");
	job = ht_get(ht_server("/delay?ms=500"), NULL);
	r = ht_batch_copies(&d, job, 50, NULL);
	free(job);
	jeq(r, "stats.ok", "50");
	/*
	 * Fifty half seconds in about one half: none waits for another
	 * (over plain HTTP, none waits to learn whether the first
	 * connection multiplexes: it cannot).
	 */
	for (i = 0; i < 50; i++) {
		snprintf(path, sizeof path, "results[%zu].ms", i);
		cr_assert_lt(jnum(r, path), 500 + slack_ms(350), "%s: %s",
		    path, jtext(r));
	}
	cr_assert_lt(jnum(r, "elapsed_ms"), 500 + slack_ms(450), "%s",
	    jtext(jget(r, "stats")));
	cr_assert_geq(jnum(r, "stats.sum_ms"), 50 * 500);
	json_decref(r);
	daemon_stop(&d);
}

Test(http, gatherctl_runs_http_shorthands)
{
	json_t		*r, *e;
	json_error_t	 err;
	char		*cmd, *out;

	httptest_daemon(&d, NULL, NULL);
	cmd = harness_fmt("%s -s %s run http:%s http:post:%s", GATHERCTL_BIN,
	    d.sock, ht_nginx("/1k.txt"), ht_server("/echo"));
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	free(cmd);
	r = json_loads(out, 0, &err);
	cr_assert_not_null(r, "%s: %s", err.text, out);
	free(out);
	jeq(r, "results[0].value.status", "200");
	jeq(r, "results[0].value.bytes", "1024");
	e = echo_of(jget(r, "results[1].value"));
	jstr_is(e, "method", "POST");
	json_decref(e);
	json_decref(r);

	/* For people: status, size, version and URL on each result's line. */
	cmd = harness_fmt("script -qec '%s -s %s run http:%s http:HEAD:%s'"
	    " /dev/null", GATHERCTL_BIN, d.sock, ht_nginx("/1k.txt"),
	    ht_nginx_tls("/1k.txt"));
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	free(cmd);
	cr_assert_not_null(strstr(out, "200    1.0 KiB  HTTP/1.1  http://"),
	    "%s", out);
	cr_assert_not_null(strstr(out, "200        0 B  HTTP/2  https://"),
	    "%s", out);
	free(out);
	daemon_stop(&d);
}
