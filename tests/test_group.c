/*
 * The group and sequence jobs: a batch nested in the batch, with its own
 * mode and concurrency, or its jobs one after another. Their value is
 * their results; a failing one has an error too, naming the job that
 * decided it by its full path; a timeout_ms of theirs times out what is
 * unfinished inside at any depth; cancel and a client that leaves reach
 * every level; every job at every level counts toward max_jobs_per_batch
 * and max_inflight_jobs and is released from the memory budget; stats
 * and stream events are the top level's.
 *
 * End-to-end: real gatherd processes on private Unix sockets; the
 * protocol's end-to-end suites share the suite name daemon. Timing
 * bounds tell "one after another" from "at once" and "at once" from
 * "waited for a slow job", nothing finer.
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
#include "xmalloc.h"

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 60);

#define SLEEP(ms)	"{\"type\":\"sleep\",\"ms\":" #ms "}"
#define MISSING		"{\"type\":\"read\",\"path\":\"/nonexistent/x\"}"

Test(daemon, group_value_is_its_results_and_a_failure_has_both)
{
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	r = rpc(fd, "{\"jobs\":["
	    "{\"type\":\"group\",\"jobs\":[{\"type\":\"sleep\",\"ms\":50,"
	    "\"value\":\"a\"}," MISSING "]},"
	    "{\"type\":\"group\",\"jobs\":[{\"type\":\"sleep\",\"ms\":1,"
	    "\"value\":[1]},{\"type\":\"group\",\"jobs\":[]}]}]}");
	/* The failure is reported in place; the group's other job ran. */
	jexpect(r, (const char *const[]){ "ok", "false",
	    "results[0].ok", "false",
	    "results[0].value[0].value", "\"a\"",
	    "results[0].value[1].error.code", "\"forbidden\"",
	    "results[0].error.code", "\"forbidden\"",
	    "results[0].error.message", "~jobs[0].jobs[1] failed: ",
	    "results[0].error.message", "~/nonexistent/x",
	    "results[1].ok", "true",
	    "results[1].value[0].value", "[1]",
	    "results[1].value[1].value", "[]",
	    "results[1].error", "-", NULL });
	cr_assert_geq(jnum(r, "results[0].ms"), 50, "%s", jtext(r));
	/* stats are the top level's two jobs. */
	expect_stats(r, 1, 1, 0, 0);
	cr_assert_float_eq(jnum(r, "stats.sum_ms"), jnum(r, "results[0].ms") +
	    jnum(r, "results[1].ms"), 0.0025, "%s", jtext(r));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* A failure deep inside names the deepest job, whatever level decides. */
Test(daemon, group_error_names_the_deciding_job_by_its_full_path)
{
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	r = rpc(fd, "{\"jobs\":[" SLEEP(1) ",{\"type\":\"group\",\"jobs\":["
	    SLEEP(1) ",{\"type\":\"sequence\",\"jobs\":[" SLEEP(1) ","
	    MISSING "]}]}]}");
	jstr_is(r, "results[1].error.code", "forbidden");
	jstr_has(r, "results[1].error.message", "jobs[1].jobs[1].jobs[1]"
	    " failed: ");
	jstr_is(r, "results[1].value[1].error.code", "forbidden");
	jstr_has(r, "results[1].value[1].error.message",
	    "jobs[1].jobs[1].jobs[1] failed: ");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, sequence_runs_one_after_another_and_stops_at_a_failure)
{
	json_t	*r;
	int	 fd;

	/* Three sleeps of 100 ms, one after another. */
	r = daemon_rpc_between(&d, &fd, "{\"jobs\":[{\"type\":\"sequence\","
	    "\"jobs\":[" SLEEP(100) "," SLEEP(100) "," SLEEP(100) "]}]}", 300,
	    slack_ms(HARNESS_REPLY_MS));
	jbool_is(r, "ok", true);
	cr_assert_geq(jnum(r, "results[0].ms"), 300, "%s", jtext(r));
	json_decref(r);

	r = rpc(fd, "{\"jobs\":[" SLEEP(1) ",{\"type\":\"sequence\",\"jobs\":["
	    SLEEP(1) "," MISSING "," SLEEP(1) "," SLEEP(1) "]}]}");
	jstr_has(r, "results[1].error.message", "jobs[1].jobs[1] failed: ");
	jhas(r, "results[1]", "{\"error\":{\"code\":\"forbidden\"},"
	    "\"value\":[{\"ok\":true},{},"
	    "{\"error\":{\"code\":\"cancelled\","
	    "\"message\":\"not run: jobs[1].jobs[1] failed\"}},"
	    "{\"error\":{\"message\":\"not run: jobs[1].jobs[1] failed\"}}]}");
	cr_assert_eq(jnum(r, "results[1].value[3].ms"), 0, "%s", jtext(r));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* A group's mode and concurrency are its own; any and first win inside. */
Test(daemon, group_modes_and_concurrency_inside)
{
	json_t	*r;
	int	 fd;

	/* Not waiting for a cancelled sleep. */
	r = daemon_rpc_between(&d, &fd, "{\"jobs\":["
	    "{\"type\":\"group\",\"mode\":\"any\",\"jobs\":[" SLEEP(5000) ","
	    "{\"type\":\"sleep\",\"ms\":50,\"value\":\"won\"}]},"
	    "{\"type\":\"group\",\"mode\":\"first\",\"jobs\":[" SLEEP(5000) ","
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":20}]},"
	    "{\"type\":\"group\",\"mode\":\"any\",\"jobs\":[]},"
	    "{\"type\":\"group\",\"concurrency\":1,\"jobs\":[" SLEEP(100) ","
	    SLEEP(100) "]}]}", 0, 1000 + slack_ms(500));
	/*
	 * any: the success won; first: the winner timed out, so the group
	 * did; no job, no winner.
	 */
	jhas(r, "results", "[{\"ok\":true,\"winner\":1,\"value\":["
	    "{\"error\":{\"message\":\"cancelled: jobs[0].jobs[1] won\"}},"
	    "{\"value\":\"won\"}]},"
	    "{\"ok\":false,\"winner\":1,\"error\":{\"code\":\"timeout\"}},"
	    "{\"winner\":null,\"error\":{\"code\":\"cancelled\","
	    "\"message\":\"no job to win\"}},{}]");
	/* Concurrency 1: the second sleep waited for the first. */
	cr_assert_geq(jnum(r, "results[3].ms"), 200, "%s", jtext(r));
	cr_assert_null(jget(r, "results[3].winner"), "%s", jtext(r));
	expect_stats(r, 2, 0, 1, 1);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * A group's own timeout_ms: it is timeout whatever failed before, and
 * every unfinished job inside it, at any depth, started or not, too.
 */
Test(daemon, group_timeout_times_out_everything_unfinished_inside)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc_between(&d, &fd, "{\"jobs\":[" SLEEP(1) ","
	    "{\"type\":\"group\",\"timeout_ms\":200,\"jobs\":[" MISSING ","
	    SLEEP(5000) ",{\"type\":\"group\",\"jobs\":[" SLEEP(5000) ","
	    "{\"type\":\"sequence\",\"jobs\":[" SLEEP(5000) "," SLEEP(1)
	    "]}]}]}]}", 200, 200 + slack_ms(800));
	jbool_is(r, "results[0].ok", true);
	jstr_is(r, "results[1].error.code", "timeout");
	jstr_is(r, "results[1].error.message", "job timeout_ms (200 ms)"
	    " reached");
	jstr_is(r, "results[1].value[0].error.code", "forbidden");
	jstr_is(r, "results[1].value[1].error.code", "timeout");
	jstr_is(r, "results[1].value[1].error.message",
	    "jobs[1]: job timeout_ms (200 ms) reached");
	jstr_is(r, "results[1].value[2].error.code", "timeout");
	jstr_is(r, "results[1].value[2].value[0].error.code", "timeout");
	jstr_is(r, "results[1].value[2].value[1].error.code", "timeout");
	jstr_is(r, "results[1].value[2].value[1].value[0].error.code",
	    "timeout");
	/* Never started: timeout too, in no time. */
	jstr_is(r, "results[1].value[2].value[1].value[1].error.code",
	    "timeout");
	cr_assert_eq(jnum(r, "results[1].value[2].value[1].value[1].ms"), 0,
	    "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.timed_out"), 1, "%s", jtext(r));
	json_decref(r);
	daemon_expect_idle(&d);
	close(fd);
	daemon_stop(&d);
}

/* n nested groups and sequences around a sleep of 1 ms. */
#define NESTED(n)	harness_nested_line((n), SLEEP(1), "sequence")

Test(daemon, groups_nest_16_levels_and_no_more)
{
	json_t	*r;
	char	*line;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	line = NESTED(16);
	r = rpc(fd, line);
	free(line);
	jbool_is(r, "ok", true);
	jbool_is(r, "results[0].value[0].value[0].value[0].value[0].value[0]"
	    ".value[0].value[0].value[0].value[0].value[0].value[0].value[0]"
	    ".value[0].value[0].value[0].value[0].ok", true);
	json_decref(r);
	line = NESTED(17);
	r = rpc(fd, line);
	free(line);
	expect_error(r, "null", "bad_request");
	jstr_has(r, "error.message", "nest 16 levels deep at most");
	json_decref(r);
	/* Paths in messages name the nesting. */
	r = rpc(fd, "{\"jobs\":[" SLEEP(1) "," SLEEP(1) ",{\"type\":\"group\","
	    "\"jobs\":[{\"type\":\"sleep\",\"ms\":\"x\"}]}]}");
	expect_error(r, "null", "bad_request");
	jstr_is(r, "error.message", "jobs[2].jobs[0].ms: expected a"
	    " non-negative number");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Every level counts, groups included, toward both limits. */
Test(daemon, nested_jobs_count_toward_the_job_limits)
{
	json_t	*r;
	int	 fd, fd2;

	fd = daemon_start_client(&d, "[limits]\nmax_jobs_per_batch = 5\n"
	    "max_inflight_jobs = 6\n");
	/* 1 + a group of 4: 6 jobs. */
	r = rpc(fd, "{\"jobs\":[" SLEEP(1) ",{\"type\":\"group\",\"jobs\":["
	    SLEEP(1) "," SLEEP(1) "," SLEEP(1) "," SLEEP(1) "]}]}");
	expect_error(r, "null", "too_large");
	jstr_has(r, "error.message", "max_jobs_per_batch (5)");
	json_decref(r);
	r = rpc(fd, "{\"jobs\":[{\"type\":\"group\",\"jobs\":[" SLEEP(1) ","
	    SLEEP(1) ",{\"type\":\"sequence\",\"jobs\":[" SLEEP(1) "]}]}]}");
	jbool_is(r, "ok", true);
	json_decref(r);

	/* 5 in flight; 2 more would pass max_inflight_jobs (6). */
	client_send(fd, "{\"id\":\"held\",\"jobs\":[{\"type\":\"group\","
	    "\"jobs\":[" SLEEP(5000) ",{\"type\":\"sequence\",\"jobs\":["
	    SLEEP(5000) "," SLEEP(5000) "]}]}]}");
	json_decref(await_status(&d, -1, "jobs.in_flight", 4, slack_ms(5000)));
	fd2 = client_connect(d.sock);
	r = rpc(fd2, "{\"jobs\":[{\"type\":\"group\",\"jobs\":[" SLEEP(1)
	    "]}]}");
	expect_error(r, "null", "busy");
	jstr_has(r, "error.message", "max_inflight_jobs (6)");
	json_decref(r);
	r = rpc(fd2, "{\"jobs\":[" SLEEP(1) "]}");
	jbool_is(r, "ok", true);
	json_decref(r);
	rpc_ok(fd2, "{\"op\":\"cancel\",\"target\":\"held\",\"conn\":\"any\"}",
	    "null");
	r = client_recv_json(fd, slack_ms(2000));
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	close(fd);
	close(fd2);
	daemon_stop(&d);
}

/* cancel reaches every level at once; nothing is left running. */
Test(daemon, cancel_and_disconnect_reach_every_level)
{
	json_t	*r, *st;
	double	 t0, took;
	int	 fd, fd2;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":\"n\",\"jobs\":[{\"type\":\"group\",\"jobs\":["
	    "{\"type\":\"group\",\"jobs\":[" SLEEP(20000) "]},"
	    "{\"type\":\"sequence\",\"jobs\":[" SLEEP(20000) "," SLEEP(1)
	    "]}]}]}");
	json_decref(await_status(&d, -1, "jobs.in_flight", 5, slack_ms(5000)));
	fd2 = client_connect(d.sock);
	t0 = now_ms();
	rpc_ok(fd2, "{\"op\":\"cancel\",\"target\":\"n\",\"conn\":\"any\"}",
	    "null");
	r = client_recv_json(fd, slack_ms(2000));
	took = now_ms() - t0;
	cr_assert_lt(took, slack_ms(1000), "cancelled after %.0f ms", took);
	jhas(r, "results[0]", "{\"error\":{\"code\":\"cancelled\"},\"value\":["
	    "{\"value\":[{\"error\":{\"code\":\"cancelled\"}}]},"
	    "{\"value\":[{\"error\":{\"code\":\"cancelled\"}},"
	    "{\"error\":{\"code\":\"cancelled\"}}]}]}");
	json_decref(r);
	daemon_expect_idle(&d);

	/* A client that leaves: everything inside its batch ends. */
	client_send(fd, "{\"jobs\":[{\"type\":\"sequence\",\"jobs\":["
	    "{\"type\":\"group\",\"jobs\":[" SLEEP(20000) "," SLEEP(20000)
	    "]}]}]}");
	json_decref(await_status(&d, -1, "jobs.in_flight", 4, slack_ms(5000)));
	close(fd);
	st = await_status(&d, fd2, "jobs.in_flight", 0, slack_ms(2000));
	expect_idle(st);
	json_decref(st);
	close(fd2);
	daemon_stop(&d);
}

/*
 * A failure of the batch's fail_fast cancels a running group's jobs at
 * once; a waiting group's jobs end too, never started.
 */
Test(daemon, fail_fast_cancels_inside_running_and_waiting_groups)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc_between(&d, &fd, "{\"mode\":\"fail_fast\","
	    "\"concurrency\":2,\"jobs\":[{\"type\":\"group\",\"jobs\":["
	    SLEEP(5000) "," SLEEP(5000) "]},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":50},"
	    "{\"type\":\"group\",\"jobs\":[" SLEEP(1) "]}]}", 0,
	    50 + slack_ms(700));
	jhas(r, "results", "[{\"error\":{\"code\":\"cancelled\"},\"value\":"
	    "[{},{\"error\":{\"message\":\"cancelled: jobs[1] failed\"}}]},"
	    "{},{\"error\":{\"code\":\"cancelled\"},"
	    "\"value\":[{\"error\":{\"code\":\"cancelled\"}}]}]");
	cr_assert_eq(jnum(r, "results[2].value[0].ms"), 0, "%s", jtext(r));
	json_decref(r);
	daemon_expect_idle(&d);
	close(fd);
	daemon_stop(&d);
}

/* Stream events are sent for the top-level jobs only. */
Test(daemon, stream_events_for_top_level_jobs_only)
{
	json_t	*v;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"stream\":true,\"jobs\":[{\"type\":\"group\","
	    "\"jobs\":[" SLEEP(1) "," SLEEP(20) "," SLEEP(40) "]}]}");
	v = client_recv_json(fd, slack_ms(2000));
	jstr_is(v, "event", "result");
	cr_assert_eq(jint(v, "index"), 0);
	cr_assert_eq(json_array_size(jget(v, "result.value")), 3, "%s",
	    jtext(v));
	json_decref(v);
	v = client_recv_json(fd, slack_ms(2000));
	cr_assert_null(jget(v, "event"), "an event for a nested job: %s",
	    jtext(v));
	cr_assert_eq(jint(v, "stats.jobs"), 1, "%s", jtext(v));
	json_decref(v);
	close(fd);
	daemon_stop(&d);
}

/*
 * What nested results held in the memory budget is released with the
 * reply: nothing stays counted once the daemon is idle.
 */
Test(daemon, nested_results_leave_the_budget_with_the_reply)
{
	json_t	*r, *st;
	int	 fd, i;

	fd = daemon_start_client(&d, NULL);
	for (i = 0; i < 3; i++) {
		r = rpc(fd, "{\"jobs\":[{\"type\":\"group\",\"jobs\":["
		    "{\"type\":\"sleep\",\"ms\":1,\"value\":\"abcdefghij\"},"
		    "{\"type\":\"sequence\",\"jobs\":[{\"type\":\"sleep\","
		    "\"ms\":1,\"value\":[1,2,3]}," MISSING "]}]}]}");
		json_decref(r);
	}
	st = status_on(fd);
	jhas(st, "memory", "{\"result_bytes\":0,\"request_bytes\":0}");
	json_decref(st);
	close(fd);
	daemon_stop(&d);
}

/* A big request of groups is parsed on the parse thread, groups and all. */
Test(daemon, a_big_request_of_groups_parses_off_the_loop)
{
	json_t	*r;
	char	*line, *p;
	size_t	 cap = 200 * 1024, len;
	int	 fd, g, i;

	line = malloc(cap);
	cr_assert_not_null(line);
	len = (size_t)snprintf(line, cap, "{\"jobs\":[");
	for (g = 0; g < 300; g++) {
		len += (size_t)snprintf(line + len, cap - len,
		    "%s{\"type\":\"group\",\"name\":\"g%d\",\"jobs\":[",
		    g > 0 ? "," : "", g);
		for (i = 0; i < 10; i++)
			len += (size_t)snprintf(line + len, cap - len,
			    "%s{\"type\":\"sleep\",\"ms\":0,\"value\":%d}",
			    i > 0 ? "," : "", g * 10 + i);
		len += (size_t)snprintf(line + len, cap - len, "]}");
	}
	p = line + len;
	snprintf(p, cap - len, "]}");
	cr_assert_gt(strlen(line), 64 * 1024, "not big enough to go to the"
	    " parse thread");
	fd = daemon_start_client(&d, NULL);
	r = rpc(fd, line);
	free(line);
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.jobs"), 300, "%s", jtext(r));
	jstr_is(r, "results[299].name", "g299");
	cr_assert_eq(jint(r, "results[299].value[9].value"), 2999, "%s",
	    jtext(r));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}
