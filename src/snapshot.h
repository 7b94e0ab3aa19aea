/*
 * A configuration snapshot: the settings of one load of the configuration
 * and what was opened for them (the read roots). The server holds the
 * current one; every batch holds the one it was parsed under, and so does
 * every read on a worker, so a reload never changes what a running batch
 * started with. Snapshots are reference counted on the loop thread; the
 * last reference closes the roots and lets the job types release what
 * they hold for it (the database pools).
 */
#ifndef GATHERD_SNAPSHOT_H
#define GATHERD_SNAPSHOT_H

#include "config.h"

struct roots;

struct snapshot {
	unsigned	 refs;
	int		 attached;	/* the job types' attach ran for it */
	struct config	 cfg;		/* owned */
	struct roots	*roots;		/* owned */
};

struct snapshot	*snapshot_new(struct config *, char **);
void		 snapshot_attach(struct snapshot *);
struct snapshot	*snapshot_ref(struct snapshot *);
void		 snapshot_unref(struct snapshot *);

#endif
