/*
 * Every key's values: limits, threads, shutdown_timeout_ms, the socket and
 * its mode, the log level, allowed uids and groups, read roots, values
 * over several lines, databases (names, drivers, required keys, values),
 * and the socket path's precedence.
 *
 * The configuration suites share the suite name config and the fixture in
 * configtest.h.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "configtest.h"
#include "harness.h"
#include "xmalloc.h"

TestSuite(config, .fini = configtest_fini);

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
	load_bad_values("limits", "expected a positive integer",
	    "max_request_bytes", "-1", "max_jobs_per_batch", "+1",
	    "max_inflight_jobs", "12k", "max_inflight_jobs", "1 2",
	    "max_output_bytes", "0x10", "max_output_bytes", "1.5",
	    "max_connections", "", NULL);
	load_bad_values("limits",
	    "expected an integer from 1 to 9007199254740992",
	    "max_batches_per_connection", "0",
	    "max_connections", "9007199254740993",
	    "max_connections", "18446744073709551615",
	    "max_connections", "18446744073709551616",
	    "max_connections", "99999999999999999999999999", NULL);
}

Test(config, threads)
{
	EXPECT_LOADS("[daemon]\nthreads = 1\n", threads, 1);
	EXPECT_LOADS("[daemon]\nthreads = 1024\n", threads, 1024);

	load_bad_values("daemon", "expected an integer from 1 to 1024",
	    "threads", "0", "threads", "1025", NULL);
	load_bad_values("daemon", "expected a positive integer",
	    "threads", "four", NULL);
}

Test(config, shutdown_timeout)
{
	EXPECT_LOADS("[daemon]\nshutdown_timeout_ms = 0\n",
	    shutdown_timeout_ms, 0);
	EXPECT_LOADS("[daemon]\nshutdown_timeout_ms = 86400000\n",
	    shutdown_timeout_ms, 86400000);

	load_bad_values("daemon", "expected a non-negative integer",
	    "shutdown_timeout_ms", "-1", NULL);
	load_bad_values("daemon", "expected an integer from 0 to "
	    "9007199254740992", "shutdown_timeout_ms", "9007199254740993",
	    NULL);
}

Test(config, socket_mode)
{
	EXPECT_LOADS("[daemon]\nsocket_mode = 0600\n", socket_mode, 0600);
	EXPECT_LOADS("[daemon]\nsocket_mode = 777\n", socket_mode, 0777);
	EXPECT_LOADS("[daemon]\nsocket_mode = 0\n", socket_mode, 0);

	load_bad_values("daemon", "expected an octal mode from 0000 to 0777",
	    "socket_mode", "0668", "socket_mode", "01000",
	    "socket_mode", "77777777777777777777777",
	    "socket_mode", "rw-rw----", "socket_mode", "", NULL);
}

Test(config, socket)
{
	struct config	 cfg;
	char		*path, *text;

	/* sun_path holds 107 bytes and the NUL: 107 are taken, 108 not. */
	path = harness_fill('s', 108);
	path[0] = '/';
	text = xasprintf("[daemon]\nsocket = %.107s\n", path);
	load_ok(&cfg, text);
	cr_assert_eq(strlen(cfg.socket), 107);
	cr_assert(strncmp(cfg.socket, path, 107) == 0, "%s", cfg.socket);
	config_free(&cfg);
	free(text);
	text = xasprintf("[daemon]\nsocket = %s\n", path);
	load_error(text, ":2: [daemon] socket: too long (108 bytes, "
	    "at most 107)");
	free(text);
	free(path);

	load_ok(&cfg, "[daemon]\nsocket = run/g.sock\n");
	cr_assert_str_eq(cfg.socket, "run/g.sock");
	config_free(&cfg);
	load_error("[daemon]\nsocket =\n",
	    ":2: [daemon] socket: must not be empty");
}

Test(config, log_level)
{
	EXPECT_LOADS("[daemon]\nlog_level = DEBUG\n",
	    log_level, LOG_LEVEL_DEBUG);
	load_error("[daemon]\nlog_level = verbose\n",
	    ":2: [daemon] log_level: expected error, warning, info or "
	    "debug, got \"verbose\"");
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
	EXPECT_LOADS("[daemon]\n  threads = 3\n", threads, 3);
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
		cr_assert_eq(lite(&cfg.dbs[0])->writable, bools[i].writable,
		    "%s", bools[i].text);
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
