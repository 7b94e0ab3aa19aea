/*
 * End-to-end tests of the query job on SQLite: real gatherd processes
 * running real statements on real database files, which each test makes
 * (with the sqlite3 C API, in this process) in its own temporary
 * directory, dbtest_dir (dbtest.h), removed by the suite's teardown together with
 * the daemon's own directory.
 *
 * The test process also holds locks on those files (a second connection
 * in BEGIN EXCLUSIVE) to show how the daemon's workers wait for a busy
 * database: SQLite's locks are POSIX locks, so they work across the two
 * processes.
 *
 * Timing assertions use wide bounds and say what they tell apart. Under
 * GATHERD_TEST_WRAPPER (valgrind) upper bounds and time-outs are
 * stretched by harness_slack() through slack_ms(); lower bounds (a
 * locked database is waited for) never are. The slow query that the
 * time-out tests abandon is made shorter there, since a worker runs it to
 * its end and the daemon cannot stop before that worker returns.
 */

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static bool
wrapped(void)
{
	return harness_slack() > 1.0;
}

static void
suite_init(void)
{
	dbtest_suite_init();
}

static void
suite_fini(void)
{
	dbtest_suite_fini(&d);
}

TestSuite(query, .init = suite_init, .fini = suite_fini, .timeout = 120);

/*
 * Assert r refuses the whole batch with code and a message holding
 * path: no results, so no job ran.
 */
static void
expect_refused(json_t *r, const char *code, const char *path)
{
	jbool_is(r, "ok", false);
	jstr_is(r, "error.code", code);
	jstr_has(r, "error.message", path);
	cr_assert_null(jget(r, "results"), "a refused batch has no results:"
	    " %s", jtext(r));
}

/* The daemon's status object. Caller decrefs. */
static json_t *
status_of(void)
{
	return daemon_status(&d, slack_ms(DBTEST_REQUEST_MS));
}

/* Assert the daemon answers a ping at once. */
static void
expect_ping(void)
{
	daemon_ping(&d, slack_ms(PROMPT_MS));
}

/*
 * Poll status until no job or batch is in flight and the pool has
 * nothing queued or busy; assert it takes < within_ms. Returns the time
 * it took.
 */
static double
expect_settles(double within_ms, const char *what)
{
	double	 t0 = now_ms();
	json_t	*st;

	for (;;) {
		st = status_of();
		if (jint(st, "jobs.in_flight") == 0 &&
		    jint(st, "jobs.waiting") == 0 &&
		    jint(st, "batches.in_flight") == 0 &&
		    jint(st, "pool.queued") == 0 &&
		    jint(st, "pool.busy") == 0)
			break;
		cr_assert_lt(now_ms() - t0, within_ms, "%s: not settled after"
		    " %.0f ms: %s", what, now_ms() - t0, jtext(st));
		json_decref(st);
		usleep(5000);
	}
	json_decref(st);
	return now_ms() - t0;
}

/* A sample database: main.db, read-only to the daemon, as "default". */
#define MAIN_CONF \
	"threads = 4\n" \
	"[db.default]\ndriver = sqlite\npath = %D/main.db\n" \
	"[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n"

/*
 * Parameters in: every JSON scalar, bound in order, read back with its
 * SQLite type.
 */

Test(query, params_of_every_json_scalar_type)
{
	json_t	*v;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	/* null is NULL. */
	v = dbtest_query_ok(&d, NULL, "select ?1 is null, typeof(?1)", "[null]");
	jeq(v, "rows", "[[1,\"null\"]]");
	json_decref(v);

	/* true and false are the integers 1 and 0. */
	v = dbtest_query_ok(&d, NULL, "select ?1, typeof(?1), ?2, typeof(?2)",
	    "[true,false]");
	jeq(v, "rows", "[[1,\"integer\",0,\"integer\"]]");
	json_decref(v);

	/* Integers stay exact, beyond 2^53 and at the ends of int64. */
	v = dbtest_query_ok(&d, NULL, "select ?1, ?2, ?3, ?4, ?5, typeof(?1), ?1 - 1",
	    "[9007199254740993,-9007199254740993,-42,"
	    "9223372036854775807,-9223372036854775808]");
	cr_assert_eq(jint(v, "rows[0][0]"), 9007199254740993LL);
	cr_assert_eq(jint(v, "rows[0][1]"), -9007199254740993LL);
	cr_assert_eq(jint(v, "rows[0][2]"), -42);
	cr_assert_eq(jint(v, "rows[0][3]"), INT64_MAX);
	cr_assert_eq(jint(v, "rows[0][4]"), INT64_MIN);
	jstr_is(v, "rows[0][5]", "integer");
	/* Arithmetic in SQLite on the bound value is exact too. */
	cr_assert_eq(jint(v, "rows[0][6]"), 9007199254740992LL);
	json_decref(v);

	/* Reals are bound as reals and come back as JSON reals. */
	v = dbtest_query_ok(&d, NULL, "select ?1, typeof(?1), ?2, ?3, ?4, ?1 * 2",
	    "[1.5,-0.1,1e300,3.0]");
	cr_assert(json_is_real(jget(v, "rows[0][0]")), "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][0]"), 1.5);
	jstr_is(v, "rows[0][1]", "real");
	cr_assert_eq(jnum(v, "rows[0][2]"), -0.1);
	cr_assert_eq(jnum(v, "rows[0][3]"), 1e300);
	/* 3.0 is a real, not the integer 3, on the way in and out. */
	cr_assert(json_is_real(jget(v, "rows[0][4]")), "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][4]"), 3.0);
	cr_assert_eq(jnum(v, "rows[0][5]"), 3.0);
	json_decref(v);

	/* Strings are UTF-8 text: SQLite counts characters, not bytes. */
	v = dbtest_query_ok(&d, NULL, "select ?1, typeof(?1), length(?1), ?2, length(?2),"
	    " ?3, ?4", "[\"h\\u00e9llo \\u4e16\\u754c \\ud83c\\udf89\","
	    "\"\",\"quote \\\" backslash \\\\ tab \\t nl \\n\","
	    "\"1\"]");
	jstr_is(v, "rows[0][0]", "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c"
	    " \xf0\x9f\x8e\x89");
	jstr_is(v, "rows[0][1]", "text");
	cr_assert_eq(jint(v, "rows[0][2]"), 10, "%s", jtext(v));
	jstr_is(v, "rows[0][3]", "");
	cr_assert_eq(jint(v, "rows[0][4]"), 0);
	jstr_is(v, "rows[0][5]", "quote \" backslash \\ tab \t nl \n");
	/* "1" stays a string: no type guessing. */
	jstr_is(v, "rows[0][6]", "1");
	json_decref(v);

	/* Bound in order: ?1 is the first, ?2 the second, and so on. */
	v = dbtest_query_ok(&d, NULL, "select ?3 || ?1 || ?2", "[\"b\",\"c\",\"a\"]");
	jeq(v, "rows", "[[\"abc\"]]");
	json_decref(v);

	/* Parameters reach a table through the writable database, too. */
	v = dbtest_query_ok(&d, "rw", "insert into t values (?1), (?2), (?3), (?4), (?5)",
	    "[null,true,123,2.5,\"s\"]");
	jeq(v, "changes", "5");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select x, typeof(x) from t order by rowid", NULL);
	jeq(v, "rows", "[[null,\"null\"],[1,\"integer\"],[123,\"integer\"],"
	    "[2.5,\"real\"],[\"s\",\"text\"]]");
	json_decref(v);
	/* Named and numbered parameters count as the statement numbers them. */
	v = dbtest_query_ok(&d, NULL, "select :a, :b, :a", "[7,8]");
	jeq(v, "rows", "[[7,8,7]]");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * Values out: every storage class, exactly as the protocol says, with the
 * column names as the statement gives them.
 */

Test(query, every_type_out_and_column_names)
{
	static const unsigned char	 blob[] = { 0x00, 0x01, 0xfe, 0xff, 'a',
	    0x00, 0x80, '=', 0x7f };
	static const char		 bad_utf8[] = "ok\xff\xfe then \xc3";
	sqlite3				*db;
	sqlite3_stmt			*st;
	json_t				*v;
	char				*msg;

	dbtest_files_init();
	db = dbtest_open("main.db");
	dbtest_exec(db, "create table t(id integer primary key, i, r, s, n, b, u)");
	/* Another program may name a column in bytes that are not UTF-8. */
	dbtest_exec(db, "create table w(\"ok\", \"b\xe9te\"); insert into w"
	    " values (1, 2)");
	cr_assert_eq(sqlite3_prepare_v2(db, "insert into t(id, i, r, s, n, b,"
	    " u) values (1, ?, ?, ?, null, ?, ?)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, 9007199254740993LL);
	sqlite3_bind_double(st, 2, 0.1);
	sqlite3_bind_text(st, 3, "caf\xc3\xa9 \xe2\x82\xac", -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, blob, sizeof blob, SQLITE_STATIC);
	/* SQLite stores text as given: not valid UTF-8 here. */
	sqlite3_bind_text(st, 5, bad_utf8, (int)strlen(bad_utf8),
	    SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	dbtest_exec(db, "insert into t(id, i, r, s, n, b, u) values (2, -1, 1e-300,"
	    " '', null, x'', 'plain'); insert into t(id) values (3)");
	sqlite3_close(db);
	dbtest_start(&d, MAIN_CONF);

	v = dbtest_query_ok(&d, NULL, "select i, r, s, n, b, cast(u as blob),"
	    " typeof(u) from t where id = 1", NULL);
	jeq(v, "columns", "[\"i\",\"r\",\"s\",\"n\",\"b\",\"cast(u as blob)\","
	    "\"typeof(u)\"]");
	cr_assert_eq(json_array_size(jget(v, "rows")), 1, "%s", jtext(v));
	cr_assert_eq(jint(v, "rows[0][0]"), 9007199254740993LL, "%s", jtext(v));
	cr_assert(json_is_real(jget(v, "rows[0][1]")), "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][1]"), 0.1, "%s", jtext(v));
	jstr_is(v, "rows[0][2]", "caf\xc3\xa9 \xe2\x82\xac");
	cr_assert(json_is_null(jget(v, "rows[0][3]")), "%s", jtext(v));
	jb64_is(v, "rows[0][4]", blob, sizeof blob);
	/* Text that is not UTF-8, asked for as bytes, is their base64. */
	jb64_is(v, "rows[0][5]", bad_utf8, strlen(bad_utf8));
	jstr_is(v, "rows[0][6]", "text");
	jeq(v, "changes", "0");
	json_decref(v);
	/* As text it is bad_encoding, naming the cell: not a string. */
	msg = dbtest_query_fails(&d, NULL, "select id, u from t order by id desc",
	    NULL, "bad_encoding");
	cr_assert_not_null(strstr(msg, "rows[2][1]: not valid UTF-8 at byte"
	    " 2"), "%s", msg);
	free(msg);
	/* So is a column's name; the other columns of the table are fine. */
	msg = dbtest_query_fails(&d, NULL, "select * from w", NULL,
	    "bad_encoding");
	cr_assert_not_null(strstr(msg, "columns[1]: not valid UTF-8 at byte"
	    " 1; name the column with AS"), "%s", msg);
	free(msg);
	v = dbtest_query_ok(&d, NULL, "select ok, 3 as b from w", NULL);
	jeq(v, "columns", "[\"ok\",\"b\"]");
	jeq(v, "rows", "[[1,3]]");
	json_decref(v);

	/* The edges: a negative integer, a tiny real, empty text and blob. */
	v = dbtest_query_ok(&d, NULL, "select i, r, s, n, b, u from t where id = 2", NULL);
	cr_assert_eq(jint(v, "rows[0][0]"), -1);
	cr_assert_eq(jnum(v, "rows[0][1]"), 1e-300, "%s", jtext(v));
	jstr_is(v, "rows[0][2]", "");
	cr_assert(json_is_null(jget(v, "rows[0][3]")));
	jstr_is(v, "rows[0][4]", "");
	jstr_is(v, "rows[0][5]", "plain");
	json_decref(v);

	/* A row of NULLs, and several rows in order. */
	v = dbtest_query_ok(&d, NULL, "select i, r, s, b from t where id = 3", NULL);
	jeq(v, "rows", "[[null,null,null,null]]");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select id from t order by id desc", NULL);
	jeq(v, "rows", "[[3],[2],[1]]");
	json_decref(v);

	/* Expressions: integer and real results stay apart. */
	v = dbtest_query_ok(&d, NULL, "select 7 / 2, 7 / 2.0, 2.0 * 3, 1e20, -0.0,"
	    " cast(9007199254740993 as text), x'00ff'", NULL);
	jeq(v, "rows[0][0]", "3");
	cr_assert(json_is_integer(jget(v, "rows[0][0]")), "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][1]"), 3.5);
	cr_assert(json_is_real(jget(v, "rows[0][2]")), "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][2]"), 6.0);
	cr_assert(json_is_real(jget(v, "rows[0][3]")), "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][3]"), 1e20);
	cr_assert(json_is_real(jget(v, "rows[0][4]")), "%s", jtext(v));
	jstr_is(v, "rows[0][5]", "9007199254740993");
	jb64_is(v, "rows[0][6]", "\x00\xff", 2);
	json_decref(v);

	/* Column names: aliases, quoted names with spaces, unicode. */
	v = dbtest_query_ok(&d, NULL, "select 1 as a, 2 as \"b c\", 3 as \"\xc3\xa9t\xc3\xa9\","
	    " id, t.i as \"t.i\", count(*) over () from t limit 1", NULL);
	jeq(v, "columns", "[\"a\",\"b c\",\"\\u00e9t\\u00e9\",\"id\",\"t.i\","
	    "\"count(*) over ()\"]");
	json_decref(v);

	/* No rows: the columns are still named. */
	v = dbtest_query_ok(&d, NULL, "select id, s from t where 0", NULL);
	jeq(v, "columns", "[\"id\",\"s\"]");
	jeq(v, "rows", "[]");
	jeq(v, "changes", "0");
	json_decref(v);

	/* A statement without a result: no columns, no rows. */
	v = dbtest_query_ok(&d, "rw", "update t set n = 1 where id = 3", NULL);
	jeq(v, "columns", "[]");
	jeq(v, "rows", "[]");
	jeq(v, "changes", "1");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * changes: the rows this statement inserted, updated or deleted, never an
 * earlier statement's count.
 */

Test(query, changes_counts_this_statement_only)
{
	json_t	*v;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer)");
	/* One worker, one connection: an earlier count would be at hand. */
	dbtest_start(&d, "threads = 1\n"
	    "[db.default]\ndriver = sqlite\npath = %D/main.db\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");

	v = dbtest_query_ok(&d, "rw", "insert into t values (1), (2), (3)", NULL);
	jeq(v, "changes", "3");
	json_decref(v);
	/* sqlite3_changes() would still say 3 here. */
	v = dbtest_query_ok(&d, "rw", "create table u(y)", NULL);
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, "rw", "insert into t select x + 10 from t", NULL);
	jeq(v, "changes", "3");
	json_decref(v);
	v = dbtest_query_ok(&d, "rw", "update t set x = x * 2 where x > 10", NULL);
	jeq(v, "changes", "3");
	json_decref(v);
	v = dbtest_query_ok(&d, "rw", "update t set x = 0 where x > 1000", NULL);
	jeq(v, "changes", "0");
	json_decref(v);
	/* A select after writes changes nothing. */
	v = dbtest_query_ok(&d, "rw", "select count(*) from t", NULL);
	jeq(v, "rows", "[[6]]");
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, "rw", "delete from t where x < 3", NULL);
	jeq(v, "changes", "2");
	json_decref(v);
	/* RETURNING: rows and changes both. */
	v = dbtest_query_ok(&d, "rw", "insert into t values (?1), (?2) returning x",
	    "[100,200]");
	jeq(v, "columns", "[\"x\"]");
	jeq(v, "rows", "[[100],[200]]");
	jeq(v, "changes", "2");
	json_decref(v);
	v = dbtest_query_ok(&d, "rw", "delete from t", NULL);
	jeq(v, "changes", "6");
	json_decref(v);
	v = dbtest_query_ok(&d, "rw", "drop table u", NULL);
	jeq(v, "changes", "0");
	json_decref(v);
	/* What the daemon wrote is in the file. */
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 0);
	daemon_stop(&d);
}

/*
 * Concurrent writes from every worker (each has its own connection) wait
 * for one another through the busy timeout: none is lost.
 */

Test(query, concurrent_writes_all_land)
{
	json_t	*jobs, *r;
	char	 p[32];
	int	 i, n = wrapped() ? 40 : 200;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer)");
	dbtest_start(&d, MAIN_CONF);
	jobs = json_array();
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof p, "[%d]", i);
		json_array_append_new(jobs, dbtest_qjob("rw",
		    "insert into t values (?1)", p));
	}
	r = dbtest_run_batch(&d, jobs);
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.ok"), n, "%s", jtext(r));
	json_decref(r);
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), n);
	cr_assert_eq(dbtest_int("main.db", "select sum(x) from t"),
	    (sqlite3_int64)n * (n - 1) / 2);
	daemon_stop(&d);
}

/*
 * Read-only unless writable: the connection itself refuses to write.
 */

Test(query, read_only_database_refuses_writes)
{
	json_t	*v;
	char	*msg;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	dbtest_start(&d, MAIN_CONF
	    "[db.ro]\ndriver = sqlite\npath = %D/main.db\nwritable = false\n");

	msg = dbtest_query_fails(&d, NULL, "insert into t values (2)", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "readonly"), "message: %s", msg);
	free(msg);
	msg = dbtest_query_fails(&d, "ro", "update t set x = 5", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "readonly"), "message: %s", msg);
	free(msg);
	msg = dbtest_query_fails(&d, "ro", "create table u(y)", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "readonly"), "message: %s", msg);
	free(msg);
	/* Nothing changed, and reads still work. */
	v = dbtest_query_ok(&d, "ro", "select x from t", NULL);
	jeq(v, "rows", "[[1]]");
	json_decref(v);
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 1);
	/* The writable one, on the same file, may write. */
	v = dbtest_query_ok(&d, "rw", "insert into t values (2)", NULL);
	jeq(v, "changes", "1");
	json_decref(v);
	/* And a read-only worker connection sees what it wrote. */
	v = dbtest_query_ok(&d, "ro", "select count(*) from t", NULL);
	jeq(v, "rows", "[[2]]");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * A writable database that does not exist yet is created on first use;
 * a read-only one that does not exist is an error, and is not created.
 */

Test(query, missing_database_created_only_if_writable)
{
	struct stat	 sb;
	json_t		*v;
	char		*msg;

	dbtest_files_init();
	dbtest_start(&d, "[db.new]\ndriver = sqlite\npath = %D/new.db\nwritable = true\n"
	    "[db.gone]\ndriver = sqlite\npath = %D/gone.db\n");

	cr_assert_eq(stat(dbtest_path("new.db"), &sb), -1, "created too early");
	v = dbtest_query_ok(&d, "new", "create table t(x)", NULL);
	jeq(v, "changes", "0");
	json_decref(v);
	cr_assert_eq(stat(dbtest_path("new.db"), &sb), 0, "new.db not created");
	v = dbtest_query_ok(&d, "new", "insert into t values (1), (2)", NULL);
	jeq(v, "changes", "2");
	json_decref(v);
	cr_assert_eq(dbtest_int("new.db", "select count(*) from t"), 2);

	msg = dbtest_query_fails(&d, "gone", "select 1", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "gone"), "message names the database:"
	    " %s", msg);
	free(msg);
	cr_assert_eq(stat(dbtest_path("gone.db"), &sb), -1, "gone.db was created");
	expect_ping();
	daemon_stop(&d);
}

/*
 * SQL that does not prepare is the job's db_error, with SQLite's own
 * message; the other jobs of the batch are not affected.
 */

Test(query, bad_sql_is_db_error_with_sqlite_message)
{
	json_t	*jobs, *r;
	char	*msg;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	msg = dbtest_query_fails(&d, NULL, "selec 1", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "near \"selec\": syntax error"),
	    "message: %s", msg);
	free(msg);
	msg = dbtest_query_fails(&d, NULL, "select * from nope", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "no such table: nope"), "message: %s",
	    msg);
	free(msg);
	msg = dbtest_query_fails(&d, NULL, "select nocol from t", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "no such column: nocol"), "message: %s",
	    msg);
	free(msg);
	/* No statement at all is an error too, not an empty result. */
	free(dbtest_query_fails(&d, NULL, "", NULL, "db_error"));
	free(dbtest_query_fails(&d, NULL, "  -- just a comment", NULL, "db_error"));
	free(dbtest_query_fails(&d, NULL, ";", NULL, "db_error"));
	/* A run-time error (not a prepare error) is a db_error as well. */
	msg = dbtest_query_fails(&d, "rw", "insert into t values (1), (abs(-9223372036854775807 - 1))",
	    NULL, "db_error");
	cr_assert_not_null(strstr(msg, "integer overflow"), "message: %s",
	    msg);
	free(msg);

	/* In a batch, the bad one fails in place: gather, not all-or-none. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select 1", NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, "selec 2", NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, "select 3", NULL));
	r = dbtest_run_batch(&d, jobs);
	jbool_is(r, "ok", false);
	jeq(r, "results[0].value.rows", "[[1]]");
	jstr_is(r, "results[1].error.code", "db_error");
	jeq(r, "results[2].value.rows", "[[3]]");
	jeq(r, "stats.failed", "1");
	json_decref(r);
	daemon_stop(&d);
}

/*
 * One statement per job. Trailing semicolons and comments are not a
 * second statement; a second statement is refused before the first runs.
 */

Test(query, exactly_one_statement)
{
	static const char *const fine[] = {
		"select 1;",
		"select 1;;",
		"select 1 ; ; ;  ",
		"select 1; -- trailing comment",
		"select 1 /* inline */ ; /* and after */",
		"-- leading comment\nselect 1",
		"/* leading */ select 1 -- no semicolon",
		"select 1\n;\n\n",
		"select ';' as \"x;y\"",
		NULL,
	};
	const char *const	*s;
	json_t			*v;
	char			*msg;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	for (s = fine; *s != NULL; s++) {
		v = dbtest_query_ok(&d, NULL, *s, NULL);
		cr_assert_eq(json_array_size(jget(v, "rows")), 1, "%s: %s", *s,
		    jtext(v));
		json_decref(v);
	}

	msg = dbtest_query_fails(&d, NULL, "select 1; select 2", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "statement"), "message: %s", msg);
	free(msg);
	free(dbtest_query_fails(&d, NULL, "select 1;select 2;", NULL, "db_error"));
	free(dbtest_query_fails(&d, NULL, "select 1; -- c\n select 2", NULL, "db_error"));
	/* A second statement that does not even prepare is still refused. */
	free(dbtest_query_fails(&d, NULL, "select 1; garbage", NULL, "db_error"));
	/* The first statement of two does not run. */
	free(dbtest_query_fails(&d, "rw", "insert into t values (1); select 2", NULL,
	    "db_error"));
	free(dbtest_query_fails(&d, "rw", "insert into t values (1); delete from t", NULL,
	    "db_error"));
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 0,
	    "the first of two statements ran");
	daemon_stop(&d);
}

/*
 * The parameters given must be exactly those the statement takes.
 */

Test(query, parameter_count_mismatch_is_db_error)
{
	json_t	*v;
	char	*msg;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	msg = dbtest_query_fails(&d, NULL, "select ?1, ?2", "[1]", "db_error");
	cr_assert_not_null(strstr(msg, "2 parameters, 1 given"), "message: %s",
	    msg);
	free(msg);
	msg = dbtest_query_fails(&d, NULL, "select 1", "[1]", "db_error");
	cr_assert_not_null(strstr(msg, "0 parameters, 1 given"), "message: %s",
	    msg);
	free(msg);
	free(dbtest_query_fails(&d, NULL, "select ?1", NULL, "db_error"));
	free(dbtest_query_fails(&d, NULL, "select ?1", "[]", "db_error"));
	free(dbtest_query_fails(&d, NULL, "select ?1", "[1,2]", "db_error"));
	/* ?3 alone makes three parameters. */
	free(dbtest_query_fails(&d, NULL, "select ?3", "[1]", "db_error"));
	v = dbtest_query_ok(&d, NULL, "select ?3", "[1,2,3]");
	jeq(v, "rows", "[[3]]");
	json_decref(v);
	/* The same statement, cached, with the right count afterwards. */
	v = dbtest_query_ok(&d, NULL, "select ?1, ?2", "[1,2]");
	jeq(v, "rows", "[[1,2]]");
	json_decref(v);
	/* params: null is no parameters. */
	v = dbtest_query_ok(&d, NULL, "select 5", "null");
	jeq(v, "rows", "[[5]]");
	json_decref(v);
	/* A failed write with a mismatch wrote nothing. */
	free(dbtest_query_fails(&d, "rw", "insert into t values (?1)", "[1,2]",
	    "db_error"));
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 0);
	daemon_stop(&d);
}

/*
 * params must be an array of scalars: anything else refuses the whole
 * batch with bad_request naming the path, and no job runs.
 */

Test(query, bad_params_refuse_the_batch)
{
	static const struct {
		const char	*params;
		const char	*path;
	} cases[] = {
		{ "{\"a\":1}", "jobs[1].params" },
		{ "\"1,2\"", "jobs[1].params" },
		{ "5", "jobs[1].params" },
		{ "true", "jobs[1].params" },
		{ "[1,{\"a\":1}]", "jobs[1].params[1]" },
		{ "[[1]]", "jobs[1].params[0]" },
		{ "[1,2,[]]", "jobs[1].params[2]" },
	};
	json_t	*jobs, *r;
	size_t	 i;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		jobs = json_array();
		/* A write first: had anything run, it would show. */
		json_array_append_new(jobs, dbtest_qjob("rw",
		    "insert into t values (1)", NULL));
		json_array_append_new(jobs, dbtest_qjob(NULL, "select ?1, ?2, ?3",
		    cases[i].params));
		r = dbtest_run_batch(&d, jobs);
		expect_refused(r, "bad_request", cases[i].path);
		/* jobs[1].params must not pass for jobs[1].params[1]. */
		if (strchr(cases[i].path + 7, '[') == NULL)
			cr_assert_null(strstr(jstr(r, "error.message"),
			    "params["), "%s", jtext(r));
		json_decref(r);
	}
	/* sql missing or not a string, db not a string. */
	r = dbtest_request(&d, "{\"jobs\":[{\"type\":\"query\"}]}");
	expect_refused(r, "bad_request", "jobs[0].sql");
	json_decref(r);
	r = dbtest_request(&d, "{\"jobs\":[{\"type\":\"query\",\"sql\":42}]}");
	expect_refused(r, "bad_request", "jobs[0].sql");
	json_decref(r);
	r = dbtest_request(&d, "{\"jobs\":[{\"type\":\"query\",\"sql\":\"select 1\","
	    "\"db\":1}]}");
	expect_refused(r, "bad_request", "jobs[0].db");
	json_decref(r);
	/* A misspelt field is not ignored. */
	r = dbtest_request(&d, "{\"jobs\":[{\"type\":\"query\",\"sql\":\"select 1\","
	    "\"param\":[1]}]}");
	expect_refused(r, "bad_request", "jobs[0].param");
	json_decref(r);
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 0,
	    "a job of a refused batch ran");
	daemon_stop(&d);
}

/*
 * A database that is not configured refuses the whole batch with
 * unknown_db, naming the job; "default" is the default.
 */

Test(query, unknown_db_refuses_the_batch)
{
	json_t	*jobs, *r, *v;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob("rw", "insert into t values (1)",
	    NULL));
	json_array_append_new(jobs, dbtest_qjob("rw", "insert into t values (2)",
	    NULL));
	json_array_append_new(jobs, dbtest_qjob("nosuch", "select 1", NULL));
	r = dbtest_run_batch(&d, jobs);
	expect_refused(r, "unknown_db", "jobs[2].db");
	jstr_has(r, "error.message", "nosuch");
	json_decref(r);
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 0,
	    "a job of a refused batch ran");
	/* Names are exact: no case folding. */
	r = dbtest_query(&d, "Default", "select 1", NULL);
	expect_refused(r, "unknown_db", "jobs[0].db");
	json_decref(r);

	/* No db, or db null: "default". */
	v = dbtest_query_ok(&d, NULL, "select count(*) from t", NULL);
	jeq(v, "rows", "[[0]]");
	json_decref(v);
	r = dbtest_request(&d, "{\"jobs\":[{\"type\":\"query\",\"db\":null,"
	    "\"sql\":\"select 'dflt'\"}]}");
	jeq(r, "results[0].value.rows", "[[\"dflt\"]]");
	json_decref(r);
	daemon_stop(&d);
}

Test(query, no_default_db_configured)
{
	json_t	*r, *v;

	dbtest_files_init();
	dbtest_make("other.db", "create table t(x)");
	dbtest_start(&d, "[db.other]\ndriver = sqlite\npath = %D/other.db\n");

	r = dbtest_query(&d, NULL, "select 1", NULL);
	expect_refused(r, "unknown_db", "jobs[0].db");
	jstr_has(r, "error.message", "default");
	json_decref(r);
	v = dbtest_query_ok(&d, "other", "select 1", NULL);
	jeq(v, "rows", "[[1]]");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * A locked database: this process holds an exclusive transaction on a
 * second connection. The daemon waits busy_timeout_ms for it, then fails
 * with SQLite's "database is locked"; released in time, it succeeds.
 */

#define LOCK_CONF \
	"threads = 2\n" \
	"[db.default]\ndriver = sqlite\npath = %D/main.db\n" \
	"busy_timeout_ms = 300\n" \
	"[db.patient]\ndriver = sqlite\npath = %D/main.db\n"

Test(query, locked_database_waits_busy_timeout_then_fails)
{
	sqlite3	*lock;
	json_t	*r;
	double	 t0, took;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	dbtest_start(&d, LOCK_CONF);
	/* Warm up: the workers' connections exist before the lock. */
	json_decref(dbtest_query_ok(&d, NULL, "select x from t", NULL));

	lock = dbtest_open("main.db");
	dbtest_exec(lock, "begin exclusive; insert into t values (2)");
	t0 = now_ms();
	r = dbtest_query(&d, NULL, "select count(*) from t", NULL);
	took = now_ms() - t0;
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);

	jstr_is(r, "results[0].error.code", "db_error");
	jstr_has(r, "results[0].error.message", "database is locked");
	cr_assert_geq(took, 250, "gave up after %.0f ms, before the 300 ms"
	    " busy timeout", took);
	cr_assert_lt(took, slack_ms(3000), "waited %.0f ms for a 300 ms busy"
	    " timeout", took);
	fprintf(stderr, "query: a locked database (busy_timeout_ms = 300)"
	    " failed after %.0f ms\n", took);
	json_decref(r);

	/* The lock gone, the same statement works and sees no row 2. */
	r = dbtest_query(&d, NULL, "select count(*) from t", NULL);
	jeq(r, "results[0].value.rows", "[[1]]");
	json_decref(r);
	expect_ping();
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

Test(query, locked_database_released_in_time_succeeds)
{
	sqlite3	*lock;
	json_t	*r, *jobs;
	char	*line, *patient;
	double	 t0, took;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	dbtest_start(&d, LOCK_CONF);
	json_decref(dbtest_query_ok(&d, NULL, "select x from t", NULL));
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select count(*) from t", NULL));
	line = dbtest_batch_line(jobs, NULL, NULL);
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob("patient", "select count(*) from t",
	    NULL));
	patient = dbtest_batch_line(jobs, NULL, NULL);

	/* Released after 100 ms, well inside the 300 ms busy timeout. */
	lock = dbtest_open("main.db");
	r = run_while_locked(lock, line, 2, 100, slack_ms(5000), &took);
	jbool_is(r, "ok", true);
	jeq(r, "results[0].value.rows", "[[2]]");
	cr_assert_geq(took, 95, "answered after %.0f ms, before the lock was"
	    " released", took);
	json_decref(r);

	/*
	 * "patient" has the default busy timeout, 5000 ms: a lock held for a
	 * whole second is waited for.
	 */
	r = run_while_locked(lock, patient, 3, 1000, slack_ms(10000), &took);
	jbool_is(r, "ok", true);
	jeq(r, "results[0].value.rows", "[[3]]");
	cr_assert_geq(took, 950, "answered after %.0f ms, before the lock was"
	    " released", took);
	json_decref(r);

	/*
	 * "default" is the same file, so the same worker connections, but
	 * its own 300 ms timeout applies again: it gives up while a lock is
	 * still held.
	 */
	dbtest_exec(lock, "begin exclusive; insert into t values (4)");
	t0 = now_ms();
	r = dbtest_request(&d, line);
	took = now_ms() - t0;
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);
	jstr_is(r, "results[0].error.code", "db_error");
	jstr_has(r, "results[0].error.message", "database is locked");
	cr_assert_geq(took, 250, "gave up after %.0f ms", took);
	cr_assert_lt(took, slack_ms(900), "waited %.0f ms: the 5000 ms busy"
	    " timeout of \"patient\" stuck to the connection", took);
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
	char	 p[32], path[64];
	double	 t0, took;
	int	 i, n = 5000;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);
	jobs = json_array();
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof p, "[%d]", i);
		json_array_append_new(jobs, dbtest_qjob(NULL, "select ?1 + 1", p));
	}
	t0 = now_ms();
	r = dbtest_run_batch(&d, jobs);
	took = now_ms() - t0;
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
	expect_settles(slack_ms(2000), "after 5000 queries");
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
	int	 i, rounds = wrapped() ? 20 : 100;

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
	json_t	*v;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer); insert into t values (1)");
	dbtest_start(&d, "threads = 1\n"
	    "[db.default]\ndriver = sqlite\npath = %D/main.db\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");

	/* The read-only connection has loaded the schema, and cached this. */
	v = dbtest_query_ok(&d, NULL, "select * from t", NULL);
	jeq(v, "columns", "[\"x\"]");
	json_decref(v);
	json_decref(dbtest_query_ok(&d, "rw", "alter table t add column y default 'y'",
	    NULL));
	/* A new statement, prepared against the old schema in memory. */
	v = dbtest_query_ok(&d, NULL, "select * from t limit 1", NULL);
	jeq(v, "columns", "[\"x\",\"y\"]");
	jeq(v, "rows", "[[1,\"y\"]]");
	json_decref(v);
	/* The cached one. */
	v = dbtest_query_ok(&d, NULL, "select * from t", NULL);
	jeq(v, "columns", "[\"x\",\"y\"]");
	jeq(v, "rows", "[[1,\"y\"]]");
	json_decref(v);
	/* A column dropped: no phantom column of nulls. */
	json_decref(dbtest_query_ok(&d, "rw", "alter table t drop column x", NULL));
	v = dbtest_query_ok(&d, NULL, "select * from t", NULL);
	jeq(v, "columns", "[\"y\"]");
	jeq(v, "rows", "[[\"y\"]]");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * Time-outs and cancels while a query runs on a worker: the job ends on
 * time, the daemon stays healthy, and the worker comes back at once: the
 * statement is interrupted (a progress handler), not run to its end.
 */

/* A query that keeps a worker busy: some 0.6 s bare. */
static const char *
slow_sql(void)
{
	return wrapped() ?
	    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c"
	    " WHERE x < 200000) SELECT count(*) FROM c" :
	    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c"
	    " WHERE x < 5000000) SELECT count(*) FROM c";
}

Test(query, timeout_while_query_runs_on_worker)
{
	json_t	*r, *st, *job, *jobs;
	char	*line;
	double	 t0, took, back;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	/* The job's own timeout_ms. */
	job = dbtest_qjob(NULL, slow_sql(), NULL);
	json_object_set_new(job, "timeout_ms", json_integer(10));
	jobs = json_array();
	json_array_append_new(jobs, job);
	json_array_append_new(jobs, dbtest_qjob(NULL, "select 'quick'", NULL));
	t0 = now_ms();
	r = dbtest_run_batch(&d, jobs);
	took = now_ms() - t0;
	jstr_is(r, "results[0].error.code", "timeout");
	jeq(r, "results[1].value.rows", "[[\"quick\"]]");
	jeq(r, "stats.timed_out", "1");
	cr_assert_lt(took, slack_ms(PROMPT_MS), "a 10 ms job timeout answered"
	    " after %.0f ms", took);
	json_decref(r);
	/* At once: nothing in flight any more, the daemon answers. */
	st = status_of();
	jeq(st, "jobs.in_flight", "0");
	jeq(st, "batches.in_flight", "0");
	json_decref(st);
	expect_ping();
	r = dbtest_query(&d, NULL, "select 41 + 1", NULL);
	jeq(r, "results[0].value.rows", "[[42]]");
	json_decref(r);
	back = expect_settles(slack_ms(20000), "the abandoned query");
	fprintf(stderr, "query: a timed-out SQLite query kept its worker"
	    " %.0f ms more\n", back);
	/* Run to its end, it would take some 600 ms more. */
	cr_assert_lt(back, slack_ms(200), "the timed-out query held its"
	    " worker %.0f ms more: not interrupted", back);

	/* The batch's timeout_ms, on several slow queries at once. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	line = dbtest_batch_line(jobs, "timeout_ms", json_integer(20));
	t0 = now_ms();
	r = dbtest_request(&d, line);
	took = now_ms() - t0;
	free(line);
	/*
	 * Under valgrind, which runs one thread at a time, busy workers can
	 * starve the loop past the 20 ms deadline, so slow queries may finish
	 * first; there only the leak check and the settling below count.
	 */
	if (harness_slack() == 1.0)
		jeq(r, "stats.timed_out", "3");
	else
		cr_assert_geq(jint(r, "stats.timed_out"), 1, "%s", jtext(r));
	cr_assert_lt(took, slack_ms(PROMPT_MS), "took %.0f ms", took);
	json_decref(r);
	st = status_of();
	jeq(st, "jobs.in_flight", "0");
	jeq(st, "batches.in_flight", "0");
	json_decref(st);
	expect_settles(slack_ms(20000), "three abandoned queries");
	expect_ping();
	daemon_stop(&d);
}

Test(query, cancel_and_disconnect_while_query_runs_on_worker)
{
	json_t	*r, *a, *b, *jobs, *st;
	char	*line;
	double	 t0;
	int	 fd;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF);

	/* The cancel op, on the same connection. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	line = dbtest_batch_line(jobs, "id", json_string("slow"));
	fd = client_connect(d.sock);
	client_send(fd, line);
	free(line);
	usleep(50 * 1000);
	t0 = now_ms();
	client_send(fd, "{\"op\":\"cancel\",\"id\":\"c\",\"target\":\"slow\"}");
	a = client_recv_json(fd, slack_ms(PROMPT_MS));
	b = client_recv_json(fd, slack_ms(PROMPT_MS));
	cr_assert_lt(now_ms() - t0, slack_ms(PROMPT_MS), "cancel took %.0f ms",
	    now_ms() - t0);
	if (json_is_string(jget(a, "id")) &&
	    strcmp(jstr(a, "id"), "slow") == 0) {
		r = a;
		a = b;
		b = r;
	}
	jeq(a, "cancelled", "1");
	jeq(b, "id", "\"slow\"");
	jstr_is(b, "results[0].error.code", "cancelled");
	jstr_is(b, "results[1].error.code", "cancelled");
	json_decref(a);
	json_decref(b);
	st = status_of();
	jeq(st, "jobs.in_flight", "0");
	jeq(st, "batches.in_flight", "0");
	json_decref(st);

	/* A client that goes away while its queries run on workers. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, slow_sql(), NULL));
	line = dbtest_batch_line(jobs, NULL, NULL);
	client_send(fd, line);
	free(line);
	usleep(50 * 1000);
	close(fd);
	expect_ping();
	r = dbtest_query(&d, NULL, "select 'still here'", NULL);
	jeq(r, "results[0].value.rows", "[[\"still here\"]]");
	json_decref(r);
	expect_settles(slack_ms(30000), "after a disconnect");
	daemon_stop(&d);
}

/*
 * A result larger than [limits] max_result_bytes is too_large, not a huge
 * reply; one that fits is fine.
 */

Test(query, result_over_max_result_bytes_is_too_large)
{
	json_t	*v;
	char	*msg;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, MAIN_CONF "[limits]\nmax_result_bytes = 4096\n");

	/* One big value: 4000 random bytes are 5336 of base64. */
	msg = dbtest_query_fails(&d, NULL, "select randomblob(4000)", NULL, "too_large");
	cr_assert_not_null(strstr(msg, "4096"), "message: %s", msg);
	free(msg);
	/* Escapes count: 3000 line feeds are 6000 bytes of JSON. */
	free(dbtest_query_fails(&d, NULL, "select printf('%.3000c', char(10))",
	    NULL, "too_large"));
	/* Many small rows. */
	free(dbtest_query_fails(&d, NULL, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
	    " SELECT x+1 FROM c WHERE x < 100000) SELECT x FROM c", NULL,
	    "too_large"));
	/* What fits is answered whole. */
	v = dbtest_query_ok(&d, NULL, "select length(hex(randomblob(1000)))", NULL);
	jeq(v, "rows", "[[2000]]");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select printf('%.3000c', 'x')", NULL);
	cr_assert_eq(strlen(jstr(v, "rows[0][0]")), 3000);
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
	    " SELECT x+1 FROM c WHERE x < 100) SELECT x FROM c", NULL);
	cr_assert_eq(json_array_size(jget(v, "rows")), 100);
	json_decref(v);
	expect_ping();
	daemon_stop(&d);
}

/*
 * Every job runs on its own: a job cannot leave its worker's connection
 * inside a transaction. Otherwise what later jobs on that worker write is
 * never committed (it is rolled back when the daemon exits, though each
 * reported its changes), other writers wait on its lock, and which jobs
 * it catches depends on which worker they land on. Whether BEGIN is
 * refused or the transaction is rolled back when the job ends, the jobs
 * after it commit.
 */

Test(query, a_job_leaves_no_transaction_open)
{
	sqlite3	*db;
	json_t	*r;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	/* One worker: the next job is on the same connection. */
	dbtest_start(&d, "threads = 1\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n"
	    "busy_timeout_ms = 300\n");

	json_decref(dbtest_query(&d, "rw", "begin", NULL));
	json_decref(dbtest_query_ok(&d, "rw", "insert into t values (1)", NULL));
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 1,
	    "an insert that reported success is not committed");

	/* A write lock taken by one job is not held after it. */
	json_decref(dbtest_query(&d, "rw", "begin immediate", NULL));
	db = dbtest_open("main.db");
	sqlite3_busy_timeout(db, slack_ms(2000));
	dbtest_exec(db, "insert into t values (2)");
	sqlite3_close(db);
	r = dbtest_query(&d, "rw", "select count(*) from t", NULL);
	jeq(r, "results[0].value.rows", "[[2]]");
	json_decref(r);
	daemon_stop(&d);
}

/*
 * A database reaches its configured file and no other: none writes
 * another file (VACUUM INTO would copy it anywhere the daemon may write),
 * and none attaches other files (ATTACH opens, or creates, any path).
 * Both are forbidden by the authorizer (and the attached-database limit
 * is 0 behind it).
 */

Test(query, no_file_but_the_configured_one)
{
	struct stat	sb;
	char		sql[PATH_MAX + 64];

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	dbtest_make("other.db", "create table secret(s); insert into secret"
	    " values ('SECRET')");
	dbtest_start(&d, MAIN_CONF);

	snprintf(sql, sizeof sql, "vacuum into '%s'", dbtest_path("copy.db"));
	free(dbtest_query_fails(&d, NULL, sql, NULL, "forbidden"));
	free(dbtest_query_fails(&d, "rw", sql, NULL, "forbidden"));
	cr_assert_eq(stat(dbtest_path("copy.db"), &sb), -1, "a read-only database"
	    " wrote %s", dbtest_path("copy.db"));
	snprintf(sql, sizeof sql, "attach database '%s' as o",
	    dbtest_path("other.db"));
	free(dbtest_query_fails(&d, NULL, sql, NULL, "forbidden"));
	free(dbtest_query_fails(&d, "rw", sql, NULL, "forbidden"));
	snprintf(sql, sizeof sql, "attach database '%s' as n",
	    dbtest_path("created.db"));
	free(dbtest_query_fails(&d, "rw", sql, NULL, "forbidden"));
	cr_assert_eq(stat(dbtest_path("created.db"), &sb), -1, "ATTACH created %s",
	    dbtest_path("created.db"));
	free(dbtest_query_fails(&d, NULL, "select * from o.secret", NULL, "db_error"));
	daemon_stop(&d);
}

/* status.limits.max_connections of a daemon started with conf. */
static json_int_t
capped_connections(const char *conf)
{
	json_t		*st;
	json_int_t	 max;

	dbtest_start(&d, conf);
	st = daemon_status(&d, slack_ms(DBTEST_REQUEST_MS));
	max = jint(st, "limits.max_connections");
	json_decref(st);
	daemon_stop(&d);
	return max;
}

/*
 * The descriptors each database may hold are kept back from
 * max_connections, as its driver says: 3 per worker for a SQLite file
 * (the database, its WAL, its shared memory), the pool for PostgreSQL
 * (no server is needed: a pool connects on its first query).
 */
Test(query, databases_keep_their_descriptors_back)
{
	static const char	 caps[] = "threads = 3\n"
	    "[limits]\nmax_connections = 9000000000000\n";
	struct rlimit		 rl;
	json_int_t		 none, both;
	char			*conf;

	/* A hard limit well below what can be open: the cap applies. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 4096)
		rl.rlim_max = 4096;
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "%s", strerror(errno));

	dbtest_files_init();
	none = capped_connections(caps);
	conf = harness_fmt("%s[db.lite]\ndriver = sqlite\npath = %%D/a.db\n"
	    "[db.pg]\ndriver = postgres\nconninfo = host=/nonexistent"
	    " dbname=x\npool = 100\n", caps);
	both = capped_connections(conf);
	free(conf);
	cr_assert_gt(none, 200, "max_connections %lld", (long long)none);
	cr_assert_eq(none - both, 3 * 3 + 100, "without the databases %lld,"
	    " with them %lld", (long long)none, (long long)both);
}
