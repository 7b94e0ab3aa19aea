/*
 * The SQLite policy for untrusted SQL; see sqlite_policy.h. It follows the
 * checklist of sqlite.org/security.html for untrusted SQL and untrusted
 * database files:
 *
 * - SQLITE_DBCONFIG_DEFENSIVE (no writable_schema, no writes to shadow
 *   tables), SQLITE_DBCONFIG_TRUSTED_SCHEMA off (views and triggers may
 *   call only innocuous functions), the FTS3 tokenizer function and
 *   extension loading off;
 * - PRAGMA cell_size_check on and mmap_size 0, for files a client may
 *   have written;
 * - lower limits (sqlite_policy_limits below), the length of a value held
 *   to max_result_bytes, and a hard heap limit for SQLite as a whole;
 * - an authorizer, sqlite_policy_authorize, which is the whole of what a
 *   statement may do. What it refuses is the job's "forbidden" error with
 *   the reason it records.
 *
 * The progress handler that interrupts a statement whose job was cancelled
 * or timed out (max_job_ms included) is db/sqlite.c's, per job.
 *
 * Not done: the checklist's tighter limits (10 levels of expression, 3
 * compound terms, 8 function arguments, 10 variables) would refuse
 * ordinary queries; ours are in the table below with the reason for each.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "db/sqlite_policy.h"
#include "xmalloc.h"

/*
 * The limits, after the checklist, loosened where it would refuse
 * everyday SQL. SQLITE_LIMIT_LENGTH is set per job (max_result_bytes).
 */
static const struct {
	int	id;
	int	value;
} sqlite_policy_limits[] = {
	/* The parser's memory: 1 MB of SQL is far beyond a hand-written query. */
	{ SQLITE_LIMIT_SQL_LENGTH, 1000000 },
	/* Recursion of the parser and code generator, on a worker's stack. */
	{ SQLITE_LIMIT_EXPR_DEPTH, 250 },
	/* Recursion over compound SELECTs (a VALUES list is not counted). */
	{ SQLITE_LIMIT_COMPOUND_SELECT, 100 },
	/* A prepared program's size: some 32 MB at most. */
	{ SQLITE_LIMIT_VDBE_OP, 1000000 },
	/* One LIKE or GLOB cannot be interrupted: keep its work small. */
	{ SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 100 },
	/* Each variable is a register; SQLite's own default since 3.32. */
	{ SQLITE_LIMIT_VARIABLE_NUMBER, 32766 },
	/* Recursive triggers are on in Debian's build. */
	{ SQLITE_LIMIT_TRIGGER_DEPTH, 100 },
	/* Only the configured file (VACUUM INTO attaches too). */
	{ SQLITE_LIMIT_ATTACHED, 0 },
	{ SQLITE_LIMIT_WORKER_THREADS, 0 },
};

static const struct {
	int	op;
	int	value;
} sqlite_policy_dbconfig[] = {
	{ SQLITE_DBCONFIG_DEFENSIVE, 1 },
	{ SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0 },
	{ SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0 },
	{ SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0 },
	{ SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0 },
};

/*
 * The PRAGMAs a query may run. The first ones describe the schema, taking
 * the name of a table or an index; the last ones are only read, never set
 * (data_version and page_size because FTS and R-Tree ask SQLite for them
 * themselves, user_version for an application's schema version). Every
 * other PRAGMA could change the connection for the jobs after this one
 * (locking_mode, temp_store, hard_heap_limit, query_only...), or the file.
 */
static const struct {
	const char	*name;
	int		 takes_name;	/* 0: no argument allowed */
} sqlite_policy_pragmas[] = {
	{ "table_info", 1 },
	{ "table_xinfo", 1 },
	{ "index_list", 1 },
	{ "index_info", 1 },
	{ "index_xinfo", 1 },
	{ "foreign_key_list", 1 },
	{ "data_version", 0 },
	{ "page_size", 0 },
	{ "user_version", 0 },
};

/*
 * Functions that reach beyond the statement: code addresses and
 * tokenizers, extensions, and what an earlier job did on this connection.
 */
static const struct {
	const char	*name;
	const char	*why;
} sqlite_policy_functions[] = {
	{ "fts3_tokenizer", "it reveals and registers code addresses" },
	{ "load_extension", "gatherd loads no code for a client" },
	{ "last_insert_rowid", "it reports an earlier job on this shared"
	    " connection; use RETURNING" },
	{ "changes", "it reports an earlier job on this shared connection;"
	    " the job's value has its changes" },
	{ "total_changes", "it reports other jobs on this shared connection" },
};

#define SQLITE_POLICY_TEMP_WHY	"nothing may be created in temp: it would" \
				" outlive the job on a connection other" \
				" clients share"

/* A name for a message: SQLite passes NULL for one not given. */
#define NAME(s)	((s) != NULL ? (s) : "")

static int	sqlite_policy_deny(struct sqlite_policy *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Refuse, recording why (the first reason of a statement stands). */
static int
sqlite_policy_deny(struct sqlite_policy *p, const char *fmt, ...)
{
	va_list	ap;

	if (p->deny[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(p->deny, sizeof p->deny, fmt, ap);
		va_end(ap);
	}
	return SQLITE_DENY;
}

static int
sqlite_policy_pragma(struct sqlite_policy *p, const char *name,
    const char *arg)
{
	size_t	i;

	for (i = 0; i < sizeof sqlite_policy_pragmas /
	    sizeof sqlite_policy_pragmas[0]; i++) {
		if (strcasecmp(name, sqlite_policy_pragmas[i].name) != 0)
			continue;
		if (arg == NULL || sqlite_policy_pragmas[i].takes_name)
			return SQLITE_OK;
		return sqlite_policy_deny(p, "PRAGMA %s = %s is not allowed:"
		    " it may only be read", name, arg);
	}
	return sqlite_policy_deny(p, "PRAGMA %s is not allowed: a PRAGMA"
	    " could change the connection for later jobs; allowed:"
	    " table_info, table_xinfo, index_list, index_info, index_xinfo,"
	    " foreign_key_list, and reading data_version, page_size,"
	    " user_version", name);
}

static int
sqlite_policy_function(struct sqlite_policy *p, const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof sqlite_policy_functions /
	    sizeof sqlite_policy_functions[0]; i++) {
		if (strcasecmp(name, sqlite_policy_functions[i].name) == 0)
			return sqlite_policy_deny(p, "%s() is not allowed: %s",
			    name, sqlite_policy_functions[i].why);
	}
	return SQLITE_OK;
}

/* Whether a database name (NULL: none given) is the configured file. */
static int
sqlite_policy_main(const char *db)
{
	return db == NULL || strcmp(db, "main") == 0;
}

/* Whether a table is a schema table, whatever its name's spelling. */
static int
sqlite_policy_schema_table(const char *t)
{
	return strcasecmp(t, "sqlite_master") == 0 ||
	    strcasecmp(t, "sqlite_temp_master") == 0 ||
	    strcasecmp(t, "sqlite_schema") == 0 ||
	    strcasecmp(t, "sqlite_temp_schema") == 0;
}

/* A change to the schema of table (or index...) name in db: main only. */
static int
sqlite_policy_ddl(struct sqlite_policy *p, const char *db, const char *name)
{
	if (!sqlite_policy_main(db))
		return sqlite_policy_deny(p, "%s.%s: " SQLITE_POLICY_TEMP_WHY, db,
		    NAME(name));
	if (p->preparing)
		p->seen |= SQLITE_POLICY_DDL;
	return SQLITE_OK;
}

/*
 * The authorizer: called while a statement is prepared (and again if SQLite
 * prepares it anew), with the action and up to four names; see
 * sqlite3_set_authorizer(3). Anything not named here is refused.
 */
static int
sqlite_policy_authorize(void *arg, int action, const char *a, const char *b,
    const char *db, const char *inner)
{
	struct sqlite_policy	*p = arg;

	if (p->internal)
		return SQLITE_OK;
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE:
	case SQLITE_TRANSACTION:	/* rolled back when the job ends */
	case SQLITE_SAVEPOINT:
		return SQLITE_OK;
	case SQLITE_READ:
		/* sqlite_stmt lists the connection's statements: others' SQL. */
		if (a != NULL && strcasecmp(a, "sqlite_stmt") == 0)
			return sqlite_policy_deny(p, "%s is not allowed: it"
			    " shows other clients' statements", a);
		return SQLITE_OK;
	case SQLITE_FUNCTION:
		return b != NULL ? sqlite_policy_function(p, b) : SQLITE_OK;
	case SQLITE_PRAGMA:
		return sqlite_policy_pragma(p, a != NULL ? a : "", b);
	case SQLITE_ATTACH:
		if (a == NULL || *a == '\0')
			return sqlite_policy_deny(p, "VACUUM and ATTACH are"
			    " not allowed: a query reaches only its configured"
			    " database file");
		return sqlite_policy_deny(p, "ATTACH '%s' is not allowed: a"
		    " query reaches only its configured database file", a);
	case SQLITE_DETACH:
		return sqlite_policy_deny(p, "DETACH %s is not allowed: a"
		    " query reaches only its configured database file",
		    NAME(a));
	case SQLITE_CREATE_TEMP_INDEX:
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_TEMP_TRIGGER:
	case SQLITE_CREATE_TEMP_VIEW:
	case SQLITE_DROP_TEMP_INDEX:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_TEMP_VIEW:
		return sqlite_policy_deny(p, "temp.%s: "
		    SQLITE_POLICY_TEMP_WHY, NAME(a));
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		/*
		 * SQLite's own edits of temp's schema table, as ALTER TABLE
		 * makes (a client's own are refused as read-only).
		 */
		if (!sqlite_policy_main(db) && strcmp(db, "temp") == 0 &&
		    a != NULL && sqlite_policy_schema_table(a))
			return SQLITE_OK;
		if (!sqlite_policy_main(db))
			return sqlite_policy_deny(p, "%s.%s: "
			    SQLITE_POLICY_TEMP_WHY, db, NAME(a));
		/* Not SQLite's own rows of sqlite_schema (a CREATE's). */
		if (p->preparing && inner == NULL && a != NULL &&
		    !sqlite_policy_schema_table(a))
			p->seen |= SQLITE_POLICY_DML;
		return SQLITE_OK;
	case SQLITE_ALTER_TABLE:	/* a is the database, b the table */
		return sqlite_policy_ddl(p, a, b);
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_VIEW:
	case SQLITE_CREATE_VTABLE:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_VIEW:
	case SQLITE_DROP_VTABLE:
	case SQLITE_REINDEX:
	case SQLITE_ANALYZE:
		return sqlite_policy_ddl(p, db, a);
	default:
		return sqlite_policy_deny(p, "this statement is not allowed"
		    " (SQLite authorizer action %d)", action);
	}
}

/*
 * Set up a newly opened connection for untrusted SQL, its authorizer
 * writing into p. Returns 0, or -1 with *cause set.
 */
int
sqlite_policy_apply(sqlite3 *db, struct sqlite_policy *p, char **cause)
{
	size_t	i;
	int	rc, on;

	for (i = 0; i < sizeof sqlite_policy_dbconfig /
	    sizeof sqlite_policy_dbconfig[0]; i++) {
		rc = sqlite3_db_config(db, sqlite_policy_dbconfig[i].op,
		    sqlite_policy_dbconfig[i].value, &on);
		if (rc != SQLITE_OK || on != sqlite_policy_dbconfig[i].value) {
			*cause = xasprintf("sqlite3_db_config %d: %s",
			    sqlite_policy_dbconfig[i].op, sqlite3_errstr(rc));
			return -1;
		}
	}
	rc = sqlite3_exec(db, "PRAGMA cell_size_check = ON;"
	    " PRAGMA mmap_size = 0", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*cause = xasprintf("cannot set up the connection: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	for (i = 0; i < sizeof sqlite_policy_limits /
	    sizeof sqlite_policy_limits[0]; i++)
		sqlite3_limit(db, sqlite_policy_limits[i].id,
		    sqlite_policy_limits[i].value);
	memset(p, 0, sizeof *p);
	if (sqlite3_set_authorizer(db, sqlite_policy_authorize, p) !=
	    SQLITE_OK) {
		*cause = xasprintf("cannot set the authorizer: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/*
 * Hold the length of a string, blob or row to max_result_bytes (SQLite
 * clamps it to its own maximum), so that a huge value is refused while it
 * is being built rather than after.
 */
void
sqlite_policy_length(sqlite3 *db, uint64_t max_result_bytes)
{
	int	n = max_result_bytes > 0x7fffffff ? 0x7fffffff :
		    (int)max_result_bytes;

	if (sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1) != n)
		sqlite3_limit(db, SQLITE_LIMIT_LENGTH, n);
}

/*
 * SQLite's heap, all connections of all workers together: 64 MiB, plus
 * per worker room for a few values of max_result_bytes being built and
 * its page caches. Past it an allocation fails (SQLITE_NOMEM) and so does
 * the statement that asked, instead of the daemon growing without bound
 * (a row of 2,000 columns of max_result_bytes each is within every
 * per-value limit). Any thread; called on the loop before each query.
 */
void
sqlite_policy_heap(unsigned threads, uint64_t max_result_bytes)
{
	uint64_t	limit;

	limit = (UINT64_C(64) << 20) + (uint64_t)threads *
	    (2 * max_result_bytes + (UINT64_C(32) << 20));
	if (limit > INT64_MAX)
		limit = INT64_MAX;
	if ((uint64_t)sqlite3_hard_heap_limit64(-1) != limit)
		sqlite3_hard_heap_limit64((sqlite3_int64)limit);
}

/* The heap limit in force, for messages. Any thread. */
uint64_t
sqlite_policy_heap_limit(void)
{
	return (uint64_t)sqlite3_hard_heap_limit64(-1);
}
