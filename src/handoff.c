/*
 * A hand-off between the loop and threads of its own; see handoff.h.
 */

#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "xmalloc.h"

static void *
handoff_main(void *arg)
{
	struct handoff		*h = arg;
	struct pool_work	*w;
	int			 wake;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (TAILQ_EMPTY(&h->queue) && !h->stopping)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->stopping)
			break;
		w = TAILQ_FIRST(&h->queue);
		TAILQ_REMOVE(&h->queue, w, entry);
		h->nqueued--;
		h->busy++;
		pthread_mutex_unlock(&h->lock);

		w->run(w);

		pthread_mutex_lock(&h->lock);
		h->busy--;
		wake = TAILQ_EMPTY(&h->done);
		TAILQ_INSERT_TAIL(&h->done, w, entry);
		if (wake)
			wakeup_kick(&h->wakeup);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/*
 * Start n threads; collect() is called on base's loop when items have
 * come back (it calls handoff_collect). what names the threads in
 * an error: "worker thread", "the parse thread". 0, or -1 with *cause set
 * (the threads started so far run until handoff_stop).
 */
int
handoff_start(struct handoff *h, struct event_base *base, unsigned n,
    void (*collect)(void), const char *what, char **cause)
{
	unsigned	i;
	int		error;

	if (wakeup_open(&h->wakeup, base, collect, cause) == -1)
		return -1;
	h->threads = xcalloc(n, sizeof *h->threads);
	for (i = 0; i < n; i++) {
		error = pthread_create(&h->threads[i], NULL, handoff_main, h);
		if (error != 0) {
			*cause = xasprintf("cannot start %s %u: %s", what,
			    i + 1, strerror(error));
			return -1;
		}
		h->nthreads++;
	}
	return 0;
}

/* Hand the n items of list to the threads; list is left empty. */
void
handoff_push(struct handoff *h, struct pool_list *list, uint64_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&h->lock);
	TAILQ_CONCAT(&h->queue, list, entry);
	h->nqueued += n;
	if (n == 1)
		pthread_cond_signal(&h->cond);
	else
		pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Complete each item of list, in order; their number. */
static uint64_t
handoff_complete(struct pool_list *list, int abandoned)
{
	struct pool_work	*w;
	uint64_t		 n = 0;

	while ((w = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, w, entry);
		w->state = POOL_DONE;
		w->complete(w, abandoned || w->abandoned);
		n++;
	}
	return n;
}

/*
 * On the loop (from the collect callback): complete what the threads have
 * finished, abandoned as each item says. Returns how many.
 */
uint64_t
handoff_collect(struct handoff *h)
{
	struct pool_list	 done = TAILQ_HEAD_INITIALIZER(done);

	pthread_mutex_lock(&h->lock);
	TAILQ_CONCAT(&done, &h->done, entry);
	pthread_mutex_unlock(&h->lock);
	return handoff_complete(&done, 0);
}

/*
 * Stop and join the threads (each finishes the item it runs: a thread
 * cannot be stopped inside a read or a parse), then complete as abandoned
 * what they finished and, after it, what they never ran. The hand-off can
 * be started again.
 */
void
handoff_stop(struct handoff *h)
{
	unsigned	i;

	pthread_mutex_lock(&h->lock);
	h->stopping = 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	for (i = 0; i < h->nthreads; i++)
		pthread_join(h->threads[i], NULL);
	free(h->threads);
	h->threads = NULL;
	h->nthreads = 0;

	/* No thread is left: the locked lists are the loop's now. */
	handoff_complete(&h->done, 1);
	handoff_complete(&h->queue, 1);
	h->nqueued = h->busy = 0;
	h->stopping = 0;
	wakeup_close(&h->wakeup);
}

/* How many items wait for a thread, and how many are running. */
void
handoff_counts(struct handoff *h, uint64_t *queued, uint64_t *busy)
{
	pthread_mutex_lock(&h->lock);
	*queued = h->nqueued;
	*busy = h->busy;
	pthread_mutex_unlock(&h->lock);
}
