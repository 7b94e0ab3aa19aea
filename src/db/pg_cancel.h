/*
 * Cancelling a PostgreSQL query on the server without blocking the loop.
 * libpq 15 (Debian 12) has only PQcancel(), which connects to the server
 * and waits for it: each request runs on a thread of its own, never on
 * the shared worker pool (which clients can fill), and its end comes back
 * to the loop as a callback. Threads are few: at most one per connection
 * being cancelled, and each ends as soon as the server has the request.
 */
#ifndef GATHERD_PG_CANCEL_H
#define GATHERD_PG_CANCEL_H

#include <libpq-fe.h>

struct event_base;
struct pg_cancel;

/* Called on the loop: ok is PQcancel()'s result, err its message. */
typedef void	(*pg_cancel_done)(void *, int, const char *);

void		 pg_cancel_init(struct event_base *);
struct pg_cancel *pg_cancel_start(PGconn *, pg_cancel_done, void *);
void		 pg_cancel_forget(struct pg_cancel *);
unsigned	 pg_cancel_running(void);
void		 pg_cancel_free(void);

#endif
