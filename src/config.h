/*
 * The configuration: the INI file of daemon.md, read by ini.c, over
 * built-in defaults. Nothing here does I/O beyond reading the file.
 *
 * Its sections and keys are tables (config.c): a module with settings
 * declares its keys (struct config_key: name, type, field, range,
 * default) and config.c reads, checks, prints and frees them. A job type
 * brings a whole section (struct config_section, job.h); a database
 * driver its keys under [db.NAME] (db/driver.h).
 */
#ifndef GATHERD_CONFIG_H
#define GATHERD_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "log.h"

struct config_key;
struct config_out;
struct db_driver;

/*
 * A kind of value: how a key's value is read into its field, printed
 * back and freed. settings is the struct the key's section fills; the
 * field is at the key's offset in it.
 */
struct config_type {
	/* Read value into the field: 0, or -1 with *why saying what is wrong. */
	int	(*set)(const struct config_key *, void *settings,
		    const char *value, char **why);
	/* Print "key = value" as config_load reads it back (nothing if unset). */
	void	(*print)(struct config_out *, const struct config_key *,
		    const void *settings);
	/* Free what the field owns. NULL: nothing. */
	void	(*free)(const struct config_key *, void *settings);
};

/* A key of a section: one entry of a table that ends with a NULL name. */
struct config_key {
	const char		 *name;
	const struct config_type *type;
	size_t			  off;		/* its field in the settings */
	uint64_t		  min;		/* integers: the range */
	uint64_t		  max;
	const char		 *def;		/* the default, as a file has it; NULL: none */
	int			  required;	/* a driver's key the section must give */
};

/*
 * A section [NAME] that a module owns (a job type's, job.h): its keys
 * fill a struct of its own, which config_settings() finds.
 */
struct config_section {
	const char		*name;		/* between the brackets */
	const struct config_key	*keys;
	size_t			 size;		/* of the struct the keys fill */
};

/* The kinds of value a module's keys may use; what each field is. */
extern const struct config_type config_string;	/* char *, not empty */
extern const struct config_type config_text;	/* char *, may be empty */
extern const struct config_type config_bool;	/* int, 0 or 1 */
extern const struct config_type config_uint;	/* unsigned, in the range */
extern const struct config_type config_u64;	/* uint64_t, in the range */
extern const struct config_type config_paths;	/* struct config_list */

/* The largest integer a JSON number holds exactly. */
#define CONFIG_INT_MAX		(UINT64_C(1) << 53)

/* A list of user or group ids. */
struct config_ids {
	unsigned	 *v;		/* owned, n ids */
	size_t		  n;
};

/* A list of strings, such as absolute paths. */
struct config_list {
	char		**v;		/* owned, n strings */
	size_t		  n;
};

struct db_config {
	char			*name;		/* owned: "default" for [db.NAME] */
	const struct db_driver	*driver;	/* from db_drivers[] */
	void			*settings;	/* owned: the driver's keys' struct */
};

struct limits {
	uint64_t	max_connections;
	uint64_t	max_request_bytes;
	uint64_t	max_jobs_per_batch;
	uint64_t	max_inflight_jobs;
	uint64_t	max_batches_per_connection;
	uint64_t	max_output_bytes;
	uint64_t	max_connection_bytes;	/* held by one connection */
	uint64_t	max_memory_bytes;	/* held by all of them */
	uint64_t	max_connections_per_uid;	/* root not counted */
	uint64_t	max_result_bytes;	/* a query's value, at most */
	uint64_t	max_job_ms;		/* a job's running time; 0: none */
};

/* Where the file set a key: --check-config's errors name the line. */
struct config_line {
	char		*section;	/* owned: as between the brackets */
	const char	*key;		/* the key's name, from its table */
	int		 line;
};

struct config {
	char		*file;		/* owned: the file read, NULL if none */
	struct config_line *lines;	/* owned, nlines: every key read */
	size_t		 nlines;
	char		*socket;	/* owned: NULL means "not set" */
	mode_t		 socket_mode;
	unsigned	 threads;
	enum log_level	 log_level;
	uint64_t	 shutdown_timeout_ms;
	int		 log_requests;	/* a line per finished batch */
	char		*metrics_listen; /* owned: [metrics] listen, NULL: off */
	struct config_ids allow_uids;	/* see peer.c */
	struct config_ids allow_gids;
	struct limits	 limits;
	struct db_config *dbs;		/* owned, ndbs entries */
	size_t		 ndbs;
	void		**settings;	/* owned: per job type, its section's */
};

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define CONFIG_DEFAULT_FILE	SYSCONFDIR "/gatherd/gatherd.conf"

/* What the command line sets over the file. */
struct config_args {
	const char	*file;		/* -c, or NULL for the default file */
	const char	*socket;	/* -s, or NULL */
	unsigned	 threads;	/* -t, or 0 */
	int		 log_level;	/* -l (an enum log_level), or -1 */
};

void	 config_defaults(struct config *);
int	 config_build(struct config *, const struct config_args *, char **);
int	 config_load(struct config *, const char *, int, char **);
void	 config_free(struct config *);
void	 config_print(const struct config *, FILE *);
const struct db_config *config_find_db(const struct config *, const char *);
const void *config_settings(const struct config *,
	    const struct config_section *);
int	 config_key_line(const struct config *, const char *, const char *);
char	*config_key_message(const struct config *, const char *, const char *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
int	 config_listen_sockaddr(const char *, struct sockaddr_storage *,
	    int *);

/*
 * The socket to use, newly allocated: the -s flag if given, else
 * $GATHERD_SOCKET if set and non-empty, else the configured one, else
 * /run/gatherd/gatherd.sock for root, $XDG_RUNTIME_DIR/gatherd.sock or
 * /tmp/gatherd-UID.sock for other users.
 */
char	*config_socket_path(const char *, const char *);
int	 config_socket_read(const char *, char **, char **);

#endif
