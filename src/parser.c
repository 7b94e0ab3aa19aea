/*
 * The parse thread (parser.h): a hand-off (handoff.h) of one thread.
 *
 * One thread is enough: each connection has at most one line in the
 * parser at a time (it reads no further until that line is answered), so
 * the queue takes the connections in turn, and small lines never come
 * here at all.
 */

#include <stdlib.h>

#include <jansson.h>

#include "handoff.h"
#include "parser.h"
#include "xmalloc.h"

static struct handoff	 parser_thread = HANDOFF_INITIALIZER(parser_thread);

/* Complete, on the loop, what the parse thread has finished. */
static void
parser_collect(void)
{
	handoff_collect(&parser_thread);
}

/* Start the parse thread; its results come back on base's loop. */
int
parser_init(struct event_base *base, char **cause)
{
	return handoff_start(&parser_thread, base, 1, parser_collect,
	    "the parse thread", cause);
}

/*
 * Stop the parse thread, waiting for the parse it is running (a thread
 * cannot be stopped inside a parse); what it finished and what it never
 * ran are completed here as abandoned. On the loop thread, at exit.
 */
void
parser_free(void)
{
	handoff_stop(&parser_thread);
}

/* Queue a parse; its complete() is called later, on the loop. */
void
parser_submit(struct pool_work *w)
{
	struct pool_list	 one = TAILQ_HEAD_INITIALIZER(one);

	w->abandoned = 0;
	TAILQ_INSERT_TAIL(&one, w, entry);
	handoff_push(&parser_thread, &one, 1);
}

/* A tree to drop on the parse thread (parser_release). */
struct parser_drop {
	struct pool_work	 work;
	json_t			*v;		/* a reference */
};

static void
parser_drop_run(struct pool_work *w)
{
	struct parser_drop	*d = (struct parser_drop *)w;

	json_decref(d->v);
	d->v = NULL;
}

static void
parser_drop_done(struct pool_work *w, int abandoned)
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
 * reference counts are atomic, and one thread holds the references to v:
 * the loop, or the parse thread dropping a request it gave up on.
 */
void
parser_release(json_t *v)
{
	struct parser_drop	*d;

	if (v == NULL || parser_thread.nthreads == 0 || v->refcount > 1 ||
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
