/*
 * An http job's retry: a response with status 429 or 5xx is a success
 * that only a retry treats as transient, tried again after the backoff or
 * after its Retry-After (seconds or an HTTP-date), honoured up to 30 s;
 * any other status is final. And a losing http request under first is
 * cancelled at once: its connection closes. Against tests/http-server's
 * /flaky (the first N requests of a key fail), /status and /hang.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "httptest.h"
#include "jsonpath.h"

static struct daemon	d;

HTTPTEST_SUITE(http_retry, 120);

/*
 * An http job on /flaky for key: its first fail requests answer code
 * (with Retry-After: after, if not NULL), then 200; with retry (JSON
 * text) unless NULL. Caller frees.
 */
static char *
flaky_job(const char *key, int fail, int code, const char *after,
    const char *retry)
{
	char	*path, *job;

	path = harness_fmt("/flaky?key=%s&fail=%d&code=%d%s%s", key, fail,
	    code, after != NULL ? "&retry_after=" : "",
	    after != NULL ? after : "");
	job = harness_fmt("{\"type\":\"http\",\"url\":%s%s%s}",
	    ht_quote(ht_server(path)), retry != NULL ? ",\"retry\":" : "",
	    retry != NULL ? retry : "");
	free(path);
	return job;
}

/* Run the job of flaky_job(...); its result. Caller decrefs. */
static json_t *
flaky_run(const char *key, int fail, int code, const char *after,
    const char *retry)
{
	char	*job = flaky_job(key, fail, code, after, retry);
	json_t	*r = ht_job(&d, job);

	free(job);
	return r;
}

/* Run the job of flaky_job(...); assert its result holds pattern. */
static void
flaky_has(const char *key, int fail, int code, const char *retry,
    const char *pattern)
{
	json_t	*r = flaky_run(key, fail, code, NULL, retry);

	jhas(r, "", pattern);
	json_decref(r);
}

/* The requests http-server saw for key. */
static int
flaky_seen(const char *key)
{
	char	*needle = harness_fmt("flaky %s ", key);
	int	 n = httptest_log_wait(needle, 1000, 0);

	free(needle);
	return n;
}

Test(http_retry, a_429_or_5xx_is_tried_again)
{
	httptest_daemon(&d, NULL, NULL);
	flaky_has("a", 2, 503, "{\"attempts\":3,\"backoff_ms\":1}",
	    "{\"ok\":true,\"value\":{\"status\":200},\"attempts\":3}");
	cr_assert_eq(flaky_seen("a"), 3);
	flaky_has("b", 1, 429, "{\"attempts\":2,\"backoff_ms\":1}",
	    "{\"ok\":true,\"value\":{\"status\":200},\"attempts\":2}");
	flaky_has("c", 1, 599, "{\"attempts\":2,\"backoff_ms\":1}",
	    "{\"ok\":true,\"value\":{\"status\":200}}");

	/* The tries run out: the last response, as it is, ok. */
	flaky_has("d", 9, 500, "{\"attempts\":3,\"backoff_ms\":1}",
	    "{\"ok\":true,\"value\":{\"status\":500},\"attempts\":3}");
	cr_assert_eq(flaky_seen("d"), 3);
	daemon_stop(&d);
}

Test(http_retry, other_statuses_and_a_job_without_retry_are_final)
{
	static const int	 codes[] = { 404, 400, 418, 499, 600 };
	json_t			*r;
	char			 key[16];
	size_t			 i;

	httptest_daemon(&d, NULL, NULL);
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(key, sizeof key, "e%zu", i);
		r = flaky_run(key, 1, codes[i], NULL,
		    "{\"attempts\":3,\"backoff_ms\":1}");
		jbool_is(r, "ok", true);
		cr_assert_eq(jint(r, "value.status"), codes[i], "%s", jtext(r));
		jeq(r, "attempts", "1");
		json_decref(r);
		cr_assert_eq(flaky_seen(key), 1, "status %d was retried",
		    codes[i]);
	}
	/* Without retry a 503 is a result like any other. */
	r = flaky_run("f", 1, 503, NULL, NULL);
	jbool_is(r, "ok", true);
	jeq(r, "value.status", "503");
	cr_assert_null(jget(r, "attempts"), "%s", jtext(r));
	json_decref(r);
	cr_assert_eq(flaky_seen("f"), 1);
	daemon_stop(&d);
}

Test(http_retry, retry_after_is_honoured_in_seconds_and_as_a_date)
{
	json_t		*r;
	struct tm	 tm;
	time_t		 at;
	char		 date[80], *enc, *job, *line;
	double		 t0;

	httptest_daemon(&d, NULL, NULL);
	t0 = now_ms();
	r = flaky_run("g", 1, 503, "1", "{\"attempts\":2,\"backoff_ms\":1}");
	jeq(r, "value.status", "200");
	cr_assert_geq(now_ms() - t0, 1000, "Retry-After: 1 not waited");
	cr_assert_geq(jnum(r, "ms"), 1000, "%s", jtext(r));
	json_decref(r);

	/* An HTTP-date 2 s ahead: at least 1 s, whatever the second. */
	at = time(NULL) + 2;
	gmtime_r(&at, &tm);
	strftime(date, sizeof date, "%a,%%20%d%%20%b%%20%Y%%20%H%%3A%M%%3A%S"
	    "%%20GMT", &tm);
	enc = harness_fmt("%s", date);
	t0 = now_ms();
	r = flaky_run("h", 1, 429, enc, "{\"attempts\":2,\"backoff_ms\":1}");
	jeq(r, "value.status", "200");
	cr_assert_geq(now_ms() - t0, 1000, "Retry-After: %s not waited",
	    date);
	json_decref(r);
	free(enc);

	/*
	 * An hour is waited, up to 30 s: not tried again at once, but cut
	 * here by the batch's deadline.
	 */
	job = flaky_job("i", 1, 503, "3600", "{\"attempts\":2,\"backoff_ms\":1}");
	line = harness_fmt("{\"timeout_ms\":500,\"jobs\":[%s]}", job);
	r = daemon_request_ms(&d, line, slack_ms(10000));
	jstr_is(r, "results[0].error.code", "timeout");
	json_decref(r);
	free(line);
	free(job);
	cr_assert_eq(flaky_seen("i"), 1, "tried again before its Retry-After");

	/* A Retry-After that is neither: the backoff alone. */
	r = flaky_run("j", 1, 503, "soon", "{\"attempts\":2,\"backoff_ms\":1}");
	jeq(r, "value.status", "200");
	cr_assert_lt(jnum(r, "ms"), 900, "%s", jtext(r));
	json_decref(r);
	daemon_stop(&d);
}

/*
 * A losing http request under first is cancelled: its connection closes.
 * The winner, a sleep, ends well after the request is seen connected
 * (status), so the loser is on the wire when it loses, however slow the
 * daemon runs.
 */
Test(http_retry, first_cancels_a_losing_http_request)
{
	double	 deadline;
	json_t	*r, *st;
	char	*line;
	int	 fd, connected = 0;

	httptest_daemon(&d, NULL, NULL);
	fd = client_connect(d.sock);
	line = harness_fmt("{\"mode\":\"first\",\"jobs\":["
	    "{\"type\":\"http\",\"url\":%s},{\"type\":\"sleep\","
	    "\"ms\":%d,\"value\":\"won\"}]}",
	    ht_quote(ht_server("/hang?tag=lost")), slack_ms(1500));
	client_send(fd, line);
	free(line);
	deadline = now_ms() + slack_ms(1000);
	while (!connected && now_ms() < deadline) {
		st = daemon_status(&d, slack_ms(5000));
		connected = jint(st, "http.connections") >= 1 &&
		    jint(st, "http.queued") == 0;
		json_decref(st);
		usleep(10000);
	}
	cr_assert(connected, "the request never connected");
	r = client_recv_json(fd, slack_ms(10000));
	jeq(r, "winner", "1");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	cr_assert_eq(httptest_log_wait("close lost ", 1, slack_ms(5000)), 1,
	    "the losing request's connection stayed open");
	close(fd);
	daemon_stop(&d);
}
