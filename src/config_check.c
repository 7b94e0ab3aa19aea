/*
 * What gatherd --check-config checks beyond the file's syntax: what can
 * be known without changing anything, so that a configuration that
 * passes does not fail at the first job. Each error names the file, the
 * line and the key, as a syntax error does.
 *
 * Checked: every read root the file names exists and is a directory; a
 * read-only SQLite database exists and is a regular file (gatherd opens
 * it read-only and never creates it); a writable one's directory exists
 * (SQLite creates the file, not the directory). Not checked, because
 * finding out would change something or needs the daemon's user: whether
 * gatherd's user may open them, whether a PostgreSQL server answers,
 * whether the socket and [metrics] listen can be bound. The http job
 * type's ca_file, when it comes, belongs here too.
 *
 * Start-up does not make these checks: a root or a database may appear
 * after gatherd starts (a mount, another service); a read or query of a
 * missing one fails with a clear error instead.
 */

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_check.h"
#include "xmalloc.h"

/* "FILE:LINE: [SECTION] KEY: VALUE: why", for *cause. */
static int
config_check_error(const struct config *cfg, int line, const char *section,
    const char *key, const char *value, const char *why, char **cause)
{
	*cause = xasprintf("%s:%d: [%s] %s: %s: %s", cfg->file, line, section,
	    key, value, why);
	return -1;
}

/* The read roots the file names. */
static int
config_check_roots(const struct config *cfg, char **cause)
{
	struct stat	sb;
	size_t		i;

	if (cfg->read_roots_line == 0)
		return 0;	/* the built-in default need not exist */
	for (i = 0; i < cfg->nread_roots; i++) {
		if (stat(cfg->read_roots[i], &sb) == -1)
			return config_check_error(cfg, cfg->read_roots_line,
			    "read", "roots", cfg->read_roots[i], errno == ENOENT ?
			    "no such directory" : strerror(errno), cause);
		if (!S_ISDIR(sb.st_mode))
			return config_check_error(cfg, cfg->read_roots_line,
			    "read", "roots", cfg->read_roots[i],
			    "not a directory", cause);
	}
	return 0;
}

/* The SQLite databases' files, or their directories when writable. */
static int
config_check_sqlite(const struct config *cfg, const struct db_config *db,
    char **cause)
{
	struct stat	 sb;
	char		*section, *dir, *slash;
	int		 rc = 0;

	section = xasprintf("db.%s", db->name);
	if (!db->writable) {
		if (stat(db->path, &sb) == -1)
			rc = config_check_error(cfg, db->path_line, section,
			    "path", db->path, errno == ENOENT ? "no such file"
			    " (a database that is not writable is opened"
			    " read-only and never created)" : strerror(errno),
			    cause);
		else if (!S_ISREG(sb.st_mode))
			rc = config_check_error(cfg, db->path_line, section,
			    "path", db->path, "not a regular file", cause);
	} else {
		dir = xstrdup(db->path);
		if ((slash = strrchr(dir, '/')) != NULL)
			*(slash == dir ? slash + 1 : slash) = '\0';
		if (slash != NULL && (stat(dir, &sb) == -1 ||
		    !S_ISDIR(sb.st_mode)))
			rc = config_check_error(cfg, db->path_line, section,
			    "path", db->path, "its directory does not exist"
			    " (SQLite creates the file, not the directory)",
			    cause);
		free(dir);
	}
	free(section);
	return rc;
}

/*
 * Check what can be checked of cfg without side effects (see above). 0,
 * or -1 with *cause: FILE:LINE: [SECTION] KEY: VALUE: what is wrong.
 */
int
config_check(const struct config *cfg, char **cause)
{
	size_t	i;

	if (cfg->file == NULL)
		return 0;	/* built-in defaults name nothing of the user's */
	if (config_check_roots(cfg, cause) == -1)
		return -1;
	for (i = 0; i < cfg->ndbs; i++) {
		if (cfg->dbs[i].driver == DB_SQLITE &&
		    config_check_sqlite(cfg, &cfg->dbs[i], cause) == -1)
			return -1;
	}
	return 0;
}
