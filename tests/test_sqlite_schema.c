/*
 * A statement sees every committed change, schema included, whichever
 * worker runs it; and changes is the statement's own count. Each worker
 * has its own SQLite connection with its own copy of the schema, so the
 * tests steer jobs to workers: a job waiting for a lock this process holds
 * keeps its worker, so n jobs sent while the file is locked land on n
 * different workers (run_pinned), and a job on a locked second file keeps
 * one worker away while the other runs everything else (block_one).
 *
 * The differential test runs thousands of random statements, DDL and DML
 * mixed, through gatherd's query job on four workers and through this
 * process's own SQLite connection on a copy of the same database, and
 * compares every result, type for type.
 */

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>

#include "base64.h"
#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "utf8.h"

static struct daemon	d;

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

TestSuite(sqlite_schema, .init = suite_init, .fini = suite_fini,
    .timeout = 240);

/* Two workers, main.db writable as "rw"; blocker.db to hold one worker. */
#define TWO_WORKERS \
	"threads = 2\n" \
	"[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n" \
	"busy_timeout_ms = 30000\n" \
	"[db.blocker]\ndriver = sqlite\npath = %D/blocker.db\n" \
	"busy_timeout_ms = 30000\n"

/*
 * Wait until the pool has n busy workers, or until fd (if not -1) has a
 * reply: then a job ended without waiting for the lock (it failed
 * without reading the file), and its result tells. Asserts one comes.
 */
static void
await_busy(int n, int fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	double		 t0 = now_ms();
	json_t		*st;
	int		 busy;

	for (;;) {
		st = daemon_status(&d, slack_ms(5000));
		busy = (int)jint(st, "pool.busy");
		json_decref(st);
		if (busy == n || (fd != -1 && poll(&pfd, 1, 0) == 1))
			return;
		cr_assert_lt(now_ms() - t0, slack_ms(5000), "%d busy workers,"
		    " not %d", busy, n);
		usleep(5000);
	}
}

/*
 * Run jobs (stolen), one batch, each on a worker of its own: they are
 * sent while this process holds main.db locked, and each keeps its worker
 * waiting until every one does. The reply.
 */
static json_t *
run_pinned(json_t *jobs)
{
	sqlite3	*lock;
	json_t	*r;
	char	*line;
	int	 fd, n = (int)json_array_size(jobs);

	lock = dbtest_open("main.db");
	dbtest_exec(lock, "begin exclusive");
	line = dbtest_batch_line(jobs, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, line);
	free(line);
	await_busy(n, fd);
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);
	r = client_recv_json(fd, slack_ms(30000));
	close(fd);
	return r;
}

/* Two query jobs on "rw", as an array. */
static json_t *
two(const char *a, const char *b)
{
	json_t	*jobs = json_array();

	json_array_append_new(jobs, dbtest_qjob("rw", a, NULL));
	json_array_append_new(jobs, dbtest_qjob("rw", b, NULL));
	return jobs;
}

/* Assert both jobs of r succeeded. */
static void
both_ok(json_t *r, const char *what)
{
	cr_assert(json_is_true(jget(r, "results[0].ok")) &&
	    json_is_true(jget(r, "results[1].ok")), "%s: %s", what, jtext(r));
}

/*
 * One worker is kept waiting on blocker.db (locked by *lock) while the
 * other runs what follows; block_end lets it go. The connection of the
 * waiting job is returned.
 */
static int
block_one(sqlite3 **lock)
{
	int	fd;

	*lock = dbtest_open("blocker.db");
	dbtest_exec(*lock, "begin exclusive");
	fd = client_connect(d.sock);
	client_send(fd, "{\"jobs\":[{\"type\":\"query\",\"db\":\"blocker\","
	    "\"sql\":\"select count(*) from b\"}]}");
	await_busy(1, -1);
	return fd;
}

static void
block_end(sqlite3 *lock, int fd)
{
	json_t	*r;

	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);
	r = client_recv_json(fd, slack_ms(30000));
	jbool_is(r, "ok", true);
	json_decref(r);
	close(fd);
}

/* Run sql on "rw" through the daemon; assert it succeeds. */
static void
ok(const char *sql)
{
	json_decref(dbtest_query_ok(&d, "rw", sql, NULL));
}

/*
 * The cases: one worker changes the schema, the other, whose
 * schema is older, then runs statements that only a fresh schema allows
 * (SQLite decides them while parsing, before it checks the schema
 * cookie). Each pair runs one statement on each worker, so the older one
 * meets one of them, whichever.
 */

Test(sqlite_schema, a_worker_sees_another_workers_schema_changes)
{
	sqlite3	*lock;
	json_t	*r;
	int	 fd;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(c); create index i on t(c);"
	    " create index j on t(c); create table a(x); create table b(x);"
	    " insert into a values (1); insert into b values (2)");
	dbtest_make("blocker.db", "create table b(x)");
	dbtest_start(&d, TWO_WORKERS);

	/* Both workers load the schema. */
	r = run_pinned(two("select * from t, a", "select * from t, b"));
	both_ok(r, "warm-up");
	json_decref(r);

	/* One worker changes it... */
	fd = block_one(&lock);
	ok("drop table t");
	ok("create table t(c)");
	ok("alter table a add column y default 'ya'");
	ok("alter table b add column y default 'yb'");
	ok("create index k1 on t(c)");
	ok("create index k2 on t(c)");
	block_end(lock, fd);

	/* ...the other runs what needs the new one. */
	r = run_pinned(two("create index i on t(c)", "create index j on t(c)"));
	both_ok(r, "CREATE INDEX after the table was made again");
	json_decref(r);
	r = run_pinned(two("alter table a rename column y to z",
	    "alter table b rename column y to z"));
	both_ok(r, "RENAME COLUMN after ADD COLUMN");
	json_decref(r);
	r = run_pinned(two("reindex k1", "reindex k2"));
	both_ok(r, "REINDEX of an index made elsewhere");
	json_decref(r);
	/* And both see the new columns. */
	r = run_pinned(two("select * from a", "select * from b"));
	jeq(r, "results[0].value.columns", "[\"x\",\"z\"]");
	jeq(r, "results[0].value.rows", "[[1,\"ya\"]]");
	jeq(r, "results[1].value.columns", "[\"x\",\"z\"]");
	jeq(r, "results[1].value.rows", "[[2,\"yb\"]]");
	json_decref(r);
	r = run_pinned(two("select * from b", "select * from a"));
	jeq(r, "results[0].value.columns", "[\"x\",\"z\"]");
	jeq(r, "results[1].value.columns", "[\"x\",\"z\"]");
	json_decref(r);
	daemon_stop(&d);
}

/*
 * Another process changes the schema: no worker has heard of it, and the
 * statements that need it still work (a failed prepare is tried again
 * after a refresh, when the file changed).
 */

Test(sqlite_schema, another_process_changes_the_schema)
{
	json_t	*r;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(c); create index i on t(c);"
	    " create table a(x); insert into a values (1)");
	dbtest_make("blocker.db", "create table b(x)");
	dbtest_start(&d, TWO_WORKERS);
	r = run_pinned(two("select * from t, a", "select * from a"));
	both_ok(r, "warm-up");
	json_decref(r);

	dbtest_make("main.db", "drop table t; create table t(c);"
	    " alter table a add column y default 'y'; create index k on a(x)");
	r = run_pinned(two("create index i on t(c)",
	    "alter table a rename column y to z"));
	both_ok(r, "after another process changed the schema");
	json_decref(r);
	r = run_pinned(two("reindex k", "select * from a"));
	both_ok(r, "after another process changed the schema");
	jeq(r, "results[1].value.columns", "[\"x\",\"z\"]");
	json_decref(r);
	/* A statement that is wrong stays wrong, with SQLite's message. */
	r = dbtest_query(&d, "rw", "create index k on a(x)", NULL);
	jstr_is(r, "results[0].error.code", "db_error");
	jstr_is(r, "results[0].error.message", "index k already exists");
	json_decref(r);
	daemon_stop(&d);
}

/*
 * changes is the rows the statement itself inserted, updated or deleted:
 * not its triggers' rows, and 0 for a statement that is not an INSERT,
 * UPDATE or DELETE, whatever ran before it on the connection.
 */

/* Assert sql on "rw" reports changes want. */
static void
changes_are(const char *sql, const char *want)
{
	dbtest_expect(&d, "rw", sql, "changes", want);
}

Test(sqlite_schema, changes_is_the_statements_own)
{
	json_t	*v;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); create table audit(m);"
	    " create trigger ta after insert on t begin"
	    " insert into audit values ('a' || new.x);"
	    " insert into audit values ('b' || new.x); end;"
	    " create trigger tu after update on t begin"
	    " insert into audit values ('u'); end;"
	    " create view v as select x from t;"
	    " create trigger tv instead of insert on v begin"
	    " insert into t values (new.x); insert into t values (new.x); end");
	dbtest_make("blocker.db", "create table b(x)");
	dbtest_start(&d, "threads = 1\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");

	changes_are("insert into t values (1), (2)", "2");
	changes_are("update t set x = x + 10", "2");
	/* Through a view: the rows go in by the trigger alone. */
	changes_are("insert into v values (7)", "0");
	/* Not a write: 0, though SQLite's changes() still says 2. */
	changes_are("create table u as select * from t", "0");
	v = dbtest_query_ok(&d, "rw", "select count(*) from audit", NULL);
	jeq(v, "rows", "[[10]]");
	jeq(v, "changes", "0");
	json_decref(v);
	changes_are("delete from t where x > 10", "2");
	daemon_stop(&d);
}

/*
 * The differential test.
 */

/* A small deterministic generator (xorshift64*), seeded per run. */
static uint64_t	rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static int
pick(int n)
{
	return (int)(rng() % (uint64_t)n);
}

#define MAX_TABLES	6
#define MAX_COLS	8

/* What the generator knows of the schema (from the reference's results). */
struct mtable {
	char	name[16];
	int	view;
	int	ncols;
	char	cols[MAX_COLS][16];
};

static struct mtable	model[MAX_TABLES];
static int		nmodel;
static int		next_id;

enum { K_QUERY, K_DML, K_DDL };

/* A random SQL literal: integer, real, text, blob or NULL. */
static void
literal(char *buf, size_t size)
{
	static const char *const texts[] = {
		"'a'", "'hello world'", "'caf\xc3\xa9'", "'\xe2\x98\x83'",
		"'it''s'", "''", "'42'", "'1e3'",
	};

	switch (pick(6)) {
	case 0:
		snprintf(buf, size, "%lld", (long long)(pick(2001) - 1000));
		break;
	case 1:
		snprintf(buf, size, "%lld", (long long)rng());
		break;
	case 2:
		snprintf(buf, size, "%d.%d", pick(1000) - 500, pick(100));
		break;
	case 3:
		snprintf(buf, size, "%s", texts[pick(8)]);
		break;
	case 4:
		snprintf(buf, size, "x'%02x%02x00ff'", pick(256), pick(256));
		break;
	default:
		snprintf(buf, size, "NULL");
		break;
	}
}

static struct mtable *
random_table(int want_view)
{
	int	i, n = 0, idx[MAX_TABLES];

	for (i = 0; i < nmodel; i++) {
		if (model[i].view == want_view)
			idx[n++] = i;
	}
	return n == 0 ? NULL : &model[idx[pick(n)]];
}

static const char *
random_col(const struct mtable *t)
{
	return t->ncols == 0 ? "rowid" : t->cols[pick(t->ncols)];
}

/* The next random statement into sql; its kind. */
static int
generate(char *sql, size_t size)
{
	static const char *const types[] = {
		"integer", "real", "text", "blob", "", "numeric",
	};
	struct mtable	*t = random_table(0), *u;
	char		 lit[64], lit2[64];
	int		 i, n, r = pick(100);

	if (t == NULL || (r < 8 && nmodel < MAX_TABLES)) {
		n = 1 + pick(4);
		i = snprintf(sql, size, "create table t%d(", next_id++);
		for (int c = 0; c < n; c++)
			i += snprintf(sql + i, size - (size_t)i, "%sc%d %s%s",
			    c > 0 ? ", " : "", next_id++, types[pick(6)],
			    pick(5) == 0 ? " default 7" : "");
		snprintf(sql + i, size - (size_t)i, ")");
		return K_DDL;
	}
	if (r < 10) {
		snprintf(sql, size, "drop table %s", t->name);
		return K_DDL;
	}
	if (r < 14) {
		literal(lit, sizeof lit);
		snprintf(sql, size, "alter table %s add column c%d %s default %s",
		    t->name, next_id++, types[pick(6)], lit);
		return K_DDL;
	}
	if (r < 17) {
		snprintf(sql, size, "alter table %s rename column %s to c%d",
		    t->name, random_col(t), next_id++);
		return K_DDL;
	}
	if (r < 19) {
		snprintf(sql, size, "alter table %s drop column %s", t->name,
		    random_col(t));
		return K_DDL;
	}
	if (r < 21) {
		snprintf(sql, size, "alter table %s rename to t%d", t->name,
		    next_id++);
		return K_DDL;
	}
	if (r < 25) {
		snprintf(sql, size, "create index i%d on %s(%s)", pick(6),
		    t->name, random_col(t));
		return K_DDL;
	}
	if (r < 27) {
		snprintf(sql, size, "drop index i%d", pick(6));
		return K_DDL;
	}
	if (r < 28) {
		snprintf(sql, size, "reindex %s", t->name);
		return K_DDL;
	}
	if (r < 31) {
		if (nmodel >= MAX_TABLES) {
			u = random_table(1);
			snprintf(sql, size, "drop view %s", u != NULL ?
			    u->name : "nosuch");
			return K_DDL;
		}
		snprintf(sql, size, "create view v%d as select * from %s where"
		    " %s is not null", next_id++, t->name, random_col(t));
		return K_DDL;
	}
	if (r < 33) {
		snprintf(sql, size, "create trigger tr%d after %s on %s begin"
		    " insert into log values ('%s', %s.rowid); end", pick(4),
		    pick(2) ? "insert" : "delete", t->name, t->name,
		    "new");
		/* "new" for insert, "old" for delete. */
		if (strstr(sql, "after delete") != NULL)
			memcpy(strstr(sql, "new.rowid"), "old", 3);
		return K_DDL;
	}
	if (r < 50) {
		n = 1 + pick(3);
		i = snprintf(sql, size, "insert into %s values ", t->name);
		for (int row = 0; row < n; row++) {
			i += snprintf(sql + i, size - (size_t)i, "%s(",
			    row > 0 ? ", " : "");
			for (int c = 0; c < t->ncols; c++) {
				literal(lit, sizeof lit);
				i += snprintf(sql + i, size - (size_t)i, "%s%s",
				    c > 0 ? ", " : "", lit);
			}
			i += snprintf(sql + i, size - (size_t)i, ")");
		}
		return K_DML;
	}
	if (r < 54) {
		u = random_table(0);
		snprintf(sql, size, "insert into %s select * from %s limit 5",
		    t->name, u->name);
		return K_DML;
	}
	if (r < 60) {
		literal(lit, sizeof lit);
		snprintf(sql, size, "update %s set %s = %s where rowid %% %d = %d",
		    t->name, random_col(t), lit, 2 + pick(3), pick(2));
		return K_DML;
	}
	if (r < 64) {
		snprintf(sql, size, "delete from %s where rowid %% %d = 0",
		    t->name, 2 + pick(4));
		return K_DML;
	}
	if (r < 66) {
		literal(lit, sizeof lit);
		snprintf(sql, size, "insert or replace into %s(rowid, %s) values"
		    " (%d, %s)", t->name, random_col(t), 1 + pick(5), lit);
		return K_DML;
	}
	if (r < 78) {
		snprintf(sql, size, "select rowid, * from %s order by rowid",
		    t->name);
		return K_QUERY;
	}
	if (r < 82) {
		u = random_table(1);
		snprintf(sql, size, "select * from %s", u != NULL ? u->name :
		    t->name);
		return K_QUERY;
	}
	if (r < 86) {
		snprintf(sql, size, "select count(*), typeof(max(%s)), min(%s),"
		    " total(length(%s)) from %s", random_col(t), random_col(t),
		    random_col(t), t->name);
		return K_QUERY;
	}
	if (r < 89) {
		snprintf(sql, size, "select name, type, \"notnull\", dflt_value"
		    " from pragma_table_info('%s') order by cid", t->name);
		return K_QUERY;
	}
	if (r < 92) {
		snprintf(sql, size, "select type, name, tbl_name, sql from"
		    " sqlite_schema order by name");
		return K_QUERY;
	}
	if (r < 95) {
		snprintf(sql, size, "select what, count(*) from log group by"
		    " what order by what");
		return K_QUERY;
	}
	if (r < 97) {
		literal(lit, sizeof lit);
		literal(lit2, sizeof lit2);
		snprintf(sql, size, "select %s, %s, %s || %s, %s + 1", lit, lit2,
		    lit, lit2, lit);
		return K_QUERY;
	}
	snprintf(sql, size, "select %s from %s where rowid > 2 order by"
	    " rowid limit 3", random_col(t), t->name);
	return K_QUERY;
}

/* Read the schema back from the reference into the model. */
static void
model_load(sqlite3 *ref)
{
	sqlite3_stmt	*st, *ci;
	char		 q[128];
	struct mtable	*t;

	nmodel = 0;
	cr_assert_eq(sqlite3_prepare_v2(ref, "select name, type = 'view' from"
	    " sqlite_schema where type in ('table', 'view') and name not in"
	    " ('log') and name not like 'sqlite%' order by name", -1, &st,
	    NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && nmodel < MAX_TABLES) {
		t = &model[nmodel++];
		snprintf(t->name, sizeof t->name, "%s",
		    (const char *)sqlite3_column_text(st, 0));
		t->view = sqlite3_column_int(st, 1);
		t->ncols = 0;
		snprintf(q, sizeof q, "select name from pragma_table_info('%s')",
		    t->name);
		cr_assert_eq(sqlite3_prepare_v2(ref, q, -1, &ci, NULL),
		    SQLITE_OK);
		while (sqlite3_step(ci) == SQLITE_ROW && t->ncols < MAX_COLS)
			snprintf(t->cols[t->ncols++], sizeof t->cols[0], "%s",
			    (const char *)sqlite3_column_text(ci, 0));
		sqlite3_finalize(ci);
	}
	sqlite3_finalize(st);
}

/*
 * Run sql on the reference and build what gatherd should answer: the
 * result object {"ok":true,"value":{...}} or {"ok":false,"error":...},
 * values mapped as gatherd maps them.
 */
static json_t *
reference(sqlite3 *ref, const char *sql, int kind)
{
	sqlite3_stmt	*st;
	json_t		*cols, *rows, *row, *v;
	char		*b64;
	size_t		 len;
	int		 i, n, rc;

	if (sqlite3_prepare_v2(ref, sql, -1, &st, NULL) != SQLITE_OK)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
		    "code", "db_error", "message", sqlite3_errmsg(ref));
	cols = json_array();
	rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_count(st);
		row = json_array();
		for (i = 0; i < n; i++) {
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(st, i));
				break;
			case SQLITE_FLOAT:
				v = json_real(sqlite3_column_double(st, i));
				break;
			case SQLITE_TEXT:
				/*
				 * As gatherd: text not UTF-8 fails the job
				 * (no statement here makes any).
				 */
				if (!utf8_valid(sqlite3_column_text(st, i),
				    (size_t)sqlite3_column_bytes(st, i),
				    NULL)) {
					json_decref(row);
					json_decref(rows);
					json_decref(cols);
					sqlite3_finalize(st);
					return json_pack("{s:b, s:{s:s}}", "ok",
					    0, "error", "code", "bad_encoding");
				}
				v = json_stringn((const char *)
				    sqlite3_column_text(st, i),
				    (size_t)sqlite3_column_bytes(st, i));
				break;
			case SQLITE_BLOB:
				b64 = base64_encode_alloc(
				    sqlite3_column_blob(st, i),
				    (size_t)sqlite3_column_bytes(st, i), &len);
				v = json_stringn(b64, len);
				free(b64);
				break;
			default:
				v = json_null();
				break;
			}
			json_array_append_new(row, v);
		}
		json_array_append_new(rows, row);
	}
	n = sqlite3_column_count(st);
	for (i = 0; i < n; i++)
		json_array_append_new(cols, json_string(sqlite3_column_name(st,
		    i)));
	if (rc != SQLITE_DONE) {
		json_decref(cols);
		json_decref(rows);
		v = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
		    "db_error", "message", sqlite3_errmsg(ref));
		sqlite3_finalize(st);
		return v;
	}
	sqlite3_finalize(st);
	return json_pack("{s:b, s:{s:o, s:o, s:I}}", "ok", 1, "value",
	    "columns", cols, "rows", rows, "changes", kind == K_DML ?
	    (json_int_t)sqlite3_changes64(ref) : (json_int_t)0);
}

/* Assert gatherd's result equals the reference's, type for type. */
static void
compare(int index, const char *sql, json_t *want, json_t *got)
{
	json_t	*w, *g;
	char	*ws, *gs;

	if (json_is_true(jget(want, "ok"))) {
		w = json_object_get(want, "value");
		g = json_object_get(got, "value");
	} else {
		w = json_object_get(want, "error");
		g = json_object_get(got, "error");
		/* A reference error with no message: the code is enough. */
		if (json_object_get(w, "message") == NULL) {
			w = json_object_get(w, "code");
			g = json_object_get(g, "code");
		}
	}
	if (json_equal(json_object_get(want, "ok"),
	    json_object_get(got, "ok")) && json_equal(w, g))
		return;
	ws = json_dumps(want, JSON_COMPACT);
	gs = json_dumps(got, JSON_COMPACT);
	cr_assert_fail("statement %d, %s:\nreference %s\ngatherd   %s", index,
	    sql, ws, gs);
}

Test(sqlite_schema, differential_against_another_client)
{
	const int	 chunk = 50;
	int		 total = harness_slack() > 1.0 ? 600 : 3000;
	sqlite3		*ref;
	json_t		*jobs, *want, *sqls, *r;
	char		 sql[1024], *line, path[32];
	int		 done = 0, k, kind, nfail = 0, nddl = 0;
	int		 fd;
	double		 t0 = now_ms();
	const char	*seed_env = getenv("GATHERD_DIFF_SEED");

	rng_state = seed_env != NULL ? strtoull(seed_env, NULL, 0) :
	    UINT64_C(0x9e3779b97f4a7c15);
	fprintf(stderr, "sqlite_schema: differential seed 0x%llx"
	    " (GATHERD_DIFF_SEED)\n", (unsigned long long)rng_state);
	dbtest_files_init();
	dbtest_make("main.db", "create table log(what, id);"
	    " create table t0(c1 integer, c2 text); insert into t0"
	    " values (1, 'one'), (2, 'two')");
	dbtest_make("ref.db", "create table log(what, id);"
	    " create table t0(c1 integer, c2 text); insert into t0"
	    " values (1, 'one'), (2, 'two')");
	next_id = 10;
	dbtest_start(&d, "threads = 4\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");
	ref = dbtest_open("ref.db");
	fd = client_connect(d.sock);

	while (done < total) {
		/*
		 * A chunk: generated and run on the reference statement by
		 * statement, then run by gatherd one job at a time, in order
		 * (concurrency 1), on whichever worker is free.
		 */
		jobs = json_array();
		want = json_array();
		sqls = json_array();
		for (k = 0; k < chunk; k++) {
			model_load(ref);
			kind = generate(sql, sizeof sql);
			json_array_append_new(want, reference(ref, sql, kind));
			json_array_append_new(jobs, dbtest_qjob("rw", sql,
			    NULL));
			json_array_append_new(sqls, json_string(sql));
			nddl += kind == K_DDL;
		}
		line = dbtest_batch_line(jobs, "concurrency", json_integer(1));
		client_send(fd, line);
		free(line);
		r = client_recv_json(fd, slack_ms(60000));
		for (k = 0; k < chunk; k++) {
			snprintf(path, sizeof path, "results[%d]", k);
			compare(done + k, json_string_value(json_array_get(sqls,
			    (size_t)k)), json_array_get(want, (size_t)k),
			    jget(r, path));
			nfail += !json_is_true(json_object_get(jget(r, path),
			    "ok"));
		}
		json_decref(r);
		json_decref(want);
		json_decref(sqls);
		done += chunk;
	}
	close(fd);
	sqlite3_close(ref);
	fprintf(stderr, "sqlite_schema: %d statements (%d DDL, %d failed on"
	    " both sides) identical to the reference in %.0f ms\n", done,
	    nddl, nfail, now_ms() - t0);
	daemon_stop(&d);
}
