/*
 * SIGTERM: batches in flight drain, what outlives shutdown_timeout_ms
 * is cancelled, a second SIGTERM cancels at once, slow readers get their
 * replies (within the time-out), every request already sent is
 * answered, and the daemon exits 0.
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

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
 * SIGTERM: drain, then exit 0.
 */

Test(daemon, sigterm_drains_batches_in_flight)
{
	json_t	*r;
	double	 t0;
	int	 a, b;

	a = daemon_start_client(&d, NULL);
	b = client_connect(d.sock);
	rpc_pong(b, "{\"op\":\"ping\"}", "null");
	client_send(a, "{\"id\":\"drain\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":1},"
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":2},"
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":3}]}");
	r = rpc(a, "{\"op\":\"ping\"}");	/* the batch is running */
	json_decref(r);

	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	daemon_wait_unlisten(&d);

	/* Draining: a new batch on an open connection is refused. */
	rpc_error(b, "{\"id\":\"late\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0}]}", "\"late\"", "shutting_down");

	/* The batch in flight runs to its end and is answered. */
	recv_has_between(a, "{\"id\":\"drain\",\"ok\":true,\"stats\":{\"ok\":3},"
	    "\"results\":[{},{},{\"value\":3}]}", t0, 0,
	    300 + slack_ms(PROMPT_MS));
	expect_eof(a, 3000);
	expect_eof(b, 3000);
	daemon_expect_exit_0(&d, 5000);
	close(a);
	close(b);
	daemon_stop(&d);
}

Test(daemon, sigterm_cancels_what_outlives_shutdown_timeout)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	/* No section header: the key lands in the harness's [daemon]. */
	fd = daemon_start_client(&d, "shutdown_timeout_ms = 300\n");
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":100},"
	    "{\"type\":\"sleep\",\"ms\":10000}]}");
	r = rpc(fd, "{\"op\":\"ping\"}");
	json_decref(r);
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	cr_assert_geq(dt, 250, "cancelled after %.1f ms", dt);
	cr_assert_lt(dt, 300 + slack_ms(PROMPT_MS), "cancelled after %.1f ms",
	    dt);
	jeq(r, "id", "1");
	jbool_is(r, "results[0].ok", true);
	jstr_is(r, "results[1].error.code", "cancelled");
	json_decref(r);
	expect_eof(fd, 3000);
	daemon_expect_exit_0(&d, 5000);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, second_sigterm_cancels_at_once)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":10000}]}");
	r = rpc(fd, "{\"op\":\"ping\"}");
	json_decref(r);
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	daemon_wait_unlisten(&d);
	expect_silence(fd, 100);
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "cancelled after %.1f ms", dt);
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	daemon_expect_exit_0(&d, 5000);
	close(fd);
	daemon_stop(&d);
}

#define BIG_REPLY_VALUE	(8 * 1024 * 1024)

/*
 * Send a batch whose reply holds a string of BIG_REPLY_VALUE bytes, and
 * wait until it is done and its reply stuck in the daemon (not read).
 */
static void
send_big_reply(int fd)
{
	char	*value, *line;

	value = harness_fill('v', BIG_REPLY_VALUE);
	line = harness_fmt("{\"id\":\"big\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"%s\"}]}", value);
	client_send(fd, line);
	free(line);
	free(value);
	json_decref(await_status(&d, -1, "batches.done", 1, slack_ms(5000)));
}

/*
 * Read fd chunk bytes at a time, pausing pause_ms between reads, until
 * EOF or ms pass; returns what was read (*nl set if a newline came).
 */
static size_t
read_slowly(int fd, size_t chunk, int pause_ms, int ms, bool *nl)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	double		 deadline = now_ms() + ms;
	char		*buf;
	size_t		 total = 0;
	ssize_t		 n;

	*nl = false;
	cr_assert_not_null(buf = malloc(chunk));
	while (now_ms() < deadline) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, buf, chunk);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			break;
		if (n == -1) {
			cr_assert_eq(errno, EINTR, "read: %s", strerror(errno));
			continue;
		}
		total += (size_t)n;
		if (memchr(buf, '\n', (size_t)n) != NULL)
			*nl = true;
		usleep((useconds_t)pause_ms * 1000);
	}
	free(buf);
	return total;
}

/*
 * Start the daemon with conf, leave a reply of BIG_REPLY_VALUE bytes
 * unread, SIGTERM it, then read 64 KiB every pause_ms: returns how long
 * until the newline or EOF, with the bytes read in *got and whether the
 * newline came in *nl. The daemon must exit 0 after.
 */
static double
sigterm_then_read(const char *conf, int pause_ms, size_t *got, bool *nl)
{
	double	 t0, dt;
	int	 fd;

	fd = daemon_start_client(&d, conf);
	send_big_reply(fd);
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	*got = read_slowly(fd, 65536, pause_ms, slack_ms(30000), nl);
	dt = now_ms() - t0;
	daemon_expect_exit_0(&d, 5000);
	close(fd);
	return dt;
}

/*
 * Shutting down, a client that reads its reply slowly, for longer than
 * the grace a client that never reads gets, still gets it whole.
 */
Test(daemon, sigterm_sends_a_slow_reader_its_whole_reply)
{
	double	 dt;
	size_t	 got;
	bool	 nl;

	/* 64 KiB every 40 ms: 8 MiB take over 5 s. */
	dt = sigterm_then_read(NULL, 40, &got, &nl);
	cr_assert(nl && got > BIG_REPLY_VALUE, "cut after %zu bytes, %.0f ms",
	    got, dt);
	cr_assert_gt(dt, 2500, "read too fast (%.0f ms) to prove anything",
	    dt);
	daemon_stop(&d);
}

/*
 * A client that reads, but too slowly to take its reply before
 * shutdown_timeout_ms has passed again, is closed then.
 */
Test(daemon, sigterm_closes_a_trickle_reader_after_shutdown_timeout)
{
	double	 dt;
	size_t	 got;
	bool	 nl;

	/* 64 KiB every 50 ms: steady, but 8 MiB would take 6 s. */
	dt = sigterm_then_read("shutdown_timeout_ms = 1000\n", 50, &got, &nl);
	cr_assert(!nl && got < BIG_REPLY_VALUE, "the whole reply came");
	/* Stopping starts at once; its time-out is seen at the next look. */
	cr_assert_geq(dt, 1000, "closed after %.0f ms", dt);
	cr_assert_lt(dt, 2000 + slack_ms(2000), "closed after %.0f ms", dt);
	daemon_stop(&d);
}

/* An idle daemon exits 0 at once on SIGTERM and closes its clients. */
Test(daemon, sigterm_when_idle_exits_at_once)
{
	double	t0, dt;
	int	fd;

	fd = daemon_start_client(&d, NULL);
	json_decref(rpc(fd, "{\"op\":\"ping\"}"));
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	expect_eof(fd, 2000);
	daemon_expect_exit_0(&d, 2000);
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "exit took %.1f ms", dt);
	close(fd);
	daemon_stop(&d);
}

/*
 * Requests that reached an accepted connection just before SIGTERM are all
 * answered: served if they were read in time, else shutting_down; never
 * dropped. Racy by nature, so it runs many rounds.
 */
Test(daemon, sigterm_answers_every_request_already_sent)
{
	const char	*both = "{\"op\":\"ping\",\"id\":1}\n"
	    "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}\n";
	json_t		*r;
	const char	*code;
	int		 round, fd, seen;

	for (round = 0; round < (harness_slack() > 1 ? 5 : 20); round++) {
		daemon_start(&d, NULL, NULL);
		fd = client_connect(d.sock);
		/* Accepted first: the race here is about unread requests. */
		json_decref(rpc(fd, "{\"op\":\"ping\"}"));
		client_write(fd, both, strlen(both));
		cr_assert_eq(kill(d.pid, SIGTERM), 0);
		for (seen = 0; seen < 2; seen++) {
			r = client_recv_json(fd, (int)slack_ms(5000));
			if (jint(r, "id") == 1)
				cr_assert(json_is_true(jget(r, "pong")), "%s",
				    jtext(r));
			else if (json_is_false(jget(r, "ok"))) {
				code = json_string_value(jget(r,
				    "error.code"));
				cr_assert(code != NULL &&
				    strcmp(code, "shutting_down") == 0,
				    "round %d: %s", round, jtext(r));
			} else
				jbool_is(r, "results[0].ok", true);
			json_decref(r);
		}
		expect_eof(fd, (int)slack_ms(2000));
		daemon_expect_exit_0(&d, (int)slack_ms(2000));
		close(fd);
		daemon_stop(&d);
	}
}
/*
 * A last line without its newline, then the end of the stream (socat's
 * way), both still in the socket at SIGTERM: the line is whole and is
 * answered, as at any other EOF. The daemon is paused while they go in,
 * so that all of it is there when it runs again.
 */
Test(daemon, sigterm_answers_a_last_line_before_the_end_of_the_stream)
{
	const char	*last = "{\"op\":\"ping\",\"id\":\"last\"}";
	json_t		*r;
	int		 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	json_decref(rpc(fd, "{\"op\":\"ping\"}"));	/* accepted */
	daemon_pause(&d);
	client_write(fd, last, strlen(last));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	daemon_resume(&d);
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", "\"last\"");
	jbool_is(r, "pong", true);
	json_decref(r);
	expect_eof(fd, 3000);
	daemon_expect_exit_0(&d, 5000);
	close(fd);
	daemon_stop(&d);
}

/*
 * While draining, a cancel that ends the last batch in flight: the drain
 * ends, but not under the request that caused it. The cancel gets one
 * reply (not a second, "cancelled":0, from the request read again), the
 * requests after it are answered in order, and a client that sent the
 * cancel as its last line and half-closed still gets the reply (the daemon
 * used to close it under the request and crash writing it).
 */
Test(daemon, cancel_that_ends_the_drain_is_answered_once)
{
	int	 a, b, half;
	json_t	*r;

	for (half = 0; half < 2; half++) {
		daemon_start(&d, "shutdown_timeout_ms = 20000\n",
		    NULL);
		b = client_connect(d.sock);
		client_send(b, "{\"id\":\"long\",\"jobs\":[{\"type\":\"sleep\","
		    "\"ms\":15000}]}");
		a = client_connect(d.sock);
		json_decref(rpc(a, "{\"op\":\"ping\"}"));
		cr_assert_eq(kill(d.pid, SIGTERM), 0);
		daemon_wait_unlisten(&d);
		if (!half) {
			/*
			 * One write: the daemon stops reading once the cancel
			 * ends the drain, so a newline sent later is lost.
			 */
			static const char two[] = "{\"op\":\"cancel\",\"id\":1,"
			    "\"target\":\"long\",\"conn\":\"any\"}\n"
			    "{\"op\":\"ping\",\"id\":2}\n";

			client_write(a, two, sizeof two - 1);
		} else {
			client_write(a, "{\"op\":\"cancel\",\"id\":1,"
			    "\"target\":\"long\",\"conn\":\"any\"}", 51);
			cr_assert_eq(shutdown(a, SHUT_WR), 0);
		}
		r = client_recv_json(a, slack_ms(5000));
		jeq(r, "id", "1");
		jeq(r, "cancelled", "1");
		json_decref(r);
		if (!half) {
			r = client_recv_json(a, slack_ms(5000));
			jeq(r, "id", "2");
			json_decref(r);
		}
		expect_eof(a, 2000);
		r = client_recv_json(b, slack_ms(5000));
		jstr_is(r, "results[0].error.code", "cancelled");
		json_decref(r);
		daemon_expect_exit_0(&d, 2000);
		close(a);
		close(b);
		daemon_stop(&d);
	}
}
