/*
 * A real PostgreSQL cluster for one test: tests/pg-server (initdb and
 * pg_ctl from Debian's postgresql package) on a private socket directory.
 * Criterion runs each test in its own process, so one cluster at a time
 * per process is all a suite needs; harness_suite_fini calls
 * pgtest_stop(). Helpers assert (Criterion) instead of returning errors.
 */
#ifndef GATHERD_PGTEST_H
#define GATHERD_PGTEST_H

#include <stdbool.h>

#include "harness.h"

extern char	pgtest_dir[256];	/* the cluster's directory, or "" */
extern int	pgtest_port;

/* Run pg-server with args (a shell word list); its exit status. */
int	 pgtest_server(const char *args);
/* Whether PostgreSQL is installed (pg-server check); asserts it can tell. */
bool	 pgtest_installed(void);
/*
 * Make the cluster's directory and pick its port; no server yet. The
 * harness's suite fini stops the cluster (pgtest_stop).
 */
void	 pgtest_prepare(void);
/* Start a fresh cluster (after pgtest_prepare). */
void	 pgtest_start(void);
/* Run pg-server CMD on the cluster ("crash", "start-again"...); asserts. */
void	 pgtest_do(const char *cmd);
/* Stop the cluster and remove it, if there is one. */
void	 pgtest_stop(void);
/* The conninfo of the cluster as application app, options appended if not NULL. Caller frees. */
char	*pgtest_conninfo(const char *app, const char *options);
/* A [db.NAME] section with a pool (application name NAME). Caller frees. */
char	*pgtest_section(const char *name, unsigned pool, const char *options);
/*
 * Start d with extra configuration text (may be NULL) and then a [db.NAME]
 * section of the cluster for each NAME, POOL pair of the arguments that
 * follow (a const char * and an unsigned, ended by a NULL name), each with
 * options (may be NULL).
 */
void	 pgtest_daemon(struct daemon *, const char *options, const char *extra,
	    ...);
/*
 * Wait until n statements whose text is sql run in the server, as db's
 * connection sees them in pg_stat_activity; assert it happens within ms.
 */
void	 pgtest_await_active(struct daemon *, const char *db, const char *sql,
	    int n, int ms);
/*
 * A fresh cluster (pgtest_new), d started on it with [db.NAME] of pool
 * connections, and one query job sql sent on a new connection: returns
 * once sql runs in the server and is the only statement db's pool has
 * busy (status databases.NAME.busy is 1). Its connection, to close (that
 * cancels it).
 */
int	 pgtest_one_busy(struct daemon *, const char *db, unsigned pool,
	    const char *sql);
/* Skip the test, loudly on stderr, if PostgreSQL is not installed. */
void	 pgtest_require(void);
/* pgtest_require, pgtest_prepare and pgtest_start: a fresh cluster. */
void	 pgtest_new(void);
/*
 * Run sql on db through the daemon until its first cell equals want (JSON
 * text); assert that happens within ms.
 */
void	 pgtest_await(struct daemon *, const char *db, const char *sql,
	    const char *want, int ms);

#endif
