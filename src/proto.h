/*
 * The wire protocol: request validation and reply encoding. No I/O, no
 * logging: errors come back as codes and messages for the caller to send.
 */
#ifndef GATHERD_PROTO_H
#define GATHERD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct batch;
struct evbuffer;
struct job;
struct snapshot;

#define PROTO_VERSION	1

enum proto_op {
	OP_BATCH,
	OP_PING,
	OP_STATUS,
	OP_CANCEL,
	OP_METRICS,
};

/* Which connections a cancel looks at (our extension "conn"). */
#define CANCEL_OWN	(-1)	/* the requesting connection (the default) */
#define CANCEL_ANY	(-2)	/* every connection */

struct request {
	enum proto_op	 op;
	json_t		*id;		/* owned; NULL until parsed */
	char		*id_text;	/* owned: id as the client wrote it */
	struct batch	*batch;		/* owned: OP_BATCH */
	int		 detail;	/* OP_STATUS */
	json_t		*target;	/* owned: OP_CANCEL; NULL: every batch */
	int64_t		 cancel_conn;	/* OP_CANCEL: CANCEL_* or a conn id */
	uint64_t	 bytes;		/* the line's length (budget.c) */
};

enum err_code	 proto_parse(const char *, size_t, struct snapshot *,
		    uint64_t, struct request *, char **);
void		 proto_request_clear(struct request *);

void		 proto_write_error(struct evbuffer *, const char *,
		    enum err_code, const char *);
void		 proto_write_pong(struct evbuffer *, const char *);
void		 proto_write_status(struct evbuffer *, const char *, json_t *);
void		 proto_write_cancelled(struct evbuffer *, const char *,
		    unsigned);
void		 proto_write_metrics(struct evbuffer *, const char *,
		    const char *, size_t);
void		 proto_write_result(struct evbuffer *, struct job *);
void		 proto_write_event(struct evbuffer *, const struct batch *,
		    struct job *);
void		 proto_write_reply(struct evbuffer *, struct batch *);

#endif
