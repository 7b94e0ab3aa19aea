/*
 * What bounds an http job, against real servers (httptest.h): every way
 * a transfer is cancelled closes its connection at once (the server sees
 * it close), bodies past max_bytes or max_result_bytes are cut off as
 * they pass the mark whatever Content-Length says, header blocks and
 * memory are bounded, connecting has its own deadline, connections are
 * bounded per host and in all with the wait counted in timeout_ms, the
 * status op shows them, and a reload changes [http] for new batches only.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "httptest.h"
#include "jsonpath.h"

static struct daemon	d;

HTTPTEST_SUITE(http, 180);

/* An http job's text for the test server's path, plus fields. */
static char *
job(const char *path, const char *more)
{
	return ht_get(ht_server(path), more);
}

/* Run a job of path on the test server (plus fields); its result. */
static json_t *
run(const char *path, const char *more)
{
	return ht_get_result(&d, ht_server(path), more);
}

/*
 * A batch's line: head before its "jobs" and tail after the job of path
 * on the test server, where not NULL. Caller frees.
 */
static char *
batch_line(const char *path, const char *head, const char *tail)
{
	char	*j = job(path, NULL), *line;

	line = harness_fmt("{%s%s\"jobs\":[%s%s%s]}", head != NULL ? head : "",
	    head != NULL ? "," : "", j, tail != NULL ? "," : "",
	    tail != NULL ? tail : "");
	free(j);
	return line;
}

/* Send batch_line(path, head, NULL) on a connection of its own; it. */
static int
send_job(const char *path, const char *head)
{
	char	*line = batch_line(path, head, NULL);
	int	 fd;

	fd = client_connect(d.sock);
	client_send(fd, line);
	free(line);
	return fd;
}

/* Run batch_line(path, head, tail); the reply. Caller decrefs. */
static json_t *
run_batch(const char *path, const char *head, const char *tail)
{
	char	*line = batch_line(path, head, tail);
	json_t	*r = daemon_request(&d, line);

	free(line);
	return r;
}

/* Wait for the server to see the connection of tag close. */
static void
sees_close(const char *tag)
{
	char	*needle = harness_fmt("close %s ", tag);

	cr_assert_eq(httptest_log_wait(needle, 1, slack_ms(5000)), 1,
	    "the server did not see %s's connection close", tag);
	free(needle);
}

/*
 * A request of tag that the server holds ends at its timeout_ms, and the
 * server sees its connection close.
 */
static void
hang_times_out(const char *tag)
{
	char	*path = harness_fmt("/hang?tag=%s", tag);
	char	*more = harness_fmt("\"timeout_ms\":%d", slack_ms(300));
	json_t	*r = run(path, more);

	free(path);
	free(more);
	jstr_is(r, "error.code", "timeout");
	json_decref(r);
	sees_close(tag);
}

/* Wait until the server has the request of tag (a slow path's). */
static void
server_has(const char *tag)
{
	char	*needle = harness_fmt("request %s\n", tag);

	cr_assert_eq(httptest_log_wait(needle, 1, slack_ms(5000)), 1,
	    "the server did not get %s's request", tag);
	free(needle);
}

Test(http, a_client_that_disconnects_closes_its_transfers)
{
	int	fd;

	httptest_daemon(&d, NULL, NULL);
	fd = send_job("/hang?tag=gone", NULL);
	server_has("gone");
	close(fd);
	sees_close("gone");
	daemon_stop(&d);
}

Test(http, every_cancel_closes_the_transfer_at_once)
{
	json_t	*r;
	char	*more;
	int	 fd;

	/*
	 * Each deadline leaves the transfer time to connect first (the
	 * server must see a connection to see it close), valgrind's too;
	 * a first transfer has the daemon's libcurl and resolver warm.
	 */
	more = harness_fmt("[limits]\nmax_job_ms = %d\n", slack_ms(400));
	httptest_daemon(&d, NULL, more);
	free(more);
	r = run("/echo", NULL);
	jbool_is(r, "ok", true);
	json_decref(r);
	/* The job's own timeout_ms. */
	hang_times_out("own");
	/* max_job_ms. */
	r = run("/hang?tag=max", NULL);
	jstr_is(r, "error.code", "timeout");
	jstr_has(r, "error.message", "max_job_ms");
	json_decref(r);
	sees_close("max");
	/* The batch's deadline. */
	more = harness_fmt("\"timeout_ms\":%d", slack_ms(200));
	r = run_batch("/hang?tag=deadline", more, NULL);
	free(more);
	jstr_is(r, "results[0].error.code", "timeout");
	json_decref(r);
	sees_close("deadline");
	/* fail_fast: a sibling's failure. */
	more = harness_fmt("{\"type\":\"sleep\",\"ms\":%d,\"timeout_ms\":%d}",
	    slack_ms(1000), slack_ms(100));
	r = run_batch("/hang?tag=sibling", "\"mode\":\"fail_fast\"", more);
	free(more);
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	sees_close("sibling");
	/* The cancel op. */
	fd = send_job("/hang?tag=op", "\"id\":\"c\"");
	server_has("op");
	client_send(fd, "{\"op\":\"cancel\",\"target\":\"c\"}");
	r = client_recv_json(fd, slack_ms(5000));
	if (json_object_get(r, "cancelled") != NULL) {
		json_decref(r);
		r = client_recv_json(fd, slack_ms(5000));
	}
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	close(fd);
	sees_close("op");
	daemon_stop(&d);
}

/*
 * A transfer is handed to libcurl at the end of the loop's pass it was
 * started in (http/multi.c); one cancelled within that pass, here by a
 * sibling refused at once under fail_fast, is never sent, and nothing
 * of it is left for libcurl to run later.
 */
Test(http, a_transfer_cancelled_before_its_turn_is_never_sent)
{
	json_t	*r;
	char	*refused = ht_get("http://169.254.169.254/", NULL);

	/* A first transfer has the daemon's libcurl and resolver warm. */
	httptest_daemon(&d, NULL, NULL);
	r = run("/echo", NULL);
	jbool_is(r, "ok", true);
	json_decref(r);
	r = run_batch("/hang?tag=never", "\"mode\":\"fail_fast\"", refused);
	free(refused);
	jstr_is(r, "results[0].error.code", "cancelled");
	jstr_is(r, "results[1].error.code", "forbidden");
	json_decref(r);
	/* Had "never" been sent, the server would see it close before this. */
	hang_times_out("later");
	cr_assert_eq(httptest_log_wait("close never ", 1, 0), 0,
	    "a cancelled transfer was sent");
	/* Nothing of either is left in libcurl's hands. */
	r = daemon_status(&d, slack_ms(5000));
	cr_assert_eq(jint(r, "http.requests"), 0, "%s", jtext(r));
	json_decref(r);
	daemon_stop(&d);
}

/*
 * Transfers that end at once (each refused as it connects: localhost is
 * loopback) let the next one in from within libcurl's run. Those wait for
 * the loop to poll again (http/multi.c), so a client's batch of them,
 * one connection at a time, does not hold the loop until it ends: status
 * sees the batch in flight. Had they chained in one pass, the batch
 * would start and end between two polls.
 */
Test(http, a_chain_of_refused_transfers_does_not_hold_the_loop)
{
	json_t	*r;
	char	*jobs, *line, *last;
	/*
	 * Enough for the chain to last some 2 s, in which this process must
	 * ask: fewer when the daemon is slowed down, each pass slower too
	 * (20,000 took 0.4-0.5 s bare, 4,000 0.35-0.4 s in ASan, on a loaded
	 * machine; 4,000 some 5 s under valgrind).
	 */
	size_t	 n = harness_wrapped() ? 4000 : harness_slowed() ? 20000 :
		    100000;
	int	 fd;

	httptest_daemon(&d, NULL, "max_host_connections = 1\n");
	jobs = harness_repeat("{\"type\":\"http\",\"url\":"
	    "\"http://localhost:9/\"},", n - 1,
	    "{\"type\":\"http\",\"url\":\"http://localhost:9/\"}");
	line = harness_fmt("{\"jobs\":[%s]}", jobs);
	free(jobs);
	fd = client_connect(d.sock);
	client_send(fd, line);
	free(line);
	json_decref(await_status(&d, -1, "batches.in_flight", 1,
	    slack_ms(10000)));
	r = client_recv_json(fd, slack_ms(30000));
	fprintf(stderr, "http: a chain of %zu refused transfers ran in"
	    " %.0f ms\n", n, jnum(r, "elapsed_ms"));
	cr_assert_eq(jint(r, "stats.failed"), (json_int_t)n, "%s",
	    jtext(r));
	last = harness_fmt("results[%zu].error.code", n - 1);
	jstr_is(r, last, "forbidden");
	free(last);
	last = harness_fmt("results[%zu].error.message", n - 1);
	jstr_has(r, last, "loopback");
	free(last);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(http, a_body_past_max_bytes_stops_whatever_its_length_says)
{
	json_t	*r;
	char	*needle;
	long	 sent = -1;
	FILE	*fp;
	char	 line[256];

	httptest_daemon(&d, NULL, NULL);
	/* Content-Length says a gigabyte; the mark is 100 kB. */
	r = run("/drip?length=1000000000&chunk=16384&every=1&tag=liar",
	    "\"max_bytes\":100000");
	jstr_is(r, "error.code", "too_large");
	jstr_has(r, "error.message", "the body is over max_bytes (100000"
	    " bytes)");
	cr_assert_lt(jnum(r, "ms"), slack_ms(3000), "%s", jtext(r));
	json_decref(r);
	sees_close("liar");
	/* What the server had written when it saw the close. */
	cr_assert_not_null(fp = fopen(ht.log, "r"));
	needle = strdup("close liar ");
	while (fgets(line, sizeof line, fp) != NULL) {
		if (strncmp(line, needle, strlen(needle)) == 0)
			sent = strtol(line + strlen(needle), NULL, 10);
	}
	fclose(fp);
	free(needle);
	cr_assert_lt(sent, 64 << 20, "the server wrote %ld bytes", sent);

	/* A slow drip without end: stopped as it passes the mark. */
	r = run("/drip?chunk=100&every=20&tag=drip", "\"max_bytes\":1000");
	jstr_is(r, "error.code", "too_large");
	cr_assert_lt(jnum(r, "ms"), slack_ms(3000), "%s", jtext(r));
	json_decref(r);
	sees_close("drip");
	daemon_stop(&d);
}

Test(http, max_result_bytes_bounds_the_value)
{
	json_t	*r;

	httptest_daemon(&d, NULL, "[limits]\nmax_result_bytes = 10000\n");
	r = run("/chunked?bytes=50000", NULL);
	jstr_is(r, "error.code", "too_large");
	jstr_has(r, "error.message", "max_result_bytes (10000 bytes)");
	json_decref(r);
	/* 9,000 bytes fit as text, not as base64 (12,000). */
	r = run("/chunked?bytes=9000", NULL);
	jbool_is(r, "ok", true);
	json_decref(r);
	r = run("/chunked?bytes=9000", "\"encoding\":\"base64\"");
	jstr_is(r, "error.code", "too_large");
	jstr_has(r, "error.message", "max_result_bytes");
	json_decref(r);
	/* Text that grows as JSON: the value, escapes and all, is held to it. */
	r = run("/headers?n=120", NULL);
	jstr_is(r, "error.code", "too_large");
	json_decref(r);
	daemon_stop(&d);
}

Test(http, a_header_block_past_its_bound_is_an_http_error)
{
	json_t	*r;

	httptest_daemon(&d, NULL, NULL);
	/* 3,000 headers of some 115 bytes: past 256 KiB. */
	r = run("/headers?n=3000", NULL);
	jstr_is(r, "error.code", "http_error");
	jstr_has(r, "error.message", "protocol: the response's header block"
	    " is over 262144 bytes");
	json_decref(r);
	r = run("/headers?n=1000", NULL);
	jbool_is(r, "ok", true);
	json_decref(r);
	daemon_stop(&d);
}

Test(http, bodies_being_received_count_toward_max_memory_bytes)
{
	json_t	*r;
	char	*j;

	httptest_daemon(&d, NULL, "[limits]\nmax_memory_bytes = 300000\n");
	j = harness_fmt("{\"type\":\"http\",\"url\":%s}",
	    ht_quote(ht_nginx("/1m.bin")));
	r = ht_job(&d, j);
	jstr_is(r, "error.code", "busy");
	jstr_has(r, "error.message", "max_memory_bytes (300000) would be"
	    " exceeded");
	json_decref(r);
	free(j);
	daemon_stop(&d);
}

Test(http, connect_timeout_ms_bounds_connect_and_tls)
{
	json_t		*r;
	const char	*url;
	char		*j;

	/* The hold port accepts and never answers the TLS handshake. */
	url = ht_url("https", "127.0.0.1", ht.hold_port, "/");
	httptest_daemon(&d, url, NULL);
	j = harness_fmt("{\"type\":\"http\",\"url\":%s,"
	    "\"connect_timeout_ms\":300}", ht_quote(url));
	r = ht_job(&d, j);
	jstr_is(r, "error.code", "http_error");
	jstr_has(r, "error.message", "connect timed out (connect_timeout_ms"
	    " 300)");
	cr_assert_geq(jnum(r, "ms"), 300);
	cr_assert_lt(jnum(r, "ms"), 300 + slack_ms(2000), "%s", jtext(r));
	json_decref(r);
	free(j);
	cr_assert_eq(httptest_log_wait("hold close", 1, slack_ms(5000)), 1);
	daemon_stop(&d);

	/* Without the field, [http] connect_timeout_ms. */
	httptest_daemon(&d, url, "connect_timeout_ms = 400\n");
	j = harness_fmt("{\"type\":\"http\",\"url\":%s}", ht_quote(url));
	r = ht_job(&d, j);
	jstr_is(r, "error.code", "http_error");
	jstr_has(r, "error.message", "connect timed out (connect_timeout_ms"
	    " 400)");
	cr_assert_geq(jnum(r, "ms"), 400);
	json_decref(r);
	free(j);
	daemon_stop(&d);
}

Test(http, the_wait_for_a_connection_counts_toward_timeout_ms)
{
	json_t	*r, *st;
	char	*j, *path, *more, *line;
	double	 deadline;
	/*
	 * One connection. The first job takes the server's delay and what a
	 * warm transfer costs, which spare (stretched) is left for. The
	 * second waits as long for the connection, then the delay again:
	 * it passes timeout_ms by the delay less spare, 600 ms of the
	 * server's waiting, whatever the load.
	 */
	int	 fd, spare = slack_ms(400), delay = spare + 600;

	httptest_daemon(&d, NULL, "max_host_connections = 1\n");
	r = run("/echo", NULL);
	jbool_is(r, "ok", true);
	json_decref(r);
	path = harness_fmt("/delay?ms=%d", delay);
	more = harness_fmt("\"timeout_ms\":%d", delay + spare);
	j = job(path, more);
	free(path);
	free(more);
	line = harness_fmt("{\"jobs\":[%s,%s]}", j, j);
	fd = client_connect(d.sock);
	client_send(fd, line);
	deadline = now_ms() + slack_ms(3000);
	for (;;) {
		st = daemon_status(&d, slack_ms(5000));
		if (jint(st, "http.queued") == 1 &&
		    jint(st, "http.connections") == 1)
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(st));
		json_decref(st);
		usleep(5000);
	}
	jeq(st, "http.requests", "2");
	json_decref(st);
	r = client_recv_json(fd, slack_ms(10000));
	close(fd);
	jbool_is(r, "results[0].ok", true);
	jstr_is(r, "results[1].error.code", "timeout");
	json_decref(r);
	free(line);
	free(j);

	/* With time enough, both; the second waited its turn. */
	j = job("/delay?ms=300", NULL);
	line = harness_fmt("[%s,%s]", j, j);
	r = ht_batch(&d, line);
	jeq(r, "stats.ok", "2");
	cr_assert_geq(jnum(r, "results[1].ms") + jnum(r, "results[0].ms"),
	    900);
	cr_assert_geq(jnum(r, "elapsed_ms"), 600);
	json_decref(r);
	free(line);
	free(j);
	daemon_stop(&d);
}

Test(http, max_connections_bounds_all_hosts)
{
	json_t	*r;
	char	*line;

	httptest_daemon(&d, NULL, "max_connections = 1\n");
	/* Two hosts, one connection in all: one after the other. */
	line = harness_fmt("[{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d"
	    "/delay?ms=400\"},{\"type\":\"http\",\"url\":\"https://127.0.0.1:"
	    "%d/1k.txt\"}]", ht.port, ht.https_port);
	r = ht_batch(&d, line);
	jeq(r, "stats.ok", "2");
	cr_assert_geq(jnum(r, "results[1].ms"), 350, "%s", jtext(r));
	json_decref(r);
	free(line);
	daemon_stop(&d);
}

Test(http, status_shows_connections_and_queued_requests)
{
	json_t	*st, *v;
	char	*j;

	httptest_daemon(&d, NULL, "max_connections = 7\n"
	    "max_host_connections = 3\n");
	st = daemon_status(&d, slack_ms(5000));
	jeq(st, "http", "{\"connections\":0,\"queued\":0,\"requests\":0,"
	    "\"receiving_bytes\":0,\"max_connections\":7,"
	    "\"max_host_connections\":3}");
	json_decref(st);
	j = job("/echo", NULL);
	v = ht_ok(&d, j);
	json_decref(v);
	free(j);
	/* Kept alive for the next request. */
	st = daemon_status(&d, slack_ms(5000));
	jeq(st, "http.connections", "1");
	jeq(st, "http.requests", "0");
	json_decref(st);
	/* The metrics op tells the same. */
	st = daemon_request(&d, "{\"op\":\"metrics\"}");
	jstr_has(st, "metrics", "\ngatherd_http_connections 1\n");
	jstr_has(st, "metrics", "\ngatherd_http_queued 0\n");
	json_decref(st);
	daemon_stop(&d);
}

Test(http, a_reload_applies_to_new_batches_only)
{
	const char	*path = "/delay?ms=1500&to=%2Fecho&tag=reload";
	json_t		*r;
	char		*conf;
	FILE		*fp;
	int		 fd;

	httptest_daemon(&d, NULL, NULL);
	/* A job that goes on, after the reload, to a hop of its own. */
	fd = send_job(path, NULL);
	server_has("reload");
	/* The test server is no longer allowed; connections are fewer. */
	cr_assert_not_null(fp = fopen(d.conf, "w"));
	conf = harness_fmt("[daemon]\nsocket = %s\n[http]\n"
	    "max_host_connections = 2\n", d.sock);
	fputs(conf, fp);
	fclose(fp);
	free(conf);
	kill(d.pid, SIGHUP);
	cr_assert_eq(daemon_log_wait(&d, "reloaded", 1, slack_ms(5000)), 1);
	/* Its redirect was checked against the policy it started with. */
	r = client_recv_json(fd, slack_ms(10000));
	jbool_is(r, "results[0].ok", true);
	jeq(r, "results[0].value.status", "200");
	jeq(r, "results[0].value.redirects", "1");
	json_decref(r);
	close(fd);
	/* A new batch has the new policy and limits. */
	fd = send_job(path, NULL);
	r = client_recv_json(fd, slack_ms(10000));
	jstr_is(r, "results[0].error.code", "forbidden");
	json_decref(r);
	close(fd);
	r = daemon_status(&d, slack_ms(5000));
	jeq(r, "http.max_host_connections", "2");
	json_decref(r);
	daemon_stop(&d);
}

Test(http, a_host_held_up_does_not_hold_up_another)
{
	json_t	*r;
	char	*conf, *slow, *fast, path[32];
	size_t	 i;

	/* Two connections per host: 100 requests that hang wait their turn... */
	conf = harness_fmt("http://localhost:%d/", ht.port);
	httptest_daemon(&d, conf, "max_host_connections = 2\n");
	free(conf);
	slow = harness_fmt("{\"type\":\"http\",\"url\":%s,\"timeout_ms\":%d}",
	    ht_quote(ht_server("/hang")), slack_ms(2000));
	fast = harness_fmt("{\"type\":\"http\",\"url\":\"http://localhost:%d"
	    "/echo\"}", ht.port);
	/* ...and one to another host goes at once. */
	r = ht_batch_copies(&d, slow, 100, fast);
	free(slow);
	free(fast);
	jbool_is(r, "results[100].ok", true);
	cr_assert_lt(jnum(r, "results[100].ms"), slack_ms(1000), "%s",
	    jtext(jget(r, "results[100]")));
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof path, "results[%zu].error.code", i);
		jstr_is(r, path, "timeout");
	}
	json_decref(r);
	daemon_stop(&d);
}

Test(http, http_2_carries_many_requests_on_few_connections)
{
	json_t	*r, *st;
	char	*job, path[48];
	size_t	 i;

	httptest_daemon(&d, NULL, "max_host_connections = 2\n");
	job = harness_fmt("{\"type\":\"http\",\"url\":%s}",
	    ht_quote(ht_nginx_tls("/1k.txt")));
	r = ht_batch_copies(&d, job, 300, NULL);
	free(job);
	jeq(r, "stats.ok", "300");
	for (i = 0; i < 300; i += 37) {
		snprintf(path, sizeof path, "results[%zu].value.http_version", i);
		jstr_is(r, path, "2");
	}
	json_decref(r);
	st = daemon_status(&d, slack_ms(5000));
	cr_assert_leq(jint(st, "http.connections"), 2, "%s", jtext(st));
	cr_assert_geq(jint(st, "http.connections"), 1, "%s", jtext(st));
	json_decref(st);
	daemon_stop(&d);
}
