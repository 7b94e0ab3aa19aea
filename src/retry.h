/*
 * Retries (a job's "retry": {"attempts":N,"backoff_ms":B}): which tries
 * are made again, how long the wait before the next one is, and the one
 * timer queue every job waiting between tries sits in (timerq.c: 16
 * bytes of heap each, as a sleep), so a waiting job holds no worker, no
 * connection and no event of its own.
 *
 * job.c asks retry_again when a try ends and, if so, retry_wait; the
 * queue hands the job back to its batch (batch_job_retry) when its time
 * comes. Not done: a group or sequence is not retried (its jobs may be):
 * that would run its successful jobs again.
 */
#ifndef GATHERD_RETRY_H
#define GATHERD_RETRY_H

#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct event_base;
struct job;

#define RETRY_MAX_TRIES		10
#define RETRY_BACKOFF_MS	100.0	/* B when the request gives none */
#define RETRY_CAP_MS		30000.0	/* no wait is longer, hints included */
/* A first backoff this long waits the cap even 20% short (and fits a float). */
#define RETRY_BACKOFF_MAX_MS	1e9
#define RETRY_JITTER		0.2	/* each wait within 20% either side */

void		 retry_init(struct event_base *);
void		 retry_fini(void);
enum err_code	 retry_parse(json_t *, const char *, unsigned *, double *,
		    char **);
int		 retry_transient(enum err_code, int);
int		 retry_again(const struct job *, int, enum err_code);
double		 retry_delay_ms(double, unsigned, double, double);
void		 retry_wait(struct job *, uint64_t);
void		 retry_unwait(struct job *);

#endif
