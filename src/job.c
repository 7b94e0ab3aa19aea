/*
 * Jobs: parsing into compact structs, the state machine, and the table of
 * job types. Adding a type is one file under jobs/ and one line below.
 */

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "batch.h"
#include "clock.h"
#include "jnum.h"
#include "job.h"
#include "jsonw.h"
#include "log.h"
#include "retry.h"
#include "snapshot.h"
#include "status.h"
#include "table.h"
#include "xmalloc.h"

extern const struct job_type job_type_sleep;
extern const struct job_type job_type_read;
extern const struct job_type job_type_query;
extern const struct job_type job_type_http;
extern const struct job_type job_type_group;
extern const struct job_type job_type_sequence;

const struct job_type *const job_types[] = {
	&job_type_sleep,
	&job_type_read,
	&job_type_query,
	&job_type_http,
	&job_type_group,
	&job_type_sequence,
	NULL
};

/*
 * Each type's statistics have a place in status.types[], and one place is
 * left over: a type outside the table (the engine suite's fake type) has
 * job_type_index() == the table's length, and counts there, unseen.
 */
_Static_assert(sizeof job_types / sizeof job_types[0] - 1 <
    STATUS_MAX_TYPES, "job_types[] needs fewer types than STATUS_MAX_TYPES");

/*
 * Every running job's own deadline (its timeout_ms, or max_job_ms), in
 * one timer queue: 16 bytes a job rather than a struct event (144 bytes
 * with malloc's header) for each of a million sleeps.
 */
static struct timerq	job_deadlines;

static void	job_deadline_fire(struct timerq_node *);

/* At start-up: jobs' own deadlines and their retries run on base's loop. */
void
job_init(struct event_base *base)
{
	timerq_init(&job_deadlines, base, job_deadline_fire);
	retry_init(base);
}

/* At exit, after every job: what job_init set up. */
void
job_fini(void)
{
	timerq_free(&job_deadlines);
	retry_fini();
}

/* The job type called name, or NULL. */
const struct job_type *
job_type_find(const char *name)
{
	const struct job_type	*type;

	TABLE_FIND(job_types, name, type);
	return type;
}

/* At start-up: let each type set up its own state. */
void
job_types_init(struct event_base *base)
{
	TABLE_CALL(job_types, init, base);
}

/* At exit: let each type free its own state. */
void
job_types_fini(void)
{
	TABLE_CALL(job_types, fini, );
}

/* A snapshot is to be made of cfg: can each type set up what it asks? */
int
job_types_check(const struct config *cfg, char **cause)
{
	const struct job_type *const	*t;

	for (t = job_types; *t != NULL; t++) {
		if ((*t)->check != NULL && (*t)->check(cfg, cause) == -1)
			return -1;
	}
	return 0;
}

/*
 * gatherd --check-config: let each type look at the files its settings
 * name. 0, or -1 with *cause from the first that finds one wrong.
 */
int
job_types_check_files(const struct config *cfg, char **cause)
{
	const struct job_type *const	*t;

	for (t = job_types; *t != NULL; t++) {
		if ((*t)->check_files != NULL &&
		    (*t)->check_files(cfg, cause) == -1)
			return -1;
	}
	return 0;
}

/*
 * A snapshot is made of cfg, checked: what each type keeps for it, in
 * job_types[] order (a new array, for job_types_unload).
 */
void **
job_types_load(const struct config *cfg)
{
	void	**states;
	size_t	  i, n;

	for (n = 0; job_types[n] != NULL; n++)
		/* nothing */;
	states = xcalloc(n + 1, sizeof *states);
	for (i = 0; i < n; i++) {
		if (job_types[i]->load != NULL)
			states[i] = job_types[i]->load(cfg);
	}
	return states;
}

/* The snapshot is freed: let each type free what it kept. */
void
job_types_unload(void **states)
{
	size_t	i;

	if (states == NULL)
		return;
	for (i = 0; job_types[i] != NULL; i++) {
		if (job_types[i]->unload != NULL && states[i] != NULL)
			job_types[i]->unload(states[i]);
	}
	free(states);
}

/* A snapshot of cfg comes into force: each type sets up its state. */
void
job_types_attach(const struct config *cfg)
{
	TABLE_CALL(job_types, attach, cfg);
}

/* The last reference to a snapshot of cfg has gone. */
void
job_types_detach(const struct config *cfg)
{
	TABLE_CALL(job_types, detach, cfg);
}

/* The descriptors every type may hold open under cfg. */
uint64_t
job_types_fds(const struct config *cfg)
{
	const struct job_type *const	*t;
	uint64_t			 n = 0;

	for (t = job_types; *t != NULL; t++)
		n += (*t)->fds != NULL ? (*t)->fds(cfg) : 0;
	return n;
}

/* Let each type add its part to the status object st. */
void
job_types_status(const struct config *cfg, json_t *st)
{
	TABLE_CALL(job_types, status, cfg, st);
}

/*
 * Whom a job works for, as the worker pool's round-robin counts: what its
 * top-level batch was started for (a connection), or that batch itself.
 */
const void *
job_owner(const struct job *job)
{
	struct batch	*root = batch_root(job->batch);

	if (root->cb_arg != NULL)
		return root->cb_arg;
	return root;
}

/* The position of a type in job_types[], which indexes its statistics. */
size_t
job_type_index(const struct job_type *type)
{
	size_t	i;

	for (i = 0; job_types[i] != NULL; i++) {
		if (job_types[i] == type)
			break;
	}
	return i;
}

/* A message about field key of the object at path: "PATH.KEY: ...". */
static char * __attribute__((format(printf, 3, 4)))
job_field_cause(const char *path, const char *key, const char *fmt, ...)
{
	va_list	 ap;
	char	*what, *cause;

	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	cause = xasprintf("%s%s%s: %s", path, *path != '\0' ? "." : "", key,
	    what);
	free(what);
	return cause;
}

/*
 * Read a duration field (a non-negative JSON number) of obj. Absent or null
 * gives -1 unless required.
 */
enum err_code
job_get_ms(json_t *obj, const char *path, const char *key, int required,
    double *ms, char **cause)
{
	json_t	*v = json_object_get(obj, key);

	*ms = -1;
	if (!required && (v == NULL || json_is_null(v)))
		return ERR_NONE;
	if ((v = job_require(obj, path, key, cause)) == NULL)
		return ERR_BAD_REQUEST;
	if (!json_is_number(v) || json_number_value(v) < 0) {
		*cause = job_field_cause(path, key,
		    "expected a non-negative number");
		return ERR_BAD_REQUEST;
	}
	*ms = json_number_value(v);
	return ERR_NONE;
}

/*
 * Read an integer field (a JSON integer >= min, within 64 bits) of obj;
 * absent or null leaves *out as it is.
 */
enum err_code
job_get_int(json_t *obj, const char *path, const char *key, int64_t min,
    int64_t *out, char **cause)
{
	json_t	*v = json_object_get(obj, key);
	int64_t	 n;

	if (v == NULL || json_is_null(v))
		return ERR_NONE;
	switch (jnum_integer(v, &n)) {
	case JNUM_INT:
		if (n >= min) {
			*out = n;
			return ERR_NONE;
		}
		break;
	case JNUM_INT_RANGE:
		*cause = job_field_cause(path, key, "integer out of range (a"
		    " signed 64-bit integer is expected)");
		return ERR_BAD_REQUEST;
	case JNUM_NOT_INT:
		break;
	}
	*cause = job_field_cause(path, key, "expected an integer >= %lld",
	    (long long)min);
	return ERR_BAD_REQUEST;
}

/*
 * The required field key of obj (borrowed), or NULL with *cause saying
 * it is missing (absent or null).
 */
json_t *
job_require(json_t *obj, const char *path, const char *key, char **cause)
{
	json_t	*v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v)) {
		*cause = job_field_cause(path, key, "missing required field");
		return NULL;
	}
	return v;
}

static int
job_key_known(const struct job_type *type, const char *key)
{
	const char *const	*k;

	if (strcmp(key, "type") == 0 || strcmp(key, "timeout_ms") == 0 ||
	    strcmp(key, "name") == 0 || strcmp(key, "retry") == 0)
		return 1;
	for (k = type->keys; k != NULL && *k != NULL; k++) {
		if (strcmp(*k, key) == 0)
			return 1;
	}
	return 0;
}

static struct job *
job_alloc(const struct job_type *type, uint32_t index, double timeout_ms,
    int extra)
{
	struct job_extra	*x;
	struct job		*job;

	if (extra) {
		x = xcalloc(1, sizeof *x + type->size);
		x->hint_ms = -1;
		job = (struct job *)(void *)(x + 1);
		job->flags = JOB_EXTRA;
	} else
		job = xcalloc(1, type->size);
	job->type = type;
	job->index = index;
	job->timeout_ms = timeout_ms;
	job->text_len = JOB_LEN_UNKNOWN;
	job->state = JOB_WAITING;
	return job;
}

/*
 * A new WAITING job of type, jobs[index] of its batch, with its own
 * timeout_ms (< 0: none), for the type's parse to fill. The caller owns it
 * until it is put in a batch.
 */
struct job *
job_new(const struct job_type *type, uint32_t index, double timeout_ms)
{
	return job_alloc(type, index, timeout_ms, 0);
}

/*
 * As job_new, for a job with a name or a retry: its struct job_extra
 * comes first, in the same allocation.
 */
struct job *
job_new_extra(const struct job_type *type, uint32_t index, double timeout_ms)
{
	return job_alloc(type, index, timeout_ms, 1);
}

/* What job has besides the common struct (a name, a retry), or NULL. */
struct job_extra *
job_extra(const struct job *job)
{
	if (!(job->flags & JOB_EXTRA))
		return NULL;
	return (struct job_extra *)(uintptr_t)((const char *)job -
	    sizeof(struct job_extra));
}

/* The job's name as JSON text, or NULL. */
const char *
job_name(const struct job *job)
{
	const struct job_extra	*x = job_extra(job);

	return x != NULL ? x->name : NULL;
}

/* The tries the job has made, or -1 when it has no retry. */
int
job_attempts(const struct job *job)
{
	const struct job_extra	*x = job_extra(job);

	return x != NULL && x->tries > 0 ? x->attempts : -1;
}

/*
 * Whether another try of job may follow the one running (or about to):
 * a type's start must then leave what parse built in place.
 */
int
job_retry_left(const struct job *job)
{
	const struct job_extra	*x = job_extra(job);

	return x != NULL && x->attempts < x->tries;
}

/*
 * Let job (made by job_new_extra) be tried up to tries times, waiting
 * about backoff_ms after the first failed try, twice that after the
 * second, and so on (retry.c).
 */
void
job_set_retry(struct job *job, unsigned tries, double backoff_ms)
{
	struct job_extra	*x = job_extra(job);

	if (x == NULL)
		fatalx("%s: the job has no room for a retry", __func__);
	x->tries = (uint8_t)tries;
	/*
	 * Floats keep the retry state of a million jobs 16 B smaller each.
	 * Any backoff past RETRY_BACKOFF_MAX_MS waits the 30 s cap already,
	 * and so does any hint past the cap: clamped, they fit.
	 */
	x->backoff_ms = (float)(backoff_ms < RETRY_BACKOFF_MAX_MS ?
	    backoff_ms : RETRY_BACKOFF_MAX_MS);
}

/*
 * This try's result is worth another under retry even if it is a
 * success, after retry_after_ms at least (< 0: the backoff alone).
 * job.h says when a type calls it. A job without retry ignores it.
 */
void
job_try_transient(struct job *job, double retry_after_ms)
{
	struct job_extra	*x = job_extra(job);

	if (x == NULL)
		return;
	x->transient = 1;
	x->hint_ms = (float)(retry_after_ms < RETRY_CAP_MS ? retry_after_ms :
	    RETRY_CAP_MS);
}

/*
 * The fields every job may have besides timeout_ms and its type's: name
 * (a string, echoed in its result; *name gets it as JSON text) and retry
 * (*tries 0 when absent).
 */
static enum err_code
job_parse_common(json_t *obj, const char *path, char **name,
    unsigned *tries, double *backoff_ms, char **cause)
{
	json_t	*v;

	*name = NULL;
	*tries = 0;
	*backoff_ms = 0;
	v = json_object_get(obj, "name");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			*cause = xasprintf("%s.name: expected a string", path);
			return ERR_BAD_REQUEST;
		}
		*name = jsonw_dump(v);
	}
	v = json_object_get(obj, "retry");
	if (v != NULL && !json_is_null(v))
		return retry_parse(v, path, tries, backoff_ms, cause);
	return ERR_NONE;
}

/*
 * Validate jobs[index] of batch b (a request's, or one nested in it) and
 * build its job. On success *out is a new WAITING job owned by the caller
 * (its batch set to b); the JSON tree is not referenced. Messages name
 * the job by its path from the request (jobs[2].jobs[0]).
 */
enum err_code
job_parse(json_t *obj, struct batch *b, uint32_t index,
    const struct config *cfg, struct job **out, char **cause)
{
	const struct job_type	*type;
	struct job		*job;
	json_t			*v;
	const char		*key;
	char			 path[BATCH_PATH_MAX], *quoted, *name;
	double			 timeout_ms, backoff_ms;
	unsigned		 tries;
	enum err_code		 err;

	*out = NULL;
	batch_path(b, index, path, sizeof path);
	if (!json_is_object(obj)) {
		*cause = xasprintf("%s: expected an object", path);
		return ERR_BAD_REQUEST;
	}
	if ((v = job_require(obj, path, "type", cause)) == NULL)
		return ERR_BAD_REQUEST;
	if (!json_is_string(v)) {
		*cause = xasprintf("%s.type: expected a string", path);
		return ERR_BAD_REQUEST;
	}
	if (jsonw_cstr(v) == NULL ||
	    (type = job_type_find(jsonw_cstr(v))) == NULL) {
		quoted = jsonw_quote(v);
		*cause = xasprintf("%s.type: unknown job type %s", path,
		    quoted);
		free(quoted);
		return ERR_UNKNOWN_TYPE;
	}
	json_object_foreach(obj, key, v) {
		if (!job_key_known(type, key)) {
			*cause = xasprintf("%s.%s: unknown field", path, key);
			return ERR_BAD_REQUEST;
		}
	}
	err = job_get_ms(obj, path, "timeout_ms", 0, &timeout_ms, cause);
	if (err != ERR_NONE)
		return err;
	err = job_parse_common(obj, path, &name, &tries, &backoff_ms, cause);
	if (err != ERR_NONE) {
		free(name);
		return err;
	}

	if (name != NULL || tries > 0) {
		job = job_new_extra(type, index, timeout_ms);
		job_extra(job)->name = name;
		if (tries > 0)
			job_set_retry(job, tries, backoff_ms);
	} else
		job = job_new(type, index, timeout_ms);
	job->batch = b;
	if ((err = type->parse(job, obj, path, cfg, cause)) != ERR_NONE) {
		job_free(job);
		return err;
	}
	*out = job;
	return ERR_NONE;
}

/* Free a job and what its type owns. The job must not be running. */
void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	if (job->type->free != NULL)
		job->type->free(job);
	free(job->text);
	if (job->flags & JOB_EXTRA) {
		free(job_extra(job)->name);
		free(job_extra(job));
	} else
		free(job);
}

/* A running job's own deadline has come. */
static void
job_deadline_fire(struct timerq_node *node)
{
	struct job	*job = (struct job *)(void *)((char *)node -
			    offsetof(struct job, deadline));
	char		 why[96];

	if (job->flags & JOB_CAPPED)
		snprintf(why, sizeof why, "max_job_ms (%llu ms) reached: no"
		    " job may run longer", (unsigned long long)
		    job->batch->snap->cfg.limits.max_job_ms);
	else
		snprintf(why, sizeof why, "job timeout_ms (%g ms) reached",
		    job->timeout_ms);
	job->flags |= JOB_DEADLINE;
	job_cancel(job, ERR_TIMEOUT, why);
}

/*
 * Run one try of job at now: let its type start it, then arm its own
 * deadline (its timeout_ms, or max_job_ms when that is sooner or the job
 * has none), unless the try is sure to end before it.
 */
static void
job_try(struct job *job, uint64_t now)
{
	struct job_extra	*x = job_extra(job);
	uint64_t		 max = job->batch->snap->cfg.limits.max_job_ms;
	double			 ms = job->timeout_ms, ns;
	uint64_t		 at, end;

	job->state = JOB_RUNNING;
	job->start_ns = now;
	job->flags &= (uint8_t)~JOB_DEADLINE;
	if (x != NULL) {
		if (x->attempts++ == 0)
			x->first_ns = now;
		x->transient = 0;
		x->hint_ms = -1;
	}
	job->type->start(job);
	/* No job runs longer than max_job_ms, whatever it asks for. */
	if (max != 0 && (ms < 0 || ms > (double)max)) {
		ms = (double)max;
		job->flags |= JOB_CAPPED;
	}
	if (job->state == JOB_RUNNING && ms >= 0) {
		/* Rounded up to the nanosecond, 285 years at most. */
		ns = ceil(ms * 1e6);
		at = now + (uint64_t)(ns < 9e18 ? ns : 9e18);
		/*
		 * A try sure to end before it (a sleep shorter than its
		 * deadline) is not given one: a million sleeps are then 16 MB
		 * and a million heap operations less.
		 */
		end = job->type->ends != NULL ? job->type->ends(job) : 0;
		if (end == 0 || end >= at)
			timerq_add(&job_deadlines, &job->deadline, at);
	}
}

/*
 * Start a WAITING job at now (clock_ns(), read before libevent's time cache
 * was last refreshed): its first try.
 */
void
job_start(struct job *job, uint64_t now)
{
	status.jobs_waiting--;
	status.jobs_running++;
	job_try(job, now);
}

/*
 * A RETRYING job's wait is over: its next try, at now. Its batch calls
 * this (batch_job_retry) and keeps itself while the job may finish.
 */
void
job_retry(struct job *job, uint64_t now)
{
	status.jobs_retrying--;
	status.jobs_running++;
	job_try(job, now);
}

/*
 * A try of job ended and is to be made again (retry_again): drop its
 * result and wait, holding the job's place in its batch and nothing else.
 */
static void
job_wait_retry(struct job *job, char *text)
{
	free(text);
	job->state = JOB_RETRYING;
	status.jobs_running--;
	status.jobs_retrying++;
	retry_wait(job, clock_ns());
}

/*
 * Record the result and tell the batch. The batch may free the job (and
 * itself) before this returns, so nothing touches the job afterwards.
 */
static void
job_finish(struct job *job, enum job_outcome outcome, enum err_code code,
    char *text, size_t len)
{
	struct job_extra	*x = job_extra(job);
	uint8_t			 was = job->state;
	int			 ran = was == JOB_RUNNING || was == JOB_RETRYING;

	if (was == JOB_DONE) {
		free(text);
		return;
	}
	timerq_del(&job_deadlines, &job->deadline);
	if (was == JOB_RUNNING && x != NULL &&
	    retry_again(job, outcome == JOB_OK, code)) {
		job_wait_retry(job, text);
		return;
	}
	/* A retried job's time is all of it: its tries and its waits. */
	job->ms = ran ? (float)clock_ms(x != NULL && x->attempts > 0 ?
	    x->first_ns : job->start_ns, clock_ns()) : 0.0f;
	free(job->text);
	job->text = text;
	job->text_len = len < JOB_LEN_UNKNOWN ? (uint32_t)len : JOB_LEN_UNKNOWN;
	job->outcome = (uint8_t)outcome;
	job->code = (uint8_t)code;
	job->state = JOB_DONE;
	/* Its batch's starter counts the result, or refuses it (busy). */
	batch_job_charge(job->batch, job);
	outcome = (enum job_outcome)job->outcome;

	status_job_done(job_type_index(job->type), outcome, ran, job->ms);
	if (was == JOB_RETRYING)
		status.jobs_retrying--;
	else if (ran)
		status.jobs_running--;
	else
		status.jobs_waiting--;
	batch_job_done(job->batch, job, ran);
}

/* The job succeeded with value, JSON text (owned by the job now; NULL is null). */
void
job_finish_ok(struct job *job, char *value)
{
	job_finish(job, JOB_OK, ERR_NONE, value, SIZE_MAX);
}

/*
 * As job_finish_ok, with the text's length known (a worker's large value),
 * so the reply need not scan it on the loop.
 */
void
job_finish_ok_len(struct job *job, char *value, size_t len)
{
	job_finish(job, JOB_OK, ERR_NONE, value, len);
}

/*
 * The job ended with a result worked out elsewhere (a worker, a driver):
 * its value of len bytes if code is ERR_NONE, else code and its message.
 * text is the job's now.
 */
void
job_finish_result(struct job *job, enum err_code code, char *text,
    size_t len)
{
	if (code == ERR_NONE)
		job_finish_ok_len(job, text, len);
	else
		job_finish_error(job, code, text);
}

/* The job failed with code and message (owned by the job now). */
void
job_finish_error(struct job *job, enum err_code code, char *message)
{
	enum job_outcome	outcome = JOB_FAILED;

	if (code == ERR_CANCELLED)
		outcome = JOB_CANCELLED;
	else if (code == ERR_TIMEOUT)
		outcome = JOB_TIMED_OUT;
	job_finish(job, outcome, code, message, SIZE_MAX);
}

/* The job failed with code and a formatted message. */
void
job_finish_errorf(struct job *job, enum err_code code, const char *fmt, ...)
{
	va_list	ap;
	char	*message;

	va_start(ap, fmt);
	message = xvasprintf(fmt, ap);
	va_end(ap);
	job_finish_error(job, code, message);
}

/*
 * Stop a job that has not finished: ERR_TIMEOUT when its own deadline
 * passed, otherwise the batch's reason (ERR_TIMEOUT or ERR_CANCELLED).
 * A running job's type stops its work first; a job waiting between
 * tries stops waiting; a job that owns others (a group) stops them.
 */
void
job_cancel(struct job *job, enum err_code code, const char *why)
{
	if (job->state == JOB_DONE)
		return;
	if (job->type->stop != NULL) {
		/* It owns jobs: they end with code and why, then it does. */
		job->type->stop(job, code, why);
		return;
	}
	if (job->state == JOB_RUNNING)
		job->type->cancel(job);
	else if (job->state == JOB_RETRYING)
		retry_unwait(job);
	job_finish_error(job, code, xstrdup(why));
}
