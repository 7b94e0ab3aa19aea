/*
 * gatherctl bench: a load generator in the manner of redis-benchmark.
 * CLIENTS connections, each a bufferevent on the daemon's socket, keep up
 * to PIPELINE batches in flight until REQUESTS batches have been answered;
 * it prints requests/s, jobs/s, the latency of a batch (from its request
 * being queued for sending to its final reply) at p50, p99 and max, and
 * the errors.
 *
 * The client must never be the bottleneck, so the request line is built
 * once: every request is a short "{"id":N," prefix followed by the same
 * body, added to the output by reference when it is large. Replies are
 * found by their newline and not parsed: a reply that begins
 * {"id":N,"ok":true is a success, one with "ok":false a failure; only
 * other replies, and the first failure (for its message), go through
 * jansson. The id is the pipeline slot of the connection, so replies that
 * come in another order than the requests are still timed right.
 *
 * A job argument may hold __index__, replaced by the job's index in its
 * batch: as a whole JSON string ("params":["__index__"]) it becomes the
 * integer, inside a string (read:f__index__) its digits. That is how one
 * batch reads distinct files or binds distinct parameters.
 *
 * --probe adds one connection that sends pings back to back while the
 * load runs and reports their latency on its own: how responsive the
 * daemon's loop stays under that load. --overhead reads each batch
 * reply's elapsed_ms and its longest job's ms, and reports elapsed_ms
 * minus the longest job: the cost of the gather itself.
 *
 * Not done: a rate limit (every connection sends as fast as replies come),
 * a time-bounded run, and reconnecting after a lost connection.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "ctl/bench.h"
#include "ctl/exchange.h"
#include "ctl/jobspec.h"
#include "ctl/print.h"
#include "hist.h"
#include "xmalloc.h"

#define BENCH_EXIT_OK		0
#define BENCH_EXIT_FAILED	1
#define BENCH_EXIT_ERROR	2	/* usage or connection */

#define BENCH_INDEX		"__index__"
#define BENCH_HEAD		64	/* reply bytes read for the fast path */
#define BENCH_REFERENCE_MIN	4096	/* bodies this long are not copied */
#define BENCH_READ_MAX		(256 * 1024)
#define BENCH_ERROR_PARSE_MAX	(64u * 1024 * 1024)
#define BENCH_MAX		100000000u	/* -c, -n, -P, jobs per batch */

enum {
	BENCH_OPT_JOB = 256,
	BENCH_OPT_JOBS_PER_BATCH,
	BENCH_OPT_PING,
	BENCH_OPT_PROBE,
	BENCH_OPT_OVERHEAD,
};

struct bench;

/* One connection to the daemon and its pipeline slots. */
struct bench_conn {
	struct bench		*b;
	struct bufferevent	*bev;		/* owned, closes the socket */
	int			 probe;		/* the ping probe */
	const char		*body;		/* borrowed from the bench */
	size_t			 bodylen;
	uint64_t		*sent;		/* owned: clock_ns() per slot, 0 free */
	unsigned		*free;		/* owned: a stack of free slots */
	size_t			 nfree;
	size_t			 nslots;

	/*
	 * A reply line that came in pieces: its first bytes, and the rest
	 * in line unless the head showed a success that needs no more.
	 */
	struct evbuffer		*line;		/* owned */
	char			 head[BENCH_HEAD + 1];
	size_t			 headlen;
	size_t			 linelen;
	int			 discard;	/* line is not kept */
};

/* A bench run: its options, its connections and what it measured. */
struct bench {
	const char		*sock;		/* borrowed */
	char			*sock_owned;	/* owned when -s was given */
	size_t			 clients;
	size_t			 requests;
	size_t			 pipeline;
	size_t			 jobs_per_batch;
	int			 ping;
	int			 probe;
	int			 overhead;
	int			 json;
	char			**templates;	/* owned: job texts */
	size_t			 ntemplates;

	char			*body;		/* owned: a request after "{" */
	size_t			 bodylen;
	struct event_base	*base;		/* owned */
	struct bench_conn	*conns;		/* owned: clients + probe */
	size_t			 nconns;

	size_t			 sent;
	size_t			 done;
	size_t			 errors;
	size_t			 probe_errors;
	char			*first_error;	/* owned, NULL if none */
	int			 lost;		/* a connection closed early */
	uint64_t		 started;
	uint64_t		 ended;
	struct hist		 latency;
	struct hist		 probe_latency;
	struct hist		 gather;	/* elapsed_ms - longest job, us */
	struct hist		 elapsed;	/* the daemon's elapsed_ms, us */
};

static const char bench_usage_text[] =
    "usage: gatherctl bench [-c CLIENTS] [-n REQUESTS] [-P PIPELINE]\n"
    "                       [--job JOB]... [--jobs-per-batch N] [--ping]\n"
    "                       [--probe] [--overhead] [--json] [-s SOCKET]\n"
    "\n"
    "  -c CLIENTS          connections (default 50)\n"
    "  -n REQUESTS         batches to send in all (default 100000)\n"
    "  -P PIPELINE         batches in flight per connection (default 1)\n"
    "  --job JOB           the job template, as for run (default sleep:0);\n"
    "                      repeated, the templates take turns in a batch;\n"
    "                      __index__ stands for the job's index in its batch\n"
    "  --jobs-per-batch N  jobs in each batch (default 1)\n"
    "  --ping              send pings instead of batches\n"
    "  --probe             time pings on one more connection during the load\n"
    "  --overhead          report elapsed_ms minus the longest job per batch\n"
    "  --json              one JSON object (as when stdout is not a terminal)\n"
    "Exit status: 0 every reply ok, 1 some failed, 2 usage or connection "
    "error.\n";

/* Report a usage error on one line, pointing at -h, and return 2. */
static int __attribute__((format(printf, 1, 2)))
bench_usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	print_usage_error("gatherctl bench", "gatherctl bench -h", fmt, ap);
	va_end(ap);
	return BENCH_EXIT_ERROR;
}

/* Parse a count option between 1 and BENCH_MAX; -1 when it is not one. */
static int
bench_count(const char *arg, size_t *out)
{
	char			*end;
	unsigned long long	 v;

	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > BENCH_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* Append len bytes to a growing buffer. */
static void
bench_append(char **buf, size_t *len, size_t *size, const void *p, size_t n)
{
	if (*size - *len < n) {
		while (*size - *len < n)
			*size = *size == 0 ? 4096 : *size * 2;
		*buf = xrealloc(*buf, *size);
	}
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* Append a job template with __index__ replaced by index. */
static void
bench_append_job(char **buf, size_t *len, size_t *size, const char *t,
    size_t index)
{
	const char	*p;
	char		 digits[32];
	size_t		 ndigits, ilen = sizeof BENCH_INDEX - 1;

	ndigits = (size_t)snprintf(digits, sizeof digits, "%zu", index);
	while ((p = strstr(t, BENCH_INDEX)) != NULL) {
		if (p > t && p[-1] == '"' && p[ilen] == '"') {
			/* A whole string: the bare integer. */
			bench_append(buf, len, size, t, (size_t)(p - 1 - t));
			bench_append(buf, len, size, digits, ndigits);
			t = p + ilen + 1;
		} else {
			bench_append(buf, len, size, t, (size_t)(p - t));
			bench_append(buf, len, size, digits, ndigits);
			t = p + ilen;
		}
	}
	bench_append(buf, len, size, t, strlen(t));
}

/*
 * Build the body every request shares: what follows "{" in the request
 * line, newline included.
 */
static void
bench_build_body(struct bench *b)
{
	static const char	 ping[] = "\"op\":\"ping\"}\n";
	char			*buf = NULL;
	size_t			 len = 0, size = 0, i;

	if (b->ping) {
		b->body = xstrdup(ping);
		b->bodylen = sizeof ping - 1;
		return;
	}
	bench_append(&buf, &len, &size, "\"jobs\":[", 8);
	for (i = 0; i < b->jobs_per_batch; i++) {
		if (i > 0)
			bench_append(&buf, &len, &size, ",", 1);
		if (strstr(b->templates[i % b->ntemplates], BENCH_INDEX) ==
		    NULL) {
			bench_append(&buf, &len, &size,
			    b->templates[i % b->ntemplates],
			    strlen(b->templates[i % b->ntemplates]));
		} else {
			bench_append_job(&buf, &len, &size,
			    b->templates[i % b->ntemplates], i);
		}
	}
	bench_append(&buf, &len, &size, "]}\n", 3);
	b->body = buf;
	b->bodylen = len;
}

/* Queue one request on a free slot of the connection. */
static void
bench_send(struct bench_conn *bc)
{
	struct evbuffer	*out = bufferevent_get_output(bc->bev);
	unsigned	 slot;
	char		 head[32];
	int		 n;

	slot = bc->free[--bc->nfree];
	n = snprintf(head, sizeof head, "{\"id\":%u,", slot);
	evbuffer_add(out, head, (size_t)n);
	if (bc->bodylen >= BENCH_REFERENCE_MIN)
		evbuffer_add_reference(out, bc->body, bc->bodylen, NULL, NULL);
	else
		evbuffer_add(out, bc->body, bc->bodylen);
	bc->sent[slot] = clock_ns();
}

/* Keep the connection's pipeline full while there is work to send. */
static void
bench_fill(struct bench_conn *bc)
{
	struct bench	*b = bc->b;

	while (bc->nfree > 0) {
		if (bc->probe) {
			if (b->done >= b->requests)
				break;
		} else {
			if (b->sent >= b->requests)
				break;
			b->sent++;
		}
		bench_send(bc);
	}
}

/* Describe a failed reply for the user: its error, or its first failed job. */
static char *
bench_error_text(const char *line, size_t len)
{
	json_t		*reply, *error, *results, *r;
	const char	*code, *message;
	char		*text;
	size_t		 i;

	if (len > BENCH_ERROR_PARSE_MAX)
		return xstrdup("a failed reply (too large to show)");
	reply = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
	if (reply == NULL)
		return xasprintf("not a JSON reply: %.*s", (int)(len > 80 ?
		    80 : len), line);
	error = json_object_get(reply, "error");
	text = NULL;
	if (error == NULL) {
		results = json_object_get(reply, "results");
		json_array_foreach(results, i, r) {
			if (json_is_true(json_object_get(r, "ok")))
				continue;
			error = json_object_get(r, "error");
			code = json_string_value(json_object_get(error,
			    "code"));
			message = json_string_value(json_object_get(error,
			    "message"));
			text = xasprintf("jobs[%zu]: %s: %s", i,
			    code != NULL ? code : "?",
			    message != NULL ? message : "");
			break;
		}
	} else {
		code = json_string_value(json_object_get(error, "code"));
		message = json_string_value(json_object_get(error, "message"));
		text = xasprintf("%s: %s", code != NULL ? code : "?",
		    message != NULL ? message : "");
	}
	if (text == NULL)
		text = xasprintf("a failed reply: %.*s", (int)(len > 80 ?
		    80 : len), line);
	json_decref(reply);
	return text;
}

/*
 * Read elapsed_ms and the longest job's ms from a batch reply, without a
 * JSON tree: "ms": is the key of a result's time and of nothing else the
 * daemon writes outside the values, and bench's templates put no such
 * text in values.
 */
static int
bench_gather_times(const char *p, size_t len, double *elapsed,
    double *longest)
{
	const char	*q, *end = p + len;

	if ((q = memmem(p, len, "\"elapsed_ms\":", 13)) == NULL)
		return -1;
	*elapsed = strtod(q + 13, NULL);
	*longest = 0;
	for (q = p; (q = memmem(q, (size_t)(end - q), "\"ms\":", 5)) != NULL;
	    q += 5) {
		if (strtod(q + 5, NULL) > *longest)
			*longest = strtod(q + 5, NULL);
	}
	return 0;
}

/*
 * Read a reply's head: {"id":N,"ok":true or "ok":false. 0 with the slot
 * (-1 when not one of ours) and ok; -1 when the head is not of that form.
 */
static int
bench_head(struct bench_conn *bc, const char *head, long *slot, int *ok)
{
	unsigned long	 n;
	char		*end;

	if (strncmp(head, "{\"id\":", 6) != 0 || head[6] < '0' ||
	    head[6] > '9')
		return -1;
	n = strtoul(head + 6, &end, 10);
	if (strncmp(end, ",\"ok\":true", 10) == 0)
		*ok = 1;
	else if (strncmp(end, ",\"ok\":false", 11) == 0)
		*ok = 0;
	else
		return -1;
	*slot = n < bc->nslots ? (long)n : -1;
	return 0;
}

/* The slot a reply answers from its parsed id, -1 if none; *ok its "ok". */
static long
bench_parse_slot(struct bench_conn *bc, const char *line, size_t len,
    int *ok)
{
	json_t		*reply, *id;
	long		 slot = -1;

	reply = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
	*ok = json_is_true(json_object_get(reply, "ok"));
	id = json_object_get(reply, "id");
	if (json_is_integer(id) && json_integer_value(id) >= 0 &&
	    (size_t)json_integer_value(id) < bc->nslots)
		slot = (long)json_integer_value(id);
	json_decref(reply);
	return slot;
}

/*
 * The busy slot a reply without a usable id answers (an error about a
 * line the daemon could not read, id null): the oldest one, the best
 * guess. -1 when none is busy.
 */
static long
bench_oldest_slot(struct bench_conn *bc)
{
	size_t	i;
	long	oldest = -1;

	for (i = 0; i < bc->nslots; i++) {
		if (bc->sent[i] != 0 && (oldest == -1 ||
		    bc->sent[i] < bc->sent[oldest]))
			oldest = (long)i;
	}
	return oldest;
}

/*
 * Account for one reply line of len bytes: head holds its first bytes
 * (NUL-terminated), body the whole line at its start, or NULL when it was
 * not kept (a success by its head, and no --overhead).
 */
static void
bench_reply(struct bench_conn *bc, const char *head, struct evbuffer *body,
    size_t len)
{
	struct bench	*b = bc->b;
	uint64_t	 now = clock_ns();
	const char	*line = NULL;
	double		 elapsed, longest;
	long		 slot;
	int		 ok;

	if (bench_head(bc, head, &slot, &ok) == -1) {
		line = (const char *)evbuffer_pullup(body, (ev_ssize_t)len);
		slot = bench_parse_slot(bc, line, len, &ok);
	}
	if (slot == -1 || bc->sent[slot] == 0) {
		ok = 0;
		slot = bench_oldest_slot(bc);
	}
	if (!ok && b->first_error == NULL) {
		if (line == NULL)
			line = (const char *)evbuffer_pullup(body,
			    (ev_ssize_t)len);
		b->first_error = bench_error_text(line, len);
	}
	if (slot == -1)
		return;	/* an answer to nothing we sent */

	if (bc->probe) {
		hist_record(&b->probe_latency, (now - bc->sent[slot]) / 1000);
		if (!ok)
			b->probe_errors++;
	} else {
		hist_record(&b->latency, (now - bc->sent[slot]) / 1000);
		if (!ok)
			b->errors++;
		if (b->overhead && !b->ping) {
			if (line == NULL)
				line = (const char *)evbuffer_pullup(body,
				    (ev_ssize_t)len);
			if (bench_gather_times(line, len, &elapsed,
			    &longest) == 0) {
				hist_record(&b->elapsed,
				    (uint64_t)(elapsed * 1000));
				hist_record(&b->gather, elapsed > longest ?
				    (uint64_t)((elapsed - longest) * 1000) :
				    0);
			}
		}
		if (++b->done == b->requests) {
			b->ended = now;
			event_base_loopbreak(b->base);
		}
	}
	bc->sent[slot] = 0;
	bc->free[bc->nfree++] = (unsigned)slot;
}

/*
 * Take n more bytes of a reply that is coming in pieces from the input:
 * the head is copied, the rest moved to bc->line, or dropped once the
 * head shows a success that needs nothing more. Moving the bytes out
 * keeps the search for the newline on new input only.
 */
static void
bench_take(struct bench_conn *bc, struct evbuffer *in, size_t n)
{
	size_t	m;
	long	slot;
	int	ok;

	if (bc->headlen < BENCH_HEAD) {
		m = BENCH_HEAD - bc->headlen < n ? BENCH_HEAD - bc->headlen :
		    n;
		evbuffer_copyout(in, bc->head + bc->headlen, m);
		bc->headlen += m;
		bc->head[bc->headlen] = '\0';
		if (bc->headlen == BENCH_HEAD && !bc->b->overhead &&
		    bench_head(bc, bc->head, &slot, &ok) == 0 && ok) {
			bc->discard = 1;
			evbuffer_drain(bc->line, evbuffer_get_length(bc->line));
		}
	}
	bc->linelen += n;
	if (bc->discard)
		evbuffer_drain(in, n);
	else
		evbuffer_remove_buffer(in, bc->line, n);
}

/* Replies arrived: take every whole line, then refill the pipeline. */
static void
bench_read(struct bufferevent *bev, void *arg)
{
	struct bench_conn	*bc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	char			 head[BENCH_HEAD + 1];
	size_t			 n;

	for (;;) {
		p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			if (evbuffer_get_length(in) > 0)
				bench_take(bc, in, evbuffer_get_length(in));
			break;
		}
		if (bc->linelen == 0) {
			/* The common case: the whole line is here. */
			n = (size_t)p.pos < BENCH_HEAD ? (size_t)p.pos :
			    BENCH_HEAD;
			evbuffer_copyout(in, head, n);
			head[n] = '\0';
			bench_reply(bc, head, in, (size_t)p.pos);
			evbuffer_drain(in, (size_t)p.pos + 1);
		} else {
			bench_take(bc, in, (size_t)p.pos);
			evbuffer_drain(in, 1);
			bench_reply(bc, bc->head, bc->discard ? NULL :
			    bc->line, bc->linelen);
			evbuffer_drain(bc->line, evbuffer_get_length(bc->line));
			bc->headlen = bc->linelen = 0;
			bc->discard = 0;
		}
		if (bc->b->done >= bc->b->requests)
			return;
	}
	bench_fill(bc);
}

/* The daemon closed a connection or it failed: the run cannot finish. */
static void
bench_event(struct bufferevent *bev, short what, void *arg)
{
	struct bench_conn	*bc = arg;

	(void)bev;
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) == 0)
		return;
	if (!bc->b->lost) {
		fprintf(stderr, "gatherctl bench: connection %s by gatherd "
		    "at %s\n", (what & BEV_EVENT_ERROR) ? "failed" : "closed",
		    bc->b->sock);
	}
	bc->b->lost = 1;
	event_base_loopbreak(bc->b->base);
}

/* Connect one bufferevent to the socket; -1 with a message when it fails. */
static int
bench_connect(struct bench *b, struct bench_conn *bc, int probe)
{
	struct sockaddr_un	 sun;
	size_t			 i;
	int			 fd;

	if (exchange_sockaddr(&sun, b->sock) == -1) {
		fprintf(stderr, "gatherctl bench: socket path too long: %s\n",
		    b->sock);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1) {
		fprintf(stderr, "gatherctl bench: cannot connect to gatherd "
		    "at %s: %s\n", b->sock, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}

	bc->b = b;
	bc->probe = probe;
	if ((bc->line = evbuffer_new()) == NULL) {
		close(fd);
		fprintf(stderr, "gatherctl bench: evbuffer_new failed\n");
		return -1;
	}
	if (probe) {
		bc->body = "\"op\":\"ping\"}\n";
		bc->bodylen = strlen(bc->body);
		bc->nslots = 1;
	} else {
		bc->body = b->body;
		bc->bodylen = b->bodylen;
		bc->nslots = b->pipeline;
	}
	bc->sent = xcalloc(bc->nslots, sizeof *bc->sent);
	bc->free = xcalloc(bc->nslots, sizeof *bc->free);
	for (i = 0; i < bc->nslots; i++)
		bc->free[i] = (unsigned)(bc->nslots - 1 - i);
	bc->nfree = bc->nslots;
	bc->bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bc->bev == NULL) {
		close(fd);	/* bench_free frees the rest */
		fprintf(stderr, "gatherctl bench: bufferevent_socket_new "
		    "failed\n");
		return -1;
	}
	bufferevent_set_max_single_read(bc->bev, BENCH_READ_MAX);
	bufferevent_setcb(bc->bev, bench_read, NULL, bench_event, bc);
	bufferevent_enable(bc->bev, EV_READ | EV_WRITE);
	return 0;
}

/* Milliseconds from a histogram's microseconds. */
static double
bench_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

/* A histogram as {"p50":...,"p99":...,"max":...} in milliseconds. */
static json_t *
bench_hist_json(const struct hist *h)
{
	return json_pack("{s:I,s:f,s:f,s:f}", "count", (json_int_t)h->count,
	    "p50", bench_ms(hist_percentile(h, 0.5)),
	    "p99", bench_ms(hist_percentile(h, 0.99)),
	    "max", bench_ms(h->max_us));
}

/* Print what the run measured, as JSON or for people. */
static void
bench_report(struct bench *b)
{
	json_t	*o;
	double	 secs, rps, jps;
	size_t	 jobs;

	secs = (double)(b->ended - b->started) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	jobs = b->ping ? 0 : b->done * b->jobs_per_batch;
	rps = (double)b->done / secs;
	jps = (double)jobs / secs;

	if (b->json) {
		o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:o}",
		    "clients", (json_int_t)b->clients,
		    "requests", (json_int_t)b->requests,
		    "pipeline", (json_int_t)b->pipeline,
		    "jobs_per_batch", (json_int_t)(b->ping ? 0 :
		    b->jobs_per_batch),
		    "replies", (json_int_t)b->done,
		    "jobs", (json_int_t)jobs,
		    "errors", (json_int_t)b->errors,
		    "seconds", secs,
		    "requests_per_s", rps,
		    "jobs_per_s", jps,
		    "latency_ms", bench_hist_json(&b->latency));
		if (b->probe) {
			json_object_set_new(o, "probe_ms",
			    bench_hist_json(&b->probe_latency));
			json_object_set_new(o, "probe_errors",
			    json_integer((json_int_t)b->probe_errors));
		}
		if (b->overhead && !b->ping) {
			json_object_set_new(o, "elapsed_ms",
			    bench_hist_json(&b->elapsed));
			json_object_set_new(o, "overhead_ms",
			    bench_hist_json(&b->gather));
		}
		json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
		putchar('\n');
		json_decref(o);
		return;
	}

	printf("%zu %s, %zu client%s, pipeline %zu", b->done,
	    b->ping ? "pings" : "batches", b->clients,
	    b->clients == 1 ? "" : "s", b->pipeline);
	if (!b->ping)
		printf(", %zu job%s per batch", b->jobs_per_batch,
		    b->jobs_per_batch == 1 ? "" : "s");
	printf(": %.3f s, %zu error%s\n", secs, b->errors,
	    b->errors == 1 ? "" : "s");
	printf("  requests/s  %12.1f\n", rps);
	if (!b->ping)
		printf("  jobs/s      %12.1f\n", jps);
	printf("  latency     p50 %.3f ms  p99 %.3f ms  max %.3f ms\n",
	    bench_ms(hist_percentile(&b->latency, 0.5)),
	    bench_ms(hist_percentile(&b->latency, 0.99)),
	    bench_ms(b->latency.max_us));
	if (b->probe) {
		printf("  ping probe  p50 %.3f ms  p99 %.3f ms  max %.3f ms "
		    "(%" PRIu64 " pings, %zu errors)\n",
		    bench_ms(hist_percentile(&b->probe_latency, 0.5)),
		    bench_ms(hist_percentile(&b->probe_latency, 0.99)),
		    bench_ms(b->probe_latency.max_us), b->probe_latency.count,
		    b->probe_errors);
	}
	if (b->overhead && !b->ping) {
		printf("  elapsed_ms  p50 %.3f ms  max %.3f ms\n",
		    bench_ms(hist_percentile(&b->elapsed, 0.5)),
		    bench_ms(b->elapsed.max_us));
		printf("  overhead    p50 %.3f ms  max %.3f ms (elapsed_ms "
		    "minus the longest job)\n",
		    bench_ms(hist_percentile(&b->gather, 0.5)),
		    bench_ms(b->gather.max_us));
	}
}

/* Turn each --job argument into its compact JSON text. */
static int
bench_templates(struct bench *b, char **args, size_t nargs)
{
	json_t	*job;
	char	*cause;
	size_t	 i;

	if (nargs == 0) {
		b->templates = xcalloc(1, sizeof *b->templates);
		b->templates[0] = xstrdup("{\"type\":\"sleep\",\"ms\":0}");
		b->ntemplates = 1;
		return 0;
	}
	b->templates = xcalloc(nargs, sizeof *b->templates);
	for (i = 0; i < nargs; i++) {
		if ((job = jobspec_parse(args[i], &cause)) == NULL) {
			bench_usage_error("bad job '%s': %s", args[i], cause);
			free(cause);
			return -1;
		}
		if (!json_is_object(job)) {
			json_decref(job);
			bench_usage_error("bad job '%s': not an object",
			    args[i]);
			return -1;
		}
		b->templates[b->ntemplates++] = json_dumps(job, JSON_COMPACT);
		json_decref(job);
		if (b->templates[b->ntemplates - 1] == NULL) {
			b->ntemplates--;
			bench_usage_error("bad job '%s'", args[i]);
			return -1;
		}
	}
	return 0;
}

/* Free what a bench owns. */
static void
bench_free(struct bench *b)
{
	size_t	i;

	for (i = 0; i < b->nconns; i++) {
		if (b->conns[i].bev != NULL)
			bufferevent_free(b->conns[i].bev);
		if (b->conns[i].line != NULL)
			evbuffer_free(b->conns[i].line);
		free(b->conns[i].sent);
		free(b->conns[i].free);
	}
	free(b->conns);
	if (b->base != NULL)
		event_base_free(b->base);
	for (i = 0; i < b->ntemplates; i++)
		free(b->templates[i]);
	free(b->templates);
	free(b->body);
	free(b->first_error);
	free(b->sock_owned);
	free(b);
}

/* Parse bench's options into b; -1 (after a message) on a usage error. */
static int
bench_options(struct bench *b, int argc, char **argv, char ***jobs,
    size_t *njobs)
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "job", required_argument, NULL, BENCH_OPT_JOB },
		{ "jobs-per-batch", required_argument, NULL,
		    BENCH_OPT_JOBS_PER_BATCH },
		{ "ping", no_argument, NULL, BENCH_OPT_PING },
		{ "probe", no_argument, NULL, BENCH_OPT_PROBE },
		{ "overhead", no_argument, NULL, BENCH_OPT_OVERHEAD },
		{ NULL, 0, NULL, 0 },
	};
	int				 ch, json = 0;

	optind = 0;	/* glibc: start over */
	opterr = 0;	/* our messages, on one line */
	while ((ch = getopt_long(argc, argv, ":c:hjn:P:s:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (bench_count(optarg, &b->clients) == -1)
				goto bad_count;
			break;
		case 'h':
			fputs(bench_usage_text, stdout);
			exit(BENCH_EXIT_OK);
		case 'j':
			json = 1;
			break;
		case 'n':
			if (bench_count(optarg, &b->requests) == -1)
				goto bad_count;
			break;
		case 'P':
			if (bench_count(optarg, &b->pipeline) == -1)
				goto bad_count;
			break;
		case 's':
			free(b->sock_owned);
			b->sock_owned = config_socket_path(optarg, NULL);
			b->sock = b->sock_owned;
			break;
		case BENCH_OPT_JOB:
			*jobs = xreallocarray(*jobs, *njobs + 1,
			    sizeof **jobs);
			(*jobs)[(*njobs)++] = optarg;
			break;
		case BENCH_OPT_JOBS_PER_BATCH:
			if (bench_count(optarg, &b->jobs_per_batch) == -1)
				goto bad_count;
			break;
		case BENCH_OPT_PING:
			b->ping = 1;
			break;
		case BENCH_OPT_PROBE:
			b->probe = 1;
			break;
		case BENCH_OPT_OVERHEAD:
			b->overhead = 1;
			break;
		case ':':
			bench_usage_error("%s needs a value", argv[optind - 1]);
			return -1;
		default:
			if (optopt != 0)
				bench_usage_error("unknown option '-%c'", optopt);
			else
				bench_usage_error("unknown option '%s'",
				    argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		bench_usage_error("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (b->ping && *njobs > 0) {
		bench_usage_error("--ping sends no jobs: drop --job");
		return -1;
	}
	b->json = json || !isatty(STDOUT_FILENO);
	return 0;

bad_count:
	bench_usage_error("-%c: '%s' is not a count from 1 to %u", ch, optarg,
	    BENCH_MAX);
	return -1;
}

int
bench_main(const char *sock, int argc, char **argv)
{
	struct bench	*b;
	char		**jobs = NULL;
	size_t		 njobs = 0, i;
	int		 status;

	b = xcalloc(1, sizeof *b);
	b->sock = sock;
	b->clients = 50;
	b->requests = 100000;
	b->pipeline = 1;
	b->jobs_per_batch = 1;
	if (bench_options(b, argc, argv, &jobs, &njobs) == -1 ||
	    bench_templates(b, jobs, njobs) == -1) {
		free(jobs);
		bench_free(b);
		return BENCH_EXIT_ERROR;
	}
	free(jobs);
	bench_build_body(b);

	/* A reply can come after the daemon closed: never die by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if ((b->base = event_base_new()) == NULL) {
		fprintf(stderr, "gatherctl bench: event_base_new failed\n");
		bench_free(b);
		return BENCH_EXIT_ERROR;
	}
	b->conns = xcalloc(b->clients + 1, sizeof *b->conns);
	for (i = 0; i < b->clients + (b->probe ? 1 : 0); i++) {
		if (bench_connect(b, &b->conns[i], i == b->clients) == -1) {
			b->nconns = i;
			bench_free(b);
			return BENCH_EXIT_ERROR;
		}
		b->nconns = i + 1;
	}

	b->started = clock_ns();
	for (i = 0; i < b->nconns; i++)
		bench_fill(&b->conns[i]);
	event_base_dispatch(b->base);
	if (b->ended == 0)
		b->ended = clock_ns();

	bench_report(b);
	if (b->first_error != NULL)
		fprintf(stderr, "gatherctl bench: %zu failed, first: %s\n",
		    b->errors + b->probe_errors, b->first_error);
	if (b->lost)
		status = BENCH_EXIT_ERROR;
	else if (b->errors > 0 || b->probe_errors > 0)
		status = BENCH_EXIT_FAILED;
	else
		status = BENCH_EXIT_OK;
	bench_free(b);
	return status;
}
