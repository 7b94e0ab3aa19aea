/*
 * Every limit reached at once, at scale: what is over a limit is busy
 * and starts nothing, and the limits are exact.
 *
 * Load and fault tests: real gatherd processes under what the protocol
 * suites do once, done at scale and all at once. Each checks that the
 * daemon keeps serving others, loses no reply, returns to idle and exits
 * 0 (under valgrind, in scripts/test, that it leaked nothing either).
 * Clients that must be many are non-blocking sockets driven by epoll or
 * poll from this one process, not threads; figures are printed on stderr
 * as "load: ...". Under a slow wrapper (valgrind, ASan) sizes shrink
 * (load_scale), upper bounds, latencies and waits are stretched
 * (slack_ms), and RSS bounds are skipped; the behaviour checked is the
 * same. A test that keeps the CPUs busy for seconds takes the CPU lock
 * shared, one that measures latency takes it alone. The load suites share
 * the suite name load.
 */

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "loadtest.h"
#include "pgtest.h"

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(load, 240);

/*
 * Every limit reached at once, at scale: more clients than
 * max_connections, more pipelined batches than max_batches_per_connection,
 * more jobs from many clients than max_inflight_jobs. What is over a
 * limit gets busy at once and starts nothing (status counts exactly what
 * was accepted, during and after), the limits are exact (a batch that
 * brings the total to max_inflight_jobs fits), and the daemon serves
 * everyone normally afterwards. test_limits checks each limit with one
 * or two clients.
 */

#define LIM_CONNS	64
#define LIM_CLIENTS	100
#define LIM_BATCHES	8
#define LIM_PIPELINED	20
#define LIM_INFLIGHT	1000
#define LIM_JOBS	30
#define LIM_LONG_MS	60000	/* never ends by itself: cancelled */
#define LIM_BUSY_MS	500	/* busy comes within this (stretched) */

#define LIM_CONF \
	"[limits]\nmax_connections = %d\nmax_batches_per_connection = %d\n" \
	"max_inflight_jobs = %d\n"

/* Assert status on fd shows exactly these in flight and done. */
static void
lim_expect(int fd, int jobs, int batches, json_int_t jobs_done,
    json_int_t batches_done)
{
	json_t	*st = status_on(fd);

	cr_assert_eq(jint(st, "jobs.in_flight") + jint(st, "jobs.waiting"),
	    jobs, "want %d jobs in flight: %s", jobs, jtext(st));
	cr_assert_eq(jint(st, "batches.in_flight"), batches, "want %d"
	    " batches in flight: %s", batches, jtext(st));
	cr_assert_eq(jint(st, "jobs.done"), jobs_done, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.done"), batches_done, "%s", jtext(st));
	json_decref(st);
}

/* Assert r is a busy error whose message names limit. */
static void
expect_busy(json_t *r, const char *limit)
{
	jbool_is(r, "ok", false);
	jstr_is(r, "error.code", "busy");
	jstr_has(r, "error.message", limit);
}

/*
 * Cancel every batch with id target, on any connection, from fd; assert
 * want were. A batch of fd's own may reply before or after the cancel:
 * such replies are checked (all cancelled) and counted into *own.
 */
static void
lim_cancel(int fd, const char *target, int want, int *own)
{
	json_t	*r;
	char	*line;

	line = harness_fmt("{\"op\":\"cancel\",\"id\":\"c\",\"target\":"
	    "\"%s\",\"conn\":\"any\"}", target);
	client_send(fd, line);
	free(line);
	for (;;) {
		r = client_recv_json(fd, slack_ms(5000));
		if (json_is_string(jget(r, "id")) &&
		    strcmp(jstr(r, "id"), "c") == 0)
			break;
		jstr_is(r, "results[0].error.code", "cancelled");
		(*own)++;
		json_decref(r);
	}
	cr_assert_eq(jint(r, "cancelled"), want, "%s", jtext(r));
	json_decref(r);
}

Test(load, every_limit_reached_at_once_is_busy_and_starts_nothing)
{
	struct pollfd	 pl[LIM_CLIENTS];
	int		 fds[LIM_CLIENTS];
	bool		 busy[LIM_CLIENTS];
	json_t		*r, *st;
	char		*conf, *line;
	int		 sfd, i, j, nserved = 0, nbusy = 0;
	int		 accepted, cand = 0, inflight, pipe_i = -1, own = 0;
	json_int_t	 jdone0, bdone0;
	double		 t0, dt;

	cpu_lock(CPU_LOCK_SHARED);

	conf = harness_fmt(LIM_CONF, LIM_CONNS, LIM_BATCHES, LIM_INFLIGHT);
	daemon_start(&d, conf, NULL);
	free(conf);
	sfd = client_connect(d.sock);
	st = await_idle(sfd, 1, 2000);
	jdone0 = jint(st, "jobs.done");
	bdone0 = jint(st, "batches.done");
	json_decref(st);

	/*
	 * max_connections: of 100 clients, exactly 63 fit beside sfd. One
	 * refused may be closed before its ping is written: its busy line
	 * is there to read all the same.
	 */
	for (i = 0; i < LIM_CLIENTS; i++) {
		fds[i] = client_connect(d.sock);
		if (write(fds[i], "{\"op\":\"ping\"}\n", 14) != 14)
			cr_assert_eq(errno, EPIPE, "write: %s", strerror(errno));
		r = client_recv_json(fds[i], slack_ms(5000));
		if (json_is_true(jget(r, "pong")))
			nserved++;
		else {
			expect_busy(r, "max_connections");
			nbusy++;
			cr_assert_null(client_recv(fds[i], slack_ms(2000)),
			    "a busy client was not closed");
			close(fds[i]);
			fds[i] = -1;
		}
		json_decref(r);
	}
	cr_assert_eq(nserved, LIM_CONNS - 1, "%d served", nserved);
	cr_assert_eq(nbusy, LIM_CLIENTS - LIM_CONNS + 1, "%d busy", nbusy);
	st = status_on(sfd);
	cr_assert_eq(jint(st, "connections.open"), LIM_CONNS, "%s", jtext(st));
	json_decref(st);

	/*
	 * max_batches_per_connection: of 20 pipelined batches, 8 start and
	 * 12 are busy at once.
	 */
	for (pipe_i = 0; fds[pipe_i] == -1; pipe_i++)
		;
	line = sleeps("p", 1, LIM_LONG_MS);
	for (i = 0; i < LIM_PIPELINED; i++)
		client_send(fds[pipe_i], line);
	free(line);
	for (i = 0; i < LIM_PIPELINED - LIM_BATCHES; i++) {
		r = client_recv_json(fds[pipe_i], slack_ms(2000));
		expect_busy(r, "max_batches_per_connection");
		json_decref(r);
	}
	lim_expect(sfd, LIM_BATCHES, LIM_BATCHES, jdone0, bdone0);

	/*
	 * max_inflight_jobs: every other served client asks for 30 jobs at
	 * once; exactly as many batches as fit start, the rest are busy
	 * (within LIM_BUSY_MS; an accepted batch never ends by itself).
	 */
	line = sleeps("j", LIM_JOBS, LIM_LONG_MS);
	for (i = 0; i < LIM_CLIENTS; i++) {
		busy[i] = false;
		if (fds[i] == -1 || i == pipe_i)
			continue;
		client_send(fds[i], line);
		cand++;
	}
	free(line);
	t0 = now_ms();
	for (nbusy = 0; (dt = now_ms() - t0) < slack_ms(LIM_BUSY_MS);) {
		for (i = 0; i < LIM_CLIENTS; i++) {
			pl[i].fd = fds[i] == -1 || i == pipe_i || busy[i] ?
			    -1 : fds[i];
			pl[i].events = POLLIN;
			pl[i].revents = 0;
		}
		if (poll(pl, LIM_CLIENTS, 50) <= 0)
			continue;
		for (i = 0; i < LIM_CLIENTS; i++) {
			if (!(pl[i].revents & POLLIN))
				continue;
			r = client_recv_json(fds[i], slack_ms(1000));
			expect_busy(r, "max_inflight_jobs");
			json_decref(r);
			busy[i] = true;
			nbusy++;
		}
	}
	accepted = cand - nbusy;
	inflight = LIM_BATCHES + accepted * LIM_JOBS;
	cr_assert_eq(accepted, (LIM_INFLIGHT - LIM_BATCHES) / LIM_JOBS,
	    "%d of %d batches of %d jobs accepted beside %d", accepted, cand,
	    LIM_JOBS, LIM_BATCHES);
	lim_expect(sfd, inflight, LIM_BATCHES + accepted, jdone0, bdone0);

	/* One job over the limit does not fit; exactly up to it does. */
	r = rpc(sfd, (line = sleeps("over", LIM_INFLIGHT - inflight + 1, 0)));
	free(line);
	expect_busy(r, "max_inflight_jobs");
	json_decref(r);
	lim_expect(sfd, inflight, LIM_BATCHES + accepted, jdone0, bdone0);
	line = sleeps("exact", LIM_INFLIGHT - inflight, LIM_LONG_MS);
	client_send(sfd, line);
	free(line);
	lim_expect(sfd, LIM_INFLIGHT, LIM_BATCHES + accepted + 1, jdone0,
	    bdone0);

	/* Full everywhere, yet other requests are served at once. */
	t0 = now_ms();
	r = rpc(fds[pipe_i], "{\"op\":\"ping\",\"id\":\"full\"}");
	dt = now_ms() - t0;
	jeq(r, "id", "\"full\"");
	json_decref(r);
	cr_assert_lt(dt, slack_ms(HARNESS_PROMPT_MS), "a ping took %.0f ms"
	    " when full", dt);
	fprintf(stderr, "load: limits: %d of %d clients served, %d told busy;"
	    " %d of %d pipelined batches busy; %d of %d batches of %d jobs"
	    " busy beside %d jobs in flight, then exactly %d; nothing extra"
	    " started\n", nserved, LIM_CLIENTS, LIM_CLIENTS - nserved,
	    LIM_PIPELINED - LIM_BATCHES, LIM_PIPELINED, nbusy, cand,
	    LIM_JOBS, inflight, LIM_INFLIGHT);

	/* Cancel them all: each accepted batch replies, whole. */
	lim_cancel(sfd, "j", accepted, &own);
	lim_cancel(sfd, "p", LIM_BATCHES, &own);
	lim_cancel(sfd, "exact", 1, &own);
	if (own == 0) {
		r = client_recv_json(sfd, slack_ms(5000));
		jstr_is(r, "results[0].error.code", "cancelled");
		json_decref(r);
	}
	for (i = 0; i < LIM_CLIENTS; i++) {
		if (fds[i] == -1 || busy[i])
			continue;
		for (j = 0; j < (i == pipe_i ? LIM_BATCHES : 1); j++) {
			r = client_recv_json(fds[i], slack_ms(5000));
			jeq(r, "id", i == pipe_i ? "\"p\"" : "\"j\"");
			cr_assert_eq(jint(r, "stats.cancelled"),
			    i == pipe_i ? 1 : LIM_JOBS, "%s", jtext(r));
			json_decref(r);
		}
	}
	/* Only what was accepted ran: the counters hold nothing else. */
	st = await_idle(sfd, LIM_CONNS, 5000);
	cr_assert_eq(jint(st, "jobs.done") - jdone0, LIM_INFLIGHT, "%s",
	    jtext(st));
	cr_assert_eq(jint(st, "batches.done") - bdone0, LIM_BATCHES +
	    accepted + 1, "%s", jtext(st));
	json_decref(st);

	/* Healthy: every client is served in full again. */
	line = sleeps("again", LIM_JOBS, 1);
	for (i = 0; i < LIM_CLIENTS; i++) {
		if (fds[i] == -1)
			continue;
		r = rpc(fds[i], line);
		jbool_is(r, "ok", true);
		cr_assert_eq(jint(r, "stats.ok"), LIM_JOBS);
		json_decref(r);
		close(fds[i]);
	}
	free(line);
	json_decref(await_idle(sfd, 1, 5000));
	close(sfd);
	daemon_stop(&d);
}
