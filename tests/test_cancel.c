/*
 * Cancel: by id on the same connection, ids matched as JSON values,
 * another connection's batches with conn "any" or a connection number.
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
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	500

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * Cancel.
 */

Test(daemon, cancel_on_the_same_connection)
{
	json_t	*r, *reply = NULL, *cancel = NULL;
	double	 t0, dt;
	int	 fd, i;

	fd = daemon_start_client(&d, NULL);
	t0 = now_ms();
	client_send(fd, "{\"id\":\"x\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":5000}]}");
	client_send(fd, "{\"op\":\"cancel\",\"target\":\"x\",\"id\":9}");
	for (i = 0; i < 2; i++) {
		r = client_recv_json(fd, slack_ms(2000));
		if (json_is_integer(jget(r, "id")) &&
		    json_integer_value(jget(r, "id")) == 9)
			cancel = r;
		else
			reply = r;
	}
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "cancel took %.1f ms", dt);
	cr_assert_not_null(cancel);
	cr_assert_not_null(reply);
	jbool_is(cancel, "ok", true);
	cr_assert_eq(jint(cancel, "cancelled"), 1, "%s", jtext(cancel));
	jeq(reply, "id", "\"x\"");
	jbool_is(reply, "ok", false);
	jstr_is(reply, "results[0].error.code", "cancelled");
	cr_assert_eq(jint(reply, "stats.cancelled"), 1);
	json_decref(cancel);
	json_decref(reply);

	/* A target that matches nothing cancels nothing. */
	r = rpc(fd, "{\"op\":\"cancel\",\"target\":\"nothing\",\"id\":10}");
	expect_ok(r, "10");
	cr_assert_eq(jint(r, "cancelled"), 0, "%s", jtext(r));
	json_decref(r);
	expect_silence(fd, 50);

	r = status_of(&d);
	expect_idle(r);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Targets match ids as JSON values: key order does not matter, type does.
 * Every batch sleeps a minute and is ended by a cancel, so what is still
 * running when a cancel comes is known from state, not from timing: with
 * id 1's batch sleeping 300 ms, a test slow to send the cancels let its
 * reply come among theirs, or "1" miss a batch already done.
 */
Test(daemon, cancel_matches_ids_as_json_values)
{
	json_t	*r;
	int	 fd, i, replies = 0, cancels = 0;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":{\"a\":1,\"b\":[2]},\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":60000}]}");
	client_send(fd, "{\"id\":{\"b\":[2],\"a\":1},\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":60000}]}");
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":60000}]}");

	r = rpc(fd, "{\"op\":\"cancel\",\"target\":\"1\",\"id\":\"c1\"}");
	jeq(r, "id", "\"c1\"");
	cr_assert_eq(jint(r, "cancelled"), 0, "\"1\" is not 1: %s", jtext(r));
	json_decref(r);

	client_send(fd, "{\"op\":\"cancel\",\"target\":{\"b\":[2],\"a\":1},"
	    "\"id\":\"c2\"}");
	for (i = 0; i < 3; i++) {
		r = client_recv_json(fd, slack_ms(2000));
		if (json_is_string(jget(r, "id"))) {
			cr_assert_eq(jint(r, "cancelled"), 2, "%s", jtext(r));
			cancels++;
		} else {
			jeq(r, "id", "{\"a\":1,\"b\":[2]}");
			jstr_is(r, "results[0].error.code", "cancelled");
			replies++;
		}
		json_decref(r);
	}
	cr_assert_eq(cancels, 1);
	cr_assert_eq(replies, 2);

	/* The batch with id 1 was left alone: it runs, and 1 matches it. */
	r = status_on(fd);
	cr_assert_eq(jint(r, "batches.in_flight"), 1, "%s", jtext(r));
	json_decref(r);
	client_send(fd, "{\"op\":\"cancel\",\"target\":1,\"id\":\"c3\"}");
	recv_cancel_and_batch(fd, slack_ms(2000),
	    "{\"id\":\"c3\",\"cancelled\":1}",
	    "{\"id\":1,\"results\":[{\"error\":{\"code\":\"cancelled\"}}]}");
	close(fd);
	daemon_stop(&d);
}

Test(daemon, cancel_from_another_connection_needs_conn_any)
{
	json_t	*r;
	double	 t0, dt;
	int	 a, b;

	a = daemon_start_client(&d, NULL);
	b = client_connect(d.sock);
	client_send(a, "{\"id\":\"x\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":5000}]}");
	/* Lines are handled in order: the pong means the batch started. */
	r = rpc(a, "{\"op\":\"ping\"}");
	jbool_is(r, "pong", true);
	json_decref(r);

	r = rpc(b, "{\"op\":\"cancel\",\"target\":\"x\",\"id\":1}");
	jeq(r, "id", "1");
	cr_assert_eq(jint(r, "cancelled"), 0,
	    "cancelled another connection's batch: %s", jtext(r));
	json_decref(r);
	expect_silence(a, 100);

	t0 = now_ms();
	r = rpc(b, "{\"op\":\"cancel\",\"target\":\"x\",\"conn\":\"any\","
	    "\"id\":2}");
	jeq(r, "id", "2");
	cr_assert_eq(jint(r, "cancelled"), 1, "%s", jtext(r));
	json_decref(r);
	r = client_recv_json(a, slack_ms(2000));
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "took %.1f ms", dt);
	jeq(r, "id", "\"x\"");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	expect_silence(b, 50);
	close(a);
	close(b);
	daemon_stop(&d);
}

/* Our extension: "conn" as a connection number, as status detail shows it. */
Test(daemon, cancel_by_connection_number)
{
	json_t		*r;
	json_int_t	 conn;
	char		*line;
	int		 a, b;

	a = daemon_start_client(&d, NULL);
	b = client_connect(d.sock);
	client_send(a, "{\"id\":7,\"jobs\":[{\"type\":\"sleep\",\"ms\":5000}]}");
	json_decref(rpc(a, "{\"op\":\"ping\"}"));
	r = rpc(b, "{\"op\":\"status\",\"detail\":true}");
	conn = jint(r, "status.batches.list[0].conn");
	json_decref(r);

	line = harness_fmt("{\"op\":\"cancel\",\"target\":7,\"conn\":%lld}",
	    (long long)conn + 1000);
	r = rpc(b, line);
	free(line);
	cr_assert_eq(jint(r, "cancelled"), 0, "%s", jtext(r));
	json_decref(r);
	rpc_error(b, "{\"op\":\"cancel\",\"target\":7,\"conn\":\"all\"}",
	    "null", "bad_request");
	expect_silence(a, 50);

	line = harness_fmt("{\"op\":\"cancel\",\"target\":7,\"conn\":%lld}",
	    (long long)conn);
	r = rpc(b, line);
	free(line);
	cr_assert_eq(jint(r, "cancelled"), 1, "%s", jtext(r));
	json_decref(r);
	r = client_recv_json(a, slack_ms(2000));
	jeq(r, "id", "7");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	close(a);
	close(b);
	daemon_stop(&d);
}
