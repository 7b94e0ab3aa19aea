/*
 * The worker thread pool for blocking work (file reads, SQLite). The loop
 * thread submits work items; a worker runs an item's run() and hands it
 * back; the loop thread then calls its complete(). Only run() executes on a
 * worker, and it touches only its own item.
 *
 * Items wait first on the loop's side, in one queue per owner (the client
 * connection a job works for), and are handed to the workers round-robin
 * between owners: a client with a thousand queued queries delays another
 * client's one read by at most one item of each client ahead of it, not by
 * its thousand. At most POOL_HANDOFF items per thread are handed to the
 * workers' shared queue at a time, so the queue the workers lock is
 * bounded, and an item cancelled before a worker took it is simply
 * unlinked by the loop, never run.
 */
#ifndef GATHERD_POOL_H
#define GATHERD_POOL_H

#include <stdint.h>
#include <sys/queue.h>

struct event_base;
struct pool_owner;

#define POOL_HANDOFF	2	/* items handed to workers, per thread */

/* Where a pool_work is: its state. */
enum {
	POOL_PENDING,	/* in its owner's queue, on the loop */
	POOL_HANDED,	/* on the threads' queue, or running */
	POOL_DONE,	/* back on the loop */
};

struct pool_work {
	TAILQ_ENTRY(pool_work)	 entry;
	/* On a worker thread: the blocking part. */
	void			(*run)(struct pool_work *);
	/*
	 * On the loop thread, once, after run(): abandoned is 1 when
	 * pool_cancel() was called while a worker had the item, and the
	 * result must be discarded. complete() owns the item from then on.
	 */
	void			(*complete)(struct pool_work *, int abandoned);
	struct pool_owner	*owner;		/* loop only, while pending */
	uint8_t			 state;		/* loop only */
	uint8_t			 abandoned;	/* loop only */
};

TAILQ_HEAD(pool_list, pool_work);

struct pool_stats {
	uint64_t	threads;
	uint64_t	busy;
	uint64_t	queued;
};

int	pool_init(struct event_base *, unsigned, char **);
void	pool_free(void);
void	pool_submit(struct pool_work *, const void *);
int	pool_cancel(struct pool_work *);
void	pool_stats(struct pool_stats *);
unsigned pool_nworkers(void);

#endif
