/*
 * Worker threads. Hand-over to workers: a mutex-protected queue and a
 * condition variable. Hand-back to the loop: a mutex-protected done list
 * and an eventfd that libevent watches; a worker writes the eventfd only
 * when the done list was empty, so a burst of completions costs one wakeup.
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

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "wakeup.h"
#include "xmalloc.h"

#define POOL_HASH_FIRST	64	/* buckets at first; doubled as owners come */

enum {
	POOL_PENDING,	/* in its owner's queue, on the loop */
	POOL_HANDED,	/* on the workers' queue, or running */
	POOL_DONE,	/* back on the loop */
};

TAILQ_HEAD(pool_list, pool_work);

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

static pthread_mutex_t	 pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 pool_cond = PTHREAD_COND_INITIALIZER;
static struct pool_list	 pool_queue = TAILQ_HEAD_INITIALIZER(pool_queue);
static struct pool_list	 pool_done = TAILQ_HEAD_INITIALIZER(pool_done);
static uint64_t		 pool_nqueued;		/* under pool_lock */
static uint64_t		 pool_busy;		/* under pool_lock */
static int		 pool_stopping;		/* under pool_lock */

static pthread_t	*pool_threads;
static unsigned		 pool_nthreads;
static struct wakeup	 pool_wakeup = WAKEUP_INITIALIZER;

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

static void *
pool_worker(void *arg)
{
	struct pool_work	*w;
	int			 wake;

	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		while (TAILQ_EMPTY(&pool_queue) && !pool_stopping)
			pthread_cond_wait(&pool_cond, &pool_lock);
		if (pool_stopping)
			break;
		w = TAILQ_FIRST(&pool_queue);
		TAILQ_REMOVE(&pool_queue, w, entry);
		pool_nqueued--;
		pool_busy++;
		pthread_mutex_unlock(&pool_lock);

		w->run(w);

		pthread_mutex_lock(&pool_lock);
		pool_busy--;
		wake = TAILQ_EMPTY(&pool_done);
		TAILQ_INSERT_TAIL(&pool_done, w, entry);
		if (wake)
			wakeup_kick(&pool_wakeup);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/*
 * Move items to the workers while there is room: the first owner of the
 * ring gives its oldest item and goes to the end of the ring.
 */
static void
pool_feed(void)
{
	struct pool_owner	*o;
	struct pool_work	*w;
	uint64_t		 room, n = 0;

	room = (uint64_t)pool_nthreads * POOL_HANDOFF;
	if (pool_nhanded >= room || TAILQ_EMPTY(&pool_ring))
		return;
	pthread_mutex_lock(&pool_lock);
	while (pool_nhanded < room && (o = TAILQ_FIRST(&pool_ring)) != NULL) {
		w = TAILQ_FIRST(&o->items);
		if (TAILQ_NEXT(w, entry) != NULL) {
			TAILQ_REMOVE(&pool_ring, o, ring);
			TAILQ_INSERT_TAIL(&pool_ring, o, ring);
		}
		pool_unqueue(w);
		w->state = POOL_HANDED;
		TAILQ_INSERT_TAIL(&pool_queue, w, entry);
		pool_nqueued++;
		pool_nhanded++;
		n++;
	}
	if (n == 1)
		pthread_cond_signal(&pool_cond);
	else if (n > 1)
		pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

/* Take back what the workers finished and complete it, on the loop. */
static void
pool_collect(void)
{
	struct pool_list	 done = TAILQ_HEAD_INITIALIZER(done);
	struct pool_work	*w;

	pthread_mutex_lock(&pool_lock);
	TAILQ_CONCAT(&done, &pool_done, entry);
	pthread_mutex_unlock(&pool_lock);
	while ((w = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, w, entry);
		pool_nhanded--;
		w->state = POOL_DONE;
		w->complete(w, w->abandoned);
	}
	pool_feed();
}

/* Start threads workers whose results come back on base's loop. */
int
pool_init(struct event_base *base, unsigned threads, char **cause)
{
	unsigned	i;
	int		error;

	if (wakeup_open(&pool_wakeup, base, pool_collect, cause) == -1)
		return -1;
	pool_threads = xcalloc(threads, sizeof *pool_threads);
	for (i = 0; i < threads; i++) {
		error = pthread_create(&pool_threads[i], NULL, pool_worker,
		    NULL);
		if (error != 0) {
			*cause = xasprintf("cannot start worker thread %u: %s",
			    i + 1, strerror(error));
			return -1;
		}
		pool_nthreads++;
	}
	return 0;
}

/*
 * Stop and join the workers; items that never ran, and those that come
 * back, are completed as abandoned.
 */
void
pool_free(void)
{
	struct pool_list	 left = TAILQ_HEAD_INITIALIZER(left);
	struct pool_owner	*o;
	struct pool_work	*w;
	unsigned		 i;

	pthread_mutex_lock(&pool_lock);
	pool_stopping = 1;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	for (i = 0; i < pool_nthreads; i++)
		pthread_join(pool_threads[i], NULL);
	free(pool_threads);
	pool_threads = NULL;
	pool_nthreads = 0;

	/* No worker is left: the locked lists are the loop's now. */
	while ((o = TAILQ_FIRST(&pool_ring)) != NULL) {
		while ((w = TAILQ_FIRST(&o->items)) != NULL) {
			TAILQ_REMOVE(&o->items, w, entry);
			w->owner = NULL;
			TAILQ_INSERT_TAIL(&left, w, entry);
		}
		pool_owner_drop(o);
	}
	TAILQ_CONCAT(&left, &pool_queue, entry);
	TAILQ_CONCAT(&left, &pool_done, entry);
	while ((w = TAILQ_FIRST(&left)) != NULL) {
		TAILQ_REMOVE(&left, w, entry);
		w->state = POOL_DONE;
		w->complete(w, 1);
	}
	free(pool_hash);
	pool_hash = NULL;
	pool_hash_size = 0;
	pool_npending = pool_nhanded = pool_nqueued = 0;
	wakeup_close(&pool_wakeup);
	pool_stopping = 0;
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
	ps->threads = pool_nthreads;
	pthread_mutex_lock(&pool_lock);
	ps->busy = pool_busy;
	ps->queued = pool_npending + pool_nqueued;
	pthread_mutex_unlock(&pool_lock);
}

/* The number of worker threads. Loop thread. */
unsigned
pool_nworkers(void)
{
	return pool_nthreads;
}
