/*
 * The gather engine. A batch starts jobs up to its concurrency, starts the
 * next waiting job as each one finishes, and reports to its starter
 * (batch.h: charge, event, done) when none is left.
 *
 * Jobs may finish synchronously inside the loops here (a cancel, a job
 * whose start fails at once), which calls back into batch_job_done; so may
 * the starter's callbacks (an event callback that cancels the batch). depth
 * counts the loops and callbacks on the stack: while it is positive,
 * batch_job_done only records, and the outermost caller starts waiting
 * jobs and checks for the end. Finishing frees the batch, so it is always
 * the last thing done.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "job.h"
#include "jsonw.h"
#include "log.h"
#include "parser.h"
#include "snapshot.h"
#include "status.h"
#include "xmalloc.h"

static struct event_base	*batch_base;

/* At start-up: the loop that batches' deadlines run on. */
void
batch_init(struct event_base *base)
{
	batch_base = base;
}

/*
 * A new, empty batch with this id, whose text in replies is id_text (a
 * copy is made; NULL: the id's compact JSON), under snap (references are
 * taken; NULL for a nested batch, which takes its parent's when it
 * starts). May run on the parse thread.
 */
struct batch *
batch_new(json_t *id, const char *id_text, uint64_t recv_ns,
    struct snapshot *snap)
{
	struct batch	*b;

	b = xcalloc(1, sizeof *b);
	b->snap = snap != NULL ? snapshot_ref(snap) : NULL;
	b->id = json_incref(id != NULL ? id : json_null());
	b->id_text = id_text != NULL ? xstrdup(id_text) : jsonw_dump(b->id);
	b->recv_ns = recv_ns;
	b->timeout_ms = -1;
	b->winner = -1;
	b->decider = -1;
	return b;
}

/* Free a batch and its jobs. No job may be running. */
void
batch_free(struct batch *b)
{
	uint32_t	i;

	if (b == NULL)
		return;
	for (i = 0; i < b->njobs; i++)
		job_free(b->jobs[i]);
	free(b->jobs);
	if (b->deadline != NULL)
		event_free(b->deadline);
	parser_release(b->id);	/* a big request's id may be a big tree */
	free(b->id_text);
	snapshot_unref(b->snap);
	free(b);
}

/*
 * The mode a request names (a batch's or a group's "mode"), or -1. A
 * sequence is a type, not a mode a request can name.
 */
int
batch_mode_find(const char *name)
{
	static const char *const names[] = {
		[BATCH_ALL] = "all",
		[BATCH_FAIL_FAST] = "fail_fast",
		[BATCH_ANY] = "any",
		[BATCH_FIRST] = "first",
	};
	size_t	i;

	for (i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * Whether the batch succeeded, as its mode says: every job did (all,
 * fail_fast, sequence), one did (any), the first to finish did (first).
 */
int
batch_ok(const struct batch *b)
{
	switch (b->mode) {
	case BATCH_ANY:
		return b->winner >= 0;
	case BATCH_FIRST:
		return b->winner >= 0 &&
		    b->jobs[b->winner]->outcome == JOB_OK;
	default:
		return b->nok == b->njobs;
	}
}

/*
 * All jobs are done: count, tell the starter, free (a top-level batch;
 * a nested one is its owner's to free, and may be gone already when done
 * returns). depth stays raised, so a cancel from done, or later, finds
 * nothing to do.
 */
static void
batch_finish(struct batch *b)
{
	b->done_ns = clock_ns();
	b->depth++;
	if (b->parent != NULL) {
		b->done_cb(b, b->cb_arg);
		return;
	}
	status_batch_done(batch_ok(b));
	b->done_cb(b, b->cb_arg);
	batch_free(b);
}

/* Start waiting jobs while concurrency allows; finish when none is left. */
static void
batch_pump(struct batch *b)
{
	struct job	*job;
	uint64_t	 now = 0;

	b->depth++;
	while (!b->stopping && b->next < b->njobs &&
	    (b->concurrency == 0 || b->running < b->concurrency)) {
		job = b->jobs[b->next++];
		if (job->state != JOB_WAITING)
			continue;
		if (now == 0) {
			/*
			 * libevent arms timers from the time it cached at the
			 * top of this loop iteration, which may be long past
			 * (a big request was parsed since). Read the clock
			 * first, then refresh the cache, so no timer fires
			 * before start + ms: a sleep is never short.
			 */
			now = clock_ns();
			event_base_update_cache_time(batch_base);
		}
		b->running++;
		job_start(job, now);
	}
	b->depth--;
	if (b->depth == 0 && b->unfinished == 0)
		batch_finish(b);
}

/*
 * Stop every unfinished job with code and why. The jobs report back
 * through batch_job_done, which only records while depth is raised.
 */
static void
batch_stop_all(struct batch *b, enum err_code code, const char *why)
{
	uint32_t	i;

	b->stopping = 1;
	b->depth++;
	for (i = 0; i < b->njobs && b->unfinished > 0; i++)
		job_cancel(b->jobs[i], code, why);
	b->depth--;
}

/*
 * A job of the batch has finished (ran: it had started). Unless the
 * batch is being stopped already, it may decide the batch: the first
 * failure in fail_fast and sequence, the first success in any, the first
 * job to finish in first. The rest are then stopped.
 */
void
batch_job_done(struct batch *b, struct job *job, int ran)
{
	char		 why[BATCH_PATH_MAX + 32], path[BATCH_PATH_MAX];
	const char	*lead = NULL, *tail = " failed";
	int		 ok = job->outcome == JOB_OK;

	if (ran)
		b->running--;
	b->unfinished--;
	b->sum_ms += job->ms;
	switch (job->outcome) {
	case JOB_OK:
		b->nok++;
		break;
	case JOB_CANCELLED:
		b->ncancelled++;
		break;
	case JOB_TIMED_OUT:
		b->ntimedout++;
		break;
	default:
		b->nfailed++;
		break;
	}
	/* The event callback may cancel the batch: it must not end here. */
	b->depth++;
	if (b->event_cb != NULL)
		b->event_cb(b, job, b->cb_arg);
	if (!b->stopping) {
		if (!ok && b->decider < 0)
			b->decider = job->index;
		switch (b->mode) {
		case BATCH_FAIL_FAST:
			lead = ok ? NULL : "cancelled: ";
			break;
		case BATCH_SEQUENCE:
			lead = ok ? NULL : "not run: ";
			break;
		case BATCH_ANY:
			if (!ok)
				break;
			/* FALLTHROUGH */
		case BATCH_FIRST:
			b->winner = job->index;
			lead = "cancelled: ";
			tail = " won";
			break;
		}
	}
	if (lead != NULL) {
		batch_path(b, job->index, path, sizeof path);
		snprintf(why, sizeof why, "%s%s%s", lead, path, tail);
		batch_stop_all(b, ERR_CANCELLED, why);
	}
	b->depth--;
	if (b->depth == 0)
		batch_pump(b);
}

static void
batch_deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	struct batch	*b = arg;
	char		 why[96];

	(void)fd;
	(void)events;
	snprintf(why, sizeof why, "batch timeout_ms (%g ms) reached",
	    b->timeout_ms);
	batch_cancel(b, ERR_TIMEOUT, why);
}

/*
 * A job of b waiting between tries starts its next. b is kept meanwhile:
 * the try may end inside its start, and the batch with it.
 */
void
batch_job_retry(struct batch *b, struct job *job)
{
	uint64_t	now = clock_ns();

	/* As in batch_pump: the clock first, then libevent's cache. */
	event_base_update_cache_time(batch_base);
	b->depth++;
	job_retry(job, now);
	b->depth--;
	if (b->depth == 0)
		batch_pump(b);
}

/* The batch at the top of b's nesting: whom its jobs are charged to. */
struct batch *
batch_root(struct batch *b)
{
	while (b->parent != NULL)
		b = b->parent;
	return b;
}

/*
 * Charge each finished job's result of top-level batch b through cb
 * (called with the arg batch_start is given), before it is counted.
 */
void
batch_set_charge(struct batch *b, batch_charge_cb *cb)
{
	b->charge_cb = cb;
}

/* A job of b has just finished: charge its result to b's root. */
void
batch_job_charge(struct batch *b, struct job *job)
{
	struct batch	*root = batch_root(b);

	if (root->charge_cb != NULL)
		root->charge_cb(job, root->cb_arg);
}

static void
batch_run(struct batch *b, batch_done_cb *done, batch_event_cb *event,
    void *arg)
{
	struct timeval	tv;
	double		left;

	b->done_cb = done;
	b->event_cb = event;
	b->cb_arg = arg;
	b->unfinished = b->njobs;
	/* Every level's jobs wait from the start of the top one. */
	if (b->parent == NULL)
		status.jobs_waiting += b->ntotal;
	if (b->timeout_ms >= 0) {
		/* Clock first, then cache: the deadline is never early. */
		left = b->timeout_ms - clock_ms(b->recv_ns, clock_ns());
		event_base_update_cache_time(batch_base);
		b->deadline = evtimer_new(batch_base, batch_deadline_cb, b);
		if (b->deadline == NULL)
			fatalx("%s: evtimer_new failed", __func__);
		clock_ms_timeval(left, &tv);
		evtimer_add(b->deadline, &tv);
	}
	batch_pump(b);
}

/*
 * Start a parsed batch: done (and event, if not NULL, for each job) will
 * be called with arg. The batch may finish (and be freed) before this
 * returns: an empty one does at once.
 */
void
batch_start(struct batch *b, batch_done_cb *done, batch_event_cb *event,
    void *arg)
{
	status.batches_in_flight++;
	batch_run(b, done, event, arg);
}

/*
 * Make b a batch nested in owner's batch, owned by owner (a group job):
 * its depth, its paths and its count of jobs follow. Done as the owner
 * is parsed, before b's own jobs are (they are counted as they come).
 */
void
batch_nest(struct batch *b, struct job *owner)
{
	struct batch	*p;

	b->parent = owner->batch;
	b->owner = owner;
	for (p = b->parent; p != NULL; p = p->parent)
		p->ntotal += b->ntotal;
}

/* n more jobs in b: count them in b and every batch above it. */
void
batch_count(struct batch *b, uint64_t n)
{
	for (; b != NULL; b = b->parent)
		b->ntotal += n;
}

/* How deep b is nested: 0 at the top, 1 for a group's batch there... */
unsigned
batch_depth(const struct batch *b)
{
	unsigned	n = 0;

	for (; b->parent != NULL; b = b->parent)
		n++;
	return n;
}

/*
 * The path of jobs[index] of b from the request, for messages:
 * "jobs[2].jobs[0]". Cut short, still a string, if size is too small.
 */
void
batch_path(const struct batch *b, uint32_t index, char *buf, size_t size)
{
	size_t	n = 0;

	buf[0] = '\0';
	if (b != NULL && b->owner != NULL) {
		batch_path(b->owner->batch, b->owner->index, buf, size);
		n = strlen(buf);
		if (n + 1 < size)
			buf[n++] = '.';
	}
	if (n < size)
		snprintf(buf + n, size - n, "jobs[%u]", index);
}

/*
 * Start b inside parent, for a job of parent that owns it (a group): as
 * batch_start, but b's jobs are charged to parent's root, b is not
 * counted as a batch in status, and it is not freed after done: its
 * owner frees it.
 */
void
batch_start_nested(struct batch *b, struct batch *parent,
    batch_done_cb *done, batch_event_cb *event, void *arg)
{
	b->parent = parent;
	if (b->snap == NULL)
		b->snap = snapshot_ref(parent->snap);
	batch_run(b, done, event, arg);
}

/*
 * Finish b, nested in parent, without running it (its owner is cancelled
 * before it started): every job ends with code and why, then done is
 * called with arg, before this returns.
 */
void
batch_start_cancelled(struct batch *b, struct batch *parent,
    batch_done_cb *done, void *arg, enum err_code code, const char *why)
{
	b->stopping = 1;	/* batch_pump starts nothing */
	batch_start_nested(b, parent, done, NULL, arg);
	batch_cancel(b, code, why);
}

/*
 * Stop the batch now: unfinished jobs end with code (ERR_CANCELLED or
 * ERR_TIMEOUT) and message why, and the batch finishes (done is called):
 * at once, or, from inside the batch's own loops and callbacks, as they
 * return.
 */
void
batch_cancel(struct batch *b, enum err_code code, const char *why)
{
	batch_stop_all(b, code, why);
	if (b->depth == 0 && b->unfinished == 0)
		batch_finish(b);
}

/*
 * What status detail shows of b at now, added to obj: its id, its jobs,
 * how many are done, its age.
 */
void
batch_status(const struct batch *b, json_t *obj, uint64_t now)
{
	json_object_set(obj, "id", b->id);
	json_object_set_new(obj, "jobs", json_integer((json_int_t)b->njobs));
	json_object_set_new(obj, "done",
	    json_integer((json_int_t)(b->njobs - b->unfinished)));
	json_object_set_new(obj, "age_ms", json_real(clock_ms(b->recv_ns,
	    now)));
}
