/*
 * The memory budget: what each connection holds, and the two limits on
 * it. One policy place for max_connection_bytes and max_memory_bytes.
 */
#ifndef GATHERD_BUDGET_H
#define GATHERD_BUDGET_H

#include <stdint.h>

#include "error.h"

struct batch;
struct conn;
struct job;
struct limits;

/*
 * Bytes held, by kind: one connection's (in struct conn) or all of them
 * (budget_all). Only the loop thread touches them.
 */
struct budget {
	uint64_t	requests;	/* request lines of batches in flight */
	uint64_t	results;	/* finished jobs' results, until replied */
	uint64_t	output;		/* replies not sent yet */
	uint64_t	input;		/* request bytes read, not parsed yet */
};

extern struct budget	budget_all;

void		 budget_attach(struct conn *);
void		 budget_detach(struct conn *);
void		 budget_input_hold(struct conn *, uint64_t);
void		 budget_input_release(struct conn *, uint64_t);
enum err_code	 budget_batch_start(struct conn *, struct batch *, uint64_t,
		    const struct limits *, char **);
void		 budget_batch_done(struct conn *, struct batch *);
void		 budget_job_done(struct conn *, struct job *,
		    const struct limits *);
int		 budget_conn_over(const struct conn *, const struct limits *);
int		 budget_input_over(const struct conn *, const struct limits *);
uint64_t	 budget_conn_held(const struct conn *);
uint64_t	 budget_held(void);
void		 budget_log_refusal(const struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
