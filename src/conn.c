/*
 * A client connection. Input is split into lines without copying; each
 * line is one request, answered on the same connection. Output is bounded:
 * past max_output_bytes of unsent replies the connection stops reading
 * until its output drains, so a client that does not read cannot grow the
 * daemon's memory by sending more.
 *
 * Replies are not written as they are made: a connection with new output
 * joins the flush queue, and once per loop iteration, after every other
 * callback that was ready, each queued connection's output is written
 * with one writev() of everything it got meanwhile (Redis's
 * handleClientsWithPendingWrites). Only output the socket does not take at
 * once makes the bufferevent watch for writability: the common reply
 * costs no epoll_ctl() at all.
 *
 * A line of CONN_PARSE_BYTES or more is parsed and validated on the parse
 * thread (parser.c), not here: the loop only moves it out of the input
 * and, when it comes back, starts its batch. Until then the connection
 * reads no more and handles none of its next lines, so replies keep the
 * order of the requests as before. A connection closed meanwhile cuts
 * its link to the parse, whose result is then dropped.
 *
 * A half-close (EOF on read) is not a disconnect: the client still gets
 * every reply, then the connection closes. A full close or reset cancels
 * the connection's batches. On a Unix stream socket the two differ in
 * poll(): only a full close raises POLLHUP, which is checked at EOF and
 * then periodically while batches are in flight.
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "budget.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "parser.h"
#include "pool.h"
#include "peer.h"
#include "proto.h"
#include "reqlog.h"
#include "server.h"
#include "snapshot.h"
#include "status.h"
#include "xmalloc.h"

#define CONN_HUP_CHECK_MS	250
/*
 * Lines this long go to the parse thread: jansson takes about half a
 * millisecond for 64 KiB, and shorter lines cost less than the hand-over.
 */
#define CONN_PARSE_BYTES	(64 * 1024)
#define CONN_FLUSH_WRITES	4	/* per connection and loop iteration */

/*
 * Read up to this much at a time (libevent's default is 16 KiB). Finding
 * the newline starts with evbuffer_ptr_set(), which walks the input's
 * chunks from the first: a 30 MB request read 16 KiB at a time made that
 * walk quadratic. Small requests still get small reads (FIONREAD).
 */
#define CONN_READ_MAX		(1024 * 1024)

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_process(struct conn *);
static void	conn_written(struct conn *);

static TAILQ_HEAD(, conn)	 conn_flushq = TAILQ_HEAD_INITIALIZER(conn_flushq);
static struct event		*conn_flusher;

/* Wrap an accepted socket (non-blocking) of peer as connection number id. */
struct conn *
conn_new(int fd, uint64_t id, const struct peer *peer)
{
	struct conn	*c;

	c = xcalloc(1, sizeof *c);
	c->id = id;
	c->start_ns = clock_ns();
	TAILQ_INIT(&c->batches);
	c->pid = peer->pid;
	c->uid = peer->uid;
	c->gid = peer->gid;
	c->bev = bufferevent_socket_new(server_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatalx("%s: bufferevent_socket_new failed", __func__);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* Writes are the flush queue's, until one blocks (conn_flush). */
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_set_max_single_read(c->bev, CONN_READ_MAX);
	budget_attach(c);
	bufferevent_enable(c->bev, EV_READ);
	status.conns_open++;
	status.conns_total++;
	log_debug("connection %llu: pid %ld uid %ld gid %ld",
	    (unsigned long long)id, (long)c->pid, (long)c->uid, (long)c->gid);
	return c;
}

static struct evbuffer *
conn_output(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

/*
 * Write what the socket takes now, in a few writes at most (a client that
 * reads as fast as we write must not keep the loop here); let the
 * bufferevent wait for the socket and write the rest.
 */
static void
conn_flush(struct conn *c)
{
	struct evbuffer	*out;
	int		 n, writes = 0;

	if (c->bev == NULL || c->writing)
		return;
	out = conn_output(c);
	while (evbuffer_get_length(out) > 0) {
		if (writes++ == CONN_FLUSH_WRITES)
			goto later;
		/*
		 * A socket bufferevent keeps the front of its output frozen
		 * so that only it drains it; it thaws it around its own
		 * writes, and so do we.
		 */
		evbuffer_unfreeze(out, 1);
		errno = 0;
		n = evbuffer_write(out, bufferevent_getfd(c->bev));
		evbuffer_freeze(out, 1);
		if (n > 0)
			continue;
		if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
			goto later;
		if (errno == EINTR)
			continue;
		log_debug("connection %llu: write: %s",
		    (unsigned long long)c->id, strerror(errno));
		conn_disconnect(c);
		return;
	}
	conn_written(c);
	return;
later:
	c->writing = 1;
	bufferevent_enable(c->bev, EV_WRITE);
}

/* Once per loop iteration: flush every connection with new output. */
static void
conn_flush_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c;

	(void)fd;
	(void)events;
	(void)arg;
	while ((c = TAILQ_FIRST(&conn_flushq)) != NULL) {
		TAILQ_REMOVE(&conn_flushq, c, flush_entry);
		c->queued = 0;
		conn_flush(c);
	}
}

/* Set up the flush queue's event on the loop. */
void
conn_flush_init(struct event_base *base)
{
	conn_flusher = event_new(base, -1, 0, conn_flush_cb, NULL);
	if (conn_flusher == NULL)
		fatalx("%s: event_new failed", __func__);
}

/* At exit: free the flush queue's event. */
void
conn_flush_free(void)
{
	if (conn_flusher != NULL) {
		event_free(conn_flusher);
		conn_flusher = NULL;
	}
}

/*
 * Output was added: queue the connection for the flush, and stop reading
 * while the output is over the high-water mark.
 */
static void
conn_wrote(struct conn *c)
{
	if (c->bev == NULL)
		return;
	if (budget_conn_over(c, &server_cfg->limits))
		conn_overflow(c);
	if (!c->queued && !c->writing) {
		if (TAILQ_EMPTY(&conn_flushq))
			event_active(conn_flusher, EV_WRITE, 0);
		TAILQ_INSERT_TAIL(&conn_flushq, c, flush_entry);
		c->queued = 1;
	}
	if (c->paused)
		return;
	if (evbuffer_get_length(conn_output(c)) >
	    server_cfg->limits.max_output_bytes) {
		c->paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* Send an error reply, counted by its code for status and metrics. */
static void
conn_write_error(struct conn *c, const char *id, enum err_code code,
    const char *message)
{
	status.errors[code]++;
	proto_write_error(conn_output(c), id, code, message);
}

/*
 * A job of one of c's batches has just finished: count its result against
 * c's budget (or refuse it), and close c, from the loop, if that takes it
 * past max_connection_bytes.
 */
static void
conn_batch_charge(struct job *job, void *arg)
{
	struct conn	*c = arg;

	budget_job_done(c, job, &server_cfg->limits);
	if (budget_conn_over(c, &server_cfg->limits))
		conn_overflow(c);
}

/* A job of a streaming batch of c finished: send its event. */
static void
conn_batch_event(struct batch *b, struct job *job, void *arg)
{
	struct conn	*c = arg;

	if (c->bev == NULL)
		return;
	proto_write_event(conn_output(c), b, job);
	conn_wrote(c);
}

/* A batch of c finished: send its reply (unless the client is gone). */
static void
conn_batch_done(struct batch *b, void *arg)
{
	struct conn	*c = arg;

	TAILQ_REMOVE(&c->batches, b, entry);
	c->nbatches--;
	reqlog_batch(c, b);
	/* Its results move into the reply: not counted twice. */
	budget_batch_done(c, b);
	if (c->bev != NULL) {
		proto_write_reply(conn_output(c), b);
		conn_wrote(c);
	}
	server_batch_finished();
}

static enum err_code
conn_start_batch(struct conn *c, struct request *req, char **cause)
{
	const struct limits	*l = &server_cfg->limits;
	struct batch		*b = req->batch;
	uint64_t		 inflight;

	if (server_draining) {
		*cause = xstrdup("gatherd is shutting down and takes no new"
		    " batch");
		return ERR_SHUTTING_DOWN;
	}
	if (c->nbatches >= l->max_batches_per_connection) {
		*cause = xasprintf("max_batches_per_connection (%llu) reached:"
		    " wait for a reply before sending more",
		    (unsigned long long)l->max_batches_per_connection);
		budget_log_refusal(c, "busy: %s", *cause);
		return ERR_BUSY;
	}
	/* Every level's jobs count, groups' own and those inside them. */
	inflight = status.jobs_running + status.jobs_waiting +
	    status.jobs_retrying;
	if (inflight + b->ntotal > l->max_inflight_jobs) {
		*cause = xasprintf("max_inflight_jobs (%llu) would be exceeded:"
		    " %llu jobs in flight, %llu more requested",
		    (unsigned long long)l->max_inflight_jobs,
		    (unsigned long long)inflight,
		    (unsigned long long)b->ntotal);
		budget_log_refusal(c, "busy: %s", *cause);
		return ERR_BUSY;
	}
	if (budget_batch_start(c, b, req->bytes, l, cause) != ERR_NONE)
		return ERR_BUSY;
	req->batch = NULL;
	/* Listed first: an empty batch is done before batch_start returns. */
	TAILQ_INSERT_TAIL(&c->batches, b, entry);
	c->nbatches++;
	batch_set_charge(b, conn_batch_charge);
	batch_start(b, conn_batch_done, b->stream ? conn_batch_event : NULL,
	    c);
	return ERR_NONE;
}

/* The metrics reply: the Prometheus text, in a JSON string. */
static void
conn_write_metrics(struct conn *c, const char *id)
{
	struct evbuffer	*text;
	size_t		 len;

	if ((text = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	metrics_write(text, server_cfg);
	len = evbuffer_get_length(text);
	proto_write_metrics(conn_output(c), id,
	    (const char *)evbuffer_pullup(text, -1), len);
	evbuffer_free(text);
}

static enum err_code
conn_dispatch(struct conn *c, struct request *req, char **cause)
{
	json_t		*st;
	unsigned	 n;

	switch (req->op) {
	case OP_PING:
		proto_write_pong(conn_output(c), req->id_text);
		break;
	case OP_STATUS:
		st = status_json(server_cfg);
		metrics_status(st);
		if (req->detail) {
			json_object_set_new(json_object_get(st, "batches"),
			    "list", server_batch_list(c));
			json_object_set_new(json_object_get(st,
			    "connections"), "list", server_conn_list(c));
		}
		proto_write_status(conn_output(c), req->id_text, st);
		json_decref(st);
		break;
	case OP_CANCEL:
		/* Cancelling replies to batches, c's own among them, first. */
		n = server_cancel(c, req->target, req->cancel_conn);
		if (c->bev != NULL)
			proto_write_cancelled(conn_output(c), req->id_text, n);
		break;
	case OP_METRICS:
		conn_write_metrics(c, req->id_text);
		break;
	case OP_BATCH:
		return conn_start_batch(c, req, cause);
	}
	return ERR_NONE;
}

/*
 * Answer a parsed request: err and cause (owned) are what proto_parse
 * said. req is cleared.
 */
static void
conn_answer(struct conn *c, struct request *req, enum err_code err,
    char *cause)
{
	if (err == ERR_NONE)
		err = conn_dispatch(c, req, &cause);
	if (err != ERR_NONE && c->bev != NULL) {
		reqlog_error(c, err, cause);
		conn_write_error(c, req->id_text, err, cause);
	}
	free(cause);
	proto_request_clear(req);
	if (c->bev != NULL)
		conn_wrote(c);
}

/* Answer one request line, parsed here. */
static void
conn_request(struct conn *c, const char *line, size_t len)
{
	struct request	 req;
	char		*cause = NULL;
	enum err_code	 err;

	err = proto_parse(line, len, server_snap, clock_ns(), &req, &cause);
	conn_answer(c, &req, err, cause);
}

/*
 * A request line on the parse thread. Ownership: the parser's from
 * parser_submit() until conn_parsed(), which frees it; c->parse borrows
 * it meanwhile, and conn_close() cuts the link both ways.
 */
struct conn_parse {
	struct pool_work	 work;
	struct conn		*conn;		/* borrowed; NULL once closed */
	struct evbuffer		*line;		/* owned: moved out of the input;
						   freed once parsed */
	struct snapshot		*snap;		/* a reference, taken on the loop */
	uint64_t		 recv_ns;
	size_t			 bytes;		/* the line's, held in the budget */
	int			 blank;		/* only whitespace: no answer */
	struct request		 req;		/* the parse's result */
	enum err_code		 err;
	char			*cause;		/* owned */
};

static int
conn_blank(const unsigned char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	}
	return 1;
}

/* On the parse thread: parse the line, under the snapshot of its receipt. */
static void
conn_parse_run(struct pool_work *w)
{
	struct conn_parse	*p = (struct conn_parse *)w;
	size_t			 len = evbuffer_get_length(p->line);
	const unsigned char	*line = evbuffer_pullup(p->line, -1);

	if (!(p->blank = conn_blank(line, len)))
		p->err = proto_parse((const char *)line, len, p->snap,
		    p->recv_ns, &p->req, &p->cause);
	/* Unmapping 16 MiB is the parse thread's time too, not the loop's. */
	evbuffer_free(p->line);
	p->line = NULL;
}

/*
 * Back on the loop: answer the request (start its batch) if the
 * connection is still there, then read and handle its next lines.
 */
static void
conn_parsed(struct pool_work *w, int abandoned)
{
	struct conn_parse	*p = (struct conn_parse *)w;
	struct conn		*c = p->conn;

	if (c != NULL) {
		c->parse = NULL;
		if (!abandoned && !p->blank) {
			conn_answer(c, &p->req, p->err, p->cause);
			p->cause = NULL;
		}
		budget_input_release(c, p->bytes);
		if (c->bev != NULL && !c->paused && !c->eof &&
		    !server_stopping)
			bufferevent_enable(c->bev, EV_READ);
		conn_process(c);
		if (c->bev != NULL)
			conn_drain_check(c);
	}
	free(p->cause);
	proto_request_clear(&p->req);
	snapshot_unref(p->snap);
	if (p->line != NULL)
		evbuffer_free(p->line);
	free(p);
}

/*
 * Hand the first linelen bytes of in (the line; drop with its newline) to
 * the parse thread, and stop reading until it is answered.
 */
static void
conn_parse_start(struct conn *c, struct evbuffer *in, size_t linelen,
    size_t drop)
{
	struct conn_parse	*p;

	p = xcalloc(1, sizeof *p);
	p->work.run = conn_parse_run;
	p->work.complete = conn_parsed;
	p->conn = c;
	if ((p->line = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	/* Chains move over; at most the last one is copied. */
	evbuffer_remove_buffer(in, p->line, linelen);
	evbuffer_drain(in, drop - linelen);
	p->bytes = linelen;
	budget_input_hold(c, linelen);
	p->snap = snapshot_ref(server_snap);
	p->recv_ns = clock_ns();
	c->parse = p;
	bufferevent_disable(c->bev, EV_READ);
	parser_submit(&p->work);
}

/*
 * The length of the first n bytes of in without the '\r' that may end
 * them: a "\r\n" line ending does not count toward max_request_bytes.
 */
static size_t
conn_strip_cr(struct evbuffer *in, size_t n)
{
	struct evbuffer_ptr	p;
	char			ch;

	if (n == 0 || evbuffer_ptr_set(in, &p, n - 1, EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(in, &p, &ch, 1) != 1)
		return n;
	return ch == '\r' ? n - 1 : n;
}

/*
 * A big line is arriving in in (len bytes so far): give the next reads
 * one large chunk to fill. A read fills what the socket holds, often a
 * few KiB, and each would otherwise be a chunk of its own: thousands for
 * a 30 MB line, every one of them walked by evbuffer_ptr_set() before
 * each search for the newline. The room asked is at most what the line
 * holds already, so the slack stays below the input counted in the
 * budget.
 */
static void
conn_read_room(struct evbuffer *in, size_t len)
{
	size_t	want = len < CONN_READ_MAX ? len : CONN_READ_MAX;

	/* Failing, it only leaves the reads as they were. */
	(void)evbuffer_expand(in, want);
}

/*
 * Handle every complete line in the input, unless paused or waiting for
 * the parse of a big line (conn_parse_start). At EOF a last
 * line without its newline counts too. A line over max_request_bytes (a
 * '\r' before its newline not counted) is answered too_large as soon as
 * the limit is passed, then skipped up to its newline.
 */
static void
conn_process(struct conn *c)
{
	uint64_t		 max = server_cfg->limits.max_request_bytes;
	struct evbuffer		*in;
	struct evbuffer_ptr	 from, nl;
	size_t			 len, linelen, drop;
	unsigned char		*line;

	while (c->bev != NULL && !c->paused && c->parse == NULL) {
		in = bufferevent_get_input(c->bev);
		if ((len = evbuffer_get_length(in)) == 0)
			break;
		evbuffer_ptr_set(in, &from, c->scan_off, EVBUFFER_PTR_SET);
		nl = evbuffer_search(in, "\n", 1, &from);
		if (nl.pos < 0 && !c->eof) {
			c->scan_off = len;
			if (c->discarding) {
				evbuffer_drain(in, len);
				c->scan_off = 0;
			} else if (len > max && conn_strip_cr(in, len) > max) {
				conn_write_error(c, NULL, ERR_TOO_LARGE,
				    "request line exceeds max_request_bytes");
				conn_wrote(c);
				evbuffer_drain(in, len);
				c->scan_off = 0;
				c->discarding = 1;
			} else if (len >= CONN_PARSE_BYTES)
				conn_read_room(in, len);
			break;
		}
		linelen = nl.pos < 0 ? len : (size_t)nl.pos;
		drop = nl.pos < 0 ? len : linelen + 1;
		c->scan_off = 0;
		if (c->discarding) {
			c->discarding = 0;
			evbuffer_drain(in, drop);
			continue;
		}
		if (linelen > max && conn_strip_cr(in, linelen) > max) {
			conn_write_error(c, NULL, ERR_TOO_LARGE,
			    "request line exceeds max_request_bytes");
			conn_wrote(c);
			evbuffer_drain(in, drop);
			continue;
		}
		if (linelen >= CONN_PARSE_BYTES) {
			conn_parse_start(c, in, linelen, drop);
			return;
		}
		line = evbuffer_pullup(in, (ssize_t)drop);
		if (linelen > 0 && line[linelen - 1] == '\r')
			linelen--;
		if (!conn_blank(line, linelen))
			conn_request(c, (const char *)line, linelen);
		if (c->bev == NULL)
			return;
		evbuffer_drain(in, drop);
	}
}

/* The peer closed both directions (not just a half-close). */
static int
conn_peer_gone(struct conn *c)
{
	struct pollfd	pfd;

	pfd.fd = bufferevent_getfd(c->bev);
	pfd.events = POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == -1)
		return 0;
	return (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

static void
conn_hup_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)events;
	if (conn_peer_gone(c))
		conn_disconnect(c);
}

/*
 * Memory is past max_memory_bytes: drop the request line c is receiving
 * with busy, and skip the rest of it up to its newline, as for a line over
 * max_request_bytes. So unparsed input is bounded in all, not only per
 * connection.
 */
static void
conn_refuse_input(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	char		*msg;

	msg = xasprintf("max_memory_bytes (%llu) reached: a request line was"
	    " dropped after %zu bytes; send it again later",
	    (unsigned long long)server_cfg->limits.max_memory_bytes,
	    evbuffer_get_length(in));
	budget_log_refusal(c, "busy: %s", msg);
	conn_write_error(c, NULL, ERR_BUSY, msg);
	free(msg);
	evbuffer_drain(in, evbuffer_get_length(in));
	c->scan_off = 0;
	c->discarding = 1;
	conn_wrote(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	conn_process(c);
	if (c->bev != NULL && !c->discarding &&
	    budget_input_over(c, &server_cfg->limits))
		conn_refuse_input(c);
}

/* The output was blocked and has drained: writes go back to the queue. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	c->writing = 0;
	bufferevent_disable(c->bev, EV_WRITE);
	conn_written(c);
}

/* The output is empty: read again if paused, close if all is done. */
static void
conn_written(struct conn *c)
{
	if (c->paused) {
		c->paused = 0;
		if (!c->eof && !server_stopping && c->parse == NULL)
			bufferevent_enable(c->bev, EV_READ);
		conn_process(c);
	}
	if (c->bev != NULL)
		conn_drain_check(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct timeval	 tv = { 0, CONN_HUP_CHECK_MS * 1000 };

	(void)bev;
	if ((what & BEV_EVENT_ERROR) || (what & BEV_EVENT_WRITING)) {
		log_debug("connection %llu: %s", (unsigned long long)c->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_disconnect(c);
		return;
	}
	if (!(what & BEV_EVENT_EOF))
		return;
	c->eof = 1;
	if (conn_peer_gone(c)) {
		log_debug("connection %llu: closed by peer",
		    (unsigned long long)c->id);
		conn_disconnect(c);
		return;
	}
	conn_process(c);
	if (c->bev == NULL)
		return;
	if (c->hup_check == NULL) {
		c->hup_check = event_new(server_base, -1, EV_PERSIST,
		    conn_hup_cb, c);
		if (c->hup_check == NULL)
			fatalx("%s: event_new failed", __func__);
		event_add(c->hup_check, &tv);
	}
	conn_drain_check(c);
}

/*
 * Close the connection if it has nothing more to do: the client
 * half-closed and everything is answered and flushed, or the server is
 * stopping and the output is flushed. A line in parse is waited for: it
 * gets its answer (shutting_down for a batch, when stopping).
 */
void
conn_drain_check(struct conn *c)
{
	if (c->bev == NULL || evbuffer_get_length(conn_output(c)) != 0 ||
	    c->parse != NULL)
		return;
	if (server_stopping ||
	    (c->eof && c->nbatches == 0 &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0))
		conn_close(c);
}

/*
 * The server is stopping: take what the client has already sent, without
 * waiting for more, and answer it (a batch with shutting_down), so that no
 * complete request that reached the socket goes unanswered: a last line
 * before the end of the stream is complete too, as at any other EOF.
 * Bounded by max_request_bytes, so a client that keeps sending cannot
 * hold the stop, and by max_memory_bytes, as any reading is.
 */
void
conn_final_read(struct conn *c)
{
	const struct limits	*l = &server_cfg->limits;
	struct evbuffer		*in;
	uint64_t		 total = 0;
	int			 n = -1, fd;

	if (c->bev == NULL)
		return;
	bufferevent_disable(c->bev, EV_READ);
	if (c->eof || c->paused)
		return;
	in = bufferevent_get_input(c->bev);
	fd = bufferevent_getfd(c->bev);
	/*
	 * A socket bufferevent keeps the end of its input frozen, so that
	 * only it fills it: evbuffer_read() fails at once, reading nothing.
	 * It thaws it around its own reads, and so do we.
	 */
	evbuffer_unfreeze(in, 0);
	while (total <= l->max_request_bytes &&
	    budget_held() <= l->max_memory_bytes &&
	    (n = evbuffer_read(in, fd, 65536)) > 0)
		total += (uint64_t)n;
	evbuffer_freeze(in, 0);
	if (n == 0)
		c->eof = 1;
	conn_process(c);
}

/* Free the socket and its buffers, and what they held. */
static void
conn_free_bev(struct conn *c)
{
	budget_detach(c);
	bufferevent_free(c->bev);
	c->bev = NULL;
}

/* The client is gone: cancel its batches without replies, and close. */
void
conn_disconnect(struct conn *c)
{
	struct batch	*b;

	if (c->bev == NULL)
		return;
	if (!c->overflow)
		reqlog_disconnect(c);
	conn_free_bev(c);
	while ((b = TAILQ_FIRST(&c->batches)) != NULL)
		batch_cancel(b, ERR_CANCELLED, "client disconnected");
	conn_close(c);
}

/* Release the socket; the struct is freed later, from the loop. */
void
conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	if (c->parse != NULL) {
		/* Its result is dropped when it comes back (conn_parsed). */
		c->parse->conn = NULL;
		c->parse = NULL;
	}
	if (c->queued) {
		TAILQ_REMOVE(&conn_flushq, c, flush_entry);
		c->queued = 0;
	}
	if (c->bev != NULL)
		conn_free_bev(c);
	if (c->hup_check != NULL) {
		event_free(c->hup_check);
		c->hup_check = NULL;
	}
	if (c->overflow_ev != NULL) {
		event_free(c->overflow_ev);
		c->overflow_ev = NULL;
	}
	status.conns_open--;
	log_debug("connection %llu: closed", (unsigned long long)c->id);
	server_conn_closed(c);
}

static void
conn_overflow_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	conn_disconnect(arg);
}

/*
 * The connection holds more than max_connection_bytes: close it and
 * cancel its batches, as Redis does past its client output buffer's hard
 * limit. From the loop, not here: this is called while one of its batches
 * is finishing a job or writing a reply. Meanwhile its new values are
 * dropped (budget_job_done).
 */
void
conn_overflow(struct conn *c)
{
	if (c->overflow || c->bev == NULL)
		return;
	c->overflow = 1;
	status.refused[STATUS_CLOSED_MAX_BYTES]++;
	log_info("connection %llu (pid %ld uid %ld gid %ld): %llu bytes held"
	    " (results and unsent replies), past max_connection_bytes"
	    " (%llu): closing it and cancelling its %u batches",
	    (unsigned long long)c->id, (long)c->pid, (long)c->uid,
	    (long)c->gid, (unsigned long long)budget_conn_held(c),
	    (unsigned long long)server_cfg->limits.max_connection_bytes,
	    c->nbatches);
	c->overflow_ev = event_new(server_base, -1, 0, conn_overflow_cb, c);
	if (c->overflow_ev == NULL)
		fatalx("%s: event_new failed", __func__);
	event_active(c->overflow_ev, EV_TIMEOUT, 0);
}
