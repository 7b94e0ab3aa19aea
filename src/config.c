/*
 * The configuration file (daemon.md): an INI file read with inih over the
 * built-in defaults.
 *
 * inih is driven through ini_parse_stream() with our own line reader, so
 * that we count lines, see every section header (inih does not report a
 * section without keys) and refuse a line too long for inih's fixed buffer
 * instead of letting it split the line in two. The reader mirrors inih's
 * view of each line: comment, continuation, section header or key.
 *
 * inih hands the continuation of a multiline value to the handler as
 * another call for the same key, so a value is only checked and stored when
 * the next statement starts (or at the end of the file); the continued
 * lines are joined with a space and an error names the value's last line.
 * A [db.NAME] section is checked when it ends, since its driver may come
 * after the keys that depend on it.
 *
 * The first error stops the parse: once one is recorded the handler
 * returns 0 and the reader returns NULL.
 */

#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "xmalloc.h"

/* Where config_print continues a long value on the next line. */
#define CONFIG_PRINT_WIDTH	76

/* The largest integer a JSON number holds exactly. */
#define CONFIG_INT_MAX		(UINT64_C(1) << 53)
#define CONFIG_SECTION_KEYS	16	/* the most keys a section has */

/* Room for a socket path, its terminating NUL included. */
#define CONFIG_SOCKET_SIZE	sizeof(((struct sockaddr_un *)NULL)->sun_path)

#define CONFIG_DB_PREFIX	"db."
#define CONFIG_DB_NAME_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
				"abcdefghijklmnopqrstuvwxyz0123456789_-"

/* Which drivers a [db.NAME] key belongs to: a bit per enum db_driver. */
#define CONFIG_SQLITE		(1 << DB_SQLITE)
#define CONFIG_POSTGRES		(1 << DB_POSTGRES)

#define CONFIG_POOL_DEFAULT	4

enum config_section {
	CONFIG_NONE,
	CONFIG_DAEMON,
	CONFIG_LIMITS,
	CONFIG_READ,
	CONFIG_DB,
};

struct config_parse;

struct config_key {
	const char	*name;
	int		(*set)(struct config_parse *, const struct config_key *,
			    const char *);
	size_t		 off;		/* uint64_t keys: field of struct config */
	uint64_t	 min;		/* integer keys: the accepted range */
	uint64_t	 max;
	int		 drivers;	/* db keys: CONFIG_SQLITE etc., 0 for all */
};

struct config_section_def {
	const char		*name;
	enum config_section	 id;
	const struct config_key	*keys;
};

/* The state of one config_load: inih calls back into it. */
struct config_parse {
	struct config		*cfg;
	const char		*path;
	FILE			*f;
	char			*buf;		/* owned: getline's line */
	size_t			 bufsize;
	int			 line;		/* of the line last read */

	char			*error;		/* owned: the first error */

	int			 continued;	/* the line read continues a value */
	int			 after_key;	/* inih's prev_name is set */

	enum config_section	 section;
	char			*section_name;	/* owned: as between brackets */
	int			 section_line;
	const struct config_key	*keys;		/* the current section's keys */
	unsigned		 seen_sections;	/* a bit per enum config_section */
	unsigned		 seen_keys;	/* a bit per key of the section */
	int			 key_lines[CONFIG_SECTION_KEYS]; /* 0 if absent */
	size_t			 db;		/* CONFIG_DB: index in cfg->dbs */
	int			 driver_set;	/* CONFIG_DB: driver was read */

	const struct config_key	*key;		/* the key being read, or NULL */
	char			*value;		/* owned: its value so far */
	int			 value_line;	/* the value's last line */
};

static int	config_set_socket(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_socket_mode(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_threads(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_log_level(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_u64(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_roots(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_allow_uids(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_allow_groups(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_driver(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_path(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_writable(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_busy_timeout(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_conninfo(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_pool(struct config_parse *,
		    const struct config_key *, const char *);

#define CONFIG_LIMIT(name, field) {					\
	name, config_set_u64, offsetof(struct config, limits.field),	\
	1, CONFIG_INT_MAX, 0						\
}

static const struct config_key config_daemon_keys[] = {
	{ "socket", config_set_socket, 0, 0, 0, 0 },
	{ "socket_mode", config_set_socket_mode, 0, 0, 0777, 0 },
	{ "threads", config_set_threads, 0, 1, 1024, 0 },
	{ "log_level", config_set_log_level, 0, 0, 0, 0 },
	{ "shutdown_timeout_ms", config_set_u64,
	    offsetof(struct config, shutdown_timeout_ms), 0, CONFIG_INT_MAX, 0 },
	{ "allow_uids", config_set_allow_uids, 0, 0, 0, 0 },
	{ "allow_groups", config_set_allow_groups, 0, 0, 0, 0 },
	{ NULL, NULL, 0, 0, 0, 0 }
};

static const struct config_key config_limits_keys[] = {
	CONFIG_LIMIT("max_connections", max_connections),
	CONFIG_LIMIT("max_request_bytes", max_request_bytes),
	/* Jobs are counted in 32 bits. */
	{ "max_jobs_per_batch", config_set_u64,
	    offsetof(struct config, limits.max_jobs_per_batch), 1, UINT32_MAX, 0 },
	CONFIG_LIMIT("max_inflight_jobs", max_inflight_jobs),
	CONFIG_LIMIT("max_batches_per_connection", max_batches_per_connection),
	CONFIG_LIMIT("max_output_bytes", max_output_bytes),
	CONFIG_LIMIT("max_connection_bytes", max_connection_bytes),
	CONFIG_LIMIT("max_memory_bytes", max_memory_bytes),
	CONFIG_LIMIT("max_connections_per_uid", max_connections_per_uid),
	{ NULL, NULL, 0, 0, 0, 0 }
};

static const struct config_key config_read_keys[] = {
	{ "roots", config_set_roots, 0, 0, 0, 0 },
	CONFIG_LIMIT("max_bytes", read_max_bytes),
	{ NULL, NULL, 0, 0, 0, 0 }
};

static const struct config_key config_db_keys[] = {
	{ "driver", config_set_driver, 0, 0, 0, 0 },
	{ "path", config_set_path, 0, 0, 0, CONFIG_SQLITE },
	{ "writable", config_set_writable, 0, 0, 0, CONFIG_SQLITE },
	{ "busy_timeout_ms", config_set_busy_timeout, 0, 0, 3600000,
	    CONFIG_SQLITE },
	{ "conninfo", config_set_conninfo, 0, 0, 0, CONFIG_POSTGRES },
	{ "pool", config_set_pool, 0, 1, 1000, CONFIG_POSTGRES },
	{ NULL, NULL, 0, 0, 0, 0 }
};

/* Each section's keys fit key_lines and seen_keys (NULL-ended tables). */
#define CONFIG_KEYS_FIT(t)	\
	_Static_assert(sizeof(t) / sizeof((t)[0]) - 1 <= CONFIG_SECTION_KEYS, #t)
CONFIG_KEYS_FIT(config_daemon_keys);
CONFIG_KEYS_FIT(config_limits_keys);
CONFIG_KEYS_FIT(config_read_keys);
CONFIG_KEYS_FIT(config_db_keys);

static const struct config_section_def config_sections[] = {
	{ "daemon", CONFIG_DAEMON, config_daemon_keys },
	{ "limits", CONFIG_LIMITS, config_limits_keys },
	{ "read", CONFIG_READ, config_read_keys },
};

static const char *const config_driver_names[] = {
	[DB_SQLITE] = "sqlite",
	[DB_POSTGRES] = "postgres",
};

/* Record an error at a line, in the form FILE:LINE: MESSAGE. */
static void __attribute__((format(printf, 3, 4)))
config_error(struct config_parse *p, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (p->error != NULL)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	p->error = xasprintf("%s:%d: %s", p->path, line, msg);
	free(msg);
}

/* Record an error about a key: FILE:LINE: [SECTION] KEY: MESSAGE. */
static int __attribute__((format(printf, 4, 5)))
config_key_error(struct config_parse *p, int line, const char *key,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	config_error(p, line, "[%s] %s: %s", p->section_name, key, msg);
	free(msg);
	return -1;
}

/* Parse a decimal integer: 0, -1 if not digits only, -2 on overflow. */
static int
config_parse_u64(const char *s, uint64_t *v)
{
	uint64_t	n = 0;
	int		overflow = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			overflow = 1;
		else
			n = n * 10 + (uint64_t)(*s - '0');
	}
	if (overflow)
		return -2;
	*v = n;
	return 0;
}

/* Parse an integer value in the key's range, recording any error. */
static int
config_integer(struct config_parse *p, const struct config_key *k,
    const char *value, uint64_t *v)
{
	int	rc;

	rc = config_parse_u64(value, v);
	if (rc == -1) {
		return config_key_error(p, p->value_line, k->name,
		    "expected a %s integer, got \"%s\"",
		    k->min > 0 ? "positive" : "non-negative", value);
	}
	if (rc == -2 || *v < k->min || *v > k->max) {
		return config_key_error(p, p->value_line, k->name,
		    "expected an integer from %" PRIu64 " to %" PRIu64
		    ", got \"%s\"", k->min, k->max, value);
	}
	return 0;
}

/* Set [daemon] socket. */
static int
config_set_socket(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	size_t	len = strlen(value);

	if (len == 0)
		return config_key_error(p, p->value_line, k->name,
		    "must not be empty");
	if (len >= CONFIG_SOCKET_SIZE) {
		return config_key_error(p, p->value_line, k->name,
		    "too long (%zu bytes, at most %zu)", len,
		    CONFIG_SOCKET_SIZE - 1);
	}
	free(p->cfg->socket);
	p->cfg->socket = xstrdup(value);
	return 0;
}

/* Set [daemon] socket_mode, an octal number. */
static int
config_set_socket_mode(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	const char	*s;
	unsigned	 mode = 0;

	for (s = value; *s >= '0' && *s <= '7' && mode <= k->max; s++)
		mode = mode * 8 + (unsigned)(*s - '0');
	if (*value == '\0' || *s != '\0' || mode > k->max) {
		return config_key_error(p, p->value_line, k->name,
		    "expected an octal mode from 0000 to 0777, got \"%s\"",
		    value);
	}
	p->cfg->socket_mode = (mode_t)mode;
	return 0;
}

/* Set [daemon] threads. */
static int
config_set_threads(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	uint64_t	v;

	if (config_integer(p, k, value, &v) != 0)
		return -1;
	p->cfg->threads = (unsigned)v;
	return 0;
}

/* Set [daemon] log_level. */
static int
config_set_log_level(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	if (log_level_parse(value, &p->cfg->log_level) != 0) {
		return config_key_error(p, p->value_line, k->name,
		    "expected error, warning, info or debug, got \"%s\"",
		    value);
	}
	return 0;
}

/* Set a uint64_t field of struct config, such as a limit. */
static int
config_set_u64(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	uint64_t	v;

	if (config_integer(p, k, value, &v) != 0)
		return -1;
	memcpy((char *)p->cfg + k->off, &v, sizeof v);
	return 0;
}

/* Free a list of strings. */
static void
config_free_list(char **list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Set [read] roots: a list of absolute paths replacing the default. */
static int
config_set_roots(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	char	**roots = NULL, *copy, *word, *last;
	size_t	  n = 0;

	copy = xstrdup(value);
	for (word = strtok_r(copy, " \t", &last); word != NULL;
	    word = strtok_r(NULL, " \t", &last)) {
		if (*word != '/') {
			config_key_error(p, p->value_line, k->name,
			    "expected an absolute path, got \"%s\"", word);
			goto fail;
		}
		roots = xreallocarray(roots, n + 1, sizeof *roots);
		roots[n++] = xstrdup(word);
	}
	if (n == 0) {
		config_key_error(p, p->value_line, k->name,
		    "expected at least one absolute path");
		goto fail;
	}
	free(copy);
	config_free_list(p->cfg->read_roots, p->cfg->nread_roots);
	p->cfg->read_roots = roots;
	p->cfg->nread_roots = n;
	return 0;

fail:
	free(copy);
	config_free_list(roots, n);
	return -1;
}

/*
 * A user or group id: digits, or a name the system knows (looked up when
 * the configuration is loaded, never on the loop). Returns 0 or -1.
 */
static int
config_id(const char *word, int group, unsigned *id)
{
	struct passwd	*pw;
	struct group	*gr;
	uint64_t	 v;

	if (config_parse_u64(word, &v) == 0) {
		if (v >= UINT32_MAX)
			return -1;
		*id = (unsigned)v;
		return 0;
	}
	if (group) {
		if ((gr = getgrnam(word)) == NULL)
			return -1;
		*id = gr->gr_gid;
	} else {
		if ((pw = getpwnam(word)) == NULL)
			return -1;
		*id = pw->pw_uid;
	}
	return 0;
}

/* Set allow_uids or allow_groups: a list of names or numeric ids. */
static int
config_set_ids(struct config_parse *p, const struct config_key *k,
    const char *value, int group, unsigned **ids, size_t *nids)
{
	char		*copy, *word, *last;
	unsigned	*v = NULL, id;
	size_t		 n = 0;

	copy = xstrdup(value);
	for (word = strtok_r(copy, " \t", &last); word != NULL;
	    word = strtok_r(NULL, " \t", &last)) {
		if (config_id(word, group, &id) == -1) {
			config_key_error(p, p->value_line, k->name,
			    "unknown %s \"%s\"", group ? "group" : "user",
			    word);
			goto fail;
		}
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = id;
	}
	if (n == 0) {
		config_key_error(p, p->value_line, k->name,
		    "expected at least one %s name or number",
		    group ? "group" : "user");
		goto fail;
	}
	free(copy);
	free(*ids);
	*ids = v;
	*nids = n;
	return 0;

fail:
	free(copy);
	free(v);
	return -1;
}

/* Set [daemon] allow_uids. */
static int
config_set_allow_uids(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	return config_set_ids(p, k, value, 0, &p->cfg->allow_uids,
	    &p->cfg->nallow_uids);
}

/* Set [daemon] allow_groups. */
static int
config_set_allow_groups(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	return config_set_ids(p, k, value, 1, &p->cfg->allow_gids,
	    &p->cfg->nallow_gids);
}

/* The database of the current [db.NAME] section. */
static struct db_config *
config_db(struct config_parse *p)
{
	return &p->cfg->dbs[p->db];
}

/* Set [db.NAME] driver, refusing keys already read for the other driver. */
static int
config_set_driver(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	struct db_config	*db = config_db(p);
	const struct config_key	*bad = NULL;
	int			 line = 0;
	size_t			 i;

	if (strcmp(value, "sqlite") == 0)
		db->driver = DB_SQLITE;
	else if (strcmp(value, "postgres") == 0)
		db->driver = DB_POSTGRES;
	else {
		return config_key_error(p, p->value_line, k->name,
		    "expected sqlite or postgres, got \"%s\"", value);
	}
	p->driver_set = 1;

	/* Report the first such key in the file. */
	for (i = 0; config_db_keys[i].name != NULL; i++) {
		if (p->key_lines[i] == 0 || config_db_keys[i].drivers == 0 ||
		    (config_db_keys[i].drivers & (1 << db->driver)) != 0)
			continue;
		if (bad == NULL || p->key_lines[i] < line) {
			bad = &config_db_keys[i];
			line = p->key_lines[i];
		}
	}
	if (bad != NULL) {
		return config_key_error(p, line, bad->name,
		    "not a key of driver %s", config_driver_names[db->driver]);
	}
	return 0;
}

/* Set [db.NAME] path. */
static int
config_set_path(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	struct db_config	*db = config_db(p);

	if (*value == '\0')
		return config_key_error(p, p->value_line, k->name,
		    "must not be empty");
	free(db->path);
	db->path = xstrdup(value);
	return 0;
}

/* Set [db.NAME] writable, a boolean. */
static int
config_set_writable(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	 i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			config_db(p)->writable = 1;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			config_db(p)->writable = 0;
			return 0;
		}
	}
	return config_key_error(p, p->value_line, k->name,
	    "expected true or false, got \"%s\"", value);
}

/* Set [db.NAME] conninfo; empty means libpq's defaults. */
static int
config_set_conninfo(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	struct db_config	*db = config_db(p);

	(void)k;
	free(db->conninfo);
	db->conninfo = xstrdup(value);
	return 0;
}

/* Set [db.NAME] busy_timeout_ms: how long a locked database is waited for. */
static int
config_set_busy_timeout(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	uint64_t	v;

	if (config_integer(p, k, value, &v) != 0)
		return -1;
	config_db(p)->busy_timeout_ms = (unsigned)v;
	return 0;
}

/* Set [db.NAME] pool. */
static int
config_set_pool(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	uint64_t	v;

	if (config_integer(p, k, value, &v) != 0)
		return -1;
	config_db(p)->pool = (unsigned)v;
	return 0;
}

/* Check and store the value of the key read last, now complete. */
static int
config_commit(struct config_parse *p)
{
	const struct config_key	*k = p->key;
	int			 rc, line;

	if (k == NULL)
		return 0;
	line = p->key_lines[k - p->keys];
	if (p->section == CONFIG_DB && p->driver_set && k->drivers != 0 &&
	    (k->drivers & (1 << config_db(p)->driver)) == 0) {
		rc = config_key_error(p, line, k->name,
		    "not a key of driver %s",
		    config_driver_names[config_db(p)->driver]);
	} else if (*p->value == ';' || *p->value == '#') {
		/* Printed back, "key = ;..." would read as a comment. */
		rc = config_key_error(p, p->value_line, k->name,
		    "a value may not start with '%c'", *p->value);
	} else
		rc = k->set(p, k, p->value);
	free(p->value);
	p->value = NULL;
	p->key = NULL;
	return rc;
}

/* Check a [db.NAME] section at its end: its driver and required keys. */
static int
config_close_db(struct config_parse *p)
{
	struct db_config	*db = config_db(p);

	if (!p->driver_set)
		return config_key_error(p, p->section_line, "driver",
		    "required");
	switch (db->driver) {
	case DB_SQLITE:
		if (db->path == NULL)
			return config_key_error(p, p->section_line, "path",
			    "required for driver sqlite");
		if (db->busy_timeout_ms == CONFIG_UNSET)
			db->busy_timeout_ms = CONFIG_BUSY_TIMEOUT_DEFAULT;
		break;
	case DB_POSTGRES:
		if (db->conninfo == NULL)
			return config_key_error(p, p->section_line,
			    "conninfo", "required for driver postgres");
		if (db->pool == 0)
			db->pool = CONFIG_POOL_DEFAULT;
		break;
	}
	return 0;
}

/* End the current section. */
static int
config_close(struct config_parse *p)
{
	int	rc = 0;

	if (p->section == CONFIG_DB)
		rc = config_close_db(p);
	p->section = CONFIG_NONE;
	p->keys = NULL;
	p->seen_keys = 0;
	p->driver_set = 0;
	memset(p->key_lines, 0, sizeof p->key_lines);
	return rc;
}

/* Start a [db.NAME] section, adding the database. */
static int
config_open_db(struct config_parse *p, const char *name)
{
	struct config		*cfg = p->cfg;
	struct db_config	*db;

	if (*name == '\0' || name[strspn(name, CONFIG_DB_NAME_CHARS)] != '\0') {
		config_error(p, p->line, "[%s]: invalid database name, "
		    "expected letters, digits, '_' or '-'", p->section_name);
		return -1;
	}
	if (config_find_db(cfg, name) != NULL) {
		config_error(p, p->line, "[%s]: duplicate section",
		    p->section_name);
		return -1;
	}
	cfg->dbs = xreallocarray(cfg->dbs, cfg->ndbs + 1, sizeof *cfg->dbs);
	db = &cfg->dbs[cfg->ndbs];
	memset(db, 0, sizeof *db);
	db->name = xstrdup(name);
	db->busy_timeout_ms = CONFIG_UNSET;
	p->db = cfg->ndbs++;
	p->section = CONFIG_DB;
	p->keys = config_db_keys;
	return 0;
}

/* Start the section named by a header line. */
static int
config_open(struct config_parse *p, const char *name, size_t len)
{
	const struct config_section_def	*s;
	size_t				 i;

	free(p->section_name);
	p->section_name = xstrndup(name, len);
	p->section_line = p->line;
	if (strncmp(p->section_name, CONFIG_DB_PREFIX,
	    strlen(CONFIG_DB_PREFIX)) == 0)
		return config_open_db(p,
		    p->section_name + strlen(CONFIG_DB_PREFIX));
	for (i = 0; i < sizeof config_sections / sizeof config_sections[0];
	    i++) {
		s = &config_sections[i];
		if (strcmp(p->section_name, s->name) != 0)
			continue;
		if (p->seen_sections & (1u << s->id)) {
			config_error(p, p->line, "[%s]: duplicate section",
			    p->section_name);
			return -1;
		}
		p->seen_sections |= 1u << s->id;
		p->section = s->id;
		p->keys = s->keys;
		return 0;
	}
	config_error(p, p->line, "[%s]: unknown section", p->section_name);
	return -1;
}

/*
 * Find the first of chars, or an inline comment (a ';' after a space), or
 * the end of s: inih's ini_find_chars_or_comment.
 */
static const char *
config_find(const char *s, const char *chars)
{
	int	was_space = 0;

	while (*s != '\0' && strchr(chars, *s) == NULL &&
	    !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Follow the line just read as inih will see it. */
static int
config_line(struct config_parse *p)
{
	const char	*start = p->buf, *s, *end, *name;

	if (p->line == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	for (s = start; isspace((unsigned char)*s); s++)
		/* nothing */;

	/* Comments and blank lines do not end a multiline value. */
	p->continued = 0;
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (p->after_key && s > start) {
		p->continued = 1;
		return 0;
	}

	/* Any other line starts a new statement. */
	if (config_commit(p) != 0)
		return -1;
	if (*s == '[') {
		if (config_close(p) != 0)
			return -1;
		p->after_key = 0;
		name = s + 1;
		end = config_find(name, "]");
		if (*end == ']') {
			for (s = end + 1; isspace((unsigned char)*s); s++)
				/* nothing */;
		}
		if (*end != ']' || (*s != '\0' && *s != ';')) {
			config_error(p, p->line, "syntax error");
			return -1;
		}
		return config_open(p, name, (size_t)(end - name));
	}
	end = config_find(s, "=:");
	if ((*end != '=' && *end != ':') || end == s) {
		config_error(p, p->line, "syntax error");
		return -1;
	}
	p->after_key = 1;
	return 0;
}

/* At the end of the file: store the last value, end the last section. */
static void
config_finish(struct config_parse *p)
{
	if (config_commit(p) == 0)
		config_close(p);
}

/* inih's reader: the next line into str, or NULL at the end or on error. */
static char *
config_read(char *str, int num, void *arg)
{
	struct config_parse	*p = arg;
	ssize_t			 n;
	size_t			 len;

	if (p->error != NULL)
		return NULL;
	if ((n = getline(&p->buf, &p->bufsize, p->f)) == -1) {
		if (ferror(p->f)) {
			p->error = xasprintf("%s: cannot read: %s", p->path,
			    strerror(errno));
		} else
			config_finish(p);
		return NULL;
	}
	p->line++;

	/* inih would cut a long line in two; a NUL would end it early. */
	len = (size_t)n;
	if (len > 0 && p->buf[len - 1] == '\n')
		len--;
	if (len > (size_t)num - 2) {
		config_error(p, p->line, "line too long (more than %d bytes)",
		    num - 2);
		return NULL;
	}
	if (strlen(p->buf) != (size_t)n) {
		config_error(p, p->line, "syntax error");
		return NULL;
	}

	if (config_line(p) != 0)
		return NULL;
	memcpy(str, p->buf, (size_t)n + 1);
	return str;
}

/*
 * Add a continuation line to the value being read. inih 55 leaves inline
 * comments on such lines, so strip them here. An indented key or section
 * header is refused: inih would silently fold it into the value above.
 */
static int
config_continue(struct config_parse *p, const char *value)
{
	const struct config_key	*k;
	const char		*end, *name;
	char			*joined;
	size_t			 len;

	if (p->key == NULL)
		return 1;

	len = (size_t)(config_find(value, "") - value);
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;

	if (*value == '[') {
		config_error(p, p->line, "%.*s: indented, so it would continue "
		    "the value of %s", (int)len, value, p->key->name);
		return 0;
	}
	end = config_find(value, "=:");
	if (*end == '=' || *end == ':') {
		for (name = end; name > value &&
		    isspace((unsigned char)name[-1]); name--)
			/* nothing */;
		for (k = p->keys; k->name != NULL; k++) {
			if (strlen(k->name) == (size_t)(name - value) &&
			    strncmp(k->name, value, (size_t)(name - value)) == 0)
				break;
		}
		if (k->name != NULL) {
			config_key_error(p, p->line, k->name, "indented, so it "
			    "would continue the value of %s", p->key->name);
			return 0;
		}
	}

	joined = xasprintf("%s%s%.*s", p->value, *p->value != '\0' ? " " : "",
	    (int)len, value);
	free(p->value);
	p->value = joined;
	p->value_line = p->line;
	return 1;
}

/* inih's handler: a key and its value, or the next line of a value. */
static int
config_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct config_parse	*p = arg;
	const struct config_key	*k;
	size_t			 i;

	/* inih truncates long section names: ours is the one to use. */
	(void)section;

	if (p->error != NULL)
		return 0;
	if (p->continued)
		return config_continue(p, value);

	if (p->section == CONFIG_NONE) {
		config_error(p, p->line, "%s: not in a section", name);
		return 0;
	}
	for (i = 0; p->keys[i].name != NULL; i++) {
		if (strcmp(p->keys[i].name, name) == 0)
			break;
	}
	k = &p->keys[i];
	if (k->name == NULL) {
		config_key_error(p, p->line, name, "unknown key");
		return 0;
	}
	if (p->seen_keys & (1u << i)) {
		config_key_error(p, p->line, name, "duplicate key");
		return 0;
	}
	p->seen_keys |= 1u << i;
	p->key_lines[i] = p->line;

	p->key = k;
	p->value = xstrdup(value);
	p->value_line = p->line;
	return 1;
}

/* Fill in the built-in defaults of daemon.md. */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->file = NULL;
	cfg->socket = NULL;
	cfg->socket_mode = 0660;
	cfg->threads = 4;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->shutdown_timeout_ms = 10000;
	cfg->limits.max_connections = 1024;
	cfg->limits.max_request_bytes = 16777216;
	cfg->limits.max_jobs_per_batch = 100000;
	cfg->limits.max_inflight_jobs = 1000000;
	cfg->limits.max_batches_per_connection = 1024;
	cfg->limits.max_output_bytes = 67108864;
	cfg->limits.max_connection_bytes = 268435456;
	cfg->limits.max_memory_bytes = 1073741824;
	cfg->limits.max_connections_per_uid = 512;
	cfg->limits.read_max_bytes = 16777216;
	cfg->read_roots = xcalloc(1, sizeof *cfg->read_roots);
	cfg->read_roots[0] = xstrdup("/var/lib/gatherd/files");
	cfg->nread_roots = 1;
	cfg->dbs = NULL;
	cfg->ndbs = 0;
}

/*
 * Read the file at path over the settings in cfg. A missing file is not an
 * error unless must_exist. On error, *cause says what and where (file, line
 * and key); cfg may be half changed and is for config_free only.
 */
int
config_load(struct config *cfg, const char *path, int must_exist,
    char **cause)
{
	struct config_parse	 p;
	struct stat		 st;
	FILE			*f;
	int			 line, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		*cause = xasprintf("%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		*cause = xasprintf("%s: cannot open: %s", path,
		    strerror(EISDIR));
		fclose(f);
		return -1;
	}

	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.path = path;
	p.f = f;
	line = ini_parse_stream(config_read, &p, config_handler, &p);

	/*
	 * The reader finds inih's syntax errors before inih does and stops
	 * there; this is in case inih knows one more.
	 */
	if (p.error == NULL && line > 0)
		p.error = xasprintf("%s:%d: syntax error", path, line);
	else if (p.error == NULL && line < 0)
		p.error = xasprintf("%s: cannot parse", path);
	if (p.error != NULL) {
		*cause = p.error;
		goto out;
	}
	free(cfg->file);
	cfg->file = xstrdup(path);
	rc = 0;

out:
	free(p.buf);
	free(p.section_name);
	free(p.value);
	fclose(f);
	return rc;
}

/*
 * The effective configuration: the defaults, the file (the default one
 * may be missing), then the command line over both, and the socket path
 * resolved. Blocking: at start-up, or on the reload thread. Returns 0, or
 * -1 with *cause set and cfg freed.
 */
int
config_build(struct config *cfg, const struct config_args *args,
    char **cause)
{
	char	*path;

	config_defaults(cfg);
	if (config_load(cfg, args->file != NULL ? args->file :
	    CONFIG_DEFAULT_FILE, args->file != NULL, cause) == -1) {
		config_free(cfg);
		return -1;
	}
	if (args->threads > 0)
		cfg->threads = args->threads;
	if (args->log_level >= 0)
		cfg->log_level = (enum log_level)args->log_level;
	path = config_socket_path(args->socket, cfg->socket);
	free(cfg->socket);
	cfg->socket = path;
	return 0;
}

/* Free what cfg owns; it may be freed again. */
void
config_free(struct config *cfg)
{
	size_t	i;

	free(cfg->file);
	cfg->file = NULL;
	free(cfg->socket);
	cfg->socket = NULL;
	config_free_list(cfg->read_roots, cfg->nread_roots);
	cfg->read_roots = NULL;
	cfg->nread_roots = 0;
	free(cfg->allow_uids);
	cfg->allow_uids = NULL;
	cfg->nallow_uids = 0;
	free(cfg->allow_gids);
	cfg->allow_gids = NULL;
	cfg->nallow_gids = 0;
	for (i = 0; i < cfg->ndbs; i++) {
		free(cfg->dbs[i].name);
		free(cfg->dbs[i].path);
		free(cfg->dbs[i].conninfo);
	}
	free(cfg->dbs);
	cfg->dbs = NULL;
	cfg->ndbs = 0;
}

/*
 * Print key = value, continued over indented lines where it is long, so
 * that config_load reads it back (a line must fit inih's buffer, and a
 * continuation is joined with one space). It breaks only at a single
 * space, and never before a piece a continuation line could not start
 * with (a comment, a section).
 */
static void
config_print_value(FILE *fp, const char *key, const char *value)
{
	const char	*p = value, *end;
	size_t		 col, n;
	int		 first = 1;

	col = (size_t)fprintf(fp, "%s =", key);
	while (*p != '\0') {
		/* The next piece runs to a single space before a good start. */
		for (end = p + 1; *end != '\0'; end++) {
			if (end[0] == ' ' && end[-1] != ' ' && end[1] != ' ' &&
			    end[1] != '\0' && strchr(";#[", end[1]) == NULL)
				break;
		}
		n = (size_t)(end - p);
		if (!first && col + 1 + n > CONFIG_PRINT_WIDTH) {
			fprintf(fp, "\n   ");
			col = 3;
		}
		fprintf(fp, " %.*s", (int)n, p);
		col += 1 + n;
		first = 0;
		p = *end == ' ' ? end + 1 : end;
	}
	fprintf(fp, "\n");
}

/* Print a list of ids, if there is one. */
static void
config_print_ids(FILE *fp, const char *key, const unsigned *ids, size_t n)
{
	size_t	i;

	if (n == 0)
		return;
	fprintf(fp, "%s =", key);
	for (i = 0; i < n; i++)
		fprintf(fp, " %u", ids[i]);
	fprintf(fp, "\n");
}

/* Print the effective settings as an INI file config_load reads back. */
void
config_print(const struct config *cfg, FILE *fp)
{
	const struct limits	*l = &cfg->limits;
	const struct db_config	*db;
	size_t			 i, n;
	char			*roots;

	if (cfg->file != NULL)
		fprintf(fp, "; Read from %s.\n", cfg->file);
	else
		fprintf(fp, "; Built-in defaults.\n");

	fprintf(fp, "\n[daemon]\n");
	if (cfg->socket != NULL)
		config_print_value(fp, "socket", cfg->socket);
	else
		fprintf(fp, "; socket is not set: the default applies.\n");
	fprintf(fp, "socket_mode = %04o\n", (unsigned)cfg->socket_mode);
	fprintf(fp, "threads = %u\n", cfg->threads);
	fprintf(fp, "log_level = %s\n", log_level_name(cfg->log_level));
	fprintf(fp, "shutdown_timeout_ms = %" PRIu64 "\n",
	    cfg->shutdown_timeout_ms);
	config_print_ids(fp, "allow_uids", cfg->allow_uids, cfg->nallow_uids);
	config_print_ids(fp, "allow_groups", cfg->allow_gids,
	    cfg->nallow_gids);

	fprintf(fp, "\n[limits]\n");
	fprintf(fp, "max_connections = %" PRIu64 "\n", l->max_connections);
	fprintf(fp, "max_request_bytes = %" PRIu64 "\n", l->max_request_bytes);
	fprintf(fp, "max_jobs_per_batch = %" PRIu64 "\n",
	    l->max_jobs_per_batch);
	fprintf(fp, "max_inflight_jobs = %" PRIu64 "\n", l->max_inflight_jobs);
	fprintf(fp, "max_batches_per_connection = %" PRIu64 "\n",
	    l->max_batches_per_connection);
	fprintf(fp, "max_output_bytes = %" PRIu64 "\n", l->max_output_bytes);
	fprintf(fp, "max_connection_bytes = %" PRIu64 "\n",
	    l->max_connection_bytes);
	fprintf(fp, "max_memory_bytes = %" PRIu64 "\n", l->max_memory_bytes);
	fprintf(fp, "max_connections_per_uid = %" PRIu64 "\n",
	    l->max_connections_per_uid);

	fprintf(fp, "\n[read]\n");
	for (i = 0, n = 0; i < cfg->nread_roots; i++)
		n += strlen(cfg->read_roots[i]) + 1;
	roots = xcalloc(1, n + 1);
	for (i = 0; i < cfg->nread_roots; i++) {
		if (i > 0)
			strcat(roots, " ");
		strcat(roots, cfg->read_roots[i]);
	}
	config_print_value(fp, "roots", roots);
	free(roots);
	fprintf(fp, "max_bytes = %" PRIu64 "\n", l->read_max_bytes);

	for (i = 0; i < cfg->ndbs; i++) {
		db = &cfg->dbs[i];
		fprintf(fp, "\n[db.%s]\n", db->name);
		fprintf(fp, "driver = %s\n", config_driver_names[db->driver]);
		switch (db->driver) {
		case DB_SQLITE:
			config_print_value(fp, "path", db->path);
			fprintf(fp, "writable = %s\n",
			    db->writable ? "true" : "false");
			fprintf(fp, "busy_timeout_ms = %u\n",
			    db->busy_timeout_ms);
			break;
		case DB_POSTGRES:
			config_print_value(fp, "conninfo", db->conninfo);
			fprintf(fp, "pool = %u\n", db->pool);
			break;
		}
	}
}

/* The database called name, or NULL. */
const struct db_config *
config_find_db(const struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->ndbs; i++) {
		if (strcmp(cfg->dbs[i].name, name) == 0)
			return &cfg->dbs[i];
	}
	return NULL;
}

/* The socket to use, by precedence: flag, environment, config, default. */
char *
config_socket_path(const char *flag, const char *configured)
{
	const char	*s;

	if (flag != NULL)
		return xstrdup(flag);
	if ((s = getenv("GATHERD_SOCKET")) != NULL && *s != '\0')
		return xstrdup(s);
	if (configured != NULL)
		return xstrdup(configured);
	if (geteuid() == 0)
		return xstrdup("/run/gatherd/gatherd.sock");
	if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s != '\0')
		return xasprintf("%s/gatherd.sock", s);
	return xasprintf("/tmp/gatherd-%u.sock", (unsigned)geteuid());
}
