/*
 * A job's retry: a try that fails with a transient code is made again
 * after B, 2B, 4B... (20% either side), under the job's own timeout_ms
 * each, until it succeeds or the tries run out; codes that are not
 * transient are final at once; the batch's deadline, a cancel and a
 * client that leaves end the wait; "attempts" says how many tries were
 * made. A job waiting between tries holds no worker and shows in status
 * as retrying.
 *
 * End-to-end: real gatherd processes reading real files (a FIFO is an
 * io_error, a transient code, until a regular file replaces it) and real
 * SQLite databases locked by this process. Lower timing bounds are the
 * backoffs less their 20%; upper bounds are wide and stretched.
 */

#include <sys/stat.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"

static struct daemon	d;	/* this test's daemon */
static char		dir[256];	/* its read root */

HARNESS_SUITE(daemon, 60);

/* A daemon reading beneath a fresh directory, on threads workers. */
static int
start_reader(unsigned threads)
{
	char	*conf;
	int	 fd;

	harness_tmpdir(dir, sizeof dir, "gatherd-retry");
	conf = harness_fmt("threads = %u\n[read]\nroots = %s\n", threads, dir);
	fd = daemon_start_client(&d, conf);
	free(conf);
	return fd;
}

/*
 * A FIFO at name in dir: reading it is io_error, a transient code (a
 * regular file may replace it).
 */
static void
make_fifo(const char *name)
{
	char	*path = harness_fmt("%s/%s", dir, name);

	cr_assert_eq(mkfifo(path, 0644), 0);
	free(path);
}

/* start_reader(2) with a FIFO called "fifo" in the read root. */
static int
start_fifo_reader(void)
{
	int	fd = start_reader(2);

	make_fifo("fifo");
	return fd;
}

/*
 * start_fifo_reader (its client in *fd), then line; its reply, which
 * comes lo to hi ms after.
 */
static json_t *
fifo_rpc_between(int *fd, const char *line, double lo, double hi)
{
	*fd = start_fifo_reader();
	return rpc_between(*fd, line, lo, hi);
}

/* Put a regular file holding text where name is (a FIFO), atomically. */
static void
replace_with_file(const char *name, const char *text)
{
	char	*tmp = harness_fmt("%s/.%s.tmp", dir, name);
	char	*path = harness_fmt("%s/%s", dir, name);
	FILE	*f;

	cr_assert_not_null(f = fopen(tmp, "w"));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	free(path);
}

/* Wait until the daemon has n jobs waiting between tries. */
static void
await_retrying(int n)
{
	json_decref(await_status(&d, -1, "jobs.retrying", n, slack_ms(5000)));
}

Test(daemon, retry_until_a_transient_failure_clears)
{
	json_t	*r, *st;
	int	 fd;

	fd = start_reader(2);
	make_fifo("flaky");
	client_send(fd, "{\"jobs\":[{\"type\":\"read\",\"path\":\"flaky\","
	    "\"retry\":{\"attempts\":10,\"backoff_ms\":200}}]}");
	/*
	 * Waiting: not running, not waiting for a slot, but in flight.
	 * Asserted on the status that shows it retrying: one asked after
	 * it may land in the next try, with the job running.
	 */
	st = await_status(&d, -1, "jobs.retrying", 1, slack_ms(5000));
	cr_assert_eq(jint(st, "jobs.in_flight"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "jobs.waiting"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.in_flight"), 1, "%s", jtext(st));
	json_decref(st);
	replace_with_file("flaky", "fine now\n");
	r = client_recv_json(fd, slack_ms(5000));
	jbool_is(r, "ok", true);
	jstr_is(r, "results[0].value.data", "fine now\n");
	cr_assert_geq(jint(r, "results[0].attempts"), 2, "%s", jtext(r));
	/* Its ms is the whole job: a wait of 200 ms, less 20%, at least. */
	cr_assert_geq(jnum(r, "results[0].ms"), 160, "%s", jtext(r));
	json_decref(r);
	daemon_expect_idle(&d);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, retry_runs_out_with_the_last_tries_error_after_the_backoffs)
{
	json_t	*r;
	int	 fd;

	/* 100 + 200 + 400 ms of waits, each 20% short (or long) at most. */
	r = fifo_rpc_between(&fd, "{\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"fifo\",\"retry\":{\"attempts\":4,"
	    "\"backoff_ms\":100}}]}", 0.8 * 700, 1.2 * 700 + slack_ms(1500));
	jhas(r, "results[0]", "{\"attempts\":4,"
	    "\"error\":{\"code\":\"io_error\"}}");
	jstr_has(r, "results[0].error.message", "FIFO");
	cr_assert_geq(jnum(r, "results[0].ms"), 0.8 * 700, "%s", jtext(r));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Each try has the job's own timeout_ms, a transient end. */
Test(daemon, retry_each_try_under_its_own_timeout_ms)
{
	json_t	*r;
	int	 fd;

	r = daemon_rpc(&d, &fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":5000,"
	    "\"timeout_ms\":50,\"retry\":{\"attempts\":3,\"backoff_ms\":10}}]}");
	jhas(r, "results[0]", "{\"attempts\":3,\"error\":{\"code\":\"timeout\","
	    "\"message\":\"job timeout_ms (50 ms) reached\"}}");
	cr_assert_geq(jnum(r, "results[0].ms"), 3 * 50 + 0.8 * 30, "%s",
	    jtext(r));
	json_decref(r);

	/* With time enough, the first try succeeds: one attempt. */
	rpc_has(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":10,\"value\":1,"
	    "\"timeout_ms\":5000,\"retry\":{\"attempts\":3}}]}",
	    "{\"ok\":true,\"results\":[{\"attempts\":1}]}");
	close(fd);
	daemon_stop(&d);
}

Test(daemon, retry_never_for_codes_that_are_not_transient)
{
	json_t	*r;
	int	 fd;

	fd = start_reader(2);
	r = rpc(fd, "{\"jobs\":["
	    "{\"type\":\"read\",\"path\":\"missing\",\"retry\":{\"attempts\":5,"
	    "\"backoff_ms\":1000}},"
	    "{\"type\":\"read\",\"path\":\"/etc/passwd\",\"retry\":"
	    "{\"attempts\":5,\"backoff_ms\":1000}},"
	    "{\"type\":\"sleep\",\"ms\":1,\"retry\":{\"attempts\":5}}]}");
	jhas(r, "results", "["
	    "{\"attempts\":1,\"error\":{\"code\":\"not_found\"}},"
	    "{\"attempts\":1,\"error\":{\"code\":\"forbidden\"}},"
	    "{\"attempts\":1}]");
	json_decref(r);
	/* Without retry, no attempts. */
	r = rpc(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1}]}");
	cr_assert_null(jget(r, "results[0].attempts"), "%s", jtext(r));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * A job waiting between tries holds no worker: with one worker thread,
 * another client's read is served while it waits.
 */
Test(daemon, retry_wait_holds_no_worker)
{
	json_t	*r;
	double	 t0, took;
	int	 fd, fd2;

	fd = start_reader(1);
	make_fifo("fifo");
	replace_with_file("ok.txt", "ok\n");
	client_send(fd, "{\"id\":\"slow\",\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"fifo\",\"retry\":{\"attempts\":3,\"backoff_ms\":"
	    "20000}}]}");
	await_retrying(1);
	fd2 = client_connect(d.sock);
	r = rpc_timed(fd2, "{\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"ok.txt\"}]}", &took);
	jstr_is(r, "results[0].value.data", "ok\n");
	cr_assert_lt(took, slack_ms(HARNESS_PROMPT_MS), "the one worker"
	    " served a read after %.0f ms", took);
	json_decref(r);

	/* The cancel op ends the wait at once. */
	t0 = now_ms();
	client_send(fd2, "{\"op\":\"cancel\",\"target\":\"slow\","
	    "\"conn\":\"any\"}");
	r = client_recv_json(fd2, slack_ms(2000));
	jeq(r, "cancelled", "1");
	json_decref(r);
	r = client_recv_json(fd, slack_ms(2000));
	took = now_ms() - t0;
	jstr_is(r, "results[0].error.code", "cancelled");
	cr_assert_eq(jint(r, "results[0].attempts"), 1, "%s", jtext(r));
	cr_assert_lt(took, slack_ms(1000), "cancelled after %.0f ms", took);
	json_decref(r);
	daemon_expect_idle(&d);
	close(fd);
	close(fd2);
	daemon_stop(&d);
}

Test(daemon, retry_wait_ends_at_the_batch_deadline)
{
	json_t	*r;
	int	 fd;

	r = fifo_rpc_between(&fd, "{\"timeout_ms\":300,\"jobs\":["
	    "{\"type\":\"read\","
	    "\"path\":\"fifo\",\"retry\":{\"attempts\":3,\"backoff_ms\":"
	    "20000}}]}", 300, 300 + slack_ms(1000));
	jhas(r, "results[0]", "{\"attempts\":1,\"error\":{\"code\":\"timeout\","
	    "\"message\":\"batch timeout_ms (300 ms) reached\"}}");
	json_decref(r);
	daemon_expect_idle(&d);
	close(fd);
	daemon_stop(&d);
}

/* fail_fast: a sibling's failure ends the wait as it cancels the rest. */
Test(daemon, retry_wait_ends_when_fail_fast_stops_the_batch)
{
	int	fd;

	fd = start_fifo_reader();
	rpc_has(fd, "{\"mode\":\"fail_fast\",\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"fifo\",\"retry\":{\"attempts\":3,\"backoff_ms\":"
	    "20000}},{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":100}]}",
	    "{\"results\":[{\"error\":{\"code\":\"cancelled\","
	    "\"message\":\"cancelled: jobs[1] failed\"}},{}]}");
	close(fd);
	daemon_stop(&d);
}

Test(daemon, retry_wait_ends_when_the_client_leaves)
{
	json_t	*st;
	int	 fd;

	fd = start_fifo_reader();
	client_send(fd, "{\"jobs\":[{\"type\":\"read\",\"path\":\"fifo\","
	    "\"retry\":{\"attempts\":3,\"backoff_ms\":20000}}]}");
	await_retrying(1);
	close(fd);
	st = await_status(&d, -1, "batches.in_flight", 0, slack_ms(2000));
	expect_idle(st);
	json_decref(st);
	daemon_stop(&d);
}

/*
 * A query failing on a locked SQLite database (db_error, transient)
 * succeeds once this process lets the lock go.
 */
Test(daemon, retry_a_query_until_its_database_is_unlocked)
{
	sqlite3	*lock;
	json_t	*r;
	int	 fd;

	lock = dbtest_start_locked(&d, 2, 20, &fd);
	/* Its statement and parameters are there for every try. */
	client_send(fd, "{\"jobs\":[{\"type\":\"query\",\"sql\":\"select"
	    " count(*), ?2 from t where x >= ?1\",\"params\":[0,\"p\"],"
	    "\"retry\":{\"attempts\":10,\"backoff_ms\":100}}]}");
	await_retrying(1);
	dbtest_exec(lock, "rollback");
	sqlite3_close(lock);
	r = client_recv_json(fd, slack_ms(10000));
	jbool_is(r, "ok", true);
	jeq(r, "results[0].value.rows", "[[1,\"p\"]]");
	cr_assert_geq(jint(r, "results[0].attempts"), 2, "%s", jtext(r));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}
