/*
 * The socket path's precedence, and the socket a configuration file sets,
 * on their own so that gatherctl, which needs only this of the
 * configuration, does not link the daemon's tables.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ini.h"
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

/*
 * The socket that the configuration file at path sets ([daemon] socket,
 * continued lines joined as config.c joins them), for gatherctl -c: 0
 * with *socket newly allocated, or NULL when the file sets none; -1 with
 * *cause when the file cannot be read or its syntax is wrong. Nothing
 * else of the file is checked: that is gatherd's (--check-config).
 */
int
config_socket_read(const char *path, char **socket, char **cause)
{
	struct ini	 ini;
	struct ini_item	 it;
	FILE		*f;
	char		*s;
	int		 daemon = 0, in_socket = 0, rc = 0;

	*socket = NULL;
	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	ini_open(&ini, f);
	for (;;) {
		if (ini_next(&ini, &it) != 0 || it.error != NULL) {
			*cause = it.line == 0 ? xasprintf("%s: %s", path,
			    it.error) : xasprintf("%s:%d: %s", path, it.line,
			    it.error);
			rc = -1;
			break;
		}
		if (it.type == INI_END)
			break;
		if (it.type == INI_MORE) {
			if (in_socket) {
				s = xasprintf("%s%s%s", *socket,
				    **socket != '\0' ? " " : "", it.value);
				free(*socket);
				*socket = s;
			}
			continue;
		}
		in_socket = 0;
		if (it.type == INI_SECTION)
			daemon = strcmp(it.name, "daemon") == 0;
		else if (daemon && strcmp(it.name, "socket") == 0) {
			free(*socket);
			*socket = xstrdup(it.value);
			in_socket = 1;
		}
	}
	ini_close(&ini);
	fclose(f);
	if (rc == -1 || (*socket != NULL && **socket == '\0')) {
		free(*socket);
		*socket = NULL;
	}
	return rc;
}
