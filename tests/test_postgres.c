/*
 * End-to-end tests of the query job on PostgreSQL: real gatherd processes
 * talking to a real PostgreSQL server. Every test starts its own cluster
 * with tests/pg-server in a fresh temporary directory, listening only on
 * a Unix socket in that directory (so tests running in parallel cannot
 * meet), and the suite's teardown stops it and removes the directory,
 * whether the test passed or not. pg-server is also told this process's
 * id, so a test killed by its time-out leaves no server behind either.
 * initdb takes about a second, so each test checks many things.
 *
 * Without PostgreSQL installed, every test is skipped with a loud message
 * on stderr: the suite says so rather than pass in silence.
 *
 * Timing assertions use wide bounds and say what they tell apart. Under
 * GATHERD_TEST_WRAPPER (valgrind) upper bounds and time-outs are
 * stretched by harness_slack() through slack_ms(), or only their overhead
 * part where they tell concurrent from one after another; lower bounds
 * never are.
 */

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
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

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	1000

static struct daemon	d;		/* this test's daemon */

static void
suite_init(void)
{
	/* Writing to a socket the daemon closed must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
}

static void
suite_fini(void)
{
	/* The server first: stopping the daemon may assert. */
	pgtest_stop();
	if (d.dir[0] != '\0')
		daemon_stop(&d);
}

TestSuite(postgres, .init = suite_init, .fini = suite_fini, .timeout = 120);

/*
 * The cluster.
 */

/* Make this test's cluster directory and pick its port; no server yet. */
static void
pg_prepare(void)
{
	pgtest_require();
	pgtest_prepare();
}

/*
 * A [db.NAME] section for this test's server with a pool of pool
 * connections; the application name is NAME. Caller frees.
 */
static char *
pg_section(const char *name, unsigned pool)
{
	return pgtest_section(name, pool, NULL);
}

/* Assert msg contains want. */
static void
has(const char *msg, const char *want)
{
	cr_assert_not_null(strstr(msg, want), "\"%s\" lacks \"%s\"", msg, want);
}

/* The daemon's status object. Caller decrefs. */
static json_t *
status_of(void)
{
	return daemon_status(&d, slack_ms(DBTEST_REQUEST_MS));
}

/* Assert no job or batch is in flight or waiting. */
static void
expect_idle(void)
{
	json_t	*st = status_of();

	jeq(st, "jobs.in_flight", "0");
	jeq(st, "jobs.waiting", "0");
	jeq(st, "batches.in_flight", "0");
	json_decref(st);
}

/* Assert the daemon answers a ping at once. */
static void
expect_ping(void)
{
	daemon_ping(&d, slack_ms(PROMPT_MS));
}

/*
 * Parameters, types, changes and errors: one cluster, one daemon.
 */

Test(postgres, params_types_changes_and_errors)
{
	char	*a, *b, *conf, *msg;
	json_t	*v, *jobs, *r;

	pgtest_new();
	a = pg_section("default", 2);
	b = pg_section("one", 1);
	conf = harness_fmt("%s%s[limits]\nmax_result_bytes = 8192\n", a, b);
	daemon_start(&d, conf, NULL);
	free(a);
	free(b);
	free(conf);

	/* $1..$n, bound in order, every JSON scalar. */
	v = dbtest_query_ok(&d, NULL, "select $1::int + 1", "[41]");
	jeq(v, "columns", "[\"?column?\"]");
	jeq(v, "rows", "[[42]]");
	jeq(v, "changes", "0");
	json_decref(v);
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
	jeq(v, "rows[0][0]", "1");
	jeq(v, "rows[0][1]", "2");
	cr_assert_eq(jint(v, "rows[0][2]"), INT64_MAX);
	cr_assert_eq(jnum(v, "rows[0][3]"), 1.5);
	cr_assert_eq(jnum(v, "rows[0][4]"), 2.25);
	cr_assert_eq(jnum(v, "rows[0][5]"), 3.14159);
	jeq(v, "rows[0][6]", "true");
	jeq(v, "rows[0][7]", "false");
	jeq(v, "rows[0][8]", "null");
	jstr_is(v, "rows[0][9]", "text");
	jstr_is(v, "rows[0][10]", "h\xc3\xa9");
	jstr_is(v, "rows[0][11]", "2024-01-02 03:04:05");
	jeq(v, "rows[0][12]", "26");
	json_decref(v);
	/* json and jsonb are embedded, not strings; line breaks stay out. */
	v = dbtest_query_ok(&d, NULL, "select '{\"a\":[1,2.5,\"x\"],\"b\":null}'::json,"
	    " '{\"k\": {\"n\": true}}'::jsonb, '[1,\n 2]'::json,"
	    " '\"s\\nt\"'::jsonb, '12'::json, 'null'::jsonb", NULL);
	jeq(v, "rows[0][0]", "{\"a\":[1,2.5,\"x\"],\"b\":null}");
	jeq(v, "rows[0][1]", "{\"k\":{\"n\":true}}");
	jeq(v, "rows[0][2]", "[1,2]");
	jeq(v, "rows[0][3]", "\"s\\nt\"");
	jeq(v, "rows[0][4]", "12");
	jeq(v, "rows[0][5]", "null");
	json_decref(v);
	/* bytea is base64 of its bytes. */
	v = dbtest_query_ok(&d, NULL, "select '\\xdeadbeef00'::bytea, ''::bytea,"
	    " convert_to('h\xc3\xa9', 'UTF8')", NULL);
	jb64_is(v, "rows[0][0]", "\xde\xad\xbe\xef\x00", 5);
	jstr_is(v, "rows[0][1]", "");
	jb64_is(v, "rows[0][2]", "h\xc3\xa9", 3);
	json_decref(v);
	/* NaN and infinities have no JSON number: the reply stays JSON. */
	v = dbtest_query_ok(&d, NULL, "select 'NaN'::float8, 'Infinity'::float8,"
	    " '-Infinity'::float4, 'NaN'::numeric", NULL);
	jeq(v, "rows", "[[null,null,null,null]]");
	json_decref(v);
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
	v = dbtest_query_ok(&d, NULL, "select x, x * 2 as y from generate_series(1, 3) x",
	    NULL);
	jeq(v, "columns", "[\"x\",\"y\"]");
	jeq(v, "rows", "[[1,2],[2,4],[3,6]]");
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select 1 as a where false", NULL);
	jeq(v, "columns", "[\"a\"]");
	jeq(v, "rows", "[]");
	json_decref(v);

	/* changes: the rows this statement wrote. */
	v = dbtest_query_ok(&d, NULL, "create table t(x int primary key, s text)", NULL);
	jeq(v, "columns", "[]");
	jeq(v, "rows", "[]");
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "insert into t values ($1, 'a'), ($2, 'b'), ($3,"
	    " 'c')", "[1,2,3]");
	jeq(v, "changes", "3");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "create table u(y int)", NULL);
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "update t set s = upper(s) where x >= $1", "[2]");
	jeq(v, "changes", "2");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "update t set s = 'none' where x > 100", NULL);
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "select x, s from t order by x", NULL);
	jeq(v, "rows", "[[1,\"a\"],[2,\"B\"],[3,\"C\"]]");
	jeq(v, "changes", "0");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "insert into t values (4, 'd'), (5, 'e')"
	    " returning x", NULL);
	jeq(v, "rows", "[[4],[5]]");
	jeq(v, "changes", "2");
	json_decref(v);
	v = dbtest_query_ok(&d, NULL, "delete from t where x > 3", NULL);
	jeq(v, "changes", "2");
	json_decref(v);

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
	v = dbtest_query_ok(&d, "one", "select count(*) from t", NULL);
	jeq(v, "rows", "[[3]]");
	json_decref(v);
	/* One statement: a second is refused, the first does not run. */
	free(dbtest_query_fails(&d, "one", "select 1; select 2", NULL, "db_error"));
	free(dbtest_query_fails(&d, "one", "insert into u values (1); select 2", NULL,
	    "db_error"));
	v = dbtest_query_ok(&d, "one", "select count(*) from u", NULL);
	jeq(v, "rows", "[[0]]");
	json_decref(v);
	/* A trailing semicolon and comments are fine. */
	v = dbtest_query_ok(&d, "one", "select 1; -- done", NULL);
	jeq(v, "rows", "[[1]]");
	json_decref(v);
	v = dbtest_query_ok(&d, "one", "/* c */ select 2 ;", NULL);
	jeq(v, "rows", "[[2]]");
	json_decref(v);
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
	v = dbtest_query_ok(&d, "one", "select length(repeat('x', 10000))", NULL);
	jeq(v, "rows", "[[10000]]");
	json_decref(v);

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
	v = dbtest_query_ok(&d, NULL, "select count(*) from u", NULL);
	jeq(v, "rows", "[[0]]");
	json_decref(v);
	expect_idle();
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
	char	*conf, *msg;
	size_t	 i;

	pgtest_new();
	conf = pg_section("default", 1);
	daemon_start(&d, conf, NULL);
	free(conf);

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
	expect_idle();
	daemon_stop(&d);
}

/*
 * The pool: bounded, FIFO, and really concurrent.
 */

Test(postgres, pool_is_bounded_fifo_and_concurrent)
{
	char	*a, *b, *c, *conf, p[64], path[64];
	json_t	*jobs, *r, *v;
	double	 t0, took, warm;
	json_int_t peak = 0, x;
	int	 i;

	pgtest_new();
	a = pg_section("four", 4);
	b = pg_section("twenty", 20);
	c = pg_section("single", 1);
	conf = harness_fmt("%s%s%s", a, b, c);
	daemon_start(&d, conf, NULL);
	free(a);
	free(b);
	free(c);
	free(conf);

	/*
	 * pool = 4, 50 jobs at once: each answered with its own value, in
	 * order; never more than 4 of them in the server at once, and 4 at
	 * some point; 13 rounds of 50 ms at the least.
	 */
	jobs = json_array();
	for (i = 0; i < 50; i++) {
		snprintf(p, sizeof p, "[%d]", i);
		json_array_append_new(jobs, dbtest_qjob("four", "select pg_sleep(0.05),"
		    " $1::int, (select count(*) from pg_stat_activity where"
		    " application_name = 'four' and state = 'active')", p));
	}
	t0 = now_ms();
	r = dbtest_run_batch(&d, jobs);
	took = now_ms() - t0;
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
	t0 = now_ms();
	r = dbtest_run_batch(&d, jobs);
	took = now_ms() - t0;
	jbool_is(r, "ok", true);
	jeq(r, "stats.ok", "20");
	json_decref(r);
	/* Again, with the 20 connections open already. */
	jobs = dbtest_qjobs("twenty", "select pg_sleep(0.5)", 20);
	t0 = now_ms();
	r = dbtest_run_batch(&d, jobs);
	warm = now_ms() - t0;
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
	expect_idle();
	daemon_stop(&d);
}

/*
 * The server goes away under running queries: they fail promptly; once
 * it is back, the pool reconnects by itself.
 */

Test(postgres, server_stopped_mid_batch_then_back)
{
	char	*a, *b, *args, *line, *msg;
	json_t	*jobs, *r;
	double	 t0, took, back;
	bool	 ok = false;
	int	 fd, i, tries = 0;

	pgtest_new();
	a = pg_section("default", 4);
	b = pg_section("probe", 1);
	line = harness_fmt("%s%s", a, b);
	daemon_start(&d, line, NULL);
	free(a);
	free(b);
	free(line);

	jobs = dbtest_qjobs(NULL, "select pg_sleep(3)", 4);
	line = dbtest_batch_line(jobs, "id", json_string("doomed"));
	fd = client_connect(d.sock);
	client_send(fd, line);
	free(line);
	/* All four are in the server. */
	pgtest_await(&d, "probe", "select count(*) from pg_stat_activity where"
	    " query = 'select pg_sleep(3)' and state = 'active'", "4",
	    slack_ms(5000));

	t0 = now_ms();
	args = harness_fmt("stop-keep '%s'", pgtest_dir);
	cr_assert_eq(pgtest_server(args), 0, "pg-server %s", args);
	free(args);
	r = client_recv_json(fd, slack_ms(5000));
	took = now_ms() - t0;
	close(fd);
	fprintf(stderr, "postgres: a batch answered %.0f ms after its server"
	    " began to stop\n", took);
	jeq(r, "id", "\"doomed\"");
	jeq(r, "stats.failed", "4");
	for (i = 0; i < 4; i++) {
		char path[64];

		snprintf(path, sizeof path, "results[%d].error.code", i);
		jstr_is(r, path, "db_error");
	}
	cr_assert_lt(took, slack_ms(2000), "answered %.0f ms after the server"
	    " stopped", took);
	json_decref(r);
	expect_idle();

	/* While it is down: prompt errors, not a hang. */
	t0 = now_ms();
	msg = dbtest_query_fails(&d, NULL, "select 1", NULL, "db_error");
	took = now_ms() - t0;
	has(msg, "default");
	free(msg);
	cr_assert_lt(took, slack_ms(PROMPT_MS), "a query on a stopped server"
	    " took %.0f ms", took);
	expect_ping();

	/* Back: the pool reconnects (after its back-off) by itself. */
	args = harness_fmt("start-again '%s'", pgtest_dir);
	cr_assert_eq(pgtest_server(args), 0, "pg-server %s", args);
	free(args);
	t0 = now_ms();
	while (now_ms() - t0 < slack_ms(8000)) {
		tries++;
		r = dbtest_query(&d, NULL, "select 'back'", NULL);
		ok = json_is_true(jget(r, "ok"));
		if (ok)
			jeq(r, "results[0].value.rows", "[[\"back\"]]");
		else
			jstr_is(r, "results[0].error.code", "db_error");
		json_decref(r);
		if (ok)
			break;
		usleep(100 * 1000);
	}
	back = now_ms() - t0;
	fprintf(stderr, "postgres: queries work again %.0f ms after the server"
	    " restarted (%d tries)\n", back, tries);
	cr_assert(ok, "no query succeeded %.0f ms after the server came back",
	    back);
	/* And the whole pool works: four at once. */
	jobs = dbtest_qjobs(NULL, "select pg_sleep(0.2)", 4);
	r = dbtest_run_batch(&d, jobs);
	jbool_is(r, "ok", true);
	json_decref(r);
	expect_idle();
	daemon_stop(&d);
}

/*
 * A job cancelled while its query runs (a time-out, the cancel op, a
 * client that goes away) ends at once, and the database serves the next
 * query: the pool does not lose the connection it closed.
 */

Test(postgres, cancelled_query_frees_its_connection)
{
	char	*a, *line;
	json_t	*jobs, *r, *ra, *rb, *job, *v;
	double	 t0, took;
	int	 fd, i;

	pgtest_new();
	a = pg_section("default", 1);
	daemon_start(&d, a, NULL);
	free(a);
	json_decref(dbtest_query_ok(&d, NULL, "select 1", NULL));

	/* The batch's timeout_ms. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select pg_sleep(5)", NULL));
	line = dbtest_batch_line(jobs, "timeout_ms", json_integer(100));
	t0 = now_ms();
	r = dbtest_request(&d, line);
	took = now_ms() - t0;
	free(line);
	jstr_is(r, "results[0].error.code", "timeout");
	cr_assert_geq(took, 95, "a 100 ms timeout after %.0f ms", took);
	cr_assert_lt(took, slack_ms(1000), "a 100 ms timeout after %.0f ms",
	    took);
	json_decref(r);
	expect_idle();
	/* The pool of one serves the next query, at once. */
	t0 = now_ms();
	v = dbtest_query_ok(&d, NULL, "select 'next'", NULL);
	took = now_ms() - t0;
	jeq(v, "rows", "[[\"next\"]]");
	json_decref(v);
	cr_assert_lt(took, slack_ms(PROMPT_MS), "the next query took %.0f ms",
	    took);

	/* The job's own timeout_ms, several times over a pool of one. */
	for (i = 0; i < 5; i++) {
		job = dbtest_qjob(NULL, "select pg_sleep(5)", NULL);
		json_object_set_new(job, "timeout_ms", json_integer(50));
		jobs = json_array();
		json_array_append_new(jobs, job);
		json_array_append_new(jobs, dbtest_qjob(NULL, "select $1::int", "[7]"));
		r = dbtest_run_batch(&d, jobs);
		jstr_is(r, "results[0].error.code", "timeout");
		/* The second waited for the one connection, then got it. */
		jeq(r, "results[1].value.rows", "[[7]]");
		json_decref(r);
	}

	/* The cancel op. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select pg_sleep(5)", NULL));
	json_array_append_new(jobs, dbtest_qjob(NULL, "select pg_sleep(5)", NULL));
	line = dbtest_batch_line(jobs, "id", json_string("slow"));
	fd = client_connect(d.sock);
	client_send(fd, line);
	free(line);
	usleep(100 * 1000);
	t0 = now_ms();
	client_send(fd, "{\"op\":\"cancel\",\"target\":\"slow\"}");
	ra = client_recv_json(fd, slack_ms(PROMPT_MS));
	rb = client_recv_json(fd, slack_ms(PROMPT_MS));
	took = now_ms() - t0;
	if (json_is_string(jget(ra, "id"))) {
		r = ra;
		ra = rb;
		rb = r;
	}
	jeq(ra, "cancelled", "1");
	jstr_is(rb, "results[0].error.code", "cancelled");
	jstr_is(rb, "results[1].error.code", "cancelled");
	json_decref(ra);
	json_decref(rb);
	cr_assert_lt(took, slack_ms(PROMPT_MS), "cancel took %.0f ms", took);

	/* A client that goes away. */
	jobs = json_array();
	json_array_append_new(jobs, dbtest_qjob(NULL, "select pg_sleep(5)", NULL));
	line = dbtest_batch_line(jobs, NULL, NULL);
	client_send(fd, line);
	free(line);
	usleep(100 * 1000);
	close(fd);

	t0 = now_ms();
	v = dbtest_query_ok(&d, NULL, "select 'still'", NULL);
	took = now_ms() - t0;
	jeq(v, "rows", "[[\"still\"]]");
	json_decref(v);
	cr_assert_lt(took, slack_ms(PROMPT_MS), "took %.0f ms", took);
	expect_idle();
	daemon_stop(&d);
}

/*
 * A server that is down when the daemon starts: the daemon starts, its
 * queries fail (they do not hang), and once the server is up they work.
 */

Test(postgres, server_down_at_daemon_start)
{
	char	*a, *msg;
	json_t	*r;
	double	 t0, took, worst = 0;
	bool	 ok = false;
	int	 i;

	pg_prepare();
	a = pg_section("default", 2);
	daemon_start(&d, a, NULL);
	free(a);
	expect_ping();

	/*
	 * Each fails promptly. Those that arrive while the pool backs off
	 * wait for its next attempt, at most the 5 s the back-off grows to.
	 */
	for (i = 0; i < 6; i++) {
		t0 = now_ms();
		msg = dbtest_query_fails(&d, NULL, "select 1", NULL, "db_error");
		took = now_ms() - t0;
		worst = took > worst ? took : worst;
		has(msg, "default");
		free(msg);
		if (i == 0)
			cr_assert_lt(took, slack_ms(PROMPT_MS), "the first query"
			    " on a down server took %.0f ms", took);
		cr_assert_lt(took, slack_ms(6000), "query %d on a down server"
			" took %.0f ms", i, took);
	}
	fprintf(stderr, "postgres: queries on a server down since start-up"
	    " failed within %.0f ms\n", worst);
	expect_idle();
	expect_ping();

	pgtest_start();
	t0 = now_ms();
	while (now_ms() - t0 < slack_ms(8000)) {
		r = dbtest_query(&d, NULL, "select 'up'", NULL);
		ok = json_is_true(jget(r, "ok"));
		if (ok)
			jeq(r, "results[0].value.rows", "[[\"up\"]]");
		json_decref(r);
		if (ok)
			break;
		usleep(100 * 1000);
	}
	fprintf(stderr, "postgres: the first query succeeded %.0f ms after the"
	    " server started\n", now_ms() - t0);
	cr_assert(ok, "no query succeeded after the server started");
	expect_idle();
	daemon_stop(&d);
}

/*
 * Every job runs on its own: a job cannot leave a pooled connection inside
 * a transaction. Otherwise later jobs that land on that connection write
 * nothing others can see (it is rolled back when the connection closes,
 * though each reported its changes), and after an error in it every job
 * there fails with "current transaction is aborted". Whether BEGIN is
 * refused or the transaction is rolled back when the job ends, the jobs
 * after it commit, and work.
 */

Test(postgres, a_job_leaves_no_transaction_open)
{
	char	*a, *b, *conf;
	json_t	*v;

	pgtest_new();
	a = pg_section("one", 1);
	b = pg_section("other", 1);
	conf = harness_fmt("%s%s", a, b);
	daemon_start(&d, conf, NULL);
	free(a);
	free(b);
	free(conf);

	json_decref(dbtest_query_ok(&d, "one", "create table t(x int)", NULL));
	json_decref(dbtest_query(&d, "one", "begin", NULL));
	json_decref(dbtest_query_ok(&d, "one", "insert into t values (1)", NULL));
	v = dbtest_query_ok(&d, "other", "select count(*) from t", NULL);
	jeq(v, "rows", "[[1]]");
	json_decref(v);

	json_decref(dbtest_query(&d, "one", "begin", NULL));
	free(dbtest_query_fails(&d, "one", "select 1 / 0", NULL, "db_error"));
	v = dbtest_query_ok(&d, "one", "select 'fine'", NULL);
	jeq(v, "rows", "[[\"fine\"]]");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * A reload that changes a database's settings retires its pool; a query
 * that was running on it ends after the reload, and the end of its batch
 * drops the last reference to the old pool while the pool's own callback
 * is still on the stack. (Under GATHERD_TEST_WRAPPER=valgrind the daemon
 * must exit 0: without the pool held across the callback, valgrind
 * reports reads of the freed pool in pg_pool_run.)
 */
Test(postgres, reload_retires_the_pool_of_a_running_query)
{
	char	*a, *tmp;
	FILE	*fp;
	json_t	*r;
	int	 fd;

	pgtest_new();
	a = pg_section("default", 1);
	daemon_start(&d, a, NULL);
	free(a);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":\"old\",\"jobs\":[{\"type\":\"query\","
	    "\"sql\":\"select pg_sleep(1)\"}]}");
	usleep(300 * 1000);

	/* Another pool size: another pool; the old one is retired. */
	a = pg_section("default", 2);
	tmp = harness_fmt("%s.new", d.conf);
	cr_assert_not_null(fp = fopen(tmp, "w"));
	fprintf(fp, "[daemon]\nsocket = %s\n%s", d.sock, a);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(rename(tmp, d.conf), 0);
	free(tmp);
	free(a);
	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	cr_assert_eq(daemon_log_wait(&d, "info: reloaded ", 1,
	    slack_ms(5000)), 1);

	r = client_recv_json(fd, slack_ms(5000));
	jstr_is(r, "id", "old");
	jbool_is(r, "ok", true);
	json_decref(r);
	close(fd);
	json_decref(dbtest_query_ok(&d, NULL, "select 1", NULL));
	expect_idle();
	daemon_stop(&d);
}
