/*
 * A client that goes: its batches are cancelled and nothing is left
 * behind, whether it closes at once, mid-batch, with unread replies (a
 * reset) or while paused for not reading. A half-close is not a
 * disconnect: the client still gets every reply, then EOF.
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
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

/*
 * A sleep never returns early. Results are reported to the microsecond and
 * libevent's timers count whole microseconds, so "early" means by more
 * than one microsecond.
 */
#define NOT_EARLY(ms)	((ms) - 0.001)

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * Disconnect: the client's batches are cancelled, nothing leaks.
 */

static const char *
hundred_long_sleeps(void)
{
	static char	*line;
	FILE		*fp;
	size_t		 len;
	int		 i;

	if (line != NULL)
		return line;
	cr_assert_not_null(fp = open_memstream(&line, &len));
	fputs("{\"id\":\"gone\",\"jobs\":[", fp);
	for (i = 0; i < 100; i++)
		fprintf(fp, "%s{\"type\":\"sleep\",\"ms\":5000}", i ? "," : "");
	fputs("]}", fp);
	fclose(fp);
	return line;
}

/*
 * Poll status until the daemon is idle, with done jobs done (any if < 0)
 * and only the status connection open; assert it takes < 1 s (stretched)
 * from since.
 */
static void
expect_cleaned_up(double since, json_int_t done)
{
	struct settled	 want = { .conns = 1 };
	json_t		*st;

	want.jobs_done = done < 0 ? 0 : done;
	st = await_settled(&d, -1, &want, since, slack_ms(1000), "cleaned up");
	expect_idle(st);
	cr_assert_eq(jint(st, "connections.open"), 1, "%s", jtext(st));
	json_decref(st);
}

Test(daemon, disconnect_right_after_sending_cancels_everything)
{
	double	t0;
	int	fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, hundred_long_sleeps());
	t0 = now_ms();
	close(fd);
	/* jobs.done 100: the batch did start, and was cancelled. */
	expect_cleaned_up(t0, 100);
	daemon_stop(&d);
}

Test(daemon, disconnect_mid_batch_cancels_everything)
{
	json_t	*st;
	double	 t0;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, hundred_long_sleeps());
	client_send(fd, "{\"id\":2,\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},{\"type\":\"sleep\",\"ms\":5000}]}");
	st = await_status(&d, -1, "jobs.in_flight", 101, slack_ms(2000));
	jhas(st, "", "{\"jobs\":{\"waiting\":1},"
	    "\"batches\":{\"in_flight\":2},\"connections\":{\"open\":2}}");
	json_decref(st);
	t0 = now_ms();
	close(fd);
	expect_cleaned_up(t0, 102);
	daemon_stop(&d);
}

/* Unread replies in the client's buffer make the close a reset. */
Test(daemon, reset_mid_batch_cancels_everything)
{
	double	 t0;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"op\":\"ping\"}");
	client_send(fd, hundred_long_sleeps());
	json_decref(await_status(&d, -1, "jobs.in_flight", 100,
	    slack_ms(2000)));
	t0 = now_ms();
	close(fd);
	expect_cleaned_up(t0, 100);
	daemon_stop(&d);
}

/*
 * Write filler on the non-blocking fd (from *off into it) until the write
 * would block; whether it did (rather than running for ms).
 */
static bool
write_until_blocked(int fd, const char *filler, size_t len, size_t *off,
    double ms)
{
	double	t0 = now_ms();
	ssize_t	n;

	while (now_ms() - t0 < ms) {
		n = write(fd, filler + *off, len - *off);
		if (n < 0) {
			cr_assert(errno == EAGAIN, "write: %s", strerror(errno));
			return true;
		}
		*off = (*off + (size_t)n) % len;
	}
	return false;
}

/* A client paused for not reading is still noticed when it goes. */
Test(daemon, disconnect_while_paused_cancels_everything)
{
	json_t		*st;
	json_int_t	 done, last = -1;
	double		 t0;
	char		*filler, *value;
	size_t		 off = 0, len;
	bool		 blocked;
	int		 fd, i;

	/* Sleeps that outlast the test, so five batches stay in flight. */
	fd = daemon_start_client(&d, "[limits]\nmax_output_bytes = 65536\n");
	for (i = 0; i < 5; i++)
		client_send(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	value = harness_fill('f', 10000);
	filler = harness_fmt("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":\"%s\"}]}\n", value);
	len = strlen(filler);
	/*
	 * Write until the daemon stops reading, a state and not a time:
	 * the write would block, every filler it read is gathered (only the
	 * five sleeps in flight) and batches.done has not moved since the
	 * last look, while this client kept writing. A daemon that never
	 * pauses keeps reading and never gets there.
	 */
	cr_assert_neq(fcntl(fd, F_SETFL, O_NONBLOCK), -1);
	t0 = now_ms();
	for (;;) {
		blocked = write_until_blocked(fd, filler, len, &off, 100);
		st = status_of(&d);
		done = jint(st, "batches.done");
		if (blocked && done == last &&
		    jint(st, "batches.in_flight") == 5)
			break;
		cr_assert_lt(now_ms() - t0, slack_ms(5000), "still reading"
		    " after %.0f ms: %s", now_ms() - t0, jtext(st));
		last = done;
		json_decref(st);
		usleep(10000);
	}
	/*
	 * Paused at the output mark: 64 KiB of replies plus what the
	 * sockets hold is two dozen fillers (24 measured), far fewer than a
	 * client that is read from writes.
	 */
	cr_assert_lt(done, 100, "not paused: %s", jtext(st));
	json_decref(st);
	t0 = now_ms();
	close(fd);
	expect_cleaned_up(t0, -1);
	free(filler);
	free(value);
	daemon_stop(&d);
}

/*
 * Half-close is not a disconnect.
 */

Test(daemon, half_close_still_gets_every_reply_then_eof)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	t0 = now_ms();
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":300,"
	    "\"value\":\"late\"}]}");
	client_send(fd, "{\"id\":2,\"op\":\"ping\"}");
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);

	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", "2");
	jbool_is(r, "pong", true);
	json_decref(r);
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	expect_ok(r, "1");
	jstr_is(r, "results[0].value", "late");
	cr_assert_geq(dt, 300, "%.1f ms", dt);
	json_decref(r);
	expect_eof(fd, 1000);
	close(fd);

	/* Nothing left behind. */
	r = status_of(&d);
	expect_idle(r);
	cr_assert_eq(jint(r, "connections.open"), 1, "%s", jtext(r));
	json_decref(r);
	daemon_stop(&d);
}

/* A half-closed client with long batches is not mistaken for a gone one. */
Test(daemon, half_close_survives_the_hangup_checks)
{
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":800}]}");
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	r = client_recv_json(fd, slack_ms(3000));
	jbool_is(r, "ok", true);
	cr_assert_geq(jnum(r, "results[0].ms"), NOT_EARLY(800));
	json_decref(r);
	expect_eof(fd, 1000);
	close(fd);
	daemon_stop(&d);
}

/* A full close after a half-close is a disconnect all the same. */
Test(daemon, close_after_half_close_cancels_everything)
{
	const char	*last = "{\"op\":\"ping\",\"id\":\"last\"}";
	double		 t0;
	int		 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, hundred_long_sleeps());
	/*
	 * The daemon sees the half-close before the close: a last line
	 * without its newline is answered only at the end of the stream,
	 * so its pong says the daemon took the half-close (the batch read
	 * before it, in flight). A close seen at once with the half-close
	 * would be a plain disconnect, not what this test is for.
	 */
	client_write(fd, last, strlen(last));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	recv_pong(fd, slack_ms(HARNESS_REPLY_MS), "\"last\"");
	t0 = now_ms();
	close(fd);
	expect_cleaned_up(t0, 100);
	daemon_stop(&d);
}

/* At a half-close, a last line without its newline is still a request. */
Test(daemon, half_close_answers_a_last_line_without_newline)
{
	json_t		*r;
	const char	*line = "{\"op\":\"ping\",\"id\":\"last\"}";
	int		 fd;

	fd = daemon_start_client(&d, NULL);
	client_write(fd, line, strlen(line));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	r = client_recv_json(fd, slack_ms(2000));
	jeq(r, "id", "\"last\"");
	jbool_is(r, "pong", true);
	json_decref(r);
	expect_eof(fd, 1000);
	close(fd);

	/* A half-close with nothing pending just closes. */
	fd = client_connect(d.sock);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	expect_eof(fd, 1000);
	close(fd);
	daemon_stop(&d);
}
