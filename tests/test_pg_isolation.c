/*
 * PostgreSQL sessions cannot outlive a job, and cancelled queries stop on
 * the server: a real gatherd and a real cluster (tests/pg-server), its
 * pg_stat_activity as the witness. Pools of one connection make the next
 * job run on the connection the previous one used (pg_backend_pid()
 * shows it is the same connection, reset rather than reopened); a second
 * database section on the same cluster, "probe", watches from outside.
 *
 * Without PostgreSQL installed, every test is skipped with a loud message.
 */

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
#include "pgtest.h"

#define PROMPT_MS	1000

/* Statements of ours running in the server, and backends of a pool. */
#define ACTIVE_SLEEPS \
	"select count(*) from pg_stat_activity where state = 'active'" \
	" and query like 'select pg_sleep(600)%'"
#define BACKENDS_OF(app) \
	"select count(*) from pg_stat_activity where application_name = '" \
	app "'"

static struct daemon	d;

HARNESS_SUITE(pg_isolation, 180);

/* A cluster and a daemon with "one" (pool), "probe" (1) and extra conf. */
static void
start(unsigned pool, const char *extra)
{

	pgtest_new();
	pgtest_daemon(&d, NULL, extra, "one", pool, "probe", 1u, NULL);
}

/* The single value sql gives on db; it must succeed. */
static json_t *
value_of(const char *db, const char *sql)
{
	json_t	*v = dbtest_query_ok(&d, db, sql, NULL), *x;

	x = json_incref(jget(v, "rows[0][0]"));
	json_decref(v);
	return x;
}

static json_int_t
int_of(const char *db, const char *sql)
{
	json_t		*x = value_of(db, sql);
	json_int_t	 n;

	cr_assert(json_is_integer(x), "%s: not an integer", sql);
	n = json_integer_value(x);
	json_decref(x);
	return n;
}

/* Assert db's first cell of sql is want (JSON text). */
static void
value_is(const char *db, const char *sql, const char *want)
{
	dbtest_expect(&d, db, sql, "rows[0][0]", want);
}

/* The pool's figures in status.databases. */
static json_t *
pool_status(const char *db)
{
	json_t	*st = daemon_status(&d, slack_ms(5000)), *p;
	char	 path[64];

	snprintf(path, sizeof path, "databases.%s", db);
	p = json_incref(jget(st, path));
	cr_assert(json_is_object(p), "no %s in %s", path, jtext(st));
	json_decref(st);
	return p;
}

/* Wait until "one" has no connection being cancelled and none busy. */
static void
await_pool_settled(void)
{
	double	 t0 = now_ms();
	json_t	*p;
	bool	 settled;

	for (;;) {
		p = pool_status("one");
		settled = jint(p, "cancelling") == 0 && jint(p, "busy") == 0;
		if (settled || now_ms() - t0 > slack_ms(5000))
			break;
		json_decref(p);
		usleep(10000);
	}
	cr_assert(settled, "not settled: %s", jtext(p));
	json_decref(p);
}

/*
 * Whatever a job does to its session is gone for the next job on the same
 * connection: settings, temp objects, prepared statements, advisory
 * locks, LISTEN, the search path.
 */

Test(pg_isolation, sessions_are_reset_between_jobs)
{
	json_int_t	pid;
	char		*msg;

	start(1, NULL);
	pid = int_of("one", "select pg_backend_pid()");

	json_decref(dbtest_query_ok(&d, "one", "set statement_timeout = 1",
	    NULL));
	value_is("one", "select current_setting('statement_timeout') ||"
	    " pg_sleep(0.05)::text", "\"0\"");

	json_decref(dbtest_query_ok(&d, "one", "create table items(id int,"
	    " name text)", NULL));
	json_decref(dbtest_query_ok(&d, "one", "insert into items values"
	    " (1, 'real')", NULL));
	json_decref(dbtest_query_ok(&d, "one", "create temp view items as"
	    " select 1 as id, 'EVIL' as name", NULL));
	value_is("one", "select name from items", "\"real\"");
	value_is("one", "select count(*) from pg_class where relpersistence"
	    " = 't'", "0");

	json_decref(dbtest_query_ok(&d, "one", "prepare p as select 1", NULL));
	msg = dbtest_query_fails(&d, "one", "execute p", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "\"p\" does not exist"), "%s", msg);
	free(msg);

	value_is("one", "select 1 from (select pg_advisory_lock(42)) l", "1");
	value_is("probe", "select pg_try_advisory_lock(42)", "true");

	json_decref(dbtest_query_ok(&d, "one", "listen news", NULL));
	value_is("one", "select count(*) from pg_listening_channels()", "0");

	json_decref(dbtest_query_ok(&d, "one", "set search_path ="
	    " pg_catalog", NULL));
	value_is("one", "show search_path", "\"\\\"$user\\\", public\"");
	json_decref(dbtest_query_ok(&d, "one", "select set_config('app.user',"
	    " 'mallory', false)", NULL));
	value_is("one", "select coalesce(current_setting('app.user', true),"
	    " '')", "\"\"");

	/* All on one connection, reset each time, never reopened. */
	cr_assert_eq(int_of("one", "select pg_backend_pid()"), pid,
	    "the connection was reopened");
	daemon_stop(&d);
}

/*
 * A cancelled or abandoned query stops on the server at once, and its
 * connection is reused: a time-out, the cancel op, a client that goes
 * away, a value over max_result_bytes, max_job_ms.
 */

Test(pg_isolation, cancelled_queries_stop_on_the_server)
{
	json_int_t	 pid;
	json_t		*jobs, *job, *r, *p;
	double		 t0, took;
	int		 fd;

	start(1, "[limits]\nmax_result_bytes = 65536\nmax_job_ms = 3000\n");
	pid = int_of("one", "select pg_backend_pid()");

	/* timeout_ms. */
	job = dbtest_qjob("one", "select pg_sleep(600)", NULL);
	json_object_set_new(job, "timeout_ms", json_integer(200));
	jobs = json_array();
	json_array_append_new(jobs, job);
	r = dbtest_run_batch(&d, jobs);
	jstr_is(r, "results[0].error.code", "timeout");
	json_decref(r);
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "0", slack_ms(2000));
	await_pool_settled();
	cr_assert_eq(int_of("one", "select pg_backend_pid()"), pid);

	/* The cancel op. */
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":\"s\",\"jobs\":[{\"type\":\"query\",\"db\":"
	    "\"one\",\"sql\":\"select pg_sleep(600)\"}]}");
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "1", slack_ms(5000));
	client_send(fd, "{\"op\":\"cancel\",\"target\":\"s\"}");
	json_decref(client_recv_json(fd, slack_ms(PROMPT_MS)));
	json_decref(client_recv_json(fd, slack_ms(PROMPT_MS)));
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "0", slack_ms(2000));

	/* A client that goes away. */
	client_send(fd, "{\"jobs\":[{\"type\":\"query\",\"db\":\"one\","
	    "\"sql\":\"select pg_sleep(600)\"}]}");
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "1", slack_ms(5000));
	close(fd);
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "0", slack_ms(2000));
	await_pool_settled();
	cr_assert_eq(int_of("one", "select pg_backend_pid()"), pid);

	/*
	 * Too large: the job ends at once, and the rest is not made (the
	 * set-returning function in the select list streams its rows).
	 */
	t0 = now_ms();
	free(dbtest_query_fails(&d, "one", "select repeat('x', 100),"
	    " generate_series(1, 100000000)", NULL, "too_large"));
	took = now_ms() - t0;
	cr_assert_lt(took, slack_ms(PROMPT_MS), "too_large after %.0f ms",
	    took);
	pgtest_await(&d, "probe", "select count(*) from pg_stat_activity"
	    " where query like '%generate_series(1, 100000000)%' and state ="
	    " 'active' and pid <> pg_backend_pid()", "0", slack_ms(2000));
	await_pool_settled();
	cr_assert_eq(int_of("one", "select pg_backend_pid()"), pid);

	/* max_job_ms. */
	t0 = now_ms();
	r = dbtest_query(&d, "one", "select pg_sleep(600)", NULL);
	took = now_ms() - t0;
	jstr_is(r, "results[0].error.code", "timeout");
	jstr_has(r, "results[0].error.message", "max_job_ms (3000 ms)");
	json_decref(r);
	cr_assert_geq(took, 2990, "max_job_ms after %.0f ms", took);
	cr_assert_lt(took, 3000 + slack_ms(2000), "max_job_ms after %.0f ms",
	    took);
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "0", slack_ms(2000));
	await_pool_settled();
	cr_assert_eq(int_of("one", "select pg_backend_pid()"), pid);

	p = pool_status("one");
	jhas(p, "", "{\"open\":1,\"pool\":1,\"up\":true}");
	json_decref(p);
	daemon_stop(&d);
}

/*
 * The figure: ten clients in turn each send two pg_sleep(600) on a
 * pool of two, wait until both run, and hang up. Closing the connection
 * would leave each query running (the server only notices the client is
 * gone when it writes), and the pool would open new connections: twenty
 * backends. Cancelled on the server, the pool's two connections serve
 * every round, and the server never sees more.
 */

Test(pg_isolation, never_more_backends_than_the_pool)
{
	json_int_t	 n, most = 0;
	json_t		*p;
	char		*line;
	double		 t0, t1;
	int		 fd, round;

	start(2, NULL);
	t0 = now_ms();
	line = dbtest_batch_line(dbtest_qjobs("one", "select pg_sleep(600)", 2),
	    NULL, NULL);
	for (round = 0; round < 10; round++) {
		fd = client_connect(d.sock);
		client_send(fd, line);
		/* Both run (on old code, beside those of earlier rounds). */
		t1 = now_ms();
		while (int_of("probe", ACTIVE_SLEEPS) < 2) {
			cr_assert_lt(now_ms() - t1, slack_ms(10000), "round %d:"
			    " the queries did not start", round);
			usleep(20000);
		}
		n = int_of("probe", BACKENDS_OF("one"));
		most = n > most ? n : most;
		close(fd);
	}
	free(line);
	fprintf(stderr, "pg_isolation: after 10 rounds of 2 x pg_sleep(600)"
	    " sent and abandoned on a pool of 2, in %.0f ms: at most %lld"
	    " backends of the pool\n", now_ms() - t0, (long long)most);
	cr_assert_leq(most, 2, "%lld backends for a pool of 2",
	    (long long)most);
	pgtest_await(&d, "probe", ACTIVE_SLEEPS, "0", slack_ms(5000));
	n = int_of("probe", BACKENDS_OF("one"));
	most = n > most ? n : most;
	fprintf(stderr, "pg_isolation: then %lld backends of the pool, none"
	    " of them running a query\n", (long long)n);
	cr_assert_leq(most, 2, "%lld backends for a pool of 2",
	    (long long)most);
	await_pool_settled();
	p = pool_status("one");
	cr_assert_leq(jint(p, "open"), 2, "%s", jtext(p));
	json_decref(p);
	daemon_stop(&d);
}
