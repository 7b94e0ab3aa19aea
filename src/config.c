/*
 * The configuration file (daemon.md): an INI file over the built-in
 * defaults. ini.c reads its statements (the syntax); this file gives
 * them their meaning: the sections, their keys and the checks.
 *
 * A value may be continued on indented lines, so it is only checked and
 * stored when the next statement starts (or at the end of the file); the
 * continued lines are joined with a space and an error names the value's
 * last line. A [db.NAME] section is checked when it ends, since its
 * driver may come after the keys that depend on it.
 *
 * The first error stops the parse.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

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

#include <event2/util.h>

#include "config.h"
#include "ini.h"
#include "xmalloc.h"

/* Where config_print continues a long value on the next line. */
#define CONFIG_PRINT_WIDTH	76

/* The largest integer a JSON number holds exactly. */
#define CONFIG_INT_MAX		(UINT64_C(1) << 53)

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
	CONFIG_METRICS,
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

/* The state of one config_load. */
struct config_parse {
	struct config		*cfg;
	const char		*path;
	int			 line;		/* of the statement being read */

	char			*error;		/* owned: the first error */

	enum config_section	 section;
	char			*section_name;	/* owned: as between brackets */
	int			 section_line;
	const struct config_key	*keys;		/* the current section's keys */
	unsigned		 seen_sections;	/* a bit per enum config_section */
	int			*key_lines;	/* owned: per key, its line or 0 */
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
static int	config_set_log_requests(struct config_parse *,
		    const struct config_key *, const char *);
static int	config_set_listen(struct config_parse *,
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
	{ "log_requests", config_set_log_requests, 0, 0, 0, 0 },
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
	CONFIG_LIMIT("max_result_bytes", max_result_bytes),
	{ "max_job_ms", config_set_u64,
	    offsetof(struct config, limits.max_job_ms), 0, CONFIG_INT_MAX, 0 },
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

static const struct config_key config_metrics_keys[] = {
	{ "listen", config_set_listen, 0, 0, 0, 0 },
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

static const struct config_section_def config_sections[] = {
	{ "daemon", CONFIG_DAEMON, config_daemon_keys },
	{ "limits", CONFIG_LIMITS, config_limits_keys },
	{ "read", CONFIG_READ, config_read_keys },
	{ "metrics", CONFIG_METRICS, config_metrics_keys },
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
	p->cfg->read_roots_line = p->value_line;
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
	db->path_line = p->value_line;
	return 0;
}

/* Parse a boolean value into *out, recording any error. */
static int
config_bool(struct config_parse *p, const struct config_key *k,
    const char *value, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	 i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return config_key_error(p, p->value_line, k->name,
	    "expected true or false, got \"%s\"", value);
}

/* Set [db.NAME] writable, a boolean. */
static int
config_set_writable(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	return config_bool(p, k, value, &config_db(p)->writable);
}

/* Set [daemon] log_requests, a boolean. */
static int
config_set_log_requests(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	return config_bool(p, k, value, &p->cfg->log_requests);
}

/*
 * Set [metrics] listen: empty (off), or HOST:PORT with HOST an IPv4
 * address, an IPv6 one in brackets or "localhost" (never looked up: 127.0.0.1),
 * and PORT from 0 (any free port, logged) to 65535.
 */
static int
config_set_listen(struct config_parse *p, const struct config_key *k,
    const char *value)
{
	struct sockaddr_storage	 ss;
	int			 len;

	free(p->cfg->metrics_listen);
	p->cfg->metrics_listen = NULL;
	if (*value == '\0')
		return 0;
	if (config_listen_sockaddr(value, &ss, &len) != 0) {
		return config_key_error(p, p->value_line, k->name,
		    "expected HOST:PORT (127.0.0.1:9464, [::1]:9464 or"
		    " localhost:9464), got \"%s\"", value);
	}
	p->cfg->metrics_listen = xstrdup(value);
	return 0;
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
	p->driver_set = 0;
	free(p->key_lines);
	p->key_lines = NULL;
	return rc;
}

/* Make keys the current section's, none of them read yet. */
static void
config_keys(struct config_parse *p, const struct config_key *keys)
{
	size_t	n;

	for (n = 0; keys[n].name != NULL; n++)
		/* nothing */;
	p->keys = keys;
	free(p->key_lines);
	p->key_lines = xcalloc(n, sizeof *p->key_lines);
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
	config_keys(p, config_db_keys);
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
		config_keys(p, s->keys);
		return 0;
	}
	config_error(p, p->line, "[%s]: unknown section", p->section_name);
	return -1;
}

/*
 * Add an indented line to the value being read. One that reads as a key
 * of the section, or a section header, is refused: it would be folded
 * into the value above, not taken for what it looks like.
 */
static int
config_continue(struct config_parse *p, const struct ini_item *it)
{
	const struct config_key	*k;
	char			*joined;

	if (p->key == NULL)
		return 0;
	if (*it->value == '[') {
		config_error(p, it->line, "%s: indented, so it would continue "
		    "the value of %s", it->value, p->key->name);
		return -1;
	}
	for (k = p->keys; it->name != NULL && k->name != NULL; k++) {
		if (strcmp(k->name, it->name) == 0) {
			return config_key_error(p, it->line, k->name,
			    "indented, so it would continue the value of %s",
			    p->key->name);
		}
	}

	joined = xasprintf("%s%s%s", p->value, *p->value != '\0' ? " " : "",
	    it->value);
	free(p->value);
	p->value = joined;
	p->value_line = it->line;
	return 0;
}

/* A key line: its value is stored once it is complete. */
static int
config_key(struct config_parse *p, const struct ini_item *it)
{
	size_t	i;

	if (p->section == CONFIG_NONE) {
		config_error(p, it->line, "%s: not in a section", it->name);
		return -1;
	}
	for (i = 0; p->keys[i].name != NULL; i++) {
		if (strcmp(p->keys[i].name, it->name) == 0)
			break;
	}
	if (p->keys[i].name == NULL)
		return config_key_error(p, it->line, it->name, "unknown key");
	if (p->key_lines[i] != 0)
		return config_key_error(p, it->line, it->name, "duplicate key");
	p->key_lines[i] = it->line;

	p->key = &p->keys[i];
	p->value = xstrdup(it->value);
	p->value_line = it->line;
	return 0;
}

/*
 * Read the statements of the file in order. A statement ends the value
 * before it, and a header (or the end of the file) the section, before
 * the statement itself is looked at, even when it is malformed: errors
 * come out in the order of the file, and the first one stops the parse.
 */
static int
config_parse(struct config_parse *p, FILE *f)
{
	struct ini	 ini;
	struct ini_item	 it;

	ini_open(&ini, f);
	while (p->error == NULL) {
		if (ini_next(&ini, &it) != 0) {
			if (it.line == 0)
				p->error = xasprintf("%s: %s", p->path,
				    it.error);
			else
				config_error(p, it.line, "%s", it.error);
			break;
		}
		p->line = it.line;
		if (it.type != INI_MORE && config_commit(p) != 0)
			break;
		if ((it.type == INI_SECTION || it.type == INI_END) &&
		    config_close(p) != 0)
			break;
		if (it.type == INI_END)
			break;
		if (it.error != NULL) {
			config_error(p, it.line, "%s", it.error);
			break;
		}
		if (it.type == INI_MORE)
			config_continue(p, &it);
		else if (it.type == INI_SECTION)
			config_open(p, it.name, strlen(it.name));
		else
			config_key(p, &it);
	}
	ini_close(&ini);
	return p->error != NULL ? -1 : 0;
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
	cfg->limits.max_result_bytes = 16777216;
	cfg->limits.max_job_ms = 300000;
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
	int			 rc = -1;

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
	if (config_parse(&p, f) != 0) {
		*cause = p.error;
		goto out;
	}
	free(cfg->file);
	cfg->file = xstrdup(path);
	rc = 0;

out:
	free(p.section_name);
	free(p.value);
	free(p.key_lines);
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
	free(cfg->metrics_listen);
	cfg->metrics_listen = NULL;
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
 * Whether a value may be continued on a line that starts with s: not if
 * the line would read as a comment, a section, or a key of the section
 * (keys), which config_continue refuses, nor if its first byte is blank
 * and would be dropped.
 */
static int
config_print_can_start(const struct config_key *keys, const char *s)
{
	size_t	len;

	if (*s == '\0' || isspace((unsigned char)*s) ||
	    strchr(";#[", *s) != NULL)
		return 0;
	if (!ini_name(s, &len))
		return 1;
	for (; keys->name != NULL; keys++) {
		if (strlen(keys->name) == len &&
		    strncmp(keys->name, s, len) == 0)
			return 0;
	}
	return 1;
}

/*
 * Print key = value, continued over indented lines where it is long, so
 * that config_load reads it back: a line must fit INI_LINE_MAX, and a
 * continuation is joined with one space. It breaks only at a single space
 * before a piece a continuation line may start with. A piece too long for
 * the usual spacing goes as "key=piece", or on a line indented by one: it
 * was read from a line no longer than that. A piece neither starts nor
 * ends with a blank, which reading would drop (a tab, a vertical tab).
 */
static void
config_print_value(FILE *fp, const struct config_key *keys, const char *key,
    const char *value)
{
	const char	*p = value, *end;
	size_t		 col, n;
	int		 first = 1;

	col = (size_t)fprintf(fp, "%s", key);
	if (*p == '\0')
		fprintf(fp, " =");
	while (*p != '\0') {
		/* The next piece runs to a single space before a good start. */
		for (end = p + 1; *end != '\0'; end++) {
			if (end[0] == ' ' && !isspace((unsigned char)end[-1]) &&
			    config_print_can_start(keys, end + 1))
				break;
		}
		n = (size_t)(end - p);
		if (first && col + 3 + n > INI_LINE_MAX)
			col += (size_t)fprintf(fp, "=%.*s", (int)n, p);
		else if (first)
			col += (size_t)fprintf(fp, " = %.*s", (int)n, p);
		else if (col + 1 + n <= CONFIG_PRINT_WIDTH)
			col += (size_t)fprintf(fp, " %.*s", (int)n, p);
		else if (4 + n > INI_LINE_MAX)
			col = (size_t)fprintf(fp, "\n %.*s", (int)n, p) - 1;
		else
			col = (size_t)fprintf(fp, "\n    %.*s", (int)n, p) - 1;
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
		config_print_value(fp, config_daemon_keys, "socket",
		    cfg->socket);
	else
		fprintf(fp, "; socket is not set: the default applies.\n");
	fprintf(fp, "socket_mode = %04o\n", (unsigned)cfg->socket_mode);
	fprintf(fp, "threads = %u\n", cfg->threads);
	fprintf(fp, "log_level = %s\n", log_level_name(cfg->log_level));
	fprintf(fp, "shutdown_timeout_ms = %" PRIu64 "\n",
	    cfg->shutdown_timeout_ms);
	fprintf(fp, "log_requests = %s\n", cfg->log_requests ? "true" :
	    "false");
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
	fprintf(fp, "max_result_bytes = %" PRIu64 "\n", l->max_result_bytes);
	fprintf(fp, "max_job_ms = %" PRIu64 "\n", l->max_job_ms);
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
	config_print_value(fp, config_read_keys, "roots", roots);
	free(roots);
	fprintf(fp, "max_bytes = %" PRIu64 "\n", l->read_max_bytes);

	fprintf(fp, "\n[metrics]\n");
	if (cfg->metrics_listen != NULL)
		config_print_value(fp, config_metrics_keys, "listen",
		    cfg->metrics_listen);
	else
		fprintf(fp, "listen =\n");

	for (i = 0; i < cfg->ndbs; i++) {
		db = &cfg->dbs[i];
		fprintf(fp, "\n[db.%s]\n", db->name);
		fprintf(fp, "driver = %s\n", config_driver_names[db->driver]);
		switch (db->driver) {
		case DB_SQLITE:
			config_print_value(fp, config_db_keys, "path", db->path);
			fprintf(fp, "writable = %s\n",
			    db->writable ? "true" : "false");
			fprintf(fp, "busy_timeout_ms = %u\n",
			    db->busy_timeout_ms);
			break;
		case DB_POSTGRES:
			config_print_value(fp, config_db_keys, "conninfo",
			    db->conninfo);
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

/*
 * The address [metrics] listen names: HOST:PORT with HOST an IPv4
 * address, an IPv6 one in brackets or localhost (127.0.0.1, never looked
 * up), and PORT from 0 (any free port) to 65535. 0, or -1 if value is
 * not that.
 */
int
config_listen_sockaddr(const char *value, struct sockaddr_storage *ss,
    int *len)
{
	const char	*colon, *p;
	char		*host;
	size_t		 hostlen;
	int		 port, rc;

	if (value[0] == '[') {
		if ((p = strchr(value, ']')) == NULL || p[1] != ':')
			return -1;
		colon = p + 1;
	} else if ((colon = strchr(value, ':')) == NULL ||
	    strchr(colon + 1, ':') != NULL)
		return -1;
	hostlen = (size_t)(colon - value);
	if (hostlen == 0 || colon[1] == '\0' || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    (port = atoi(colon + 1)) > 65535)
		return -1;
	/* libevent takes no port 0: parse with 1, then set the port. */
	if (hostlen == 9 && strncmp(value, "localhost", 9) == 0)
		host = xstrdup("127.0.0.1:1");
	else
		host = xasprintf("%.*s:1", (int)hostlen, value);
	*len = (int)sizeof *ss;
	rc = evutil_parse_sockaddr_port(host, (struct sockaddr *)ss, len);
	free(host);
	if (rc != 0)
		return -1;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	return 0;
}
