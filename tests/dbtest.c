/*
 * Running query jobs through a test daemon, for the SQLite and PostgreSQL
 * suites; see dbtest.h.
 */

#include <errno.h>
#include <limits.h>
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

/* One query job as JSON; see dbtest.h. */
json_t *
dbtest_qjob(const char *db, const char *sql, const char *params)
{
	json_t	*job, *p;

	job = json_pack("{s:s, s:s}", "type", "query", "sql", sql);
	cr_assert_not_null(job);
	if (db != NULL)
		json_object_set_new(job, "db", json_string(db));
	if (params != NULL) {
		p = json_loads(params, JSON_DECODE_ANY, NULL);
		cr_assert_not_null(p, "bad params JSON %s", params);
		json_object_set_new(job, "params", p);
	}
	return job;
}

/* n query jobs of sql on db, as a new array. */
json_t *
dbtest_qjobs(const char *db, const char *sql, int n)
{
	json_t	*jobs = json_array();
	int	 i;

	cr_assert_not_null(jobs);
	for (i = 0; i < n; i++)
		json_array_append_new(jobs, dbtest_qjob(db, sql, NULL));
	return jobs;
}

/* n query jobs, job i with the params [i]. */
json_t *
dbtest_qjobs_numbered(const char *db, const char *sql, int n)
{
	json_t	*jobs = json_array();
	char	 p[32];
	int	 i;

	cr_assert_not_null(jobs);
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof p, "[%d]", i);
		json_array_append_new(jobs, dbtest_qjob(db, sql, p));
	}
	return jobs;
}

/* A batch request line; see dbtest.h. */
char *
dbtest_batch_line(json_t *jobs, const char *key, json_t *value)
{
	json_t	*req;
	char	*line;

	req = json_pack("{s:o}", "jobs", jobs);
	cr_assert_not_null(req);
	if (key != NULL)
		cr_assert_eq(json_object_set_new(req, key, value), 0,
		    "cannot add %s to the request", key);
	line = json_dumps(req, JSON_COMPACT);
	cr_assert_not_null(line);
	json_decref(req);
	return line;
}

/* Send one line on a fresh connection; its reply. */
json_t *
dbtest_request(struct daemon *d, const char *line)
{
	return daemon_request_ms(d, line,
	    (int)(DBTEST_REQUEST_MS * harness_slack()));
}

/* Run jobs as one batch; the reply. */
json_t *
dbtest_run_batch(struct daemon *d, json_t *jobs)
{
	char	*line = dbtest_batch_line(jobs, NULL, NULL);
	json_t	*r;

	r = dbtest_request(d, line);
	free(line);
	return r;
}

/* Run one query; the whole reply. */
json_t *
dbtest_query(struct daemon *d, const char *db, const char *sql,
    const char *params)
{
	json_t	*jobs = json_array();

	cr_assert_not_null(jobs);
	json_array_append_new(jobs, dbtest_qjob(db, sql, params));
	return dbtest_run_batch(d, jobs);
}

/* Run one query that must succeed; its value. */
json_t *
dbtest_query_ok(struct daemon *d, const char *db, const char *sql,
    const char *params)
{
	json_t	*r, *v;

	r = dbtest_query(d, db, sql, params);
	cr_assert(json_is_true(jget(r, "ok")) &&
	    json_is_true(jget(r, "results[0].ok")), "%s failed: %s", sql,
	    jtext(r));
	v = json_incref(jget(r, "results[0].value"));
	cr_assert(json_is_object(v), "no value: %s", jtext(r));
	json_decref(r);
	return v;
}

/* Run one query that must succeed; assert path of its value is want. */
void
dbtest_expect(struct daemon *d, const char *db, const char *sql,
    const char *path, const char *want)
{
	json_t	*v = dbtest_query_ok(d, db, sql, NULL);

	jeq(v, path, want);
	json_decref(v);
}

/* A batch run, and how long its reply took to come. */
json_t *
dbtest_run_timed(struct daemon *d, json_t *jobs, double *took)
{
	double	 t0 = now_ms();
	json_t	*r = dbtest_run_batch(d, jobs);

	*took = now_ms() - t0;
	return r;
}

/* A query under a job timeout, then another; the reply and its time. */
json_t *
dbtest_timeout_then(struct daemon *d, const char *sql, int timeout_ms,
    const char *next, double *took)
{
	json_t	*jobs = json_array(), *job;

	job = dbtest_qjob(NULL, sql, NULL);
	json_object_set_new(job, "timeout_ms", json_integer(timeout_ms));
	json_array_append_new(jobs, job);
	json_array_append_new(jobs, dbtest_qjob(NULL, next, NULL));
	return dbtest_run_timed(d, jobs, took);
}

/* One query that fails with code and a message holding words. */
void
dbtest_fails_with(struct daemon *d, const char *db, const char *sql,
    const char *params, const char *code, const char *words)
{
	char	*msg = dbtest_query_fails(d, db, sql, params, code);

	cr_assert_not_null(strstr(msg, words), "message: %s", msg);
	free(msg);
}

/* One query; its value's members named in want equal want's. */
void
dbtest_expect_keys(struct daemon *d, const char *db, const char *sql,
    const char *params, const char *want)
{
	json_t		*v = dbtest_query_ok(d, db, sql, params), *w, *m;
	const char	*key;

	w = json_loads(want, 0, NULL);
	cr_assert(json_is_object(w), "bad expected JSON %s", want);
	json_object_foreach(w, key, m) {
		cr_assert(json_equal(json_object_get(v, key), m),
		    "%s is %s, want %s in %s (%s)", key,
		    jtext(json_object_get(v, key)), jtext(m), jtext(v), sql);
	}
	json_decref(w);
	json_decref(v);
}

/* Send a batch on a new connection; the connection. */
int
dbtest_send(struct daemon *d, json_t *jobs, const char *key, json_t *value)
{
	char	*line = dbtest_batch_line(jobs, key, value);
	int	 fd = client_connect(d->sock);

	client_send(fd, line);
	free(line);
	return fd;
}

/* Run one query whose job must fail with code; its error message. */
char *
dbtest_query_fails(struct daemon *d, const char *db, const char *sql,
    const char *params, const char *code)
{
	json_t	*r;
	char	*msg;

	r = dbtest_query(d, db, sql, params);
	cr_assert(json_is_array(jget(r, "results")), "%s: the batch was"
	    " refused: %s", sql, jtext(r));
	jbool_is(r, "ok", false);
	jbool_is(r, "results[0].ok", false);
	jstr_is(r, "results[0].error.code", code);
	msg = strdup(jstr(r, "results[0].error.message"));
	cr_assert_not_null(msg);
	json_decref(r);
	return msg;
}

/* Poll status until the daemon and its pool are idle; the time it took. */
double
dbtest_settles(struct daemon *d, double within_ms, const char *what)
{
	struct settled	 want = { .pool = SETTLED_POOL };
	double		 t0 = now_ms();

	json_decref(await_settled(d, -1, &want, t0, within_ms, what));
	return now_ms() - t0;
}

char	dbtest_dir[256];

/* Make dbtest_dir, removed at the suite's fini. */
void
dbtest_files_init(void)
{
	harness_tmpdir(dbtest_dir, sizeof dbtest_dir, "gatherd-query");
}

/* dbtest_dir/name. */
const char *
dbtest_path(const char *name)
{
	static char	 buf[8][PATH_MAX];
	static unsigned	 next;
	char		*b = buf[next++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", dbtest_dir, name);
	return b;
}

/* Open name read-write; asserts. */
sqlite3 *
dbtest_open(const char *name)
{
	sqlite3	*db = NULL;
	int	 rc;

	rc = sqlite3_open_v2(dbtest_path(name), &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL);
	cr_assert_eq(rc, SQLITE_OK, "open %s: %s", dbtest_path(name),
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return db;
}

/* Run sql on db; asserts. */
void
dbtest_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK,
	    "%s: %s", sql, err != NULL ? err : "?");
}

/* Make database name with sql run in it. */
void
dbtest_make(const char *name, const char *sql)
{
	sqlite3	*db = dbtest_open(name);

	dbtest_exec(db, sql);
	sqlite3_close(db);
}

/* The single integer sql gives in database name. */
sqlite3_int64
dbtest_int(const char *name, const char *sql)
{
	sqlite3		*db = dbtest_open(name);
	sqlite3_stmt	*st;
	sqlite3_int64	 v;

	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql,
	    sqlite3_errmsg(db));
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Start a daemon with conf, "%D" standing for dbtest_dir. */
void
dbtest_start(struct daemon *d, const char *conf)
{
	const char	*s;
	char		*text, *p;
	size_t		 n = 0;

	for (s = conf; (s = strstr(s, "%D")) != NULL; s += 2)
		n++;
	text = malloc(strlen(conf) + n * strlen(dbtest_dir) + 1);
	cr_assert_not_null(text);
	for (p = text, s = conf; *s != '\0';) {
		if (s[0] == '%' && s[1] == 'D') {
			p = stpcpy(p, dbtest_dir);
			s += 2;
		} else
			*p++ = *s++;
	}
	*p = '\0';
	daemon_start(d, text, NULL);
	free(text);
}

/* A daemon on main.db, which this process holds locked; see dbtest.h. */
sqlite3 *
dbtest_start_locked(struct daemon *d, unsigned threads, int busy_timeout_ms,
    int *fd)
{
	sqlite3	*lock;
	char	*conf;

	dbtest_files_init();
	dbtest_make("main.db", "create table t(x); insert into t values (1)");
	conf = harness_fmt("threads = %u\n[db.default]\ndriver = sqlite\n"
	    "path = %%D/main.db\nbusy_timeout_ms = %d\n", threads,
	    busy_timeout_ms);
	dbtest_start(d, conf);
	free(conf);
	json_decref(dbtest_query_ok(d, NULL, "select x from t", NULL));
	lock = dbtest_open("main.db");
	dbtest_exec(lock, "begin exclusive; insert into t values (2)");
	*fd = client_connect(d->sock);
	return lock;
}
