/*
 * Retries. A try that ends with a transient code (timeout of the job's
 * own timeout_ms, io_error, db_error, http_error, busy), or with a
 * success its type marked transient (job_try_transient: HTTP 429 and
 * 5xx), is made again while tries are left and the batch is not being
 * stopped (a deadline, a cancel, fail_fast, a winner). The wait before
 * try k+1 is B * 2^(k-1), drawn uniformly within 20% either side, at
 * most 30 s; a retry-after hint longer than that is waited instead, up
 * to 30 s too.
 *
 * A timeout from max_job_ms is not transient: it is the daemon's bound
 * on what a job may hold, and trying again would only hold it longer.
 * A value the memory budget refuses (busy) is refused after the try, so
 * it is not retried either.
 */

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "clock.h"
#include "jnum.h"
#include "job.h"
#include "retry.h"
#include "status.h"
#include "timerq.h"
#include "xmalloc.h"

static struct timerq	retry_queue;
static uint64_t		retry_rng;

static void	retry_fire(struct timerq_node *);

/* At start-up: the queue, on the loop, and a seed for the jitter. */
void
retry_init(struct event_base *base)
{
	timerq_init(&retry_queue, base, retry_fire);
	retry_rng = clock_ns() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ull;
}

/* At exit: the queue goes with the loop; waiting jobs are forgotten. */
void
retry_fini(void)
{
	timerq_free(&retry_queue);
}

/* A uniform draw in [0, 1) (splitmix64). */
static double
retry_uniform(void)
{
	uint64_t	z;

	z = (retry_rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

/*
 * Read a job's "retry" object v (not null) at path (the job's): the
 * tries allowed and the first backoff. ERR_NONE, or bad_request with
 * *cause naming the field.
 */
enum err_code
retry_parse(json_t *v, const char *path, unsigned *tries, double *backoff_ms,
    char **cause)
{
	const char	*key;
	json_t		*f;
	char		*where;
	int64_t		 n;
	enum err_code	 err;

	if (!json_is_object(v)) {
		*cause = xasprintf("%s.retry: expected an object such as"
		    " {\"attempts\":3,\"backoff_ms\":100}", path);
		return ERR_BAD_REQUEST;
	}
	json_object_foreach(v, key, f) {
		if (strcmp(key, "attempts") != 0 &&
		    strcmp(key, "backoff_ms") != 0) {
			*cause = xasprintf("%s.retry.%s: unknown field", path,
			    key);
			return ERR_BAD_REQUEST;
		}
	}
	f = json_object_get(v, "attempts");
	if (f == NULL || json_is_null(f)) {
		*cause = xasprintf("%s.retry.attempts: missing required field",
		    path);
		return ERR_BAD_REQUEST;
	}
	switch (jnum_integer(f, &n)) {
	case JNUM_INT:
		if (n >= 1 && n <= RETRY_MAX_TRIES)
			break;
		/* FALLTHROUGH */
	case JNUM_NOT_INT:
		*cause = xasprintf("%s.retry.attempts: expected an integer from"
		    " 1 to %d (the tries, the first included)", path,
		    RETRY_MAX_TRIES);
		return ERR_BAD_REQUEST;
	case JNUM_INT_RANGE:
		*cause = xasprintf("%s.retry.attempts: integer out of range (a"
		    " signed 64-bit integer is expected)", path);
		return ERR_BAD_REQUEST;
	}
	*tries = (unsigned)n;
	where = xasprintf("%s.retry", path);
	err = job_get_ms(v, where, "backoff_ms", 0, backoff_ms, cause);
	free(where);
	if (err != ERR_NONE)
		return err;
	if (*backoff_ms < 0)
		*backoff_ms = RETRY_BACKOFF_MS;
	return ERR_NONE;
}

/*
 * Whether a try that failed with code is worth another: own is whether
 * a timeout was the job's own timeout_ms (not max_job_ms, not the
 * batch's deadline).
 */
int
retry_transient(enum err_code code, int own)
{
	switch (code) {
	case ERR_TIMEOUT:
		return own;
	case ERR_IO_ERROR:
	case ERR_DB_ERROR:
	case ERR_HTTP_ERROR:
	case ERR_BUSY:
		return 1;
	default:
		return 0;
	}
}

/*
 * Whether the try of job that just ended (ok, or failed with code) is to
 * be made again.
 */
int
retry_again(const struct job *job, int ok, enum err_code code)
{
	const struct job_extra	*x = job_extra(job);

	if (x == NULL || x->attempts >= x->tries || job->batch->stopping)
		return 0;
	if (ok)
		return x->transient;
	return retry_transient(code,
	    (job->flags & (JOB_DEADLINE | JOB_CAPPED)) == JOB_DEADLINE);
}

/*
 * The wait after try k (k >= 1) with first backoff b: b * 2^(k-1) times
 * 1 - 20% + 40% * u (u uniform in [0, 1)), at most 30 s; at least the
 * hint (when >= 0), up to 30 s.
 */
double
retry_delay_ms(double b, unsigned k, double hint_ms, double u)
{
	double	ms;

	ms = ldexp(b, (int)(k > 0 ? k - 1 : 0));
	ms *= 1.0 - RETRY_JITTER + 2 * RETRY_JITTER * u;
	if (!(ms < RETRY_CAP_MS))
		ms = RETRY_CAP_MS;
	if (hint_ms >= 0 && ms < hint_ms)
		ms = hint_ms < RETRY_CAP_MS ? hint_ms : RETRY_CAP_MS;
	return ms;
}

/*
 * The try of job (now RETRYING) has ended at now and is to be made
 * again: queue it for after its wait.
 */
void
retry_wait(struct job *job, uint64_t now)
{
	struct job_extra	*x = job_extra(job);
	double			 ms;

	ms = retry_delay_ms(x->backoff_ms, x->attempts, x->hint_ms,
	    retry_uniform());
	/* Rounded up to the nanosecond: a wait is never short. */
	timerq_add(&retry_queue, &x->wait, now + (uint64_t)ceil(ms * 1e6));
}

/* job stops waiting for its next try (it is cancelled). */
void
retry_unwait(struct job *job)
{
	timerq_del(&retry_queue, &job_extra(job)->wait);
}

/* A job's wait is over: its batch starts the next try. */
static void
retry_fire(struct timerq_node *node)
{
	struct job_extra	*x = (struct job_extra *)(void *)((char *)node -
				    offsetof(struct job_extra, wait));
	struct job		*job = (struct job *)(void *)(x + 1);

	batch_job_retry(job->batch, job);
}
