/*
 * Limits, one client at a time: max_request_bytes (refused as soon as
 * the line passes it), max_jobs_per_batch, max_batches_per_connection,
 * max_inflight_jobs and max_connections (and its cap by the descriptor
 * limit). test_load_limits reaches them all at once, at scale.
 *
 * End-to-end: real gatherd processes on private Unix sockets, driven over
 * the wire the way a client drives them; each test starts its daemon in d
 * and stops it at the end, which asserts it exited 0. The protocol's
 * end-to-end suites share the suite name daemon (README, "Tests").
 * Timing bounds are wide: they tell "concurrent" from "one after another"
 * and "at once" from "waited for a sleep", nothing finer. Upper bounds
 * are stretched by slack_ms() (only their overhead part where they tell
 * concurrent from sequential: 1000 + slack_ms(300)); lower bounds (a
 * sleep never returns early) never are.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * Limits.
 */

Test(daemon, oversized_line_is_refused_as_soon_as_the_limit_passes)
{
	json_t	*r;
	char	*line, *rest;
	size_t	 len = 5000, piece = len / 4, hdr;
	int	 fd, i;

	daemon_start(&d, "[limits]\nmax_request_bytes = 1024\n", NULL);
	/* A valid request, were it not too large. */
	line = malloc(len + 1);
	cr_assert_not_null(line);
	hdr = (size_t)sprintf(line, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"");
	memset(line + hdr, 'x', len - hdr - 4);
	strcpy(line + len - 4, "\"}]}");
	cr_assert_eq(strlen(line), len);

	fd = client_connect(d.sock);
	client_write(fd, line, piece);
	/* Answered before the newline is even sent. */
	r = client_recv_json(fd, slack_ms(2000));
	expect_error(r, "null", "too_large");
	json_decref(r);
	for (i = 1; i < 3; i++) {
		usleep(30000);
		client_write(fd, line + i * piece, piece);
		expect_silence(fd, 30);
	}
	/* The rest, its newline and the next request in one write. */
	rest = harness_fmt("%s\n{\"op\":\"ping\",\"id\":5}\n", line + 3 * piece);
	client_write(fd, rest, strlen(rest));
	free(rest);
	r = client_recv_json(fd, slack_ms(2000));
	jeq(r, "id", "5");
	jbool_is(r, "pong", true);
	json_decref(r);
	expect_silence(fd, 200);

	/* Whole too-large lines, in one write, are refused too. */
	client_send(fd, line);
	r = client_recv_json(fd, slack_ms(2000));
	expect_error(r, "null", "too_large");
	json_decref(r);
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":6}", "6");
	expect_silence(fd, 100);
	free(line);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, request_limit_counts_bytes_before_the_newline)
{
	json_t	*r;
	char	*line;
	size_t	 hdr;
	int	 fd;

	fd = daemon_start_client(&d, "[limits]\nmax_request_bytes = 1024\n");
	line = malloc(1026);
	cr_assert_not_null(line);
	hdr = (size_t)sprintf(line, "{\"op\":\"ping\",\"id\":\"");
	memset(line + hdr, 'y', 1024 - hdr - 2);
	strcpy(line + 1022, "\"}");
	cr_assert_eq(strlen(line), 1024);

	/* Exactly the limit, then its newline later: accepted. */
	client_write(fd, line, 1024);
	expect_silence(fd, 50);
	client_write(fd, "\n", 1);
	r = client_recv_json(fd, slack_ms(2000));
	jbool_is(r, "pong", true);
	cr_assert_eq(strlen(json_string_value(jget(r, "id"))), 1024 - hdr - 2);
	json_decref(r);

	/* One byte more: refused. */
	memmove(line + hdr + 1, line + hdr, 1024 - hdr + 1);
	cr_assert_eq(strlen(line), 1025);
	rpc_error(fd, line, "null", "too_large");
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":7}", "7");
	expect_silence(fd, 100);
	free(line);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, max_jobs_per_batch_is_too_large)
{
	json_t	*st;
	int	 fd;

	fd = daemon_start_client(&d, "[limits]\nmax_jobs_per_batch = 3\n");
	rpc_error(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}", "1", "too_large");
	rpc_ok(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0}]}",
	    "2");
	st = status_of(&d);
	cr_assert_eq(jint(st, "jobs.done"), 3, "%s", jtext(st));
	json_decref(st);
	close(fd);
	daemon_stop(&d);
}

/*
 * The batches that hold a slot here sleep a minute and are ended by a
 * cancel once the test is done with them, so the slot is known to be
 * held from state, not timing: 300 ms sleeps had to outlast a ping, a new
 * connection and a refused batch, which a loaded machine or valgrind did
 * not always give them.
 */

Test(daemon, max_batches_per_connection_is_busy)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd, other;

	fd = daemon_start_client(&d,
	    "[limits]\nmax_batches_per_connection = 1\n");
	t0 = now_ms();
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":60000}]}");
	client_send(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	r = client_recv_json(fd, slack_ms(2000));
	dt = now_ms() - t0;
	expect_error(r, "2", "busy");
	cr_assert_lt(dt, slack_ms(250), "busy came after %.1f ms", dt);
	json_decref(r);

	/* Other ops still work, and so does another connection's batch. */
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":3}", "3");
	other = client_connect(d.sock);
	rpc_ok(other, "{\"id\":4,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}",
	    "4");
	close(other);

	client_send(fd, "{\"op\":\"cancel\",\"target\":1,\"id\":\"c\"}");
	recv_cancel_and_batch(fd, slack_ms(2000), "{\"cancelled\":1}",
	    "{\"id\":1,\"stats\":{\"cancelled\":1}}");
	/* Its reply frees the slot. */
	rpc_ok(fd, "{\"id\":5,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}", "5");
	close(fd);
	daemon_stop(&d);
}

Test(daemon, max_inflight_jobs_is_busy_and_starts_nothing)
{
	json_t	*r, *st;
	int	 fd, other;

	fd = daemon_start_client(&d, "[limits]\nmax_inflight_jobs = 5\n");
	rpc_error(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}", "1", "busy");
	st = status_of(&d);
	expect_idle(st);
	cr_assert_eq(jint(st, "jobs.done"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.done"), 0, "%s", jtext(st));
	json_decref(st);

	/* Five fit; while they run (waiting ones count), one more does not. */
	client_send(fd, "{\"id\":2,\"concurrency\":2,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":60000},"
	    "{\"type\":\"sleep\",\"ms\":60000},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}");
	r = rpc(fd, "{\"op\":\"ping\"}");
	json_decref(r);
	other = client_connect(d.sock);
	rpc_error(other, "{\"id\":3,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}",
	    "3", "busy");
	/* Its end, cancelled, gives the five back. */
	client_send(fd, "{\"op\":\"cancel\",\"target\":2,\"id\":\"c\"}");
	recv_cancel_and_batch(fd, slack_ms(2000), "{\"cancelled\":1}",
	    "{\"id\":2,\"stats\":{\"cancelled\":5}}");
	rpc_ok(other, "{\"id\":4,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}",
	    "4");
	close(other);
	close(fd);
	daemon_stop(&d);
}

/*
 * max_connections.
 */

Test(daemon, connection_over_max_connections_gets_busy_then_eof)
{
	json_t	*r;
	double	 deadline;
	int	 c1, c2, c3, c4;

	daemon_start(&d, "[limits]\nmax_connections = 2\n", NULL);
	/* The harness's probe connection may not be reaped yet: wait for it. */
	c1 = client_connect(d.sock);
	deadline = now_ms() + slack_ms(2000);
	for (;;) {
		r = rpc(c1, "{\"op\":\"status\"}");
		if (jint(r, "status.connections.open") == 1)
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(r));
		json_decref(r);
		usleep(10000);
	}
	json_decref(r);
	c2 = client_connect(d.sock);
	rpc_pong(c2, "{\"op\":\"ping\",\"id\":2}", "2");

	c3 = client_connect(d.sock);
	r = client_recv_json(c3, slack_ms(2000));
	expect_error(r, "null", "busy");
	json_decref(r);
	expect_eof(c3, 2000);
	close(c3);

	/* The first two are unaffected. */
	rpc_pong(c1, "{\"op\":\"ping\",\"id\":1}", "1");

	/* A freed slot can be taken again. */
	close(c2);
	deadline = now_ms() + slack_ms(2000);
	for (;;) {
		c4 = client_connect(d.sock);
		r = rpc(c4, "{\"op\":\"ping\",\"id\":4}");
		if (json_is_true(jget(r, "ok")))
			break;
		expect_error(r, "null", "busy");
		cr_assert_lt(now_ms(), deadline, "slot not freed");
		json_decref(r);
		close(c4);
		usleep(10000);
	}
	jeq(r, "id", "4");
	json_decref(r);
	close(c4);
	close(c1);
	daemon_stop(&d);
}

/*
 * max_connections above what the descriptor limit allows is lowered, with
 * a warning, and status reports the value enforced.
 */
Test(daemon, max_connections_is_capped_by_the_descriptor_limit)
{
	struct rlimit	 rl;
	json_t		*r;
	json_int_t	 max;
	char		*log;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	daemon_start(&d, "[limits]\nmax_connections = 9000000000000\n", NULL);
	r = daemon_request(&d, "{\"op\":\"status\"}");
	max = jint(r, "status.limits.max_connections");
	json_decref(r);
	/* The daemon raised its soft limit to the hard one. */
	cr_assert(max > 0 && (rl.rlim_max == RLIM_INFINITY ||
	    (rlim_t)max < rl.rlim_max), "max_connections %lld, hard limit"
	    " %llu", (long long)max, (unsigned long long)rl.rlim_max);
	log = daemon_log(&d);
	cr_assert(strstr(log, "max_connections 9000000000000: the descriptor"
	    " limit") != NULL, "%s", log);
	free(log);
	daemon_stop(&d);
}
