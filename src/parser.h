/*
 * The parse thread: one thread of its own where big request lines are
 * parsed and validated, so that the loop never waits on a parse (a line of
 * 16 MiB takes jansson a second or more). It is not the worker pool:
 * clients can fill that with long reads and queries, and a parse must not
 * wait behind them, nor they behind a parse.
 *
 * Work is a struct pool_work (pool.h), of which only entry, run and
 * complete are used here: run() on the parse thread, then complete() on
 * the loop thread, in the order submitted; or, when the parser stops
 * (parser_free), complete() with abandoned set, whether or not run() was
 * called: then the result is only to be freed. The thread also frees the
 * big trees such requests leave behind (parser_release). Ownership: an
 * item belongs to its submitter until parser_submit(), to the parser
 * until complete() is called, and to complete() after that.
 */
#ifndef GATHERD_PARSER_H
#define GATHERD_PARSER_H

#include <jansson.h>

struct event_base;
struct pool_work;

int	parser_init(struct event_base *, char **);
void	parser_free(void);
void	parser_submit(struct pool_work *);
void	parser_release(json_t *);

#endif
