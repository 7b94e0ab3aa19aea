/*
 * Gathering: the protocol's seed example, a thousand sleeps in one batch,
 * results in job order whatever the order of completion, values and ids
 * returned verbatim, pipelined batches answered by completion, and what
 * ping and status say.
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
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	500

/*
 * A sleep never returns early. Results are reported to the microsecond and
 * libevent's timers count whole microseconds, so "early" means by more
 * than one microsecond.
 */
#define NOT_EARLY(ms)	((ms) - 0.001)

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/* The seed example of the protocol: two one-second sleeps, gathered. */
#define SEED \
	"{\"jobs\":[{\"type\":\"sleep\",\"ms\":1000,\"value\":\"Hello 1!\"}," \
	"{\"type\":\"sleep\",\"ms\":1000,\"value\":\"Hello 2!\"}]}"

/*
 * The seed example of the protocol.
 */

Test(daemon, seed_example_gathers_two_sleeps_concurrently)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd, i;
	char	 path[64], want[16];

	fd = daemon_start_client(&d, NULL);
	t0 = now_ms();
	client_send(fd, SEED);
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;

	cr_assert_geq(dt, 1000, "replied after %.1f ms, before the sleeps", dt);
	cr_assert_lt(dt, 1000 + slack_ms(300),
	    "took %.1f ms: the sleeps did not overlap", dt);
	expect_ok(r, "null");
	cr_assert_geq(jnum(r, "elapsed_ms"), NOT_EARLY(1000), "%s", jtext(r));
	cr_assert_lt(jnum(r, "elapsed_ms"), 1000 + slack_ms(300), "%s",
	    jtext(r));
	expect_stats(r, 2, 0, 0, 0);
	cr_assert_geq(jnum(r, "stats.sum_ms"), NOT_EARLY(2000), "%s",
	    jtext(r));
	cr_assert_eq(json_array_size(jget(r, "results")), 2, "%s", jtext(r));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "results[%d].ok", i);
		jbool_is(r, path, true);
		/* A sleep never returns early. */
		snprintf(path, sizeof path, "results[%d].ms", i);
		cr_assert_geq(jnum(r, path), NOT_EARLY(1000), "%s: %s", path,
		    jtext(r));
		snprintf(path, sizeof path, "results[%d].value", i);
		snprintf(want, sizeof want, "Hello %d!", i + 1);
		jstr_is(r, path, want);
	}
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* The example as the spec runs it: echo | socat, which half-closes. */
Test(daemon, seed_example_through_socat)
{
	json_t	*r;
	char	*cmd, *out;
	int	 rc;

	if (run_command("command -v socat >/dev/null", NULL) != 0)
		cr_skip_test("socat is not installed");
	daemon_start(&d, NULL, NULL);
	/*
	 * socat -t: how long it waits for the reply after its input ended;
	 * the daemon closes once it has replied, so a stretched wait costs
	 * nothing, and a valgrind daemon may take more than 5 s to reply.
	 */
	cmd = harness_fmt("echo '%s' | socat -t%d - UNIX-CONNECT:%s", SEED,
	    slack_ms(5000) / 1000, d.sock);
	rc = run_command(cmd, &out);
	free(cmd);
	cr_assert_eq(rc, 0, "socat failed: %s", out);
	cr_assert_not_null(strchr(out, '\n'));
	cr_assert_eq(strchr(out, '\n')[1], '\0', "more than one line: %s", out);
	r = json_loads(out, 0, NULL);
	cr_assert_not_null(r, "not JSON: %s", out);
	jhas(r, "", "{\"ok\":true,\"results\":[{\"value\":\"Hello 1!\"},"
	    "{\"value\":\"Hello 2!\"}]}");
	json_decref(r);
	free(out);
	daemon_stop(&d);
}

/*
 * Many jobs.
 */

Test(daemon, thousand_sleeps_gathered_in_job_order)
{
	json_t	*r, *res;
	char	*line = NULL;
	size_t	 len = 0, i;
	FILE	*fp;
	double	 t0, dt;
	int	 fd, ms[1000];

	daemon_start(&d, NULL, NULL);
	cr_assert_not_null(fp = open_memstream(&line, &len));
	fputs("{\"id\":\"k\",\"jobs\":[", fp);
	for (i = 0; i < 1000; i++) {
		ms[i] = (int)((i * 7919) % 201);	/* 0..200, shuffled */
		fprintf(fp, "%s{\"type\":\"sleep\",\"ms\":%d,\"value\":%zu}",
		    i > 0 ? "," : "", ms[i], i);
	}
	fputs("]}", fp);
	fclose(fp);

	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, line);
	r = client_recv_json(fd, slack_ms(10000));
	dt = now_ms() - t0;
	free(line);

	cr_assert_lt(dt, 200 + slack_ms(1800),
	    "1000 sleeps of <= 200 ms took %.1f ms", dt);
	cr_assert_geq(dt, 200, "replied after %.1f ms", dt);
	jbool_is(r, "ok", true);
	expect_stats(r, 1000, 0, 0, 0);
	res = jget(r, "results");
	cr_assert_eq(json_array_size(res), 1000);
	for (i = 0; i < 1000; i++) {
		json_t	*x = json_array_get(res, i);

		cr_assert(json_is_true(json_object_get(x, "ok")), "[%zu] %s",
		    i, jtext(x));
		cr_assert_eq(json_integer_value(json_object_get(x, "value")),
		    (json_int_t)i, "results[%zu] is %s", i, jtext(x));
		cr_assert_geq(json_number_value(json_object_get(x, "ms")),
		    NOT_EARLY(ms[i]), "results[%zu] returned early: %s (ms %d)", i,
		    jtext(x), ms[i]);
	}
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Results come in job order, not completion order.
 */

Test(daemon, results_in_job_order_not_completion_order)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc_between(&d, &fd, "{\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":\"a\"},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":\"b\"},"
	    "{\"type\":\"sleep\",\"ms\":100,\"value\":\"c\"},"
	    "{\"type\":\"sleep\",\"ms\":0,\"value\":\"d\"}]}", 300,
	    300 + slack_ms(500));
	jhas(r, "", "{\"ok\":true,\"results\":[{\"value\":\"a\"},"
	    "{\"value\":\"b\"},{\"value\":\"c\"},{\"value\":\"d\"}]}");
	cr_assert_geq(jnum(r, "results[0].ms"), NOT_EARLY(300));
	cr_assert_geq(jnum(r, "results[1].ms"), NOT_EARLY(200));
	cr_assert_geq(jnum(r, "results[2].ms"), NOT_EARLY(100));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* A sleep's value is any JSON, returned as is; absent is null. */
Test(daemon, sleep_value_is_returned_verbatim)
{
	json_t	*r;
	int	 fd;

	/* The longest sleep is half a millisecond: no reply before it. */
	r = daemon_rpc_between(&d, &fd, "{\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":0,\"value\":{\"a\":[1,2.5,null,true],"
	    "\"s\":\"\\u00e9\\\"\\n\\u0001\"}},"
	    "{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0,\"value\":null},"
	    "{\"type\":\"sleep\",\"ms\":0.5,\"value\":-12345678901234}]}",
	    0.5, slack_ms(HARNESS_REPLY_MS));
	jbool_is(r, "ok", true);
	jeq(r, "results[0].value",
	    "{\"s\":\"\\u00e9\\\"\\n\\u0001\",\"a\":[1,2.5,null,true]}");
	jeq(r, "results[1].value", "null");
	jeq(r, "results[2].value", "null");
	jeq(r, "results[3].value", "-12345678901234");
	cr_assert_geq(jnum(r, "results[3].ms"), NOT_EARLY(0.5), "returned early: %s",
	    jtext(jget(r, "results[3]")));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Pipelining: replies by completion, correlated by id.
 */

Test(daemon, pipelined_replies_come_by_completion)
{
	json_t	*r;
	double	 t0;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	t0 = now_ms();
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":400}]}");
	client_send(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":100}]}");
	client_send(fd, "{\"op\":\"ping\",\"id\":3}");

	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", "3");
	jbool_is(r, "pong", true);
	cr_assert_lt(now_ms() - t0, slack_ms(100 + PROMPT_MS / 5),
	    "ping waited %.1f ms behind the batches", now_ms() - t0);
	json_decref(r);

	recv_has_between(fd, "{\"id\":2,\"ok\":true}", t0, 100,
	    100 + slack_ms(300));
	recv_has_between(fd, "{\"id\":1,\"ok\":true}", t0, 400,
	    400 + slack_ms(500));
	expect_silence(fd, 100);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, ids_are_echoed_verbatim)
{
	static const char *const ids[] = {
		"{\"a\":[1,2]}",
		"\"s\\u00e9 \\\"q\\\" \\\\ \\n\"",
		"[null,true,-7,1.5,{\"x\":{}}]",
		"9007199254740993",
		"\"\"",
	};
	json_t	*r;
	char	*line;
	size_t	 i;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	/* Object and string ids on batches, pipelined: 50 ms first. */
	line = harness_fmt("{\"id\":%s,\"jobs\":[{\"type\":\"sleep\",\"ms\":200}]}",
	    ids[0]);
	client_send(fd, line);
	free(line);
	line = harness_fmt("{\"id\":%s,\"jobs\":[{\"type\":\"sleep\",\"ms\":50}]}",
	    ids[1]);
	client_send(fd, line);
	free(line);
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", ids[1]);
	jbool_is(r, "ok", true);
	json_decref(r);
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", ids[0]);
	jbool_is(r, "ok", true);
	json_decref(r);

	/* Every op, and errors, echo the id too. */
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		line = harness_fmt("{\"op\":\"ping\",\"id\":%s}", ids[i]);
		r = rpc(fd, line);
		free(line);
		jeq(r, "id", ids[i]);
		jbool_is(r, "pong", true);
		json_decref(r);

		line = harness_fmt("{\"op\":\"status\",\"id\":%s}", ids[i]);
		r = rpc(fd, line);
		free(line);
		jeq(r, "id", ids[i]);
		json_decref(r);

		line = harness_fmt("{\"id\":%s,\"jobs\":[],\"bogus\":1}", ids[i]);
		r = rpc(fd, line);
		free(line);
		expect_error(r, ids[i], "bad_request");
		json_decref(r);
	}

	/* An absent id and an explicit null are echoed as null. */
	rpc_pong(fd, "{\"op\":\"ping\"}", "null");
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":null}", "null");
	close(fd);
	daemon_stop(&d);
}

/* ping and status replies carry what the protocol promises. */
Test(daemon, ping_and_status_replies)
{
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, "[limits]\nmax_jobs_per_batch = 77\n");
	r = rpc(fd, "{\"op\":\"ping\",\"id\":1}");
	jhas(r, "", "{\"ok\":true,\"pong\":true,\"protocol\":1}");
	cr_assert(json_is_string(jget(r, "version")), "%s", jtext(r));
	json_decref(r);

	r = rpc(fd, "{\"op\":\"status\",\"id\":2}");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "status.pid"), d.pid);
	cr_assert(json_is_string(jget(r, "status.version")), "%s", jtext(r));
	cr_assert_geq(jnum(r, "status.uptime_s"), 0);
	cr_assert_eq(jint(r, "status.connections.open"), 1, "%s", jtext(r));
	cr_assert_geq(jint(r, "status.connections.total"), 1);
	cr_assert_eq(jint(r, "status.limits.max_jobs_per_batch"), 77);
	cr_assert(json_is_integer(jget(r, "status.limits.max_connections")));
	cr_assert(json_is_integer(jget(r, "status.limits.max_output_bytes")));
	cr_assert(json_is_object(jget(r, "status.jobs.by_type.sleep")),
	    "%s", jtext(r));
	cr_assert(json_is_object(jget(r, "status.pool")), "%s", jtext(r));
	json_decref(r);

	/* Counters move: one batch of one ok and one timed-out job. */
	r = rpc(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"sleep\",\"ms\":1000,\"timeout_ms\":1}]}");
	jbool_is(r, "ok", false);
	json_decref(r);
	r = rpc(fd, "{\"op\":\"status\",\"detail\":true}");
	jhas(r, "", "{\"status\":{\"batches\":{\"done\":1,\"failed\":1},"
	    "\"jobs\":{\"done\":2,\"failed\":1,"
	    "\"by_type\":{\"sleep\":{\"done\":2,\"failed\":1}}}}}");
	cr_assert_geq(jnum(r, "status.jobs.by_type.sleep.ms_max"), 1);
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 0);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* status detail lists the batches in flight. */
Test(daemon, status_detail_lists_batches_in_flight)
{
	json_t	*r;
	double	 t0;
	int	 fd, fd2;

	/*
	 * The second sleep outlasts any wait below, even a loaded valgrind
	 * one, so the batch is still in flight when status is asked; closing
	 * fd cancels it at the end.
	 */
	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":{\"n\":1},\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":60000}]}");
	fd2 = client_connect(d.sock);
	/*
	 * Wait for a state, the first job done, not for a time: a loaded
	 * valgrind daemon may take longer than any fixed look.
	 */
	t0 = now_ms();
	for (;;) {
		r = rpc(fd2, "{\"op\":\"status\",\"detail\":true}");
		if (json_integer_value(jget(r,
		    "status.batches.list[0].done")) == 1)
			break;
		cr_assert_lt(now_ms() - t0, slack_ms(5000), "first job not"
		    " done after %.0f ms: %s", now_ms() - t0, jtext(r));
		json_decref(r);
		usleep(10000);
	}
	json_decref(r);
	/*
	 * Then ask again 100 ms later: the batch was taken in before the
	 * reply that showed its first job done, so it is at least that old
	 * now (age_ms >= 50, whatever the clocks' grain).
	 */
	usleep(100000);
	r = rpc(fd2, "{\"op\":\"status\",\"detail\":true}");
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 1,
	    "%s", jtext(r));
	jeq(r, "status.batches.list[0].id", "{\"n\":1}");
	cr_assert_eq(jint(r, "status.batches.list[0].jobs"), 2);
	cr_assert_eq(jint(r, "status.batches.list[0].done"), 1);
	cr_assert_geq(jnum(r, "status.batches.list[0].age_ms"), 50);
	cr_assert(json_is_integer(jget(r, "status.batches.list[0].conn")));
	json_decref(r);
	close(fd);
	close(fd2);
	daemon_stop(&d);
}
