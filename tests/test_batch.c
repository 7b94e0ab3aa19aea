/*
 * The gather engine on its own: batch.c and job.c driven by a fake job
 * type on a real event loop, with no daemon, no connection and no socket.
 * The fake jobs run until the test finishes them (so completion orders are
 * exact), finish inside their start, or finish on a short timer; they may
 * fail a number of tries first (for retries); one may own a nested batch,
 * as a group job does.
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
#include "retry.h"
#include "snapshot.h"
#include "status.h"
#include "xmalloc.h"

enum fake_how {
	FAKE_HOLD,		/* runs until the test finishes it */
	FAKE_OK_NOW,		/* succeeds inside start */
	FAKE_FAIL_NOW,		/* fails inside start */
	FAKE_AFTER,		/* succeeds after ms, on a timer */
	FAKE_FLAKY,		/* fails its first tries inside start, then as how2 */
};

struct fake_job {
	struct job	 job;
	char		 label;
	uint8_t		 how;		/* enum fake_how */
	uint8_t		 how2;		/* FAKE_FLAKY: after the failures */
	uint8_t		 fails;		/* FAKE_FLAKY: tries that fail */
	uint8_t		 code;		/* FAKE_FLAKY: how they fail */
	uint8_t		 transient;	/* a success asks for another try */
	unsigned	 starts;	/* tries made */
	double		 hint_ms;	/* with transient: retry-after */
	double		 ms;		/* FAKE_AFTER */
	struct event	*timer;		/* owned: FAKE_AFTER's */
	struct batch	*inner;		/* owned: nested (fake_owner_type) */
	uint8_t		 stop_code;	/* fake_owner_type: stopped so */
	char		 why[96];	/* and why */
};

/* What the done callback saw of each job (the batch is freed after it). */
struct seen {
	uint8_t		 outcome;
	uint8_t		 code;
	uint32_t	 index;
	int		 attempts;
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
static int64_t			 seen_winner, seen_decider;
static int			 seen_ok;
static void			*seen_arg;
static int			 watchdog_fired;

static void	fake_start(struct job *);
static void	fake_cancel(struct job *);
static void	fake_stop(struct job *, enum err_code, const char *);
static void	fake_free(struct job *);

static const struct job_type fake_type = {
	.name = "fake",
	.size = sizeof(struct fake_job),
	.start = fake_start,
	.cancel = fake_cancel,
	.free = fake_free,
};

/*
 * A fake job that owns a nested batch, stopped as a group is: fake_type
 * with a stop, made by setup.
 */
static struct job_type	fake_owner_type;

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

/* f succeeds, with its label as value (asking for more if transient). */
static void
fake_ok(struct fake_job *f)
{
	if (f->transient)
		job_try_transient(&f->job, f->hint_ms);
	job_finish_ok(&f->job, xasprintf("\"%c\"", f->label));
}

/* A fake job's timer: the job ends with its label, a JSON string. */
static void
fake_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fake_job	*f = arg;

	(void)fd;
	(void)events;
	fake_ok(f);
}

/* A nested batch of f finished: f ends with it (and may be freed). */
static void
fake_nested_done(struct batch *inner, void *arg)
{
	struct fake_job	*f = arg;

	trace_add('=', f->label);
	/* The batch stays f's, to free with f. */
	if (f->stop_code != ERR_NONE)
		job_finish_errorf(&f->job, (enum err_code)f->stop_code, "%s",
		    f->why);
	else if (inner->nok == inner->njobs)
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
	uint8_t		 how = f->how;

	trace_add('+', f->label);
	if (f->inner != NULL) {
		batch_start_nested(f->inner, job->batch, fake_nested_done,
		    NULL, f);
		return;
	}
	if (how == FAKE_FLAKY) {
		if (f->starts++ < f->fails) {
			job_finish_errorf(job, (enum err_code)f->code,
			    "%c failed try %u", f->label, f->starts);
			return;
		}
		how = f->how2;
	}
	switch (how) {
	case FAKE_HOLD:
	case FAKE_FLAKY:
		break;
	case FAKE_OK_NOW:
		fake_ok(f);
		break;
	case FAKE_FAIL_NOW:
		job_finish_errorf(job, ERR_IO_ERROR, "%c failed at once", f->label);
		break;
	case FAKE_AFTER:
		if (f->timer == NULL)
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

/* The owner is stopped: what is unfinished inside ends as it does. */
static void
fake_stop(struct job *job, enum err_code code, const char *why)
{
	struct fake_job	*f = (struct fake_job *)job;

	trace_add('-', f->label);
	f->stop_code = (uint8_t)code;
	snprintf(f->why, sizeof f->why, "%s", why);
	if (job->state == JOB_WAITING)
		batch_start_cancelled(f->inner, job->batch, fake_nested_done,
		    f, code, why);
	else
		batch_cancel(f->inner, code, why);
}

static void
fake_free(struct job *job)
{
	struct fake_job	*f = (struct fake_job *)job;

	if (f->timer != NULL)
		event_free(f->timer);
	batch_free(f->inner);	/* a nested batch is its owner's */
}

/*
 * A batch of n fake jobs, each held until finished by hand; job i is
 * labelled labels[i], or x past the labels' end.
 */
static struct batch *
new_batch_of(uint32_t n, const char *labels, struct snapshot *s)
{
	struct batch	*b;
	struct fake_job	*f;
	uint32_t	 i, nlabels = (uint32_t)strlen(labels);

	b = batch_new(NULL, NULL, clock_ns(), s);
	batch_count(b, n);
	b->jobs = xcalloc(n, sizeof *b->jobs);
	for (i = 0; i < n; i++) {
		/* Room for a retry (job_extra): a job may be given one. */
		b->jobs[i] = job_new_extra(&fake_type, i, -1);
		b->jobs[i]->batch = b;
		f = (struct fake_job *)b->jobs[i];
		f->label = i < nlabels ? labels[i] : 'x';
		f->how = FAKE_HOLD;
	}
	b->njobs = n;
	return b;
}

/* A batch of one fake job per label, each held until finished by hand. */
static struct batch *
new_batch(const char *labels, struct snapshot *s)
{
	return new_batch_of((uint32_t)strlen(labels), labels, s);
}

/* Forget what the test's earlier batches did: their trace and ends. */
static void
clear_trace(void)
{
	trace[0] = '\0';
	ndone = 0;
}

/* new_batch, of this mode and concurrency (0: no limit). */
static struct batch *
new_batch_in(const char *labels, enum batch_mode mode, uint32_t concurrency)
{
	struct batch	*b = new_batch(labels, &snap);

	b->mode = mode;
	b->concurrency = concurrency;
	return b;
}

/*
 * The next batch of a test that ran one already: new_batch_in, with the
 * trace and the count of done batches cleared.
 */
static struct batch *
next_batch_in(const char *labels, enum batch_mode mode, uint32_t concurrency)
{
	clear_trace();
	return new_batch_in(labels, mode, concurrency);
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
	seen_winner = b->winner;
	seen_decider = b->decider;
	seen_ok = batch_ok(b);
	for (i = 0; i < b->njobs && i < 8; i++) {
		cr_assert_eq(b->jobs[i]->state, JOB_DONE);
		seen[i].outcome = b->jobs[i]->outcome;
		seen[i].code = b->jobs[i]->code;
		seen[i].index = b->jobs[i]->index;
		seen[i].attempts = job_attempts(b->jobs[i]);
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

/* Job winner won the batch (-1: none), which is ok or not. */
static void
expect_winner(int64_t winner, int ok)
{
	cr_assert_eq(seen_winner, winner, "winner %lld, want %lld",
	    (long long)seen_winner, (long long)winner);
	cr_assert_eq(!!seen_ok, !!ok, "ok is %d", seen_ok);
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
	fake_owner_type = fake_type;
	fake_owner_type.name = "fake_owner";
	fake_owner_type.stop = fake_stop;
}

static void
teardown(void)
{
	job_fini();
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
	struct batch	*b = new_batch_in("abcd", BATCH_FAIL_FAST, 2);

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
	struct batch	*b = new_batch_in("abc", BATCH_FAIL_FAST, 0);

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
	struct batch	*b = new_batch_in("abcde", BATCH_ALL, 2);

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
	struct batch	*b = new_batch_in("abcd", BATCH_ALL, 1);
	uint32_t	 i;

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
	uint32_t	 i, n = 200000;

	untraced = 1;
	b = new_batch_of(n, "", &snap);
	for (i = 0; i < n; i++)
		fake(b, i)->how = FAKE_OK_NOW;
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

	b = next_batch_in("ab", BATCH_ALL, 0);
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
	struct batch	*b = new_batch_in("xyz", BATCH_ALL, 1);

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
	struct batch	*b = new_batch_in("abcd", BATCH_ALL, 3);

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
	b->jobs[0]->type = &fake_owner_type;
	fake(b, 0)->inner = new_batch("xy", NULL);
	batch_nest(fake(b, 0)->inner, b->jobs[0]);
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
	/* The owner ends as it was stopped, its unfinished jobs with it. */
	expect_trace("+a +x +y $x -a -y $y =a $a $b D");
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "client disconnected");
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

/*
 * Modes any and first: the winner by completion order, the rest
 * cancelled at once.
 */

Test(batch, any_the_first_success_wins_and_the_rest_are_cancelled)
{
	struct batch	*b = new_batch_in("abcd", BATCH_ANY, 3);

	start(b, 1);
	expect_trace("+a +b +c");
	finish(b, 1, 0);	/* a failure does not win: d starts */
	expect_trace("+a +b +c $b !b +d");
	finish(b, 2, 1);
	/* c won: a and d, running, are cancelled in job order. */
	expect_trace("+a +b +c $b !b +d $c !c -a $a !a -d $d !d D");
	/* any with a winner is ok. */
	expect_winner(2, 1);
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "cancelled: jobs[2] won");
	expect_seen(1, JOB_FAILED, ERR_IO_ERROR, "b failed");
	expect_seen(2, JOB_OK, ERR_NONE, "\"c\"");
	expect_seen(3, JOB_CANCELLED, ERR_CANCELLED, "cancelled: jobs[2] won");
	expect_stats(4, 1, 1, 2, 0);
	expect_idle(1, 0);
}

Test(batch, any_cancels_a_waiting_job_that_never_started)
{
	struct batch	*b = new_batch_in("abc", BATCH_ANY, 1);

	start(b, 0);
	finish(b, 0, 1);
	/* b and c were waiting: no work to cancel, no time taken. */
	expect_trace("+a $a $b $c D");
	expect_winner(0, 1);
	expect_seen(1, JOB_CANCELLED, ERR_CANCELLED, "cancelled: jobs[0] won");
	expect_seen(2, JOB_CANCELLED, ERR_CANCELLED, "cancelled: jobs[0] won");
	cr_assert_eq(seen[1].ms, 0);
	cr_assert_eq(seen[2].ms, 0);
	expect_idle(1, 0);
}

Test(batch, any_with_every_job_failed_has_no_winner_and_fails)
{
	struct batch	*b = new_batch_in("abc", BATCH_ANY, 0);

	start(b, 0);
	finish(b, 2, 0);
	finish(b, 0, 0);
	finish(b, 1, 0);
	expect_trace("+a +b +c $c $a $b D");
	expect_winner(-1, 0);
	cr_assert_eq(seen_decider, 2, "the first to fail decides: %lld",
	    (long long)seen_decider);
	expect_stats(3, 0, 3, 0, 0);
	expect_idle(1, 1);
}

Test(batch, first_the_first_job_to_finish_wins_even_failed)
{
	struct batch	*b = new_batch_in("abc", BATCH_FIRST, 0);

	start(b, 1);
	finish(b, 1, 0);
	expect_trace("+a +b +c $b !b -a $a !a -c $c !c D");
	/* first is ok only when the winner is. */
	expect_winner(1, 0);
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "cancelled: jobs[1] won");
	expect_stats(3, 0, 1, 2, 0);
	expect_idle(1, 1);

	b = next_batch_in("ab", BATCH_FIRST, 0);
	start(b, 0);
	finish(b, 1, 1);
	expect_winner(1, 1);
}

Test(batch, first_a_job_finishing_inside_its_start_wins_at_once)
{
	struct batch	*b = new_batch_in("abc", BATCH_FIRST, 0);

	fake(b, 1)->how = FAKE_OK_NOW;
	start(b, 0);
	/* a is cancelled, c never starts. */
	expect_trace("+a +b $b -a $a $c D");
	cr_assert_eq(ndone, 1);
	expect_winner(1, 1);
}

Test(batch, first_a_job_ending_by_its_own_timeout_ms_wins)
{
	struct batch	*b = new_batch_in("ab", BATCH_FIRST, 0);

	b->jobs[1]->timeout_ms = 20;
	start(b, 0);
	run_until_done(10000);
	expect_trace("+a +b -b $b -a $a D");
	expect_winner(1, 0);
	expect_seen(1, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "job timeout_ms (20 ms) reached");
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "cancelled: jobs[1] won");
}

Test(batch, any_and_first_without_jobs_have_no_winner_and_fail)
{
	struct batch	*b = new_batch_in("", BATCH_ANY, 0);

	start(b, 0);
	cr_assert_eq(ndone, 1);
	expect_winner(-1, 0);

	b = next_batch_in("", BATCH_FIRST, 0);
	start(b, 0);
	cr_assert_eq(ndone, 1);
	expect_winner(-1, 0);
	expect_idle(2, 2);
}

/* The batch's deadline is no win: every job times out, nobody won. */
Test(batch, any_at_the_batch_deadline_times_out_without_a_winner)
{
	struct batch	*b = new_batch_in("ab", BATCH_ANY, 0);

	b->timeout_ms = 30;
	start(b, 0);
	run_until_done(10000);
	expect_winner(-1, 0);
	expect_stats(2, 0, 0, 0, 2);
}

Test(batch, sequence_runs_one_at_a_time_and_stops_at_a_failure)
{
	struct batch	*b = new_batch_in("abcd", BATCH_SEQUENCE, 1);

	start(b, 0);
	finish(b, 0, 1);
	expect_trace("+a $a +b");
	finish(b, 1, 0);
	expect_trace("+a $a +b $b $c $d D");
	expect_seen(2, JOB_CANCELLED, ERR_CANCELLED, "not run: jobs[1] failed");
	expect_seen(3, JOB_CANCELLED, ERR_CANCELLED, "not run: jobs[1] failed");
	cr_assert_eq(seen_decider, 1);
	cr_assert_not(seen_ok);
}

/* Messages name a nested job by its path from the request. */
Test(batch, nested_messages_name_the_full_path)
{
	struct batch	*b = new_nested(), *inner;
	char		 path[BATCH_PATH_MAX];

	inner = fake(b, 0)->inner;
	inner->mode = BATCH_FAIL_FAST;
	batch_path(inner, 1, path, sizeof path);
	cr_assert_str_eq(path, "jobs[0].jobs[1]");
	cr_assert_eq(batch_depth(inner), 1);
	cr_assert_eq(b->ntotal, 4, "the root counts every level: %llu",
	    (unsigned long long)b->ntotal);
	start(b, 0);
	finish(inner, 1, 0);
	expect_trace("+a +x +y +b $y -x $x =a $a");
	cr_assert_eq(inner->jobs[0]->outcome, JOB_CANCELLED);
	cr_assert_str_eq(inner->jobs[0]->text,
	    "cancelled: jobs[0].jobs[1] failed");
	cr_assert_eq(inner->decider, 1);
	finish(b, 1, 1);
	expect_idle(1, 1);
}

/*
 * Every level's jobs are counted from the root's start, and a nested
 * batch whose owner is stopped before it started still ends each of its
 * jobs, so nothing stays counted.
 */
Test(batch, nested_jobs_wait_from_the_start_and_end_with_an_unstarted_owner)
{
	struct batch	*b = new_batch_in("ab", BATCH_ALL, 1), *inner;

	b->jobs[1]->type = &fake_owner_type;
	inner = fake(b, 1)->inner = new_batch("xyz", NULL);
	batch_nest(inner, b->jobs[1]);
	start(b, 0);
	expect_trace("+a");
	expect_status(1, 4, 1);
	batch_cancel(b, ERR_CANCELLED, "cancelled by request");
	expect_trace("+a -a $a -b $x $y $z =b $b D");
	expect_seen(1, JOB_CANCELLED, ERR_CANCELLED, "cancelled by request");
	cr_assert_eq(status.jobs_done, 5);
	expect_idle(1, 1);
}

/*
 * Retries: the fake fails its first tries inside start with a code; the
 * waits between tries are a millisecond or two.
 */

/* A batch of one flaky job: fails times with code, then succeeds. */
static struct batch *
new_flaky(unsigned fails, enum err_code code, unsigned tries,
    double backoff_ms)
{
	struct batch	*b = new_batch("a", &snap);
	struct fake_job	*f = fake(b, 0);

	f->how = FAKE_FLAKY;
	f->how2 = FAKE_OK_NOW;
	f->fails = (uint8_t)fails;
	f->code = (uint8_t)code;
	job_set_retry(b->jobs[0], tries, backoff_ms);
	return b;
}

Test(batch, retry_tries_a_transient_failure_again_until_it_succeeds)
{
	struct batch	*b = new_flaky(2, ERR_IO_ERROR, 3, 1);

	start(b, 0);
	/* The first try failed inside start; the job waits for its next. */
	expect_trace("+a");
	cr_assert_eq(status.jobs_retrying, 1);
	expect_status(0, 0, 1);
	run_until_done(10000);
	expect_trace("+a +a +a $a D");
	expect_seen(0, JOB_OK, ERR_NONE, "\"a\"");
	cr_assert_eq(seen[0].attempts, 3);
	/* Its time is all of it: 1 ms and 2 ms of waits, 20% less at most. */
	cr_assert_geq(seen[0].ms, 2.4, "ms %g", seen[0].ms);
	cr_assert_eq(status.jobs_retrying, 0);
	expect_idle(1, 0);
}

Test(batch, retry_gives_the_last_tries_outcome_when_they_run_out)
{
	struct batch	*b = new_flaky(5, ERR_DB_ERROR, 3, 0);

	start(b, 0);
	run_until_done(10000);
	expect_trace("+a +a +a $a D");
	expect_seen(0, JOB_FAILED, ERR_DB_ERROR, "a failed try 3");
	cr_assert_eq(seen[0].attempts, 3);
}

/* The tries a flaky job failing always with code makes, of 3 allowed. */
static int
tries_with(enum err_code code)
{
	struct batch	*b = new_flaky(9, code, 3, 0);

	clear_trace();
	start(b, 0);
	run_until_done(10000);
	cr_assert_eq(seen[0].code, code);
	return seen[0].attempts;
}

Test(batch, retry_only_transient_codes)
{
	static const enum err_code transient[] = {
		ERR_IO_ERROR, ERR_DB_ERROR, ERR_HTTP_ERROR, ERR_BUSY,
	};
	static const enum err_code final[] = {
		ERR_BAD_REQUEST, ERR_FORBIDDEN, ERR_NOT_FOUND, ERR_TOO_LARGE,
		ERR_BAD_ENCODING, ERR_CANCELLED, ERR_TIMEOUT,
	};
	size_t	i;

	for (i = 0; i < sizeof transient / sizeof transient[0]; i++)
		cr_assert_eq(tries_with(transient[i]), 3, "%s is transient",
		    err_name(transient[i]));
	/* A timeout is transient only from the job's own timeout_ms. */
	for (i = 0; i < sizeof final / sizeof final[0]; i++)
		cr_assert_eq(tries_with(final[i]), 1, "%s is not transient",
		    err_name(final[i]));
}

Test(batch, retry_each_try_under_its_own_timeout_ms)
{
	struct batch	*b = new_batch("a", &snap);

	b->jobs[0]->timeout_ms = 15;
	job_set_retry(b->jobs[0], 3, 1);
	start(b, 0);
	run_until_done(10000);
	expect_trace("+a -a +a -a +a -a $a D");
	expect_seen(0, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "job timeout_ms (15 ms) reached");
	cr_assert_eq(seen[0].attempts, 3);
	cr_assert_geq(seen[0].ms, 3 * 15 + 0.8 * 3, "ms %g", seen[0].ms);
}

/* max_job_ms bounds what a job may hold: reaching it is final. */
Test(batch, retry_not_after_max_job_ms)
{
	struct batch	*b = new_batch("a", &snap);

	snap.cfg.limits.max_job_ms = 15;
	job_set_retry(b->jobs[0], 3, 1);
	start(b, 0);
	run_until_done(10000);
	expect_trace("+a -a $a D");
	cr_assert_eq(seen[0].code, ERR_TIMEOUT);
	cr_assert_eq(seen[0].attempts, 1);
}

/* A success its type calls transient (an HTTP 503) is tried again. */
Test(batch, retry_a_success_marked_transient_and_keep_the_last)
{
	struct batch	*b = new_batch("a", &snap);

	fake(b, 0)->how = FAKE_OK_NOW;
	fake(b, 0)->transient = 1;
	fake(b, 0)->hint_ms = -1;
	job_set_retry(b->jobs[0], 3, 1);
	start(b, 0);
	run_until_done(10000);
	expect_trace("+a +a +a $a D");
	expect_seen(0, JOB_OK, ERR_NONE, "\"a\"");
	cr_assert_eq(seen[0].attempts, 3);

	/* Without retry the same success is final at once. */
	b = next_batch_in("a", BATCH_ALL, 0);
	fake(b, 0)->how = FAKE_OK_NOW;
	fake(b, 0)->transient = 1;
	start(b, 0);
	expect_trace("+a $a D");
	cr_assert_eq(seen[0].attempts, -1, "no retry, no attempts");
}

/* A retry-after hint longer than the backoff is waited instead. */
Test(batch, retry_waits_a_retry_after_hint)
{
	struct batch	*b = new_batch("a", &snap);

	fake(b, 0)->how = FAKE_OK_NOW;
	fake(b, 0)->transient = 1;
	fake(b, 0)->hint_ms = 60;
	job_set_retry(b->jobs[0], 2, 1);
	start(b, 0);
	run_until_done(10000);
	expect_trace("+a +a $a D");
	cr_assert_geq(seen[0].ms, 60, "waited %g ms, not the hint's 60",
	    seen[0].ms);
}

/* Run the loop for ms, whatever happens. */
static void
run_for(double ms)
{
	struct event	*dog;
	struct timeval	 tv;

	watchdog_fired = 0;
	dog = evtimer_new(base, watchdog_cb, NULL);
	cr_assert_not_null(dog);
	clock_ms_timeval(ms, &tv);
	evtimer_add(dog, &tv);
	while (!watchdog_fired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(dog);
	watchdog_fired = 0;
}

Test(batch, retry_wait_ends_at_a_cancel_at_once)
{
	struct batch	*b = new_flaky(5, ERR_IO_ERROR, 3, 30);

	start(b, 0);
	cr_assert_eq(status.jobs_retrying, 1);
	batch_cancel(b, ERR_CANCELLED, "cancelled by request");
	/* No work to cancel: it was waiting. */
	expect_trace("+a $a D");
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED, "cancelled by request");
	cr_assert_eq(seen[0].attempts, 1);
	cr_assert_eq(status.jobs_retrying, 0);
	/* Its wait is gone with it: past the backoff, no try comes. */
	run_for(100);
	expect_trace("+a $a D");
	expect_idle(1, 1);
	cr_assert_eq(status.jobs_retrying, 0);
}

Test(batch, retry_wait_ends_at_the_batch_deadline)
{
	struct batch	*b = new_flaky(5, ERR_IO_ERROR, 3, 10000);

	b->timeout_ms = 30;
	start(b, 0);
	run_until_done(5000);
	expect_seen(0, JOB_TIMED_OUT, ERR_TIMEOUT,
	    "batch timeout_ms (30 ms) reached");
	cr_assert_eq(seen[0].attempts, 1);
	cr_assert_eq(status.jobs_retrying, 0);
}

Test(batch, retry_wait_ends_when_fail_fast_stops_the_batch)
{
	struct batch	*b = new_batch_in("ab", BATCH_FAIL_FAST, 0);

	fake(b, 0)->how = FAKE_FLAKY;
	fake(b, 0)->fails = 5;
	fake(b, 0)->code = ERR_BUSY;
	job_set_retry(b->jobs[0], 5, 10000);
	start(b, 0);
	finish(b, 1, 0);
	expect_trace("+a +b $b $a D");
	expect_seen(0, JOB_CANCELLED, ERR_CANCELLED,
	    "cancelled: jobs[1] failed");
}

/* A job waiting between tries keeps its concurrency slot. */
Test(batch, retry_wait_keeps_the_concurrency_slot)
{
	struct batch	*b = new_batch_in("ab", BATCH_ALL, 1);

	fake(b, 0)->how = FAKE_FLAKY;
	fake(b, 0)->how2 = FAKE_OK_NOW;
	fake(b, 0)->fails = 1;
	fake(b, 0)->code = ERR_IO_ERROR;
	fake(b, 1)->how = FAKE_OK_NOW;
	job_set_retry(b->jobs[0], 2, 20);
	start(b, 0);
	expect_trace("+a");
	expect_status(0, 1, 1);
	run_until_done(10000);
	expect_trace("+a +a $a +b $b D");
}

Test(batch, retry_delay_doubles_with_jitter_and_a_cap)
{
	double	d;

	cr_assert_float_eq(retry_delay_ms(100, 1, -1, 0), 80, 1e-9);
	cr_assert_float_eq(retry_delay_ms(100, 1, -1, 0.5), 100, 1e-9);
	d = retry_delay_ms(100, 1, -1, 0.999999);
	cr_assert(d > 119.99 && d < 120, "%g", d);
	cr_assert_float_eq(retry_delay_ms(100, 2, -1, 0.5), 200, 1e-9);
	cr_assert_float_eq(retry_delay_ms(100, 4, -1, 0.5), 800, 1e-9);
	/* Capped at 30 s after the jitter, however large. */
	cr_assert_float_eq(retry_delay_ms(20000, 2, -1, 0), 30000, 1e-9);
	cr_assert_float_eq(retry_delay_ms(1e308, 9, -1, 0.5), 30000, 1e-9);
	cr_assert_float_eq(retry_delay_ms(0, 5, -1, 0.7), 0, 1e-9);
	/* A hint is waited when longer, up to 30 s. */
	cr_assert_float_eq(retry_delay_ms(100, 1, 500, 0.5), 500, 1e-9);
	cr_assert_float_eq(retry_delay_ms(100, 1, 10, 0.5), 100, 1e-9);
	cr_assert_float_eq(retry_delay_ms(100, 1, 90000, 0.5), 30000, 1e-9);
}
