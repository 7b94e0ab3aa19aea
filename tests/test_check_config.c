/*
 * gatherd --check-config, the real binary on real files: the syntax and
 * the new keys ([daemon] log_requests, [metrics] listen), and what it
 * looks at without changing anything: read roots that do not exist or
 * are not directories, a read-only SQLite database that does not exist,
 * a writable one whose directory does not, a PostgreSQL CA file that
 * cannot be read. Errors name the file, line and key; a valid file exits
 * 0 and prints the settings in effect.
 */

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "xmalloc.h"

static char	dir[64];

/* The harness's init, and a directory of the test's that its fini removes. */
static void
setup(void)
{
	harness_suite_init();
	harness_tmpdir(dir, sizeof dir, "gatherd-check");
}

TestSuite(check_config, .init = setup, .fini = harness_suite_fini,
    .timeout = 120);

/* text with every @ replaced by the test's directory. Caller frees. */
static char *
subst(const char *text)
{
	char	*out, *o;
	size_t	 n = 0;

	for (o = (char *)text; *o != '\0'; o++)
		n += *o == '@';
	out = o = xmalloc(strlen(text) + n * strlen(dir) + 1);
	for (; *text != '\0'; text++) {
		if (*text == '@')
			o = stpcpy(o, dir);
		else
			*o++ = *text;
	}
	*o = '\0';
	return out;
}

/*
 * Run gatherd -c path --check-config, through GATHERD_TEST_WRAPPER when
 * it is set (valgrind: a leak or an error exits 99, not 0 or 1); its
 * exit status, stdout and stderr together in *out.
 */
static int
check_file(const char *path, char **out)
{
	const char	*wrapper = getenv("GATHERD_TEST_WRAPPER");

	return run_commandf(out, "%s %s -c '%s' --check-config 2>&1",
	    wrapper != NULL ? wrapper : "", GATHERD_BIN, path);
}

/*
 * Write text (@ standing for the test's directory) to dir/gatherd.conf
 * and check it (check_file).
 */
static int
check(const char *text, char **out)
{
	char	*path, *body;
	FILE	*f;
	int	 rc;

	path = harness_fmt("%s/gatherd.conf", dir);
	body = subst(text);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(body, f);
	cr_assert_eq(fclose(f), 0);
	rc = check_file(path, out);
	free(body);
	free(path);
	return rc;
}

/*
 * Assert the check failed with exactly this message after the file name
 * (@ standing for the test's directory in both).
 */
static void
fails_with(const char *text, const char *want)
{
	char	*out, *line, *w = subst(want);

	cr_assert_eq(check(text, &out), 1, "%s", out);
	line = harness_fmt("gatherd: %s/gatherd.conf:%s\n", dir, w);
	cr_assert_str_eq(out, line);
	free(line);
	free(out);
	free(w);
}

Test(check_config, a_valid_file_prints_the_settings)
{
	char	*out;

	cr_assert_eq(mkdir(harness_fmt("%s/files", dir), 0755), 0);
	cr_assert_eq(check("[daemon]\nlog_requests = yes\n[read]\n"
	    "roots = @/files\n[metrics]\nlisten = 127.0.0.1:9464\n"
	    "[db.w]\ndriver = sqlite\npath = @/new.sqlite\nwritable = true\n",
	    &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "\nlog_requests = true\n"), "%s", out);
	cr_assert_not_null(strstr(out, "\n[metrics]\nlisten = 127.0.0.1:9464\n"),
	    "%s", out);
	free(out);
	/* Nothing was created: a check has no side effects. */
	cr_assert_neq(access(harness_fmt("%s/new.sqlite", dir), F_OK), 0);
}

/* The installed example passes on any machine: what it names is a default. */
Test(check_config, the_example_file_passes)
{
	const char	*srcdir = getenv("srcdir");
	char		*out, *path;

	path = harness_fmt("%s/etc/gatherd.conf", srcdir != NULL ? srcdir :
	    ".");
	cr_assert_eq(check_file(path, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "\n[metrics]\n"), "%s", out);
	free(out);
	free(path);
}

Test(check_config, read_roots_must_be_directories)
{
	char	*p;
	FILE	*f;

	fails_with("[read]\nroots = /nonexistent/gatherd-root\n",
	    "2: [read] roots: /nonexistent/gatherd-root: no such directory");
	p = harness_fmt("%s/file", dir);
	cr_assert_not_null(f = fopen(p, "w"));
	fclose(f);
	fails_with("\n[read]\n\nroots = @ @/file\n",
	    "4: [read] roots: @/file: not a directory");
	free(p);
}

Test(check_config, a_read_only_database_must_exist)
{
	fails_with("[db.main]\ndriver = sqlite\npath = @/none.sqlite\n",
	    "3: [db.main] path: @/none.sqlite: no such file (a"
	    " database that is not writable is opened read-only and never"
	    " created)");
	cr_assert_eq(mkdir(harness_fmt("%s/d.sqlite", dir), 0755), 0);
	fails_with("[db.main]\npath = @/d.sqlite\ndriver = sqlite\n",
	    "2: [db.main] path: @/d.sqlite: not a regular file");
}

Test(check_config, a_writable_database_needs_its_directory)
{
	fails_with("[db.main]\ndriver = sqlite\nwritable = true\n"
	    "path = @/no/such/dir/db.sqlite\n",
	    "4: [db.main] path: @/no/such/dir/db.sqlite: its"
	    " directory does not exist (SQLite creates the file, not the"
	    " directory)");
}

/*
 * The files a PostgreSQL conninfo names (the CA certificate, the client's
 * certificate and key, the CRL, the password file) must be regular files
 * it can read; "system" is libpq's CA store. Nothing connects.
 */
Test(check_config, a_postgres_ca_file_must_be_readable)
{
	char	*out;
	FILE	*f;

	fails_with("[db.pg]\ndriver = postgres\n"
	    "conninfo = host=/nonexistent sslmode=verify-full"
	    " sslrootcert=@/ca.pem\n",
	    "3: [db.pg] conninfo: sslrootcert @/ca.pem: no such file");
	fails_with("[db.pg]\ndriver = postgres\n"
	    "conninfo = host=/nonexistent sslkey=@\n",
	    "3: [db.pg] conninfo: sslkey @: not a regular file");
	cr_assert_not_null(f = fopen(harness_fmt("%s/ca.pem", dir), "w"));
	fclose(f);
	cr_assert_eq(check("[db.pg]\ndriver = postgres\nconninfo = host=/x"
	    " sslrootcert=@/ca.pem passfile=@/ca.pem\n[db.sys]\n"
	    "driver = postgres\nconninfo = host=/x sslrootcert=system\n",
	    &out), 0, "%s", out);
	free(out);
}

Test(check_config, new_keys_are_checked)
{
	fails_with("[daemon]\nlog_requests = sometimes\n",
	    "2: [daemon] log_requests: expected true or false, got"
	    " \"sometimes\"");
	fails_with("[metrics]\nlisten = 9464\n",
	    "2: [metrics] listen: expected HOST:PORT (127.0.0.1:9464, [::1]:9464"
	    " or localhost:9464), got \"9464\"");
	fails_with("[metrics]\nlisten = 127.0.0.1:65536\n",
	    "2: [metrics] listen: expected HOST:PORT (127.0.0.1:9464, [::1]:9464"
	    " or localhost:9464), got \"127.0.0.1:65536\"");
	fails_with("[metrics]\nlisten = example.com:9464\n",
	    "2: [metrics] listen: expected HOST:PORT (127.0.0.1:9464, [::1]:9464"
	    " or localhost:9464), got \"example.com:9464\"");
	fails_with("[metrics]\nport = 1\n", "2: [metrics] port: unknown key");
}

Test(check_config, listen_takes_ipv6_and_localhost)
{
	char	*out;

	cr_assert_eq(check("[metrics]\nlisten = [::1]:0\n", &out), 0, "%s",
	    out);
	free(out);
	cr_assert_eq(check("[metrics]\nlisten = localhost:9464\n", &out), 0,
	    "%s", out);
	cr_assert_not_null(strstr(out, "listen = localhost:9464\n"), "%s", out);
	free(out);
	cr_assert_eq(check("[metrics]\nlisten =\n", &out), 0, "%s", out);
	free(out);
}
