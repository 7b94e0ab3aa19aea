/*
 * Clients that do not keep up: one stalled mid-line holds up nobody,
 * one that does not read is paused (its replies kept, none dropped), and
 * a reply larger than the output mark is still sent whole.
 *
 * End-to-end: real gatherd processes on private Unix sockets, driven over
 * the wire the way a client drives them; each test starts its daemon in d
 * and stops it at the end, which asserts it exited 0. The protocol's
 * end-to-end suites share the suite name daemon (README, "Tests").
 * Timing bounds are wide: they tell "concurrent" from "one after another"
 * and "at once" from "waited for a sleep", nothing finer. Upper bounds
 * are stretched by slack_ms() (only their overhead part where they tell
 * concurrent from sequential: 1000 + slack_ms(300)); lower bounds (a
 * sleep never returns early) never are.
 */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	500

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * A stalled client does not hold up others.
 */

Test(daemon, stalled_client_does_not_block_others)
{
	json_t	*r;
	double	 t0, dt;
	int	 a, b;

	a = daemon_start_client(&d, NULL);
	client_write(a, "{\"jobs\":[", 9);
	/*
	 * Wait until the daemon has read the partial line (nothing of it
	 * left in a's socket): a loop that waited for the rest of a line
	 * would be waiting from now on.
	 */
	client_wait_read(a);

	b = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(b, "{\"op\":\"ping\",\"id\":1}");
	dt = now_ms() - t0;
	/* A loop blocked on a, which never finishes, would not answer. */
	cr_assert_lt(dt, slack_ms(HARNESS_PROMPT_MS), "ping took %.1f ms",
	    dt);
	jbool_is(r, "pong", true);
	json_decref(r);
	r = rpc_timed(b, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":50,"
	    "\"value\":\"b\"}]}", &dt);
	jhas(r, "", "{\"ok\":true,\"results\":[{\"value\":\"b\"}]}");
	cr_assert_lt(dt, 50 + slack_ms(PROMPT_MS), "took %.1f ms", dt);
	json_decref(r);

	/* A finishes its line at last and is answered. */
	expect_silence(a, 10);
	rpc_has(a, "{\"type\":\"sleep\",\"ms\":0,\"value\":\"a\"}],\"id\":\"a\"}",
	    "{\"id\":\"a\",\"ok\":true,\"results\":[{\"value\":\"a\"}]}");
	close(a);
	close(b);
	daemon_stop(&d);
}

/*
 * A client that does not read.
 */

#define SLOW_BATCHES	200
#define SLOW_VALUE	10240

Test(daemon, slow_reader_is_paused_not_dropped)
{
	struct reader	 rd;
	json_t		*r, *st;
	char		*req, *value;
	size_t		 n;
	double		 t0, dt;
	long		 rss0, rss1;
	pid_t		 writer;
	int		 fd, other, i, status, seen[SLOW_BATCHES] = { 0 };
	json_int_t	 done, prev, id;

	daemon_start(&d, "[limits]\nmax_output_bytes = 65536\n", NULL);
	value = harness_fill('v', SLOW_VALUE);
	rss0 = proc_kb(d.pid, "VmRSS");

	/*
	 * A child writes every request (it blocks once the daemon stops
	 * reading); nobody reads the replies yet.
	 */
	fd = client_connect(d.sock);
	writer = fork();
	cr_assert_neq(writer, -1);
	if (writer == 0) {
		for (i = 0; i < SLOW_BATCHES; i++) {
			req = harness_fmt("{\"id\":%d,\"jobs\":[{\"type\":\"sleep\","
			    "\"ms\":0,\"value\":\"%s\"}]}\n", i, value);
			for (n = 0; n < strlen(req);) {
				ssize_t	w = write(fd, req + n, strlen(req) - n);

				if (w <= 0)
					_exit(1);
				n += (size_t)w;
			}
			free(req);
		}
		_exit(0);
	}

	/*
	 * Let it fill every buffer. Under a slow wrapper, then wait until
	 * batches.done stops moving (up to 500 ms stretched). Bare, no wait.
	 */
	t0 = now_ms();
	usleep(500000);
	for (prev = -1; now_ms() < t0 + slack_ms(500); prev = done) {
		st = status_of(&d);
		done = jint(st, "batches.done");
		json_decref(st);
		if (done == prev)
			break;
		usleep(100000);
	}
	other = client_connect(d.sock);
	for (i = 0; i < 5; i++) {
		t0 = now_ms();
		r = rpc(other, "{\"op\":\"ping\"}");
		dt = now_ms() - t0;
		/* A loop held up by the paused client would not answer. */
		cr_assert_lt(dt, slack_ms(HARNESS_PROMPT_MS),
		    "ping took %.1f ms", dt);
		json_decref(r);
	}
	r = rpc(other, "{\"op\":\"status\"}");
	st = jget(r, "status");
	done = jint(st, "batches.done");
	cr_assert_lt(done, SLOW_BATCHES / 2,
	    "%lld batches answered to a client that reads nothing",
	    (long long)done);
	cr_assert_eq(waitpid(writer, &status, WNOHANG), 0,
	    "the writer finished: the daemon kept reading");
	/*
	 * 2 MB of requests and replies, of which a few hundred kB are held.
	 * Under valgrind or ASan the memory measured is the tool's.
	 */
	rss1 = proc_kb(d.pid, "VmRSS");
	cr_assert(rss0 > 0 && rss1 > 0);
	if (harness_rss_meaningful())
		cr_assert_lt(rss1 - rss0, 1536, "daemon grew by %ld kB",
		    rss1 - rss0);
	json_decref(r);

	/* Now read everything: every reply comes, whole. */
	reader_init(&rd, fd);
	for (i = 0; i < SLOW_BATCHES; i++) {
		r = reader_json(&rd, 10000);
		id = jint(r, "id");
		cr_assert(id >= 0 && id < SLOW_BATCHES, "%lld", (long long)id);
		cr_assert_eq(seen[id], 0, "reply %lld twice", (long long)id);
		seen[id] = 1;
		jbool_is(r, "ok", true);
		cr_assert_eq(strlen(json_string_value(jget(r,
		    "results[0].value"))), SLOW_VALUE);
		json_decref(r);
	}
	cr_assert_eq(waitpid(writer, &status, 0), writer);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "writer status 0x%x", status);
	cr_assert_null(reader_line(&rd, 200), "an extra line");
	reader_free(&rd);
	free(value);
	close(fd);
	close(other);
	daemon_stop(&d);
}

/* A single reply larger than the high-water mark is still sent whole. */
Test(daemon, reply_larger_than_the_output_mark_is_sent_whole)
{
	struct reader	 rd;
	json_t		*r;
	char		*value, *req, *want;
	int		 fd;

	daemon_start(&d, "[limits]\nmax_output_bytes = 65536\n", NULL);
	value = harness_fill('w', 200000);
	/*
	 * The batch and the ping go in one write, so the ping is in the
	 * socket however late this process runs after it. The batch's
	 * second job sleeps until the pong has come and a cancel ends it:
	 * nothing here is a race with a sleep.
	 */
	req = harness_fmt("{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":\"%s\"},{\"type\":\"sleep\",\"ms\":60000}]}\n"
	    "{\"op\":\"ping\",\"id\":2}\n", value);
	fd = client_connect(d.sock);
	client_write(fd, req, strlen(req));
	reader_init(&rd, fd);
	r = reader_json(&rd, slack_ms(5000));
	/* The ping was answered first: it did not wait behind the batch. */
	jeq(r, "id", "2");
	json_decref(r);
	/* Its first job done (a 0 ms sleep is a turn of the loop), cancel. */
	json_decref(await_status(&d, -1, "jobs.done", 1, slack_ms(5000)));
	client_send(fd, "{\"op\":\"cancel\",\"target\":1,\"id\":\"c\"}");
	/* The cancel's reply and the batch's, in either order. */
	r = reader_json(&rd, slack_ms(5000));
	want = harness_fmt("{\"id\":1,\"results\":[{\"value\":\"%s\"},"
	    "{\"error\":{\"code\":\"cancelled\"}}]}", value);
	expect_cancel_and_batch(r, reader_json(&rd, slack_ms(5000)),
	    "{\"id\":\"c\",\"cancelled\":1}", want);
	free(want);
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":3}", "3");
	reader_free(&rd);
	free(req);
	free(value);
	close(fd);
	daemon_stop(&d);
}
