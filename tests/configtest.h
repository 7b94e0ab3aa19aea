/*
 * The configuration suites' fixture (configtest.c): configuration text
 * written to temporary files (removed by configtest_fini, the suites'
 * .fini), loaded over the defaults, and compared. Every helper asserts
 * (Criterion) instead of returning errors.
 */
#ifndef GATHERD_CONFIGTEST_H
#define GATHERD_CONFIGTEST_H

#include <stddef.h>

#include "config.h"
#include "db/postgres.h"
#include "db/sqlite.h"
#include "jobs/read.h"

/* A file that sets every key to a value other than its default. */
extern const char	full_text[];

/* cfg's [read] settings. */
const struct read_settings	*rd(const struct config *cfg);
/* The settings of a database with driver sqlite (asserted). */
const struct sqlite_settings	*lite(const struct db_config *db);
/* The settings of a database with driver postgres (asserted). */
const struct postgres_settings	*pg(const struct db_config *db);

/* Remove what the test made: the suites' .fini. */
void		 configtest_fini(void);
/* Remember a path (stolen) to remove after the test; returns it. */
const char	*add_tmp(char *path);
/* Write len bytes to a new temporary file and return its path. */
const char	*write_bytes(const char *text, size_t len);
/* Write text to a new temporary file and return its path. */
const char	*write_conf(const char *text);
/* Load text over the defaults into cfg, asserting it is valid. */
void		 load_ok(struct config *cfg, const char *text);
/* Load text, asserting the error is exactly FILE followed by suffix. */
void		 load_error(const char *text, const char *suffix);
/*
 * Load path into cfg (it must exist if must_exist), asserting the error
 * is exactly path followed by suffix.
 */
void		 load_path_error(struct config *cfg, const char *path,
		    int must_exist, const char *suffix);
/*
 * Assert that each key and value that follow expected (pairs, up to a
 * NULL key), alone on line 2 in [section], are refused with "KEY:
 * expected, got \"VALUE\"" (expected: "expected a positive integer").
 */
void		 load_bad_values(const char *section, const char *expected, ...)
		    __attribute__((sentinel));
/* Assert cfg holds the built-in defaults, file aside. */
void		 assert_defaults(const struct config *cfg);
/* Assert two configurations hold the same settings, file aside. */
void		 assert_same(const struct config *a, const struct config *b);
/* Assert that text loads, with field of the configuration equal to want. */
#define EXPECT_LOADS(text, field, want) do {				\
	struct config	cfg_;						\
									\
	load_ok(&cfg_, (text));						\
	cr_assert_eq(cfg_.field, (want), "%s in:\n%s", #field, (text));	\
	config_free(&cfg_);						\
} while (0)

/* Print cfg, load the output over the defaults into out. */
void		 print_and_reload(const struct config *cfg, struct config *out);

#endif
