/*
 * Modes any and first (Promise.any, Promise.race): the winner decided by
 * completion order, the rest cancelled at once (timers removed, a
 * worker's SQLite query interrupted, a PostgreSQL query cancelled on the
 * server), "winner" in the reply, ok as the protocol says, "jobs":[],
 * and how they compose with concurrency and the deadlines.
 *
 * End-to-end: real gatherd processes on private Unix sockets; the
 * protocol's end-to-end suites share the suite name daemon. Timing
 * bounds tell "at once" from "waited for the slow job", nothing finer:
 * the slow jobs take seconds, the bounds are stretched by slack_ms().
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "pgtest.h"

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 60);

/*
 * The bound on a reply due in ms: its slack, not the seconds of the slow
 * jobs it should have cancelled.
 */
#define WITHIN(ms)	((ms) + slack_ms(700))

Test(daemon, any_the_first_success_wins_and_the_rest_are_cancelled)
{
	json_t	*r, *st;
	int	 fd;

	/* The winner's 100 ms, no more. */
	r = daemon_rpc_between(&d, &fd, "{\"id\":\"a\",\"mode\":\"any\","
	    "\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000,\"value\":\"slow\"},"
	    "{\"type\":\"read\",\"path\":\"/nonexistent/x\"},"
	    "{\"type\":\"sleep\",\"ms\":100,\"value\":\"fast\"},"
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":\"later\"}]}", 100,
	    WITHIN(100));
	/* A failure before the success (jobs[1]) does not win any. */
	jhas(r, "", "{\"ok\":true,\"winner\":2,\"results\":["
	    "{\"error\":{\"code\":\"cancelled\","
	    "\"message\":\"cancelled: jobs[2] won\"}},"
	    "{\"error\":{\"code\":\"forbidden\"}},{\"value\":\"fast\"},"
	    "{\"error\":{\"code\":\"cancelled\"}}]}");
	cr_assert_lt(jnum(r, "results[0].ms"), 1000, "%s", jtext(r));
	expect_stats(r, 1, 1, 2, 0);
	json_decref(r);

	/* The cancelled sleeps are gone from the daemon at once. */
	st = status_of(&d);
	expect_idle(st);
	json_decref(st);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, any_with_every_job_failed_fails_with_no_winner)
{
	int	fd;

	fd = daemon_start_client(&d, NULL);
	rpc_expect(fd, "{\"mode\":\"any\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":1},"
	    "{\"type\":\"read\",\"path\":\"/nonexistent/x\"}]}",
	    (const char *const[]){ "ok", "false", "winner", "null",
	    "results[0].error.code", "\"timeout\"",
	    "results[1].error.code", "\"forbidden\"",
	    "stats.jobs", "2", "stats.ok", "0", "stats.failed", "1",
	    "stats.cancelled", "0", "stats.timed_out", "1", NULL });
	close(fd);
	daemon_stop(&d);
}

Test(daemon, first_the_first_to_finish_wins_even_a_failure)
{
	json_t	*r;
	int	 fd;

	/* A job ending by its own timeout_ms has finished: it wins. */
	r = daemon_rpc_between(&d, &fd, "{\"mode\":\"first\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000,\"value\":\"slow\"},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":100}]}", 0,
	    WITHIN(100));
	jhas(r, "", "{\"ok\":false,\"winner\":1,\"results\":["
	    "{\"error\":{\"message\":\"cancelled: jobs[1] won\"}},"
	    "{\"error\":{\"code\":\"timeout\"}}]}");
	expect_stats(r, 0, 0, 1, 1);
	json_decref(r);

	/* A success that comes first: ok. */
	r = rpc_between(fd, "{\"mode\":\"first\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},"
	    "{\"type\":\"sleep\",\"ms\":50,\"value\":\"quick\"}]}", 0,
	    WITHIN(50));
	jhas(r, "", "{\"ok\":true,\"winner\":1,"
	    "\"results\":[{},{\"value\":\"quick\"}]}");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* No job, no winner: any and first fail, all succeeds and has no winner. */
Test(daemon, empty_jobs_under_any_and_first)
{
	int	fd;

	fd = daemon_start_client(&d, NULL);
	rpc_expect(fd, "{\"mode\":\"any\",\"jobs\":[]}",
	    (const char *const[]){ "ok", "false", "winner", "null",
	    "results", "[]", NULL });
	rpc_expect(fd, "{\"mode\":\"first\",\"jobs\":[]}",
	    (const char *const[]){ "ok", "false", "winner", "null", NULL });
	rpc_expect(fd, "{\"mode\":\"all\",\"jobs\":[]}",
	    (const char *const[]){ "ok", "true", "winner", "-", NULL });
	close(fd);
	daemon_stop(&d);
}

Test(daemon, any_with_concurrency_cancels_jobs_that_never_started)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc(&d, &fd, "{\"mode\":\"any\",\"concurrency\":2,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},"
	    "{\"type\":\"sleep\",\"ms\":50,\"value\":\"won\"},"
	    "{\"type\":\"sleep\",\"ms\":10},"
	    "{\"type\":\"sleep\",\"ms\":10}]}");
	/* 2 and 3 waited for a slot and never ran: no time, cancelled. */
	jhas(r, "", "{\"winner\":1,\"results\":[{},{},"
	    "{\"error\":{\"code\":\"cancelled\"}},"
	    "{\"error\":{\"code\":\"cancelled\"}}]}");
	cr_assert_eq(jnum(r, "results[2].ms") + jnum(r, "results[3].ms"), 0,
	    "%s", jtext(r));
	expect_stats(r, 1, 0, 3, 0);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* The batch's deadline is nobody's win: every job times out. */
Test(daemon, any_at_the_batch_deadline_times_out_without_a_winner)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc_between(&d, &fd, "{\"mode\":\"any\",\"timeout_ms\":100,"
	    "\"jobs\":[{\"type\":\"sleep\",\"ms\":5000},"
	    "{\"type\":\"sleep\",\"ms\":5000}]}", 0, WITHIN(100));
	jhas(r, "", "{\"ok\":false,\"winner\":null}");
	expect_stats(r, 0, 0, 0, 2);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Stream events come for the winner and for each job it cancelled. */
Test(daemon, any_streams_every_result_then_replies)
{
	json_t	*lines;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":9,\"mode\":\"any\",\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},{\"type\":\"sleep\",\"ms\":20,"
	    "\"value\":1}]}");
	/* The winner's event first, then the one it cancelled, the reply. */
	lines = recv_stream(fd, 2, slack_ms(2000));
	jhas(lines, "", "[{\"index\":1},{\"index\":0},{\"winner\":1}]");
	json_decref(lines);
	close(fd);
	daemon_stop(&d);
}

/*
 * A query waiting for a locked SQLite database holds the only worker;
 * when a sleep wins, the query is interrupted and the worker is free
 * again at once for the next request.
 */
Test(daemon, any_frees_a_worker_held_by_a_losing_query)
{
	sqlite3	*lock;
	json_t	*r;
	int	 fd;

	lock = dbtest_start_locked(&d, 1, 20000, &fd);
	r = rpc_between(fd, "{\"mode\":\"any\",\"jobs\":["
	    "{\"type\":\"query\",\"sql\":\"select count(*) from t\"},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":\"won\"}]}", 0,
	    WITHIN(200));
	jeq(r, "winner", "1");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	/* The one worker serves the next query, not 20 s later. */
	r = rpc_between(fd, "{\"jobs\":[{\"type\":\"query\",\"db\":\"default\","
	    "\"sql\":\"select 41 + 1\"}],\"mode\":\"first\"}", 0, WITHIN(0));
	cr_assert_eq(jint(r, "results[0].value.rows[0][0]"), 42, "%s",
	    jtext(r));
	json_decref(r);
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);
	close(fd);
	daemon_stop(&d);
}

/*
 * A PostgreSQL query losing a race is cancelled on the server: the pool
 * of one connection serves the next query at once.
 */
Test(daemon, first_cancels_a_losing_postgres_query_on_the_server)
{
	json_t	*jobs, *r, *job;
	char	*line;
	int	 fd;

	pgtest_new();
	pgtest_daemon(&d, NULL, NULL, "default", 1u, (const char *)NULL);
	json_decref(dbtest_query_ok(&d, NULL, "select 1", NULL));

	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select pg_sleep(20)",
	    NULL));
	job = json_pack("{s:s, s:i, s:s}", "type", "sleep", "ms", 200,
	    "value", "won");
	json_array_append_new(jobs, job);
	line = dbtest_batch_line(jobs, "mode", json_string("first"));
	fd = client_connect(d.sock);
	r = rpc_between(fd, line, 0, WITHIN(200));
	free(line);
	jeq(r, "winner", "1");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	r = rpc_between(fd, "{\"jobs\":[{\"type\":\"query\",\"sql\":"
	    "\"select 'next'\"}]}", 0, WITHIN(0));
	jeq(r, "results[0].value.rows", "[[\"next\"]]");
	json_decref(r);
	close(fd);
	daemon_expect_idle(&d);
	daemon_stop(&d);
}
