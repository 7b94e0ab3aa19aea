/*
 * One client connection: NDJSON framing, dispatch of requests, output with
 * a high-water mark, and the batches in flight on it.
 */
#ifndef GATHERD_CONN_H
#define GATHERD_CONN_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>

#include "batch.h"
#include "budget.h"

struct bufferevent;
struct conn_parse;
struct event;
struct event_base;
struct evbuffer_cb_entry;
struct peer;

struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* in the server's list */
	TAILQ_ENTRY(conn)	 flush_entry;	/* in the flush queue, if queued */
	uint64_t		 id;
	uint64_t		 start_ns;	/* when it was accepted */
	struct bufferevent	*bev;		/* owned; NULL once closed */
	struct event		*hup_check;	/* owned: after a half-close */
	struct event		*overflow_ev;	/* owned: closes it, or NULL */
	struct budget		 budget;	/* what it holds */
	uint64_t		 flush_mark;	/* output at the last look, stopping */
	struct evbuffer_cb_entry *in_cb;	/* budget's, on the input */
	struct evbuffer_cb_entry *out_cb;	/* budget's, on the output */
	TAILQ_HEAD(, batch)	 batches;	/* in flight, started here; not
						   owned (each frees itself) */
	struct conn_parse	*parse;		/* the parser's: a line in parse */
	uint32_t		 nbatches;
	size_t			 scan_off;	/* input already searched for \n */
	pid_t			 pid;
	uid_t			 uid;
	gid_t			 gid;
	unsigned		 discarding:1;	/* skipping an oversized line */
	unsigned		 eof:1;		/* the client half-closed */
	unsigned		 paused:1;	/* reading stopped: output full */
	unsigned		 closed:1;	/* gone; freed from the loop */
	unsigned		 queued:1;	/* in the flush queue */
	unsigned		 writing:1;	/* output blocked: EV_WRITE is on */
	unsigned		 overflow:1;	/* past max_connection_bytes */
};

TAILQ_HEAD(conns, conn);

struct conn	*conn_new(int, uint64_t, const struct peer *);
void		 conn_disconnect(struct conn *);
void		 conn_overflow(struct conn *);
void		 conn_close(struct conn *);
void		 conn_drain_check(struct conn *);
void		 conn_final_read(struct conn *);
void		 conn_flush_init(struct event_base *);
void		 conn_flush_free(void);

#endif
