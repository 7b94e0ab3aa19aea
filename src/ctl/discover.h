/*
 * Finding gatherd's socket for gatherctl: the paths to try, in order, and
 * an error that names them and says what is wrong when none answers.
 */
#ifndef GATHERD_CTL_DISCOVER_H
#define GATHERD_CTL_DISCOVER_H

#include <stddef.h>

#define DISCOVER_SYSTEM_SOCKET	"/run/gatherd/gatherd.sock"
#define DISCOVER_MAX		4

struct discover {
	char		*paths[DISCOVER_MAX];	/* owned, n of them */
	const char	*from[DISCOVER_MAX];	/* where each came from */
	size_t		 n;
	char		*cfile;			/* owned: a from[] text */
};

int	discover_init(struct discover *, const char *, const char *, char **);
int	discover_connect(const struct discover *, const char **, char **);
void	discover_free(struct discover *);

#endif
