/*
 * Worker threads. Hand-over to workers: a mutex-protected queue and a
 * condition variable. Hand-back to the loop: a mutex-protected done list
 * and an eventfd that libevent watches; a worker writes the eventfd only
 * when the done list was empty, so a burst of completions costs one wakeup.
 *
 * Ownership: an item belongs to its submitter until pool_submit(), to the
 * pool until complete() is called (or pool_cancel() returns 1), and to
 * complete() after that.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"
#include "xmalloc.h"

enum {
	POOL_PENDING,	/* on the loop's FIFO */
	POOL_HANDED,	/* on the workers' queue, or running */
	POOL_DONE,	/* back on the loop */
};

TAILQ_HEAD(pool_list, pool_work);

static struct pool_list	 pool_pending = TAILQ_HEAD_INITIALIZER(pool_pending);
static uint64_t		 pool_npending;		/* loop only */
static uint64_t		 pool_nhanded;		/* loop only */

static pthread_mutex_t	 pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 pool_cond = PTHREAD_COND_INITIALIZER;
static struct pool_list	 pool_queue = TAILQ_HEAD_INITIALIZER(pool_queue);
static struct pool_list	 pool_done = TAILQ_HEAD_INITIALIZER(pool_done);
static uint64_t		 pool_nqueued;		/* under pool_lock */
static uint64_t		 pool_busy;		/* under pool_lock */
static int		 pool_stopping;		/* under pool_lock */

static pthread_t	*pool_threads;
static unsigned		 pool_nthreads;
static int		 pool_efd = -1;
static struct event	*pool_ev;

static void *
pool_worker(void *arg)
{
	struct pool_work	*w;
	uint64_t		 one = 1;
	int			 wake;
	ssize_t			 n;

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
		if (wake) {
			/* An eventfd write of 1 cannot block or fail short. */
			n = write(pool_efd, &one, sizeof one);
			(void)n;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/* Move items from the loop's FIFO to the workers while there is room. */
static void
pool_feed(void)
{
	struct pool_work	*w;
	uint64_t		 room, n = 0;

	room = (uint64_t)pool_nthreads * POOL_HANDOFF;
	if (pool_nhanded >= room || TAILQ_EMPTY(&pool_pending))
		return;
	pthread_mutex_lock(&pool_lock);
	while (pool_nhanded < room &&
	    (w = TAILQ_FIRST(&pool_pending)) != NULL) {
		TAILQ_REMOVE(&pool_pending, w, entry);
		pool_npending--;
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

static void
pool_wakeup(evutil_socket_t fd, short events, void *arg)
{
	uint64_t	count;
	ssize_t		n;

	(void)events;
	(void)arg;
	n = read(fd, &count, sizeof count);
	(void)n;
	pool_collect();
}

/* Start threads workers whose results come back on base's loop. */
int
pool_init(struct event_base *base, unsigned threads, char **cause)
{
	unsigned	i;
	int		error;

	if ((pool_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		*cause = xasprintf("eventfd: %s", strerror(errno));
		return -1;
	}
	pool_ev = event_new(base, pool_efd, EV_READ | EV_PERSIST, pool_wakeup,
	    NULL);
	if (pool_ev == NULL || event_add(pool_ev, NULL) == -1)
		fatalx("%s: cannot watch the eventfd", __func__);
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
	TAILQ_CONCAT(&pool_pending, &pool_queue, entry);
	TAILQ_CONCAT(&pool_pending, &pool_done, entry);
	while ((w = TAILQ_FIRST(&pool_pending)) != NULL) {
		TAILQ_REMOVE(&pool_pending, w, entry);
		w->state = POOL_DONE;
		w->complete(w, 1);
	}
	pool_npending = pool_nhanded = pool_nqueued = 0;
	if (pool_ev != NULL) {
		event_free(pool_ev);
		pool_ev = NULL;
	}
	if (pool_efd != -1) {
		close(pool_efd);
		pool_efd = -1;
	}
	pool_stopping = 0;
}

/* Queue an item; its complete() is called later, on the loop. */
void
pool_submit(struct pool_work *w)
{
	w->state = POOL_PENDING;
	w->abandoned = 0;
	TAILQ_INSERT_TAIL(&pool_pending, w, entry);
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
		TAILQ_REMOVE(&pool_pending, w, entry);
		pool_npending--;
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
