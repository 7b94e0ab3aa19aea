/*
 * Database queries: what the query job hands a driver. A driver runs a
 * query_job and ends it with job_finish_ok (the value's JSON text,
 * {"columns":[...],"rows":[[...],...],"changes":N}) or job_finish_error
 * (ERR_DB_ERROR and a message), always on the loop thread.
 *
 * SQLite (db/sqlite.c) runs on the worker pool, under db/sqlite_policy.c;
 * PostgreSQL (db/postgres.c) runs on the loop with libpq's non-blocking
 * API, its server-side cancels on threads of their own (db/pg_cancel.c).
 */
#ifndef GATHERD_DB_H
#define GATHERD_DB_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

struct config;
struct db_config;
struct event_base;

enum db_param_type {
	DB_PARAM_NULL,
	DB_PARAM_BOOL,
	DB_PARAM_INT,
	DB_PARAM_REAL,
	DB_PARAM_TEXT,
};

/* One bound parameter, a JSON scalar. */
struct db_param {
	uint8_t		 type;		/* enum db_param_type */
	int64_t		 i;		/* BOOL (0/1) and INT */
	double		 d;		/* REAL */
	char		*s;		/* owned: TEXT, NUL-terminated */
	size_t		 len;		/* TEXT bytes (may hold NULs) */
};

struct query_job {
	struct job		 job;
	const struct db_config	*db;		/* borrowed from the batch's snapshot */
	char			*sql;		/* owned */
	struct db_param		*params;	/* owned, nparams of them */
	size_t			 nparams;
	uint64_t		 max_bytes;	/* largest value text: max_result_bytes */
	void			*run;		/* the driver's, while running */
};

/* SQLite, on the worker pool. */
void	sqlite_query_start(struct query_job *);
void	sqlite_query_cancel(struct query_job *);
void	sqlite_free(void);

/* PostgreSQL, on the loop. */
void	postgres_init(struct event_base *);
int	postgres_check(const struct config *, char **);
void	postgres_attach(const struct config *);
void	postgres_detach(const struct config *);
void	postgres_free(void);
void	postgres_query_start(struct query_job *);
void	postgres_query_cancel(struct query_job *);
json_t	*postgres_status(const struct config *);

#endif
