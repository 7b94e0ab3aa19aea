/*
 * A statement sees every committed change, schema included, whichever
 * worker runs it; and changes is the statement's own count. Each worker
 * has its own SQLite connection with its own copy of the schema, so the
 * tests steer jobs to workers: a job waiting for a lock this process holds
 * keeps its worker, so n jobs sent while the file is locked land on n
 * different workers (run_pinned), and a job on a locked second file keeps
 * one worker away while the other runs everything else (block_one).
 */

#include <poll.h>
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

static struct daemon	d;

HARNESS_SUITE(sqlite_schema, 240);

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
	int	 fd, n = (int)json_array_size(jobs);

	lock = dbtest_open("main.db");
	dbtest_exec(lock, "begin exclusive");
	fd = dbtest_send(&d, jobs, NULL, NULL);
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

/* Run a and b pinned, one on each worker; assert both succeeded. */
static void
both_run_ok(const char *a, const char *b, const char *what)
{
	json_t	*r = run_pinned(two(a, b));

	both_ok(r, what);
	json_decref(r);
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
	both_run_ok("select * from t, a", "select * from t, b", "warm-up");

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
	both_run_ok("create index i on t(c)", "create index j on t(c)",
	    "CREATE INDEX after the table was made again");
	both_run_ok("alter table a rename column y to z",
	    "alter table b rename column y to z",
	    "RENAME COLUMN after ADD COLUMN");
	both_run_ok("reindex k1", "reindex k2",
	    "REINDEX of an index made elsewhere");
	/* And both see the new columns. */
	r = run_pinned(two("select * from a", "select * from b"));
	jeq(r, "results[0].value.columns", "[\"x\",\"z\"]");
	jeq(r, "results[0].value.rows", "[[1,\"ya\"]]");
	jeq(r, "results[1].value.columns", "[\"x\",\"z\"]");
	jeq(r, "results[1].value.rows", "[[2,\"yb\"]]");
	json_decref(r);
	r = run_pinned(two("select * from b", "select * from a"));
	jhas(r, "results", "[{\"value\":{\"columns\":[\"x\",\"z\"]}},"
	    "{\"value\":{\"columns\":[\"x\",\"z\"]}}]");
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
	both_run_ok("select * from t, a", "select * from a", "warm-up");

	dbtest_make("main.db", "drop table t; create table t(c);"
	    " alter table a add column y default 'y'; create index k on a(x)");
	both_run_ok("create index i on t(c)",
	    "alter table a rename column y to z",
	    "after another process changed the schema");
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
	dbtest_expect_keys(&d, "rw", "select count(*) from audit", NULL,
	    "{\"rows\":[[10]],\"changes\":0}");
	changes_are("delete from t where x > 10", "2");
	daemon_stop(&d);
}
