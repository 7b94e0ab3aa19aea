/*
 * SQLite on the worker pool. Each worker thread keeps its own connection
 * to each database it has used (opened lazily, read-only unless the
 * database is writable, with a busy timeout) and a small cache of prepared
 * statements per connection; a connection is never shared between
 * threads, and thread exit closes them (a pthread key destructor).
 *
 * The job hands its SQL and parameters over to the work item, so a job
 * cancelled while a worker runs its query can go at once; the item is
 * freed when the worker hands it back.
 */

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sqlite3.h>

#include "base64.h"
#include "config.h"
#include "db.h"
#include "jsonw.h"
#include "log.h"
#include "pool.h"
#include "utf8.h"
#include "xmalloc.h"

#define SQLITE_STMT_CACHE	32
#define SQLITE_PROGRESS_OPS	1000	/* VM steps between checks for a stop */

struct sqlite_stmt {
	char		*sql;		/* owned */
	sqlite3_stmt	*stmt;
};

/* One worker's connection to one database file. */
struct sqlite_conn {
	struct sqlite_conn	*next;
	char			*path;		/* owned */
	int			 writable;
	sqlite3			*db;
	struct sqlite_stmt	 cache[SQLITE_STMT_CACHE];	/* MRU first */
	unsigned		 ncache;
};

struct sqlite_work {
	struct pool_work	 pw;
	struct query_job	*job;		/* loop only; NULL if abandoned */
	char			*name;		/* owned copies of the config */
	char			*path;
	int			 writable;
	unsigned		 busy_ms;
	char			*sql;		/* owned, taken from the job */
	struct db_param		*params;	/* owned, taken from the job */
	size_t			 nparams;
	uint64_t		 max_bytes;
	atomic_int		 stop;		/* set by the loop: interrupt */
	enum err_code		 code;		/* result */
	char			*text;		/* owned: value JSON or message */
	size_t			 text_len;	/* of a value */
};

static pthread_key_t	sqlite_key;
static pthread_once_t	sqlite_once = PTHREAD_ONCE_INIT;

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
	w->code = code;
	w->text = message;
}

/* This thread's connection for the work's database, opened if need be. */
static struct sqlite_conn *
sqlite_conn_get(struct sqlite_work *w)
{
	struct sqlite_conn	*head, *c;
	int			 flags, rc;

	pthread_once(&sqlite_once, sqlite_key_init);
	head = pthread_getspecific(sqlite_key);
	for (c = head; c != NULL; c = c->next) {
		if (c->writable == w->writable && strcmp(c->path, w->path) == 0)
			break;
	}
	if (c != NULL) {
		sqlite3_busy_timeout(c->db, (int)w->busy_ms);
		return c;
	}
	c = xcalloc(1, sizeof *c);
	flags = SQLITE_OPEN_NOMUTEX | (w->writable ?
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
	if ((rc = sqlite3_open_v2(w->path, &c->db, flags, NULL)) != SQLITE_OK) {
		sqlite_fail(w, ERR_DB_ERROR, xasprintf("cannot open database"
		    " %s (%s): %s", w->name, w->path, c->db != NULL ?
		    sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
		sqlite3_close_v2(c->db);
		free(c);
		return NULL;
	}
	sqlite3_extended_result_codes(c->db, 1);
	/*
	 * Only the configured file: ATTACH (and VACUUM INTO, which attaches)
	 * could otherwise read or write any path the daemon can reach.
	 */
	sqlite3_limit(c->db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_busy_timeout(c->db, (int)w->busy_ms);
	c->path = xstrdup(w->path);
	c->writable = w->writable;
	c->next = head;
	pthread_setspecific(sqlite_key, c);
	return c;
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

/* A prepared statement for sql, from the cache or new. NULL on error. */
static sqlite3_stmt *
sqlite_prepare(struct sqlite_work *w, struct sqlite_conn *c)
{
	struct sqlite_stmt	 s;
	sqlite3_stmt		*stmt = NULL;
	const char		*tail;
	unsigned		 i;

	for (i = 0; i < c->ncache; i++) {
		if (strcmp(c->cache[i].sql, w->sql) == 0) {
			s = c->cache[i];
			memmove(&c->cache[1], &c->cache[0], i * sizeof s);
			c->cache[0] = s;
			return s.stmt;
		}
	}
	if (sqlite3_prepare_v3(c->db, w->sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &stmt, &tail) != SQLITE_OK) {
		sqlite_fail(w, ERR_DB_ERROR, xstrdup(sqlite3_errmsg(c->db)));
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
	if (c->ncache == SQLITE_STMT_CACHE) {
		c->ncache--;
		sqlite3_finalize(c->cache[c->ncache].stmt);
		free(c->cache[c->ncache].sql);
	}
	memmove(&c->cache[1], &c->cache[0], c->ncache * sizeof s);
	c->cache[0].sql = xstrdup(w->sql);
	c->cache[0].stmt = stmt;
	c->ncache++;
	return stmt;
}

static int
sqlite_bind(struct sqlite_work *w, sqlite3 *db, sqlite3_stmt *stmt)
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
		sqlite_fail(w, ERR_DB_ERROR, xstrdup(sqlite3_errmsg(db)));
		return -1;
	}
	return 0;
}

/* A real as the shortest JSON number that reads back the same; NaN, inf: null. */
static void
sqlite_write_real(struct evbuffer *evb, double d)
{
	char	buf[40];

	if (!isfinite(d)) {
		jsonw_raw(evb, "null");
		return;
	}
	snprintf(buf, sizeof buf, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sizeof buf, "%.17g", d);
	if (strpbrk(buf, ".eEn") == NULL)
		strcat(buf, ".0");	/* a real stays a real */
	jsonw_raw(evb, buf);
}

static void
sqlite_write_bytes(struct evbuffer *evb, const void *p, size_t n)
{
	char	*b64;
	size_t	 len;

	b64 = base64_encode_alloc(p, n, &len);
	evbuffer_add(evb, "\"", 1);
	evbuffer_add(evb, b64, len);
	evbuffer_add(evb, "\"", 1);
	free(b64);
}

static void
sqlite_write_column(struct evbuffer *evb, sqlite3_stmt *stmt, int i)
{
	const unsigned char	*text;
	char			 buf[24];
	size_t			 n;

	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		snprintf(buf, sizeof buf, "%lld",
		    (long long)sqlite3_column_int64(stmt, i));
		jsonw_raw(evb, buf);
		break;
	case SQLITE_FLOAT:
		sqlite_write_real(evb, sqlite3_column_double(stmt, i));
		break;
	case SQLITE_TEXT:
		text = sqlite3_column_text(stmt, i);
		n = (size_t)sqlite3_column_bytes(stmt, i);
		if (utf8_valid(text, n, NULL))
			jsonw_string(evb, (const char *)text, n);
		else
			sqlite_write_bytes(evb, text, n);
		break;
	case SQLITE_BLOB:
		sqlite_write_bytes(evb, sqlite3_column_blob(stmt, i),
		    (size_t)sqlite3_column_bytes(stmt, i));
		break;
	default:
		jsonw_raw(evb, "null");
		break;
	}
}

/* Step through the rows, writing the value; 0, or -1 with the work failed. */
static int
sqlite_rows(struct sqlite_work *w, sqlite3 *db, sqlite3_stmt *stmt,
    struct evbuffer *evb)
{
	sqlite3_int64	before = sqlite3_total_changes64(db);
	const char	*name;
	int		i, ncols, rc, nrows = 0;

	/*
	 * Columns only after the first step: a cached statement is prepared
	 * again there if another connection changed the schema.
	 */
	rc = sqlite3_step(stmt);
	ncols = sqlite3_column_count(stmt);
	jsonw_raw(evb, "{\"columns\":[");
	for (i = 0; i < ncols; i++) {
		if (i > 0)
			jsonw_raw(evb, ",");
		/* NULL only when SQLite is out of memory. */
		if ((name = sqlite3_column_name(stmt, i)) == NULL)
			fatalx("%s: sqlite3_column_name: out of memory",
			    __func__);
		jsonw_cstring(evb, name);
	}
	jsonw_raw(evb, "],\"rows\":[");
	for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
		jsonw_raw(evb, nrows++ > 0 ? ",[" : "[");
		for (i = 0; i < ncols; i++) {
			if (i > 0)
				jsonw_raw(evb, ",");
			sqlite_write_column(evb, stmt, i);
		}
		jsonw_raw(evb, "]");
		if (evbuffer_get_length(evb) > w->max_bytes) {
			sqlite_fail(w, ERR_TOO_LARGE, xasprintf("the result"
			    " exceeds %llu bytes of JSON (read max_bytes);"
			    " select fewer rows", (unsigned long long)
			    w->max_bytes));
			return -1;
		}
	}
	if (rc != SQLITE_DONE) {
		sqlite_fail(w, ERR_DB_ERROR, xstrdup(sqlite3_errmsg(db)));
		return -1;
	}
	jsonw_raw(evb, "],\"changes\":");
	/* sqlite3_changes() would repeat an earlier statement's count. */
	jsonw_uint(evb, (uint64_t)(sqlite3_total_changes64(db) - before));
	jsonw_raw(evb, "}");
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

/* On a worker: prepare, bind, step, encode. */
static void
sqlite_run(struct pool_work *pw)
{
	struct sqlite_work	*w = (struct sqlite_work *)pw;
	struct sqlite_conn	*c;
	struct evbuffer		*evb;
	sqlite3_stmt		*stmt;

	if ((c = sqlite_conn_get(w)) == NULL)
		return;
	if ((stmt = sqlite_prepare(w, c)) == NULL)
		return;
	if ((evb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	sqlite3_progress_handler(c->db, SQLITE_PROGRESS_OPS, sqlite_progress, w);
	if (sqlite_bind(w, c->db, stmt) == 0 &&
	    sqlite_rows(w, c->db, stmt, evb) == 0)
		w->text = jsonw_take(evb, &w->text_len);
	evbuffer_free(evb);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	/* Before the ROLLBACK, which must not be interrupted. */
	sqlite3_progress_handler(c->db, 0, NULL, NULL);
	if (!sqlite3_get_autocommit(c->db)) {
		/*
		 * Each job is its own transaction: one the job left open
		 * (a BEGIN) must not reach the next job on this worker.
		 */
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

static void
sqlite_work_free(struct sqlite_work *w)
{
	size_t	i;

	for (i = 0; i < w->nparams; i++)
		free(w->params[i].s);
	free(w->params);
	free(w->sql);
	free(w->name);
	free(w->path);
	free(w->text);
	free(w);
}

/* On the loop: deliver the result, or drop it if the job is gone. */
static void
sqlite_complete(struct pool_work *pw, int abandoned)
{
	struct sqlite_work	*w = (struct sqlite_work *)pw;
	struct query_job	*q = w->job;
	char			*text = w->text;

	if (abandoned || q == NULL) {
		sqlite_work_free(w);
		return;
	}
	q->run = NULL;
	w->text = NULL;
	if (w->code == ERR_NONE)
		job_finish_ok_len(&q->job, text, w->text_len);
	else
		job_finish_error(&q->job, w->code, text);
	sqlite_work_free(w);
}

/* Hand a query to the worker pool. */
void
sqlite_query_start(struct query_job *q)
{
	struct sqlite_work	*w;

	w = xcalloc(1, sizeof *w);
	w->pw.run = sqlite_run;
	w->pw.complete = sqlite_complete;
	w->job = q;
	w->name = xstrdup(q->db->name);
	w->path = xstrdup(q->db->path);
	w->writable = q->db->writable;
	w->busy_ms = q->db->busy_timeout_ms;
	w->max_bytes = q->max_bytes;
	w->sql = q->sql;
	w->params = q->params;
	w->nparams = q->nparams;
	q->sql = NULL;
	q->params = NULL;
	q->nparams = 0;
	q->run = w;
	pool_submit(&w->pw);
}

/* Withdraw a running query: unlinked if queued, else abandoned. */
void
sqlite_query_cancel(struct query_job *q)
{
	struct sqlite_work	*w = q->run;

	if (w == NULL)
		return;
	q->run = NULL;
	w->job = NULL;
	if (pool_cancel(&w->pw))
		sqlite_work_free(w);
	else	/* a worker runs it: stop it at its next progress check */
		atomic_store_explicit(&w->stop, 1, memory_order_relaxed);
}
