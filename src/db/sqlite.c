/*
 * SQLite on the worker pool. Each worker thread keeps its own connection
 * to each database it has used (opened lazily, read-only unless the
 * database is writable) and a small cache of prepared statements per
 * connection; a connection is never shared between threads, and thread
 * exit closes them (a pthread key destructor).
 *
 * A connection serves every job its worker runs, whoever sent it, so it
 * runs under db/sqlite_policy.c: nothing a statement may do outlives its
 * job. Each job is its own transaction (one left open is rolled back), a
 * cancelled or timed-out job is interrupted (the progress handler, and a
 * busy handler that stops waiting for a lock), and its value is held to
 * max_result_bytes while db/result.c encodes it: a cell that cannot fit
 * stops the stepping at once.
 *
 * Fresh schema: SQLite parses a statement against the schema the
 * connection has in memory and only checks the schema cookie when the
 * statement runs, so a connection whose schema another one changed can
 * refuse a statement that is right ("index i already exists" after the
 * table was dropped and made again). Two checks keep it fresh without a
 * statement more per query in the common case: workers that change a
 * file's schema bump its generation (an atomic counter per path), and a
 * connection that sees a new generation refreshes before preparing (a
 * statement that reads the schema cookie, and reloads the schema if it
 * moved); a statement that fails to prepare is prepared once more after a
 * refresh when the file changed meanwhile (SQLITE_FCNTL_DATA_VERSION), which
 * catches other processes. A statement prepared against an old schema
 * that runs is prepared again by SQLite itself (SQLITE_SCHEMA).
 *
 * The job hands its SQL and parameters over to the work item, so a job
 * cancelled while a worker runs its query can go at once; the item is
 * freed when the worker hands it back.
 */

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "clock.h"
#include "config.h"
#include "db/driver.h"
#include "db/result.h"
#include "db/sqlite.h"
#include "db/sqlite_policy.h"
#include "job_work.h"
#include "log.h"
#include "pool.h"
#include "xmalloc.h"

#define SQLITE_STMT_CACHE	32
#define SQLITE_STMT_CACHE_SQL	4096	/* longer SQL is not cached */
#define SQLITE_PROGRESS_OPS	1000	/* VM steps between checks for a stop */
#define SQLITE_BUSY_SLEEP_MS	10	/* longest nap waiting for a lock */

struct sqlite_stmt {
	char		*sql;		/* owned */
	sqlite3_stmt	*stmt;
	unsigned	 seen;		/* SQLITE_POLICY_DML, _DDL */
};

/*
 * A database file as all workers share it: its schema generation, bumped
 * by a worker whose statement changed the schema. Entries live until exit.
 */
struct sqlite_file {
	struct sqlite_file	*next;
	char			*path;		/* owned */
	atomic_uint		 gen;
};

/* One worker's connection to one database file. */
struct sqlite_conn {
	struct sqlite_conn	*next;
	char			*path;		/* owned */
	int			 writable;
	sqlite3			*db;
	struct sqlite_file	*file;		/* shared */
	unsigned		 gen;		/* file->gen its schema is of */
	sqlite3_stmt		*refresh;	/* reads the schema cookie */
	struct sqlite_policy	 policy;	/* its authorizer's state */
	struct sqlite_stmt	 cache[SQLITE_STMT_CACHE];	/* MRU first */
	unsigned		 ncache;
};

struct sqlite_work {
	struct job_work		 jw;		/* its job, and the result */
	struct db_run		 run;		/* q->run points here; job is jw's */
	char			*name;		/* owned copies of the config */
	char			*path;
	int			 writable;
	unsigned		 busy_ms;
	char			*sql;		/* owned, taken from the job */
	struct db_param		*params;	/* owned, taken from the job */
	size_t			 nparams;
	uint64_t		 max_bytes;
	uint64_t		 busy_since;	/* clock_ns() of a wait for a lock */
	atomic_int		 stop;		/* set by the loop: interrupt */
};

static pthread_key_t	sqlite_key;
static pthread_once_t	sqlite_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t	 sqlite_files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sqlite_file *sqlite_files;	/* under sqlite_files_lock */

/* Thread exit: close this worker's connections. */
static void
sqlite_conns_free(void *arg)
{
	struct sqlite_conn	*c = arg, *next;
	unsigned		 i;

	for (; c != NULL; c = next) {
		next = c->next;
		for (i = 0; i < c->ncache; i++) {
			sqlite3_finalize(c->cache[i].stmt);
			free(c->cache[i].sql);
		}
		sqlite3_finalize(c->refresh);
		sqlite3_close_v2(c->db);
		free(c->path);
		free(c);
	}
}

static void
sqlite_key_init(void)
{
	if (pthread_key_create(&sqlite_key, sqlite_conns_free) != 0)
		fatalx("%s: pthread_key_create failed", __func__);
}

static void
sqlite_fail(struct sqlite_work *w, enum err_code code, char *message)
{
	w->jw.code = code;
	w->jw.text = message;
}

/*
 * A failed prepare, bind or step of c, as the job's error: a statement
 * the policy refused is forbidden (with the reason), a value over the
 * length limit too_large, SQLite out of its memory busy (another job may
 * hold it), anything else db_error with SQLite's message.
 */
static void
sqlite_fail_rc(struct sqlite_work *w, struct sqlite_conn *c, int rc,
    const char *message)
{
	if (c->policy.deny[0] != '\0')
		sqlite_fail(w, ERR_FORBIDDEN, xstrdup(c->policy.deny));
	else if ((rc & 0xff) == SQLITE_TOOBIG)
		sqlite_fail(w, ERR_TOO_LARGE, xasprintf("%s: a value may be at"
		    " most max_result_bytes (%llu bytes), a statement at most"
		    " %d bytes", message, (unsigned long long)w->max_bytes,
		    sqlite3_limit(c->db, SQLITE_LIMIT_SQL_LENGTH, -1)));
	else if ((rc & 0xff) == SQLITE_NOMEM)
		sqlite_fail(w, ERR_BUSY, xasprintf("SQLite is out of the memory"
		    " gatherd gives it (%llu bytes, all queries together)",
		    (unsigned long long)sqlite_policy_heap_limit()));
	else
		sqlite_fail(w, ERR_DB_ERROR, xstrdup(message));
}

/* The connection's last error as the job's; see sqlite_fail_rc. */
static void
sqlite_fail_db(struct sqlite_work *w, struct sqlite_conn *c)
{
	sqlite_fail_rc(w, c, sqlite3_errcode(c->db), sqlite3_errmsg(c->db));
}

/* The shared entry of a database file, made on first use. */
static struct sqlite_file *
sqlite_file_get(const char *path)
{
	struct sqlite_file	*f;

	pthread_mutex_lock(&sqlite_files_lock);
	for (f = sqlite_files; f != NULL; f = f->next) {
		if (strcmp(f->path, path) == 0)
			break;
	}
	if (f == NULL) {
		f = xcalloc(1, sizeof *f);
		f->path = xstrdup(path);
		atomic_init(&f->gen, 0);
		f->next = sqlite_files;
		sqlite_files = f;
	}
	pthread_mutex_unlock(&sqlite_files_lock);
	return f;
}

/* At exit, once no worker is left: forget the files. */
static void
sqlite_fini(void)
{
	struct sqlite_file	*f;

	while ((f = sqlite_files) != NULL) {
		sqlite_files = f->next;
		free(f->path);
		free(f);
	}
}

/*
 * SQLite's busy handler: wait for a lock in short naps, up to the
 * database's busy_timeout_ms, and stop at once when the job is gone (a
 * worker must not sleep out the timeout for a job that was cancelled).
 */
static int
sqlite_busy(void *arg, int count)
{
	struct sqlite_work	*w = arg;
	struct timespec		 ts;
	uint64_t		 now = clock_ns(), waited_ms, nap;

	if (count == 0)
		w->busy_since = now;
	if (atomic_load_explicit(&w->stop, memory_order_relaxed))
		return 0;
	waited_ms = (now - w->busy_since) / 1000000;
	if (waited_ms >= w->busy_ms)
		return 0;
	nap = count < 4 ? (uint64_t)1 << count : SQLITE_BUSY_SLEEP_MS;
	if (nap > SQLITE_BUSY_SLEEP_MS)
		nap = SQLITE_BUSY_SLEEP_MS;
	if (nap > w->busy_ms - waited_ms)
		nap = w->busy_ms - waited_ms;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)nap * 1000000;
	nanosleep(&ts, NULL);
	return 1;
}

/* This thread's connection for the work's database, opened if need be. */
static struct sqlite_conn *
sqlite_conn_get(struct sqlite_work *w)
{
	struct sqlite_conn	*head, *c;
	char			*why;
	int			 flags, rc;

	pthread_once(&sqlite_once, sqlite_key_init);
	head = pthread_getspecific(sqlite_key);
	for (c = head; c != NULL; c = c->next) {
		if (c->writable == w->writable && strcmp(c->path, w->path) == 0)
			return c;
	}
	c = xcalloc(1, sizeof *c);
	flags = SQLITE_OPEN_NOMUTEX | (w->writable ?
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
	if ((rc = sqlite3_open_v2(w->path, &c->db, flags, NULL)) != SQLITE_OK) {
		sqlite_fail(w, ERR_DB_ERROR, xasprintf("cannot open database"
		    " %s (%s): %s", w->name, w->path, c->db != NULL ?
		    sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	/* Setting it up reads the file, which may be locked. */
	sqlite3_busy_handler(c->db, sqlite_busy, w);
	if (sqlite_policy_apply(c->db, &c->policy, &why) == -1) {
		sqlite_fail(w, ERR_DB_ERROR, xasprintf("cannot open database"
		    " %s (%s): %s", w->name, w->path, why));
		free(why);
		goto fail;
	}
	/* Reading the schema cookie reloads the schema if it moved. */
	if (sqlite3_prepare_v3(c->db, "SELECT 1 FROM sqlite_schema LIMIT 0",
	    -1, SQLITE_PREPARE_PERSISTENT, &c->refresh, NULL) != SQLITE_OK) {
		sqlite_fail(w, ERR_DB_ERROR, xasprintf("cannot open database"
		    " %s (%s): %s", w->name, w->path, sqlite3_errmsg(c->db)));
		goto fail;
	}
	c->file = sqlite_file_get(w->path);
	c->gen = atomic_load(&c->file->gen);
	c->path = xstrdup(w->path);
	c->writable = w->writable;
	c->next = head;
	pthread_setspecific(sqlite_key, c);
	return c;
fail:
	sqlite3_finalize(c->refresh);
	sqlite3_close_v2(c->db);
	free(c);
	return NULL;
}

/* The file's data version as this connection last saw it. */
static unsigned
sqlite_data_version(struct sqlite_conn *c)
{
	unsigned	v = 0;

	sqlite3_file_control(c->db, "main", SQLITE_FCNTL_DATA_VERSION, &v);
	return v;
}

/*
 * Make c's schema that of the file now: read the schema cookie, which
 * reloads the schema if another connection changed it. Returns whether
 * the file changed since c last read it.
 */
static int
sqlite_refresh(struct sqlite_conn *c)
{
	unsigned	before = sqlite_data_version(c);

	c->policy.internal = 1;
	sqlite3_step(c->refresh);
	sqlite3_reset(c->refresh);
	c->policy.internal = 0;
	return sqlite_data_version(c) != before;
}

/* Only whitespace, comments and semicolons are left in tail. */
static int
sqlite_tail_empty(sqlite3 *db, const char *tail)
{
	sqlite3_stmt	*extra = NULL;
	const char	*rest;

	while (*tail != '\0') {
		if (sqlite3_prepare_v2(db, tail, -1, &extra, &rest) !=
		    SQLITE_OK)
			return 0;
		if (extra != NULL) {
			sqlite3_finalize(extra);
			return 0;
		}
		if (rest == tail)
			break;
		tail = rest;
	}
	return 1;
}

/* Prepare sql on c, noting what the authorizer saw in *seen. */
static int
sqlite_prepare_one(struct sqlite_conn *c, const char *sql,
    sqlite3_stmt **stmt, const char **tail, unsigned *seen)
{
	int	rc;

	c->policy.deny[0] = '\0';
	c->policy.seen = 0;
	c->policy.preparing = 1;
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    stmt, tail);
	c->policy.preparing = 0;
	*seen = c->policy.seen;
	return rc;
}

/*
 * A prepared statement for the work's sql, from the cache or new, with a
 * schema no older than the last change any worker made to the file. NULL
 * on error.
 */
static sqlite3_stmt *
sqlite_prepare(struct sqlite_work *w, struct sqlite_conn *c, unsigned *seen)
{
	struct sqlite_stmt	 s;
	sqlite3_stmt		*stmt = NULL;
	const char		*tail;
	char			*message = NULL;
	unsigned		 i, gen;
	int			 rc;

	gen = atomic_load(&c->file->gen);
	if (gen != c->gen) {
		sqlite_refresh(c);
		c->gen = gen;
	}
	for (i = 0; i < c->ncache; i++) {
		if (strcmp(c->cache[i].sql, w->sql) == 0) {
			s = c->cache[i];
			memmove(&c->cache[1], &c->cache[0], i * sizeof s);
			c->cache[0] = s;
			*seen = s.seen;
			return s.stmt;
		}
	}
	rc = sqlite_prepare_one(c, w->sql, &stmt, &tail, seen);
	/*
	 * Prepared against a schema another process changed? Refreshing
	 * tells, and costs nothing in the common case: only on an error.
	 */
	if (rc != SQLITE_OK && c->policy.deny[0] == '\0' &&
	    (rc & 0xff) != SQLITE_TOOBIG && (rc & 0xff) != SQLITE_NOMEM) {
		message = xstrdup(sqlite3_errmsg(c->db));
		if (sqlite_refresh(c)) {
			free(message);
			message = NULL;
			rc = sqlite_prepare_one(c, w->sql, &stmt, &tail, seen);
		}
	}
	if (rc != SQLITE_OK) {
		sqlite_fail_rc(w, c, rc, message != NULL ? message :
		    sqlite3_errmsg(c->db));
		free(message);
		return NULL;
	}
	if (stmt == NULL) {
		sqlite_fail(w, ERR_DB_ERROR, xstrdup("no SQL statement"));
		return NULL;
	}
	if (!sqlite_tail_empty(c->db, tail)) {
		sqlite3_finalize(stmt);
		sqlite_fail(w, ERR_DB_ERROR, xstrdup("more than one SQL"
		    " statement: a query runs exactly one"));
		return NULL;
	}
	c->policy.deny[0] = '\0';	/* the tail's, if any */
	if (strlen(w->sql) > SQLITE_STMT_CACHE_SQL)
		return stmt;		/* the caller finalizes it */
	if (c->ncache == SQLITE_STMT_CACHE) {
		c->ncache--;
		sqlite3_finalize(c->cache[c->ncache].stmt);
		free(c->cache[c->ncache].sql);
	}
	memmove(&c->cache[1], &c->cache[0], c->ncache * sizeof s);
	c->cache[0].sql = xstrdup(w->sql);
	c->cache[0].stmt = stmt;
	c->cache[0].seen = *seen;
	c->ncache++;
	return stmt;
}

static int
sqlite_bind(struct sqlite_work *w, struct sqlite_conn *c, sqlite3_stmt *stmt)
{
	struct db_param	*p;
	size_t		 i;
	int		 n, rc = SQLITE_OK;

	n = sqlite3_bind_parameter_count(stmt);
	if ((size_t)n != w->nparams) {
		sqlite_fail(w, ERR_DB_ERROR, xasprintf("the statement takes %d"
		    " parameter%s, %zu given", n, n == 1 ? "" : "s",
		    w->nparams));
		return -1;
	}
	for (i = 0; i < w->nparams && rc == SQLITE_OK; i++) {
		p = &w->params[i];
		switch (p->type) {
		case DB_PARAM_NULL:
			rc = sqlite3_bind_null(stmt, (int)i + 1);
			break;
		case DB_PARAM_BOOL:
		case DB_PARAM_INT:
			rc = sqlite3_bind_int64(stmt, (int)i + 1, p->i);
			break;
		case DB_PARAM_REAL:
			rc = sqlite3_bind_double(stmt, (int)i + 1, p->d);
			break;
		case DB_PARAM_TEXT:
			rc = sqlite3_bind_text64(stmt, (int)i + 1, p->s,
			    p->len, SQLITE_STATIC, SQLITE_UTF8);
			break;
		}
	}
	if (rc != SQLITE_OK) {
		sqlite_fail_db(w, c);
		return -1;
	}
	return 0;
}

/* The encoder refused the value: its error is the work's. */
static int
sqlite_result_failed(struct sqlite_work *w, struct db_result *r)
{
	enum err_code	 code;
	char		*message;

	message = db_result_take_error(r, &code);
	if (w->jw.code == ERR_NONE)
		sqlite_fail(w, code, message);
	else
		free(message);
	return -1;
}

/*
 * Add column i of the current row to the value. Returns -1 with the work
 * failed if SQLite ran out of memory, and -1 if the encoder refused the
 * value (too large, text not UTF-8).
 */
static int
sqlite_cell(struct sqlite_work *w, struct sqlite_conn *c,
    struct db_result *r, sqlite3_stmt *stmt, int i)
{
	const void	*p;
	size_t		 n;
	int		 type = sqlite3_column_type(stmt, i);

	switch (type) {
	case SQLITE_INTEGER:
		return db_result_int(r, sqlite3_column_int64(stmt, i));
	case SQLITE_FLOAT:
		return db_result_real(r, sqlite3_column_double(stmt, i));
	case SQLITE_TEXT:
	case SQLITE_BLOB:
		break;
	default:
		return db_result_null(r);
	}
	/* The value first, then its length (sqlite3_column_bytes(3)). */
	p = type == SQLITE_TEXT ? (const void *)sqlite3_column_text(stmt, i) :
	    sqlite3_column_blob(stmt, i);
	n = (size_t)sqlite3_column_bytes(stmt, i);
	if (p == NULL && n > 0) {
		sqlite_fail_db(w, c);		/* out of memory */
		return -1;
	}
	if (type == SQLITE_TEXT)
		return db_result_text(r, p, n);
	return db_result_bytes(r, p, n);
}

/*
 * Step through the rows, building the value; 0, or -1 with the work
 * failed. seen says whether the statement inserts, updates or deletes.
 */
static int
sqlite_rows(struct sqlite_work *w, struct sqlite_conn *c, sqlite3_stmt *stmt,
    unsigned seen, struct db_result *r)
{
	const char	*name;
	int		 i, ncols, rc;

	/*
	 * Columns only after the first step: a cached statement is prepared
	 * again there if another connection changed the schema.
	 */
	c->policy.deny[0] = '\0';
	rc = sqlite3_step(stmt);
	ncols = sqlite3_column_count(stmt);
	for (i = 0; i < ncols; i++) {
		/* NULL only when SQLite is out of memory. */
		if ((name = sqlite3_column_name(stmt, i)) == NULL) {
			sqlite_fail_db(w, c);
			return -1;
		}
		if (db_result_column(r, name, strlen(name)) == -1)
			return sqlite_result_failed(w, r);
	}
	for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
		if (db_result_row(r) == -1)
			return sqlite_result_failed(w, r);
		for (i = 0; i < ncols; i++) {
			if (sqlite_cell(w, c, r, stmt, i) == -1)
				return sqlite_result_failed(w, r);
		}
	}
	if (rc != SQLITE_DONE) {
		sqlite_fail_db(w, c);
		return -1;
	}
	/*
	 * The statement's own count, triggers' rows left out. Only for an
	 * INSERT, UPDATE or DELETE: after any other statement SQLite would
	 * repeat an earlier statement's, maybe another job's.
	 */
	w->jw.text = db_result_end(r, (seen & SQLITE_POLICY_DML) &&
	    !(seen & SQLITE_POLICY_DDL) ? (uint64_t)sqlite3_changes64(c->db) :
	    0, &w->jw.len);
	if (w->jw.text == NULL)
		return sqlite_result_failed(w, r);
	return 0;
}

/*
 * SQLite's progress handler, every SQLITE_PROGRESS_OPS virtual machine
 * steps: non-zero interrupts the statement (SQLITE_INTERRUPT). A query
 * cancelled or timed out on the loop so gives its worker back at once
 * instead of running to its end.
 */
static int
sqlite_progress(void *arg)
{
	struct sqlite_work	*w = arg;

	return atomic_load_explicit(&w->stop, memory_order_relaxed);
}

/*
 * The statement changed the file's schema: tell the other workers. This
 * connection is up to date only if no other change came in between.
 */
static void
sqlite_schema_changed(struct sqlite_conn *c)
{
	unsigned	old;

	old = atomic_fetch_add(&c->file->gen, 1);
	if (old == c->gen)
		c->gen = old + 1;
}

/* On a worker: prepare, bind, step, encode. */
static void
sqlite_run(struct pool_work *pw)
{
	struct sqlite_work	*w = (struct sqlite_work *)pw;
	struct sqlite_conn	*c;
	struct db_result	 r;
	sqlite3_stmt		*stmt;
	unsigned		 seen = 0;
	int			 cached;

	if ((c = sqlite_conn_get(w)) == NULL)
		return;
	sqlite3_busy_handler(c->db, sqlite_busy, w);
	sqlite3_progress_handler(c->db, SQLITE_PROGRESS_OPS, sqlite_progress, w);
	sqlite_policy_length(c->db, w->max_bytes);
	if ((stmt = sqlite_prepare(w, c, &seen)) == NULL)
		goto out;
	cached = c->ncache > 0 && c->cache[0].stmt == stmt;
	db_result_init(&r, w->max_bytes);
	if (sqlite_bind(w, c, stmt) == 0 &&
	    sqlite_rows(w, c, stmt, seen, &r) == 0 &&
	    (seen & SQLITE_POLICY_DDL))
		sqlite_schema_changed(c);
	db_result_free(&r);
	if (cached) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	} else
		sqlite3_finalize(stmt);
out:
	/* Before the ROLLBACK, which must not be interrupted. */
	sqlite3_progress_handler(c->db, 0, NULL, NULL);
	sqlite3_busy_handler(c->db, NULL, NULL);
	if (!sqlite3_get_autocommit(c->db)) {
		/*
		 * Each job is its own transaction: one the job left open
		 * (a BEGIN) must not reach the next job on this worker.
		 */
		c->policy.internal = 1;
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		c->policy.internal = 0;
	}
}

static void
sqlite_work_free(struct job_work *jw)
{
	struct sqlite_work	*w = (struct sqlite_work *)jw;

	query_params_free(w->params, w->nparams);
	free(w->sql);
	free(w->name);
	free(w->path);
}

/* The query is done: the job has no run with the pool now. */
static void
sqlite_detach(struct job *job)
{
	((struct query_job *)job)->run = NULL;
}

/* Give w copies of q's statement and parameters. */
static void
sqlite_copy_query(struct sqlite_work *w, const struct query_job *q)
{
	size_t	i;

	w->sql = xstrdup(q->sql);
	w->params = xcalloc(q->nparams, sizeof *w->params);
	w->nparams = q->nparams;
	for (i = 0; i < q->nparams; i++) {
		w->params[i] = q->params[i];
		if (q->params[i].s != NULL) {
			w->params[i].s = xmalloc(q->params[i].len + 1);
			memcpy(w->params[i].s, q->params[i].s,
			    q->params[i].len + 1);
		}
	}
}

/*
 * Hand a query to the worker pool. Its statement and parameters move to
 * the work item, unless the job may be tried again.
 */
static void
sqlite_start(struct query_job *q)
{
	const struct sqlite_settings	*s = q->db->settings;
	struct sqlite_work		*w;

	w = xcalloc(1, sizeof *w);
	w->jw.pw.run = sqlite_run;
	w->jw.detach = sqlite_detach;
	w->jw.free = sqlite_work_free;
	w->name = xstrdup(q->db->name);
	w->path = xstrdup(s->path);
	w->writable = s->writable;
	w->busy_ms = s->busy_timeout_ms;
	w->max_bytes = q->max_bytes;
	sqlite_policy_heap(pool_nworkers(), q->max_bytes);
	if (job_retry_left(&q->job))
		sqlite_copy_query(w, q);	/* the next try needs them */
	else {
		w->sql = q->sql;
		w->params = q->params;
		w->nparams = q->nparams;
		q->sql = NULL;
		q->params = NULL;
		q->nparams = 0;
	}
	q->run = &w->run;
	job_work_submit(&w->jw, &q->job);
}

/* Withdraw a running query: unlinked if queued, else abandoned. */
static void
sqlite_cancel(struct query_job *q)
{
	struct sqlite_work	*w;

	if (q->run == NULL)
		return;
	w = DB_RUN_OWNER(struct sqlite_work, run, q->run);
	if (!job_work_cancel(&w->jw)) {
		/* A worker runs it: stop it at its next progress check. */
		atomic_store_explicit(&w->stop, 1, memory_order_relaxed);
	}
}

/*
 * Each worker may hold a connection to the database: its file, its
 * write-ahead log and its shared memory.
 */
static uint64_t
sqlite_fds(const struct db_config *db, const struct config *cfg)
{
	(void)db;
	return 3 * (uint64_t)cfg->threads;
}

static const struct config_key sqlite_keys[] = {
	{ "path", &config_string, offsetof(struct sqlite_settings, path), 0, 0,
	    NULL, 1 },
	{ "writable", &config_bool, offsetof(struct sqlite_settings, writable),
	    0, 0, "false", 0 },
	{ "busy_timeout_ms", &config_uint,
	    offsetof(struct sqlite_settings, busy_timeout_ms), 0, 3600000,
	    "5000", 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/*
 * --check-config: a read-only database exists and is a regular file (it
 * is opened read-only and never created); a writable one's directory
 * exists (SQLite creates the file, not the directory).
 */
static int
sqlite_check_files(const struct db_config *db, const struct config *cfg,
    char **cause)
{
	const struct sqlite_settings	*s = db->settings;
	struct stat			 sb;
	char				*section, *dir, *slash;
	int				 rc = 0;

	section = xasprintf("db.%s", db->name);
	if (!s->writable) {
		if (stat(s->path, &sb) == -1) {
			*cause = config_key_message(cfg, section, "path",
			    "%s: %s", s->path, errno == ENOENT ? "no such file"
			    " (a database that is not writable is opened"
			    " read-only and never created)" : strerror(errno));
			rc = -1;
		} else if (!S_ISREG(sb.st_mode)) {
			*cause = config_key_message(cfg, section, "path",
			    "%s: not a regular file", s->path);
			rc = -1;
		}
	} else {
		dir = xstrdup(s->path);
		if ((slash = strrchr(dir, '/')) != NULL)
			*(slash == dir ? slash + 1 : slash) = '\0';
		if (slash != NULL && (stat(dir, &sb) == -1 ||
		    !S_ISDIR(sb.st_mode))) {
			*cause = config_key_message(cfg, section, "path",
			    "%s: its directory does not exist (SQLite creates"
			    " the file, not the directory)", s->path);
			rc = -1;
		}
		free(dir);
	}
	free(section);
	return rc;
}

const struct db_driver db_driver_sqlite = {
	DB_DRIVER_COMMON(sqlite),
	.check_files = sqlite_check_files,
	.fini = sqlite_fini,
	.fds = sqlite_fds,
};
