/*
 * The configuration: the INI file of daemon.md, read by ini.c, over
 * built-in defaults. Nothing here does I/O beyond reading the file.
 */
#ifndef GATHERD_CONFIG_H
#define GATHERD_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "log.h"

enum db_driver {
	DB_SQLITE,
	DB_POSTGRES,
};

struct db_config {
	char		*name;		/* owned: "default" for [db.default] */
	enum db_driver	 driver;
	char		*path;		/* owned, sqlite only */
	int		 path_line;	/* where the file set it (--check-config) */
	int		 writable;	/* sqlite only */
	unsigned	 busy_timeout_ms; /* sqlite only: wait on a lock */
	char		*conninfo;	/* owned, postgres only */
	unsigned	 pool;		/* postgres only, >= 1 */
};

#define CONFIG_BUSY_TIMEOUT_DEFAULT	5000
#define CONFIG_UNSET			(~0u)

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
	uint64_t	read_max_bytes;		/* [read] max_bytes */
	uint64_t	max_result_bytes;	/* a query's value, at most */
	uint64_t	max_job_ms;		/* a job's running time; 0: none */
};

struct config {
	char		*file;		/* owned: the file read, NULL if none */
	char		*socket;	/* owned: NULL means "not set" */
	mode_t		 socket_mode;
	unsigned	 threads;
	enum log_level	 log_level;
	uint64_t	 shutdown_timeout_ms;
	int		 log_requests;	/* a line per finished batch */
	char		*metrics_listen; /* owned: [metrics] listen, NULL: off */
	unsigned	*allow_uids;	/* owned, nallow_uids; see peer.c */
	size_t		 nallow_uids;
	unsigned	*allow_gids;	/* owned, nallow_gids */
	size_t		 nallow_gids;
	struct limits	 limits;
	char		**read_roots;	/* owned, nread_roots strings */
	size_t		 nread_roots;
	int		 read_roots_line; /* where the file set them, or 0 */
	struct db_config *dbs;		/* owned, ndbs entries */
	size_t		 ndbs;
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

/*
 * The socket to use, newly allocated: the -s flag if given, else
 * $GATHERD_SOCKET if set and non-empty, else the configured one, else
 * /run/gatherd/gatherd.sock for root, $XDG_RUNTIME_DIR/gatherd.sock or
 * /tmp/gatherd-UID.sock for other users.
 */
char	*config_socket_path(const char *, const char *);
int	 config_listen_sockaddr(const char *, struct sockaddr_storage *,
	    int *);

#endif
