/*
 * A job's work on the worker pool that ends the job with a text; see
 * job_work.h.
 */

#include <stdlib.h>

#include "job.h"
#include "job_work.h"

/* Free w, what its type owns and its text. */
static void
job_work_free(struct job_work *w)
{
	w->free(w);
	free(w->text);
	free(w);
}

/* On the loop: end the job with the result, if it is still there. */
static void
job_work_complete(struct pool_work *pw, int abandoned)
{
	struct job_work	*w = (struct job_work *)pw;
	struct job	*job = w->job;
	char		*text = w->text;

	if (!abandoned && job != NULL) {
		w->detach(job);
		w->text = NULL;
		job_finish_result(job, w->code, text, w->len);
	}
	job_work_free(w);
}

/*
 * Hand w, the work of job, to the pool. The type has set pw.run, detach
 * and free, and keeps a pointer to w until detach or job_work_cancel.
 */
void
job_work_submit(struct job_work *w, struct job *job)
{
	w->pw.complete = job_work_complete;
	w->job = job;
	pool_submit(&w->pw, job_owner(job));
}

/*
 * The job is cancelled: it forgets w (detach), and w is freed if no
 * worker has it yet (returns 1), else its result is dropped when it comes
 * back (returns 0).
 */
int
job_work_cancel(struct job_work *w)
{
	w->detach(w->job);
	w->job = NULL;
	if (!pool_cancel(&w->pw))
		return 0;
	job_work_free(w);
	return 1;
}

