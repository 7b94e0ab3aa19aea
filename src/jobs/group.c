/*
 * The group and sequence jobs: structured concurrency inside one request
 * (Trio's nurseries, asyncio's TaskGroup). A group is a batch nested in
 * the batch it belongs to (batch_nest, batch_start_nested), with its own
 * mode and concurrency; a sequence is the same with one job at a time,
 * stopping at the first failure (BATCH_SEQUENCE). The engine does the
 * rest: charging results to the root's connection, the modes, cancels.
 *
 * States: WAITING, then RUNNING while its nested batch runs; it finishes
 * when that batch is done. Its value is the nested batch's results, which
 * it keeps (and frees with itself) until the root replies; proto.c writes
 * them through the nested hook. A group that fails has both that value
 * and an error: the code of the job that decided it (the first to fail,
 * in completion order) and a message naming that job's full path. One
 * stopped from outside (its own timeout_ms, the batch's deadline, a
 * cancel, a sibling's failure or win) ends with that code and reason, as
 * does every unfinished job inside it, at any depth: the stop hook.
 *
 * Parsing builds the nested jobs there and then, possibly on the parse
 * thread (parser.c): it touches only the jobs and batches it makes and
 * the read-only configuration. Nesting is bounded (BATCH_MAX_DEPTH), and
 * every job at every level counts toward max_jobs_per_batch.
 *
 * Not done: a group or sequence is not retried (its jobs may be), since
 * that would run again the jobs of it that succeeded.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "config.h"
#include "job.h"
#include "jsonw.h"
#include "xmalloc.h"

struct group_job {
	struct job	 job;
	struct batch	*inner;		/* owned: its jobs, nested */
	char		*why;		/* owned: why it was stopped, or NULL */
	uint8_t		 stop_code;	/* how, or ERR_NONE */
};

static const char *const group_keys[] = {
	"jobs", "mode", "concurrency", NULL
};
static const char *const sequence_keys[] = { "jobs", NULL };

extern const struct job_type job_type_group;

/*
 * Validate a group's or sequence's object at path and build its nested
 * batch and jobs.
 */
static enum err_code
group_parse(struct job *job, json_t *obj, const char *path,
    const struct config *cfg, char **cause)
{
	struct group_job	*g = (struct group_job *)job;
	struct batch		*root = batch_root(job->batch);
	json_t			*jobs, *v;
	int64_t			 n64 = 0;
	size_t			 i, n;
	int			 mode = BATCH_SEQUENCE;
	enum err_code		 err;

	if (job_attempts(job) >= 0) {
		*cause = xasprintf("%s.retry: a %s is not retried (that would"
		    " run its jobs that succeeded again); give retry to the"
		    " jobs inside it", path, job->type->name);
		return ERR_BAD_REQUEST;
	}
	if (batch_depth(job->batch) >= BATCH_MAX_DEPTH) {
		*cause = xasprintf("%s: groups and sequences nest %d levels"
		    " deep at most", path, BATCH_MAX_DEPTH);
		return ERR_BAD_REQUEST;
	}
	if ((jobs = job_require(obj, path, "jobs", cause)) == NULL)
		return ERR_BAD_REQUEST;
	if (!json_is_array(jobs)) {
		*cause = xasprintf("%s.jobs: expected an array", path);
		return ERR_BAD_REQUEST;
	}
	n = json_array_size(jobs);
	if (n > cfg->limits.max_jobs_per_batch ||
	    root->ntotal + n > cfg->limits.max_jobs_per_batch) {
		*cause = xasprintf("%s.jobs: the request's jobs at every level"
		    " exceed max_jobs_per_batch (%llu)", path,
		    (unsigned long long)cfg->limits.max_jobs_per_batch);
		return ERR_TOO_LARGE;
	}
	if (job->type == &job_type_group) {
		v = json_object_get(obj, "mode");
		if (v == NULL || json_is_null(v))
			mode = BATCH_ALL;
		else if ((mode = batch_mode_find(jsonw_cstr(v))) < 0) {
			*cause = xasprintf("%s.mode: expected \"all\","
			    " \"fail_fast\", \"any\" or \"first\"", path);
			return ERR_BAD_REQUEST;
		}
		if ((err = job_get_int(obj, path, "concurrency", 1, &n64,
		    cause)) != ERR_NONE)
			return err;
	}

	g->inner = batch_new(NULL, "null", 0, NULL);
	g->inner->mode = (uint8_t)mode;
	if (mode == BATCH_SEQUENCE)
		g->inner->concurrency = 1;
	else if (n64 > 0 && n64 < (int64_t)UINT32_MAX)
		g->inner->concurrency = (uint32_t)n64;
	batch_nest(g->inner, job);
	batch_count(g->inner, n);
	g->inner->jobs = xcalloc(n, sizeof *g->inner->jobs);
	for (i = 0; i < n; i++) {
		err = job_parse(json_array_get(jobs, i), g->inner, (uint32_t)i,
		    cfg, &g->inner->jobs[i], cause);
		if (err != ERR_NONE)
			return err;
		g->inner->njobs++;
	}
	return ERR_NONE;
}

/*
 * Its nested batch is done: the group ends as that batch decided, or
 * as it was stopped. It may be freed, with its batch, before this
 * returns.
 */
static void
group_done(struct batch *inner, void *arg)
{
	struct group_job	*g = arg;
	const struct job	*d;
	char			 path[BATCH_PATH_MAX], *why;

	if (g->stop_code != ERR_NONE) {
		why = g->why;
		g->why = NULL;
		job_finish_error(&g->job, (enum err_code)g->stop_code, why);
		return;
	}
	if (batch_ok(inner)) {
		job_finish_ok(&g->job, NULL);	/* its value is inner's */
		return;
	}
	if (inner->decider < 0) {
		/* No job failed: any or first with no job at all. */
		job_finish_errorf(&g->job, ERR_CANCELLED, "no job to win");
		return;
	}
	d = inner->jobs[inner->decider];
	if (d->type->nested != NULL) {
		/* Its message names the job inside that decided it. */
		job_finish_errorf(&g->job, (enum err_code)d->code, "%s",
		    d->text != NULL ? d->text : "failed");
		return;
	}
	batch_path(inner, d->index, path, sizeof path);
	job_finish_errorf(&g->job, (enum err_code)d->code, "%s failed: %s",
	    path, d->text != NULL ? d->text : "");
}

static void
group_start(struct job *job)
{
	struct group_job	*g = (struct group_job *)job;

	batch_start_nested(g->inner, job->batch, group_done, NULL, g);
}

/*
 * Stop the group, waiting or running: every unfinished job inside ends
 * with code and why, and so does the group, with its value.
 */
static void
group_stop(struct job *job, enum err_code code, const char *why)
{
	struct group_job	*g = (struct group_job *)job;
	char			 path[BATCH_PATH_MAX], *inside = NULL;

	g->stop_code = (uint8_t)code;
	free(g->why);
	g->why = xstrdup(why);
	/* Its own deadline: the jobs inside say whose it was. */
	if (job->flags & JOB_DEADLINE) {
		batch_path(job->batch, job->index, path, sizeof path);
		why = inside = xasprintf("%s: %s", path, g->why);
	}
	if (job->state == JOB_WAITING)
		batch_start_cancelled(g->inner, job->batch, group_done, g,
		    code, why);
	else
		batch_cancel(g->inner, code, why);
	free(inside);
}

/* Unused: the stop hook does its work. */
static void
group_cancel(struct job *job)
{
	(void)job;
}

static struct batch *
group_nested(const struct job *job)
{
	return ((const struct group_job *)job)->inner;
}

static void
group_free(struct job *job)
{
	struct group_job	*g = (struct group_job *)job;

	batch_free(g->inner);
	free(g->why);
}

/* The two types differ only in their name and keys. */
#define GROUP_TYPE(typename, typekeys) {				\
	.name = (typename),						\
	.size = sizeof(struct group_job),				\
	.keys = (typekeys),						\
	.parse = group_parse,						\
	.start = group_start,						\
	.cancel = group_cancel,						\
	.stop = group_stop,						\
	.nested = group_nested,						\
	.free = group_free,						\
}

const struct job_type job_type_group = GROUP_TYPE("group", group_keys);
const struct job_type job_type_sequence = GROUP_TYPE("sequence",
    sequence_keys);
