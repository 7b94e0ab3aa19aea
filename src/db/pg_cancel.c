/*
 * PQcancel() on threads of their own; see pg_cancel.h. The loop makes the
 * PGcancel (PQgetCancel copies what it needs from the connection, so the
 * thread never touches the PGconn) and starts a thread; the thread sends
 * the request and puts the item on a done list, waking the loop through
 * an eventfd; the loop joins the thread and calls back.
 *
 * Ownership: an item is the loop's but for its PGcancel, ok and err,
 * which are the thread's until it is on the done list (the mutex orders
 * the hand-over). An item whose requester went away (pg_cancel_forget) is
 * still joined and freed; only the callback is skipped.
 */

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "db/pg_cancel.h"
#include "log.h"
#include "wakeup.h"
#include "xmalloc.h"

#define PG_CANCEL_STACK	(256 * 1024)	/* PQcancel needs little */

struct pg_cancel {
	PGcancel		*pc;		/* owned; the thread's while running */
	pthread_t		 thread;
	pg_cancel_done		 done;		/* NULL once forgotten */
	void			*arg;
	int			 ok;		/* the thread's result */
	char			 err[256];
	TAILQ_ENTRY(pg_cancel)	 entry;		/* pg_cancel_all, loop only */
	TAILQ_ENTRY(pg_cancel)	 finished;	/* pg_cancel_finished, locked */
};

static TAILQ_HEAD(, pg_cancel)	pg_cancel_all =
    TAILQ_HEAD_INITIALIZER(pg_cancel_all);
static unsigned			pg_cancel_n;	/* loop only */

static pthread_mutex_t		pg_cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, pg_cancel)	pg_cancel_finished =
    TAILQ_HEAD_INITIALIZER(pg_cancel_finished);

static struct wakeup		pg_cancel_wakeup = WAKEUP_INITIALIZER;

/* On the item's own thread: send the request, then hand the item back. */
static void *
pg_cancel_thread(void *arg)
{
	struct pg_cancel	*k = arg;
	int			 wake;

	k->ok = PQcancel(k->pc, k->err, sizeof k->err);
	pthread_mutex_lock(&pg_cancel_lock);
	wake = TAILQ_EMPTY(&pg_cancel_finished);
	TAILQ_INSERT_TAIL(&pg_cancel_finished, k, finished);
	pthread_mutex_unlock(&pg_cancel_lock);
	if (wake)
		wakeup_kick(&pg_cancel_wakeup);
	return NULL;
}

/* Join a finished thread and free its item. */
static void
pg_cancel_reap(struct pg_cancel *k)
{
	pthread_join(k->thread, NULL);
	TAILQ_REMOVE(&pg_cancel_all, k, entry);
	pg_cancel_n--;
	PQfreeCancel(k->pc);
	free(k);
}

/* The loop: finished requests, joined, then their callbacks. */
static void
pg_cancel_collect(void)
{
	TAILQ_HEAD(, pg_cancel)	 list = TAILQ_HEAD_INITIALIZER(list);
	struct pg_cancel	*k;
	pg_cancel_done		 done;
	void			*darg;
	char			 err[sizeof k->err];
	int			 ok;

	pthread_mutex_lock(&pg_cancel_lock);
	TAILQ_CONCAT(&list, &pg_cancel_finished, finished);
	pthread_mutex_unlock(&pg_cancel_lock);
	while ((k = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, k, finished);
		done = k->done;
		darg = k->arg;
		ok = k->ok;
		memcpy(err, k->err, sizeof err);
		pg_cancel_reap(k);
		/* The callback may start another request. */
		if (done != NULL)
			done(darg, ok, err);
	}
}

/* Watch for finished requests on base's loop. */
void
pg_cancel_init(struct event_base *base)
{
	char	*cause;

	if (wakeup_open(&pg_cancel_wakeup, base, pg_cancel_collect,
	    &cause) == -1)
		fatalx("%s: %s", __func__, cause);
}

/*
 * Ask the server of pg to cancel what it runs now; done(arg, ...) is
 * called on the loop when the request has been sent (or failed). Returns
 * NULL if no request could be started (then done is never called).
 */
struct pg_cancel *
pg_cancel_start(PGconn *pg, pg_cancel_done done, void *arg)
{
	struct pg_cancel	*k;
	pthread_attr_t		 attr;
	sigset_t		 all, old;
	int			 error;

	k = xcalloc(1, sizeof *k);
	if ((k->pc = PQgetCancel(pg)) == NULL) {
		free(k);
		return NULL;
	}
	k->done = done;
	k->arg = arg;
	/* Signals are the loop's: the thread starts with them blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PG_CANCEL_STACK);
	error = pthread_create(&k->thread, &attr, pg_cancel_thread, k);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (error != 0) {
		log_warnx("%s: cannot start a thread: %s", __func__,
		    strerror(error));
		PQfreeCancel(k->pc);
		free(k);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&pg_cancel_all, k, entry);
	pg_cancel_n++;
	return k;
}

/* The requester is gone: the request runs on, its callback is dropped. */
void
pg_cancel_forget(struct pg_cancel *k)
{
	k->done = NULL;
	k->arg = NULL;
}

/* How many requests are being sent, for status and tests. */
unsigned
pg_cancel_running(void)
{
	return pg_cancel_n;
}

/* At exit: wait for every request to be sent, and free them all. */
void
pg_cancel_free(void)
{
	struct pg_cancel	*k;

	while ((k = TAILQ_FIRST(&pg_cancel_all)) != NULL) {
		pthread_join(k->thread, NULL);
		/* Finished, it put itself on the done list. */
		pthread_mutex_lock(&pg_cancel_lock);
		TAILQ_REMOVE(&pg_cancel_finished, k, finished);
		pthread_mutex_unlock(&pg_cancel_lock);
		TAILQ_REMOVE(&pg_cancel_all, k, entry);
		pg_cancel_n--;
		PQfreeCancel(k->pc);
		free(k);
	}
	wakeup_close(&pg_cancel_wakeup);
}
