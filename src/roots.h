/*
 * The read roots: directories opened when a configuration is loaded (at
 * start-up or on reload), beneath which every read is resolved by the
 * kernel (see fsroot.c). A struct roots belongs to one configuration
 * snapshot: the read job type opens them when the snapshot is made
 * (jobs/read.c). This module maps a request's path to a root and a path
 * relative to it; it does no I/O after roots_open().
 */
#ifndef GATHERD_ROOTS_H
#define GATHERD_ROOTS_H

#include <stddef.h>

#include "error.h"

struct config_list;

struct read_root {
	char	*path;		/* owned, no trailing slash (but "/") */
	size_t	 len;
	int	 fd;		/* O_PATH|O_DIRECTORY, or -1 */
	int	 error;		/* errno of the failed open, when fd is -1 */
};

struct roots {
	struct read_root	*v;		/* owned, n of them */
	size_t			 n;
};

struct roots	*roots_open(const struct config_list *);
void		 roots_free(struct roots *);
enum err_code	 roots_resolve(const struct roots *, const char *,
		    const struct read_root **, const char **, char **);

#endif
