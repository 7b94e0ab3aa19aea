/*
 * A configuration snapshot: the settings of one load of the configuration
 * and what the job types keep for them (the read roots; the database
 * pools are the drivers', attached per snapshot). The server holds the
 * current one; every batch holds the one it was parsed under, and so does
 * every read on a worker, so a reload never changes what a running batch
 * started with. The last reference lets the job types release what they
 * hold for it, so it must be dropped on the loop thread. The count is
 * atomic because the parse thread takes and drops references too (a
 * batch it builds takes one), always while the loop holds another for
 * the parse: the parse thread never drops the last one.
 */
#ifndef GATHERD_SNAPSHOT_H
#define GATHERD_SNAPSHOT_H

#include <stdatomic.h>

#include "config.h"

struct job_type;

struct snapshot {
	atomic_uint	 refs;
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
