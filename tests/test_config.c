/*
 * The configuration file as a file: defaults, the example
 * etc/gatherd.conf, a file setting everything, missing and unreadable
 * files, comments, line forms, unknown sections and keys, duplicates,
 * syntax errors, NUL bytes and long lines, each error with its exact
 * message; the first error wins, and a configuration frees twice.
 *
 * The configuration suites share the suite name config and the fixture in
 * configtest.h.
 */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "config.h"
#include "configtest.h"
#include "xmalloc.h"

TestSuite(config, .fini = configtest_fini);

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
	char		*dir, *path, *notdir, *cause = NULL;

	dir = xstrdup("/tmp/test_config.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	add_tmp(dir);
	path = xasprintf("%s/gatherd.conf", dir);

	config_defaults(&cfg);
	cr_assert_eq(config_load(&cfg, path, 0, &cause), 0);
	cr_assert_null(cause);
	cr_assert_null(cfg.file);
	assert_defaults(&cfg);

	load_path_error(&cfg, path, 1, ": cannot open: No such file or directory");
	cr_assert_null(cfg.file);

	/* Only a missing file is: any other failure is an error. */
	notdir = xasprintf("%s/x", write_conf(""));
	load_path_error(&cfg, notdir, 0, ": cannot open: Not a directory");
	free(notdir);

	/* A directory is not missing: it is an error either way. */
	load_path_error(&cfg, dir, 0, ": cannot open: Is a directory");

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
	load_bad_values("daemon", "expected a positive integer",
	    "threads", "8 # eight", NULL);
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
	/* Every line was read, each in its form. */
	cr_assert(cfg.threads == 5 && cfg.log_level == LOG_LEVEL_ERROR &&
	    rd(&cfg)->max_bytes == 7, "threads %u, log_level %d, max_bytes %llu",
	    cfg.threads, (int)cfg.log_level,
	    (unsigned long long)rd(&cfg)->max_bytes);
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

	config_defaults(&cfg);
	load_path_error(&cfg, write_bytes(text, sizeof text - 1), 1,
	    ":2: syntax error");
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
