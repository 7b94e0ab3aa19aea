/*
 * Read roots. A root that cannot be opened is logged, and reads beneath it
 * fail with io_error naming it, rather than stopping the daemon: the
 * built-in default root need not exist on a machine that never reads.
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

/* Open every root of paths (blocking: not on the loop after start-up). */
struct roots *
roots_open(const struct config_list *paths)
{
	struct roots		*roots;
	struct read_root	*r;
	size_t			 i;

	roots = xcalloc(1, sizeof *roots);
	roots->v = xcalloc(paths->n, sizeof *roots->v);
	for (i = 0; i < paths->n; i++) {
		r = &roots->v[roots->n++];
		r->path = xstrdup(paths->v[i]);
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
	return roots;
}

/* Close the roots and free them. */
void
roots_free(struct roots *roots)
{
	size_t	i;

	if (roots == NULL)
		return;
	for (i = 0; i < roots->n; i++) {
		if (roots->v[i].fd != -1)
			close(roots->v[i].fd);
		free(roots->v[i].path);
	}
	free(roots->v);
	free(roots);
}

/*
 * Find the root of a request path: a relative path belongs to the first
 * root; an absolute one to the root it lies beneath, and *rel is the rest.
 * forbidden when no root holds it; io_error when its root is unavailable.
 */
enum err_code
roots_resolve(const struct roots *roots, const char *path,
    const struct read_root **root, const char **rel, char **cause)
{
	const struct read_root	*r = NULL, *v = roots->v;
	size_t			 i;

	if (path[0] != '/') {
		if (roots->n > 0) {
			r = &v[0];
			*rel = path;
		}
	} else {
		for (i = 0; i < roots->n && r == NULL; i++) {
			if (v[i].len == 1) {
				r = &v[i];
				*rel = path + 1;
			} else if (strncmp(path, v[i].path, v[i].len) == 0 &&
			    (path[v[i].len] == '/' || path[v[i].len] == '\0')) {
				r = &v[i];
				*rel = path + v[i].len;
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
