/*
 * A batch: the jobs of one request, gathered. It owns its jobs, counts the
 * unfinished ones, applies its mode, concurrency and deadline, and tells
 * whoever started it what happened through callbacks (tmux's job_run(),
 * memcached's io_pending_t): it knows nothing of connections, so a
 * connection, a job that owns a nested batch, or a unit test with a fake
 * job type can each drive one.
 *
 * The callbacks, with the arg given to batch_start:
 *
 *	charge	a job has just finished, before anyone sees its result or
 *		counts it: count the result against a budget, or refuse it
 *		by rewriting the job's outcome, code and text. Set with
 *		batch_set_charge on a top-level batch; a nested batch's jobs
 *		are charged to its root, with the root's arg.
 *	event	a job has finished and is counted (the connection sends a
 *		stream event). NULL: not wanted.
 *	done	every job has finished: the results and counts are final.
 *		The batch is freed when done returns; a cancel from done
 *		does nothing.
 *
 * A nested batch (batch_nest, batch_start_nested) belongs to a job of its
 * parent, its owner, as a group's jobs do: its jobs are charged to the
 * root's account (charge, with job->batch telling a nested job from a
 * top-level one, and the worker pool's round-robin key, job_owner), and
 * count in status as jobs; only top-level batches count in status as
 * batches. Its owner frees it, after its done: its results are the
 * owner's value until the root replies. A root counts every job at every
 * level (ntotal): admission checks max_inflight_jobs against that, status
 * counts them all as waiting from the root's start, and the budget's
 * charges for all their results are added up in the root (result_bytes).
 *
 * Modes: all; fail_fast (the first failure cancels the rest); any (the
 * first success wins, the rest are cancelled); first (the first job to
 * finish wins, the rest are cancelled); sequence (a group's: one job at a
 * time, a failure ends it and the rest are "not run").
 */
#ifndef GATHERD_BATCH_H
#define GATHERD_BATCH_H

#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "error.h"

struct batch;
struct event;
struct event_base;
struct job;
struct snapshot;

enum batch_mode {
	BATCH_ALL,
	BATCH_FAIL_FAST,
	BATCH_ANY,
	BATCH_FIRST,
	BATCH_SEQUENCE,
};

/* Groups nest this deep: a group among a request's jobs is level 1. */
#define BATCH_MAX_DEPTH	16
/* Room for a job's path at the deepest level, "jobs[N].jobs[N]...". */
#define BATCH_PATH_MAX	((BATCH_MAX_DEPTH + 1) * 18)

typedef void	batch_charge_cb(struct job *, void *);
typedef void	batch_event_cb(struct batch *, struct job *, void *);
typedef void	batch_done_cb(struct batch *, void *);

struct batch {
	TAILQ_ENTRY(batch)	 entry;		/* the starter's: its list */
	struct batch		*parent;	/* borrowed: NULL at the top */
	struct job		*owner;		/* borrowed: parent's job owning it */
	batch_charge_cb		*charge_cb;	/* or NULL: nothing counted */
	batch_event_cb		*event_cb;	/* or NULL */
	batch_done_cb		*done_cb;
	void			*cb_arg;	/* the starter's, passed back */
	struct snapshot		*snap;		/* a reference: its configuration */
	json_t			*id;		/* owned, never NULL */
	char			*id_text;	/* owned: id as compact JSON */
	struct job		**jobs;		/* owned, njobs of them */
	uint32_t		 njobs;
	uint32_t		 next;		/* next job to start */
	uint32_t		 running;
	uint32_t		 unfinished;
	uint32_t		 concurrency;	/* 0: unlimited */
	uint64_t		 ntotal;	/* jobs here and nested, every level */
	int64_t			 winner;	/* any, first: who won; -1: none */
	int64_t			 decider;	/* the first to fail; -1: none */
	double			 timeout_ms;	/* < 0: none */
	struct event		*deadline;	/* owned, or NULL */
	uint64_t		 recv_ns;	/* when the request was read */
	uint64_t		 done_ns;	/* when the last job finished */
	uint64_t		 request_bytes;	/* counted in the budget */
	uint64_t		 result_bytes;	/* likewise: results, every level */
	uint32_t		 nok, nfailed, ncancelled, ntimedout;
	double			 sum_ms;
	uint8_t			 mode;		/* enum batch_mode */
	uint8_t			 stream;
	uint8_t			 stopping;	/* cancelling the rest */
	int			 depth;		/* > 0 inside a loop over jobs */
};

void		 batch_init(struct event_base *);
struct batch	*batch_new(json_t *, const char *, uint64_t,
		    struct snapshot *);
void		 batch_free(struct batch *);
void		 batch_set_charge(struct batch *, batch_charge_cb *);
void		 batch_start(struct batch *, batch_done_cb *, batch_event_cb *,
		    void *);
void		 batch_nest(struct batch *, struct job *);
void		 batch_count(struct batch *, uint64_t);
unsigned	 batch_depth(const struct batch *);
void		 batch_path(const struct batch *, uint32_t, char *, size_t);
void		 batch_start_nested(struct batch *, struct batch *,
		    batch_done_cb *, batch_event_cb *, void *);
void		 batch_start_cancelled(struct batch *, struct batch *,
		    batch_done_cb *, void *, enum err_code, const char *);
struct batch	*batch_root(struct batch *);
int		 batch_mode_find(const char *);
int		 batch_ok(const struct batch *);
void		 batch_job_retry(struct batch *, struct job *);
void		 batch_job_charge(struct batch *, struct job *);
void		 batch_job_done(struct batch *, struct job *, int);
void		 batch_cancel(struct batch *, enum err_code, const char *);
void		 batch_status(const struct batch *, json_t *, uint64_t);

#endif
