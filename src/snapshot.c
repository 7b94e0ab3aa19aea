/*
 * Configuration snapshots. snapshot_new() does the blocking part of a
 * load (opening the read roots) and may run on any thread; references
 * are counted atomically (snapshot.h says who may take them where);
 * everything else runs on the loop.
 */

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "roots.h"
#include "snapshot.h"
#include "xmalloc.h"

/*
 * Make a snapshot of cfg, which it takes over (cfg is left zeroed), with
 * one reference. Returns NULL with *cause set if a database setting is not
 * usable; cfg is freed then.
 */
struct snapshot *
snapshot_new(struct config *cfg, char **cause)
{
	struct snapshot	*s;

	if (postgres_check(cfg, cause) == -1) {
		config_free(cfg);
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	atomic_init(&s->refs, 1);
	s->cfg = *cfg;
	memset(cfg, 0, sizeof *cfg);
	s->roots = roots_open(&s->cfg);
	return s;
}

/* Set up the pools of the snapshot's databases, on the loop. */
void
snapshot_attach(struct snapshot *s)
{
	if (!s->attached) {
		postgres_attach(&s->cfg);
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
		postgres_detach(&s->cfg);
	roots_free(s->roots);
	config_free(&s->cfg);
	free(s);
}
