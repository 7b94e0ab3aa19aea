/*
 * The sleep job: a timer on the loop, asyncio.sleep(ms, value). Its value
 * is kept as compact JSON text from parse to reply, never as a tree.
 */

#include <stdlib.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "job.h"
#include "jsonw.h"
#include "server.h"
#include "xmalloc.h"

struct sleep_job {
	struct job	 job;
	struct event	 timer;
	double		 ms;
	char		*value;		/* owned JSON text, NULL for null */
};

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
		s->value = jsonw_dump(v);
	return ERR_NONE;
}

static void
sleep_fire(evutil_socket_t fd, short events, void *arg)
{
	struct sleep_job	*s = arg;
	char			*value = s->value;

	(void)fd;
	(void)events;
	s->value = NULL;
	job_finish_ok(&s->job, value);
}

static void
sleep_start(struct job *job)
{
	struct sleep_job	*s = (struct sleep_job *)job;
	struct timeval		 tv;

	evtimer_assign(&s->timer, server_base, sleep_fire, s);
	clock_ms_timeval(s->ms, &tv);
	evtimer_add(&s->timer, &tv);
}

static void
sleep_cancel(struct job *job)
{
	struct sleep_job	*s = (struct sleep_job *)job;

	evtimer_del(&s->timer);
}

static void
sleep_free(struct job *job)
{
	struct sleep_job	*s = (struct sleep_job *)job;

	free(s->value);
}

const struct job_type job_type_sleep = {
	.name = "sleep",
	.size = sizeof(struct sleep_job),
	.keys = sleep_keys,
	.parse = sleep_parse,
	.start = sleep_start,
	.cancel = sleep_cancel,
	.free = sleep_free,
};
