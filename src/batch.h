/*
 * A batch: the jobs of one request, gathered. It owns its jobs, counts the
 * unfinished ones, applies its mode, concurrency and deadline, and hands
 * its reply to its connection when the last job finishes.
 */
#ifndef GATHERD_BATCH_H
#define GATHERD_BATCH_H

#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "error.h"

struct conn;
struct event;
struct job;
struct snapshot;

enum batch_mode {
	BATCH_ALL,
	BATCH_FAIL_FAST,
};

struct batch {
	TAILQ_ENTRY(batch)	 entry;		/* in its connection's list */
	struct conn		*conn;		/* borrowed; NULL before start */
	struct snapshot		*snap;		/* a reference: its configuration */
	json_t			*id;		/* owned, never NULL */
	char			*id_text;	/* owned: id as compact JSON */
	struct job		**jobs;		/* owned, njobs of them */
	uint32_t		 njobs;
	uint32_t		 next;		/* next job to start */
	uint32_t		 running;
	uint32_t		 unfinished;
	uint32_t		 concurrency;	/* 0: unlimited */
	double			 timeout_ms;	/* < 0: none */
	struct event		*deadline;	/* owned, or NULL */
	uint64_t		 recv_ns;	/* when the request was read */
	uint64_t		 done_ns;	/* when the last job finished */
	uint64_t		 request_bytes;	/* counted in the budget */
	uint32_t		 nok, nfailed, ncancelled, ntimedout;
	double			 sum_ms;
	uint8_t			 mode;		/* enum batch_mode */
	uint8_t			 stream;
	uint8_t			 stopping;	/* cancelling the rest */
	int			 depth;		/* > 0 inside a loop over jobs */
};

struct batch	*batch_new(json_t *, const char *, uint64_t,
		    struct snapshot *);
void		 batch_free(struct batch *);
void		 batch_start(struct batch *, struct conn *);
void		 batch_job_done(struct batch *, struct job *, int);
void		 batch_cancel(struct batch *, enum err_code, const char *);

#endif
