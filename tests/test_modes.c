/*
 * How a batch runs: its modes (all, fail_fast), its deadlines (the
 * batch's timeout_ms, a job's), its concurrency limit, and streaming of
 * each result as it completes.
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
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

/*
 * A sleep never returns early. Results are reported to the microsecond and
 * libevent's timers count whole microseconds, so "early" means by more
 * than one microsecond.
 */
#define NOT_EARLY(ms)	((ms) - 0.001)

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * Modes.
 */

#define FAIL_FAST_JOBS "[{\"type\":\"sleep\",\"ms\":1000,\"value\":0}," \
	"{\"type\":\"sleep\",\"ms\":1000,\"timeout_ms\":50,\"value\":1}," \
	"{\"type\":\"sleep\",\"ms\":2000,\"value\":2}]"

Test(daemon, fail_fast_cancels_the_rest_at_the_first_failure)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc_between(&d, &fd, "{\"id\":\"ff\",\"mode\":\"fail_fast\","
	    "\"jobs\":" FAIL_FAST_JOBS "}", 50, 50 + slack_ms(450));
	jeq(r, "id", "\"ff\"");
	jhas(r, "", "{\"ok\":false,\"results\":["
	    "{\"ok\":false,\"error\":{\"code\":\"cancelled\"}},"
	    "{\"ok\":false,\"error\":{\"code\":\"timeout\"}},"
	    "{\"ok\":false,\"error\":{\"code\":\"cancelled\"}}]}");
	cr_assert_geq(jnum(r, "results[1].ms"), NOT_EARLY(50));
	expect_stats(r, 0, 0, 2, 1);
	json_decref(r);

	/* Nothing keeps running behind the reply. */
	daemon_expect_idle(&d);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, mode_all_waits_for_every_job)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc_between(&d, &fd, "{\"mode\":\"all\",\"jobs\":"
	    FAIL_FAST_JOBS "}", 2000, 2000 + slack_ms(1000));
	jhas(r, "", "{\"ok\":false,\"results\":[{\"ok\":true,\"value\":0},"
	    "{\"error\":{\"code\":\"timeout\"}},{\"ok\":true,\"value\":2}]}");
	expect_stats(r, 2, 0, 0, 1);
	cr_assert_geq(jnum(r, "elapsed_ms"), NOT_EARLY(2000));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Deadlines.
 */

Test(daemon, batch_timeout_ends_unfinished_jobs)
{
	/*
	 * The deadline is far enough beyond the jobs that finish for a
	 * loaded machine (valgrind beside a build took 660 ms to start a
	 * batch's jobs) not to end them too; not slack_ms(), which would
	 * take the test past the suite's time-out under valgrind.
	 */
	int	 t = harness_slowed() ? 4000 : 1000, fd;
	json_t	*r;
	double	 dt;
	char	*req;

	req = harness_fmt("{\"timeout_ms\":%d,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":50,\"value\":\"fast\"},"
	    "{\"type\":\"sleep\",\"ms\":60000},"
	    "{\"type\":\"sleep\",\"ms\":60000}]}", t);
	r = daemon_rpc_between(&d, &fd, req, t, t + slack_ms(700));
	free(req);
	jhas(r, "", "{\"ok\":false,\"results\":["
	    "{\"ok\":true,\"value\":\"fast\"},"
	    "{\"error\":{\"code\":\"timeout\"}},"
	    "{\"error\":{\"code\":\"timeout\"}}]}");
	expect_stats(r, 1, 0, 0, 2);
	cr_assert_geq(jnum(r, "elapsed_ms"), NOT_EARLY(t));
	json_decref(r);

	/*
	 * Jobs still held back by concurrency at the deadline time out too:
	 * the first of three sleeps of 0.6 t ends in time, the second would
	 * end at 1.2 t.
	 */
	req = harness_fmt("{\"timeout_ms\":%d,\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":%d},{\"type\":\"sleep\",\"ms\":%d},"
	    "{\"type\":\"sleep\",\"ms\":%d}]}", t, t * 3 / 5, t * 3 / 5,
	    t * 3 / 5);
	r = rpc_timed(fd, req, &dt);
	free(req);
	cr_assert_lt(dt, t + slack_ms(700), "replied after %.1f ms", dt);
	jhas(r, "results", "[{\"ok\":true},"
	    "{\"error\":{\"code\":\"timeout\"}},"
	    "{\"error\":{\"code\":\"timeout\"}}]");
	expect_stats(r, 1, 0, 0, 2);
	json_decref(r);

	daemon_expect_idle(&d);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, job_timeout_longer_than_the_sleep_succeeds)
{
	json_t	*r;
	int	 fd;

	/* Not waiting for the timeout. */
	r = daemon_rpc_between(&d, &fd, "{\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":100,\"timeout_ms\":1000,\"value\":\"in time\"}]}", 100,
	    100 + slack_ms(600));
	jhas(r, "", "{\"ok\":true,\"results\":[{\"value\":\"in time\"}]}");
	json_decref(r);

	/* A batch deadline that is not reached changes nothing either. */
	r = rpc(fd, "{\"timeout_ms\":2000,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":50}]}");
	jbool_is(r, "ok", true);
	expect_stats(r, 1, 0, 0, 0);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Concurrency.
 */

/*
 * Six sleeps of ROUND_MS, two at a time: three rounds. Two run and some
 * wait from the batch's start until the third round starts, so the first
 * look at status, taken as soon as it shows the batch started, has two
 * rounds (2 s) to come. With 200 ms sleeps and a usleep(100000) for a
 * start, a test late by 100 ms did not see two running, by 400 ms none
 * waiting. A round bounds how late the look may be, not how long it
 * takes the daemon to start the batch: that wait is stretched.
 */
#define ROUND_MS	1000

Test(daemon, concurrency_limits_running_jobs)
{
	json_t	*r, *st;
	double	 t0, dt;
	int	 fd, i, polls;
	bool	 done;
	char	*line;

	fd = daemon_start_client(&d, NULL);
	line = harness_fmt("{\"concurrency\":2,\"jobs\":[");
	for (i = 0; i < 6; i++)
		harness_append(&line, "%s{\"type\":\"sleep\",\"ms\":%d,"
		    "\"value\":%d}", i == 0 ? "" : ",", ROUND_MS, i);
	harness_append(&line, "]}");
	t0 = now_ms();
	client_send(fd, line);
	free(line);
	/*
	 * Watch it from another connection until it is done: never more
	 * than 2 running, and at the first look 2 running and some waiting.
	 */
	st = await_batches_started(&d, 1, slack_ms(5000));
	for (polls = 0;; polls++) {
		cr_assert_leq(jint(st, "jobs.in_flight"), 2, "%s", jtext(st));
		if (polls == 0) {
			cr_assert_eq(jint(st, "jobs.in_flight"), 2, "%s",
			    jtext(st));
			cr_assert_gt(jint(st, "jobs.waiting"), 0, "%s",
			    jtext(st));
		}
		cr_assert_eq(jint(st, "jobs.in_flight") +
		    jint(st, "jobs.waiting") + jint(st, "jobs.done"), 6,
		    "%s", jtext(st));
		done = jint(st, "jobs.done") == 6;
		json_decref(st);
		if (done)
			break;
		cr_assert_lt(now_ms() - t0, 3 * ROUND_MS + slack_ms(5000),
		    "not done after %.0f ms", now_ms() - t0);
		sleep_ms(50);
		st = status_of(&d);
	}
	line = client_recv(fd, slack_ms(5000));
	dt = now_ms() - t0;
	cr_assert_not_null(line);
	r = json_loads(line, 0, NULL);
	free(line);
	cr_assert_not_null(r);
	cr_assert_geq(dt, 3 * ROUND_MS, "6 x %d ms by 2 took only %.1f ms",
	    ROUND_MS, dt);
	cr_assert_lt(dt, 3 * ROUND_MS + slack_ms(ROUND_MS), "6 x %d ms by 2"
	    " took %.1f ms", ROUND_MS, dt);
	jbool_is(r, "ok", true);
	jeq(r, "results[5].value", "5");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* The next reply on fd within ms, asserted to be a result event. */
static json_t *
recv_event(int fd, int ms)
{
	json_t	*r = client_recv_json(fd, ms);

	jstr_is(r, "event", "result");
	return r;
}

/* With concurrency 1 the jobs run one at a time, in job order. */
Test(daemon, concurrency_one_runs_jobs_in_order)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd, i;
	static const int order[] = { 0, 1, 2 };

	fd = daemon_start_client(&d, NULL);
	t0 = now_ms();
	client_send(fd, "{\"concurrency\":1,\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300},{\"type\":\"sleep\",\"ms\":100},"
	    "{\"type\":\"sleep\",\"ms\":200}]}");
	for (i = 0; i < 3; i++) {
		r = recv_event(fd, slack_ms(5000));
		cr_assert_eq(jint(r, "index"), order[i], "%s", jtext(r));
		json_decref(r);
	}
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	jbool_is(r, "ok", true);
	cr_assert_geq(dt, 600, "took %.1f ms: not one at a time", dt);
	cr_assert_lt(dt, 600 + slack_ms(500), "took %.1f ms", dt);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Streaming.
 */

Test(daemon, stream_sends_each_result_as_it_completes)
{
	static const int	 order[] = { 1, 2, 0 };
	static const char *const values[] = { "\"a\"", "\"b\"", "\"c\"" };
	json_t			*r;
	double			 t0, dt;
	int			 fd, i;
	char			 path[64];

	fd = daemon_start_client(&d, NULL);
	t0 = now_ms();
	client_send(fd, "{\"id\":[\"s\"],\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":\"a\"},"
	    "{\"type\":\"sleep\",\"ms\":100,\"value\":\"b\"},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":\"c\"}]}");
	for (i = 0; i < 3; i++) {
		r = recv_event(fd, slack_ms(5000));
		dt = now_ms() - t0;
		jeq(r, "id", "[\"s\"]");
		cr_assert_eq(jint(r, "index"), order[i], "event %d: %s", i,
		    jtext(r));
		jbool_is(r, "result.ok", true);
		jeq(r, "result.value", values[order[i]]);
		cr_assert_geq(jnum(r, "result.ms"), NOT_EARLY(100 * (i + 1)),
		    "returned early: %s", jtext(r));
		cr_assert(jget(r, "results") == NULL, "%s", jtext(r));
		/* Sent the moment it is known, not held for the end. */
		cr_assert_lt(dt, 100 * (i + 1) + slack_ms(150),
		    "event %d came after %.1f ms", i, dt);
		json_decref(r);
	}
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", "[\"s\"]");
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jbool_is(r, "ok", true);
	cr_assert_eq(json_array_size(jget(r, "results")), 3);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "results[%d].value", i);
		jeq(r, path, values[i]);
	}
	json_decref(r);
	expect_silence(fd, 100);

	/* Without stream, no events. */
	r = rpc(fd, "{\"id\":2,\"stream\":false,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":10},{\"type\":\"sleep\",\"ms\":0}]}");
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jeq(r, "id", "2");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Failed and cancelled jobs are streamed too, and an empty batch sends none. */
Test(daemon, stream_reports_failures_and_cancellations)
{
	json_t	*r;
	int	 fd, i, seen[2] = { 0, 0 };

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"stream\":true,\"mode\":\"fail_fast\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":20}]}");
	for (i = 0; i < 2; i++) {
		r = recv_event(fd, slack_ms(2000));
		jbool_is(r, "result.ok", false);
		cr_assert(jint(r, "index") == 0 || jint(r, "index") == 1);
		seen[jint(r, "index")]++;
		jstr_is(r, "result.error.code",
		    jint(r, "index") == 1 ? "timeout" : "cancelled");
		json_decref(r);
	}
	cr_assert(seen[0] == 1 && seen[1] == 1);
	r = client_recv_json(fd, slack_ms(2000));
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jbool_is(r, "ok", false);
	json_decref(r);

	r = rpc(fd, "{\"id\":1,\"stream\":true,\"jobs\":[]}");
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jbool_is(r, "ok", true);
	json_decref(r);
	expect_silence(fd, 100);
	close(fd);
	daemon_stop(&d);
}
