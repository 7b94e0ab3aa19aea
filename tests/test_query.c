/*
 * The query job on SQLite, what goes in and out: parameters of every JSON
 * type, every SQLite type out with column names, changes, and concurrent
 * writes.
 *
 * End-to-end: real gatherd processes running real statements on real
 * database files, which each test makes (with the sqlite3 C API, in this
 * process) in its own directory, dbtest_dir (dbtest.h). The SQLite query
 * suites share the suite name query. Timing bounds are wide and say what
 * they tell apart; upper bounds and time-outs are stretched by slack_ms(),
 * lower bounds (a locked database is waited for) never are.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(query, 120);

/*
 * Parameters in: every JSON scalar, bound in order, read back with its
 * SQLite type.
 */

Test(query, params_of_every_json_scalar_type)
{
	json_t	*v;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, DBTEST_MAIN_CONF);

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
	dbtest_expect(&d, NULL, "select x, typeof(x) from t order by rowid",
	    "rows", "[[null,\"null\"],[1,\"integer\"],[123,\"integer\"],"
	    "[2.5,\"real\"],[\"s\",\"text\"]]");
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
	dbtest_start(&d, DBTEST_MAIN_CONF);

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
	msg = dbtest_query_fails(&d, NULL, "select id, u from t order by id"
	    " desc", NULL, "bad_encoding");
	cr_assert_not_null(strstr(msg, "rows[2][1]: not valid UTF-8 at byte"
	    " 2"), "%s", msg);
	free(msg);
	/* So is a column's name; the other columns of the table are fine. */
	msg = dbtest_query_fails(&d, NULL, "select * from w", NULL,
	    "bad_encoding");
	cr_assert_not_null(strstr(msg, "columns[1]: not valid UTF-8 at byte"
	    " 1; name the column with AS"), "%s", msg);
	free(msg);
	dbtest_expect_keys(&d, NULL, "select ok, 3 as b from w", NULL,
	    "{\"columns\":[\"ok\",\"b\"],\"rows\":[[1,3]]}");

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
	dbtest_expect(&d, NULL, "select i, r, s, b from t where id = 3",
	    "rows", "[[null,null,null,null]]");
	dbtest_expect(&d, NULL, "select id from t order by id desc",
	    "rows", "[[3],[2],[1]]");

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
	dbtest_expect(&d, NULL,
	    "select 1 as a, 2 as \"b c\", 3 as \"\xc3\xa9t\xc3\xa9\","
	    " id, t.i as \"t.i\", count(*) over () from t limit 1",
	    "columns", "[\"a\",\"b c\",\"\\u00e9t\\u00e9\",\"id\",\"t.i\","
	    "\"count(*) over ()\"]");

	/* No rows: the columns are still named. */
	dbtest_expect_keys(&d, NULL, "select id, s from t where 0", NULL,
	    "{\"columns\":[\"id\",\"s\"],\"rows\":[],\"changes\":0}");

	/* A statement without a result: no columns, no rows. */
	dbtest_expect_keys(&d, "rw", "update t set n = 1 where id = 3", NULL,
	    "{\"columns\":[],\"rows\":[],\"changes\":1}");
	daemon_stop(&d);
}

/*
 * changes: the rows this statement inserted, updated or deleted, never an
 * earlier statement's count.
 */

Test(query, changes_counts_this_statement_only)
{
	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer)");
	/* One worker, one connection: an earlier count would be at hand. */
	dbtest_start(&d, "threads = 1\n"
	    "[db.default]\ndriver = sqlite\npath = %D/main.db\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");

	dbtest_expect(&d, "rw", "insert into t values (1), (2), (3)",
	    "changes", "3");
	/* sqlite3_changes() would still say 3 here. */
	dbtest_expect(&d, "rw", "create table u(y)", "changes", "0");
	dbtest_expect(&d, "rw", "insert into t select x + 10 from t",
	    "changes", "3");
	dbtest_expect(&d, "rw", "update t set x = x * 2 where x > 10",
	    "changes", "3");
	dbtest_expect(&d, "rw", "update t set x = 0 where x > 1000",
	    "changes", "0");
	/* A select after writes changes nothing. */
	dbtest_expect_keys(&d, "rw", "select count(*) from t", NULL,
	    "{\"rows\":[[6]],\"changes\":0}");
	dbtest_expect(&d, "rw", "delete from t where x < 3", "changes", "2");
	/* RETURNING: rows and changes both. */
	dbtest_expect_keys(&d, "rw", "insert into t values (?1), (?2) returning x",
	    "[100,200]",
	    "{\"columns\":[\"x\"],\"rows\":[[100],[200]],\"changes\":2}");
	dbtest_expect(&d, "rw", "delete from t", "changes", "6");
	dbtest_expect(&d, "rw", "drop table u", "changes", "0");
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
	int	 n = harness_slowed() ? 40 : 200;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer)");
	dbtest_start(&d, DBTEST_MAIN_CONF);
	jobs = dbtest_qjobs_numbered("rw", "insert into t values (?1)", n);
	r = dbtest_run_batch(&d, jobs);
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.ok"), n, "%s", jtext(r));
	json_decref(r);
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), n);
	cr_assert_eq(dbtest_int("main.db", "select sum(x) from t"),
	    (sqlite3_int64)n * (n - 1) / 2);
	daemon_stop(&d);
}
