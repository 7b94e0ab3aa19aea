/*
 * The sleep job: asyncio.sleep(ms, value). Every sleep waits in one timer
 * queue (timerq.c) on the loop, 16 bytes of heap each, rather than in a
 * struct event of its own: a million of them in flight is the point. Its
 * value is kept as compact JSON text from parse to reply, never as a tree:
 * in the job's text, which a finished job's result replaces (a try that
 * times out and is retried leaves it there for the next). So a sleep is
 * 72 bytes, the job and its ms.
 */

#include <stddef.h>
#include <stdlib.h>

#include "job.h"
#include "jsonw.h"
#include "timerq.h"
#include "xmalloc.h"

struct sleep_job {
	struct job		 job;	/* text: the value, NULL for null */
	double			 ms;
};

static struct timerq	sleep_queue;

static const char *const sleep_keys[] = { "ms", "value", NULL };

static enum err_code
sleep_parse(struct job *job, json_t *obj, const char *path,
    const struct config *cfg, char **cause)
{
	struct sleep_job	*s = (struct sleep_job *)job;
	json_t			*v;
	enum err_code		 err;

	(void)cfg;
	if ((err = job_get_ms(obj, path, "ms", 1, &s->ms, cause)) != ERR_NONE)
		return err;
	v = json_object_get(obj, "value");
	if (v != NULL && !json_is_null(v))
		job->text = jsonw_dump(v);
	return ERR_NONE;
}

/* Its time has come. */
static void
sleep_fire(struct timerq_node *node)
{
	struct job	*job = (struct job *)(void *)((char *)node -
			    offsetof(struct job, timer));
	char		*value = job->text;

	job->text = NULL;
	job_finish_ok(job, value);
}

/* Wait until start + ms, to the nanosecond rounded up: never short. */
static void
sleep_start(struct job *job)
{
	struct sleep_job	*s = (struct sleep_job *)job;
	double			 ns = s->ms * 1e6;
	uint64_t		 at;

	/* Any number from the wire: longer than 285 years is 285 years. */
	if (!(ns < 9e18))
		ns = 9e18;
	at = job->start_ns + (uint64_t)ns;
	if ((double)(at - job->start_ns) < ns)
		at++;
	timerq_add(&sleep_queue, &job->timer, at);
}

/* When the sleep started last ends: its timer's deadline. */
static uint64_t
sleep_ends(const struct job *job)
{
	return timerq_at(&sleep_queue, &job->timer);
}

static void
sleep_cancel(struct job *job)
{
	timerq_del(&sleep_queue, &job->timer);
}

/* At start-up: the queue, on the loop. */
static void
sleep_init(struct event_base *base)
{
	timerq_init(&sleep_queue, base, sleep_fire);
}

/* At exit: the queue goes with the loop. */
static void
sleep_fini(void)
{
	timerq_free(&sleep_queue);
}

_Static_assert(sizeof(struct sleep_job) <= 72, "a sleep stays in malloc's"
    " 80-byte size class");

const struct job_type job_type_sleep = {
	JOB_TYPE_COMMON(sleep),
	.ends = sleep_ends,
	.init = sleep_init,
	.fini = sleep_fini,
};
