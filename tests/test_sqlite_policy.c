/*
 * Untrusted SQL on SQLite: what one client's query may do to a connection
 * that every client's jobs share (db/sqlite_policy.c). Each test runs a
 * real gatherd with one worker, so the job after a refused one runs on
 * the very connection the refused one would have changed, and each query
 * comes on its own socket connection, as another client's would. Every
 * refusal is the job's forbidden error with a message that says why; what
 * a query may do (read, and change a writable database's own tables)
 * still works.
 */

#include <signal.h>
#include <stdbool.h>
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

static struct daemon	d;

HARNESS_SUITE(sqlite_policy, 120);

/* One worker; "default" read-only, "rw" the same file, writable. */
#define ONE_WORKER \
	"threads = 1\n" \
	"[db.default]\ndriver = sqlite\npath = %D/main.db\n" \
	"[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n" \
	"busy_timeout_ms = 200\n"

/* Assert sql is forbidden on db, with a message holding want. */
static void
forbidden(const char *db, const char *sql, const char *want)
{
	char	*msg = dbtest_query_fails(&d, db, sql, NULL, "forbidden");

	cr_assert_not_null(strstr(msg, want), "%s: \"%s\" lacks \"%s\"", sql,
	    msg, want);
	free(msg);
}

/* Assert sql on db gives rows (JSON text). */
static void
rows_are(const char *db, const char *sql, const char *want)
{
	dbtest_expect(&d, db, sql, "rows", want);
}

/*
 * PRAGMAs: refused but for a few that read. Those that were refused left
 * nothing behind: SQLite works for the next client, the file is not
 * locked, temp data is not kept in memory.
 */

Test(sqlite_policy, pragmas_refused_but_a_few_that_read)
{
	static const char *const refused[] = {
		"pragma hard_heap_limit = 1",
		"pragma soft_heap_limit = 1",
		"pragma temp_store = 2",
		"pragma cache_size = -2000000",
		"pragma query_only = 1",
		"pragma case_sensitive_like = 1",
		"pragma recursive_triggers = 0",
		"pragma writable_schema = 1",
		"pragma trusted_schema = 1",
		"pragma mmap_size = 1000000000",
		"pragma database_list",
		"pragma main.cache_size",
		"pragma optimize",
		"pragma shrink_memory",
		"pragma integrity_check",
	};
	sqlite3	*db;
	size_t	 i;
	char	*msg;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x integer primary key, y);"
	    " create index ty on t(y); insert into t values (1, 'a')");
	dbtest_start(&d, ONE_WORKER);

	for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
		forbidden(NULL, refused[i], "is not allowed: a PRAGMA could"
		    " change the connection");
	forbidden("rw", "pragma locking_mode = exclusive",
	    "PRAGMA locking_mode is not allowed");
	forbidden("rw", "pragma journal_mode = wal",
	    "PRAGMA journal_mode is not allowed");
	forbidden("rw", "pragma user_version = 7",
	    "PRAGMA user_version = 7 is not allowed: it may only be read");
	/* The table-valued form runs the PRAGMA while the query runs. */
	forbidden(NULL, "select * from pragma_hard_heap_limit",
	    "PRAGMA hard_heap_limit is not allowed");
	forbidden(NULL, "select * from pragma_cache_size",
	    "PRAGMA cache_size");
	/* The message lists what may run. */
	msg = dbtest_query_fails(&d, NULL, "pragma compile_options", NULL,
	    "forbidden");
	cr_assert_not_null(strstr(msg, "allowed: table_info"), "%s", msg);
	free(msg);

	/* Those that describe the schema, or only read. */
	rows_are(NULL, "select name from pragma_table_info('t') order by cid",
	    "[[\"x\"],[\"y\"]]");
	rows_are(NULL, "select count(*) from pragma_index_list('t')", "[[1]]");
	rows_are(NULL, "pragma main.index_info(ty)", "[[0,1,\"y\"]]");
	rows_are(NULL, "pragma user_version", "[[0]]");
	rows_are(NULL, "select page_size > 0 from pragma_page_size", "[[1]]");

	/* Nothing of the refused ones took: SQLite allocates as before... */
	rows_are(NULL, "select length(randomblob(100000))", "[[100000]]");
	/* ...and the file is not held locked by the worker's connection. */
	json_decref(dbtest_query_ok(&d, "rw", "insert into t values (2, 'b')",
	    NULL));
	db = dbtest_open("main.db");
	sqlite3_busy_timeout(db, 500);
	dbtest_exec(db, "insert into t values (3, 'c')");
	sqlite3_close(db);
	rows_are(NULL, "select count(*) from t", "[[3]]");
	daemon_stop(&d);
}

/*
 * Nothing may be created in temp: a temporary view would shadow a real
 * table for every later job on that worker, whoever sent it.
 */

Test(sqlite_policy, nothing_in_temp)
{
	static const char *const refused[] = {
		"create temp view items as select 1 as id, 'EVIL' as name",
		"create temporary table items(id, name)",
		"create table temp.items(id, name)",
		("create temp trigger tr after insert on items begin"
		" delete from items; end"),
		"create virtual table temp.v using fts3(x)",
		"create virtual table temp.r using rtree(id, a, b)",
	};
	size_t	i;

	dbtest_files_init();
	dbtest_make("main.db", "create table items(id, name);"
	    " insert into items values (1, 'real')");
	dbtest_start(&d, ONE_WORKER);

	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		forbidden(NULL, refused[i], "nothing may be created in temp");
		forbidden("rw", refused[i], "nothing may be created in temp");
	}
	/* Another client, on the same worker, sees the real table. */
	rows_are(NULL, "select id, name from items", "[[1,\"real\"]]");
	rows_are(NULL, "select count(*) from temp.sqlite_master", "[[0]]");
	daemon_stop(&d);
}

/*
 * fts3_tokenizer() returns a code address and, with two arguments,
 * registers one: with the tokenizer made of a made-up address, an FTS3
 * table made the daemon jump to it. Refused, as are extensions; full-text
 * search itself still works.
 */

static const char *const own_vtabs[][4] = {
	/* A virtual table made, filled, searched, and the rows found. */
	{ "create virtual table docs using fts5(body)",
	    "insert into docs values ('the quick brown fox'), ('lazy dogs')",
	    "select body from docs where docs match 'quick'",
	    "[[\"the quick brown fox\"]]" },
	{ "create virtual table old using fts4(body)",
	    "insert into old values ('brown bears')",
	    "select count(*) from old where old match 'brown'", "[[1]]" },
	{ "create virtual table box using rtree(id, x0, x1)",
	    "insert into box values (1, 0, 5)",
	    "select id from box where x0 <= 3 and x1 >= 3", "[[1]]" },
};

Test(sqlite_policy, tokenizers_and_extensions_refused)
{
	json_t	*v;
	char	*msg;
	size_t	 i;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, ONE_WORKER);

	forbidden(NULL, "select hex(fts3_tokenizer('simple'))",
	    "fts3_tokenizer() is not allowed: it reveals and registers code"
	    " addresses");
	forbidden("rw", "select fts3_tokenizer('evil', x'4141414141414141')",
	    "fts3_tokenizer() is not allowed");
	msg = dbtest_query_fails(&d, "rw", "create virtual table f using"
	    " fts3(x, tokenize=evil)", NULL, "db_error");
	cr_assert_not_null(strstr(msg, "unknown tokenizer"), "%s", msg);
	free(msg);
	forbidden(NULL, "select load_extension('/lib/x86_64-linux-gnu/libc.so.6')",
	    "load_extension() is not allowed");

	/* FTS3, FTS5 and R-Tree in the database itself. */
	for (i = 0; i < sizeof own_vtabs / sizeof own_vtabs[0]; i++) {
		json_decref(dbtest_query_ok(&d, "rw", own_vtabs[i][0], NULL));
		json_decref(dbtest_query_ok(&d, "rw", own_vtabs[i][1], NULL));
		rows_are(NULL, own_vtabs[i][2], own_vtabs[i][3]);
	}
	/* Shadow tables are SQLite's: defensive mode keeps clients out. */
	v = dbtest_query(&d, "rw", "delete from docs_data", NULL);
	jstr_is(v, "results[0].error.code", "db_error");
	jstr_has(v, "results[0].error.message", "may not be modified");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * One file, and nothing that reports what earlier jobs on the shared
 * connection did: another client's inserts, its statements.
 */

Test(sqlite_policy, other_files_and_other_jobs_out_of_reach)
{
	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, ONE_WORKER);

	forbidden(NULL, "attach ':memory:' as m", "ATTACH ':memory:' is not"
	    " allowed: a query reaches only its configured database file");
	forbidden(NULL, "attach '' as m", "not allowed");
	forbidden(NULL, "detach main", "DETACH main is not allowed");
	forbidden("rw", "vacuum", "VACUUM and ATTACH are not allowed");

	json_decref(dbtest_query_ok(&d, "rw", "insert into t values (42)",
	    NULL));
	forbidden(NULL, "select last_insert_rowid()", "last_insert_rowid() is"
	    " not allowed: it reports an earlier job");
	forbidden(NULL, "select changes()", "changes() is not allowed");
	forbidden(NULL, "select total_changes()", "total_changes() is not"
	    " allowed");
	forbidden(NULL, "select sql from sqlite_stmt", "sqlite_stmt is not"
	    " allowed: it shows other clients' statements");
	/* RETURNING gives what last_insert_rowid() would. */
	rows_are("rw", "insert into t values (43) returning rowid", "[[2]]");
	daemon_stop(&d);
}

/*
 * A writable database still changes its own tables, schema included; a
 * read-only one refuses to write as before (SQLite's own error).
 */

Test(sqlite_policy, writable_database_changes_its_own_tables)
{
	static const char *const fine[] = {
		"create table a(id integer primary key, v text)",
		"create index av on a(v)",
		"create view va as select v from a",
		"create table log(msg)",
		("create trigger at after insert on a begin"
		" insert into log values (new.v); end"),
		"insert into a(v) values ('one'), ('two')",
		"update a set v = upper(v) where id = 1",
		"alter table a add column w default 0",
		"alter table a rename column w to z",
		"delete from a where id = 2",
		"reindex av",
		"analyze",
		"begin",
		"savepoint s",
		"drop view va",
		"drop index av",
	};
	json_t	*r;
	size_t	 i;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, ONE_WORKER);

	for (i = 0; i < sizeof fine / sizeof fine[0]; i++)
		json_decref(dbtest_query_ok(&d, "rw", fine[i], NULL));
	rows_are(NULL, "select id, v, z from a", "[[1,\"ONE\",0]]");
	rows_are(NULL, "select msg from log order by rowid",
	    "[[\"one\"],[\"two\"]]");
	r = dbtest_query(&d, NULL, "insert into a(v) values ('x')", NULL);
	jstr_is(r, "results[0].error.code", "db_error");
	jstr_has(r, "results[0].error.message", "readonly");
	json_decref(r);
	cr_assert_eq(dbtest_int("main.db", "select count(*) from a"), 1);
	daemon_stop(&d);
}

/*
 * No value larger than max_result_bytes, refused while it is built: a
 * gigabyte blob is never allocated, and the worker is free at once.
 */

Test(sqlite_policy, huge_values_refused_while_built)
{
	static const char *const huge[] = {
		"select length(zeroblob(999999999) || zeroblob(1))",
		"select randomblob(999999999)",
		"select zeroblob(2000000)",
		"select length(printf('%.1000000c', 'x') || printf('%.100000c',"
		" 'x'))",
		"select group_concat(printf('%.10000c', 'x')) from (with"
		" recursive c(n) as (select 1 union all select n + 1 from c"
		" where n < 200) select n from c)",
	};
	json_t	*job, *jobs, *r;
	char	*msg, *big;
	size_t	 i;
	double	 t0, took;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, ONE_WORKER "[limits]\nmax_result_bytes = 1048576\n");

	for (i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		t0 = now_ms();
		msg = dbtest_query_fails(&d, NULL, huge[i], NULL, "too_large");
		took = now_ms() - t0;
		cr_assert_not_null(strstr(msg, "max_result_bytes (1048576"
		    " bytes)"), "%s: %s", huge[i], msg);
		free(msg);
		cr_assert_lt(took, slack_ms(PROMPT_MS), "%s took %.0f ms",
		    huge[i], took);
	}
	/* A parameter longer than a value may be. */
	big = harness_fill('p', 1100000);
	jobs = json_array();
	job = dbtest_qjob(NULL, "select length(?1)", NULL);
	json_object_set_new(job, "params", json_pack("[s]", big));
	json_array_append_new(jobs, job);
	free(big);
	r = dbtest_run_batch(&d, jobs);
	jstr_is(r, "results[0].error.code", "too_large");
	json_decref(r);

	/*
	 * A huge value under a short timeout_ms: reported at once, and the
	 * one worker is free for the next query (not busy for seconds).
	 */
	r = dbtest_timeout_then(&d, "select randomblob(999999999)", 50,
	    "select 'next'", &took);
	jhas(r, "results", "[{\"error\":{\"code\":\"too_large\"}},"
	    "{\"value\":{\"rows\":[[\"next\"]]}}]");
	json_decref(r);
	cr_assert_lt(took, slack_ms(PROMPT_MS), "took %.0f ms", took);
	/* What fits is fine. */
	rows_are(NULL, "select length(zeroblob(500000))", "[[500000]]");
	daemon_stop(&d);
}

/*
 * SQLite's heap has a bound: a row of many values, each within
 * max_result_bytes, cannot take the daemon's memory. The statement fails
 * with busy (SQLite's memory is shared by all queries), and the next one
 * works.
 */

Test(sqlite_policy, sqlite_heap_is_bounded)
{
	char	*sql, *p;
	int	 i;
	json_t	*r;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	/* 64 MiB + 1 x (2 MiB + 32 MiB) for SQLite. */
	dbtest_start(&d, ONE_WORKER "[limits]\nmax_result_bytes = 1048576\n");

	/* 120 values of 900,000 bytes: 108 MB in one row. */
	sql = malloc(64 * 120 + 32);
	cr_assert_not_null(sql);
	p = stpcpy(sql, "select ");
	for (i = 0; i < 120; i++)
		p += sprintf(p, "%sprintf('%%.900000c', '%c')", i > 0 ? ", " :
		    "", 'a' + i % 26);
	r = dbtest_query(&d, NULL, sql, NULL);
	free(sql);
	jstr_is(r, "results[0].error.code", "busy");
	jstr_has(r, "results[0].error.message", "SQLite is out of the memory"
	    " gatherd gives it");
	json_decref(r);
	rows_are(NULL, "select length(printf('%.900000c', 'x'))", "[[900000]]");
	daemon_ping(&d, slack_ms(PROMPT_MS));
	daemon_stop(&d);
}

/*
 * The lowered limits: deep expressions, long LIKE patterns, and more SQL
 * than a statement may have.
 */

Test(sqlite_policy, lowered_limits)
{
	char	*sql, *p;
	int	 i;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x)");
	dbtest_start(&d, ONE_WORKER);

	/* 300 nested parentheses: deeper than 250. */
	sql = malloc(1000);
	cr_assert_not_null(sql);
	p = stpcpy(sql, "select ");
	for (i = 0; i < 300; i++)
		*p++ = '(';
	*p++ = '1';
	for (i = 0; i < 300; i++)
		*p++ = ')';
	*p = '\0';
	free(dbtest_query_fails(&d, NULL, sql, NULL, "db_error"));
	free(sql);
	free(dbtest_query_fails(&d, NULL, "select 'a' like"
	    " printf('%.200c', '%')", NULL, "db_error"));
	rows_are(NULL, "select 'abc' like 'a%'", "[[1]]");
	/* 1.2 MB of SQL. */
	sql = malloc(1200100);
	cr_assert_not_null(sql);
	p = stpcpy(sql, "select '");
	memset(p, 'x', 1200000);
	strcpy(p + 1200000, "'");
	free(dbtest_query_fails(&d, NULL, sql, NULL, "too_large"));
	free(sql);
	daemon_stop(&d);
}
