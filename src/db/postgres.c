/*
 * PostgreSQL on the loop: libpq's non-blocking API driven by libevent, over
 * a bounded pool of connections per [db.NAME] with driver postgres. Nothing
 * here blocks and nothing runs on another thread.
 *
 * A connection is CONNECTING (PQconnectPoll, watched for what it asks, under
 * a connect timeout), IDLE (watched for reads, so that a server that closes
 * it is noticed at once), BUSY (running one job's statement, then the
 * session's reset) or CANCELLED (reset, waiting only for the end of its
 * cancel request). A pool opens connections on demand, at most pool of
 * them, cancelling ones included, and never gives a job a connection that
 * is not IDLE.
 *
 * Each connection is in pipeline mode, and a job sends, in one write and
 * one round trip: its statement (read in single-row mode, so a result
 * never takes more memory than the value it becomes), a Sync, DISCARD ALL
 * and a Sync. The job ends when the second Sync is read, its session
 * reset (settings, temp objects, prepared statements, advisory locks,
 * LISTEN): nothing a job did reaches the next job on the connection, and
 * a client that has its result knows that its locks are released (the
 * reset comes in the same round trip, so this costs only the server's
 * DISCARD ALL). The connection is then IDLE again. PostgreSQL 15 takes
 * DISCARD ALL there: the Sync before it ends the statement's implicit
 * transaction. A DISCARD ALL that fails (a job left a transaction open,
 * which it cannot run in) or a connection not idle after it is closed.
 *
 * A job cancelled while its statement runs (its timeout_ms, max_job_ms,
 * the cancel op, fail_fast, a client gone), or whose value grew over
 * max_result_bytes, ends at once; its connection is cancelled on the
 * server (db/pg_cancel.c, PQcancel on a thread of its own) and stays
 * counted, as cancelling, until the statement's end and the reset have
 * been read: then it is IDLE again, ready for the next job, and the server
 * has no query left running for us. A cancel that came before the server
 * started the statement is sent again every PG_CANCEL_RETRY_MS; a
 * connection whose statement has not ended PG_CANCEL_GIVE_UP_MS after the
 * first cancel is closed.
 *
 * A job is WAITING (in its pool's FIFO, q->conn == NULL) until an IDLE
 * connection is free, then RUNNING (q->conn is BUSY with it). It ends
 * exactly once: with its value, with db_error (the server's message, a lost
 * connection, or no connection to be had), or with too_large. A connection
 * that cannot be left in a known state (lost, cancelled, COPY, too large)
 * is closed, never reused; the pool opens another when a job needs one.
 *
 * A pool belongs to a database's settings (name, conninfo, pool size). Each
 * configuration snapshot that names them holds a reference (attach and
 * detach), so a reload that leaves a database alone keeps its pool and its
 * connections, one that changes it gets a new pool, and the old pool
 * closes when the last batch started under the old settings has ended.
 *
 * When connecting fails the pool backs off: no new attempt until a timer
 * fires, 100 ms doubling up to 5 s while attempts keep failing, back to
 * nothing after one succeeds. Jobs do not wait out a dead server: when an
 * attempt fails and the pool has no other connection open or opening, all
 * waiting jobs fail with "cannot connect to database NAME: ...". A job that
 * arrives during the back-off waits for the next attempt.
 *
 * Reentrancy: finishing a job calls into its batch, which may start or
 * cancel other query jobs before it returns. So a job is finished only once
 * it and its connection are detached and consistent, nothing is touched
 * after the call but the pool, and starting or cancelling a job only edits
 * the pool's lists and schedules a run of the pool from the loop (kick).
 *
 * Not done yet:
 * - libpq 17's non-blocking cancel (PQcancelStart) would need no thread;
 *   Debian 12 has libpq 15.
 * - libpq resolves a host name with a blocking getaddrinfo(): use a socket
 *   directory or hostaddr= so that connecting never waits on DNS.
 * - Idle connections stay open until the server closes them or gatherd
 *   exits; there is no idle timeout.
 */

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <libpq-fe.h>

#include "clock.h"
#include "config.h"
#include "db/driver.h"
#include "db/pg_cancel.h"
#include "db/postgres.h"
#include "db/result.h"
#include "job.h"
#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

#define PG_BACKOFF_FIRST_MS	100
#define PG_BACKOFF_MAX_MS	5000
#define PG_CONNECT_TIMEOUT_MS	10000	/* without connect_timeout */
#define PG_MAX_PARAMS		65535	/* the protocol's limit */
#define PG_CANCEL_RETRY_MS	1000	/* cancel again while it runs */
#define PG_CANCEL_GIVE_UP_MS	10000	/* then close the connection */
#define PG_RESET		"DISCARD ALL"

/* Type OIDs, from the server's catalog (pg_type.dat). */
#define PG_BOOLOID		16
#define PG_BYTEAOID		17
#define PG_INT8OID		20
#define PG_INT2OID		21
#define PG_INT4OID		23
#define PG_OIDOID		26
#define PG_JSONOID		114
#define PG_FLOAT4OID		700
#define PG_FLOAT8OID		701
#define PG_NUMERICOID		1700
#define PG_JSONBOID		3802

enum pg_conn_state {
	PG_CONNECTING,
	PG_IDLE,
	PG_BUSY,
	PG_CANCELLED,
};

struct pg_pool;
struct pg_query;

struct pg_conn {
	struct pg_pool		*pool;
	PGconn			*pg;		/* owned */
	struct event		 ev;		/* on PQsocket while watching */
	struct event		 timer;		/* connect timeout; cancel retry */
	evutil_socket_t		 fd;		/* what ev watches */
	short			 watching;	/* ev's events; 0: not added */
	uint8_t			 state;		/* enum pg_conn_state */
	int			 flushing;	/* PQflush returned 1 */
	struct pg_query		*query;		/* BUSY: the job, until it ends */
	/* BUSY: where the pipeline is. */
	int			 syncs;		/* Syncs still to read */
	int			 stmt_done;	/* the statement's results are read */
	int			 reset_failed;	/* DISCARD ALL did not succeed */
	int			 nulls;		/* NULL results in a row */
	/* Cancelling: from the first request until IDLE or closed. */
	int			 cancelling;
	uint64_t		 cancel_ns;	/* when the first was asked */
	struct pg_cancel	*cancel;	/* a request being sent, or NULL */
	TAILQ_ENTRY(pg_conn)	 entry;		/* in pool->idle or ->active */
};

struct pg_query {
	struct db_run		 run;		/* its job, borrowed until it ends */
	struct pg_pool		*pool;
	struct pg_conn		*conn;		/* RUNNING on; NULL: WAITING */
	TAILQ_ENTRY(pg_query)	 entry;		/* in pool->waiting */
	struct db_result	 result;	/* the value so far, once begun */
	int			 begun;		/* result holds something */
	Oid			*types;		/* owned: ncols column types */
	int			 ncols;
	uint64_t		 nrows;
	uint64_t		 changes;
	int			 complete;	/* its end was read */
	enum err_code		 code;		/* ERR_NONE until it fails */
	char			*error;		/* owned: message, if code */
};

struct pg_pool {
	TAILQ_ENTRY(pg_pool)	 entry;		/* in pg_pools */
	unsigned		 refs;		/* snapshots naming it */
	char			*name;		/* owned */
	char			*conninfo;	/* owned */
	unsigned		 max;		/* connections at most */
	unsigned		 connect_timeout_ms;
	unsigned		 nconns;	/* open or opening */
	unsigned		 nconnecting;
	unsigned		 ncancelling;
	unsigned		 nwaiting;
	unsigned		 backoff_ms;	/* next delay; 0: not failing */
	struct event		*kick;		/* owned: run the pool soon */
	struct event		*retry;		/* owned: back-off timer */
	TAILQ_HEAD(, pg_conn)	 idle;
	TAILQ_HEAD(, pg_conn)	 active;	/* CONNECTING, BUSY, CANCELLED */
	TAILQ_HEAD(, pg_query)	 waiting;	/* FIFO */
};

static struct event_base	*pg_base;
static TAILQ_HEAD(, pg_pool)	 pg_pools = TAILQ_HEAD_INITIALIZER(pg_pools);

static void	pg_conn_cb(evutil_socket_t, short, void *);
static void	pg_pool_run(struct pg_pool *);
static void	pg_pool_unref(struct pg_pool *);

/*
 * A message from libpq or the server made fit for a reply: valid UTF-8
 * (other bytes become '?'), line breaks and the indentation after them
 * folded into one space, no trailing blanks. Returns a new string.
 */
static char *
pg_message(const char *s)
{
	char	*m, *p, *q;
	size_t	 len, off, bad;

	m = xstrdup(s != NULL ? s : "");
	len = strlen(m);
	off = 0;
	while (!utf8_valid((unsigned char *)m + off, len - off, &bad)) {
		m[off + bad] = '?';
		off += bad + 1;
	}
	for (p = q = m; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r') {
			while (p[1] == '\n' || p[1] == '\r' || p[1] == '\t' ||
			    p[1] == ' ')
				p++;
			*q++ = ' ';
		} else
			*q++ = *p;
	}
	while (q > m && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	*q = '\0';
	return m;
}

/* Send the server's notices and warnings to the debug log. */
static void
pg_notice(void *arg, const char *message)
{
	struct pg_pool	*pool = arg;
	char		*m = pg_message(message);

	log_debug("database %s: %s", pool->name, m);
	free(m);
}

/* The pool for a database's settings, or NULL. */
static struct pg_pool *
pg_pool_find(const struct db_config *db)
{
	const struct postgres_settings	*s = db->settings;
	struct pg_pool			*pool;

	TAILQ_FOREACH(pool, &pg_pools, entry) {
		if (strcmp(pool->name, db->name) == 0 &&
		    strcmp(pool->conninfo, s->conninfo) == 0 &&
		    pool->max == s->pool)
			return pool;
	}
	return NULL;
}

/* Run the pool from the loop, out of whatever is on the stack now. */
static void
pg_pool_kick(struct pg_pool *pool)
{
	event_active(pool->kick, EV_TIMEOUT, 1);
}

/*
 * Watch c's socket for what (EV_READ, EV_WRITE or both; 0: stop). The event
 * is assigned afresh when the socket or the events change: libpq may close
 * and reopen its socket while connecting.
 */
static void
pg_conn_watch(struct pg_conn *c, short what)
{
	evutil_socket_t	fd = what != 0 ? PQsocket(c->pg) : -1;

	if (c->watching != 0 && c->watching == what && c->fd == fd)
		return;
	if (c->watching != 0) {
		event_del(&c->ev);
		c->watching = 0;
	}
	if (what == 0 || fd < 0)
		return;
	event_assign(&c->ev, pg_base, fd, what | EV_PERSIST, pg_conn_cb, c);
	if (event_add(&c->ev, NULL) == -1)
		fatalx("%s: event_add failed", __func__);
	c->fd = fd;
	c->watching = what;
}

/* c is no longer being cancelled (it is idle again, or closing). */
static void
pg_conn_cancel_end(struct pg_conn *c)
{
	if (!c->cancelling)
		return;
	c->cancelling = 0;
	c->pool->ncancelling--;
	evtimer_del(&c->timer);
	if (c->cancel != NULL) {
		pg_cancel_forget(c->cancel);
		c->cancel = NULL;
	}
}

/*
 * c is done with its job and its reset, in a known state: put it back in
 * the idle list, watched for reads (so that a server that closes it is
 * noticed at once).
 */
static void
pg_conn_release(struct pg_conn *c)
{
	struct pg_pool	*pool = c->pool;

	pg_conn_cancel_end(c);
	TAILQ_REMOVE(&pool->active, c, entry);
	TAILQ_INSERT_TAIL(&pool->idle, c, entry);
	c->state = PG_IDLE;
	pg_conn_watch(c, EV_READ);
}

/* Close c and forget it. Its job, if any, must have been detached. */
static void
pg_conn_close(struct pg_conn *c)
{
	struct pg_pool	*pool = c->pool;

	pg_conn_cancel_end(c);
	if (c->state == PG_IDLE)
		TAILQ_REMOVE(&pool->idle, c, entry);
	else
		TAILQ_REMOVE(&pool->active, c, entry);
	if (c->state == PG_CONNECTING)
		pool->nconnecting--;
	pool->nconns--;
	pg_conn_watch(c, 0);
	evtimer_del(&c->timer);
	PQfinish(c->pg);
	free(c);
}

/* Free what a query holds (not the job, which is the batch's). */
static void
pg_query_free(struct pg_query *q)
{
	db_result_free(&q->result);
	free(q->types);
	free(q->error);
	free(q);
}

/* Record that q failed, unless it already has: the first reason stands. */
static void
pg_query_fail(struct pg_query *q, enum err_code code, char *message)
{
	err_keep_first(&q->code, &q->error, code, message);
}

/* The encoder refused q's value (too large, text not UTF-8). */
static void
pg_query_refused(struct pg_query *q)
{
	enum err_code	 code;
	char		*message;

	message = db_result_take_error(&q->result, &code);
	pg_query_fail(q, code, message);
}

/*
 * End q's job with its value or its error and free q. q must be detached:
 * neither waiting nor on a connection. The batch may start or cancel other
 * jobs before this returns.
 */
static void
pg_query_end(struct pg_query *q)
{
	struct query_job	*qj = q->run.job;
	enum err_code		 code;
	char			*text = NULL;
	size_t			 len = 0;

	if (q->code == ERR_NONE && !q->complete)
		pg_query_fail(q, ERR_DB_ERROR,
		    xstrdup("the server sent no result"));
	if (q->code == ERR_NONE &&
	    (text = db_result_end(&q->result, q->changes, &len)) == NULL)
		pg_query_refused(q);
	if ((code = q->code) != ERR_NONE) {
		text = q->error;
		q->error = NULL;
	}
	qj->run = NULL;
	pg_query_free(q);
	job_finish_result(&qj->job, code, text, len);
}

/* Fail every waiting job: the pool has no connection and cannot open one. */
static void
pg_pool_fail_waiting(struct pg_pool *pool, const char *why)
{
	struct pg_query	*q;

	/* Jobs the batches start meanwhile join the queue and fail too. */
	while (pool->nconns == 0 &&
	    (q = TAILQ_FIRST(&pool->waiting)) != NULL) {
		TAILQ_REMOVE(&pool->waiting, q, entry);
		pool->nwaiting--;
		pg_query_fail(q, ERR_DB_ERROR, xasprintf("cannot connect to"
		    " database %s: %s", pool->name, why));
		pg_query_end(q);
	}
}

/*
 * A connection attempt failed (message, owned, says why): close it, back
 * off, and fail the waiting jobs if no other connection may serve them.
 */
static void
pg_conn_connect_failed(struct pg_conn *c, char *message)
{
	struct pg_pool	*pool = c->pool;
	struct timeval	 tv;
	unsigned	 ms;

	pg_conn_close(c);
	if (!evtimer_pending(pool->retry, NULL)) {
		ms = pool->backoff_ms != 0 ? pool->backoff_ms :
		    PG_BACKOFF_FIRST_MS;
		pool->backoff_ms = ms * 2 < PG_BACKOFF_MAX_MS ? ms * 2 :
		    PG_BACKOFF_MAX_MS;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
		evtimer_add(pool->retry, &tv);
		log_warnx("cannot connect to database %s: %s (next attempt in"
		    " %u ms at the earliest)", pool->name, message, ms);
	}
	pg_pool_fail_waiting(pool, message);
	free(message);
}

/* Start connecting one more connection of the pool. */
static void
pg_conn_open(struct pg_pool *pool)
{
	static const char *const keys[] = {
		"dbname", "fallback_application_name", "client_encoding", NULL
	};
	const char		*values[4];
	struct pg_conn		*c;
	struct timeval		 tv;

	/*
	 * The configured conninfo is expanded in place of dbname; what
	 * follows it overrides it, so the client encoding is always UTF8.
	 */
	values[0] = pool->conninfo;
	values[1] = "gatherd";
	values[2] = "UTF8";
	values[3] = NULL;

	c = xcalloc(1, sizeof *c);
	c->pool = pool;
	c->fd = -1;
	c->state = PG_CONNECTING;
	evtimer_assign(&c->timer, pg_base, pg_conn_cb, c);
	TAILQ_INSERT_TAIL(&pool->active, c, entry);
	pool->nconns++;
	pool->nconnecting++;
	if ((c->pg = PQconnectStartParams(keys, values, 1)) == NULL)
		fatalx("%s: PQconnectStartParams: out of memory", __func__);
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		pg_conn_connect_failed(c, pg_message(PQerrorMessage(c->pg)));
		return;
	}
	PQsetNoticeProcessor(c->pg, pg_notice, pool);
	tv.tv_sec = pool->connect_timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(pool->connect_timeout_ms % 1000) * 1000;
	evtimer_add(&c->timer, &tv);
	/* As libpq says: first wait until the socket is writable. */
	pg_conn_watch(c, EV_WRITE);
	if (c->watching == 0)
		pg_conn_connect_failed(c, xstrdup("libpq has no socket"));
}

/* The connection is up: make it non-blocking and give it to a job. */
static void
pg_conn_connected(struct pg_conn *c)
{
	struct pg_pool	*pool = c->pool;

	if (PQsetnonblocking(c->pg, 1) == -1 ||
	    PQenterPipelineMode(c->pg) != 1) {
		pg_conn_connect_failed(c, pg_message(PQerrorMessage(c->pg)));
		return;
	}
	evtimer_del(&c->timer);
	TAILQ_REMOVE(&pool->active, c, entry);
	TAILQ_INSERT_TAIL(&pool->idle, c, entry);
	pool->nconnecting--;
	c->state = PG_IDLE;
	pool->backoff_ms = 0;
	evtimer_del(pool->retry);
	pg_conn_watch(c, EV_READ);
	log_debug("database %s: connected (%u of %u connections)",
	    pool->name, pool->nconns, pool->max);
	pg_pool_run(pool);
}

/* Move a connection attempt on, as PQconnectPoll asks. */
static void
pg_conn_poll(struct pg_conn *c)
{
	/* Unwatch first: libpq may close the socket and open another. */
	pg_conn_watch(c, 0);
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_OK:
		pg_conn_connected(c);
		return;
	case PGRES_POLLING_READING:
		pg_conn_watch(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		pg_conn_watch(c, EV_WRITE);
		break;
	default:
		pg_conn_connect_failed(c, pg_message(PQerrorMessage(c->pg)));
		return;
	}
	if (c->watching == 0)
		pg_conn_connect_failed(c, xstrdup("libpq has no socket"));
}

/* An idle connection is readable: a notice, or the server going away. */
static void
pg_conn_idle_read(struct pg_conn *c)
{
	PGnotify	*n;
	char		*m;

	if (PQconsumeInput(c->pg) && PQstatus(c->pg) != CONNECTION_BAD) {
		while ((n = PQnotifies(c->pg)) != NULL)
			PQfreemem(n);
		if (PQstatus(c->pg) != CONNECTION_BAD)
			return;
	}
	m = pg_message(PQerrorMessage(c->pg));
	log_info("database %s: idle connection closed: %s", c->pool->name,
	    m);
	free(m);
	pg_conn_close(c);
}

/*
 * Begin the value with the column names, once; keep their types. Returns
 * -1 if the encoder refused a name.
 */
static int
pg_query_columns(struct pg_query *q, const PGresult *res)
{
	const char	*name;
	int		 i;

	if (q->begun)
		return 0;
	q->begun = 1;
	db_result_init(&q->result, q->run.job->max_bytes);
	q->ncols = PQnfields(res);
	q->types = xreallocarray(NULL, (size_t)q->ncols, sizeof *q->types);
	for (i = 0; i < q->ncols; i++) {
		q->types[i] = PQftype(res, i);
		name = PQfname(res, i);
		if (db_result_column(&q->result, name, strlen(name)) == -1) {
			pg_query_refused(q);
			return -1;
		}
	}
	return 0;
}

/* Whether s[0..len) is a number as JSON writes it (RFC 8259 section 6). */
static int
pg_json_number(const char *s, size_t len)
{
	size_t	i = 0, start;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9') {
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else
		return 0;
	if (i < len && s[i] == '.') {
		start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	return i == len;
}

/*
 * Does a number (pg_json_number's form, no exponent: numeric's text) fit
 * what JSON parsers read as a number? An integer must fit in 64 bits
 * (jansson, and most int64 parsers, refuse more), a decimal in a double
 * (at most 308 digits before the point). numeric holds up to 131,072.
 */
static int
pg_numeric_fits(const char *s, size_t len)
{
	static const char	 max[] = "9223372036854775807";
	const char		*d = s, *dot;
	size_t			 n;

	if (*d == '-')
		d++;
	dot = memchr(d, '.', len - (size_t)(d - s));
	n = dot != NULL ? (size_t)(dot - d) : len - (size_t)(d - s);
	if (dot != NULL)
		return n <= 308;
	if (n != sizeof max - 1)
		return n < sizeof max - 1;
	/* 19 digits: at most INT64_MAX, or INT64_MAX + 1 if negative. */
	return memcmp(d, max, n) <= 0 ||
	    (*s == '-' && memcmp(d, "9223372036854775808", n) == 0);
}

/* Add one cell, in the JSON its column type maps to; -1 if refused. */
static int
pg_cell(struct db_result *r, const PGresult *res, int row, int col, Oid type)
{
	const char	*v;
	unsigned char	*bytes;
	size_t		 len, n;
	int		 rc;

	if (PQgetisnull(res, row, col))
		return db_result_null(r);
	v = PQgetvalue(res, row, col);
	len = (size_t)PQgetlength(res, row, col);
	switch (type) {
	case PG_INT2OID:
	case PG_INT4OID:
	case PG_INT8OID:
	case PG_OIDOID:
	case PG_FLOAT4OID:
	case PG_FLOAT8OID:
	case PG_NUMERICOID:
		/* NaN and the infinities have no JSON number. */
		if (!pg_json_number(v, len))
			return db_result_null(r);
		if (type == PG_NUMERICOID && !pg_numeric_fits(v, len))
			return db_result_text(r, v, len);  /* exact, as text */
		return db_result_number(r, v, len);
	case PG_BOOLOID:
		return db_result_bool(r, v[0] == 't');
	case PG_JSONOID:
	case PG_JSONBOID:
		/* The server validated it on input. */
		return db_result_json(r, v, len);
	case PG_BYTEAOID:
		if ((bytes = PQunescapeBytea((const unsigned char *)v,
		    &n)) == NULL)
			fatalx("%s: PQunescapeBytea: out of memory", __func__);
		rc = db_result_bytes(r, bytes, n);
		PQfreemem(bytes);
		return rc;
	default:
		return db_result_text(r, v, len);
	}
}

/* Add row of res to the value. Returns -1 if the job failed. */
static int
pg_query_row(struct pg_query *q, const PGresult *res, int row)
{
	int	i;

	if (PQnfields(res) != q->ncols) {
		pg_query_fail(q, ERR_DB_ERROR, xstrdup("the server changed"
		    " the columns of a result"));
		return -1;
	}
	if (db_result_row(&q->result) == -1) {
		pg_query_refused(q);
		return -1;
	}
	for (i = 0; i < q->ncols; i++) {
		if (pg_cell(&q->result, res, row, i, q->types[i]) == -1) {
			pg_query_refused(q);
			return -1;
		}
	}
	return 0;
}

/*
 * Rows written, as changes: INSERT, UPDATE, DELETE and MERGE, and CREATE
 * TABLE AS or SELECT INTO (a command tagged SELECT that returns no rows).
 * Statements that only read change nothing, though PQcmdTuples counts the
 * rows of a SELECT too.
 */
static uint64_t
pg_changes(PGresult *res)
{
	const char	*tag = PQcmdStatus(res);
	static const char *const writes[] = {
		"INSERT ", "UPDATE ", "DELETE ", "MERGE ", NULL
	};
	size_t		 i;

	for (i = 0; writes[i] != NULL; i++) {
		if (strncmp(tag, writes[i], strlen(writes[i])) == 0)
			break;
	}
	if (writes[i] == NULL && (strncmp(tag, "SELECT ", 7) != 0 ||
	    PQresultStatus(res) != PGRES_COMMAND_OK))
		return 0;
	return strtoull(PQcmdTuples(res), NULL, 10);
}

/* The message of an error result. */
static char *
pg_result_error(const PGresult *res, PGconn *pg)
{
	const char	*m;

	if ((m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) == NULL ||
	    *m == '\0')
		m = PQresultErrorMessage(res);
	if (m == NULL || *m == '\0')
		m = PQerrorMessage(pg);
	return pg_message(m);
}

/* What pg_query_result says to do next. */
enum {
	PG_READ_ON,	/* read the next result */
	PG_JOB_OVER,	/* the job failed for good: end it, cancel the rest */
	PG_CLOSE,	/* the connection cannot go on (COPY...) */
};

/* Take one result of q's statement; what to do next. */
static int
pg_query_result(struct pg_query *q, PGresult *res, PGconn *pg)
{
	ExecStatusType	 status = PQresultStatus(res);
	int		 i, n;

	switch (status) {
	case PGRES_SINGLE_TUPLE:
	case PGRES_TUPLES_OK:
		if (q->code != ERR_NONE || q->complete)
			return PG_READ_ON;
		if (pg_query_columns(q, res) == -1)
			return PG_JOB_OVER;
		n = PQntuples(res);
		for (i = 0; i < n; i++) {
			if (pg_query_row(q, res, i) == -1)
				return PG_JOB_OVER;
		}
		if (status == PGRES_TUPLES_OK) {
			q->changes = pg_changes(res);
			q->complete = 1;
		}
		return PG_READ_ON;
	case PGRES_COMMAND_OK:
		if (q->code != ERR_NONE || q->complete)
			return PG_READ_ON;
		if (pg_query_columns(q, res) == -1)
			return PG_JOB_OVER;
		q->changes = pg_changes(res);
		q->complete = 1;
		return PG_READ_ON;
	case PGRES_EMPTY_QUERY:
		pg_query_fail(q, ERR_DB_ERROR, xstrdup("no statement in sql"));
		return PG_READ_ON;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		pg_query_fail(q, ERR_DB_ERROR, xstrdup("COPY FROM STDIN and"
		    " COPY TO STDOUT are not supported"));
		return PG_CLOSE;
	case PGRES_BAD_RESPONSE:
	case PGRES_NONFATAL_ERROR:
	case PGRES_FATAL_ERROR:
		pg_query_fail(q, ERR_DB_ERROR, pg_result_error(res, pg));
		return PG_READ_ON;
	default:
		pg_query_fail(q, ERR_DB_ERROR, xasprintf("unexpected result"
		    " from the server: %s", PQresStatus(status)));
		return PG_CLOSE;
	}
}

/*
 * Detach c's job, if it has one, do then(c) if then is not NULL (which
 * may hand c to another job), and end the job.
 */
static void
pg_conn_end_job(struct pg_conn *c, void (*then)(struct pg_conn *))
{
	struct pg_query	*q = c->query;

	if (q != NULL) {
		c->query = NULL;
		q->conn = NULL;
	}
	if (then != NULL)
		then(c);
	if (q != NULL)
		pg_query_end(q);
}

/*
 * c cannot go on: close it, then end its job, if it still has one, with
 * its own error, or as a lost connection if it has none.
 */
static void
pg_conn_drop(struct pg_conn *c, int lost)
{
	struct pg_query	*q = c->query;
	char		*m;

	if (lost) {
		m = pg_message(PQerrorMessage(c->pg));
		if (q != NULL && q->code == ERR_NONE && !c->stmt_done) {
			/* (With its statement read, the job has its value.) */
			pg_query_fail(q, ERR_DB_ERROR, xasprintf(
			    "connection to server lost: %s", m));
		} else if (q != NULL && q->code == ERR_DB_ERROR) {
			/* Often the server's own last word, e.g. a shutdown. */
			free(m);
			m = q->error;
			q->error = xasprintf("connection to server lost: %s",
			    m);
		}
		free(m);
		log_info("database %s: connection lost", c->pool->name);
	}
	pg_conn_end_job(c, pg_conn_close);
}

static void	pg_conn_cancel(struct pg_conn *);

/* A cancel request of c was sent (or failed); see pg_conn_cancel. */
static void
pg_conn_cancel_sent(void *arg, int ok, const char *err)
{
	struct pg_conn	*c = arg;
	struct pg_pool	*pool = c->pool;
	char		*m;

	c->cancel = NULL;
	if (!ok) {
		m = pg_message(err);
		log_warnx("database %s: cannot cancel a query: %s", pool->name,
		    m);
		free(m);
	}
	if (c->state == PG_CANCELLED) {
		/* Reset meanwhile: nothing of the job is left on the server. */
		pool->refs++;
		pg_conn_release(c);
		pg_pool_run(pool);
		pg_pool_unref(pool);
	}
}

/*
 * The job of c is gone while its statement runs: ask the server to
 * cancel it. c stays BUSY, reading and dropping what comes, until the
 * statement's end and the reset are read; the timer sends the request
 * again while the statement runs, and gives up on c in the end.
 */
static void
pg_conn_cancel(struct pg_conn *c)
{
	struct timeval	tv;

	if (!c->cancelling) {
		c->cancelling = 1;
		c->pool->ncancelling++;
		c->cancel_ns = clock_ns();
		tv.tv_sec = PG_CANCEL_RETRY_MS / 1000;
		tv.tv_usec = (suseconds_t)(PG_CANCEL_RETRY_MS % 1000) * 1000;
		evtimer_add(&c->timer, &tv);
	}
	if (c->cancel == NULL)
		c->cancel = pg_cancel_start(c->pg, pg_conn_cancel_sent, c);
}

/* The cancel timer of c: send again, or give up on c. */
static void
pg_conn_cancel_timer(struct pg_conn *c)
{
	struct timeval	tv;

	if (clock_ms(c->cancel_ns, clock_ns()) >= PG_CANCEL_GIVE_UP_MS) {
		log_warnx("database %s: a cancelled query still runs after %d"
		    " ms: closing its connection", c->pool->name,
		    PG_CANCEL_GIVE_UP_MS);
		pg_conn_drop(c, 0);
		return;
	}
	if (c->state == PG_BUSY && !c->stmt_done)
		pg_conn_cancel(c);
	tv.tv_sec = PG_CANCEL_RETRY_MS / 1000;
	tv.tv_usec = (suseconds_t)(PG_CANCEL_RETRY_MS % 1000) * 1000;
	evtimer_add(&c->timer, &tv);
}

/*
 * c's job is over before its statement is (failed for good, or gone):
 * end the job now if it still has one, and cancel the statement.
 */
static void
pg_conn_abandon(struct pg_conn *c)
{
	pg_conn_cancel(c);
	pg_conn_end_job(c, NULL);
}

/*
 * The pipeline of c is all read: its session was reset, or not. Reuse c
 * if it is idle and clean, once no cancel request of it is on its way
 * (one that came late would cancel the next job's statement).
 */
static void
pg_conn_pipeline_done(struct pg_conn *c)
{
	if (c->reset_failed || PQstatus(c->pg) != CONNECTION_OK ||
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		/*
		 * A transaction the job left open (DISCARD ALL cannot run
		 * in one), or worse: closing it rolls it back.
		 */
		pg_conn_drop(c, 0);
		return;
	}
	if (c->cancel != NULL) {
		c->state = PG_CANCELLED;
		pg_conn_watch(c, EV_READ);
		return;
	}
	pg_conn_release(c);
}

/*
 * Read and write for a BUSY connection: its job's results, then the
 * reset's. Returns when it must wait for the socket, or c is released or
 * closed.
 */
static void
pg_conn_io(struct pg_conn *c, short what)
{
	struct pg_pool	*pool = c->pool;
	ExecStatusType	 status;
	PGresult	*res;
	int		 r;

	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		pg_conn_drop(c, 1);
		return;
	}
	if (c->flushing) {
		if ((r = PQflush(c->pg)) == -1) {
			pg_conn_drop(c, 1);
			return;
		}
		if (r == 0) {
			c->flushing = 0;
			pg_conn_watch(c, EV_READ);
		}
	}
	for (;;) {
		if (PQisBusy(c->pg)) {
			if (PQstatus(c->pg) == CONNECTION_BAD)
				pg_conn_drop(c, 1);
			return;		/* else wait for more */
		}
		if ((res = PQgetResult(c->pg)) == NULL) {
			/* The end of one statement's results. */
			if (++c->nulls > 1) {
				log_warnx("database %s: lost track of the"
				    " pipeline", pool->name);
				pg_conn_drop(c, 0);
				return;
			}
			/* The job ends with the reset, below. */
			c->stmt_done = 1;
			continue;
		}
		c->nulls = 0;
		status = PQresultStatus(res);
		if (status == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (!c->stmt_done || --c->syncs > 0)
				continue;
			/*
			 * The statement and its reset are all read: c goes
			 * back to its pool (or is closed), then its job, if
			 * it is still there, ends. The batch may start or
			 * cancel jobs then, on c too.
			 */
			pg_conn_end_job(c, pg_conn_pipeline_done);
			return;
		}
		if (c->stmt_done) {
			/* DISCARD ALL's. */
			if (status != PGRES_COMMAND_OK)
				c->reset_failed = 1;
			PQclear(res);
			continue;
		}
		if (c->query != NULL)
			r = pg_query_result(c->query, res, c->pg);
		else if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
		    status == PGRES_COPY_BOTH)
			r = PG_CLOSE;
		else
			r = PG_READ_ON;	/* a cancelled job's rows, dropped */
		PQclear(res);
		if (r == PG_CLOSE) {
			pg_conn_drop(c, 0);
			return;
		}
		if (r == PG_JOB_OVER)
			pg_conn_abandon(c);
	}
}

/* Socket and timer events of a connection, by its state. */
static void
pg_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_conn	*c = arg;
	struct pg_pool	*pool = c->pool;

	(void)fd;
	/*
	 * Ending a job may end its batch and drop the last snapshot naming
	 * this pool: hold it until the callback is done with it.
	 */
	pool->refs++;
	switch (c->state) {
	case PG_CONNECTING:
		if (what & EV_TIMEOUT) {
			pg_conn_connect_failed(c, xasprintf("timeout expired"
			    " after %u ms", c->pool->connect_timeout_ms));
			break;
		}
		pg_conn_poll(c);
		break;
	case PG_IDLE:
	case PG_CANCELLED:
		if (what & EV_TIMEOUT)
			pg_conn_cancel_timer(c);
		else
			pg_conn_idle_read(c);
		break;
	case PG_BUSY:
		if (what & EV_TIMEOUT)
			pg_conn_cancel_timer(c);
		else
			pg_conn_io(c, what);
		break;
	}
	pg_pool_run(pool);
	pg_pool_unref(pool);
}

/* Format param i of q as text for the server, into buf if need be. */
static const char *
pg_param_text(const struct db_param *p, char *buf, size_t size)
{
	switch (p->type) {
	case DB_PARAM_BOOL:
		return p->i ? "true" : "false";
	case DB_PARAM_INT:
		snprintf(buf, size, "%lld", (long long)p->i);
		return buf;
	case DB_PARAM_REAL:
		snprintf(buf, size, "%.17g", p->d);
		return buf;
	case DB_PARAM_TEXT:
		return p->s;
	default:
		return NULL;
	}
}

/*
 * Run q on the idle connection c: its statement, a Sync, the reset and a
 * Sync, sent together.
 */
static void
pg_query_send(struct pg_conn *c, struct pg_query *q)
{
	struct pg_pool	 *pool = c->pool;
	struct query_job *qj = q->run.job;
	const char	**values;
	char		(*bufs)[32];
	size_t		  i;
	int		  ok, r;

	TAILQ_REMOVE(&pool->idle, c, entry);
	TAILQ_INSERT_TAIL(&pool->active, c, entry);
	c->state = PG_BUSY;
	c->query = q;
	c->syncs = 2;
	c->stmt_done = 0;
	c->reset_failed = 0;
	c->nulls = 0;
	q->conn = c;

	values = xcalloc(qj->nparams, sizeof *values);
	bufs = xcalloc(qj->nparams, sizeof *bufs);
	for (i = 0; i < qj->nparams; i++)
		values[i] = pg_param_text(&qj->params[i], bufs[i],
		    sizeof bufs[i]);
	ok = PQsendQueryParams(c->pg, qj->sql, (int)qj->nparams, NULL,
	    values, NULL, NULL, 0);
	free(values);
	free(bufs);
	/* Without it the whole result is in memory before we see it. */
	if (ok)
		PQsetSingleRowMode(c->pg);
	if (!ok || !PQpipelineSync(c->pg) ||
	    !PQsendQueryParams(c->pg, PG_RESET, 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(c->pg)) {
		/* What was queued is unknown: do not reuse c. */
		pg_query_fail(q, ERR_DB_ERROR,
		    pg_message(PQerrorMessage(c->pg)));
		pg_conn_drop(c, 0);
		return;
	}
	if ((r = PQflush(c->pg)) == -1) {
		pg_conn_drop(c, 1);
		return;
	}
	c->flushing = r == 1;
	pg_conn_watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ);
}

/*
 * Give idle connections to waiting jobs, oldest first, and open
 * connections for the jobs that those being opened will not serve. Jobs
 * may end in here, and their batches start or cancel others: every step
 * reads the pool afresh.
 */
static void
pg_pool_run(struct pg_pool *pool)
{
	struct pg_query	*q;
	struct pg_conn	*c;

	while ((q = TAILQ_FIRST(&pool->waiting)) != NULL &&
	    (c = TAILQ_FIRST(&pool->idle)) != NULL) {
		TAILQ_REMOVE(&pool->waiting, q, entry);
		pool->nwaiting--;
		pg_query_send(c, q);
	}
	while (pool->nwaiting > pool->nconnecting &&
	    pool->nconns < pool->max &&
	    !evtimer_pending(pool->retry, NULL))
		pg_conn_open(pool);
}

static void
pg_pool_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_pool	*pool = arg;

	(void)fd;
	(void)what;
	pool->refs++;
	pg_pool_run(pool);
	pg_pool_unref(pool);
}

/*
 * Start a query on its PostgreSQL database: it waits for a connection of
 * the pool, then runs. It ends later on the loop, or now if it cannot run.
 */
static void
postgres_start(struct query_job *qj)
{
	struct pg_pool	*pool;
	struct pg_query	*q;
	size_t		 i;

	qj->run = NULL;
	if ((pool = pg_pool_find(qj->db)) == NULL) {
		job_finish_errorf(&qj->job, ERR_DB_ERROR, "database %s is not"
		    " set up", qj->db->name);
		return;
	}
	if (qj->nparams > PG_MAX_PARAMS) {
		job_finish_errorf(&qj->job, ERR_DB_ERROR, "%zu params:"
		    " PostgreSQL takes at most %d", qj->nparams,
		    PG_MAX_PARAMS);
		return;
	}
	for (i = 0; i < qj->nparams; i++) {
		if (qj->params[i].type == DB_PARAM_TEXT &&
		    strlen(qj->params[i].s) != qj->params[i].len) {
			job_finish_errorf(&qj->job, ERR_DB_ERROR, "params[%zu]:"
			    " text with NUL bytes cannot be sent to"
			    " PostgreSQL", i);
			return;
		}
	}
	q = xcalloc(1, sizeof *q);
	q->run.job = qj;
	q->pool = pool;
	qj->run = &q->run;
	TAILQ_INSERT_TAIL(&pool->waiting, q, entry);
	pool->nwaiting++;
	pg_pool_kick(pool);
}

/*
 * Stop a query now. A waiting one leaves the queue; a running one is
 * cancelled on the server, and its connection serves the next job once
 * the statement has ended and the session is reset (pg_conn_cancel). The
 * job is not touched again.
 */
static void
postgres_cancel(struct query_job *qj)
{
	struct pg_query	*q = (struct pg_query *)qj->run;
	struct pg_conn	*c;

	if (q == NULL)
		return;
	qj->run = NULL;
	if ((c = q->conn) == NULL) {
		TAILQ_REMOVE(&q->pool->waiting, q, entry);
		q->pool->nwaiting--;
	} else {
		c->query = NULL;
		q->conn = NULL;
		/* Only a statement still running: the reset may finish. */
		if (!c->stmt_done)
			pg_conn_cancel(c);
	}
	pg_query_free(q);
}

/* The connect timeout of a conninfo, in milliseconds; -1 if it is bad. */
static int
pg_connect_timeout(const char *conninfo, unsigned *ms, char **cause)
{
	PQconninfoOption	*opts, *o;
	char			*err = NULL, *end;
	long			 v;

	*ms = PG_CONNECT_TIMEOUT_MS;
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		*cause = pg_message(err != NULL ? err : "out of memory");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "connect_timeout") != 0 ||
		    o->val == NULL || *o->val == '\0')
			continue;
		v = strtol(o->val, &end, 10);
		if (*end != '\0' || v < 0 || v > INT_MAX / 1000) {
			*cause = xasprintf("invalid connect_timeout \"%s\"",
			    o->val);
			PQconninfoFree(opts);
			return -1;
		}
		/* As libpq: 0 is no limit of its own, under 2 s is 2 s. */
		if (v > 0)
			*ms = (unsigned)(v < 2 ? 2 : v) * 1000;
	}
	PQconninfoFree(opts);
	return 0;
}

/* Remember the loop; pools are set up by postgres_attach(). */
static void
postgres_init(struct event_base *base)
{
	pg_base = base;
	pg_cancel_init(base);
}

/*
 * Check that a database can be set up (its conninfo parses). Any thread.
 * Returns 0, or -1 with *cause set.
 */
static int
postgres_check(const struct db_config *db, char **cause)
{
	const struct postgres_settings	*s = db->settings;
	unsigned			 ms;
	char				*why;

	if (pg_connect_timeout(s->conninfo, &ms, &why) == -1) {
		*cause = xasprintf("[db.%s] conninfo: %s", db->name, why);
		free(why);
		return -1;
	}
	return 0;
}

/*
 * The conninfo keys that name a file libpq reads when it connects: the
 * CA certificate and revocation list, the client's certificate and key,
 * the password file.
 */
static const char *const pg_file_keys[] = {
	"sslrootcert", "sslcrl", "sslcert", "sslkey", "passfile", NULL
};

/*
 * --check-config: each file the conninfo names can be read now (libpq
 * would fail on it at every connect, long after start-up). "system" is
 * libpq's name for the system's CA store, not a file. 0, or -1 with
 * *cause naming the key and the file.
 */
static int
postgres_check_files(const struct db_config *db, const struct config *cfg,
    char **cause)
{
	const struct postgres_settings	*s = db->settings;
	const char *const		*k;
	PQconninfoOption		*opts, *o;
	struct stat			 sb;
	char				*section, *why = NULL;
	int				 fd;

	/* postgres_check has parsed it already. */
	if ((opts = PQconninfoParse(s->conninfo, NULL)) == NULL)
		return 0;
	for (o = opts; o->keyword != NULL && why == NULL; o++) {
		if (o->val == NULL || *o->val == '\0' ||
		    (strcmp(o->keyword, "sslrootcert") == 0 &&
		    strcmp(o->val, "system") == 0))
			continue;
		for (k = pg_file_keys; *k != NULL; k++)
			if (strcmp(o->keyword, *k) == 0)
				break;
		if (*k == NULL)
			continue;
		if ((fd = open(o->val, O_RDONLY | O_NOCTTY | O_NONBLOCK)) == -1)
			why = xasprintf("%s %s: %s", *k, o->val, errno ==
			    ENOENT ? "no such file" : strerror(errno));
		else {
			if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode))
				why = xasprintf("%s %s: not a regular file", *k,
				    o->val);
			close(fd);
		}
	}
	PQconninfoFree(opts);
	if (why == NULL)
		return 0;
	section = xasprintf("db.%s", db->name);
	*cause = config_key_message(cfg, section, "conninfo", "%s", why);
	free(section);
	free(why);
	return -1;
}

/* Close every connection of a pool and free it. */
static void
pg_pool_free(struct pg_pool *pool)
{
	struct pg_query	*q;
	struct pg_conn	*c;

	while ((q = TAILQ_FIRST(&pool->waiting)) != NULL) {
		TAILQ_REMOVE(&pool->waiting, q, entry);
		log_warnx("%s: database %s: a job is still waiting", __func__,
		    pool->name);
		q->run.job->run = NULL;
		pg_query_free(q);
	}
	while ((c = TAILQ_FIRST(&pool->active)) != NULL) {
		if ((q = c->query) != NULL) {
			log_warnx("%s: database %s: a job is still running",
			    __func__, pool->name);
			q->run.job->run = NULL;
			c->query = NULL;
			pg_query_free(q);
		}
		pg_conn_close(c);
	}
	while ((c = TAILQ_FIRST(&pool->idle)) != NULL)
		pg_conn_close(c);
	TAILQ_REMOVE(&pg_pools, pool, entry);
	event_free(pool->kick);
	event_free(pool->retry);
	free(pool->name);
	free(pool->conninfo);
	free(pool);
}

/* Drop a reference; the last one closes the pool. */
static void
pg_pool_unref(struct pg_pool *pool)
{
	if (--pool->refs == 0)
		pg_pool_free(pool);
}

/*
 * Take a reference on the pool of a database (checked by postgres_check),
 * setting it up if it does not exist yet. A new pool connects to nothing:
 * the first query connects.
 */
static void
postgres_attach(const struct db_config *db)
{
	const struct postgres_settings	*s = db->settings;
	struct pg_pool			*pool;
	char				*why;

	if ((pool = pg_pool_find(db)) != NULL) {
		pool->refs++;
		return;
	}
	pool = xcalloc(1, sizeof *pool);
	if (pg_connect_timeout(s->conninfo, &pool->connect_timeout_ms,
	    &why) == -1)
		fatalx("%s: [db.%s] conninfo: %s", __func__, db->name, why);
	pool->refs = 1;
	pool->name = xstrdup(db->name);
	pool->conninfo = xstrdup(s->conninfo);
	pool->max = s->pool;
	TAILQ_INIT(&pool->idle);
	TAILQ_INIT(&pool->active);
	TAILQ_INIT(&pool->waiting);
	pool->kick = event_new(pg_base, -1, 0, pg_pool_kick_cb, pool);
	pool->retry = evtimer_new(pg_base, pg_pool_kick_cb, pool);
	if (pool->kick == NULL || pool->retry == NULL)
		fatalx("%s: event_new failed", __func__);
	TAILQ_INSERT_TAIL(&pg_pools, pool, entry);
}

/*
 * Drop the reference postgres_attach took; a pool no snapshot names any
 * more is closed. No job of the snapshot's may be left.
 */
static void
postgres_detach(const struct db_config *db)
{
	struct pg_pool	*pool;

	if ((pool = pg_pool_find(db)) == NULL)
		fatalx("%s: database %s has no pool", __func__, db->name);
	pg_pool_unref(pool);
}

/* Its connections: at most the pool. */
static uint64_t
postgres_fds(const struct db_config *db, const struct config *cfg)
{
	const struct postgres_settings	*s = db->settings;

	(void)cfg;
	return s->pool;
}

/*
 * A database's pool for status: its connections open, busy (running a
 * job or resetting after one), cancelling (a job's statement being
 * cancelled on the server), and up (connecting works, or has not failed
 * yet). Caller owns the reference.
 */
static json_t *
postgres_status(const struct db_config *db)
{
	struct pg_pool	*pool;
	struct pg_conn	*c;
	unsigned	 busy = 0;

	if ((pool = pg_pool_find(db)) == NULL)
		return NULL;
	TAILQ_FOREACH(c, &pool->active, entry)
		busy += c->state == PG_BUSY && !c->cancelling;
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:b}", "driver",
	    "postgres", "pool", (json_int_t)pool->max,
	    "open", (json_int_t)pool->nconns,
	    "busy", (json_int_t)busy,
	    "cancelling", (json_int_t)pool->ncancelling,
	    "up", pool->backoff_ms == 0);
}

/*
 * Close every connection and free every pool left. Jobs must have been
 * cancelled already; one still queued is dropped without an answer.
 */
static void
postgres_fini(void)
{
	struct pg_pool	*pool;

	while ((pool = TAILQ_FIRST(&pg_pools)) != NULL)
		pg_pool_free(pool);
	pg_cancel_free();
	pg_base = NULL;
}

static const struct config_key postgres_keys[] = {
	{ "conninfo", &config_text, offsetof(struct postgres_settings,
	    conninfo), 0, 0, NULL, 1 },
	{ "pool", &config_uint, offsetof(struct postgres_settings, pool), 1,
	    1000, "4", 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

const struct db_driver db_driver_postgres = {
	DB_DRIVER_COMMON(postgres),
	.init = postgres_init,
	.fini = postgres_fini,
	.check = postgres_check,
	.check_files = postgres_check_files,
	.attach = postgres_attach,
	.detach = postgres_detach,
	.fds = postgres_fds,
	.status = postgres_status,
};
