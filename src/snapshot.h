/*
 * A configuration snapshot: the settings of one load of the configuration
 * and what the job types keep for them (the read roots; the database
 * pools are the drivers', attached per snapshot). The server holds the
 * current one; every batch holds the one it was parsed under, and so does
 * every read on a worker, so a reload never changes what a running batch
 * started with. Snapshots are reference counted on the loop thread; the
 * last reference lets the job types release what they hold for it.
 */
#ifndef GATHERD_SNAPSHOT_H
#define GATHERD_SNAPSHOT_H

#include "config.h"

struct job_type;

struct snapshot {
	unsigned	 refs;
	int		 attached;	/* the job types' attach ran for it */
	struct config	 cfg;		/* owned */
	void		**state;	/* owned: per job type (job_types_load) */
};

struct snapshot	*snapshot_new(struct config *, char **);
void		 snapshot_attach(struct snapshot *);
struct snapshot	*snapshot_ref(struct snapshot *);
void		 snapshot_unref(struct snapshot *);
void		*snapshot_state(const struct snapshot *,
		    const struct job_type *);

#endif
