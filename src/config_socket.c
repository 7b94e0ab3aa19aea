/*
 * The socket path's precedence, on its own so that gatherctl, which needs
 * only this of the configuration, does not link the daemon's tables.
 */

#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "xmalloc.h"

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
