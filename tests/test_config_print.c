/*
 * config_print: what it prints reads back as the same configuration,
 * long values wrapped over continuation lines, and values that would not
 * read back refused.
 *
 * The configuration suites share the suite name config and the fixture in
 * configtest.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "config.h"
#include "configtest.h"
#include "xmalloc.h"

TestSuite(config, .fini = configtest_fini);

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
