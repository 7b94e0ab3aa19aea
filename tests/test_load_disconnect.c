/*
 * Disconnect storms: clients that leave in the middle of every kind of
 * job, round after round; and SIGTERM with thousands of jobs in flight on
 * many connections, every batch answered.
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

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

#define PG_SKIPPED	"PostgreSQL is not installed: PostgreSQL load tests skipped"

static struct daemon	d;		/* this test's daemon */

HARNESS_SUITE(load, 240);

/*
 * Clients that leave in the middle of every kind of job, round after
 * round: at once, after a few milliseconds, once output has begun to come
 * (a reset, unread data in the way), or after a half-close. The daemon
 * never crashes, returns to idle (nothing in flight, the pool idle, work
 * abandoned on workers drained) and serves a full batch of every kind
 * afterwards; under valgrind its exit also proves nothing leaked.
 */

#define DISC_ROUNDS	200
#define DISC_CTE_ROWS	300000	/* about 50 ms of SQLite, bare */

/* A SQLite query that runs a while (shorter under a slow wrapper). */
static char *
disc_cte(void)
{
	return harness_fmt("with recursive c(x) as (select 1 union all"
	    " select x + 1 from c where x < %d) select count(*) from c",
	    (int)(DISC_CTE_ROWS / harness_slack()));
}

/* The jobs of one round, as JSON text: one of every kind. */
static char *
disc_jobs(int ms, const char *cte, bool pg)
{
	return harness_fmt("{\"type\":\"sleep\",\"ms\":%d},"
	    "{\"type\":\"read\",\"path\":\"" HUGE_FILE "\"},"
	    "{\"type\":\"query\",\"sql\":\"%s\"}%s", ms, cte,
	    pg ? ",{\"type\":\"query\",\"db\":\"pg\","
	    "\"sql\":\"select pg_sleep(2)\"}" : "");
}

Test(load, disconnect_mid_job_of_every_kind_many_times)
{
	struct pollfd	 pl;
	json_t		*st, *r;
	char		*conf, *pgsec = NULL, *cte, *jobs, *line, *stream;
	double		 t0;
	bool		 pg;
	int		 rounds = load_scale(DISC_ROUNDS), round, fd, sfd, wfd;
	int		 resets = 0, half = 0;

	cpu_lock(CPU_LOCK_SHARED);

	fixture();
	if ((pg = pgtest_installed())) {
		pgtest_prepare();
	pgtest_start();
		pgsec = pgtest_section("pg", 2, PG_OPTIONS);
	} else
		fprintf(stderr, "\n*** %s: disconnects without PostgreSQL"
		    " ***\n\n", PG_SKIPPED);
	conf = harness_fmt("[read]\nroots = %s\n"
	    "[db.default]\ndriver = sqlite\npath = %s/main.db\n"
	    "writable = true\n%s", fixdir, fixdir, pg ? pgsec : "");
	daemon_start(&d, conf, NULL);
	free(conf);
	free(pgsec);
	cte = disc_cte();
	jobs = disc_jobs(5000, cte, pg);
	line = harness_fmt("{\"id\":\"all\",\"jobs\":[%s]}", jobs);
	stream = harness_fmt("{\"id\":\"stream\",\"stream\":true,"
	    "\"concurrency\":2,\"jobs\":[{\"type\":\"read\",\"path\":\""
	    HUGE_FILE "\"},{\"type\":\"sleep\",\"ms\":1},%s]}", jobs);
	sfd = client_connect(d.sock);
	wfd = client_connect(d.sock);
	json_decref(await_idle(sfd, 2, 2000));

	t0 = now_ms();
	for (round = 0; round < rounds; round++) {
		fd = client_connect(d.sock);
		client_send(fd, line);
		client_send(fd, stream);
		switch (round % 6) {
		case 0:		/* at once */
			break;
		case 1:
			sleep_ms(1);
			break;
		case 2:
			sleep_ms(5);
			break;
		case 3:		/* anywhere in the first 50 ms */
			sleep_ms(round % 50);
			break;
		case 4:		/* once output comes: unread, so a reset */
			pl.fd = fd;
			pl.events = POLLIN;
			if (poll(&pl, 1, slack_ms(2000)) > 0)
				resets++;
			break;
		case 5:		/* a half-close first, then the full close */
			shutdown(fd, SHUT_WR);
			sleep_ms(round % 20);
			half++;
			break;
		}
		close(fd);
		/* Meanwhile the daemon serves others. */
		if (round % 20 == 19) {
			rpc_pong(wfd, "{\"op\":\"ping\",\"id\":\"w\"}",
			    "\"w\"");
		}
	}
	st = await_idle(sfd, 2, 20000);
	fprintf(stderr, "load: %d rounds of disconnects mid-job (%d after"
	    " output began, %d after a half-close; sleep, read, SQLite%s) in"
	    " %.0f ms; then idle: %lld jobs done, %lld batches done\n", rounds,
	    resets, half, pg ? ", PostgreSQL" : "", now_ms() - t0,
	    (long long)jint(st, "jobs.done"),
	    (long long)jint(st, "batches.done"));
	json_decref(st);

	/* Whole again: a batch of every kind succeeds. */
	free(line);
	free(jobs);
	jobs = disc_jobs(1, "select 42", false);
	line = harness_fmt("{\"id\":\"after\",\"jobs\":[%s%s]}", jobs,
	    pg ? ",{\"type\":\"query\",\"db\":\"pg\",\"sql\":"
	    "\"select pg_sleep(0.01), 7 as n\"}" : "");
	r = daemon_request_ms(&d, line, slack_ms(30000));
	jeq(r, "id", "\"after\"");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "results[1].value.bytes"), HUGE_BYTES);
	jeq(r, "results[2].value.rows", "[[42]]");
	if (pg)
		jeq(r, "results[3].value.rows[0][1]", "7");
	json_decref(r);
	free(line);
	free(jobs);
	free(stream);
	free(cte);
	json_decref(await_idle(sfd, 2, 5000));
	close(wfd);
	close(sfd);
	daemon_stop(&d);
}

/*
 * SIGTERM with thousands of jobs in flight on many connections: every
 * batch gets its final reply (short ones finished, long ones cancelled
 * at shutdown_timeout_ms), a late batch gets shutting_down, every client
 * is closed, and the daemon exits 0 in time, even with a client that
 * never reads its (large) reply, which gets the 2 s flush grace.
 */

#define TERM_CONNS		50
#define TERM_LONG		100	/* 30 s sleeps per connection */
#define TERM_TIMEOUT_MS		1000
#define TERM_GRACE_MS		2000	/* SERVER_FLUSH_GRACE_MS */
#define TERM_BIG_VALUE		(1024 * 1024)

/* One SIGTERM client: its socket, its input, the replies it has had. */
struct term_conn {
	int		fd;
	int		replies;
	bool		eof;
	struct reader	in;
};

/* Check one reply on connection i; counts cancelled jobs into *cancelled. */
static void
term_check(json_t *v, int i, int nlong, double since, int *cancelled)
{
	const char	*id = json_string_value(jget(v, "id"));
	char		 want[32];
	double		 dt = now_ms() - since;

	cr_assert_not_null(id, "connection %d: %s", i, jtext(v));
	snprintf(want, sizeof want, "%c%d", id[0], i);
	if (strcmp(id, "late") == 0) {
		jstr_is(v, "error.code", "shutting_down");
		return;
	}
	cr_assert_str_eq(id, want, "connection %d: %s", i, jtext(v));
	switch (id[0]) {
	case 'S':	/* short: finished */
		jbool_is(v, "ok", true);
		break;
	case 'M':	/* mixed: the short one finished, the long cancelled */
		jbool_is(v, "results[0].ok", true);
		jstr_is(v, "results[1].error.code", "cancelled");
		*cancelled += 1;
		break;
	case 'L':	/* long: cancelled at the shutdown time-out, not before */
		jbool_is(v, "ok", false);
		cr_assert_eq(jint(v, "stats.cancelled"), nlong, "%s", jtext(v));
		jstr_is(v, "results[0].error.code", "cancelled");
		cr_assert_geq(dt, TERM_TIMEOUT_MS - 20, "cancelled %.0f ms"
		    " after SIGTERM", dt);
		*cancelled += nlong;
		break;
	default:
		cr_assert_fail("connection %d: %s", i, jtext(v));
	}
}

Test(load, sigterm_with_thousands_in_flight_answers_every_batch)
{
	struct term_conn	*tc;
	struct pollfd		*pl;
	json_t			*st, *v;
	char			*conf, *line, *big;
	double			 t0, t_last = 0, t_exit, deadline;
	int			 nconn = load_scale(TERM_CONNS);
	int			 nlong = load_scale(TERM_LONG);
	char			 id[32];
	int			 i, open_, replies = 0, cancelled = 0, status;
	int			 nrd, sfd;

	cpu_lock(CPU_LOCK_SHARED);

	conf = harness_fmt("shutdown_timeout_ms = %d\n", TERM_TIMEOUT_MS);
	daemon_start(&d, conf, NULL);
	free(conf);
	cr_assert_not_null(tc = calloc((size_t)nconn, sizeof *tc));
	cr_assert_not_null(pl = calloc((size_t)nconn, sizeof *pl));
	/* A client that never reads a reply larger than its socket holds. */
	big = harness_fill('b', TERM_BIG_VALUE);
	line = harness_fmt("{\"id\":\"nr\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"%s\"}]}", big);
	nrd = client_connect(d.sock);
	client_send(nrd, line);
	free(line);
	free(big);
	/* Its batch is done and its reply stuck before the others start. */
	sfd = client_connect(d.sock);
	json_decref(await_status(&d, sfd, "batches.done", 1, slack_ms(5000)));

	for (i = 0; i < nconn; i++) {
		tc[i].fd = client_connect(d.sock);
		reader_init(&tc[i].in, tc[i].fd);
		snprintf(id, sizeof id, "L%d", i);
		line = sleeps(id, nlong, 30000);
		client_send(tc[i].fd, line);
		free(line);
		line = harness_fmt("{\"id\":\"S%d\",\"jobs\":[{\"type\":"
		    "\"sleep\",\"ms\":200}]}\n{\"id\":\"M%d\",\"jobs\":["
		    "{\"type\":\"sleep\",\"ms\":300},{\"type\":\"sleep\","
		    "\"ms\":30000}]}", i, i);
		client_send(tc[i].fd, line);
		free(line);
	}
	/*
	 * Everything is in flight: every line read and its batch started
	 * (in flight, or done as the non-reader's and the short ones may
	 * be). Counting jobs would not do: the L and S batches alone reach
	 * nconn * (nlong + 1) jobs, and an M line still unread at SIGTERM
	 * is read while draining and answered shutting_down.
	 */
	deadline = now_ms() + slack_ms(5000);
	for (;;) {
		st = status_on(sfd);
		if (jint(st, "batches.in_flight") + jint(st, "batches.done") ==
		    3 * nconn + 1)
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(st));
		json_decref(st);
		sleep_ms(10);
	}
	fprintf(stderr, "load: SIGTERM with %lld jobs in %lld batches on %d"
	    " connections in flight\n", (long long)jint(st, "jobs.in_flight"),
	    (long long)jint(st, "batches.in_flight"), nconn + 1);
	json_decref(st);
	close(sfd);

	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	/* A batch sent while draining is refused. */
	for (;;) {
		cr_assert_lt(now_ms() - t0, slack_ms(2000), "still listening");
		if ((sfd = nb_try_connect(d.sock)) == -1 && errno != EAGAIN)
			break;
		if (sfd != -1)
			close(sfd);
		sleep_ms(2);
	}
	client_send(tc[0].fd, "{\"id\":\"late\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0}]}");
	for (i = 0; i < nconn; i++)
		cr_assert_neq(fcntl(tc[i].fd, F_SETFL, O_NONBLOCK), -1);

	/* Every reply, then EOF on every connection. */
	deadline = t0 + TERM_TIMEOUT_MS + TERM_GRACE_MS + slack_ms(5000);
	for (open_ = nconn; open_ > 0;) {
		cr_assert_lt(now_ms(), deadline, "%d connections still open,"
		    " %d replies", open_, replies);
		for (i = 0; i < nconn; i++) {
			pl[i].fd = tc[i].eof ? -1 : tc[i].fd;
			pl[i].events = POLLIN;
		}
		poll(pl, (nfds_t)nconn, 100);
		for (i = 0; i < nconn; i++) {
			int	rc;

			if (tc[i].eof || !(pl[i].revents & (POLLIN | POLLHUP)))
				continue;
			while ((rc = reader_fill(&tc[i].in, 0)) == 1)
				;
			while ((v = reader_next_json(&tc[i].in)) != NULL) {
				term_check(v, i, nlong, t0, &cancelled);
				tc[i].replies++;
				replies++;
				t_last = now_ms() - t0;
				json_decref(v);
			}
			if (rc == 0) {
				cr_assert_eq(tc[i].replies, i == 0 ? 4 : 3,
				    "connection %d closed after %d replies", i,
				    tc[i].replies);
				tc[i].eof = true;
				open_--;
			}
		}
	}
	status = daemon_wait(&d, slack_ms(TERM_TIMEOUT_MS + TERM_GRACE_MS +
	    5000));
	t_exit = now_ms() - t0;
	cr_assert_neq(status, -1, "gatherd did not exit");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd exited with status 0x%x, see %s", status, d.log);
	fprintf(stderr, "load: SIGTERM: %d replies (%d batches, %d jobs"
	    " cancelled at the %d ms shutdown time-out, 1 shutting_down), the"
	    " last %.0f ms after the signal; exit 0 after %.0f ms (a client"
	    " that never reads held it for the %d ms flush grace)\n",
	    replies, 3 * nconn, cancelled, TERM_TIMEOUT_MS, t_last, t_exit,
	    TERM_GRACE_MS);
	cr_assert_eq(replies, 3 * nconn + 1);
	cr_assert_eq(cancelled, nconn * (nlong + 1));
	cr_assert_lt(t_last, TERM_TIMEOUT_MS + slack_ms(1000), "last reply"
	    " %.0f ms after SIGTERM", t_last);
	cr_assert_geq(t_exit, TERM_TIMEOUT_MS + TERM_GRACE_MS - 50, "exit"
	    " %.0f ms after SIGTERM: the client that never reads was not"
	    " given its grace", t_exit);
	cr_assert_lt(t_exit, TERM_TIMEOUT_MS + TERM_GRACE_MS +
	    slack_ms(1000), "exit %.0f ms after SIGTERM", t_exit);
	for (i = 0; i < nconn; i++) {
		close(tc[i].fd);
		reader_free(&tc[i].in);
	}
	close(nrd);
	free(tc);
	free(pl);
	daemon_stop(&d);
}
