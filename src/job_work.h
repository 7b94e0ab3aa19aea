/*
 * A job's work on the worker pool that ends the job with a text: a file
 * read, an SQLite query, a large HTTP value to encode. A type's work item
 * begins with a struct job_work. The type fills pw.run, detach and free and
 * calls job_work_submit(); the worker sets code and text; back on the
 * loop, the job ends with them unless it has gone, and the item is freed.
 * A job that is cancelled lets go of its item with job_work_cancel().
 */
#ifndef GATHERD_JOB_WORK_H
#define GATHERD_JOB_WORK_H

#include <stddef.h>

#include "error.h"
#include "pool.h"

struct job;

struct job_work {
	struct pool_work	 pw;
	struct job		*job;		/* loop only; NULL once it has gone */
	/*
	 * On the loop, just before the job ends with the result, or when
	 * it is cancelled: the job forgets its pointer to the item.
	 */
	void			(*detach)(struct job *);
	/* Free what the type's item owns (not text, not the item). */
	void			(*free)(struct job_work *);
	/* Set by the worker: */
	enum err_code		 code;		/* ERR_NONE if ok */
	char			*text;		/* owned: value JSON or message */
	size_t			 len;		/* of a value */
};

void	job_work_submit(struct job_work *, struct job *);
int	job_work_cancel(struct job_work *);

#endif
