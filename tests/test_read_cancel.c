/*
 * Reads cancelled while they are on the workers (by cancel, fail_fast,
 * a deadline or a disconnect) leave nothing behind, and SIGTERM with
 * reads on the workers drains them and exits 0.
 *
 * End-to-end: real gatherd processes reading real files, directories,
 * symbolic links, FIFOs and sockets that each test builds in its own
 * directory (readtest.h); the read suites share the suite name read.
 * Timing bounds are wide and say what they tell apart; under
 * GATHERD_TEST_WRAPPER (valgrind) loops run fewer rounds and time-outs
 * are longer: there the point is memory errors and leaks, not speed.
 */

#include <sys/wait.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "readtest.h"

HARNESS_SUITE(read, 180);

/*
 * 6. Cancellation while reads are on workers.
 */

#define CANCEL_FILES	8
#define CANCEL_SIZE	(256 * 1024)

/* Files big0..big7 of CANCEL_SIZE bytes of letters. */
static void
make_cancel_files(void)
{
	char	*buf, name[32];
	int	 i;

	buf = malloc(CANCEL_SIZE);
	cr_assert_not_null(buf);
	for (i = 0; i < CANCEL_FILES; i++) {
		memset(buf, 'a' + i, CANCEL_SIZE);
		snprintf(name, sizeof name, "root/big%d", i);
		put(name, buf, CANCEL_SIZE);
	}
	free(buf);
}

/* A batch line: opts (JSON members, may be ""), first (a job or NULL), n reads. */
static char *
cancel_batch(const char *opts, const char *first, int n, const char *last)
{
	char	*s, *p;
	size_t	 len = 0, cap = (size_t)n * 80 + 1024;
	int	 i;

	s = malloc(cap);
	cr_assert_not_null(s);
	len += (size_t)snprintf(s, cap, "{%s%s\"jobs\":[%s%s", opts,
	    *opts != '\0' ? "," : "", first != NULL ? first : "",
	    first != NULL ? "," : "");
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s{\"type\":"
		    "\"read\",\"path\":\"big%d\",\"encoding\":\"base64\"}",
		    i > 0 ? "," : "", i % CANCEL_FILES);
	}
	p = s + len;
	snprintf(p, cap - len, "%s%s]}", last != NULL ? "," : "",
	    last != NULL ? last : "");
	return s;
}

/*
 * Let the daemon settle after a round; the longest settle in *max. A read
 * left behind never settles; the cancelled ones end within milliseconds
 * bare, so 2 s is wide, but stretched like every wait for a state: a
 * valgrind or ASan daemon on a loaded machine is many times slower.
 */
static void
round_settles(double *max, const char *what)
{
	double	dt = expect_settles(&d, slack_ms(2000), what);

	*max = dt > *max ? dt : *max;
}

/*
 * Check a cancelled batch's reply: stats add up, every ok read is whole,
 * every other result has one of the codes allowed (comma-separated list),
 * and the stats count some jobs under stopped_by ("stats.cancelled"; not
 * checked if NULL). Adds the jobs cancelled or timed out to *nstopped.
 */
static void
check_cancelled_reply(json_t *r, size_t njobs, const char *allowed,
    const char *stopped_by, size_t *nstopped)
{
	json_t		*res;
	const char	*code;
	size_t		 i, nok = 0, nbad = 0;

	cr_assert_eq(json_array_size(jget(r, "results")), njobs, "%.500s",
	    jtext(r));
	cr_assert_eq(jint(r, "stats.jobs"), (json_int_t)njobs);
	cr_assert_eq(jint(r, "stats.ok") + jint(r, "stats.failed") +
	    jint(r, "stats.cancelled") + jint(r, "stats.timed_out"),
	    (json_int_t)njobs, "%s", jtext(jget(r, "stats")));
	if (stopped_by != NULL)
		cr_assert_gt(jint(r, stopped_by), 0, "%s",
		    jtext(jget(r, "stats")));
	for (i = 0; i < njobs; i++) {
		res = json_array_get(jget(r, "results"), i);
		if (json_is_true(jget(res, "ok"))) {
			if (json_is_object(jget(res, "value")))
				cr_assert_eq(jint(res, "value.bytes"),
				    CANCEL_SIZE, "%.300s", jtext(res));
			nok++;
			continue;
		}
		code = jstr(res, "error.code");
		if (strstr(allowed, code) == NULL)
			nbad++;
		cr_assert_eq(nbad, 0, "results[%zu]: %s (allowed: %s)", i,
		    jtext(res), allowed);
		if (strcmp(code, "cancelled") == 0 ||
		    strcmp(code, "timeout") == 0)
			(*nstopped)++;
	}
	cr_assert_eq(jint(r, "stats.ok"), (json_int_t)nok);
}

Test(read, cancellation_leaves_nothing_behind)
{
	struct reader	 c;
	json_t		*r, *st;
	json_int_t	 done;
	char		*line, *missing, *failing_sleep;
	size_t		 total_stopped = 0;
	int		 round, rounds = harness_wrapped() ? 10 : 50;
	double		 max_settle = 0;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	make_cancel_files();
	start(MODE_DEFAULT, 4, "root", NULL);
	missing = read_job("no-such-file", "");
	failing_sleep = strdup("{\"type\":\"sleep\",\"ms\":10000,"
	    "\"timeout_ms\":2}");

	for (round = 0; round < rounds; round++) {
		/* (a) fail_fast: a quick failure cancels the reads. */
		if (round % 2 == 0)
			line = cancel_batch("\"mode\":\"fail_fast\"", missing,
			    100, NULL);
		else
			line = cancel_batch("\"mode\":\"fail_fast\"", NULL,
			    100, failing_sleep);
		r = daemon_request_ms(&d, line, reply_ms());
		jbool_is(r, "ok", false);
		cr_assert_eq(jint(r, "stats.failed") + jint(r,
		    "stats.timed_out"), 1, "%s", jtext(jget(r, "stats")));
		if (round % 2 == 0)
			jstr_is(r, "results[0].error.code", "not_found");
		else
			jstr_is(r, "results[100].error.code", "timeout");
		check_cancelled_reply(r, 101, "cancelled,not_found,timeout",
		    "stats.cancelled", &total_stopped);
		json_decref(r);
		free(line);
		round_settles(&max_settle, "fail_fast");

		/* (b) a batch deadline of 1 ms over 200 reads. */
		line = cancel_batch("\"timeout_ms\":1", NULL, 200, NULL);
		r = daemon_request_ms(&d, line, reply_ms());
		check_cancelled_reply(r, 200, "timeout", "stats.timed_out",
		    &total_stopped);
		json_decref(r);
		free(line);
		round_settles(&max_settle, "batch timeout_ms");

		/*
		 * (c) a disconnect right after sending 200 reads: a plain
		 * close, or a reset (a reply left unread) every other round.
		 */
		line = cancel_batch("", NULL, 200, NULL);
		st = status_of(&d);
		done = jint(st, "jobs.by_type.read.done");
		json_decref(st);
		reader_open(&c, d.sock);
		if (round % 2 == 1) {
			client_send(c.fd, "{\"op\":\"ping\"}");
			usleep(1000);
		}
		client_send(c.fd, line);
		reader_close(&c);
		free(line);
		round_settles(&max_settle, "disconnect");
		/*
		 * After a close the batch did start: its 200 reads ended,
		 * most cancelled. A reset may also drop the line unread.
		 */
		st = status_of(&d);
		done = jint(st, "jobs.by_type.read.done") - done;
		cr_assert(done == 200 || (round % 2 == 1 && done == 0),
		    "round %d: %lld reads done: %s", round, (long long)done,
		    jtext(st));
		json_decref(st);
		daemon_ping(&d, reply_ms());
	}
	cr_log_info("cancellation: %d rounds, %zu jobs stopped, slowest"
	    " settle %.1f ms", rounds, total_stopped, max_settle);
	free(missing);
	free(failing_sleep);
	daemon_stop(&d);
}

/*
 * SIGTERM while reads are on the workers: the batch in flight finishes
 * and is answered, the abandoned work of a gone client is freed, exit 0.
 */
Test(read, sigterm_with_reads_on_workers_drains_and_exits_0)
{
	struct reader	 c, gone;
	json_t		*r, *st;
	json_int_t	 batches = 0, done = 0;
	double		 deadline;
	char		*line;
	size_t		 stopped = 0;
	int		 status;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	make_cancel_files();
	start(MODE_DEFAULT, 2, "root", NULL);
	line = cancel_batch("", NULL, 200, NULL);
	/*
	 * A ping first: the socket accepts before the daemon handles
	 * SIGTERM, and this test is about reads, not start-up.
	 */
	reader_open(&c, d.sock);
	client_send(c.fd, "{\"op\":\"ping\"}");
	json_decref(reader_json(&c, reply_ms()));
	reader_open(&gone, d.sock);
	client_send(gone.fd, line);
	reader_close(&gone);
	client_send(c.fd, line);
	/*
	 * SIGTERM only once the daemon has read c's batch: a request still
	 * unread when the drain starts is not in flight, and the point here
	 * is the batch on the workers.
	 */
	deadline = now_ms() + reply_ms();
	for (;;) {
		st = status_of(&d);
		batches = jint(st, "batches.in_flight");
		done = jint(st, "batches.done");
		json_decref(st);
		if ((batches == 1 && done == 1) || now_ms() > deadline)
			break;
		usleep(1000);
	}
	cr_assert(batches == 1 && done == 1, "c's batch never started");
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	r = reader_json(&c, reply_ms());
	jbool_is(r, "ok", true);
	check_cancelled_reply(r, 200, "", NULL, &stopped);
	json_decref(r);
	status = daemon_wait(&d, reply_ms());
	cr_assert_neq(status, -1, "gatherd did not exit");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd exited with status 0x%x, see %s", status, d.log);
	reader_close(&c);
	free(line);
	daemon_stop(&d);
}
