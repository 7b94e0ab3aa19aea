/*
 * Running query jobs through a test daemon: the requests that the SQLite
 * and PostgreSQL suites share, built with jansson (so SQL needs no
 * escaping) and sent to a struct daemon from the harness. params is JSON
 * text, or NULL for none; db may be NULL (the default database). Every
 * helper asserts (Criterion) instead of returning errors.
 */
#ifndef GATHERD_DBTEST_H
#define GATHERD_DBTEST_H

#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"

/* How long a request may wait for its reply, before harness_slack(). */
#define DBTEST_REQUEST_MS	30000

/*
 * A sample database for dbtest_start: %D/main.db, read-only to the daemon
 * as "default", writable as "rw", on four workers.
 */
#define DBTEST_MAIN_CONF \
	"threads = 4\n" \
	"[db.default]\ndriver = sqlite\npath = %D/main.db\n" \
	"[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n"

/* Build one query job as JSON; caller decrefs. */
json_t	*dbtest_qjob(const char *db, const char *sql, const char *params);
/* n such jobs (no params), as a new array. */
json_t	*dbtest_qjobs(const char *db, const char *sql, int n);
/* n jobs of sql, job i with the params [i], as a new array. */
json_t	*dbtest_qjobs_numbered(const char *db, const char *sql, int n);
/* Build a batch request line for jobs (stolen), plus key: value (stolen) if key is not NULL; caller frees. */
char	*dbtest_batch_line(json_t *jobs, const char *key, json_t *value);
/* Send one line on a fresh connection and return the reply; caller decrefs. */
json_t	*dbtest_request(struct daemon *, const char *line);
/* Run jobs (stolen) as one batch and return the reply; caller decrefs. */
json_t	*dbtest_run_batch(struct daemon *, json_t *jobs);
/* dbtest_run_batch, and in *took how long its reply took to come. */
json_t	*dbtest_run_timed(struct daemon *, json_t *jobs, double *took);
/*
 * Run a batch of two queries on the default database, sql under a job
 * timeout_ms, then next; return the reply (caller decrefs), and in *took
 * how long it took to come.
 */
json_t	*dbtest_timeout_then(struct daemon *, const char *sql, int timeout_ms,
	    const char *next, double *took);
/* Run one query and return the whole reply; caller decrefs. */
json_t	*dbtest_query(struct daemon *, const char *db, const char *sql,
	    const char *params);
/* Run one query, assert it succeeds and return its value; caller decrefs. */
json_t	*dbtest_query_ok(struct daemon *, const char *db, const char *sql,
	    const char *params);
/* Run one query, assert it succeeds and that path of its value is want (JSON text). */
void	 dbtest_expect(struct daemon *, const char *db, const char *sql,
	    const char *path, const char *want);
/*
 * Run one query, assert it succeeds and that each member of the JSON
 * object want ("columns", "rows", "changes") equals its value's.
 */
void	 dbtest_expect_keys(struct daemon *, const char *db, const char *sql,
	    const char *params, const char *want);
/* Send jobs (stolen) as one batch, plus key: value if key is not NULL, on a new connection; its descriptor, for the reply. */
int	 dbtest_send(struct daemon *, json_t *jobs, const char *key,
	    json_t *value);
/* Run one query, assert the batch is accepted but fails and the job fails with code, and return the error message; caller frees. */
char	*dbtest_query_fails(struct daemon *, const char *db, const char *sql,
	    const char *params, const char *code);

/*
 * Run one query, assert the batch is accepted but the job fails with
 * code and a message that holds words.
 */
void	 dbtest_fails_with(struct daemon *, const char *db, const char *sql,
	    const char *params, const char *code, const char *words);

/*
 * Poll status until no job or batch is in flight and the pool has
 * nothing queued or busy; assert it takes < within_ms. Returns the time
 * it took.
 */
double	 dbtest_settles(struct daemon *, double within_ms, const char *what);

/*
 * SQLite files for a test, made with the sqlite3 API in the test process,
 * in a private directory: dbtest_dir, "" until dbtest_files_init().
 * Database suites use harness_suite_init and harness_suite_fini.
 */
extern char	dbtest_dir[256];

/* Make dbtest_dir, which the harness's suite fini removes. */
void	 dbtest_files_init(void);
/* dbtest_dir/name, in one of 8 static buffers used in turn. */
const char *dbtest_path(const char *name);
/* Open name in dbtest_dir read-write (created if need be); asserts. */
sqlite3	*dbtest_open(const char *name);
/* Run sql (any number of statements) on db; asserts. */
void	 dbtest_exec(sqlite3 *, const char *sql);
/* Make database name in dbtest_dir with sql run in it. */
void	 dbtest_make(const char *name, const char *sql);
/* The single integer sql gives in database name, read by this process. */
sqlite3_int64 dbtest_int(const char *name, const char *sql);
/*
 * Start a daemon with conf (appended to its [daemon] section, so it may
 * begin with [daemon] keys); "%D" in conf stands for dbtest_dir.
 */
void	 dbtest_start(struct daemon *, const char *conf);
/*
 * dbtest_files_init, main.db with a table t of one row (x = 1), and a
 * daemon on threads workers whose default database it is, waiting
 * busy_timeout_ms for a lock; once the daemon has read t, this process
 * takes main.db's lock and holds it in a transaction that adds a row,
 * and connects a client (its socket in *fd). Returns the connection that
 * holds the lock: dbtest_exec(db, "rollback") lets go.
 */
sqlite3	*dbtest_start_locked(struct daemon *, unsigned threads,
	    int busy_timeout_ms, int *fd);

#endif
