/*
 * PostgreSQL clusters for tests, through tests/pg-server.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "pgtest.h"

#ifndef PG_SERVER
#define PG_SERVER	"tests/pg-server"
#endif

#define PG_SKIPPED	"PostgreSQL is not installed: PostgreSQL tests skipped"

char	pgtest_dir[256];
int	pgtest_port;

int
pgtest_server(const char *args)
{
	char	*cmd, *out = NULL;
	int	 rc;

	/* Through bash: a tree that lost the script's x bit still works. */
	cmd = harness_fmt("PG_SERVER_OWNER=%ld bash '%s' %s", (long)getpid(),
	    PG_SERVER, args);
	rc = run_command(cmd, &out);
	free(cmd);
	free(out);
	return rc;
}

bool
pgtest_installed(void)
{
	int	rc = pgtest_server("check");

	if (rc == 77)
		return false;
	cr_assert_eq(rc, 0, "%s check failed (%d)", PG_SERVER, rc);
	return true;
}

void
pgtest_prepare(void)
{
	char	tmpl[] = "/tmp/gatherd-pg.XXXXXX";

	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	snprintf(pgtest_dir, sizeof pgtest_dir, "%s", tmpl);
	/* Before the directories and the daemons: stopping them may assert. */
	harness_at_fini(pgtest_stop);
	/* Only a socket file name in a private directory: never shared. */
	pgtest_port = 20000 + (int)(getpid() % 20000);
}

void
pgtest_start(void)
{
	char	*args = harness_fmt("start '%s' %d", pgtest_dir, pgtest_port);

	cr_assert_eq(pgtest_server(args), 0, "%s %s failed", PG_SERVER, args);
	free(args);
}

void
pgtest_do(const char *cmd)
{
	char	*args = harness_fmt("%s '%s'", cmd, pgtest_dir);

	cr_assert_eq(pgtest_server(args), 0, "%s %s failed", PG_SERVER, args);
	free(args);
}

void
pgtest_stop(void)
{
	char	*args;

	if (pgtest_dir[0] == '\0')
		return;
	args = harness_fmt("stop '%s'", pgtest_dir);
	pgtest_server(args);
	free(args);
	pgtest_dir[0] = '\0';
}

char *
pgtest_conninfo(const char *app, const char *options)
{
	return harness_fmt("host=%s port=%d user=postgres dbname=postgres"
	    " application_name=%s%s%s%s", pgtest_dir, pgtest_port, app,
	    options != NULL ? " options='" : "", options != NULL ? options : "",
	    options != NULL ? "'" : "");
}

char *
pgtest_section(const char *name, unsigned pool, const char *options)
{
	char	*ci = pgtest_conninfo(name, options), *s;

	s = harness_fmt("[db.%s]\ndriver = postgres\nconninfo = %s\n"
	    "pool = %u\n", name, ci, pool);
	free(ci);
	return s;
}

void
pgtest_daemon(struct daemon *d, const char *options, const char *extra, ...)
{
	va_list		 ap;
	const char	*name;
	char		*conf, *sec, *more;

	conf = harness_fmt("%s", extra != NULL ? extra : "");
	va_start(ap, extra);
	while ((name = va_arg(ap, const char *)) != NULL) {
		sec = pgtest_section(name, va_arg(ap, unsigned), options);
		more = harness_fmt("%s%s", conf, sec);
		free(conf);
		free(sec);
		conf = more;
	}
	va_end(ap);
	daemon_start(d, conf, NULL);
	free(conf);
}

void
pgtest_require(void)
{
	if (!pgtest_installed()) {
		fprintf(stderr, "\n*** %s ***\n\n", PG_SKIPPED);
		cr_skip_test("%s", PG_SKIPPED);
	}
}

void
pgtest_new(void)
{
	double	t0 = now_ms();

	pgtest_require();
	pgtest_prepare();
	pgtest_start();
	fprintf(stderr, "postgres: a new cluster started in %.0f ms\n",
	    now_ms() - t0);
}

void
pgtest_await(struct daemon *d, const char *db, const char *sql,
    const char *want, int ms)
{
	double	 t0 = now_ms();
	json_t	*r, *w = json_loads(want, JSON_DECODE_ANY, NULL);
	bool	 done;

	for (;;) {
		r = dbtest_query(d, db, sql, NULL);
		done = json_equal(jget(r, "results[0].value.rows[0][0]"), w);
		if (done || now_ms() - t0 > ms)
			break;
		json_decref(r);
		usleep(20 * 1000);
	}
	cr_assert(done, "%s never gave %s in %d ms: %s", sql, want, ms,
	    jtext(r));
	json_decref(r);
	json_decref(w);
}

void
pgtest_await_active(struct daemon *d, const char *db, const char *sql, int n,
    int ms)
{
	char	*count, want[16];

	count = harness_fmt("select count(*) from pg_stat_activity where"
	    " query = '%s' and state = 'active'", sql);
	snprintf(want, sizeof want, "%d", n);
	pgtest_await(d, db, count, want, ms);
	free(count);
}

/* A fresh cluster, d on it, and one query busy there; see pgtest.h. */
int
pgtest_one_busy(struct daemon *d, const char *db, unsigned pool,
    const char *sql)
{
	char	*path;
	int	 fd;

	pgtest_new();
	pgtest_daemon(d, NULL, NULL, db, pool, NULL);
	fd = dbtest_send(d, dbtest_qjobs(db, sql, 1), "id",
	    json_string("busy"));
	pgtest_await_active(d, db, sql, 1, slack_ms(10000));
	/* The query pgtest_await_active ran is being reset: wait for it. */
	path = harness_fmt("databases.%s.busy", db);
	json_decref(await_status(d, -1, path, 1, slack_ms(10000)));
	free(path);
	return fd;
}
