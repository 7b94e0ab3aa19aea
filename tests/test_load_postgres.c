/*
 * PostgreSQL dies under running queries, again and again; the jobs fail
 * promptly and service resumes without help.
 *
 * Load and fault tests: real gatherd processes under what the protocol
 * suites do once, done at scale and all at once. Each checks that the
 * daemon keeps serving others, loses no reply, returns to idle and exits
 * 0 (under valgrind, in scripts/test, that it leaked nothing either).
 * Clients that must be many are non-blocking sockets driven by epoll or
 * poll from this one process, not threads; figures are printed on stderr
 * as "load: ...". Under a slow wrapper (valgrind, ASan) sizes shrink
 * (load_scale), upper bounds, latencies and waits are stretched
 * (slack_ms), and RSS bounds are skipped; the behaviour checked is the
 * same. A test that keeps the CPUs busy for seconds takes the CPU lock
 * shared, one that measures latency takes it alone. The load suites share
 * the suite name load.
 */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "loadtest.h"
#include "pgtest.h"

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(load, 240);

/*
 * PostgreSQL dies under running queries, again and again: stopped as if
 * it crashed (pg_ctl stop -m immediate, so no clean goodbye on any
 * connection) and restarted, or one of its server processes killed with
 * SIGKILL (the postmaster then ends every other one and recovers by
 * itself). Each time the running jobs fail promptly with db_error, the
 * daemon keeps answering, and service resumes without any help. A clean
 * stop (pg_ctl -m fast) is test_postgres_faults's
 * server_stopped_mid_batch_then_back.
 */

#define PG_CYCLES	4
#define PG_POOL		4

/* Until a query works again: how long it took, in ms. */
static double
pg_await_back(void)
{
	json_t	*r;
	double	 t0 = now_ms();
	bool	 ok = false;

	while (!ok) {
		cr_assert_lt(now_ms() - t0, slack_ms(20000), "queries did not"
		    " work again");
		r = dbtest_query(&d, NULL, "select 'back'", NULL);
		if ((ok = json_is_true(jget(r, "ok"))))
			jeq(r, "results[0].value.rows", "[[\"back\"]]");
		else
			jstr_is(r, "results[0].error.code", "db_error");
		json_decref(r);
		if (!ok)
			sleep_ms(50);
	}
	return now_ms() - t0;
}

Test(load, postgres_crashes_again_and_again_and_service_resumes)
{
	json_t	*jobs, *r, *st;
	char	path[64];
	double	 t0, took, back;
	int	 cycle, fd, i;
	long	 victim;

	pgtest_new();
	pgtest_daemon(&d, PG_OPTIONS, NULL, "default", (unsigned)PG_POOL,
	    "probe", 1u, NULL);
	json_decref(dbtest_query_ok(&d, NULL, "select 1", NULL));

	for (cycle = 0; cycle < PG_CYCLES; cycle++) {
		bool	crash = cycle % 2 == 0;

		jobs = dbtest_qjobs(NULL, "select pg_sleep(5)", PG_POOL);
		json_array_append_new(jobs, json_pack("{s:s, s:i}", "type",
		    "sleep", "ms", 10));
		fd = dbtest_send(&d, jobs, "id", json_integer(cycle));
		pgtest_await_active(&d, "probe", "select pg_sleep(5)", PG_POOL,
		    slack_ms(15000));

		t0 = now_ms();
		if (crash)
			pgtest_do("crash");
		else {
			r = dbtest_query(&d, "probe", "select pid from"
			    " pg_stat_activity where query = 'select"
			    " pg_sleep(5)' limit 1", NULL);
			victim = (long)jint(r, "results[0].value.rows[0][0]");
			json_decref(r);
			cr_assert_eq(kill((pid_t)victim, SIGKILL), 0,
			    "kill %ld: %s", victim, strerror(errno));
		}
		r = client_recv_json(fd, slack_ms(5000));
		took = now_ms() - t0;
		close(fd);
		jeq(r, "stats.failed", "4");
		for (i = 0; i < PG_POOL; i++) {
			snprintf(path, sizeof path, "results[%d].error.code", i);
			jstr_is(r, path, "db_error");
		}
		jbool_is(r, "results[4].ok", true);
		json_decref(r);
		cr_assert_lt(took, slack_ms(2000), "cycle %d: answered %.0f ms"
		    " after the server %s", cycle, took,
		    crash ? "crashed" : "lost a process");

		/* Down: the daemon answers, queries fail, nothing hangs. */
		r = daemon_request(&d, "{\"op\":\"ping\"}");
		jbool_is(r, "pong", true);
		json_decref(r);
		if (crash) {
			t0 = now_ms();
			free(dbtest_query_fails(&d, NULL, "select 1", NULL,
			    "db_error"));
			cr_assert_lt(now_ms() - t0, slack_ms(6000), "a query on"
			    " a crashed server took %.0f ms", now_ms() - t0);
			pgtest_do("start-again");
		}
		back = pg_await_back();
		fprintf(stderr, "load: postgres cycle %d (%s): the batch failed"
		    " %.0f ms after, queries worked again %.0f ms after %s\n",
		    cycle, crash ? "crash, restart" : "a server process"
		    " killed", took, back, crash ? "the restart" : "that");

		/* The whole pool again: four at once. */
		jobs = dbtest_qjobs(NULL, "select pg_sleep(0.1)", PG_POOL);
		r = dbtest_run_batch(&d, jobs);
		jbool_is(r, "ok", true);
		json_decref(r);
		r = dbtest_request(&d, "{\"op\":\"status\"}");
		st = jget(r, "status");
		jeq(st, "jobs.in_flight", "0");
		jeq(st, "batches.in_flight", "0");
		json_decref(r);
	}
	daemon_stop(&d);
}
