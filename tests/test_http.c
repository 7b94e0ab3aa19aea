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

/* Run a GET of url (plus fields) and assert its value holds pattern (jhas). */
static void
get_has(const char *url, const char *more, const char *pattern)
{
	json_t	*v = get_ok(url, more);

	jhas(v, "", pattern);
	json_decref(v);
}

/*
 * Run a GET of url (plus fields) and assert its body is n bytes, all "a",
 * and counted so; the value. Caller decrefs.
 */
static json_t *
get_as(const char *url, const char *more, size_t n)
{
	json_t	*v = get_ok(url, more);

	cr_assert_eq(jint(v, "bytes"), (json_int_t)n, "%s", jtext(v));
	cr_assert_eq(strlen(jstr(v, "body")), n);
	cr_assert_eq(strspn(jstr(v, "body"), "a"), n);
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

/*
 * Run a GET of url (plus fields) and assert it fails with code and a
 * message that holds says.
 */
static void
get_fails_saying(const char *url, const char *more, const char *code,
    const char *says)
{
	char	*msg = get_fails(url, more, code);

	cr_assert_not_null(strstr(msg, says), "%s", msg);
	free(msg);
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

/* The echo of a GET of url (plus fields), which must succeed. Caller decrefs. */
static json_t *
echo_get(const char *url, const char *more)
{
	json_t	*v = get_ok(url, more), *e;

	e = echo_of(v);
	json_decref(v);
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
	jhas(v, "", "{\"status\":200,\"bytes\":1024,\"redirects\":0,"
	    "\"http_version\":\"1.1\",\"headers\":{\"content-type\":"
	    "\"text/plain\",\"content-length\":\"1024\"}}");
	cr_assert_eq(strlen(jstr(v, "body")), 1024);
	cr_assert_eq(strncmp(jstr(v, "body"), "abcdefghij", 10), 0);
	jstr_is(v, "url", ht_nginx("/1k.txt"));
	json_object_foreach(jget(v, "headers"), key, val) {
		for (const char *p = key; *p != '\0'; p++)
			cr_assert(*p < 'A' || *p > 'Z', "header %s", key);
	}
	json_decref(v);
	daemon_stop(&d);
}

Test(http, https_is_verified_and_speaks_http_2)
{
	httptest_daemon(&d, NULL, NULL);
	get_has(ht_nginx_tls("/1k.txt"), NULL,
	    "{\"status\":200,\"bytes\":1024,\"http_version\":\"2\"}");
	daemon_stop(&d);
}

Test(http, a_certificate_of_an_unknown_ca_is_a_tls_error)
{
	char	*conf, *more;

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
	get_fails_saying(ht_nginx_tls("/1k.txt"), more, "http_error", ": TLS: ");
	free(more);
	daemon_stop(&d);
}

Test(http, every_status_is_an_ok_result)
{
	httptest_daemon(&d, NULL, NULL);
	get_has(ht_nginx("/missing"), NULL, "{\"status\":404}");
	get_has(ht_server("/status?code=500"), NULL,
	    "{\"status\":500,\"body\":\"status\"}");
	get_has(ht_server("/status?code=429"), NULL, "{\"status\":429}");
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
	json_t	*e;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		more = harness_fmt("\"method\":\"%s\"", methods[i]);
		e = echo_get(ht_server("/echo"), more);
		jstr_is(e, "method", sent[i]);
		json_decref(e);
		free(more);
	}
	get_has(ht_server("/echo"), "\"method\":\"HEAD\"",
	    "{\"status\":200,\"body\":\"\",\"bytes\":0}");
	daemon_stop(&d);
}

Test(http, headers_and_bodies_are_sent_as_given)
{
	json_t		*e;

	httptest_daemon(&d, NULL, NULL);
	e = echo_get(ht_server("/echo"), "\"method\":\"POST\",\"headers\":"
	    "{\"X-One\":\"1\",\"x-empty\":\"\",\"Authorization\":\"Bearer t\"},"
	    "\"body\":\"h\\u00e9llo\\u0000!\"");
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

	/* Bytes, with a type of the client's. */
	e = echo_get(ht_server("/echo"), "\"method\":\"PUT\",\"headers\":"
	    "{\"Content-Type\":\"image/png\"},\"body_base64\":\"AAEC/w==\"");
	jstr_is(e, "method", "PUT");
	cr_assert_str_eq(echo_header(e, "content-type"), "image/png");
	jb64_is(e, "body_base64", "\x00\x01\x02\xff", 4);
	json_decref(e);

	/* Bytes without a type are octets; a POST without a body is empty. */
	e = echo_get(ht_server("/echo"), "\"method\":\"PATCH\","
	    "\"body_base64\":\"\"");
	cr_assert_str_eq(echo_header(e, "content-type"),
	    "application/octet-stream");
	cr_assert_str_eq(echo_header(e, "content-length"), "0");
	json_decref(e);
	e = echo_get(ht_server("/echo"), "\"method\":\"POST\"");
	cr_assert_str_eq(echo_header(e, "content-length"), "0");
	cr_assert_null(echo_header(e, "content-type"));
	json_decref(e);
	daemon_stop(&d);
}

Test(http, user_agent_is_configured)
{
	json_t	*e;

	httptest_daemon(&d, NULL, "user_agent = probe/2\n");
	e = echo_get(ht_server("/echo"), NULL);
	cr_assert_str_eq(echo_header(e, "user-agent"), "probe/2");
	json_decref(e);
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
	char	*line;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		line = harness_fmt("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
		    "{\"type\":\"http\",\"url\":%s,%s}]}",
		    ht_quote(ht_server("/echo")), bad[i]);
		daemon_refuses(&d, line, "bad_request", "jobs[1].headers");
		free(line);
	}
	/* Nothing reached the server. */
	cr_assert_eq(httptest_log_wait("close", 1, 0), 0);
	daemon_stop(&d);
}

Test(http, bodies_are_checked)
{
	static const struct refusal bad[] = {
		{ "\"body\":\"a\",\"body_base64\":\"YQ==\"", "not both" },
		{ "\"body\":1", "jobs[0].body: expected a string" },
		{ "\"body_base64\":\"YQ\"", "jobs[0].body_base64: not base64" },
		{ "\"body_base64\":\"Y Q==\"", "jobs[0].body_base64: not base64" },
		{ "\"body_base64\":\"YR==\"", "jobs[0].body_base64: not base64" },
		{ "\"method\":\"HEAD\",\"body\":\"\"", "HEAD request takes no body" },
	};
	char	*line;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		line = harness_fmt("{\"jobs\":[{\"type\":\"http\",\"url\":"
		    "%s,%s}]}", ht_quote(ht_server("/echo")), bad[i].text);
		daemon_refuses(&d, line, "bad_request", bad[i].says);
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
	jhas(v, "", "{\"body\":\"////\",\"bytes\":3}");
	jb64_is(v, "body", "\xff\xff\xff", 3);
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
	json_decref(get_as(ht_server("/chunked?bytes=300000"), NULL, 300000));
	daemon_stop(&d);
}

Test(http, repeated_headers_are_joined_and_names_lower_case)
{
	httptest_daemon(&d, NULL, NULL);
	/* A byte that is not UTF-8 is U+FFFD. */
	get_has(ht_server("/headers"), NULL, "{\"headers\":{\"x-dup\":"
	    "\"one, two\",\"set-cookie\":\"a=1, b=2\",\"x-mixed-case\":"
	    "\"Value\",\"x-latin1\":\"caf\\ufffd\"}}");
	daemon_stop(&d);
}

Test(http, gzip_bodies_are_decompressed_and_counted_so)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_as(ht_nginx("/gz/zeros.txt"), NULL, 1048576);
	jstr_is(v, "headers.content-encoding", "gzip");
	json_decref(v);
	/* Some kilobytes on the wire, a mebibyte decompressed. */
	get_fails_saying(ht_nginx("/gz/zeros.txt"), "\"max_bytes\":100000",
	    "too_large", "over max_bytes (100000 bytes)");
	daemon_stop(&d);
}

Test(http, redirects_are_followed_and_counted)
{
	json_t	*v;

	httptest_daemon(&d, NULL, NULL);
	v = get_ok(ht_server("/redirect?n=3"), NULL);
	jhas(v, "", "{\"status\":200,\"body\":\"done\",\"redirects\":3}");
	jstr_is(v, "url", ht_server("/redirect?n=0&code=302"));
	json_decref(v);
	/* Each code that redirects, to another server of the allowed. */
	get_has(ht_server("/redirect?n=1&code=301&to=%2F1k.txt"), NULL,
	    "{\"redirects\":2,\"status\":404}");
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
	jhas(v, "", "{\"status\":200,\"redirects\":2,\"http_version\":\"2\","
	    "\"bytes\":1024}");
	jstr_is(v, "url", ht_nginx_tls("/1k.txt"));
	json_decref(v);
	daemon_stop(&d);
}

Test(http, max_redirects_bounds_a_chain)
{
	httptest_daemon(&d, NULL, "max_redirects = 2\n");
	get_has(ht_server("/redirect?n=2"), NULL, "{\"redirects\":2}");
	get_fails_saying(ht_server("/redirect?n=3"), NULL, "http_error",
	    "redirects: more than max_redirects (2)");
	daemon_stop(&d);
}

Test(http, follow_false_returns_the_redirect)
{
	httptest_daemon(&d, NULL, NULL);
	get_has(ht_server("/redirect?n=1"), "\"follow\":false",
	    "{\"status\":302,\"redirects\":0,\"body\":\"moved\","
	    "\"headers\":{\"location\":\"/redirect?n=0&code=302\"}}");
	daemon_stop(&d);
}

Test(http, a_redirect_changes_the_method_as_fetch_does)
{
	static const struct {
		const char	*path;
		const char	*more;
		const char	*want;	/* the echo's method and body_len */
	} hops[] = {
		/* 303: GET, without the body or its type. */
		{ "/redirect?n=0&code=303&to=%2Fecho",
		    "\"method\":\"PUT\",\"body\":\"x\",\"headers\":"
		    "{\"Content-Type\":\"a/b\",\"X-Keep\":\"k\"}",
		    "{\"method\":\"GET\",\"body_len\":0}" },
		/* 302 after a POST: GET. */
		{ "/redirect?n=0&code=302&to=%2Fecho",
		    "\"method\":\"POST\",\"body\":\"x\"",
		    "{\"method\":\"GET\",\"body_len\":0}" },
		/* 307 and 308 keep the method and the body. */
		{ "/redirect?n=0&code=307&to=%2Fecho",
		    "\"method\":\"POST\",\"body\":\"xyz\"",
		    "{\"method\":\"POST\",\"body_len\":3}" },
		{ "/redirect?n=0&code=308&to=%2Fecho",
		    "\"method\":\"PATCH\",\"body\":\"xy\"",
		    "{\"method\":\"PATCH\",\"body_len\":2}" },
	};
	json_t	*e;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof hops / sizeof hops[0]; i++) {
		e = echo_get(ht_server(hops[i].path), hops[i].more);
		jhas(e, "", hops[i].want);
		if (i == 0) {
			cr_assert_null(echo_header(e, "content-type"));
			cr_assert_str_eq(echo_header(e, "x-keep"), "k");
		}
		json_decref(e);
	}
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
	e = echo_get(ht_server("/redirect?n=0&to=%2Fecho"), "\"headers\":"
	    "{\"Authorization\":\"Bearer t\",\"Cookie\":\"c=1\"}");
	cr_assert_str_eq(echo_header(e, "authorization"), "Bearer t");
	cr_assert_str_eq(echo_header(e, "cookie"), "c=1");
	json_decref(e);
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
	httptest_daemon(&d, NULL, NULL);
	get_fails_saying(ht_server("/redirect?n=0&to=http%3A%2F%2Fu%3Ap%40"
	    "127.0.0.1%2F"), NULL, "http_error", "redirect 1 to"
	    " http://u:p@127.0.0.1/: the URL has user information");
	get_fails_saying(ht_server("/redirect?n=0&to=http%3A%2F%2F%2Fx"), NULL,
	    "http_error", "no host");
	daemon_stop(&d);
}

Test(http, a_failed_connect_or_name_is_an_http_error_naming_it)
{
	static const struct refusal bad[] = {
		{ "http://127.0.0.1:1/", "GET http://127.0.0.1:1/: connect: " },
		/* libcurl resolves no .onion name (RFC 7686): no query leaves. */
		{ "http://gatherd-test.onion/",
		    "GET http://gatherd-test.onion/: DNS: " },
	};
	size_t	i;

	httptest_daemon(&d, "http://127.0.0.1:1/", NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		get_fails_saying(bad[i].text, NULL, "http_error", bad[i].says);
	daemon_stop(&d);
}

Test(http, requests_are_validated)
{
	/* Fields of an http job, after its type. */
	static const struct refusal bad[] = {
		{ "", "jobs[0].url: missing required field" },
		{ ",\"url\":1", "jobs[0].url: expected a string" },
		{ ",\"url\":\"ftp://127.0.0.1/\"", "not http or https" },
		{ ",\"url\":\"file:///etc/passwd\"", "not http or https" },
		{ ",\"url\":\"/path\"", "absolute http:// or https:// URL" },
		{ ",\"url\":\"http://u:p@127.0.0.1/\"", "user information" },
		{ ",\"url\":\"http://@127.0.0.1/\"", "user information" },
		{ ",\"url\":\"http:///x\"", "no host" },
		{ ",\"url\":\"http:/x\"", "expected \"//\"" },
		{ ",\"url\":\"http://b\\u00fccher.de/\"", "punycode" },
		{ ",\"url\":\"http://h/a b\"", "jobs[0].url: not a valid URL" },
		{ ",\"url\":\"http://h:0/\"", "port 0" },
		{ ",\"url\":\"http://h/\",\"method\":\"TRACE\"",
		    "jobs[0].method: expected" },
		{ ",\"url\":\"http://h/\",\"encoding\":\"hex\"",
		    "jobs[0].encoding" },
		{ ",\"url\":\"http://h/\",\"follow\":1", "jobs[0].follow" },
		{ ",\"url\":\"http://h/\",\"max_bytes\":-1",
		    "jobs[0].max_bytes: expected an integer" },
		{ ",\"url\":\"http://h/\",\"max_bytes\":1.0",
		    "jobs[0].max_bytes: expected an integer" },
		{ ",\"url\":\"http://h/\",\"max_bytes\":18446744073709551616",
		    "jobs[0].max_bytes: integer out of range" },
		{ ",\"url\":\"http://h/\",\"max_bytes\":16777217",
		    "max_response_bytes (16777216)" },
		{ ",\"url\":\"http://h/\",\"connect_timeout_ms\":-1",
		    "jobs[0].connect_timeout_ms" },
		{ ",\"url\":\"http://h/\",\"timout_ms\":1",
		    "jobs[0].timout_ms: unknown field" },
	};
	char	*line;
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		line = harness_fmt("{\"jobs\":[{\"type\":\"http\"%s}]}",
		    bad[i].text);
		daemon_refuses(&d, line, "bad_request", bad[i].says);
		free(line);
	}
	daemon_stop(&d);
}

Test(http, max_bytes_up_to_max_response_bytes_is_taken)
{
	httptest_daemon(&d, NULL, "max_response_bytes = 2048\n");
	get_has(ht_nginx("/1k.txt"), "\"max_bytes\":2048", "{\"bytes\":1024}");
	get_has(ht_nginx("/1k.txt"), "\"max_bytes\":1024", "{\"bytes\":1024}");
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
	daemon_refuses(&d, line, "unknown_type", "[http] enabled = false");
	free(line);
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
	jhas(r, "results[0].value", "{\"status\":200,\"bytes\":1024}");
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
