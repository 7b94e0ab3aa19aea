/*
 * Configuration snapshots. snapshot_new() does the blocking part of a
 * load (the job types' check and load hooks: opening the read roots) and
 * may run on any thread; references are counted atomically (snapshot.h
 * says who may take them where); everything else runs on the loop.
 */

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "job.h"
#include "snapshot.h"
#include "xmalloc.h"

/*
 * Make a snapshot of cfg, which it takes over (cfg is left zeroed), with
 * one reference. Returns NULL with *cause set if a job type cannot set up
 * what cfg asks for (a database setting that is not usable); cfg is freed
 * then.
 */
struct snapshot *
snapshot_new(struct config *cfg, char **cause)
{
	struct snapshot	*s;

	if (job_types_check(cfg, cause) == -1) {
		config_free(cfg);
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	atomic_init(&s->refs, 1);
	s->cfg = *cfg;
	memset(cfg, 0, sizeof *cfg);
	s->state = job_types_load(&s->cfg);
	return s;
}

/* Let the job types set up their state for the snapshot, on the loop. */
void
snapshot_attach(struct snapshot *s)
{
	if (!s->attached) {
		job_types_attach(&s->cfg);
		s->attached = 1;
	}
}

/* Take a reference. */
struct snapshot *
snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

/* Drop a reference; the last one frees the snapshot. */
void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL ||
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) > 1)
		return;
	if (s->attached)
		job_types_detach(&s->cfg);
	job_types_unload(s->state);
	config_free(&s->cfg);
	free(s);
}

/* What a job type keeps for the snapshot (its load hook's), or NULL. */
void *
snapshot_state(const struct snapshot *s, const struct job_type *type)
{
	return s->state[job_type_index(type)];
}
