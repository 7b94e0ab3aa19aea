/*
 * The gather engine on its own: batch.c and job.c driven by a fake job
 * type on a real event loop, with no daemon, no connection and no socket.
 * The fake jobs run until the test finishes them (so completion orders are
 * exact), finish inside their start, or finish on a short timer; one may
 * own a nested batch, as a group job will.
 *
 * Each test writes what happened, in order, into a trace:
 *
 *	+a	job a started		-a	job a's work was cancelled
 *	$a	job a's result charged	!a	job a's event
 *	=a	job a's nested batch done
 *	D	the batch is done (its done callback)
 *
 * and compares it whole.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "job.h"
#include "snapshot.h"
#include "status.h"
#include "xmalloc.h"

enum fake_how {
	FAKE_HOLD,		/* runs until the test finishes it */
	FAKE_OK_NOW,		/* succeeds inside start */
	FAKE_FAIL_NOW,		/* fails inside start */
	FAKE_AFTER,		/* succeeds after ms, on a timer */
};

struct fake_job {
	struct job	 job;
	char		 label;
	uint8_t		 how;		/* enum fake_how */
	double		 ms;		/* FAKE_AFTER */
	struct event	*timer;		/* owned: FAKE_AFTER's */
	struct batch	*inner;		/* owned until started: nested */
};

/* What the done callback saw of each job (the batch is freed after it). */
struct seen {
	uint8_t		 outcome;
	uint8_t		 code;
	uint32_t	 index;
	float		 ms;
	char		 text[96];
};

static struct event_base	*base;
/* A snapshot never freed: batches only take references. */
static struct snapshot		 snap = { .refs = 1 };
static char			 trace[8192];
static int			 untraced;	/* too many jobs to trace */
static int			 ndone;
static struct seen		 seen[8];
static uint32_t			 seen_njobs, seen_nok, seen_nfailed;
static uint32_t			 seen_ncancelled, seen_ntimedout;
static double			 seen_elapsed_ms, seen_sum_ms;
static void			*seen_arg;
static int			 watchdog_fired;

static void	fake_start(struct job *);
static void	fake_cancel(struct job *);
static void	fake_free(struct job *);

static const struct job_type fake_type = {
	.name = "fake",
	.size = sizeof(struct fake_job),
	.start = fake_start,
	.cancel = fake_cancel,
	.free = fake_free,
};

static void
trace_add(char what, char label)
{
	size_t	len = strlen(trace);

	if (untraced)
		return;
	cr_assert_lt(len + 4, sizeof trace, "trace overflow");
	if (len > 0)
		trace[len++] = ' ';
	trace[len++] = what;
	if (label != '\0')
		trace[len++] = label;
	trace[len] = '\0';
}

static char
label_of(const struct job *job)
{
	return ((const struct fake_job *)job)->label;
}

/* A fake job's timer: the job ends with its label, a JSON string. */
static void
fake_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fake_job	*f = arg;

	(void)fd;
	(void)events;
	job_finish_ok(&f->job, xasprintf("\"%c\"", f->label));
}

/* A nested batch of f finished: f ends with it (and may be freed). */
static void
fake_nested_done(struct batch *inner, void *arg)
{
	struct fake_job	*f = arg;

	trace_add('=', f->label);
	f->inner = NULL;	/* it frees itself when this returns */
	if (inner->nok == inner->njobs)
		job_finish_ok(&f->job, xstrdup("\"nested\""));
	else
		job_finish_errorf(&f->job, ERR_IO_ERROR, "%u nested jobs failed",
		    inner->njobs - inner->nok);
}

static void
fake_start(struct job *job)
{
	struct fake_job	*f = (struct fake_job *)job;
	struct timeval	 tv;
	char		 value[8];

	trace_add('+', f->label);
	if (f->inner != NULL) {
		batch_start_nested(f->inner, job->batch, fake_nested_done,
		    NULL, f);
		return;
	}
	switch (f->how) {
	case FAKE_HOLD:
		break;
	case FAKE_OK_NOW:
		snprintf(value, sizeof value, "\"%c\"", f->label);
		job_finish_ok(job, xstrdup(value));
		break;
	case FAKE_FAIL_NOW:
		job_finish_errorf(job, ERR_IO_ERROR, "%c failed at once", f->label);
		break;
	case FAKE_AFTER:
		f->timer = evtimer_new(base, fake_timer_cb, f);
		cr_assert_not_null(f->timer);
		clock_ms_timeval(f->ms, &tv);
		evtimer_add(f->timer, &tv);
		break;
	}
}

static void
fake_cancel(struct job *job)
{
	struct fake_job	*f = (struct fake_job *)job;

	trace_add('-', f->label);
	if (f->timer != NULL)
		evtimer_del(f->timer);
	if (f->inner != NULL)
		batch_cancel(f->inner, ERR_CANCELLED, "cancelled: its owner"
		    " was cancelled");
}

static void
fake_free(struct job *job)
{
	struct fake_job	*f = (struct fake_job *)job;

	if (f->timer != NULL)
		event_free(f->timer);
	batch_free(f->inner);	/* never started */
}

/* A batch of one fake job per label, each held until finished by hand. */
static struct batch *
new_batch(const char *labels, struct snapshot *s)
{
	struct batch	*b;
	struct fake_job	*f;
	uint32_t	 i, n = (uint32_t)strlen(labels);

	b = batch_new(NULL, NULL, clock_ns(), s);
	b->jobs = xcalloc(n, sizeof *b->jobs);
	for (i = 0; i < n; i++) {
		b->jobs[i] = job_new(&fake_type, i, -1);
		b->jobs[i]->batch = b;
		f = (struct fake_job *)b->jobs[i];
		f->label = labels[i];
		f->how = FAKE_HOLD;
	}
	b->njobs = n;
	return b;
}

static struct fake_job *
fake(struct batch *b, uint32_t i)
{
	cr_assert_lt(i, b->njobs);
	return (struct fake_job *)b->jobs[i];
}

/* Finish held job i of b: ok with its label as value, or failed. */
static void
finish(struct batch *b, uint32_t i, int ok)
{
	struct job	*job = b->jobs[i];
	char		 value[8];

	cr_assert_eq(job->state, JOB_RUNNING, "jobs[%u] is not running", i);
	if (ok) {
		snprintf(value, sizeof value, "\"%c\"", label_of(job));
		job_finish_ok(job, xstrdup(value));
	} else
		job_finish_errorf(job, ERR_IO_ERROR, "%c failed", label_of(job));
}

static void
on_charge(struct job *job, void *arg)
{
	cr_assert_eq(arg, &seen_arg, "charged with another arg");
	trace_add('$', label_of(job));
}

static void
on_event(struct batch *b, struct job *job, void *arg)
{
	cr_assert_eq(arg, &seen_arg, "event with another arg");
	cr_assert_eq(b->jobs[job->index], job);
	cr_assert_eq(job->state, JOB_DONE);
	trace_add('!', label_of(job));
}

static void
on_done(struct batch *b, void *arg)
{
	uint32_t	i;

	ndone++;
	trace_add('D', '\0');
	seen_arg = arg;
	seen_njobs = b->njobs;
	seen_nok = b->nok;
	seen_nfailed = b->nfailed;
	seen_ncancelled = b->ncancelled;
	seen_ntimedout = b->ntimedout;
	seen_sum_ms = b->sum_ms;
	seen_elapsed_ms = clock_ms(b->recv_ns, b->done_ns);
	for (i = 0; i < b->njobs && i < 8; i++) {
		cr_assert_eq(b->jobs[i]->state, JOB_DONE);
		seen[i].outcome = b->jobs[i]->outcome;
		seen[i].code = b->jobs[i]->code;
		seen[i].index = b->jobs[i]->index;
		seen[i].ms = b->jobs[i]->ms;
		snprintf(seen[i].text, sizeof seen[i].text, "%s",
		    b->jobs[i]->text != NULL ? b->jobs[i]->text : "null");
	}
	event_base_loopbreak(base);
}

/* Start b with the test's callbacks (events when stream). */
static void
start(struct batch *b, int stream)
{
	batch_set_charge(b, on_charge);
	batch_start(b, on_done, stream ? on_event : NULL, &seen_arg);
}

static void
watchdog_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	watchdog_fired = 1;
	event_base_loopbreak(base);
}

/* Run the loop until the batch is done, or fail after limit_ms. */
static void
run_until_done(double limit_ms)
{
	struct event	*dog;
	struct timeval	 tv;

	dog = evtimer_new(base, watchdog_cb, NULL);
	cr_assert_not_null(dog);
	clock_ms_timeval(limit_ms, &tv);
	evtimer_add(dog, &tv);
	while (ndone == 0 && !watchdog_fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(dog);
	cr_assert_not(watchdog_fired, "not done after %g ms; trace: %s",
	    limit_ms, trace);
}

static void
expect_trace(const char *want)
{
	cr_assert_str_eq(trace, want, "trace: %s\n want: %s", trace, want);
}

static void
expect_seen(uint32_t i, enum job_outcome outcome, enum err_code code,
    const char *text)
{
	cr_assert_eq(seen[i].index, i);
	cr_assert_eq(seen[i].outcome, outcome, "jobs[%u]: outcome %u, want %u"
	    " (%s)", i, seen[i].outcome, outcome, seen[i].text);
	cr_assert_eq(seen[i].code, code, "jobs[%u]: %s, want %s", i,
	    err_name((enum err_code)seen[i].code), err_name(code));
	cr_assert_str_eq(seen[i].text, text, "jobs[%u]", i);
}

static void
expect_stats(uint32_t jobs, uint32_t ok, uint32_t failed, uint32_t cancelled,
    uint32_t timed_out)
{
	cr_assert_eq(seen_njobs, jobs);
	cr_assert_eq(seen_nok, ok, "ok %u, want %u", seen_nok, ok);
	cr_assert_eq(seen_nfailed, failed, "failed %u, want %u", seen_nfailed,
	    failed);
	cr_assert_eq(seen_ncancelled, cancelled, "cancelled %u, want %u",
	    seen_ncancelled, cancelled);
	cr_assert_eq(seen_ntimedout, timed_out, "timed_out %u, want %u",
	    seen_ntimedout, timed_out);
}

/* What status counts: jobs running and waiting, batches in flight. */
static void
expect_status(uint64_t running, uint64_t waiting, uint64_t batches)
{
	cr_assert_eq(status.jobs_running, running, "running %llu, want %llu",
	    (unsigned long long)status.jobs_running,
	    (unsigned long long)running);
	cr_assert_eq(status.jobs_waiting, waiting, "waiting %llu, want %llu",
	    (unsigned long long)status.jobs_waiting,
	    (unsigned long long)waiting);
	cr_assert_eq(status.batches_in_flight, batches, "batches %llu, want"
	    " %llu", (unsigned long long)status.batches_in_flight,
	    (unsigned long long)batches);
}

/* Everything finished: done and failed batches as counted. */
static void
expect_idle(uint64_t done, uint64_t failed)
{
	expect_status(0, 0, 0);
	cr_assert_eq(status.batches_done, done);
	cr_assert_eq(status.batches_failed, failed);
}

static void
setup(void)
{
	struct event_config	*ecfg;

	/* As the server's: timers never fire early (server_init says why). */
	ecfg = event_config_new();
	cr_assert_not_null(ecfg);
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	cr_assert_not_null(base);
	batch_init(base);
	job_init(base);
	status_init();
	config_defaults(&snap.cfg);
}

static void
teardown(void)
{
	config_free(&snap.cfg);
	event_base_free(base);
}

TestSuite(batch, .init = setup, .fini = teardown, .timeout = 60);

/*
 * The engine is a seam: linking it (and what its jobs need: status, the
 * histograms, a snapshot) must not pull in the server or a connection.
 * Weak references do not pull objects out of libgatherd.a; they are set
 * only if something else did.
 */
struct conn;
extern void	server_run(void) __attribute__((weak));
extern void	conn_close(struct conn *) __attribute__((weak));

Test(batch, links_without_server_or_connection)
{
	cr_assert(server_run == NULL, "the engine drags in server.c");
	cr_assert(conn_close == NULL, "the engine drags in conn.c");
}

Test(batch, all_gathers_results_in_job_order_whatever_the_finish_order)
{
	struct batch	*b = new_batch("abc", &snap);
	char		 want[8];
	uint32_t	 i;

	start(b, 1);
	expect_trace("+a +b +c");
	finish(b, 2, 1);
	finish(b, 0, 1);
	cr_assert_eq(ndone, 0, "done before the last job");
	finish(b, 1, 1);
	expect_trace("+a +b +c $c !c $a !a $b !b D");
	cr_assert_eq(ndone, 1);
	cr_assert_eq(seen_arg, &seen_arg);
	/* jobs[i] holds job i's result, whatever the order they came in. */
	for (i = 0; i < 3; i++) {
		snprintf(want, sizeof want, "\"%c\"", 'a' + i);
		expect_seen(i, JOB_OK, ERR_NONE, want);
	}
	expect_stats(3, 3, 0, 0, 0);
}

Test(batch, all_reports_a_failure_in_place_and_runs_the_rest)
{
	struct batch	*b = new_batch("abc", &snap);

	start(b, 0);
	finish(b, 1, 0);
	finish(b, 2, 1);
	finish(b, 0, 1);
	expect_trace("+a +b +c $b $c $a D");
	expect_seen(0, JOB_OK, ERR_NONE, "\"a\"");
	expect_seen(1, JOB_FAILED, ERR_IO_ERROR, "b failed");
	expect_seen(2, JOB_OK, ERR_NONE, "\"c\"");
	expect_stats(3, 2, 1, 0, 0);
}

Test(batch, fail_fast_cancels_running_and_waiting_jobs_during_delivery)
{
	struct batch	*b = new_batch("abcd", &snap);

	b->mode = BATCH_FAIL_FAST;
	b->concurrency = 2;
	start(b, 1);
	expect_trace("+a +b");
	finish(b, 0, 0);
	/*
	 * a's failure is delivered first; b (running) has its work
	 * cancelled; c and d (waiting) never start.
	 */
	expect_trace("+a +b $a !a -b $b !b $c !c $d !d D");
	cr_assert_eq(ndone, 1);
	expect_seen(0, JOB_FAILED, ERR_IO_ERROR, "a failed");
	expect_seen(1, JOB_CANCELLED, ERR_CANCELLED,
	    "cancelled: jobs[0] failed");
	expect_seen(2, JOB_CANCELLED, ERR_CANCELLED,
	    "cancelled: jobs[0] failed");
	expect_seen(3, JOB_CANCELLED, ERR_CANCELLED,
	    "cancelled: jobs[0] failed");
	cr_assert_eq(seen[2].ms, 0, "a job that never ran took no time");
	expect_stats(4, 0, 1, 3, 0);
	expect_idle(1, 1);
}

Test(batch, fail_fast_when_a_job_fails_inside_its_start)
{
	struct batch	*b = new_batch("abc", &snap);

	b->mode = BATCH_FAIL_FAST;
	fake(b, 1)->how = FAKE_FAIL_NOW;
	start(b, 0);
	/* a was running and is cancelled; c never starts. */
	expect_trace("+a +b $b -a $a $c D");
	cr_assert_eq(ndone, 1, "done inside batch_start");
	expect_seen(1, JOB_FAILED, ERR_IO_ERROR, "b failed at once");
	expect_seen(2, JOB_CANCELLED, ERR_CANCELLED,
	    "cancelled: jobs[1] failed");
	expect_stats(3, 0, 1, 2, 0);
}

Test(batch, concurrency_runs_at_most_n_and_starts_waiting_jobs_in_order)
{
	struct batch	*b = new_batch("abcde", &snap);

	b->concurrency = 2;
	start(b, 0);
	expect_trace("+a +b");
	expect_status(2, 3, 1);
	finish(b, 1, 1);
	expect_trace("+a +b $b +c");
	finish(b, 0, 1);
	expect_trace("+a +b $b +c $a +d");
	expect_status(2, 1, 1);
	finish(b, 3, 0);
	finish(b, 2, 1);
	finish(b, 4, 1);
	expect_trace("+a +b $b +c $a +d $d +e $c $e D");
	expect_stats(5, 4, 1, 0, 0);
	cr_assert_eq(status.jobs_done, 5);
	cr_assert_eq(status.jobs_failed, 1);
	expect_idle(1, 1);
}

Test(batch, jobs_finishing_inside_start_fill_the_batch_at_once)
{
	struct batch	*b = new_batch("abcd", &snap);
	uint32_t	 i;

	b->concurrency = 1;
	for (i = 0; i < 4; i++)
		fake(b, i)->how = i == 2 ? FAKE_FAIL_NOW : FAKE_OK_NOW;
	start(b, 1);
	cr_assert_eq(ndone, 1, "an all-synchronous batch is done inside"
	    " batch_start");
	expect_trace("+a $a !a +b $b !b +c $c !c +d $d !d D");
	expect_stats(4, 3, 1, 0, 0);
}

/*
 * A job that finishes inside its start returns to the loop that started
 * it, which starts the next: 200,000 of them are a loop, not a recursion
 * as deep as the batch (which would overflow the stack).
 */
Test(batch, jobs_finishing_inside_start_do_not_recurse)
{
	struct batch	*b;
	struct fake_job	*f;
	uint32_t	 i, n = 200000;

	untraced = 1;
	b = batch_new(NULL, NULL, clock_ns(), &snap);
	b->jobs = xcalloc(n, sizeof *b->jobs);
	for (i = 0; i < n; i++) {
		b->jobs[i] = job_new(&fake_type, i, -1);
		b->jobs[i]->batch = b;
		f = (struct fake_job *)b->jobs[i];
		f->label = 'x';
		f->how = FAKE_OK_NOW;
	}
	b->njobs = n;
	batch_start(b, on_done, NULL, &seen_arg);
	cr_assert_eq(ndone, 1);
	cr_assert_eq(seen_nok, n);
}

Test(batch, empty_batch_is_done_inside_start)
{
	struct batch	*b = new_batch("", &snap);

	start(b, 1);
	cr_assert_eq(ndone, 1);
	expect_trace("D");
	expect_stats(0, 0, 0, 0, 0);
	expect_idle(1, 0);
}

Test(batch, stream_events_come_as_jobs_finish_and_only_when_asked)
{
	struct batch	*b = new_batch("abc", &snap);

	start(b, 1);
	finish(b, 1, 1);
	expect_trace("+a +b +c $b !b");
	finish(b, 2, 0);
	finish(b, 0, 1);
	expect_trace("+a +b +c $b !b $c !c $a !a D");

	trace[0] = '\0';
	ndone = 0;
	b = new_batch("ab", &snap);
	start(b, 0);
	finish(b, 1, 1);
	finish(b, 0, 1);
	expect_trace("+a +b $b $a D");
}

/* The starter's charge sees each result first and may refuse it. */
static void
on_charge_refuse_b(struct job *job, void *arg)
{
	on_charge(job, arg);
	if (label_of(job) != 'b')
		return;
	free(job->text);
	job->text = xstrdup("refused: over budget");
	job->text_len = JOB_LEN_UNKNOWN;
	job->outcome = JOB_FAILED;
	job->code = ERR_BUSY;
}

Test(batch, charge_sees_each_result_first_and_may_refuse_it)
{
	struct batch	*b = new_batch("abc", &snap);

	batch_set_charge(b, on_charge_refuse_b);
	batch_start(b, on_done, on_event, &seen_arg);
	finish(b, 1, 1);
	finish(b, 0, 1);
	finish(b, 2, 1);
	expect_trace("+a +b +c $b !b $a !a $c !c D");
	expect_seen(1, JOB_FAILED, ERR_BUSY, "refused: over budget");
	expect_stats(3, 2, 1, 0, 0);
	cr_assert_eq(status.jobs_failed, 1, "status counts the refusal");
	expect_idle(1, 1);
}

Test(batch, cancel_stops_running_jobs_and_never_starts_waiting_ones)
{
	struct batch	*b = new_batch("xyz", &snap);

	b->concurrency = 1;
	start(b, 0);
	batch_cancel(b, ERR_CANCELLED, "cancelled by request");
	expect_trace("+x -x $x $y $z D");
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "cancelled by request");
	expect_seen(1, JOB_CANCELLED, ERR_CANCELLED, "cancelled by request");
	expect_stats(3, 0, 0, 3, 0);
	expect_idle(1, 1);
}

/* An event callback that cancels its batch, once. */
static int	cancel_from_event;

static void
on_event_cancel(struct batch *b, struct job *job, void *arg)
{
	on_event(b, job, arg);
	if (cancel_from_event++ > 0)
		return;
	batch_cancel(b, ERR_CANCELLED, "cancelled from an event");
	/* The batch, and job, are still there: done comes after this. */
	cr_assert_eq(ndone, 0, "done inside the event callback that"
	    " cancelled: the batch is freed under its caller");
	cr_assert_eq(b->jobs[job->index], job);
}

Test(batch, event_callback_may_cancel_its_batch)
{
	struct batch	*b = new_batch("abcd", &snap);

	b->concurrency = 3;
	batch_set_charge(b, on_charge);
	batch_start(b, on_done, on_event_cancel, &seen_arg);
	finish(b, 1, 1);
	/* The batch ends once, after the event that cancelled it returns. */
	expect_trace("+a +b +c $b !b -a $a !a -c $c !c $d !d D");
	cr_assert_eq(ndone, 1);
	expect_seen(1, JOB_OK, ERR_NONE, "\"b\"");
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "cancelled from an event");
	expect_seen(3, JOB_CANCELLED, ERR_CANCELLED, "cancelled from an event");
	expect_stats(4, 1, 0, 3, 0);
}

/* A done callback that cancels the batch it is told about. */
static void
on_done_cancel(struct batch *b, void *arg)
{
	on_done(b, arg);
	batch_cancel(b, ERR_CANCELLED, "cancelled after the end");
}

Test(batch, done_callback_may_cancel_its_batch_harmlessly)
{
	struct batch	*b = new_batch("ab", &snap);

	batch_start(b, on_done_cancel, NULL, &seen_arg);
	finish(b, 0, 1);
	finish(b, 1, 1);
	cr_assert_eq(ndone, 1, "done once");
	expect_stats(2, 2, 0, 0, 0);
	expect_seen(1, JOB_OK, ERR_NONE, "\"b\"");
}

Test(batch, batch_timeout_ms_times_out_what_is_unfinished)
{
	struct batch	*b = new_batch("abc", &snap);

	b->timeout_ms = 100;
	fake(b, 0)->how = FAKE_AFTER;
	fake(b, 0)->ms = 10;
	start(b, 0);
	run_until_done(10000);
	expect_trace("+a +b +c $a -b $b -c $c D");
	expect_seen(0, JOB_OK, ERR_NONE, "\"a\"");
	expect_seen(1, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "batch timeout_ms (100 ms) reached");
	expect_seen(2, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "batch timeout_ms (100 ms) reached");
	expect_stats(3, 1, 0, 0, 2);
	cr_assert_geq(seen_elapsed_ms, 100, "the deadline came early: %g ms",
	    seen_elapsed_ms);
}

/*
 * The batch's deadline counts from the request's receipt, not from its
 * start: one received 10 s ago with 5 s to run is out of time at once.
 */
Test(batch, batch_timeout_ms_counts_from_receipt)
{
	struct batch	*b = new_batch("a", &snap);
	uint64_t	 started;

	b->recv_ns -= 10 * 1000000000ull;
	b->timeout_ms = 5000;
	started = clock_ns();
	start(b, 0);
	run_until_done(20000);
	expect_seen(0, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "batch timeout_ms (5000 ms) reached");
	cr_assert_lt(clock_ms(started, clock_ns()), 2500, "the deadline"
	    " counted from the start");
}

Test(batch, job_timeout_ms_times_out_that_job_only)
{
	struct batch	*b = new_batch("ab", &snap);

	b->jobs[0]->timeout_ms = 30;
	fake(b, 1)->how = FAKE_AFTER;
	fake(b, 1)->ms = 60;
	start(b, 1);
	run_until_done(10000);
	expect_trace("+a +b -a $a !a $b !b D");
	expect_seen(0, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "job timeout_ms (30 ms) reached");
	expect_seen(1, JOB_OK, ERR_NONE, "\"b\"");
	cr_assert_geq(seen[0].ms, 30, "the job's deadline came early: %g ms",
	    seen[0].ms);
	cr_assert_geq(seen[1].ms, 60);
	expect_stats(2, 1, 0, 0, 1);
}

Test(batch, max_job_ms_caps_every_job)
{
	struct batch	*b = new_batch("ab", &snap);

	snap.cfg.limits.max_job_ms = 40;
	b->jobs[1]->timeout_ms = 60000;	/* asks for more: still capped */
	start(b, 0);
	run_until_done(10000);
	expect_seen(0, JOB_TIMED_OUT, ERR_TIMEOUT, "max_job_ms (40 ms) reached:"
	    " no job may run longer");
	expect_seen(1, JOB_TIMED_OUT, ERR_TIMEOUT, "max_job_ms (40 ms) reached:"
	    " no job may run longer");
	cr_assert_geq(seen[0].ms, 40);
	cr_assert_geq(seen[1].ms, 40);
}

/* A batch whose job a owns a nested batch of x and y. */
static struct batch *
new_nested(void)
{
	struct batch	*b = new_batch("ab", &snap);

	/* Built as a parse would build it: no snapshot until it starts. */
	fake(b, 0)->inner = new_batch("xy", NULL);
	return b;
}

Test(batch, nested_batch_tells_its_owner_job_and_charges_the_root)
{
	struct batch	*b = new_nested(), *inner;

	start(b, 1);
	expect_trace("+a +x +y +b");
	inner = fake(b, 0)->inner;
	cr_assert_not_null(inner);
	cr_assert_eq(inner->snap, &snap, "the parent's snapshot");
	cr_assert_eq(batch_root(inner), b);
	/* The pool serves nested jobs for the root's starter. */
	cr_assert_eq(job_owner(inner->jobs[0]), &seen_arg);
	/* Nested jobs count as jobs, the nested batch not as a batch. */
	expect_status(4, 0, 1);
	finish(inner, 1, 1);
	finish(inner, 0, 1);
	expect_trace("+a +x +y +b $y $x =a $a !a");
	finish(b, 1, 1);
	expect_trace("+a +x +y +b $y $x =a $a !a $b !b D");
	expect_seen(0, JOB_OK, ERR_NONE, "\"nested\"");
	expect_stats(2, 2, 0, 0, 0);
	cr_assert_eq(status.jobs_done, 4);
	expect_idle(1, 0);
}

Test(batch, cancel_reaches_a_nested_batch)
{
	struct batch	*b = new_nested();

	b->concurrency = 1;
	start(b, 0);
	finish(fake(b, 0)->inner, 0, 1);
	batch_cancel(b, ERR_CANCELLED, "client disconnected");
	expect_trace("+a +x +y $x -a -y $y =a $a $b D");
	expect_seen(0, JOB_FAILED, ERR_IO_ERROR, "1 nested jobs failed");
	expect_seen(1, JOB_CANCELLED, ERR_CANCELLED, "client disconnected");
	expect_idle(1, 1);
}

Test(batch, status_detail_describes_a_batch_in_flight)
{
	struct batch	*b = new_batch("abc", &snap);
	json_t		*obj = json_object();

	json_decref(b->id);
	b->id = json_string("q7");
	start(b, 0);
	finish(b, 1, 1);
	batch_status(b, obj, b->recv_ns + 250000000);
	cr_assert_str_eq(json_string_value(json_object_get(obj, "id")), "q7");
	cr_assert_eq(json_integer_value(json_object_get(obj, "jobs")), 3);
	cr_assert_eq(json_integer_value(json_object_get(obj, "done")), 1);
	cr_assert_float_eq(json_real_value(json_object_get(obj, "age_ms")),
	    250.0, 1e-6);
	json_decref(obj);
	batch_cancel(b, ERR_CANCELLED, "end of test");
	cr_assert_eq(ndone, 1);
}
