/*
 * The configuration file (daemon.md): an INI file over the built-in
 * defaults. ini.c reads its statements (the syntax); this file gives
 * them their meaning, from tables.
 *
 * Sections and keys are table entries. A key (struct config_key) names
 * its type (how a value is read, printed and freed), its field, its range
 * and its default, written as the file would write it; the defaults,
 * reading, config_print and config_free all walk the same tables. [daemon]
 * and [limits] are this file's, and their keys fill struct config itself.
 * A job type with settings brings its own section (job.h: section; [read]
 * is jobs/read.c's), whose keys fill a struct config_settings() finds.
 * [db.NAME] has one key of its own, driver; the others are the driver's
 * (db/driver.h: keys), and fill the driver's struct.
 *
 * A value may be continued on indented lines, so it is only checked and
 * stored when the next statement starts (or at the end of the file); the
 * continued lines are joined with a space and an error names the value's
 * last line. A [db.NAME] section is checked when it ends, since its
 * driver may come after the keys that depend on it: until the driver is
 * read, a key goes to the settings of every driver that has it, and the
 * driver's own are kept.
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
#include "db/driver.h"
#include "ini.h"
#include "job.h"
#include "xmalloc.h"

/* Where config_print continues a long value on the next line. */
#define CONFIG_PRINT_WIDTH	76

/* Room for a socket path, its terminating NUL included. */
#define CONFIG_SOCKET_SIZE	sizeof(((struct sockaddr_un *)NULL)->sun_path)

#define CONFIG_DB_PREFIX	"db."
#define CONFIG_DB_NAME_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
				"abcdefghijklmnopqrstuvwxyz0123456789_-"

/*
 * Where config_print writes, and the keys of the section it is in (NULL
 * in a [db.NAME] section): a value is never continued on a line that
 * would read as one of them.
 */
struct config_out {
	FILE			*fp;
	const struct config_key	*keys;
};

/* A key read in the section being read. */
struct config_seen {
	const char	*name;
	int		 line;
};

/* The state of one config_load. */
struct config_parse {
	struct config		*cfg;
	const char		*path;
	int			 line;		/* of the statement being read */

	char			*error;		/* owned: the first error */

	/* The section being read. */
	int			 in_section;
	char			*section_name;	/* owned: as between brackets */
	int			 section_line;
	const struct config_key	*keys;		/* its keys; NULL: [db.NAME] */
	void			*settings;	/* the struct its keys fill */
	unsigned		 seen_sections;	/* a bit per section */
	struct config_seen	*seen;		/* owned: its keys read so far */
	size_t			 nseen;

	/* A [db.NAME] section: the database, each driver's settings. */
	size_t			 db;		/* index in cfg->dbs */
	void			**blocks;	/* owned: per db_drivers[] entry */
	size_t			 driver;	/* index in db_drivers[] */
	int			 driver_set;	/* driver was read */

	const struct config_key	*key;		/* the key being read, or NULL */
	int			 key_line;
	char			*value;		/* owned: its value so far */
	int			 value_line;	/* the value's last line */
};

static const struct config_type config_socket;
static const struct config_type config_mode;
static const struct config_type config_level;
static const struct config_type config_uids;
static const struct config_type config_gids;
static const struct config_type config_listen;

static void	config_where(struct config_parse *, const struct config_key *);

#define CONFIG_LIMIT(name, field, def) {				\
	name, &config_u64, offsetof(struct config, limits.field),	\
	1, CONFIG_INT_MAX, def, 0					\
}

static const struct config_key config_daemon_keys[] = {
	{ "socket", &config_socket, offsetof(struct config, socket), 0, 0,
	    NULL, 0 },
	{ "socket_mode", &config_mode, offsetof(struct config, socket_mode),
	    0, 0777, "0660", 0 },
	{ "threads", &config_uint, offsetof(struct config, threads), 1, 1024,
	    "4", 0 },
	{ "log_level", &config_level, offsetof(struct config, log_level), 0,
	    0, "info", 0 },
	{ "shutdown_timeout_ms", &config_u64,
	    offsetof(struct config, shutdown_timeout_ms), 0, CONFIG_INT_MAX,
	    "10000", 0 },
	{ "log_requests", &config_bool, offsetof(struct config, log_requests),
	    0, 0, "false", 0 },
	{ "allow_uids", &config_uids, offsetof(struct config, allow_uids), 0,
	    0, NULL, 0 },
	{ "allow_groups", &config_gids, offsetof(struct config, allow_gids), 0,
	    0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const struct config_key config_limits_keys[] = {
	CONFIG_LIMIT("max_connections", max_connections, "1024"),
	CONFIG_LIMIT("max_request_bytes", max_request_bytes, "16777216"),
	/* Jobs are counted in 32 bits. */
	{ "max_jobs_per_batch", &config_u64,
	    offsetof(struct config, limits.max_jobs_per_batch), 1, UINT32_MAX,
	    "100000", 0 },
	CONFIG_LIMIT("max_inflight_jobs", max_inflight_jobs, "1000000"),
	CONFIG_LIMIT("max_batches_per_connection", max_batches_per_connection,
	    "1024"),
	CONFIG_LIMIT("max_output_bytes", max_output_bytes, "67108864"),
	CONFIG_LIMIT("max_result_bytes", max_result_bytes, "16777216"),
	{ "max_job_ms", &config_u64, offsetof(struct config, limits.max_job_ms),
	    0, CONFIG_INT_MAX, "300000", 0 },
	CONFIG_LIMIT("max_connection_bytes", max_connection_bytes,
	    "268435456"),
	CONFIG_LIMIT("max_memory_bytes", max_memory_bytes, "1073741824"),
	CONFIG_LIMIT("max_connections_per_uid", max_connections_per_uid, "512"),
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const struct config_key config_metrics_keys[] = {
	{ "listen", &config_listen, offsetof(struct config, metrics_listen), 0,
	    0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The sections whose keys fill struct config; job types' come after. */
static const struct config_section config_sections[] = {
	{ "daemon", config_daemon_keys, 0 },
	{ "limits", config_limits_keys, 0 },
	{ "metrics", config_metrics_keys, 0 },
};
#define CONFIG_NSECTIONS (sizeof config_sections / sizeof config_sections[0])

/* [db.NAME]'s own key; config_set_driver reads it. */
static const struct config_key config_driver_key = {
	"driver", NULL, 0, 0, 0, NULL, 0
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

/* The key of keys called name (len bytes), or NULL. */
static const struct config_key *
config_keys_find(const struct config_key *keys, const char *name,
    size_t len)
{
	for (; keys->name != NULL; keys++) {
		if (strlen(keys->name) == len &&
		    strncmp(keys->name, name, len) == 0)
			return keys;
	}
	return NULL;
}

/*
 * The key called name (len bytes) of a section with keys, or, keys NULL,
 * of a [db.NAME] section: driver, or the first driver's that has it.
 */
static const struct config_key *
config_scope_find(const struct config_key *keys, const char *name,
    size_t len)
{
	const struct config_key	*k = NULL;
	size_t			 i;

	if (keys != NULL)
		return config_keys_find(keys, name, len);
	if (strlen(config_driver_key.name) == len &&
	    strncmp(config_driver_key.name, name, len) == 0)
		return &config_driver_key;
	for (i = 0; db_drivers[i] != NULL && k == NULL; i++)
		k = config_keys_find(db_drivers[i]->keys, name, len);
	return k;
}

/* The field of key k in settings (const or not, as the caller's). */
static void *
config_field(const struct config_key *k, const void *settings)
{
	return (char *)(uintptr_t)settings + k->off;
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

/* Parse an integer value in the key's range. */
static int
config_integer(const struct config_key *k, const char *value, uint64_t *v,
    char **why)
{
	int	rc;

	rc = config_parse_u64(value, v);
	if (rc == -1) {
		*why = xasprintf("expected a %s integer, got \"%s\"",
		    k->min > 0 ? "positive" : "non-negative", value);
		return -1;
	}
	if (rc == -2 || *v < k->min || *v > k->max) {
		*why = xasprintf("expected an integer from %" PRIu64 " to %"
		    PRIu64 ", got \"%s\"", k->min, k->max, value);
		return -1;
	}
	return 0;
}

/*
 * Whether a value may be continued on a line that starts with s: not if
 * the line would read as a comment, a section, or a key of the section
 * (which config_continue refuses), nor if its first byte is blank and
 * would be dropped.
 */
static int
config_print_can_start(const struct config_out *out, const char *s)
{
	size_t	len;

	if (*s == '\0' || isspace((unsigned char)*s) ||
	    strchr(";#[", *s) != NULL)
		return 0;
	if (!ini_name(s, &len))
		return 1;
	return config_scope_find(out->keys, s, len) == NULL;
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
config_print_value(struct config_out *out, const char *key,
    const char *value)
{
	FILE		*fp = out->fp;
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
			    config_print_can_start(out, end + 1))
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

/* A uint64_t in the key's range. */
static int
config_u64_set(const struct config_key *k, void *settings, const char *value,
    char **why)
{
	uint64_t	*field = config_field(k, settings);
	uint64_t	 v;

	if (config_integer(k, value, &v, why) != 0)
		return -1;
	*field = v;
	return 0;
}

static void
config_u64_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const uint64_t	*field = config_field(k, settings);

	fprintf(out->fp, "%s = %" PRIu64 "\n", k->name, *field);
}

const struct config_type config_u64 = {
	config_u64_set, config_u64_print, NULL
};

/* An unsigned in the key's range (which must fit). */
static int
config_uint_set(const struct config_key *k, void *settings, const char *value,
    char **why)
{
	unsigned	*field = config_field(k, settings);
	uint64_t	 v;

	if (config_integer(k, value, &v, why) != 0)
		return -1;
	*field = (unsigned)v;
	return 0;
}

static void
config_uint_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const unsigned	*field = config_field(k, settings);

	fprintf(out->fp, "%s = %u\n", k->name, *field);
}

const struct config_type config_uint = {
	config_uint_set, config_uint_print, NULL
};

/* A boolean, as an int 0 or 1. */
static int
config_bool_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	 i;
	int	*field = config_field(k, settings);

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*field = 1;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*field = 0;
			return 0;
		}
	}
	*why = xasprintf("expected true or false, got \"%s\"", value);
	return -1;
}

static void
config_bool_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const int	*field = config_field(k, settings);

	fprintf(out->fp, "%s = %s\n", k->name, *field ? "true" : "false");
}

const struct config_type config_bool = {
	config_bool_set, config_bool_print, NULL
};

/* A string that may be empty (a conninfo: libpq's defaults). */
static int
config_text_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	char	**field = config_field(k, settings);

	(void)why;
	free(*field);
	*field = xstrdup(value);
	return 0;
}

static void
config_text_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	char *const	*field = config_field(k, settings);

	if (*field != NULL)
		config_print_value(out, k->name, *field);
}

static void
config_text_free(const struct config_key *k, void *settings)
{
	char	**field = config_field(k, settings);

	free(*field);
	*field = NULL;
}

const struct config_type config_text = {
	config_text_set, config_text_print, config_text_free
};

/* A string that may not be empty (a path). */
static int
config_string_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	if (*value == '\0') {
		*why = xstrdup("must not be empty");
		return -1;
	}
	return config_text_set(k, settings, value, why);
}

const struct config_type config_string = {
	config_string_set, config_text_print, config_text_free
};

/* Free a list of strings. */
static void
config_free_list(char **list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/*
 * The words of value, split at blanks: a new list (*np of them, maybe 0)
 * for the caller to free with config_free_list.
 */
static char **
config_words(const char *value, size_t *np)
{
	char	**v = NULL, *copy, *word, *last;
	size_t	  n = 0;

	copy = xstrdup(value);
	for (word = strtok_r(copy, " \t", &last); word != NULL;
	    word = strtok_r(NULL, " \t", &last)) {
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = xstrdup(word);
	}
	free(copy);
	*np = n;
	return v;
}

/* A list of absolute paths, at least one, replacing the one before. */
static int
config_paths_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	struct config_list	*field = config_field(k, settings);
	char			**v;
	size_t			  i, n;

	v = config_words(value, &n);
	for (i = 0; i < n; i++) {
		if (*v[i] != '/') {
			*why = xasprintf("expected an absolute path, got"
			    " \"%s\"", v[i]);
			config_free_list(v, n);
			return -1;
		}
	}
	if (n == 0) {
		*why = xstrdup("expected at least one absolute path");
		return -1;
	}
	config_free_list(field->v, field->n);
	field->v = v;
	field->n = n;
	return 0;
}

static void
config_paths_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const struct config_list	*field;
	size_t				 i, n = 0;
	char				*joined;

	field = config_field(k, settings);
	for (i = 0; i < field->n; i++)
		n += strlen(field->v[i]) + 1;
	joined = xcalloc(1, n + 1);
	for (i = 0; i < field->n; i++) {
		if (i > 0)
			strcat(joined, " ");
		strcat(joined, field->v[i]);
	}
	if (field->n > 0)
		config_print_value(out, k->name, joined);
	free(joined);
}

static void
config_paths_free(const struct config_key *k, void *settings)
{
	struct config_list	*field = config_field(k, settings);

	config_free_list(field->v, field->n);
	field->v = NULL;
	field->n = 0;
}

const struct config_type config_paths = {
	config_paths_set, config_paths_print, config_paths_free
};

/* [daemon] socket: a path that fits a socket address; unset by default. */
static int
config_socket_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	size_t	len = strlen(value);

	if (len >= CONFIG_SOCKET_SIZE) {
		*why = xasprintf("too long (%zu bytes, at most %zu)", len,
		    CONFIG_SOCKET_SIZE - 1);
		return -1;
	}
	return config_string_set(k, settings, value, why);
}

static void
config_socket_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	char *const	*field = config_field(k, settings);

	if (*field != NULL)
		config_print_value(out, k->name, *field);
	else
		fprintf(out->fp, "; %s is not set: the default applies.\n",
		    k->name);
}

/*
 * [metrics] listen: empty (off), or HOST:PORT as config_listen_sockaddr
 * takes it.
 */
static int
config_listen_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	struct sockaddr_storage	 ss;
	int			 len;
	char			**field = config_field(k, settings);

	if (*value != '\0' && config_listen_sockaddr(value, &ss, &len) != 0) {
		*why = xasprintf("expected HOST:PORT (127.0.0.1:9464,"
		    " [::1]:9464 or localhost:9464), got \"%s\"", value);
		return -1;
	}
	free(*field);
	*field = *value != '\0' ? xstrdup(value) : NULL;
	return 0;
}

/* Unset is printed empty: the line shows the key that turns it on. */
static void
config_listen_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const char	*v = *(char *const *)config_field(k, settings);

	config_print_value(out, k->name, v != NULL ? v : "");
}

static const struct config_type config_listen = {
	config_listen_set, config_listen_print, config_text_free
};

static const struct config_type config_socket = {
	config_socket_set, config_socket_print, config_text_free
};

/* [daemon] socket_mode, an octal number up to the key's max. */
static int
config_mode_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	mode_t		*field = config_field(k, settings);
	const char	*s;
	unsigned	 mode = 0;

	for (s = value; *s >= '0' && *s <= '7' && mode <= k->max; s++)
		mode = mode * 8 + (unsigned)(*s - '0');
	if (*value == '\0' || *s != '\0' || mode > k->max) {
		*why = xasprintf("expected an octal mode from 0000 to 0777,"
		    " got \"%s\"", value);
		return -1;
	}
	*field = (mode_t)mode;
	return 0;
}

static void
config_mode_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const mode_t	*field = config_field(k, settings);

	fprintf(out->fp, "%s = %04o\n", k->name, (unsigned)*field);
}

static const struct config_type config_mode = {
	config_mode_set, config_mode_print, NULL
};

/* [daemon] log_level. */
static int
config_level_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	if (log_level_parse(value, config_field(k, settings)) != 0) {
		*why = xasprintf("expected error, warning, info or debug, got"
		    " \"%s\"", value);
		return -1;
	}
	return 0;
}

static void
config_level_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const enum log_level	*field = config_field(k, settings);

	fprintf(out->fp, "%s = %s\n", k->name, log_level_name(*field));
}

static const struct config_type config_level = {
	config_level_set, config_level_print, NULL
};

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

/* A list of user (or group) names or numeric ids, replacing the one before. */
static int
config_ids_set(const struct config_key *k, void *settings, const char *value,
    int group, char **why)
{
	struct config_ids	*field = config_field(k, settings);
	char			**words;
	unsigned		 *v;
	size_t			  i, n;

	words = config_words(value, &n);
	v = xreallocarray(NULL, n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		if (config_id(words[i], group, &v[i]) == -1) {
			*why = xasprintf("unknown %s \"%s\"", group ? "group" :
			    "user", words[i]);
			break;
		}
	}
	if (i == 0 && n == 0)
		*why = xasprintf("expected at least one %s name or number",
		    group ? "group" : "user");
	config_free_list(words, n);
	if (n == 0 || i < n) {
		free(v);
		return -1;
	}
	free(field->v);
	field->v = v;
	field->n = n;
	return 0;
}

static int
config_uids_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	return config_ids_set(k, settings, value, 0, why);
}

static int
config_gids_set(const struct config_key *k, void *settings,
    const char *value, char **why)
{
	return config_ids_set(k, settings, value, 1, why);
}

/* The ids as numbers, if there are any. */
static void
config_ids_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	const struct config_ids	*field = config_field(k, settings);
	size_t			 i;

	if (field->n == 0)
		return;
	fprintf(out->fp, "%s =", k->name);
	for (i = 0; i < field->n; i++)
		fprintf(out->fp, " %u", field->v[i]);
	fprintf(out->fp, "\n");
}

static void
config_ids_free(const struct config_key *k, void *settings)
{
	struct config_ids	*field = config_field(k, settings);

	free(field->v);
	field->v = NULL;
	field->n = 0;
}

static const struct config_type config_uids = {
	config_uids_set, config_ids_print, config_ids_free
};

static const struct config_type config_gids = {
	config_gids_set, config_ids_print, config_ids_free
};

/* Give settings the defaults of keys. */
static void
config_keys_defaults(const struct config_key *keys, void *settings)
{
	char	*why = NULL;

	for (; keys->name != NULL; keys++) {
		if (keys->def != NULL &&
		    keys->type->set(keys, settings, keys->def, &why) == -1)
			fatalx("%s: the default of %s: %s", __func__,
			    keys->name, why);
	}
}

/* Free what the fields of keys in settings own. */
static void
config_keys_free(const struct config_key *keys, void *settings)
{
	for (; keys->name != NULL; keys++) {
		if (keys->type->free != NULL)
			keys->type->free(keys, settings);
	}
}

/* A struct of size bytes for keys, with their defaults. */
static void *
config_block_new(const struct config_key *keys, size_t size)
{
	void	*block = xcalloc(1, size);

	config_keys_defaults(keys, block);
	return block;
}

/* Free a struct config_block_new made, and what it owns. */
static void
config_block_free(const struct config_key *keys, void *block)
{
	if (block == NULL)
		return;
	config_keys_free(keys, block);
	free(block);
}

/* The database of the current [db.NAME] section. */
static struct db_config *
config_db(struct config_parse *p)
{
	return &p->cfg->dbs[p->db];
}

/* Whether the section being read has a key called name. */
static const struct config_seen *
config_seen(const struct config_parse *p, const char *name)
{
	size_t	i;

	for (i = 0; i < p->nseen; i++) {
		if (strcmp(p->seen[i].name, name) == 0)
			return &p->seen[i];
	}
	return NULL;
}

/* Set a key's value into settings, recording any error. */
static int
config_set(struct config_parse *p, const struct config_key *k,
    void *settings, const char *value)
{
	char	*why = NULL;

	if (k->type->set(k, settings, value, &why) == 0)
		return 0;
	config_key_error(p, p->value_line, k->name, "%s", why);
	free(why);
	return -1;
}

/* "sqlite or postgres": the names of the drivers. */
static char *
config_driver_names(void)
{
	char	*names = xstrdup(""), *more;
	size_t	 i;

	for (i = 0; db_drivers[i] != NULL; i++) {
		more = xasprintf("%s%s%s", names, i == 0 ? "" :
		    db_drivers[i + 1] == NULL ? " or " : ", ",
		    db_drivers[i]->name);
		free(names);
		names = more;
	}
	return names;
}

/* Set [db.NAME] driver, refusing keys already read the driver lacks. */
static int
config_set_driver(struct config_parse *p, const char *value)
{
	const struct db_driver	*d;
	const struct config_seen *s;
	char			*names;
	size_t			 i;

	for (i = 0; db_drivers[i] != NULL; i++) {
		if (strcmp(db_drivers[i]->name, value) == 0)
			break;
	}
	if ((d = db_drivers[i]) == NULL) {
		names = config_driver_names();
		config_key_error(p, p->value_line, config_driver_key.name,
		    "expected %s, got \"%s\"", names, value);
		free(names);
		return -1;
	}
	config_db(p)->driver = d;
	p->driver = i;
	p->driver_set = 1;

	/* Report the first such key in the file. */
	for (s = p->seen; s < p->seen + p->nseen; s++) {
		if (strcmp(s->name, config_driver_key.name) != 0 &&
		    config_keys_find(d->keys, s->name, strlen(s->name)) ==
		    NULL)
			return config_key_error(p, s->line, s->name,
			    "not a key of driver %s", d->name);
	}
	return 0;
}

/*
 * Set a [db.NAME] key: into the driver's settings, or, before the driver
 * is known, into those of every driver that has it.
 */
static int
config_set_db(struct config_parse *p, const struct config_key *k)
{
	const struct config_key	*dk;
	size_t			 i;

	if (k == &config_driver_key)
		return config_set_driver(p, p->value);
	for (i = 0; db_drivers[i] != NULL; i++) {
		if (p->driver_set && i != p->driver)
			continue;
		dk = config_keys_find(db_drivers[i]->keys, k->name,
		    strlen(k->name));
		if (dk != NULL && config_set(p, dk, p->blocks[i],
		    p->value) == -1)
			return -1;
	}
	return 0;
}

/* Check and store the value of the key read last, now complete. */
static int
config_commit(struct config_parse *p)
{
	const struct config_key	*k = p->key;
	const struct db_driver	*d;
	int			 rc;

	if (k == NULL)
		return 0;
	config_where(p, k);
	d = p->keys == NULL && p->driver_set ? db_drivers[p->driver] : NULL;
	if (d != NULL && k != &config_driver_key &&
	    config_keys_find(d->keys, k->name, strlen(k->name)) == NULL) {
		rc = config_key_error(p, p->key_line, k->name,
		    "not a key of driver %s", d->name);
	} else if (*p->value == ';' || *p->value == '#') {
		/* Printed back, "key = ;..." would read as a comment. */
		rc = config_key_error(p, p->value_line, k->name,
		    "a value may not start with '%c'", *p->value);
	} else if (p->keys == NULL)
		rc = config_set_db(p, k);
	else
		rc = config_set(p, k, p->settings, p->value);
	free(p->value);
	p->value = NULL;
	p->key = NULL;
	return rc;
}

/* Remember where the key being committed was read. */
static void
config_where(struct config_parse *p, const struct config_key *k)
{
	struct config		*cfg = p->cfg;
	struct config_line	*l;

	cfg->lines = xreallocarray(cfg->lines, cfg->nlines + 1,
	    sizeof *cfg->lines);
	l = &cfg->lines[cfg->nlines++];
	l->section = xstrdup(p->section_name);
	l->key = k->name;
	l->line = p->key_line;
}

/*
 * Check a [db.NAME] section at its end: its driver and the driver's
 * required keys. The database keeps the driver's settings.
 */
static int
config_close_db(struct config_parse *p)
{
	const struct config_key	*k;
	const struct db_driver	*d;

	if (!p->driver_set)
		return config_key_error(p, p->section_line,
		    config_driver_key.name, "required");
	d = db_drivers[p->driver];
	for (k = d->keys; k->name != NULL; k++) {
		if (k->required && config_seen(p, k->name) == NULL)
			return config_key_error(p, p->section_line, k->name,
			    "required for driver %s", d->name);
	}
	config_db(p)->settings = p->blocks[p->driver];
	p->blocks[p->driver] = NULL;
	return 0;
}

/* Free the drivers' settings of a [db.NAME] section being read. */
static void
config_blocks_free(struct config_parse *p)
{
	size_t	i;

	if (p->blocks == NULL)
		return;
	for (i = 0; db_drivers[i] != NULL; i++)
		config_block_free(db_drivers[i]->keys, p->blocks[i]);
	free(p->blocks);
	p->blocks = NULL;
}

/* End the current section. */
static int
config_close(struct config_parse *p)
{
	int	rc = 0;

	if (p->in_section && p->keys == NULL)
		rc = config_close_db(p);
	config_blocks_free(p);
	p->in_section = 0;
	p->keys = NULL;
	p->settings = NULL;
	p->driver_set = 0;
	free(p->seen);
	p->seen = NULL;
	p->nseen = 0;
	return rc;
}

/* Make the section with keys, filling settings, the current one. */
static void
config_enter(struct config_parse *p, const struct config_key *keys,
    void *settings)
{
	p->in_section = 1;
	p->keys = keys;
	p->settings = settings;
}

/* Start a [db.NAME] section, adding the database. */
static int
config_open_db(struct config_parse *p, const char *name)
{
	struct config		*cfg = p->cfg;
	struct db_config	*db;
	size_t			 i, n;

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
	p->db = cfg->ndbs++;
	for (n = 0; db_drivers[n] != NULL; n++)
		/* nothing */;
	p->blocks = xcalloc(n, sizeof *p->blocks);
	for (i = 0; i < n; i++)
		p->blocks[i] = config_block_new(db_drivers[i]->keys,
		    db_drivers[i]->size);
	config_enter(p, NULL, NULL);
	return 0;
}

/*
 * Start the section with keys, filling settings, unless it was seen
 * already (bit is its bit in seen_sections).
 */
static int
config_open_section(struct config_parse *p, unsigned bit,
    const struct config_key *keys, void *settings)
{
	if (p->seen_sections & (1u << bit)) {
		config_error(p, p->line, "[%s]: duplicate section",
		    p->section_name);
		return -1;
	}
	p->seen_sections |= 1u << bit;
	config_enter(p, keys, settings);
	return 0;
}

/* Start the section named by a header line. */
static int
config_open(struct config_parse *p, const char *name, size_t len)
{
	const struct config_section	*s;
	size_t				 i;

	free(p->section_name);
	p->section_name = xstrndup(name, len);
	p->section_line = p->line;
	if (strncmp(p->section_name, CONFIG_DB_PREFIX,
	    strlen(CONFIG_DB_PREFIX)) == 0)
		return config_open_db(p,
		    p->section_name + strlen(CONFIG_DB_PREFIX));
	for (i = 0; i < CONFIG_NSECTIONS; i++) {
		s = &config_sections[i];
		if (strcmp(p->section_name, s->name) == 0)
			return config_open_section(p, (unsigned)i, s->keys,
			    p->cfg);
	}
	for (i = 0; job_types[i] != NULL; i++) {
		s = job_types[i]->section;
		if (s != NULL && strcmp(p->section_name, s->name) == 0)
			return config_open_section(p,
			    (unsigned)(CONFIG_NSECTIONS + i), s->keys,
			    p->cfg->settings[i]);
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
	if (it->name != NULL && (k = config_scope_find(p->keys, it->name,
	    strlen(it->name))) != NULL) {
		return config_key_error(p, it->line, k->name,
		    "indented, so it would continue the value of %s",
		    p->key->name);
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
	const struct config_key	*k;

	if (!p->in_section) {
		config_error(p, it->line, "%s: not in a section", it->name);
		return -1;
	}
	k = config_scope_find(p->keys, it->name, strlen(it->name));
	if (k == NULL)
		return config_key_error(p, it->line, it->name, "unknown key");
	if (config_seen(p, k->name) != NULL)
		return config_key_error(p, it->line, it->name, "duplicate key");
	p->seen = xreallocarray(p->seen, p->nseen + 1, sizeof *p->seen);
	p->seen[p->nseen].name = k->name;
	p->seen[p->nseen].line = it->line;
	p->nseen++;

	p->key = k;
	p->key_line = it->line;
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

/* Fill in the built-in defaults of daemon.md, from the keys' tables. */
void
config_defaults(struct config *cfg)
{
	const struct config_section	*s;
	size_t				 i, n;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < CONFIG_NSECTIONS; i++)
		config_keys_defaults(config_sections[i].keys, cfg);
	for (n = 0; job_types[n] != NULL; n++)
		/* nothing */;
	cfg->settings = xcalloc(n, sizeof *cfg->settings);
	for (i = 0; i < n; i++) {
		if ((s = job_types[i]->section) != NULL)
			cfg->settings[i] = config_block_new(s->keys, s->size);
	}
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
	free(p.seen);
	config_blocks_free(&p);
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
	const struct config_section	*s;
	struct db_config		*db;
	size_t				 i;

	free(cfg->file);
	cfg->file = NULL;
	for (i = 0; i < cfg->nlines; i++)
		free(cfg->lines[i].section);
	free(cfg->lines);
	cfg->lines = NULL;
	cfg->nlines = 0;
	for (i = 0; i < CONFIG_NSECTIONS; i++)
		config_keys_free(config_sections[i].keys, cfg);
	for (i = 0; i < cfg->ndbs; i++) {
		db = &cfg->dbs[i];
		free(db->name);
		if (db->settings != NULL)
			config_block_free(db->driver->keys, db->settings);
	}
	free(cfg->dbs);
	cfg->dbs = NULL;
	cfg->ndbs = 0;
	for (i = 0; cfg->settings != NULL && job_types[i] != NULL; i++) {
		if ((s = job_types[i]->section) != NULL)
			config_block_free(s->keys, cfg->settings[i]);
	}
	free(cfg->settings);
	cfg->settings = NULL;
}

/* Print a section's keys from settings. */
static void
config_print_keys(FILE *fp, const struct config_key *scope,
    const struct config_key *keys, const void *settings)
{
	struct config_out	out = { fp, scope };

	for (; keys->name != NULL; keys++)
		keys->type->print(&out, keys, settings);
}

/* Print the effective settings as an INI file config_load reads back. */
void
config_print(const struct config *cfg, FILE *fp)
{
	const struct config_section	*s;
	const struct db_config		*db;
	size_t				 i;

	if (cfg->file != NULL)
		fprintf(fp, "; Read from %s.\n", cfg->file);
	else
		fprintf(fp, "; Built-in defaults.\n");

	for (i = 0; i < CONFIG_NSECTIONS; i++) {
		s = &config_sections[i];
		fprintf(fp, "\n[%s]\n", s->name);
		config_print_keys(fp, s->keys, s->keys, cfg);
	}
	for (i = 0; job_types[i] != NULL; i++) {
		if ((s = job_types[i]->section) == NULL)
			continue;
		fprintf(fp, "\n[%s]\n", s->name);
		config_print_keys(fp, s->keys, s->keys, cfg->settings[i]);
	}
	for (i = 0; i < cfg->ndbs; i++) {
		db = &cfg->dbs[i];
		fprintf(fp, "\n[%s%s]\n", CONFIG_DB_PREFIX, db->name);
		fprintf(fp, "%s = %s\n", config_driver_key.name,
		    db->driver->name);
		config_print_keys(fp, NULL, db->driver->keys, db->settings);
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

/* The settings of a job type's section (job.h: section). */
const void *
config_settings(const struct config *cfg,
    const struct config_section *section)
{
	size_t	i;

	for (i = 0; job_types[i] != NULL; i++) {
		if (job_types[i]->section == section)
			return cfg->settings[i];
	}
	fatalx("%s: [%s] is no job type's section", __func__, section->name);
}

/* The line where the file set key of section ("db.main"), or 0. */
int
config_key_line(const struct config *cfg, const char *section,
    const char *key)
{
	size_t	i;

	for (i = 0; i < cfg->nlines; i++) {
		if (strcmp(cfg->lines[i].section, section) == 0 &&
		    strcmp(cfg->lines[i].key, key) == 0)
			return cfg->lines[i].line;
	}
	return 0;
}

/*
 * A message about a key the file set, as a syntax error is written:
 * FILE:LINE: [SECTION] KEY: MESSAGE. Newly allocated.
 */
char *
config_key_message(const struct config *cfg, const char *section,
    const char *key, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *out;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	out = xasprintf("%s:%d: [%s] %s: %s", cfg->file != NULL ? cfg->file :
	    "(built-in)", config_key_line(cfg, section, key), section, key,
	    msg);
	free(msg);
	return out;
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
