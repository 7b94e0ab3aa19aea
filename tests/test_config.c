/*
 * The configuration file: defaults, the example etc/gatherd.conf, every
 * value form, every error with its exact message, config_print and the
 * socket path precedence.
 */

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "db/driver.h"
#include "db/postgres.h"
#include "db/sqlite.h"
#include "jobs/read.h"
#include "xmalloc.h"

/* cfg's [read] settings. */
static const struct read_settings *
rd(const struct config *cfg)
{
	return config_settings(cfg, &read_section);
}

/* The settings of a database with driver sqlite. */
static const struct sqlite_settings *
lite(const struct db_config *db)
{
	cr_assert_eq(db->driver, &db_driver_sqlite, "%s", db->name);
	return db->settings;
}

/* The settings of a database with driver postgres. */
static const struct postgres_settings *
pg(const struct db_config *db)
{
	cr_assert_eq(db->driver, &db_driver_postgres, "%s", db->name);
	return db->settings;
}

/* Temporary files and directories made by a test, removed after it. */
static char	**tmp_paths;
static size_t	  ntmp_paths;

/* Remove what the test made. */
static void
cleanup(void)
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

TestSuite(config, .fini = cleanup);

/* Remember a path to remove after the test. */
static const char *
add_tmp(char *path)
{
	tmp_paths = xreallocarray(tmp_paths, ntmp_paths + 1,
	    sizeof *tmp_paths);
	tmp_paths[ntmp_paths++] = path;
	return path;
}

/* Write len bytes to a new temporary file and return its path. */
static const char *
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
static const char *
write_conf(const char *text)
{
	return write_bytes(text, strlen(text));
}

/* Load text over the defaults into cfg, asserting it is valid. */
static void
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
static void
load_error(const char *text, const char *suffix)
{
	struct config	 cfg;
	const char	*path = write_conf(text);
	char		*cause = NULL, *want;
	int		 rc;

	config_defaults(&cfg);
	rc = config_load(&cfg, path, 1, &cause);
	cr_assert_eq(rc, -1, "no error for:\n%s", text);
	cr_assert_not_null(cause);
	want = xasprintf("%s%s", path, suffix);
	cr_assert_str_eq(cause, want, "in:\n%s", text);
	free(want);
	free(cause);
	config_free(&cfg);
}

/* Assert cfg holds the built-in defaults, file aside. */
static void
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
static void
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
	cr_assert_eq(b->shutdown_timeout_ms, a->shutdown_timeout_ms);
	cr_assert_eq(b->log_requests, a->log_requests);
	if (a->metrics_listen == NULL)
		cr_assert_null(b->metrics_listen);
	else
		cr_assert_str_eq(b->metrics_listen, a->metrics_listen);
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
			cr_assert_eq(pg(&b->dbs[i])->pool, pg(&a->dbs[i])->pool);
		}
	}
}

/* Print cfg, load the output over the defaults into out. */
static void
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

static const char full_text[] =
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

Test(config, defaults)
{
	struct config	cfg;

	config_defaults(&cfg);
	assert_defaults(&cfg);
	cr_assert_null(cfg.file);
	config_free(&cfg);
}

Test(config, example_file)
{
	struct config		 cfg;
	const char		*srcdir = getenv("srcdir");
	char			*path, *cause = NULL;

	if (srcdir == NULL)
		srcdir = ".";
	path = xasprintf("%s/etc/gatherd.conf", srcdir);
	config_defaults(&cfg);
	cr_assert_eq(config_load(&cfg, path, 1, &cause), 0, "%s", cause);
	cr_assert_str_eq(cfg.file, path);
	/* The socket is left to the built-in default, for root and users. */
	cr_assert_null(cfg.socket);

	/*
	 * Every other key is at its default; the databases are examples,
	 * commented out, so that the file passes --check-config anywhere.
	 */
	cr_assert_eq(cfg.ndbs, 0);
	cr_assert_null(config_find_db(&cfg, "default"));
	assert_defaults(&cfg);

	config_free(&cfg);
	free(path);
}

Test(config, full_file)
{
	struct config		 cfg;
	const struct db_config	*db;

	load_ok(&cfg, full_text);
	cr_assert_str_eq(cfg.socket, "/tmp/g.sock");
	cr_assert_eq(cfg.socket_mode, 0600);
	cr_assert_eq(cfg.threads, 16);
	cr_assert_eq(cfg.log_level, LOG_LEVEL_DEBUG);
	cr_assert_eq(cfg.shutdown_timeout_ms, 0);
	cr_assert_eq(cfg.limits.max_connections, 10);
	cr_assert_eq(cfg.limits.max_request_bytes, 1000);
	cr_assert_eq(cfg.limits.max_jobs_per_batch, 20);
	cr_assert_eq(cfg.limits.max_inflight_jobs, 30);
	cr_assert_eq(cfg.limits.max_batches_per_connection, 2);
	cr_assert_eq(cfg.limits.max_output_bytes, UINT64_C(9007199254740992));
	cr_assert_eq(cfg.limits.max_result_bytes, 65536);
	cr_assert_eq(cfg.limits.max_job_ms, 0);
	cr_assert_eq(rd(&cfg)->max_bytes, 4096);
	cr_assert_eq(rd(&cfg)->roots.n, 3);
	cr_assert_str_eq(rd(&cfg)->roots.v[0], "/srv/a");
	cr_assert_str_eq(rd(&cfg)->roots.v[1], "/srv/b");
	cr_assert_str_eq(rd(&cfg)->roots.v[2], "/srv/c");

	cr_assert_eq(cfg.ndbs, 3);
	db = config_find_db(&cfg, "default");
	cr_assert_eq(db, &cfg.dbs[0]);
	cr_assert_str_eq(lite(db)->path, "/var/db/x.sqlite3");
	cr_assert_eq(lite(db)->writable, 1);
	db = config_find_db(&cfg, "app");
	cr_assert_eq(db, &cfg.dbs[1]);
	cr_assert_str_eq(pg(db)->conninfo, "host=/run/postgresql dbname=app");
	cr_assert_eq(pg(db)->pool, 8);
	db = config_find_db(&cfg, "other-DB_2");
	cr_assert_eq(db, &cfg.dbs[2]);
	cr_assert_str_eq(pg(db)->conninfo, "dbname=other");
	cr_assert_eq(pg(db)->pool, 4, "the default pool is 4");
	cr_assert_null(config_find_db(&cfg, "missing"));
	cr_assert_null(config_find_db(&cfg, "App"));
	config_free(&cfg);
}

Test(config, empty_file_keeps_defaults)
{
	struct config	cfg;

	load_ok(&cfg, "");
	assert_defaults(&cfg);
	config_free(&cfg);
	load_ok(&cfg, "; nothing\n\n# at all\n[daemon]\n[limits]\n[read]\n");
	assert_defaults(&cfg);
	config_free(&cfg);
}

Test(config, missing_file)
{
	struct config	 cfg;
	char		*dir, *path, *notdir, *cause = NULL, *want;

	dir = xstrdup("/tmp/test_config.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	add_tmp(dir);
	path = xasprintf("%s/gatherd.conf", dir);

	config_defaults(&cfg);
	cr_assert_eq(config_load(&cfg, path, 0, &cause), 0);
	cr_assert_null(cause);
	cr_assert_null(cfg.file);
	assert_defaults(&cfg);

	cr_assert_eq(config_load(&cfg, path, 1, &cause), -1);
	want = xasprintf("%s: cannot open: No such file or directory", path);
	cr_assert_str_eq(cause, want);
	cr_assert_null(cfg.file);
	free(want);
	free(cause);

	/* Only a missing file is: any other failure is an error. */
	notdir = xasprintf("%s/x", write_conf(""));
	cr_assert_eq(config_load(&cfg, notdir, 0, &cause), -1);
	want = xasprintf("%s: cannot open: Not a directory", notdir);
	cr_assert_str_eq(cause, want);
	free(want);
	free(cause);
	free(notdir);

	/* A directory is not missing: it is an error either way. */
	cr_assert_eq(config_load(&cfg, dir, 0, &cause), -1);
	want = xasprintf("%s: cannot open: Is a directory", dir);
	cr_assert_str_eq(cause, want);
	free(want);
	free(cause);

	config_free(&cfg);
	free(path);
}

Test(config, read_error)
{
	struct config	 cfg;
	char		*cause = NULL;

	/* Reading /proc/self/mem at offset 0 fails: nothing is mapped there. */
	config_defaults(&cfg);
	cr_assert_eq(config_load(&cfg, "/proc/self/mem", 1, &cause), -1);
	cr_assert_str_eq(cause, "/proc/self/mem: cannot read: "
	    "Input/output error");
	free(cause);
	config_free(&cfg);
}

Test(config, comments)
{
	struct config	cfg;

	load_ok(&cfg,
	    "; a comment\n"
	    "# another\n"
	    "   ; indented\n"
	    "[daemon] ; after a header\n"
	    "threads = 8 ; inline\n"
	    "log_level = warning\t; after a tab\n"
	    "socket = /tmp/a;b\n"
	    "  # between keys\n"
	    "[db.x]\n"
	    "driver = postgres ;\n"
	    "conninfo = host=x;y password=a#b ; the password\n");
	cr_assert_eq(cfg.threads, 8);
	cr_assert_eq(cfg.log_level, LOG_LEVEL_WARNING);
	cr_assert_str_eq(cfg.socket, "/tmp/a;b", "';' needs a space before");
	cr_assert_str_eq(pg(&cfg.dbs[0])->conninfo, "host=x;y password=a#b");
	config_free(&cfg);

	/* '#' starts a comment only at the start of a line. */
	load_error("[daemon]\nthreads = 8 # eight\n",
	    ":2: [daemon] threads: expected a positive integer, "
	    "got \"8 # eight\"");
}

Test(config, line_forms)
{
	struct config	cfg;

	/* A BOM, CRLF line ends, ':' for '=', no final newline. */
	load_ok(&cfg,
	    "\xef\xbb\xbf[daemon]\r\n"
	    "threads: 5\r\n"
	    "log_level   =   error  \r\n"
	    "\r\n"
	    "[read]\r\n"
	    "max_bytes=7");
	cr_assert_eq(cfg.threads, 5);
	cr_assert_eq(cfg.log_level, LOG_LEVEL_ERROR);
	cr_assert_eq(rd(&cfg)->max_bytes, 7);
	config_free(&cfg);
}

Test(config, unknown_section)
{
	load_error("[daemon]\nthreads = 2\n\n[bogus]\n",
	    ":4: [bogus]: unknown section");
	load_error("[bogus]\nthreads = 2\n", ":1: [bogus]: unknown section");
	load_error("[Daemon]\n", ":1: [Daemon]: unknown section");
	load_error("[ daemon ]\n", ":1: [ daemon ]: unknown section");
	load_error("[db]\n", ":1: [db]: unknown section");
	load_error("[]\n", ":1: []: unknown section");
}

Test(config, unknown_key)
{
	load_error("; x\n[daemon]\nsockett = /x\n",
	    ":3: [daemon] sockett: unknown key");
	load_error("[limits]\nmax_bytes = 1\n",
	    ":2: [limits] max_bytes: unknown key");
	load_error("[read]\nroot = /x\n", ":2: [read] root: unknown key");
	load_error("[db.x]\ndriver = sqlite\nfile = /x\n",
	    ":3: [db.x] file: unknown key");
	load_error("[daemon]\nThreads = 1\n",
	    ":2: [daemon] Threads: unknown key");
	load_error("\nthreads = 2\n[daemon]\n",
	    ":2: threads: not in a section");
}

Test(config, duplicates)
{
	load_error("[daemon]\nthreads = 2\nlog_level = info\nthreads = 3\n",
	    ":4: [daemon] threads: duplicate key");
	load_error("[db.x]\ndriver = sqlite\npath = /a\npath = /b\n",
	    ":4: [db.x] path: duplicate key");
	load_error("[db.x]\ndriver = sqlite\npath = /a\n[db.y]\ndriver = sqlite\n"
	    "path = /b\n[db.x]\n",
	    ":7: [db.x]: duplicate section");
	load_error("[daemon]\n[limits]\n[daemon]\n",
	    ":3: [daemon]: duplicate section");
	load_error("[read]\nroots = /a\n[read]\nroots = /b\n",
	    ":3: [read]: duplicate section");
}

Test(config, syntax_errors)
{
	load_error("[daemon]\nthreads 4\n", ":2: syntax error");
	load_error("[daemon]\nthreads\n", ":2: syntax error");
	load_error("[daemon\nthreads = 4\n", ":1: syntax error");
	load_error("[daemon ; comment]\n", ":1: syntax error");
	load_error("[daemon] threads = 4\n", ":1: syntax error");
	load_error("[daemon]\n= 4\n", ":2: syntax error");
	load_error("[daemon]\n   = 4\n", ":2: syntax error");
}

Test(config, nul_byte)
{
	static const char text[] = "[daemon]\nthreads = 4\0junk\n";

	struct config	 cfg;
	const char	*path = write_bytes(text, sizeof text - 1);
	char		*cause = NULL, *want;

	config_defaults(&cfg);
	cr_assert_eq(config_load(&cfg, path, 1, &cause), -1);
	want = xasprintf("%s:2: syntax error", path);
	cr_assert_str_eq(cause, want);
	free(want);
	free(cause);
	config_free(&cfg);
}

Test(config, long_lines)
{
	struct config	 cfg;
	char		 value[200], *text;

	/* 198 characters is the longest line: "roots = /" and 189 more. */
	memset(value, 'r', sizeof value);
	value[0] = '/';
	value[190] = '\0';
	text = xasprintf("[read]\nroots = %s\n", value);
	cr_assert_eq(strlen(strchr(text, '\n') + 1), 199);
	load_ok(&cfg, text);
	cr_assert_str_eq(rd(&cfg)->roots.v[0], value);
	config_free(&cfg);
	free(text);

	/* One more is refused, not cut in two. */
	value[190] = 'r';
	value[191] = '\0';
	text = xasprintf("[read]\nroots = %s\n", value);
	load_error(text, ":2: line too long (more than 198 bytes)");
	free(text);

	/* Comments too, and the last line without its newline. */
	memset(value, ';', 199);
	value[199] = '\0';
	text = xasprintf("[daemon]\n\n%s\nthreads = 1\n", value);
	load_error(text, ":3: line too long (more than 198 bytes)");
	free(text);
	value[198] = '\0';
	text = xasprintf("[daemon]\n\n%s\nthreads = 1\n%s;", value, value);
	load_error(text, ":5: line too long (more than 198 bytes)");
	free(text);
}

Test(config, limits)
{
	struct config	cfg;

	load_ok(&cfg,
	    "[limits]\n"
	    "max_connections = 1\n"
	    "max_request_bytes = 0010\n"
	    "max_output_bytes = 9007199254740992\n");
	cr_assert_eq(cfg.limits.max_connections, 1);
	cr_assert_eq(cfg.limits.max_request_bytes, 10);
	cr_assert_eq(cfg.limits.max_output_bytes, UINT64_C(1) << 53);
	config_free(&cfg);

	load_error("[limits]\n; the\n; number\n; of\n; connections\n\n"
	    "max_connections = abc\n",
	    ":7: [limits] max_connections: expected a positive integer, "
	    "got \"abc\"");
	load_error("[limits]\nmax_request_bytes = -1\n",
	    ":2: [limits] max_request_bytes: expected a positive integer, "
	    "got \"-1\"");
	load_error("[limits]\nmax_jobs_per_batch = +1\n",
	    ":2: [limits] max_jobs_per_batch: expected a positive integer, "
	    "got \"+1\"");
	load_error("[limits]\nmax_inflight_jobs = 12k\n",
	    ":2: [limits] max_inflight_jobs: expected a positive integer, "
	    "got \"12k\"");
	load_error("[limits]\nmax_inflight_jobs = 1 2\n",
	    ":2: [limits] max_inflight_jobs: expected a positive integer, "
	    "got \"1 2\"");
	load_error("[limits]\nmax_output_bytes = 0x10\n",
	    ":2: [limits] max_output_bytes: expected a positive integer, "
	    "got \"0x10\"");
	load_error("[limits]\nmax_output_bytes = 1.5\n",
	    ":2: [limits] max_output_bytes: expected a positive integer, "
	    "got \"1.5\"");
	load_error("[limits]\nmax_connections =\n",
	    ":2: [limits] max_connections: expected a positive integer, "
	    "got \"\"");
	load_error("[limits]\nmax_batches_per_connection = 0\n",
	    ":2: [limits] max_batches_per_connection: expected an integer "
	    "from 1 to 9007199254740992, got \"0\"");
	load_error("[limits]\nmax_connections = 9007199254740993\n",
	    ":2: [limits] max_connections: expected an integer "
	    "from 1 to 9007199254740992, got \"9007199254740993\"");
	load_error("[limits]\nmax_connections = 18446744073709551615\n",
	    ":2: [limits] max_connections: expected an integer "
	    "from 1 to 9007199254740992, got \"18446744073709551615\"");
	load_error("[limits]\nmax_connections = 18446744073709551616\n",
	    ":2: [limits] max_connections: expected an integer "
	    "from 1 to 9007199254740992, got \"18446744073709551616\"");
	load_error("[limits]\nmax_connections = 99999999999999999999999999\n",
	    ":2: [limits] max_connections: expected an integer "
	    "from 1 to 9007199254740992, got \"99999999999999999999999999\"");
}

Test(config, threads)
{
	struct config	cfg;

	load_ok(&cfg, "[daemon]\nthreads = 1\n");
	cr_assert_eq(cfg.threads, 1);
	config_free(&cfg);
	load_ok(&cfg, "[daemon]\nthreads = 1024\n");
	cr_assert_eq(cfg.threads, 1024);
	config_free(&cfg);

	load_error("[daemon]\nthreads = 0\n",
	    ":2: [daemon] threads: expected an integer from 1 to 1024, "
	    "got \"0\"");
	load_error("[daemon]\nthreads = 1025\n",
	    ":2: [daemon] threads: expected an integer from 1 to 1024, "
	    "got \"1025\"");
	load_error("[daemon]\nthreads = four\n",
	    ":2: [daemon] threads: expected a positive integer, "
	    "got \"four\"");
}

Test(config, shutdown_timeout)
{
	struct config	cfg;

	load_ok(&cfg, "[daemon]\nshutdown_timeout_ms = 0\n");
	cr_assert_eq(cfg.shutdown_timeout_ms, 0);
	config_free(&cfg);
	load_ok(&cfg, "[daemon]\nshutdown_timeout_ms = 86400000\n");
	cr_assert_eq(cfg.shutdown_timeout_ms, 86400000);
	config_free(&cfg);

	load_error("[daemon]\nshutdown_timeout_ms = -1\n",
	    ":2: [daemon] shutdown_timeout_ms: expected a non-negative "
	    "integer, got \"-1\"");
	load_error("[daemon]\nshutdown_timeout_ms = 9007199254740993\n",
	    ":2: [daemon] shutdown_timeout_ms: expected an integer "
	    "from 0 to 9007199254740992, got \"9007199254740993\"");
}

Test(config, socket_mode)
{
	struct config	cfg;

	load_ok(&cfg, "[daemon]\nsocket_mode = 0600\n");
	cr_assert_eq(cfg.socket_mode, 0600);
	config_free(&cfg);
	load_ok(&cfg, "[daemon]\nsocket_mode = 777\n");
	cr_assert_eq(cfg.socket_mode, 0777);
	config_free(&cfg);
	load_ok(&cfg, "[daemon]\nsocket_mode = 0\n");
	cr_assert_eq(cfg.socket_mode, 0);
	config_free(&cfg);

	load_error("[daemon]\nsocket_mode = 0668\n",
	    ":2: [daemon] socket_mode: expected an octal mode from 0000 "
	    "to 0777, got \"0668\"");
	load_error("[daemon]\nsocket_mode = 01000\n",
	    ":2: [daemon] socket_mode: expected an octal mode from 0000 "
	    "to 0777, got \"01000\"");
	load_error("[daemon]\nsocket_mode = 77777777777777777777777\n",
	    ":2: [daemon] socket_mode: expected an octal mode from 0000 "
	    "to 0777, got \"77777777777777777777777\"");
	load_error("[daemon]\nsocket_mode = rw-rw----\n",
	    ":2: [daemon] socket_mode: expected an octal mode from 0000 "
	    "to 0777, got \"rw-rw----\"");
	load_error("[daemon]\nsocket_mode =\n",
	    ":2: [daemon] socket_mode: expected an octal mode from 0000 "
	    "to 0777, got \"\"");
}

Test(config, socket)
{
	struct config	 cfg;
	char		 path[110], *text;

	/* sun_path holds 107 bytes and the NUL. */
	memset(path, 's', sizeof path);
	path[0] = '/';
	path[107] = '\0';
	text = xasprintf("[daemon]\nsocket = %s\n", path);
	load_ok(&cfg, text);
	cr_assert_str_eq(cfg.socket, path);
	config_free(&cfg);
	free(text);

	path[107] = 's';
	path[108] = '\0';
	text = xasprintf("[daemon]\nsocket = %s\n", path);
	load_error(text, ":2: [daemon] socket: too long (108 bytes, "
	    "at most 107)");
	free(text);

	load_ok(&cfg, "[daemon]\nsocket = run/g.sock\n");
	cr_assert_str_eq(cfg.socket, "run/g.sock");
	config_free(&cfg);
	load_error("[daemon]\nsocket =\n",
	    ":2: [daemon] socket: must not be empty");
}

Test(config, log_level)
{
	struct config	cfg;

	load_ok(&cfg, "[daemon]\nlog_level = DEBUG\n");
	cr_assert_eq(cfg.log_level, LOG_LEVEL_DEBUG);
	config_free(&cfg);
	load_error("[daemon]\nlog_level = verbose\n",
	    ":2: [daemon] log_level: expected error, warning, info or "
	    "debug, got \"verbose\"");
}

/* Long values print over continuation lines that read back the same. */
Test(config, long_values_print_back)
{
	struct config	 cfg, again;
	char		*text, *line, *conf, *roots = xstrdup(""), *t;
	size_t		 size = 0;
	FILE		*fp;
	int		 i;

	for (i = 0; i < 12; i++) {
		t = xasprintf("%s\n  /r%02d/%s", roots, i, "aaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		free(roots);
		roots = t;
	}
	conf = xasprintf("[read]\nroots =%s\n[db.pg]\ndriver = postgres\n"
	    "conninfo = host=/run/postgresql dbname=app user=someone\n"
	    "  application_name=a-rather-long-name options='-c a=1 -c b=2'\n"
	    "  connect_timeout=10 sslmode=disable keepalives=1\n"
	    "  target_session_attrs=any password=x;y #z\n"
	    "[db.lite]\ndriver = sqlite\npath = /x/with two  spaces/and more/"
	    "%s\n", roots, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	load_ok(&cfg, conf);
	cr_assert_eq(rd(&cfg)->roots.n, 12);
	text = NULL;
	fp = open_memstream(&text, &size);
	config_print(&cfg, fp);
	fclose(fp);
	for (line = text; (t = strchr(line, '\n')) != NULL; line = t + 1)
		cr_assert_leq(t - line, 80, "a printed line of %d bytes: %.*s",
		    (int)(t - line), (int)(t - line), line);
	free(text);
	print_and_reload(&cfg, &again);
	assert_same(&cfg, &again);
	config_free(&again);
	config_free(&cfg);
	free(conf);
	free(roots);
}

/* Load text, print it, and assert the printed file reads back the same. */
static void
assert_reads_back(const char *text)
{
	struct config	cfg, again;

	load_ok(&cfg, text);
	print_and_reload(&cfg, &again);
	assert_same(&cfg, &again);
	config_free(&again);
	config_free(&cfg);
}

/* What fits a line as read fits it as printed, at the 198-byte limit. */
Test(config, values_at_the_line_limit_print_back)
{
	char	 piece[200], *text;

	/* "path=" and 193 bytes: printed as "path = ..." it would not fit. */
	memset(piece, 'p', sizeof piece);
	piece[0] = '/';
	piece[193] = '\0';
	text = xasprintf("[db.x]\ndriver=sqlite\npath=%s\n", piece);
	cr_assert_eq(strlen("path=") + strlen(piece), 198);
	assert_reads_back(text);
	free(text);

	/* A continuation line of one blank and 197 bytes. */
	piece[0] = 'c';
	piece[193] = 'c';
	piece[197] = '\0';
	text = xasprintf("[db.x]\ndriver = postgres\nconninfo = a\n %s\n", piece);
	assert_reads_back(text);
	free(text);
}

/* A wrapped value never puts a key of its section at a line's start. */
Test(config, wrapped_values_print_back_without_indented_keys)
{
	char	*text;

	text = xasprintf("[db.x]\ndriver = postgres\nconninfo = %070d "
	    "pool=3 pool =4 pool:5\n", 0);
	assert_reads_back(text);
	free(text);
	text = xasprintf("[db.x]\ndriver = postgres\nconninfo = %070d "
	    "pool\f:6\n", 0);
	assert_reads_back(text);
	free(text);
	text = xasprintf("[daemon]\nsocket = /%070d threads=3\n", 0);
	assert_reads_back(text);
	free(text);
}

/* Blanks other than the space stay inside a piece, never at its ends. */
Test(config, wrapped_values_keep_their_blanks)
{
	char	*text;

	text = xasprintf("[read]\nroots = /%060d\v /%060d\n  /%060d\f\t/x\n",
	    1, 2, 3);
	assert_reads_back(text);
	free(text);
	text = xasprintf("[db.x]\ndriver = postgres\nconninfo = %070d\v "
	    "x=1 \vy=2 z=3\n", 0);
	assert_reads_back(text);
	free(text);
}

Test(config, values_that_would_not_read_back)
{
	struct config	cfg;

	load_error("[daemon]\nsocket =; /t\n",
	    ":2: [daemon] socket: a value may not start with ';'");
	load_error("[daemon]\nsocket = #x\n",
	    ":2: [daemon] socket: a value may not start with '#'");
	/* An empty value continued on the next line: no leading blank. */
	load_ok(&cfg, "[db.default]\ndriver = sqlite\npath =\n  /x.db\n");
	cr_assert_str_eq(lite(&cfg.dbs[0])->path, "/x.db");
	config_free(&cfg);
	load_error("[limits]\nmax_jobs_per_batch = 4294967296\n",
	    ":2: [limits] max_jobs_per_batch: expected an integer from 1 to "
	    "4294967295, got \"4294967296\"");
}

Test(config, allow_uids_and_groups)
{
	struct config	cfg, again;

	load_ok(&cfg, "[daemon]\nallow_uids = root 1000\n"
	    "allow_groups = 0 root 4242\n");
	cr_assert_eq(cfg.allow_uids.n, 2);
	cr_assert_eq(cfg.allow_uids.v[0], 0);
	cr_assert_eq(cfg.allow_uids.v[1], 1000);
	cr_assert_eq(cfg.allow_gids.n, 3);
	cr_assert_eq(cfg.allow_gids.v[0], 0);
	cr_assert_eq(cfg.allow_gids.v[1], 0);
	cr_assert_eq(cfg.allow_gids.v[2], 4242);
	print_and_reload(&cfg, &again);
	assert_same(&cfg, &again);
	config_free(&again);
	config_free(&cfg);

	load_ok(&cfg, "[daemon]\n");
	cr_assert_eq(cfg.allow_uids.n, 0);
	cr_assert_eq(cfg.allow_gids.n, 0);
	config_free(&cfg);

	load_error("[daemon]\nallow_uids = root no-such-user-here\n",
	    ":2: [daemon] allow_uids: unknown user \"no-such-user-here\"");
	load_error("[daemon]\nallow_groups = no-such-group-here\n",
	    ":2: [daemon] allow_groups: unknown group \"no-such-group-here\"");
	load_error("[daemon]\nallow_uids =\n",
	    ":2: [daemon] allow_uids: expected at least one user name or"
	    " number");
	load_error("[daemon]\nallow_uids = 4294967295\n",
	    ":2: [daemon] allow_uids: unknown user \"4294967295\"");
}

Test(config, read)
{
	struct config	cfg;

	load_ok(&cfg, "[read]\nroots = /one\n");
	cr_assert_eq(rd(&cfg)->roots.n, 1);
	cr_assert_str_eq(rd(&cfg)->roots.v[0], "/one");
	cr_assert_eq(rd(&cfg)->max_bytes, 16777216);
	config_free(&cfg);

	load_ok(&cfg, "[read]\nmax_bytes = 1\n");
	cr_assert_eq(rd(&cfg)->max_bytes, 1);
	cr_assert_str_eq(rd(&cfg)->roots.v[0], "/var/lib/gatherd/files");
	config_free(&cfg);

	load_error("[read]\nroots = /a b /c\n",
	    ":2: [read] roots: expected an absolute path, got \"b\"");
	load_error("[read]\nroots =\n",
	    ":2: [read] roots: expected at least one absolute path");
	load_error("[read]\nmax_bytes = 0\n",
	    ":2: [read] max_bytes: expected an integer from 1 to "
	    "9007199254740992, got \"0\"");
}

Test(config, multiline_values)
{
	struct config	cfg;

	/* Indented lines continue a value, across blanks and comments. */
	load_ok(&cfg,
	    "[read]\n"
	    "roots = /a\n"
	    "    /b ; the second\n"
	    "\n"
	    "    ; a comment\n"
	    "\t/c\n"
	    "max_bytes = 5\n"
	    "[db.x]\n"
	    "driver = postgres\n"
	    "conninfo = host=/run/postgresql\n"
	    "  dbname=app\n");
	cr_assert_eq(rd(&cfg)->roots.n, 3);
	cr_assert_str_eq(rd(&cfg)->roots.v[0], "/a");
	cr_assert_str_eq(rd(&cfg)->roots.v[1], "/b");
	cr_assert_str_eq(rd(&cfg)->roots.v[2], "/c");
	cr_assert_eq(rd(&cfg)->max_bytes, 5);
	cr_assert_str_eq(pg(&cfg.dbs[0])->conninfo,
	    "host=/run/postgresql dbname=app");
	config_free(&cfg);

	/* An error in a continued value names its last line. */
	load_error("[limits]\nmax_connections = 1\n\n  2\n",
	    ":4: [limits] max_connections: expected a positive integer, "
	    "got \"1 2\"");
	load_error("[read]\nroots = /a\n  b\nmax_bytes = 1\n",
	    ":3: [read] roots: expected an absolute path, got \"b\"");

	/* An indented key would be swallowed by the value above it. */
	load_error("[db.x]\n  driver = postgres\n  conninfo = host=x\n",
	    ":3: [db.x] conninfo: indented, so it would continue the value "
	    "of driver");

	load_error("[daemon]\nthreads = 2\n  [limits] ; next\n",
	    ":3: [limits]: indented, so it would continue the value of "
	    "threads");

	/* After a header, an indented key is a key. */
	load_ok(&cfg, "[daemon]\n  threads = 3\n");
	cr_assert_eq(cfg.threads, 3);
	config_free(&cfg);
}

Test(config, db_names)
{
	struct config	 cfg;
	char		 name[81], *text;

	/* Longer than the 50 bytes inih kept of a section name. */
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	text = xasprintf("[db.%s]\ndriver = sqlite\npath = /x\n", name);
	load_ok(&cfg, text);
	cr_assert_str_eq(cfg.dbs[0].name, name);
	config_free(&cfg);
	free(text);

	load_error("[db.]\ndriver = sqlite\npath = /x\n",
	    ":1: [db.]: invalid database name, expected letters, digits, "
	    "'_' or '-'");
	load_error("\n[db.a b]\n",
	    ":2: [db.a b]: invalid database name, expected letters, digits, "
	    "'_' or '-'");
	load_error("[db.a/b]\n",
	    ":1: [db.a/b]: invalid database name, expected letters, digits, "
	    "'_' or '-'");
	load_error("[db.a.b]\n",
	    ":1: [db.a.b]: invalid database name, expected letters, digits, "
	    "'_' or '-'");
}

Test(config, db_driver)
{
	load_error("[daemon]\n[db.x]\npath = /x\n[limits]\n",
	    ":2: [db.x] driver: required");
	load_error("[db.x]\n", ":1: [db.x] driver: required");
	load_error("[db.x]\ndriver = mysql\n",
	    ":2: [db.x] driver: expected sqlite or postgres, got \"mysql\"");
	load_error("[db.x]\ndriver = SQLite\n",
	    ":2: [db.x] driver: expected sqlite or postgres, got \"SQLite\"");
}

Test(config, db_required_keys)
{
	/* Named at the section's header line. */
	load_error("[daemon]\nthreads = 2\n\n[db.x]\ndriver = sqlite\n"
	    "writable = true\n\n[db.y]\n",
	    ":4: [db.x] path: required for driver sqlite");
	load_error("[db.x]\ndriver = postgres\npool = 2\n",
	    ":1: [db.x] conninfo: required for driver postgres");
	load_error("[db.x]\ndriver = sqlite\npath =\n",
	    ":3: [db.x] path: must not be empty");
}

Test(config, db_keys_of_other_driver)
{
	/* After the driver: the key's own line. */
	load_error("[db.x]\ndriver = sqlite\npath = /x\nconninfo = a\n",
	    ":4: [db.x] conninfo: not a key of driver sqlite");
	load_error("[db.x]\ndriver = postgres\nconninfo = a\nwritable = 1\n",
	    ":4: [db.x] writable: not a key of driver postgres");

	/* Before it: still the key's line, the first such one. */
	load_error("[db.x]\nconninfo = a\npath = /x\npool = 2\n"
	    "driver = sqlite\n",
	    ":2: [db.x] conninfo: not a key of driver sqlite");
	load_error("[db.x]\nwritable = 1\npath = /x\nconninfo = a\n"
	    "driver = postgres\n",
	    ":2: [db.x] writable: not a key of driver postgres");
	load_error("[db.x]\nconninfo = a\npath = /x\npool = 2\n"
	    "driver = postgres\n",
	    ":3: [db.x] path: not a key of driver postgres");
}

Test(config, db_values)
{
	static const struct {
		const char	*text;
		int		 writable;
	} bools[] = {
		{ "true", 1 }, { "yes", 1 }, { "on", 1 }, { "1", 1 },
		{ "TRUE", 1 }, { "false", 0 }, { "no", 0 }, { "off", 0 },
		{ "0", 0 }, { "False", 0 },
	};
	struct config	 cfg;
	char		*text;
	size_t		 i;

	for (i = 0; i < sizeof bools / sizeof bools[0]; i++) {
		text = xasprintf("[db.x]\ndriver = sqlite\npath = /x\n"
		    "writable = %s\n", bools[i].text);
		load_ok(&cfg, text);
		cr_assert_eq(lite(&cfg.dbs[0])->writable, bools[i].writable, "%s",
		    bools[i].text);
		config_free(&cfg);
		free(text);
	}
	load_ok(&cfg, "[db.x]\ndriver = sqlite\npath = /x\n");
	cr_assert_eq(lite(&cfg.dbs[0])->writable, 0, "read-only by default");
	config_free(&cfg);
	load_error("[db.x]\ndriver = sqlite\npath = /x\nwritable = maybe\n",
	    ":4: [db.x] writable: expected true or false, got \"maybe\"");

	load_ok(&cfg, "[db.x]\ndriver = postgres\nconninfo =\npool = 1000\n");
	cr_assert_str_eq(pg(&cfg.dbs[0])->conninfo, "");
	cr_assert_eq(pg(&cfg.dbs[0])->pool, 1000);
	config_free(&cfg);
	load_error("[db.x]\ndriver = postgres\nconninfo = a\npool = 0\n",
	    ":4: [db.x] pool: expected an integer from 1 to 1000, got \"0\"");
	load_error("[db.x]\ndriver = postgres\nconninfo = a\npool = 1001\n",
	    ":4: [db.x] pool: expected an integer from 1 to 1000, "
	    "got \"1001\"");
}

Test(config, first_error_wins)
{
	load_error("[daemon]\nthreads = x\nbogus = 1\n[nope]\n",
	    ":2: [daemon] threads: expected a positive integer, got \"x\"");
	load_error("[daemon]\nthreads = x\nnot a key line\n",
	    ":2: [daemon] threads: expected a positive integer, got \"x\"");
	load_error("[daemon]\nnot a key line\nthreads = x\n",
	    ":2: syntax error");
	load_error("[db.x]\ndriver = sqlite\n[daemon\n",
	    ":1: [db.x] path: required for driver sqlite");
	load_error("[db.x]\ndriver = sqlite\npath = /x\n[limits]\n"
	    "max_connections = 0\n" "[daemon]\nthreads = 0\n",
	    ":5: [limits] max_connections: expected an integer from 1 to "
	    "9007199254740992, got \"0\"");
}

Test(config, print_reloads)
{
	struct config	cfg, again;
	char		*text = NULL;
	size_t		 size = 0;
	FILE		*fp;

	load_ok(&cfg, full_text);
	print_and_reload(&cfg, &again);
	assert_same(&cfg, &again);
	config_free(&again);

	/* The printed file names every database and the socket. */
	fp = open_memstream(&text, &size);
	config_print(&cfg, fp);
	fclose(fp);
	cr_assert_not_null(strstr(text, "\n[db.default]\ndriver = sqlite\n"
	    "path = /var/db/x.sqlite3\nwritable = true\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\n[db.other-DB_2]\n"
	    "driver = postgres\nconninfo = dbname=other\npool = 4\n"),
	    "%s", text);
	cr_assert_not_null(strstr(text, "\nsocket = /tmp/g.sock\n"
	    "socket_mode = 0600\n"), "%s", text);
	free(text);
	config_free(&cfg);

	/* The defaults, socket unset, print and reload too. */
	config_defaults(&cfg);
	print_and_reload(&cfg, &again);
	assert_defaults(&again);
	assert_same(&cfg, &again);
	config_free(&again);
	config_free(&cfg);
}

Test(config, free_twice)
{
	struct config	cfg;

	load_ok(&cfg, full_text);
	config_free(&cfg);
	cr_assert_null(cfg.file);
	cr_assert_null(cfg.socket);
	cr_assert_null(cfg.settings);
	cr_assert_null(cfg.dbs);
	cr_assert_eq(cfg.ndbs, 0);
	config_free(&cfg);
}

/* Call config_socket_path and compare, freeing the result. */
static void
assert_socket(const char *flag, const char *configured, const char *want)
{
	char	*got;

	got = config_socket_path(flag, configured);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(config, socket_path_precedence)
{
	unsetenv("GATHERD_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);

	setenv("GATHERD_SOCKET", "/env.sock", 1);
	assert_socket("/flag.sock", "/conf.sock", "/flag.sock");
	assert_socket(NULL, "/conf.sock", "/env.sock");
	assert_socket(NULL, NULL, "/env.sock");

	setenv("GATHERD_SOCKET", "", 1);
	assert_socket(NULL, "/conf.sock", "/conf.sock");
	unsetenv("GATHERD_SOCKET");
	assert_socket(NULL, "/conf.sock", "/conf.sock");
	assert_socket("/flag.sock", NULL, "/flag.sock");
}

Test(config, socket_path_default_root)
{
	if (geteuid() != 0)
		cr_skip_test("not running as root");
	unsetenv("GATHERD_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/run/user/0", 1);
	assert_socket(NULL, NULL, "/run/gatherd/gatherd.sock");
}

Test(config, socket_path_default_user)
{
	char	*want;

	/* As root, become someone else: each test is its own process. */
	if (geteuid() == 0 && seteuid(65534) != 0)
		cr_skip_test("cannot drop root: %s", strerror(errno));
	unsetenv("GATHERD_SOCKET");

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	assert_socket(NULL, NULL, "/run/user/1000/gatherd.sock");

	want = xasprintf("/tmp/gatherd-%u.sock", (unsigned)geteuid());
	setenv("XDG_RUNTIME_DIR", "", 1);
	assert_socket(NULL, NULL, want);
	unsetenv("XDG_RUNTIME_DIR");
	assert_socket(NULL, NULL, want);
	free(want);
}
