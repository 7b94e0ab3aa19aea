/*
 * Queries that fail or are refused: writes to a read-only database, a
 * missing file, bad SQL, more than one statement, parameters that do not
 * match, an unknown or missing database.
 *
 * End-to-end: real gatherd processes running real statements on real
 * database files, which each test makes (with the sqlite3 C API, in this
 * process) in its own directory, dbtest_dir (dbtest.h). The SQLite query
 * suites share the suite name query. Timing bounds are wide and say what
 * they tell apart; upper bounds and time-outs are stretched by slack_ms(),
 * lower bounds (a locked database is waited for) never are.
 */

#include <sys/stat.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	1000

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(query, 120);

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

/*
 * Read-only unless writable: the connection itself refuses to write.
 */

Test(query, read_only_database_refuses_writes)
{
	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	dbtest_start(&d, DBTEST_MAIN_CONF
	    "[db.ro]\ndriver = sqlite\npath = %D/main.db\nwritable = false\n");

	dbtest_fails_with(&d, NULL, "insert into t values (2)", NULL, "db_error",
	    "readonly");
	dbtest_fails_with(&d, "ro", "update t set x = 5", NULL, "db_error",
	    "readonly");
	dbtest_fails_with(&d, "ro", "create table u(y)", NULL, "db_error",
	    "readonly");
	/* Nothing changed, and reads still work. */
	dbtest_expect(&d, "ro", "select x from t", "rows", "[[1]]");
	cr_assert_eq(dbtest_int("main.db", "select count(*) from t"), 1);
	/* The writable one, on the same file, may write. */
	dbtest_expect(&d, "rw", "insert into t values (2)", "changes", "1");
	/* And a read-only worker connection sees what it wrote. */
	dbtest_expect(&d, "ro", "select count(*) from t", "rows", "[[2]]");
	daemon_stop(&d);
}

/*
 * A writable database that does not exist yet is created on first use;
 * a read-only one that does not exist is an error, and is not created.
 */

Test(query, missing_database_created_only_if_writable)
{
	struct stat	 sb;
	char		*msg;

	dbtest_files_init();
	dbtest_start(&d, "[db.new]\ndriver = sqlite\npath = %D/new.db\nwritable = true\n"
	    "[db.gone]\ndriver = sqlite\npath = %D/gone.db\n");

	cr_assert_eq(stat(dbtest_path("new.db"), &sb), -1, "created too early");
	dbtest_expect(&d, "new", "create table t(x)", "changes", "0");
	cr_assert_eq(stat(dbtest_path("new.db"), &sb), 0, "new.db not created");
	dbtest_expect(&d, "new", "insert into t values (1), (2)",
	    "changes", "2");
	cr_assert_eq(dbtest_int("new.db", "select count(*) from t"), 2);

	msg = dbtest_query_fails(&d, "gone", "select 1", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "gone"), "message names the database:"
	    " %s", msg);
	free(msg);
	cr_assert_eq(stat(dbtest_path("gone.db"), &sb), -1, "gone.db was created");
	daemon_ping(&d, slack_ms(PROMPT_MS));
	daemon_stop(&d);
}

/*
 * SQL that does not prepare is the job's db_error, with SQLite's own
 * message; the other jobs of the batch are not affected.
 */

Test(query, bad_sql_is_db_error_with_sqlite_message)
{
	json_t	*jobs, *r;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, DBTEST_MAIN_CONF);

	dbtest_fails_with(&d, NULL, "selec 1", NULL, "db_error",
	    "near \"selec\": syntax error");
	dbtest_fails_with(&d, NULL, "select * from nope", NULL, "db_error",
	    "no such table: nope");
	dbtest_fails_with(&d, NULL, "select nocol from t", NULL, "db_error",
	    "no such column: nocol");
	/* No statement at all is an error too, not an empty result. */
	free(dbtest_query_fails(&d, NULL, "", NULL, "db_error"));
	free(dbtest_query_fails(&d, NULL, "  -- just a comment", NULL, "db_error"));
	free(dbtest_query_fails(&d, NULL, ";", NULL, "db_error"));
	/* A run-time error (not a prepare error) is a db_error as well. */
	dbtest_fails_with(&d, "rw", "insert into t values (1), (abs(-9223372036854775807 - 1))",
	    NULL, "db_error", "integer overflow");

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

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, DBTEST_MAIN_CONF);

	for (s = fine; *s != NULL; s++) {
		v = dbtest_query_ok(&d, NULL, *s, NULL);
		cr_assert_eq(json_array_size(jget(v, "rows")), 1, "%s: %s", *s,
		    jtext(v));
		json_decref(v);
	}

	dbtest_fails_with(&d, NULL, "select 1; select 2", NULL, "db_error",
	    "statement");
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

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, DBTEST_MAIN_CONF);

	dbtest_fails_with(&d, NULL, "select ?1, ?2", "[1]", "db_error",
	    "2 parameters, 1 given");
	dbtest_fails_with(&d, NULL, "select 1", "[1]", "db_error",
	    "0 parameters, 1 given");
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
	static const struct bad_field cases[] = {
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
	dbtest_start(&d, DBTEST_MAIN_CONF);

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		jobs = json_array();
		/* A write first: had anything run, it would show. */
		json_array_append_new(jobs, dbtest_qjob("rw",
		    "insert into t values (1)", NULL));
		json_array_append_new(jobs, dbtest_qjob(NULL, "select ?1, ?2, ?3",
		    cases[i].text));
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
	json_t	*jobs, *r;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, DBTEST_MAIN_CONF);

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
	dbtest_expect(&d, NULL, "select count(*) from t", "rows", "[[0]]");
	r = dbtest_request(&d, "{\"jobs\":[{\"type\":\"query\",\"db\":null,"
	    "\"sql\":\"select 'dflt'\"}]}");
	jeq(r, "results[0].value.rows", "[[\"dflt\"]]");
	json_decref(r);
	daemon_stop(&d);
}

Test(query, no_default_db_configured)
{
	json_t	*r;

	dbtest_files_init();
	dbtest_make("other.db", "create table t(x)");
	dbtest_start(&d, "[db.other]\ndriver = sqlite\npath = %D/other.db\n");

	r = dbtest_query(&d, NULL, "select 1", NULL);
	expect_refused(r, "unknown_db", "jobs[0].db");
	jstr_has(r, "error.message", "default");
	json_decref(r);
	dbtest_expect(&d, "other", "select 1", "rows", "[[1]]");
	daemon_stop(&d);
}
