/*
 * Worker threads: a hand-off (handoff.h) of the configured number.
 *
 * Before the hand-over, on the loop: a queue per owner, the owners that
 * have items in a ring served one item at a time, and a hash table from
 * owner to queue. An owner's entry exists only while it has items waiting,
 * so a client that goes away leaves nothing behind here.
 *
 * Ownership: an item belongs to its submitter until pool_submit(), to the
 * pool until complete() is called (or pool_cancel() returns 1), and to
 * complete() after that.
 */

#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "pool.h"
#include "xmalloc.h"

#define POOL_HASH_FIRST	64	/* buckets at first; doubled as owners come */

/* One owner's items waiting on the loop, oldest first. */
struct pool_owner {
	const void		*key;
	struct pool_list	 items;
	TAILQ_ENTRY(pool_owner)	 ring;		/* in pool_ring */
	struct pool_owner	*hnext;		/* in its hash bucket */
};

static TAILQ_HEAD(, pool_owner)	 pool_ring = TAILQ_HEAD_INITIALIZER(pool_ring);
static struct pool_owner	**pool_hash;	/* loop only */
static size_t			 pool_hash_size;
static size_t			 pool_nowners;
static uint64_t			 pool_npending;		/* loop only */
static uint64_t			 pool_nhanded;		/* loop only */

static struct handoff	 pool_workers = HANDOFF_INITIALIZER(pool_workers);

/* The bucket of an owner key (pool_hash_size is a power of two). */
static size_t
pool_bucket(const void *key, size_t size)
{
	uint64_t	h = (uint64_t)(uintptr_t)key *
			    UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h >> 32) & (size - 1);
}

/* Twice the buckets, when there are more owners than buckets. */
static void
pool_hash_grow(void)
{
	struct pool_owner	**old = pool_hash, *o, *next;
	size_t			  i, oldsize = pool_hash_size, b;

	pool_hash_size = oldsize == 0 ? POOL_HASH_FIRST : oldsize * 2;
	pool_hash = xcalloc(pool_hash_size, sizeof *pool_hash);
	for (i = 0; i < oldsize; i++) {
		for (o = old[i]; o != NULL; o = next) {
			next = o->hnext;
			b = pool_bucket(o->key, pool_hash_size);
			o->hnext = pool_hash[b];
			pool_hash[b] = o;
		}
	}
	free(old);
}

/* The queue of owner key, made (at the end of the ring) if it has none. */
static struct pool_owner *
pool_owner_get(const void *key)
{
	struct pool_owner	*o;
	size_t			 b;

	if (pool_hash_size != 0) {
		b = pool_bucket(key, pool_hash_size);
		for (o = pool_hash[b]; o != NULL; o = o->hnext) {
			if (o->key == key)
				return o;
		}
	}
	if (pool_nowners >= pool_hash_size)
		pool_hash_grow();
	o = xcalloc(1, sizeof *o);
	o->key = key;
	TAILQ_INIT(&o->items);
	b = pool_bucket(key, pool_hash_size);
	o->hnext = pool_hash[b];
	pool_hash[b] = o;
	pool_nowners++;
	TAILQ_INSERT_TAIL(&pool_ring, o, ring);
	return o;
}

/* An owner's queue is empty: forget it. */
static void
pool_owner_drop(struct pool_owner *o)
{
	struct pool_owner	**p;

	for (p = &pool_hash[pool_bucket(o->key, pool_hash_size)]; *p != o;
	    p = &(*p)->hnext)
		;
	*p = o->hnext;
	pool_nowners--;
	TAILQ_REMOVE(&pool_ring, o, ring);
	free(o);
}

/* Take w out of its owner's queue. */
static void
pool_unqueue(struct pool_work *w)
{
	struct pool_owner	*o = w->owner;

	TAILQ_REMOVE(&o->items, w, entry);
	w->owner = NULL;
	pool_npending--;
	if (TAILQ_EMPTY(&o->items))
		pool_owner_drop(o);
}

/*
 * Move items to the workers while there is room: the first owner of the
 * ring gives its oldest item and goes to the end of the ring.
 */
static void
pool_feed(void)
{
	struct pool_list	 list = TAILQ_HEAD_INITIALIZER(list);
	struct pool_owner	*o;
	struct pool_work	*w;
	uint64_t		 room, n = 0;

	room = (uint64_t)pool_workers.nthreads * POOL_HANDOFF;
	while (pool_nhanded < room && (o = TAILQ_FIRST(&pool_ring)) != NULL) {
		w = TAILQ_FIRST(&o->items);
		if (TAILQ_NEXT(w, entry) != NULL) {
			TAILQ_REMOVE(&pool_ring, o, ring);
			TAILQ_INSERT_TAIL(&pool_ring, o, ring);
		}
		pool_unqueue(w);
		w->state = POOL_HANDED;
		TAILQ_INSERT_TAIL(&list, w, entry);
		pool_nhanded++;
		n++;
	}
	handoff_push(&pool_workers, &list, n);
}

/* Take back what the workers finished and complete it, on the loop. */
static void
pool_collect(void)
{
	pool_nhanded -= handoff_collect(&pool_workers);
	pool_feed();
}

/* Start threads workers whose results come back on base's loop. */
int
pool_init(struct event_base *base, unsigned threads, char **cause)
{
	return handoff_start(&pool_workers, base, threads, pool_collect,
	    "worker thread", cause);
}

/*
 * Stop and join the workers; items that never ran, and those that come
 * back, are completed as abandoned.
 */
void
pool_free(void)
{
	struct pool_owner	*o;
	struct pool_work	*w;

	handoff_stop(&pool_workers);
	/* No worker is left: what never reached one is abandoned too. */
	while ((o = TAILQ_FIRST(&pool_ring)) != NULL) {
		w = TAILQ_FIRST(&o->items);
		pool_unqueue(w);
		w->state = POOL_DONE;
		w->complete(w, 1);
	}
	free(pool_hash);
	pool_hash = NULL;
	pool_hash_size = 0;
	pool_npending = pool_nhanded = 0;
}

/*
 * Queue an item for owner (the client it works for: any pointer that
 * stays the same for that client, compared and never followed); its
 * complete() is called later, on the loop.
 */
void
pool_submit(struct pool_work *w, const void *owner)
{
	w->state = POOL_PENDING;
	w->abandoned = 0;
	w->owner = pool_owner_get(owner);
	TAILQ_INSERT_TAIL(&w->owner->items, w, entry);
	pool_npending++;
	pool_feed();
}

/*
 * Withdraw an item. Returns 1 if it had not reached a worker: it is
 * unlinked, complete() will not be called, and the caller owns it again.
 * Returns 0 if a worker has it: it is marked abandoned and complete() will
 * be called with abandoned set when it comes back.
 */
int
pool_cancel(struct pool_work *w)
{
	if (w->state == POOL_PENDING) {
		pool_unqueue(w);
		w->state = POOL_DONE;
		return 1;
	}
	w->abandoned = 1;
	return 0;
}

/* Current pool figures for status. */
void
pool_stats(struct pool_stats *ps)
{
	uint64_t	queued;

	ps->threads = pool_workers.nthreads;
	handoff_counts(&pool_workers, &queued, &ps->busy);
	ps->queued = pool_npending + queued;
}

/* The number of worker threads. Loop thread. */
unsigned
pool_nworkers(void)
{
	return pool_workers.nthreads;
}
