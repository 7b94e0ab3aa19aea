/*
 * The parse thread: one thread of its own where big request lines are
 * parsed and validated, so that the loop never waits on a parse (a line of
 * 16 MiB takes jansson a second or more). It is not the worker pool:
 * clients can fill that with long reads and queries, and a parse must not
 * wait behind them, nor they behind a parse.
 *
 * Work is a struct parser_work: run() on the parse thread, then
 * complete() on the loop thread, in the order submitted. The thread also
 * frees the big trees such requests leave behind (parser_release). Ownership: an
 * item belongs to its submitter until parser_submit(), to the parser
 * until complete() is called, and to complete() after that.
 */
#ifndef GATHERD_PARSER_H
#define GATHERD_PARSER_H

#include <sys/queue.h>

#include <jansson.h>

struct event_base;

struct parser_work {
	TAILQ_ENTRY(parser_work)	 entry;
	/* On the parse thread: the parse. */
	void				(*run)(struct parser_work *);
	/*
	 * On the loop thread, once, after run(); or with abandoned set when
	 * the parser is stopping (parser_free), whether or not run() was
	 * called: then the result is only to be freed.
	 */
	void				(*complete)(struct parser_work *,
					    int abandoned);
};

int	parser_init(struct event_base *, char **);
void	parser_free(void);
void	parser_submit(struct parser_work *);
void	parser_release(json_t *);

#endif
