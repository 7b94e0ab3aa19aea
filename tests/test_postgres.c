/*
 * The query job on PostgreSQL: parameters, types, changes and errors, text
 * that is not UTF-8, and the pool (bounded, first in first out, and really
 * concurrent).
 *
 * End-to-end: real gatherd processes talking to a real PostgreSQL server.
 * Every test starts its own cluster with tests/pg-server (pgtest.h) in a
 * fresh directory, listening only on a Unix socket there, so tests
 * running in parallel cannot meet; harness_suite_fini stops it whether
 * the test passed or not. initdb takes about a second, so each test
 * checks many things. Without PostgreSQL installed every test is skipped
 * with a loud message on stderr. The suites share the suite name
 * postgres. Timing bounds are wide and say what they tell apart; upper
 * bounds are stretched by slack_ms() (only their overhead part where they
 * tell concurrent from one after another), lower bounds never are.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "pgtest.h"

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(postgres, 120);

/* Assert msg contains want. */
static void
has(const char *msg, const char *want)
{
	cr_assert_not_null(strstr(msg, want), "\"%s\" lacks \"%s\"", msg, want);
}

/*
 * Parameters, types, changes and errors: one cluster, one daemon.
 */

Test(postgres, params_types_changes_and_errors)
{
	char	*msg;
	json_t	*v, *jobs, *r;

	pgtest_new();
	pgtest_daemon(&d, NULL, "[limits]\nmax_result_bytes = 8192\n",
	    "default", 2u, "one", 1u, NULL);

	/* $1..$n, bound in order, every JSON scalar. */
	dbtest_expect_keys(&d, NULL, "select $1::int + 1", "[41]",
	    "{\"columns\":[\"?column?\"],\"rows\":[[42]],\"changes\":0}");
	v = dbtest_query_ok(&d, NULL, "select $3::text || $1::text || $2::text",
	    "[\"b\",\"c\",\"a\"]");
	jeq(v, "rows", "[[\"abc\"]]");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select $1::int8, $2::int8, $3::int4, $4::int8,"
	    " $5::int8, $1::int8 - 1", "[9007199254740993,-9007199254740993,"
	    "-42,9223372036854775807,-9223372036854775808]");
	cr_assert_eq(jint(v, "rows[0][0]"), 9007199254740993LL, "%s", jtext(v));
	cr_assert_eq(jint(v, "rows[0][1]"), -9007199254740993LL);
	cr_assert_eq(jint(v, "rows[0][2]"), -42);
	cr_assert_eq(jint(v, "rows[0][3]"), INT64_MAX);
	cr_assert_eq(jint(v, "rows[0][4]"), INT64_MIN);
	cr_assert_eq(jint(v, "rows[0][5]"), 9007199254740992LL);
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select $1::float8, $2::float8, $3::float8 * 2,"
	    " $4::float8", "[1.5,-0.1,1e300,3.0]");
	cr_assert_eq(jnum(v, "rows[0][0]"), 1.5);
	cr_assert_eq(jnum(v, "rows[0][1]"), -0.1, "%s", jtext(v));
	cr_assert(json_is_null(jget(v, "rows[0][2]")) ||
	    jnum(v, "rows[0][2]") > 1e300, "%s", jtext(v));
	cr_assert_eq(jnum(v, "rows[0][3]"), 3.0);
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select $1::bool, $2::bool, not $1::bool,"
	    " $3::text is null, $3::int is null, $4::text, length($4::text)",
	    "[true,false,null,\"h\\u00e9llo \\u4e16\\u754c \\ud83c\\udf89\"]");
	jeq(v, "rows", "[[true,false,false,true,true,"
	    "\"h\\u00e9llo \\u4e16\\u754c \\ud83c\\udf89\",10]]");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select $1::text, $2::text", "[\"\","
	    "\"quote \\\" backslash \\\\ tab \\t nl \\n\"]");
	jeq(v, "rows", "[[\"\",\"quote \\\" backslash \\\\ tab \\t nl \\n\"]]");
	json_decref(v);

	/* Types out. */
	v = dbtest_query_ok(&d, NULL, "select 1::int2 as i2, 2::int4 as i4,"
	    " 9223372036854775807::int8 as i8, 1.5::float4 as f4,"
	    " 2.25::float8 as f8, 3.14159::numeric as n, true as t,"
	    " false as f, null as z, 'text'::text as s,"
	    " 'h\xc3\xa9'::varchar as vc,"
	    " '2024-01-02 03:04:05'::timestamp as ts, 26::oid as o", NULL);
	jeq(v, "columns", "[\"i2\",\"i4\",\"i8\",\"f4\",\"f8\",\"n\",\"t\","
	    "\"f\",\"z\",\"s\",\"vc\",\"ts\",\"o\"]");
	cr_assert(json_is_integer(jget(v, "rows[0][0]")), "%s", jtext(v));
	cr_assert_eq(jint(v, "rows[0][2]"), INT64_MAX);
	jeq(v, "rows[0]", "[1,2,9223372036854775807,1.5,2.25,3.14159,true,"
	    "false,null,\"text\",\"h\xc3\xa9\",\"2024-01-02 03:04:05\",26]");
	json_decref(v);
	/* json and jsonb are embedded, not strings; line breaks stay out. */
	v = dbtest_query_ok(&d, NULL, "select '{\"a\":[1,2.5,\"x\"],\"b\":null}'::json,"
	    " '{\"k\": {\"n\": true}}'::jsonb, '[1,\n 2]'::json,"
	    " '\"s\\nt\"'::jsonb, '12'::json, 'null'::jsonb", NULL);
	jeq(v, "rows[0]", "[{\"a\":[1,2.5,\"x\"],\"b\":null},{\"k\":{\"n\":true}},"
	    "[1,2],\"s\\nt\",12,null]");
	json_decref(v);
	/* bytea is base64 of its bytes. */
	v = dbtest_query_ok(&d, NULL, "select '\\xdeadbeef00'::bytea, ''::bytea,"
	    " convert_to('h\xc3\xa9', 'UTF8')", NULL);
	jb64_is(v, "rows[0][0]", "\xde\xad\xbe\xef\x00", 5);
	jstr_is(v, "rows[0][1]", "");
	jb64_is(v, "rows[0][2]", "h\xc3\xa9", 3);
	json_decref(v);
	/* NaN and infinities have no JSON number: the reply stays JSON. */
	dbtest_expect(&d, NULL, "select 'NaN'::float8, 'Infinity'::float8,"
	    " '-Infinity'::float4, 'NaN'::numeric",
	    "rows", "[[null,null,null,null]]");
	/*
	 * numeric past what a JSON parser reads as a number (an integer
	 * beyond 64 bits, a decimal beyond a double) is its exact text.
	 */
	v = dbtest_query_ok(&d, NULL, "select 9223372036854775807::numeric,"
	    " -9223372036854775808::numeric, 9223372036854775808::numeric,"
	    " -9223372036854775809::numeric, 123456789012345678901234567890::numeric,"
	    " 12345678901234567890.5::numeric, (10::numeric ^ 400) + 0.5", NULL);
	cr_assert_eq(jint(v, "rows[0][0]"), INT64_MAX);
	cr_assert_eq(jint(v, "rows[0][1]"), INT64_MIN);
	jstr_is(v, "rows[0][2]", "9223372036854775808");
	jstr_is(v, "rows[0][3]", "-9223372036854775809");
	jstr_is(v, "rows[0][4]", "123456789012345678901234567890");
	cr_assert(json_is_real(jget(v, "rows[0][5]")), "%s", jtext(v));
	cr_assert(json_is_string(jget(v, "rows[0][6]")), "%s", jtext(v));
	json_decref(v);
	/* Several rows in order; no rows still names the columns. */
	dbtest_expect_keys(&d, NULL, "select x, x * 2 as y from generate_series(1, 3) x",
	    NULL,
	    "{\"columns\":[\"x\",\"y\"],\"rows\":[[1,2],[2,4],[3,6]],"
	    "\"changes\":0}");
	dbtest_expect_keys(&d, NULL, "select 1 as a where false", NULL,
	    "{\"columns\":[\"a\"],\"rows\":[]}");

	/* changes: the rows this statement wrote. */
	dbtest_expect_keys(&d, NULL, "create table t(x int primary key, s text)", NULL,
	    "{\"columns\":[],\"rows\":[],\"changes\":0}");
	v = dbtest_query_ok(&d, NULL, "insert into t values ($1, 'a'), ($2, 'b'), ($3,"
	    " 'c')", "[1,2,3]");
	jeq(v, "changes", "3");
	json_decref(v);
	dbtest_expect(&d, NULL, "create table u(y int)", "changes", "0");
	v = dbtest_query_ok(&d, NULL, "update t set s = upper(s) where x >= $1", "[2]");
	jeq(v, "changes", "2");
	json_decref(v);
	dbtest_expect(&d, NULL, "update t set s = 'none' where x > 100",
	    "changes", "0");
	dbtest_expect_keys(&d, NULL, "select x, s from t order by x", NULL,
	    "{\"rows\":[[1,\"a\"],[2,\"B\"],[3,\"C\"]],\"changes\":0}");
	dbtest_expect_keys(&d, NULL, "insert into t values (4, 'd'), (5, 'e')"
	    " returning x", NULL, "{\"rows\":[[4],[5]],\"changes\":2}");
	dbtest_expect(&d, NULL, "delete from t where x > 3", "changes", "2");

	/* Errors: the server's message, the connection still usable. */
	msg = dbtest_query_fails(&d, "one", "selec 1", NULL, "db_error");
	has(msg, "syntax error at or near \"selec\"");
	free(msg);
	msg = dbtest_query_fails(&d, "one", "select * from nope", NULL, "db_error");
	has(msg, "relation \"nope\" does not exist");
	free(msg);
	msg = dbtest_query_fails(&d, "one", "insert into t values (1, 'dup')", NULL,
	    "db_error");
	has(msg, "duplicate key value");
	free(msg);
	/* An error after some rows: no partial value. */
	msg = dbtest_query_fails(&d, "one", "select 1 / (x - 3) from generate_series(1, 5)"
	    " x", NULL, "db_error");
	has(msg, "division by zero");
	free(msg);
	/* The one connection of "one" is fine after all that. */
	dbtest_expect(&d, "one", "select count(*) from t", "rows", "[[3]]");
	/* One statement: a second is refused, the first does not run. */
	free(dbtest_query_fails(&d, "one", "select 1; select 2", NULL, "db_error"));
	free(dbtest_query_fails(&d, "one", "insert into u values (1); select 2", NULL,
	    "db_error"));
	dbtest_expect(&d, "one", "select count(*) from u", "rows", "[[0]]");
	/* A trailing semicolon and comments are fine. */
	dbtest_expect(&d, "one", "select 1; -- done", "rows", "[[1]]");
	dbtest_expect(&d, "one", "/* c */ select 2 ;", "rows", "[[2]]");
	free(dbtest_query_fails(&d, "one", "", NULL, "db_error"));
	/* Parameter counts must match. */
	free(dbtest_query_fails(&d, "one", "select $1::int + $2::int", "[1]", "db_error"));
	free(dbtest_query_fails(&d, "one", "select 1", "[1]", "db_error"));
	/* Bad values for a parameter's type are the server's to refuse. */
	msg = dbtest_query_fails(&d, "one", "select $1::int", "[\"x\"]", "db_error");
	has(msg, "invalid input syntax");
	free(msg);
	/* A value over max_result_bytes. */
	free(dbtest_query_fails(&d, "one", "select repeat('x', 10000)", NULL, "too_large"));
	free(dbtest_query_fails(&d, "one", "select x from generate_series(1, 10000) x",
	    NULL, "too_large"));
	dbtest_expect(&d, "one", "select length(repeat('x', 10000))",
	    "rows", "[[10000]]");

	/* An unknown database refuses the whole batch; nothing runs. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "insert into u values (7)",
	    NULL));
	json_array_append_new(jobs, dbtest_qjob("nosuch", "select 1", NULL));
	r = dbtest_run_batch(&d, jobs);
	jbool_is(r, "ok", false);
	jstr_is(r, "error.code", "unknown_db");
	jstr_has(r, "error.message", "jobs[1].db");
	cr_assert_null(jget(r, "results"), "%s", jtext(r));
	json_decref(r);
	dbtest_expect(&d, NULL, "select count(*) from u", "rows", "[[0]]");
	daemon_expect_idle(&d);
	daemon_stop(&d);
}

/*
 * Text that is not UTF-8 is bad_encoding, as it is from SQLite: never a
 * null that would pass for NULL. gatherd connects with client_encoding
 * UTF8, and the server converts to it or fails the statement; but a
 * statement may change the encoding as it runs, and its own rows are
 * then sent in it (DISCARD ALL puts it back for the next job).
 */

#define PG_LATIN1	"set_config('client_encoding', 'LATIN1', false)"

Test(postgres, text_not_utf8_is_bad_encoding)
{
	static const struct {
		const char	*sql;
		const char	*where;
	} bad[] = {
		{ "select 1 as i, " PG_LATIN1 " || 'h\xc3\xa9' as t",
		    "rows[0][1]: not valid UTF-8 at byte 7" },
		{ "select (" PG_LATIN1 " || '') || '\"\xc3\xa9\"'::json",
		    "rows[0][0]: not valid UTF-8 at byte 7" },
		/* A later row's: the rows before it do not come back. */
		{ "select case when x < 3 then 'a' else " PG_LATIN1 " ||"
		    " '\xc3\xa9' end from generate_series(1, 5) x",
		    "rows[2][0]: not valid UTF-8" },
	};
	char	*msg;
	size_t	 i;

	pgtest_new();
	pgtest_daemon(&d, NULL, NULL, "default", 1u, NULL);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		msg = dbtest_query_fails(&d, NULL, bad[i].sql, NULL,
		    "bad_encoding");
		has(msg, bad[i].where);
		free(msg);
	}
	/* The next job on the connection is in UTF-8 again. */
	dbtest_expect(&d, NULL, "select 'h\xc3\xa9',"
	    " current_setting('client_encoding')", "rows",
	    "[[\"h\xc3\xa9\",\"UTF8\"]]");
	/* Those bytes asked for as bytes come as their base64 ("h\xe9"). */
	dbtest_expect(&d, NULL, "select convert_to('h\xc3\xa9', 'LATIN1')",
	    "rows", "[[\"aOk=\"]]");
	daemon_expect_idle(&d);
	daemon_stop(&d);
}

/*
 * The pool: bounded, FIFO, and really concurrent.
 */

Test(postgres, pool_is_bounded_fifo_and_concurrent)
{
	char	 path[64];
	json_t	*jobs, *r, *v;
	double	 took, warm;
	json_int_t peak = 0, x;
	int	 i;

	pgtest_new();
	pgtest_daemon(&d, NULL, NULL, "four", 4u, "twenty", 20u, "single", 1u,
	    NULL);

	/*
	 * pool = 4, 50 jobs at once: each answered with its own value, in
	 * order; never more than 4 of them in the server at once, and 4 at
	 * some point; 13 rounds of 50 ms at the least.
	 */
	jobs = dbtest_qjobs_numbered("four", "select pg_sleep(0.05), $1::int,"
	    " (select count(*) from pg_stat_activity where"
	    " application_name = 'four' and state = 'active')", 50);
	r = dbtest_run_timed(&d, jobs, &took);
	jbool_is(r, "ok", true);
	for (i = 0; i < 50; i++) {
		snprintf(path, sizeof path, "results[%d].value.rows[0][1]", i);
		cr_assert_eq(jint(r, path), i, "result %d: %s", i, jtext(r));
		snprintf(path, sizeof path, "results[%d].value.rows[0][2]", i);
		x = jint(r, path);
		peak = x > peak ? x : peak;
	}
	json_decref(r);
	fprintf(stderr, "postgres: 50 x pg_sleep(0.05) on a pool of 4: %.0f ms,"
	    " at most %lld at once in the server\n", took, (long long)peak);
	cr_assert_leq(peak, 4, "%lld queries at once on a pool of 4",
	    (long long)peak);
	cr_assert_eq(peak, 4, "the pool of 4 never ran 4 at once");
	cr_assert_geq(took, 600, "50 x 50 ms on 4 connections in %.0f ms",
	    took);
	cr_assert_lt(took, 650 + slack_ms(1500), "50 x 50 ms on 4 connections"
	    " took %.0f ms", took);
	/* The server holds 4 connections of "four", no more. */
	v = dbtest_query_ok(&d, "twenty", "select count(*) from pg_stat_activity where"
	    " application_name = 'four'", NULL);
	cr_assert_leq(jint(v, "rows[0][0]"), 4, "%s", jtext(v));
	json_decref(v);

	/* pool = 1: jobs run one at a time in the order of the batch. */
	json_decref(dbtest_query_ok(&d, "single", "create sequence s", NULL));
	jobs = dbtest_qjobs("single", "select nextval('s')", 20);
	r = dbtest_run_batch(&d, jobs);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof path, "results[%d].value.rows[0][0]", i);
		cr_assert_eq(jint(r, path), i + 1, "not FIFO: %s", jtext(r));
	}
	json_decref(r);

	/* pool = 20: 20 x 500 ms at once, not one after another. */
	jobs = dbtest_qjobs("twenty", "select pg_sleep(0.5)", 20);
	r = dbtest_run_timed(&d, jobs, &took);
	expect_stats(r, 20, 0, 0, 0);
	json_decref(r);
	/* Again, with the 20 connections open already. */
	jobs = dbtest_qjobs("twenty", "select pg_sleep(0.5)", 20);
	r = dbtest_run_timed(&d, jobs, &warm);
	jbool_is(r, "ok", true);
	json_decref(r);
	fprintf(stderr, "postgres: 20 x pg_sleep(0.5) on a pool of 20: %.0f ms"
	    " (connecting too), %.0f ms (connections open)\n", took, warm);
	cr_assert_geq(took, 500, "took %.0f ms", took);
	cr_assert_lt(took, 500 + slack_ms(1000), "20 x 500 ms took %.0f ms:"
	    " not concurrent", took);
	cr_assert_geq(warm, 500, "took %.0f ms", warm);
	cr_assert_lt(warm, 500 + slack_ms(1000), "20 x 500 ms took %.0f ms:"
	    " not concurrent", warm);
	daemon_expect_idle(&d);
	daemon_stop(&d);
}
