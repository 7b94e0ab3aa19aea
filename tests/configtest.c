/*
 * The configuration suites' fixture; see configtest.h.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "configtest.h"
#include "db/driver.h"
#include "xmalloc.h"

/* cfg's [read] settings. */
const struct read_settings *
rd(const struct config *cfg)
{
	return config_settings(cfg, &read_section);
}

/* The settings of a database with driver sqlite. */
const struct sqlite_settings *
lite(const struct db_config *db)
{
	cr_assert_eq(db->driver, &db_driver_sqlite, "%s", db->name);
	return db->settings;
}

/* The settings of a database with driver postgres. */
const struct postgres_settings *
pg(const struct db_config *db)
{
	cr_assert_eq(db->driver, &db_driver_postgres, "%s", db->name);
	return db->settings;
}

/* Temporary files and directories made by a test, removed after it. */
static char	**tmp_paths;
static size_t	  ntmp_paths;

/* Remove what the test made. */
void
configtest_fini(void)
{
	size_t	i;

	for (i = 0; i < ntmp_paths; i++) {
		if (remove(tmp_paths[i]) != 0 && errno != ENOENT)
			fprintf(stderr, "remove %s: %s\n", tmp_paths[i],
			    strerror(errno));
		free(tmp_paths[i]);
	}
	free(tmp_paths);
	tmp_paths = NULL;
	ntmp_paths = 0;
}

/* Remember a path to remove after the test. */
const char *
add_tmp(char *path)
{
	tmp_paths = xreallocarray(tmp_paths, ntmp_paths + 1,
	    sizeof *tmp_paths);
	tmp_paths[ntmp_paths++] = path;
	return path;
}

/* Write len bytes to a new temporary file and return its path. */
const char *
write_bytes(const char *text, size_t len)
{
	char	*path;
	int	 fd;

	path = xstrdup("/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	cr_assert_neq(fd, -1, "mkstemp: %s", strerror(errno));
	add_tmp(path);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Write text to a new temporary file and return its path. */
const char *
write_conf(const char *text)
{
	return write_bytes(text, strlen(text));
}

/* Load text over the defaults into cfg, asserting it is valid. */
void
load_ok(struct config *cfg, const char *text)
{
	const char	*path = write_conf(text);
	char		*cause = NULL;
	int		 rc;

	config_defaults(cfg);
	rc = config_load(cfg, path, 1, &cause);
	cr_assert_eq(rc, 0, "unexpected error: %s\nin:\n%s", cause, text);
	cr_assert_str_eq(cfg->file, path);
}

/* Load text, asserting the error is exactly FILE followed by suffix. */
void
load_error(const char *text, const char *suffix)
{
	struct config	 cfg;

	config_defaults(&cfg);
	load_path_error(&cfg, write_conf(text), 1, suffix);
	config_free(&cfg);
}

/* Load path into cfg, asserting the error is exactly path and suffix. */
void
load_path_error(struct config *cfg, const char *path, int must_exist,
    const char *suffix)
{
	char	*cause = NULL, *want;

	cr_assert_eq(config_load(cfg, path, must_exist, &cause), -1,
	    "no error for %s", path);
	cr_assert_not_null(cause);
	want = xasprintf("%s%s", path, suffix);
	cr_assert_str_eq(cause, want);
	free(want);
	free(cause);
}

/* Each key and value given alone in section: refused as expected says. */
void
load_bad_values(const char *section, const char *expected, ...)
{
	const char	*key, *value;
	char		*text, *suffix;
	va_list		 ap;

	va_start(ap, expected);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		text = xasprintf("[%s]\n%s =%s%s\n", section, key,
		    *value != '\0' ? " " : "", value);
		suffix = xasprintf(":2: [%s] %s: %s, got \"%s\"", section, key,
		    expected, value);
		load_error(text, suffix);
		free(suffix);
		free(text);
	}
	va_end(ap);
}

/* Assert cfg holds the built-in defaults, file aside. */
void
assert_defaults(const struct config *cfg)
{
	cr_assert_null(cfg->socket);
	cr_assert_eq(cfg->socket_mode, 0660);
	cr_assert_eq(cfg->log_requests, 0);
	cr_assert_null(cfg->metrics_listen);
	cr_assert_eq(cfg->threads, 4);
	cr_assert_eq(cfg->log_level, LOG_LEVEL_INFO);
	cr_assert_eq(cfg->shutdown_timeout_ms, 10000);
	cr_assert_eq(cfg->limits.max_connections, 1024);
	cr_assert_eq(cfg->limits.max_request_bytes, 16777216);
	cr_assert_eq(cfg->limits.max_jobs_per_batch, 100000);
	cr_assert_eq(cfg->limits.max_inflight_jobs, 1000000);
	cr_assert_eq(cfg->limits.max_batches_per_connection, 1024);
	cr_assert_eq(cfg->limits.max_output_bytes, 67108864);
	cr_assert_eq(rd(cfg)->max_bytes, 16777216);
	cr_assert_eq(cfg->limits.max_result_bytes, 16777216);
	cr_assert_eq(cfg->limits.max_job_ms, 300000);
	cr_assert_eq(rd(cfg)->roots.n, 1);
	cr_assert_str_eq(rd(cfg)->roots.v[0], "/var/lib/gatherd/files");
	cr_assert_eq(cfg->ndbs, 0);
	cr_assert_null(cfg->dbs);
}

/* Assert two configurations hold the same settings, file aside. */
void
assert_same(const struct config *a, const struct config *b)
{
	size_t	i;

	if (a->socket == NULL)
		cr_assert_null(b->socket);
	else
		cr_assert_str_eq(b->socket, a->socket);
	cr_assert_eq(b->socket_mode, a->socket_mode);
	cr_assert_eq(b->threads, a->threads);
	cr_assert_eq(b->log_level, a->log_level);
	cr_assert_eq(b->log_requests, a->log_requests);
	if (a->metrics_listen == NULL)
		cr_assert_null(b->metrics_listen);
	else
		cr_assert_str_eq(b->metrics_listen, a->metrics_listen);
	cr_assert_eq(b->shutdown_timeout_ms, a->shutdown_timeout_ms);
	cr_assert_eq(b->allow_uids.n, a->allow_uids.n);
	for (i = 0; i < a->allow_uids.n; i++)
		cr_assert_eq(b->allow_uids.v[i], a->allow_uids.v[i]);
	cr_assert_eq(b->allow_gids.n, a->allow_gids.n);
	for (i = 0; i < a->allow_gids.n; i++)
		cr_assert_eq(b->allow_gids.v[i], a->allow_gids.v[i]);
	cr_assert_eq(memcmp(&b->limits, &a->limits, sizeof a->limits), 0);
	cr_assert_eq(rd(b)->roots.n, rd(a)->roots.n);
	for (i = 0; i < rd(a)->roots.n; i++)
		cr_assert_str_eq(rd(b)->roots.v[i], rd(a)->roots.v[i]);
	cr_assert_eq(rd(b)->max_bytes, rd(a)->max_bytes);
	cr_assert_eq(b->ndbs, a->ndbs);
	for (i = 0; i < a->ndbs; i++) {
		cr_assert_str_eq(b->dbs[i].name, a->dbs[i].name);
		cr_assert_eq(b->dbs[i].driver, a->dbs[i].driver);
		if (a->dbs[i].driver == &db_driver_sqlite) {
			cr_assert_str_eq(lite(&b->dbs[i])->path,
			    lite(&a->dbs[i])->path);
			cr_assert_eq(lite(&b->dbs[i])->writable,
			    lite(&a->dbs[i])->writable);
			cr_assert_eq(lite(&b->dbs[i])->busy_timeout_ms,
			    lite(&a->dbs[i])->busy_timeout_ms);
		} else {
			cr_assert_str_eq(pg(&b->dbs[i])->conninfo,
			    pg(&a->dbs[i])->conninfo);
			cr_assert_eq(pg(&b->dbs[i])->pool,
			    pg(&a->dbs[i])->pool);
		}
	}
}

/* Print cfg, load the output over the defaults into out. */
void
print_and_reload(const struct config *cfg, struct config *out)
{
	char	*text = NULL;
	size_t	 size = 0;
	FILE	*fp;

	fp = open_memstream(&text, &size);
	cr_assert_not_null(fp);
	config_print(cfg, fp);
	cr_assert_eq(fclose(fp), 0);
	load_ok(out, text);
	free(text);
}

const char full_text[] =
    "[daemon]\n"
    "socket = /tmp/g.sock\n"
    "socket_mode = 0600\n"
    "threads = 16\n"
    "log_level = debug\n"
    "shutdown_timeout_ms = 0\n"
    "\n"
    "[limits]\n"
    "max_connections = 10\n"
    "max_request_bytes = 1000\n"
    "max_jobs_per_batch = 20\n"
    "max_inflight_jobs = 30\n"
    "max_batches_per_connection = 2\n"
    "max_output_bytes = 9007199254740992\n"
    "max_result_bytes = 65536\n"
    "max_job_ms = 0\n"
    "\n"
    "[read]\n"
    "roots = /srv/a /srv/b\t/srv/c\n"
    "max_bytes = 4096\n"
    "\n"
    "[db.default]\n"
    "driver = sqlite\n"
    "path = /var/db/x.sqlite3\n"
    "writable = yes\n"
    "\n"
    "[db.app]\n"
    "driver = postgres\n"
    "conninfo = host=/run/postgresql dbname=app\n"
    "pool = 8\n"
    "\n"
    "[db.other-DB_2]\n"
    "conninfo = dbname=other\n"
    "driver = postgres\n";
