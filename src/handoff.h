/*
 * A hand-off: threads fed from one queue, handing their items back to the
 * loop. Hand-over is a mutex-protected queue and a condition variable;
 * hand-back is a mutex-protected done list and a wakeup (wakeup.h) that a
 * thread kicks only when the done list was empty, so a burst of results
 * costs one wakeup. The worker pool (pool.c) and the parse thread
 * (parser.c) are each one; what they do before the hand-over (the pool's
 * round-robin between owners) is theirs.
 *
 * Items are struct pool_work: a thread calls run() and touches nothing
 * else of the item; back on the loop, complete() is called with the
 * item's abandoned flag (always set when the hand-off stops), and owns the
 * item from then on.
 */
#ifndef GATHERD_HANDOFF_H
#define GATHERD_HANDOFF_H

#include <pthread.h>
#include <stdint.h>

#include "pool.h"
#include "wakeup.h"

struct handoff {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct pool_list	 queue;		/* under lock */
	struct pool_list	 done;		/* under lock */
	uint64_t		 nqueued;	/* under lock */
	uint64_t		 busy;		/* under lock: running */
	int			 stopping;	/* under lock */
	pthread_t		*threads;	/* owned */
	unsigned		 nthreads;	/* started */
	struct wakeup		 wakeup;
};

#define HANDOFF_INITIALIZER(h) {					\
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,		\
	TAILQ_HEAD_INITIALIZER((h).queue),				\
	TAILQ_HEAD_INITIALIZER((h).done), 0, 0, 0, NULL, 0,		\
	WAKEUP_INITIALIZER						\
}

int	handoff_start(struct handoff *, struct event_base *, unsigned,
	    void (*)(void), const char *, char **);
void	handoff_push(struct handoff *, struct pool_list *, uint64_t);
uint64_t handoff_collect(struct handoff *);
void	handoff_stop(struct handoff *);
void	handoff_counts(struct handoff *, uint64_t *, uint64_t *);

#endif
