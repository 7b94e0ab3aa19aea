/*
 * The parse thread (parser.h). Hand-over: a mutex-protected queue and a
 * condition variable. Hand-back: a mutex-protected done list and an
 * eventfd the loop watches, written only when the done list was empty.
 *
 * One thread is enough: each connection has at most one line in the
 * parser at a time (it reads no further until that line is answered), so
 * the queue takes the connections in turn, and small lines never come
 * here at all.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "parser.h"
#include "wakeup.h"
#include "xmalloc.h"

TAILQ_HEAD(parser_list, parser_work);

static pthread_mutex_t		 parser_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 parser_cond = PTHREAD_COND_INITIALIZER;
static struct parser_list	 parser_queue =
				    TAILQ_HEAD_INITIALIZER(parser_queue);
static struct parser_list	 parser_done =
				    TAILQ_HEAD_INITIALIZER(parser_done);
static int			 parser_stopping;	/* under parser_lock */

static pthread_t		 parser_thread;
static int			 parser_started;
static struct wakeup		 parser_wakeup = WAKEUP_INITIALIZER;

static void *
parser_main(void *arg)
{
	struct parser_work	*w;
	int			 wake;

	(void)arg;
	pthread_mutex_lock(&parser_lock);
	for (;;) {
		while (TAILQ_EMPTY(&parser_queue) && !parser_stopping)
			pthread_cond_wait(&parser_cond, &parser_lock);
		if (parser_stopping)
			break;
		w = TAILQ_FIRST(&parser_queue);
		TAILQ_REMOVE(&parser_queue, w, entry);
		pthread_mutex_unlock(&parser_lock);

		w->run(w);

		pthread_mutex_lock(&parser_lock);
		wake = TAILQ_EMPTY(&parser_done);
		TAILQ_INSERT_TAIL(&parser_done, w, entry);
		if (wake)
			wakeup_kick(&parser_wakeup);
	}
	pthread_mutex_unlock(&parser_lock);
	return NULL;
}

/* Complete, on the loop, what the parse thread has finished. */
static void
parser_collect(void)
{
	struct parser_list	 done = TAILQ_HEAD_INITIALIZER(done);
	struct parser_work	*w;

	pthread_mutex_lock(&parser_lock);
	TAILQ_CONCAT(&done, &parser_done, entry);
	pthread_mutex_unlock(&parser_lock);
	while ((w = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, w, entry);
		w->complete(w, 0);
	}
}

/* Start the parse thread; its results come back on base's loop. */
int
parser_init(struct event_base *base, char **cause)
{
	int	error;

	if (wakeup_open(&parser_wakeup, base, parser_collect, cause) == -1)
		return -1;
	if ((error = pthread_create(&parser_thread, NULL, parser_main,
	    NULL)) != 0) {
		*cause = xasprintf("cannot start the parse thread: %s",
		    strerror(error));
		return -1;
	}
	parser_started = 1;
	return 0;
}

/*
 * Stop the parse thread, waiting for the parse it is running (a thread
 * cannot be stopped inside jansson); what it finished and what it never
 * ran are completed here as abandoned. On the loop thread, at exit.
 */
void
parser_free(void)
{
	struct parser_work	*w;

	pthread_mutex_lock(&parser_lock);
	parser_stopping = 1;
	pthread_cond_broadcast(&parser_cond);
	pthread_mutex_unlock(&parser_lock);
	if (parser_started) {
		pthread_join(parser_thread, NULL);
		parser_started = 0;
	}

	/* No thread is left: the locked lists are ours. */
	TAILQ_CONCAT(&parser_done, &parser_queue, entry);
	while ((w = TAILQ_FIRST(&parser_done)) != NULL) {
		TAILQ_REMOVE(&parser_done, w, entry);
		w->complete(w, 1);
	}
	wakeup_close(&parser_wakeup);
	parser_stopping = 0;
}

/* Queue a parse; its complete() is called later, on the loop. */
void
parser_submit(struct parser_work *w)
{
	pthread_mutex_lock(&parser_lock);
	TAILQ_INSERT_TAIL(&parser_queue, w, entry);
	pthread_cond_signal(&parser_cond);
	pthread_mutex_unlock(&parser_lock);
}

/* A tree to drop on the parse thread (parser_release). */
struct parser_drop {
	struct parser_work	 work;
	json_t			*v;		/* a reference */
};

static void
parser_drop_run(struct parser_work *w)
{
	struct parser_drop	*d = (struct parser_drop *)w;

	json_decref(d->v);
	d->v = NULL;
}

static void
parser_drop_done(struct parser_work *w, int abandoned)
{
	struct parser_drop	*d = (struct parser_drop *)w;

	(void)abandoned;
	json_decref(d->v);	/* not run: at exit, here */
	free(d);
}

/*
 * Drop a reference to v, a tree a big request may have made (its id, a
 * cancel's target): the last reference to an array or object is dropped
 * on the parse thread, since freeing 800,000 members takes the loop as
 * long as a parse would; anything else is dropped here. jansson's
 * reference counts are atomic, and only the loop holds references to v.
 */
void
parser_release(json_t *v)
{
	struct parser_drop	*d;

	if (v == NULL || !parser_started || v->refcount > 1 ||
	    (!json_is_array(v) && !json_is_object(v))) {
		json_decref(v);
		return;
	}
	d = xcalloc(1, sizeof *d);
	d->work.run = parser_drop_run;
	d->work.complete = parser_drop_done;
	d->v = v;
	parser_submit(&d->work);
}
