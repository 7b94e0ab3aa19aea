/*
 * Queries on the worker threads: a locked database waited for (the test
 * process holds the lock: SQLite's locks are POSIX locks, so they work
 * across processes), thousands of queries in one batch, cached statements
 * and schema changes made by another connection.
 *
 * End-to-end: real gatherd processes running real statements on real
 * database files, which each test makes (with the sqlite3 C API, in this
 * process) in its own directory, dbtest_dir (dbtest.h). The SQLite query
 * suites share the suite name query. Timing bounds are wide and say what
 * they tell apart; upper bounds and time-outs are stretched by slack_ms(),
 * lower bounds (a locked database is waited for) never are.
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

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	1000

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(query, 120);

/*
 * A locked database: this process holds an exclusive transaction on a
 * second connection. The daemon waits busy_timeout_ms for it, then fails
 * with SQLite's "database is locked"; released in time, it succeeds.
 *
 * "default" waits LOCK_BUSY_MS. A lock released "in time" is released
 * after 100 ms, so this process has 1.4 s to wake and commit: at 300 ms it
 * once did not, in the sanitizer build on a loaded machine. "patient"
 * has the default busy timeout, PATIENT_BUSY_MS.
 */
#define LOCK_BUSY_MS	1500
#define PATIENT_BUSY_MS	5000

#define LOCK_CONF \
	"threads = 2\n" \
	"[db.default]\ndriver = sqlite\npath = %%D/main.db\n" \
	"busy_timeout_ms = %d\n" \
	"[db.patient]\ndriver = sqlite\npath = %%D/main.db\n"

/* main.db, with one row, and a daemon on LOCK_CONF with a connection to it. */
static void
start_lock_daemon(void)
{
	char	*conf = harness_fmt(LOCK_CONF, LOCK_BUSY_MS);

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	dbtest_start(&d, conf);
	free(conf);
	/* Warm up: the workers' connections exist before the lock. */
	json_decref(dbtest_query_ok(&d, NULL, "select x from t", NULL));
}

/* Assert took is a wait of LOCK_BUSY_MS (the clock's 5% aside) and no more. */
static void
expect_gave_up(json_t *r, double took)
{
	jstr_is(r, "results[0].error.code", "db_error");
	jstr_has(r, "results[0].error.message", "database is locked");
	cr_assert_geq(took, LOCK_BUSY_MS * 0.95, "gave up after %.0f ms,"
	    " before the %d ms busy timeout", took, LOCK_BUSY_MS);
	/*
	 * Not stretched: it tells the two timeouts apart, and "patient"'s
	 * naps alone would take PATIENT_BUSY_MS; 3.5 s is left for the query.
	 */
	cr_assert_lt(took, PATIENT_BUSY_MS, "waited %.0f ms for a %d ms busy"
	    " timeout, as long as \"patient\" would", took, LOCK_BUSY_MS);
}

Test(query, locked_database_waits_busy_timeout_then_fails)
{
	sqlite3	*lock;
	json_t	*r;
	double	 t0, took;

	start_lock_daemon();
	lock = dbtest_open("main.db");
	dbtest_exec(lock, "begin exclusive; insert into t values (2)");
	t0 = now_ms();
	r = dbtest_query(&d, NULL, "select count(*) from t", NULL);
	took = now_ms() - t0;
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);

	expect_gave_up(r, took);
	fprintf(stderr, "query: a locked database (busy_timeout_ms = %d)"
	    " failed after %.0f ms\n", LOCK_BUSY_MS, took);
	json_decref(r);

	/* The lock gone, the same statement works and sees no row 2. */
	r = dbtest_query(&d, NULL, "select count(*) from t", NULL);
	jeq(r, "results[0].value.rows", "[[1]]");
	json_decref(r);
	daemon_ping(&d, slack_ms(PROMPT_MS));
	daemon_stop(&d);
}

/*
 * Hold the database of lock exclusively (a transaction inserting value),
 * send line on a fresh connection, commit after hold_ms; return the reply
 * (within timeout_ms), and in *took the time from sending to it.
 */
static json_t *
run_while_locked(sqlite3 *lock, const char *line, int value, int hold_ms,
    int timeout_ms, double *took)
{
	char	*sql = harness_fmt("begin exclusive; insert into t values (%d)",
		    value);
	double	 t0;
	json_t	*r;
	int	 fd;

	dbtest_exec(lock, sql);
	free(sql);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, line);
	usleep((useconds_t)hold_ms * 1000);
	dbtest_exec(lock, "commit");
	r = client_recv_json(fd, timeout_ms);
	*took = now_ms() - t0;
	close(fd);
	return r;
}

/*
 * run_while_locked a count(*) of t, which inserts row value; assert the
 * query waited for the lock (the clock's 5% aside) and then counted it.
 */
static void
expect_waits_for_lock(sqlite3 *lock, const char *line, int value,
    int hold_ms, int timeout_ms)
{
	json_t	*r;
	char	*rows = harness_fmt("[[%d]]", value);
	double	 took;

	r = run_while_locked(lock, line, value, hold_ms, timeout_ms, &took);
	jbool_is(r, "ok", true);
	jeq(r, "results[0].value.rows", rows);
	cr_assert_geq(took, hold_ms * 0.95, "answered after %.0f ms, before"
	    " the lock was released", took);
	json_decref(r);
	free(rows);
}

Test(query, locked_database_released_in_time_succeeds)
{
	sqlite3	*lock;
	json_t	*r, *jobs;
	char	*line, *patient;
	double	 t0, took;

	start_lock_daemon();
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select count(*) from t", NULL));
	line = dbtest_batch_line(jobs, NULL, NULL);
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob("patient", "select count(*) from t",
	    NULL));
	patient = dbtest_batch_line(jobs, NULL, NULL);

	/* Released after 100 ms, well inside the busy timeout. */
	lock = dbtest_open("main.db");
	expect_waits_for_lock(lock, line, 2, 100, slack_ms(5000));

	/* "patient" waits PATIENT_BUSY_MS: a lock held a second is waited for. */
	expect_waits_for_lock(lock, patient, 3, 1000, slack_ms(10000));

	/*
	 * "default" is the same file, so the same worker connections, but
	 * its own timeout applies again: it gives up while a lock is still
	 * held.
	 */
	dbtest_exec(lock, "begin exclusive; insert into t values (4)");
	t0 = now_ms();
	r = dbtest_request(&d, line);
	took = now_ms() - t0;
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);
	expect_gave_up(r, took);
	json_decref(r);
	free(line);
	free(patient);
	daemon_stop(&d);
}

/*
 * Throughput: 5,000 small queries in one batch, on 4 workers, each
 * answered with its own parameter.
 */

Test(query, five_thousand_queries_in_one_batch)
{
	json_t	*jobs, *r;
	char	 path[64];
	double	 took;
	int	 i, n = 5000;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, DBTEST_MAIN_CONF);
	jobs = dbtest_qjobs_numbered(NULL, "select ?1 + 1", n);
	r = dbtest_run_timed(&d, jobs, &took);
	jbool_is(r, "ok", true);
	cr_assert_eq(json_array_size(jget(r, "results")), (size_t)n);
	cr_assert_eq(jint(r, "stats.ok"), n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "results[%d].value.rows[0][0]", i);
		cr_assert_eq(jint(r, path), i + 1, "result %d: %s", i,
		    jtext(jget(r, "results")));
	}
	fprintf(stderr, "query: 5000 SQLite queries in one batch, threads = 4:"
	    " %.0f ms round trip, elapsed_ms %.1f\n", took,
	    jnum(r, "elapsed_ms"));
	cr_assert_lt(took, slack_ms(10000), "5000 queries took %.0f ms", took);
	json_decref(r);
	dbtest_settles(&d, slack_ms(2000), "after 5000 queries");
	daemon_stop(&d);
}

/*
 * The prepared-statement cache: a statement reused many times binds its
 * new parameters and sees the database as it is now, and more distinct
 * statements than the cache holds all stay correct.
 */

Test(query, cached_statements_give_fresh_results)
{
	json_t	*v;
	char	 p[64], sql[64];
	int	 i, rounds = harness_slowed() ? 20 : 100;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer)");
	/* One worker: every statement goes through the same cache. */
	dbtest_start(&d, "threads = 1\n"
	    "[db.default]\ndriver = sqlite\npath = %D/main.db\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");

	for (i = 1; i <= rounds; i++) {
		snprintf(p, sizeof p, "[%d]", i);
		json_decref(dbtest_query_ok(&d, "rw", "insert into t values (?1)", p));
		/* The count, through a read-only connection, is current. */
		v = dbtest_query_ok(&d, NULL, "select count(*), max(x) from t", NULL);
		cr_assert_eq(jint(v, "rows[0][0]"), i, "round %d: %s", i,
		    jtext(v));
		cr_assert_eq(jint(v, "rows[0][1]"), i, "round %d: %s", i,
		    jtext(v));
		json_decref(v);
		/* The same parameterised statement, fresh bindings. */
		snprintf(p, sizeof p, "[%d,\"s%d\"]", i * 3, i);
		v = dbtest_query_ok(&d, NULL, "select ?1, ?2", p);
		cr_assert_eq(jint(v, "rows[0][0]"), i * 3);
		snprintf(sql, sizeof sql, "s%d", i);
		jstr_is(v, "rows[0][1]", sql);
		json_decref(v);
		/* A NULL after values: not the previous binding. */
		v = dbtest_query_ok(&d, NULL, "select ?1, ?2", "[null,null]");
		jeq(v, "rows", "[[null,null]]");
		json_decref(v);
	}
	/* More distinct statements than the cache holds, twice over. */
	for (i = 0; i < 80; i++) {
		snprintf(sql, sizeof sql, "select %d + ?1", i);
		v = dbtest_query_ok(&d, NULL, sql, "[1000]");
		cr_assert_eq(jint(v, "rows[0][0]"), 1000 + i, "%s", sql);
		json_decref(v);
	}
	for (i = 79; i >= 0; i--) {
		snprintf(sql, sizeof sql, "select %d + ?1", i);
		v = dbtest_query_ok(&d, NULL, sql, "[2000]");
		cr_assert_eq(jint(v, "rows[0][0]"), 2000 + i, "%s", sql);
		json_decref(v);
	}
	v = dbtest_query_ok(&d, NULL, "select count(*), max(x) from t", NULL);
	cr_assert_eq(jint(v, "rows[0][0]"), rounds);
	json_decref(v);
	daemon_stop(&d);
}

/*
 * Another connection changes the schema under a worker's connection
 * (here the writable one, on the same worker; another process would do
 * the same): SQLite re-prepares the statement on its first step, so
 * "select *" gains the new column. The columns must be read after that
 * step, not from the statement as first prepared.
 */

Test(query, schema_changed_by_another_connection_is_seen)
{
	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer); insert into t values (1)");
	dbtest_start(&d, "threads = 1\n"
	    "[db.default]\ndriver = sqlite\npath = %D/main.db\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");

	/* The read-only connection has loaded the schema, and cached this. */
	dbtest_expect(&d, NULL, "select * from t", "columns", "[\"x\"]");
	json_decref(dbtest_query_ok(&d, "rw", "alter table t add column y default 'y'",
	    NULL));
	/* A new statement, prepared against the old schema in memory. */
	dbtest_expect_keys(&d, NULL, "select * from t limit 1", NULL,
	    "{\"columns\":[\"x\",\"y\"],\"rows\":[[1,\"y\"]]}");
	/* The cached one. */
	dbtest_expect_keys(&d, NULL, "select * from t", NULL,
	    "{\"columns\":[\"x\",\"y\"],\"rows\":[[1,\"y\"]]}");
	/* A column dropped: no phantom column of nulls. */
	json_decref(dbtest_query_ok(&d, "rw", "alter table t drop column x", NULL));
	dbtest_expect_keys(&d, NULL, "select * from t", NULL,
	    "{\"columns\":[\"y\"],\"rows\":[[\"y\"]]}");
	daemon_stop(&d);
}
