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

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>

#include "db/pg_cancel.h"
#include "log.h"
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

static int			pg_cancel_efd = -1;
static struct event		*pg_cancel_ev;

/* On the item's own thread: send the request, then hand the item back. */
static void *
pg_cancel_thread(void *arg)
{
	struct pg_cancel	*k = arg;
	uint64_t		 one = 1;
	ssize_t			 n;
	int			 wake;

	k->ok = PQcancel(k->pc, k->err, sizeof k->err);
	pthread_mutex_lock(&pg_cancel_lock);
	wake = TAILQ_EMPTY(&pg_cancel_finished);
	TAILQ_INSERT_TAIL(&pg_cancel_finished, k, finished);
	pthread_mutex_unlock(&pg_cancel_lock);
	if (wake) {
		/* An eventfd write of 1 cannot block or fail short. */
		n = write(pg_cancel_efd, &one, sizeof one);
		(void)n;
	}
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
pg_cancel_wakeup(evutil_socket_t fd, short events, void *arg)
{
	TAILQ_HEAD(, pg_cancel)	 list = TAILQ_HEAD_INITIALIZER(list);
	struct pg_cancel	*k;
	pg_cancel_done		 done;
	uint64_t		 count;
	ssize_t			 n;
	void			*darg;
	char			 err[sizeof k->err];
	int			 ok;

	(void)events;
	(void)arg;
	n = read(fd, &count, sizeof count);
	(void)n;
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
	if ((pg_cancel_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("%s: eventfd", __func__);
	pg_cancel_ev = event_new(base, pg_cancel_efd, EV_READ | EV_PERSIST,
	    pg_cancel_wakeup, NULL);
	if (pg_cancel_ev == NULL || event_add(pg_cancel_ev, NULL) == -1)
		fatalx("%s: cannot watch the eventfd", __func__);
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
	if (pg_cancel_ev != NULL) {
		event_free(pg_cancel_ev);
		pg_cancel_ev = NULL;
	}
	if (pg_cancel_efd != -1) {
		close(pg_cancel_efd);
		pg_cancel_efd = -1;
	}
}
