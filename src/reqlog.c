/*
 * What the log says about clients' requests: the line per finished batch
 * of [daemon] log_requests (an access log, as a web server's), a client
 * that left with batches in flight, and at debug level the error replies
 * and the failed jobs, so that a bad request or a failed read leaves a
 * trace where someone looks for one.
 *
 * Lines are key=value pairs after a short phrase, so that both people and
 * log tools read them. Text the client chose (an id, a message quoting a
 * field) is cut short and has its control characters replaced: a client
 * must not be able to write lines of its own into the log.
 */

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "job.h"
#include "log.h"
#include "reqlog.h"
#include "server.h"
#include "xmalloc.h"

#define REQLOG_TEXT_MAX		80	/* bytes of a client's text in a line */
#define REQLOG_FAILED_MAX	10	/* failed jobs listed per batch (debug) */

static struct log_limit	reqlog_disconnect_limit;

/*
 * A client's text for the log: at most REQLOG_TEXT_MAX bytes (cut at a
 * character and marked "..."), control characters as '?'. Newly allocated.
 */
static char *
reqlog_clean(const char *s)
{
	size_t	 len = strlen(s), i;
	char	*out;
	int	 cut = 0;

	if (len > REQLOG_TEXT_MAX) {
		len = REQLOG_TEXT_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		cut = 1;
	}
	out = xmalloc(len + 4);
	for (i = 0; i < len; i++) {
		out[i] = s[i];
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			out[i] = '?';
	}
	strcpy(out + len, cut ? "..." : "");
	return out;
}

/* At debug level: the jobs of b that failed, the first few of them. */
static void
reqlog_failed_jobs(const struct conn *c, const struct batch *b,
    const char *id)
{
	const struct job	*job;
	char			*msg;
	uint32_t		 i, n = 0;

	for (i = 0; i < b->njobs; i++) {
		job = b->jobs[i];
		if (job->outcome == JOB_OK)
			continue;
		if (++n > REQLOG_FAILED_MAX)
			continue;
		msg = reqlog_clean(job->text != NULL ? job->text : "");
		log_debug("job failed: conn=%llu id=%s job=%u type=%s"
		    " code=%s: %s", (unsigned long long)c->id, id, job->index,
		    job->type->name, err_name(job->code), msg);
		free(msg);
	}
	if (n > REQLOG_FAILED_MAX)
		log_debug("job failed: conn=%llu id=%s: %u more jobs failed",
		    (unsigned long long)c->id, id, n - REQLOG_FAILED_MAX);
}

/*
 * A batch of c finished (its counts and done_ns are final): its line, at
 * info level with log_requests, and at debug its failed jobs.
 */
void
reqlog_batch(const struct conn *c, const struct batch *b)
{
	char	*id;

	if (!server_cfg->log_requests && !log_enabled(LOG_LEVEL_DEBUG))
		return;
	id = reqlog_clean(b->id_text);
	if (server_cfg->log_requests)
		log_info("batch done: conn=%llu pid=%ld uid=%ld id=%s jobs=%u"
		    " ok=%u failed=%u cancelled=%u timed_out=%u"
		    " elapsed_ms=%.1f", (unsigned long long)c->id,
		    (long)c->pid, (long)c->uid, id, b->njobs, b->nok,
		    b->nfailed, b->ncancelled, b->ntimedout,
		    clock_ms(b->recv_ns, b->done_ns));
	if (b->nok != b->njobs && log_enabled(LOG_LEVEL_DEBUG))
		reqlog_failed_jobs(c, b, id);
	free(id);
}

/* At debug level: c's request was answered with an error. */
void
reqlog_error(const struct conn *c, enum err_code code, const char *cause)
{
	char	*msg;

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	msg = reqlog_clean(cause != NULL ? cause : "");
	log_debug("request refused: conn=%llu pid=%ld uid=%ld code=%s: %s",
	    (unsigned long long)c->id, (long)c->pid, (long)c->uid,
	    err_name(code), msg);
	free(msg);
}

/*
 * c's client went away with batches in flight, which are about to be
 * cancelled: at info level, at most a line a second.
 */
void
reqlog_disconnect(const struct conn *c)
{
	const struct batch	*b;
	uint64_t		 jobs = 0;

	if (c->nbatches == 0 || log_limit_skip(&reqlog_disconnect_limit))
		return;
	TAILQ_FOREACH(b, &c->batches, entry)
		jobs += b->unfinished;
	log_limited(&reqlog_disconnect_limit, "client disconnected:"
	    " conn=%llu pid=%ld uid=%ld: cancelling %u batches, %llu jobs"
	    " unfinished", (unsigned long long)c->id, (long)c->pid,
	    (long)c->uid, c->nbatches, (unsigned long long)jobs);
}
