/*
 * Read roots. A root that cannot be opened at start-up is logged, and reads
 * beneath it fail with io_error naming it, rather than stopping the daemon:
 * the built-in default root need not exist on a machine that never reads.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "roots.h"
#include "xmalloc.h"

static struct read_root	*roots;
static size_t		 nroots;

/* Open every configured root. */
void
roots_open(const struct config *cfg)
{
	struct read_root	*r;
	size_t			 i;

	roots_close();
	roots = xcalloc(cfg->nread_roots, sizeof *roots);
	for (i = 0; i < cfg->nread_roots; i++) {
		r = &roots[nroots++];
		r->path = xstrdup(cfg->read_roots[i]);
		r->len = strlen(r->path);
		while (r->len > 1 && r->path[r->len - 1] == '/')
			r->path[--r->len] = '\0';
		r->fd = open(r->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (r->fd == -1) {
			r->error = errno;
			log_warn("read root %s", r->path);
		} else
			log_debug("read root %s", r->path);
	}
}

/* Close the roots. */
void
roots_close(void)
{
	size_t	i;

	for (i = 0; i < nroots; i++) {
		if (roots[i].fd != -1)
			close(roots[i].fd);
		free(roots[i].path);
	}
	free(roots);
	roots = NULL;
	nroots = 0;
}

/*
 * Find the root of a request path: a relative path belongs to the first
 * root; an absolute one to the root it lies beneath, and *rel is the rest.
 * forbidden when no root holds it; io_error when its root is unavailable.
 */
enum err_code
roots_resolve(const char *path, const struct read_root **root,
    const char **rel, char **cause)
{
	const struct read_root	*r = NULL;
	size_t			 i;

	if (path[0] != '/') {
		if (nroots > 0) {
			r = &roots[0];
			*rel = path;
		}
	} else {
		for (i = 0; i < nroots && r == NULL; i++) {
			if (roots[i].len == 1) {
				r = &roots[i];
				*rel = path + 1;
			} else if (strncmp(path, roots[i].path,
			    roots[i].len) == 0 && (path[roots[i].len] == '/' ||
			    path[roots[i].len] == '\0')) {
				r = &roots[i];
				*rel = path + roots[i].len;
				while (**rel == '/')
					(*rel)++;
			}
		}
	}
	if (r == NULL) {
		*cause = xasprintf("%s: outside the read roots", path);
		return ERR_FORBIDDEN;
	}
	if (r->fd == -1) {
		*cause = xasprintf("%s: read root %s is not available: %s",
		    path, r->path, strerror(r->error));
		return ERR_IO_ERROR;
	}
	*root = r;
	return ERR_NONE;
}
