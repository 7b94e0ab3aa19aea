/*
 * The memory budget. Every byte a client can make the daemon keep for it
 * is counted against that client's connection, in four kinds:
 *
 *	requests	the request line of each batch in flight, from its
 *			start to its reply (an upper bound on what the batch
 *			keeps of it: sleep values, paths, SQL, params);
 *	results		each finished job's result text, plus a constant for
 *			its framing in the reply, until the batch replies;
 *	output		replies and other lines not yet taken by the socket
 *			(an evbuffer callback follows the output exactly);
 *	input		request bytes read and not yet parsed (likewise).
 *
 * Two limits apply (Redis's client-output-buffer-limit and maxmemory are
 * the models):
 *
 *	max_connection_bytes	requests + results + output of one
 *				connection. A batch that would take it past
 *				is refused busy; a result or reply that does
 *				closes the connection (its batches cancelled,
 *				a warning logged with its peer).
 *	max_memory_bytes	all four kinds, all connections. A batch, or
 *				a job's value, that would pass it is refused
 *				busy; so is a request line still arriving
 *				(past 16 KiB) when it is passed (conn.c drops
 *				the line).
 *
 * Not counted here, and bounded by other limits (README, "Memory"): a
 * value a worker is building or has built and not yet handed back (at
 * most POOL_HANDOFF per thread), the jobs' structs (max_inflight_jobs),
 * the tree of the request being parsed (max_request_bytes), the
 * connections themselves (max_connections).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "batch.h"
#include "budget.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "job.h"
#include "log.h"
#include "xmalloc.h"

/*
 * What a result adds to its reply besides its text:
 * {"ok":false,"ms":1234567.890,"error":{"code":"bad_encoding","message":}}
 */
#define BUDGET_FRAMING		96


/*
 * A request line still arriving is dropped for max_memory_bytes only once
 * it is this long: a client that writes a ping and its newline apart is
 * not refused for it. What this lets through is max_connections times
 * this, at most.
 */
#define BUDGET_INPUT_SMALL	(16 * 1024)

struct budget	budget_all;

static struct log_limit	budget_log_limit;	/* refusals' lines */

static uint64_t
budget_sum(const struct budget *b)
{
	return b->requests + b->results + b->output + b->input;
}

/*
 * What all connections hold, every kind: what max_memory_bytes bounds
 * (status reports it as held_bytes, without input, plus input_bytes).
 */
uint64_t
budget_held(void)
{
	return budget_sum(&budget_all);
}

/* What one connection holds against max_connection_bytes (not its input). */
uint64_t
budget_conn_held(const struct conn *c)
{
	return c->budget.requests + c->budget.results + c->budget.output;
}

/* Move one kind of c's count (and the total) by added and removed bytes. */
static void
budget_move(uint64_t *mine, uint64_t *all, uint64_t added, uint64_t removed)
{
	*mine += added;
	*all += added;
	*mine -= removed;
	*all -= removed;
}

/* One of c's buffers grew or shrank: move its count. */
static void
budget_buffer_cb(struct evbuffer *evb, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn	*c = arg;

	if (evb == bufferevent_get_output(c->bev))
		budget_move(&c->budget.output, &budget_all.output,
		    info->n_added, info->n_deleted);
	else
		budget_move(&c->budget.input, &budget_all.input,
		    info->n_added, info->n_deleted);
}

/* Follow a new connection's input and output buffers. */
void
budget_attach(struct conn *c)
{
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
	    budget_buffer_cb, c);
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev),
	    budget_buffer_cb, c);
	if (c->out_cb == NULL || c->in_cb == NULL)
		fatalx("%s: evbuffer_add_cb failed", __func__);
}

/*
 * A request line left c's input for the parse thread (conn.c): it stays
 * counted as c's input until it is answered, so lines waiting for that
 * thread are bounded by max_memory_bytes like lines still in a buffer.
 * Once c's buffers are gone (budget_detach) there is nothing to release.
 */
void
budget_input_hold(struct conn *c, uint64_t bytes)
{
	budget_move(&c->budget.input, &budget_all.input, bytes, 0);
}

/* The line held by budget_input_hold was answered (c still has its socket). */
void
budget_input_release(struct conn *c, uint64_t bytes)
{
	if (c->bev != NULL)
		budget_move(&c->budget.input, &budget_all.input, 0, bytes);
}

/*
 * The connection's buffers are about to be freed with what they hold:
 * stop following them, and count that as released.
 */
void
budget_detach(struct conn *c)
{
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	c->out_cb = c->in_cb = NULL;
	budget_move(&c->budget.output, &budget_all.output, 0,
	    c->budget.output);
	budget_move(&c->budget.input, &budget_all.input, 0, c->budget.input);
}

/*
 * Log a refusal at info level, at most one line a second: a batch of a
 * hundred thousand refused values must not write as many lines.
 */
void
budget_log_refusal(const struct conn *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*what;

	if (log_limit_skip(&budget_log_limit))
		return;
	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	log_limited(&budget_log_limit, "connection %llu (pid %ld uid %ld): %s",
	    (unsigned long long)c->id, (long)c->pid, (long)c->uid, what);
	free(what);
}

/*
 * A batch of bytes (its request line's length) is about to start on c:
 * count it, or refuse it with busy when it would take c past
 * max_connection_bytes or everything past max_memory_bytes (of l, the
 * limits in force).
 */
enum err_code
budget_batch_start(struct conn *c, struct batch *b, uint64_t bytes,
    const struct limits *l, char **cause)
{
	uint64_t	more;

	/*
	 * The line is still in c's input, where it is counted, until it
	 * is dropped once parsed: what the batch adds to everything held is
	 * only what it holds beyond that.
	 */
	more = bytes - (c->budget.input < bytes ? c->budget.input : bytes);
	if (budget_conn_held(c) + bytes > l->max_connection_bytes) {
		*cause = xasprintf("max_connection_bytes (%llu) would be"
		    " exceeded: this connection holds %llu bytes, the request"
		    " is %llu", (unsigned long long)l->max_connection_bytes,
		    (unsigned long long)budget_conn_held(c),
		    (unsigned long long)bytes);
	} else if (budget_held() + more > l->max_memory_bytes) {
		*cause = xasprintf("max_memory_bytes (%llu) would be exceeded:"
		    " %llu bytes are held, the request is %llu",
		    (unsigned long long)l->max_memory_bytes,
		    (unsigned long long)budget_held(),
		    (unsigned long long)bytes);
	} else {
		b->request_bytes = bytes;
		budget_move(&c->budget.requests, &budget_all.requests, bytes, 0);
		return ERR_NONE;
	}
	budget_log_refusal(c, "busy: %s", *cause);
	return ERR_BUSY;
}

/* What a finished job's result is counted as. */
static uint64_t
budget_job_bytes(const struct job *job)
{
	return (job->text_len != JOB_LEN_UNKNOWN ? job->text_len : 0) +
	    BUDGET_FRAMING;
}

/*
 * b has replied (or its client is gone): release its request and its
 * results, every level's (budget_job_done added them up in b).
 */
void
budget_batch_done(struct conn *c, struct batch *b)
{
	budget_move(&c->budget.results, &budget_all.results, 0,
	    b->result_bytes);
	budget_move(&c->budget.requests, &budget_all.requests, 0,
	    b->request_bytes);
	b->result_bytes = 0;
	b->request_bytes = 0;
}

/* Replace a job's value by an error: it is not kept. */
static void
budget_refuse(struct job *job, enum err_code code, char *message)
{
	free(job->text);
	job->text = message;
	job->text_len = JOB_LEN_UNKNOWN;
	job->outcome = code == ERR_CANCELLED ? JOB_CANCELLED : JOB_FAILED;
	job->code = (uint8_t)code;
}

/*
 * A job of one of c's batches has just finished (job_finish, through the
 * batch's charge callback): count its result against c. A value that
 * would take everything past l's max_memory_bytes becomes busy; one for a
 * connection being closed is dropped. Whether c is now past
 * max_connection_bytes is budget_conn_over's to say, and the caller's to
 * act on.
 */
void
budget_job_done(struct conn *c, struct job *job, const struct limits *l)
{
	struct batch	*b = job->batch;
	uint64_t	 len, need;

	if (job->text != NULL && job->text_len == JOB_LEN_UNKNOWN &&
	    (len = strlen(job->text)) < JOB_LEN_UNKNOWN)
		job->text_len = (uint32_t)len;
	if (job->outcome == JOB_OK && job->text != NULL) {
		len = job->text_len != JOB_LEN_UNKNOWN ? job->text_len :
		    UINT64_MAX / 4;
		/* A streamed result is copied into an event line as well. */
		need = (len + BUDGET_FRAMING) * (b->stream ? 2 : 1);
		if (c->overflow)
			budget_refuse(job, ERR_CANCELLED, xasprintf("cancelled:"
			    " the connection is closed for passing"
			    " max_connection_bytes (%llu)",
			    (unsigned long long)l->max_connection_bytes));
		else if (budget_held() + need > l->max_memory_bytes) {
			budget_refuse(job, ERR_BUSY, xasprintf(
			    "max_memory_bytes (%llu) would be exceeded: %llu"
			    " bytes are held, this value is %llu",
			    (unsigned long long)l->max_memory_bytes,
			    (unsigned long long)budget_held(),
			    (unsigned long long)len));
			budget_log_refusal(c, "busy: %s", job->text);
		}
		if (job->text_len == JOB_LEN_UNKNOWN)
			job->text_len = (uint32_t)strlen(job->text);
	}
	len = budget_job_bytes(job);
	budget_move(&c->budget.results, &budget_all.results, len, 0);
	/* Released with the top-level batch, whatever level job is at. */
	batch_root(b)->result_bytes += len;
}

/* Whether c holds more than l's max_connection_bytes (and is still open). */
int
budget_conn_over(const struct conn *c, const struct limits *l)
{
	return !c->overflow && c->bev != NULL &&
	    budget_conn_held(c) > l->max_connection_bytes;
}

/*
 * Whether the request line c is receiving must be dropped: everything
 * held is past l's max_memory_bytes, and the line is not a short one. Only
 * a line still arriving counts (c is reading and has input left after
 * parsing every whole line). A connection with a line in parse is not
 * reading: its input holds lines read with that one's end, waiting their
 * turn, and the line in parse counts in it (budget_input_hold), so
 * dropping the input then would answer busy before the line in parse
 * and lose the lines behind it.
 */
int
budget_input_over(const struct conn *c, const struct limits *l)
{
	return !c->paused && c->parse == NULL &&
	    c->budget.input >= BUDGET_INPUT_SMALL &&
	    budget_held() > l->max_memory_bytes;
}
