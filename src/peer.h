/*
 * A client's credentials, as the kernel saw them when it connected
 * (SO_PEERCRED and SO_PEERGROUPS), and the access check of the
 * allow_uids / allow_groups keys.
 */
#ifndef GATHERD_PEER_H
#define GATHERD_PEER_H

#include <sys/types.h>

struct config;

struct peer {
	pid_t	pid;		/* -1 when not known */
	uid_t	uid;		/* (uid_t)-1 when not known */
	gid_t	gid;		/* (gid_t)-1 when not known */
};

void	peer_get(int, struct peer *);
int	peer_allowed(const struct config *, int, const struct peer *);

#endif
