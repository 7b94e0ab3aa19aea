/*
 * Peer credentials and access control. Without allow_uids and
 * allow_groups, whoever can open the socket (its mode and group) may use
 * gatherd. With either, a client must also be root, a listed user, or in
 * a listed group: its primary group or one of its supplementary groups,
 * which the kernel reports with SO_PEERGROUPS, so no group database is
 * read on the loop.
 */

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "config.h"
#include "peer.h"
#include "xmalloc.h"

#define PEER_GROUPS	64	/* on the stack; more are allocated */

/* The credentials of the client on fd. */
void
peer_get(int fd, struct peer *p)
{
	struct ucred	uc;
	socklen_t	len = sizeof uc;

	p->pid = -1;
	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
		p->pid = uc.pid;
		p->uid = uc.uid;
		p->gid = uc.gid;
	}
}

/* Is id in the list? */
static int
peer_listed(const unsigned *ids, size_t n, unsigned id)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (ids[i] == id)
			return 1;
	}
	return 0;
}

/* Is one of the client's supplementary groups listed? */
static int
peer_groups_listed(const struct config *cfg, int fd)
{
	gid_t		 buf[PEER_GROUPS], *groups = buf;
	socklen_t	 len = sizeof buf;
	size_t		 i, n;
	int		 found = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		if (errno != ERANGE)
			return 0;
		/* len is now the size needed. */
		groups = xmalloc(len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == -1) {
			free(groups);
			return 0;
		}
	}
	n = len / sizeof *groups;
	for (i = 0; i < n && !found; i++)
		found = peer_listed(cfg->allow_gids.v, cfg->allow_gids.n,
		    groups[i]);
	if (groups != buf)
		free(groups);
	return found;
}

/* May the client on fd, with credentials p, use gatherd? */
int
peer_allowed(const struct config *cfg, int fd, const struct peer *p)
{
	if (cfg->allow_uids.n == 0 && cfg->allow_gids.n == 0)
		return 1;
	if (p->uid == (uid_t)-1)
		return 0;
	if (p->uid == 0 ||
	    peer_listed(cfg->allow_uids.v, cfg->allow_uids.n, p->uid) ||
	    peer_listed(cfg->allow_gids.v, cfg->allow_gids.n, p->gid))
		return 1;
	return cfg->allow_gids.n > 0 && peer_groups_listed(cfg, fd);
}
