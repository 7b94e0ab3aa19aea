/*
 * Database drivers. A [db.NAME] section names its driver (driver = ...)
 * and the query job type (jobs/query.c) hands that database's jobs to it.
 * A driver is a table entry, as a job type is: a const struct db_driver
 * in its own file under db/, listed once in db_drivers[] (db/driver.c).
 * jobs/query.c and config.c read the table; nothing else names a driver.
 *
 * A driver runs a query_job and ends it with job_finish_ok (the value's
 * JSON text, made by db/result.c) or job_finish_error, always on the loop
 * thread. SQLite (db/sqlite.c) runs on the worker pool, under
 * db/sqlite_policy.c; PostgreSQL (db/postgres.c) runs on the loop with
 * libpq's non-blocking API, its server-side cancels on threads of their
 * own (db/pg_cancel.c).
 *
 * A driver's settings are its keys under [db.NAME]: config.c reads them
 * from the driver's table into the driver's own struct (db_config's
 * settings), with their defaults, and prints them back.
 *
 * Per configuration snapshot, through the query type's hooks (job.h):
 * each database is checked when a configuration is loaded, on any thread;
 * attached on the loop when the snapshot comes into force, and detached
 * when its last reference goes. A driver that keeps connections per
 * database (postgres) shares them between the snapshots that name the
 * same settings.
 */
#ifndef GATHERD_DB_DRIVER_H
#define GATHERD_DB_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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

/*
 * What a driver keeps for a query while it runs: the driver's own struct
 * holds one, and query_job's run points at it.
 */
struct db_run {
	struct query_job	*job;		/* NULL once the job has gone */
};

struct query_job {
	struct job		 job;
	const struct db_config	*db;		/* borrowed from the batch's snapshot */
	char			*sql;		/* owned */
	struct db_param		*params;	/* owned, nparams of them */
	size_t			 nparams;
	uint64_t		 max_bytes;	/* largest value text: max_result_bytes */
	struct db_run		*run;		/* the driver's, while running */
};

/* The driver's struct of type holding run as its member named member. */
#define DB_RUN_OWNER(type, member, run)					\
	((type *)(void *)((char *)(run) - offsetof(type, member)))

struct db_driver {
	const char	*name;		/* as "driver =" names it */
	/*
	 * Its keys under [db.NAME], besides driver, and the size of the
	 * struct they fill: a db_config's settings (config.h).
	 */
	const struct config_key *keys;
	size_t		 size;

	/* At start-up, on the loop, and at exit after the workers. */
	void		(*init)(struct event_base *);
	void		(*fini)(void);

	/*
	 * A database of a configuration being loaded, on any thread: 0, or
	 * -1 with *cause saying what is wrong ("[db.NAME] KEY: ...").
	 */
	int		(*check)(const struct db_config *, char **);
	/*
	 * gatherd --check-config only: look at the files the database's
	 * settings name (of cfg, for config_key_message()), changing
	 * nothing. 0, or -1 with *cause. May be NULL.
	 */
	int		(*check_files)(const struct db_config *,
			    const struct config *, char **);
	/* On the loop: a snapshot naming the database comes into force. */
	void		(*attach)(const struct db_config *);
	/* On the loop: the last reference to that snapshot has gone. */
	void		(*detach)(const struct db_config *);
	/* The descriptors the database may hold open under a configuration. */
	uint64_t	(*fds)(const struct db_config *, const struct config *);
	/* Its entry in status.databases, a new reference, or NULL for none. */
	json_t		*(*status)(const struct db_config *);

	/* Run a query: it ends later on the loop, or at once. */
	void		(*start)(struct query_job *);
	/* Stop a running query now; the job is not touched again. */
	void		(*cancel)(struct query_job *);
};

/*
 * The members every driver fills the same way, from its prefix p (the
 * driver's name): p_keys and struct p_settings, p_start and p_cancel.
 */
#define DB_DRIVER_COMMON(p)						\
	.name = #p, .keys = p##_keys,					\
	.size = sizeof(struct p##_settings),				\
	.start = p##_start, .cancel = p##_cancel

extern const struct db_driver *const db_drivers[];

const struct db_driver	*db_driver_find(const char *);
void			 query_params_free(struct db_param *, size_t);

#endif
