/*
 * Finding gatherd: the sockets gatherctl tries, in the order daemon.md
 * gives (-s; the socket of -c FILE; $GATHERD_SOCKET; the user's default;
 * the system socket /run/gatherd/gatherd.sock), and an error that says
 * what is wrong when none answers.
 *
 * A socket named by -s, -c or $GATHERD_SOCKET is the only one tried: the
 * user said where gatherd is. Without them the user's default comes first
 * (root's is the system socket), then the system socket, so that a member
 * of the gatherd group reaches the system service with no option.
 *
 * Each failure is explained by what it means: no such socket (gatherd is
 * not running, or listens elsewhere), refused (a socket file is there and
 * nothing accepts: gatherd is not running), permission denied (and which
 * group may connect, read from the socket itself).
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl/discover.h"
#include "xmalloc.h"

#define DISCOVER_CONNECT_WAIT_MS	30000	/* for room in the listen queue */

/* Add a socket to try, unless it is there already. */
static void
discover_add(struct discover *dc, char *path, const char *from)
{
	size_t	i;

	for (i = 0; i < dc->n; i++) {
		if (strcmp(dc->paths[i], path) == 0) {
			free(path);
			return;
		}
	}
	dc->paths[dc->n] = path;
	dc->from[dc->n] = from;
	dc->n++;
}

/*
 * The sockets to try: sflag (-s) or the socket of the configuration file
 * cfile (-c), or $GATHERD_SOCKET, else the defaults. 0, or -1 with *cause
 * when cfile cannot be read.
 */
int
discover_init(struct discover *dc, const char *sflag, const char *cfile,
    char **cause)
{
	const char	*env;
	char		*socket;

	memset(dc, 0, sizeof *dc);
	if (sflag != NULL) {
		discover_add(dc, xstrdup(sflag), "-s");
		return 0;
	}
	if (cfile != NULL) {
		if (config_socket_read(cfile, &socket, cause) == -1)
			return -1;
		if (socket != NULL) {
			dc->cfile = xasprintf("the socket of %s", cfile);
			discover_add(dc, socket, dc->cfile);
			return 0;
		}
	}
	if ((env = getenv("GATHERD_SOCKET")) != NULL && *env != '\0') {
		discover_add(dc, xstrdup(env), "$GATHERD_SOCKET");
		return 0;
	}
	discover_add(dc, config_socket_path(NULL, NULL), geteuid() == 0 ?
	    "the system socket" : "your default");
	discover_add(dc, xstrdup(DISCOVER_SYSTEM_SOCKET), "the system socket");
	return 0;
}

/* Free what dc owns. */
void
discover_free(struct discover *dc)
{
	size_t	i;

	for (i = 0; i < dc->n; i++)
		free(dc->paths[i]);
	free(dc->cfile);
	memset(dc, 0, sizeof *dc);
}

/* Whether the user is listed in group gr (or has it as primary group). */
static int
discover_in_group(const struct group *gr)
{
	struct passwd	*pw = getpwuid(getuid());
	char		**m;

	if (pw == NULL)
		return 0;
	if (pw->pw_gid == gr->gr_gid)
		return 1;
	for (m = gr->gr_mem; *m != NULL; m++) {
		if (strcmp(*m, pw->pw_name) == 0)
			return 1;
	}
	return 0;
}

/* Whether this process has gid among its groups. */
static int
discover_has_gid(gid_t gid)
{
	gid_t	groups[256];
	int	n, i;

	if (getegid() == gid)
		return 1;
	if ((n = getgroups(256, groups)) == -1)
		return 0;
	for (i = 0; i < n; i++) {
		if (groups[i] == gid)
			return 1;
	}
	return 0;
}

/*
 * Why connecting to path was denied: the directory in the way, or who
 * may connect to the socket (its group, and how to join it).
 */
static char *
discover_denied(const char *path)
{
	struct stat	 sb;
	struct group	*gr;
	char		*dir, *slash, gname[32];

	if (stat(path, &sb) == -1) {
		dir = xstrdup(path);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
			*slash = '\0';
		slash = xasprintf("permission denied: the directory %s is"
		    " closed to you", dir);
		free(dir);
		return slash;
	}
	if ((gr = getgrgid(sb.st_gid)) == NULL) {
		snprintf(gname, sizeof gname, "%lu", (unsigned long)sb.st_gid);
		return xasprintf("permission denied (mode %04o, group %s):"
		    " members of that group may connect",
		    (unsigned)(sb.st_mode & 07777), gname);
	}
	if ((sb.st_mode & 0020) == 0)
		return xasprintf("permission denied (mode %04o): only its"
		    " owner may connect", (unsigned)(sb.st_mode & 07777));
	if (discover_in_group(gr) && !discover_has_gid(gr->gr_gid))
		return xasprintf("permission denied: members of group %s may"
		    " connect, and you are one, but not yet in this session"
		    " (log in again, or run: newgrp %s)", gr->gr_name,
		    gr->gr_name);
	return xasprintf("permission denied: members of group %s may connect"
	    " (add yourself with: usermod -aG %s USER, then log in again)",
	    gr->gr_name, gr->gr_name);
}

/* What a failed connect to path means, for the user. */
static char *
discover_why(const char *path, int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return xstrdup("no such socket");
	case ECONNREFUSED:
		return xstrdup("connection refused: the socket file is there"
		    " but nothing accepts on it (gatherd is not running)");
	case EACCES:
	case EPERM:
		return discover_denied(path);
	case EAGAIN:
	case EINPROGRESS:
		return xasprintf("gatherd accepts no connection (its listen"
		    " queue stayed full for %d s)",
		    DISCOVER_CONNECT_WAIT_MS / 1000);
	case ENAMETOOLONG:
		return xstrdup("the path is too long for a socket");
	default:
		return xstrdup(strerror(err));
	}
}

/* Connect to the socket at path: the descriptor, or -1 with errno set. */
static int
discover_try(const char *path)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { DISCOVER_CONNECT_WAIT_MS / 1000, 0 };
	int			fd, saved;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/*
	 * A Unix connect waits while the listen queue is full, for at most
	 * SO_SNDTIMEO: a wedged daemon must not hang us there. No signal
	 * handler is installed, so EINTR cannot interrupt the connect.
	 */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	/* Later sends use MSG_DONTWAIT; no timeout is wanted there. */
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/*
 * Connect to the first socket of dc that accepts: its descriptor, with
 * *path its path (dc's). -1 with *cause naming every socket tried and
 * why each failed.
 */
int
discover_connect(const struct discover *dc, const char **path, char **cause)
{
	char	*msg = NULL, *why, *s;
	size_t	 i;
	int	 fd, absent = 1;

	for (i = 0; i < dc->n; i++) {
		if ((fd = discover_try(dc->paths[i])) != -1) {
			*path = dc->paths[i];
			free(msg);
			return fd;
		}
		if (errno != ENOENT && errno != ENOTDIR)
			absent = 0;
		why = discover_why(dc->paths[i], errno);
		s = xasprintf("%s%s %s (%s): %s", msg != NULL ? msg : "",
		    msg != NULL ? "; nor at" : "cannot connect to gatherd at",
		    dc->paths[i], dc->from[i], why);
		free(why);
		free(msg);
		msg = s;
	}
	if (absent) {
		s = xasprintf("%s (gatherd is not running, or listens elsewhere:"
		    " name its socket with -s PATH, -c FILE or"
		    " $GATHERD_SOCKET)", msg);
		free(msg);
		msg = s;
	}
	*cause = msg;
	return -1;
}
