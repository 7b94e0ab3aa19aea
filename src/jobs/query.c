/*
 * The query job: one SQL statement against a configured database. Parsing
 * checks the database exists (else the whole batch is unknown_db) and turns
 * params into compact scalars; running is the database's driver's, from
 * the table in db/driver.c (db/sqlite.c on the worker pool, db/postgres.c
 * on the loop). The type's hooks pass each configuration snapshot's
 * databases on to their drivers, so that nothing outside names one.
 */

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db/driver.h"
#include "jnum.h"
#include "job.h"
#include "jsonw.h"
#include "table.h"
#include "xmalloc.h"

static const char *const query_keys[] = { "db", "sql", "params", NULL };

static enum err_code
query_parse_params(struct query_job *q, json_t *params, const char *path,
    char **cause)
{
	json_t		*v;
	struct db_param	*p;
	size_t		 i;

	if (params == NULL || json_is_null(params))
		return ERR_NONE;
	if (!json_is_array(params)) {
		*cause = xasprintf("%s.params: expected an array", path);
		return ERR_BAD_REQUEST;
	}
	q->params = xcalloc(json_array_size(params), sizeof *q->params);
	json_array_foreach(params, i, v) {
		p = &q->params[q->nparams++];
		switch (json_typeof(v)) {
		case JSON_NULL:
			p->type = DB_PARAM_NULL;
			break;
		case JSON_TRUE:
		case JSON_FALSE:
		case JSON_INTEGER:
			/* Both bind from p->i: a boolean as 1 or 0. */
			p->type = json_is_integer(v) ? DB_PARAM_INT :
			    DB_PARAM_BOOL;
			p->i = json_is_integer(v) ? json_integer_value(v) :
			    json_is_true(v);
			break;
		case JSON_REAL:
			if (jnum_integer(v, &p->i) == JNUM_INT_RANGE) {
				*cause = xasprintf("%s.params[%zu]: integer out"
				    " of range (a signed 64-bit integer is"
				    " expected)", path, i);
				return ERR_BAD_REQUEST;
			}
			p->type = DB_PARAM_REAL;
			p->d = json_real_value(v);
			break;
		case JSON_STRING:
			p->type = DB_PARAM_TEXT;
			p->len = json_string_length(v);
			p->s = xmalloc(p->len + 1);
			memcpy(p->s, json_string_value(v), p->len + 1);
			break;
		default:
			*cause = xasprintf("%s.params[%zu]: expected a JSON"
			    " scalar (null, boolean, number or string)", path,
			    i);
			return ERR_BAD_REQUEST;
		}
	}
	return ERR_NONE;
}

static enum err_code
query_parse(struct job *job, json_t *obj, const char *path,
    const struct config *cfg, char **cause)
{
	struct query_job	*q = (struct query_job *)job;
	json_t			*v;
	const char		*name = "default";
	char			*quoted;

	v = json_object_get(obj, "db");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			*cause = xasprintf("%s.db: expected a database name",
			    path);
			return ERR_BAD_REQUEST;
		}
		/* A name with a NUL inside names no database. */
		name = jsonw_cstr(v);
	}
	if (name == NULL || (q->db = config_find_db(cfg, name)) == NULL) {
		quoted = v != NULL && !json_is_null(v) ? jsonw_quote(v) :
		    xstrdup("\"default\"");
		*cause = xasprintf("%s.db: unknown database %s", path, quoted);
		free(quoted);
		return ERR_UNKNOWN_DB;
	}
	if ((v = job_require(obj, path, "sql", cause)) == NULL)
		return ERR_BAD_REQUEST;
	if (jsonw_cstr(v) == NULL) {
		*cause = xasprintf("%s.sql: expected a string without NUL",
		    path);
		return ERR_BAD_REQUEST;
	}
	q->sql = xstrdup(jsonw_cstr(v));
	q->max_bytes = cfg->limits.max_result_bytes;
	return query_parse_params(q, json_object_get(obj, "params"), path,
	    cause);
}

static void
query_start(struct job *job)
{
	struct query_job	*q = (struct query_job *)job;

	q->db->driver->start(q);
}

static void
query_cancel(struct job *job)
{
	struct query_job	*q = (struct query_job *)job;

	q->db->driver->cancel(q);
}

/* Free n parameters as parse made them: their text and the array. */
void
query_params_free(struct db_param *params, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(params[i].s);
	free(params);
}

static void
query_free(struct job *job)
{
	struct query_job	*q = (struct query_job *)job;

	query_params_free(q->params, q->nparams);
	free(q->sql);
}

/* At start-up: the drivers' own state. */
static void
query_init(struct event_base *base)
{
	TABLE_CALL(db_drivers, init, base);
}

/* At exit, after the workers: what the drivers keep across jobs. */
static void
query_fini(void)
{
	TABLE_CALL(db_drivers, fini, );
}

/*
 * Each database of cfg through its driver's check, or check_files when
 * files is set; 0, or -1 with *cause from the first that fails.
 */
static int
query_check_dbs(const struct config *cfg, int files, char **cause)
{
	const struct db_config	*db;
	const struct db_driver	*drv;
	size_t			 i;

	for (i = 0; i < cfg->ndbs; i++) {
		db = &cfg->dbs[i];
		drv = db->driver;
		if (files && drv->check_files != NULL &&
		    drv->check_files(db, cfg, cause) == -1)
			return -1;
		if (!files && drv->check != NULL && drv->check(db, cause) == -1)
			return -1;
	}
	return 0;
}

/* A snapshot is to be made: can its databases be set up? */
static int
query_check(const struct config *cfg, char **cause)
{
	return query_check_dbs(cfg, 0, cause);
}

/* --check-config: each database's files, as its driver sees them. */
static int
query_check_files(const struct config *cfg, char **cause)
{
	return query_check_dbs(cfg, 1, cause);
}

/* Attach (on) or detach each database of cfg to its driver. */
static void
query_attach_dbs(const struct config *cfg, int on)
{
	void	(*hook)(const struct db_config *);
	size_t	  i;

	for (i = 0; i < cfg->ndbs; i++) {
		hook = on ? cfg->dbs[i].driver->attach :
		    cfg->dbs[i].driver->detach;
		if (hook != NULL)
			hook(&cfg->dbs[i]);
	}
}

/* A snapshot comes into force: its databases are set up. */
static void
query_attach(const struct config *cfg)
{
	query_attach_dbs(cfg, 1);
}

/* A snapshot's last reference has gone: its databases are let go. */
static void
query_detach(const struct config *cfg)
{
	query_attach_dbs(cfg, 0);
}

/* The descriptors the databases may hold open. */
static uint64_t
query_fds(const struct config *cfg)
{
	const struct db_driver	*d;
	uint64_t		 n = 0;
	size_t			 i;

	for (i = 0; i < cfg->ndbs; i++) {
		d = cfg->dbs[i].driver;
		n += d->fds != NULL ? d->fds(&cfg->dbs[i], cfg) : 0;
	}
	return n;
}

/* status.databases: an entry per database whose driver reports one. */
static void
query_status(const struct config *cfg, json_t *st)
{
	const struct db_config	*db;
	json_t			*dbs = json_object(), *v;
	size_t			 i;

	for (i = 0; i < cfg->ndbs; i++) {
		db = &cfg->dbs[i];
		if (db->driver->status != NULL &&
		    (v = db->driver->status(db)) != NULL)
			json_object_set_new(dbs, db->name, v);
	}
	json_object_set_new(st, "databases", dbs);
}

const struct job_type job_type_query = {
	JOB_TYPE_COMMON(query),
	JOB_TYPE_SHARED(query),
	.free = query_free,
	.check_files = query_check_files,
};
