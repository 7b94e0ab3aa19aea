/*
 * End-to-end tests of the daemon: real gatherd processes on private Unix
 * sockets, driven over the wire the way a client drives them. Only sleep
 * jobs exist so far, so every test is built from timers.
 *
 * Criterion runs tests in parallel, each in its own process: every test
 * starts its own daemon in the file-level d, and the suite's teardown
 * stops it, which also asserts that it exited 0 (no crash, clean drain).
 *
 * Timing assertions use wide bounds: they tell "ran concurrently" from
 * "ran one after another" and "answered at once" from "waited for a
 * sleep", nothing finer, so they hold on a loaded two-core machine.
 *
 * Under GATHERD_TEST_WRAPPER (valgrind) the daemon is many times slower:
 * every upper bound, time-out and wait for a state is stretched by
 * harness_slack() through slack_ms(), which is the identity when the
 * daemon runs bare. Where a bound tells concurrent from one after another,
 * only its overhead part is stretched (1000 + slack_ms(300), not
 * slack_ms(1300)). Lower bounds (a sleep never returns early) never are.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

/* The seed example of the protocol: two one-second sleeps, gathered. */
#define SEED \
	"{\"jobs\":[{\"type\":\"sleep\",\"ms\":1000,\"value\":\"Hello 1!\"}," \
	"{\"type\":\"sleep\",\"ms\":1000,\"value\":\"Hello 2!\"}]}"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	500

/*
 * A sleep never returns early. Results are reported to the microsecond and
 * libevent's timers count whole microseconds, so "early" means by more
 * than one microsecond.
 */
#define NOT_EARLY(ms)	((ms) - 0.001)

static struct daemon	d;	/* this test's daemon */

static void
suite_init(void)
{
	/* Writing to a socket the daemon closed must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
}

/*
 * A safety net for a test that failed midway: every test stops its
 * daemon at the end of its body, where daemon_stop's assertion of a clean
 * exit counts (Criterion 2.4.1 prints an assertion that fails in a
 * suite's .fini but still passes the test). After that this does nothing.
 */
static void
suite_fini(void)
{
	if (d.dir[0] != '\0')
		daemon_stop(&d);
}

TestSuite(daemon, .init = suite_init, .fini = suite_fini, .timeout = 30);

/*
 * Helpers. They assert instead of returning errors, like the harness's
 * (the JSON ones are in jsonpath.c).
 */

/* Sleep ms milliseconds (usleep need not accept a second or more). */
static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Assert v is an error reply with this id (JSON text) and code. */
static void
expect_error(json_t *v, const char *id, const char *code)
{
	jeq(v, "id", id);
	jbool_is(v, "ok", false);
	jstr_is(v, "error.code", code);
	cr_assert(json_is_string(jget(v, "error.message")),
	    "no error message in %s", jtext(v));
}

/* Assert v is the successful reply to request id (JSON text). */
static void
expect_ok(json_t *v, const char *id)
{
	jeq(v, "id", id);
	jbool_is(v, "ok", true);
}

/* Whether a client can connect to path now. */
static bool
can_connect(const char *path)
{
	int	fd = try_connect(path);

	if (fd != -1)
		close(fd);
	return fd != -1;
}

/* The daemon's status object, asked on a fresh connection. Caller decrefs. */
static json_t *
status_get(void)
{
	return daemon_status(&d, slack_ms(10000));
}

/* Assert the daemon is idle: no job or batch in flight or waiting. */
static void
expect_idle(json_t *st)
{
	cr_assert_eq(jint(st, "jobs.in_flight"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "jobs.waiting"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.in_flight"), 0, "%s", jtext(st));
}

/*
 * Start gatherd again in d's directory with d's configuration, after the
 * previous one died or stopped, and wait until it accepts. Unlike
 * daemon_start it runs no GATHERD_TEST_WRAPPER.
 */
static void
daemon_respawn(void)
{
	double	deadline;
	int	fd, status;

	cr_assert_eq(d.pid, 0, "the previous daemon is still running");
	d.pid = fork();
	cr_assert_neq(d.pid, -1, "fork: %s", strerror(errno));
	if (d.pid == 0) {
		fd = open(d.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd != -1) {
			dup2(fd, 2);
			close(fd);
		}
		execl(GATHERD_BIN, GATHERD_BIN, "-c", d.conf, (char *)NULL);
		_exit(127);
	}
	deadline = now_ms() + 5000;
	while (now_ms() < deadline) {
		if (can_connect(d.sock))
			return;
		if (waitpid(d.pid, &status, WNOHANG) == d.pid) {
			d.pid = 0;
			cr_assert_fail("gatherd exited at start-up (status 0x%x),"
			    " see %s", status, d.log);
		}
		usleep(5000);
	}
	cr_assert_fail("gatherd did not accept on %s in time", d.sock);
}

/* Assert the daemon exits 0 by itself within ms (stretched) milliseconds. */
static void
expect_exit_0(int ms)
{
	int	status;

	ms = slack_ms(ms);
	status = daemon_wait(&d, ms);

	cr_assert_neq(status, -1, "gatherd did not exit within %d ms", ms);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd exited with status 0x%x, see %s", status, d.log);
}

/* Wait until the daemon has closed its listener (it is draining). */
static void
wait_unlisten(void)
{
	double	deadline = now_ms() + slack_ms(2000);

	while (can_connect(d.sock)) {
		cr_assert_lt(now_ms(), deadline, "still listening");
		usleep(2000);
	}
}

/*
 * A buffered line reader, for tests that read many lines of megabytes
 * (client_recv takes one line at a time and nothing past it).
 */
struct reader {
	int	 fd;
	char	*buf;
	size_t	 len;
	size_t	 cap;
};

/* The next line (without newline) within timeout_ms, or NULL. Caller frees. */
static char *
reader_line(struct reader *r, int timeout_ms)
{
	struct pollfd	 pfd = { .fd = r->fd, .events = POLLIN };
	double		 deadline = now_ms() + timeout_ms;
	char		*nl, *line;
	size_t		 n;
	ssize_t		 got;
	int		 left;

	for (;;) {
		if (r->len > 0 && (nl = memchr(r->buf, '\n', r->len)) != NULL) {
			n = (size_t)(nl - r->buf);
			line = strndup(r->buf, n);
			cr_assert_not_null(line);
			memmove(r->buf, nl + 1, r->len - n - 1);
			r->len -= n + 1;
			return line;
		}
		if (r->cap - r->len < 65536) {
			r->cap = r->cap == 0 ? 131072 : r->cap * 2;
			r->buf = realloc(r->buf, r->cap);
			cr_assert_not_null(r->buf);
		}
		left = (int)(deadline - now_ms());
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return NULL;
		got = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return NULL;
		r->len += (size_t)got;
	}
}

/*
 * The seed example of the protocol.
 */

Test(daemon, seed_example_gathers_two_sleeps_concurrently)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd, i;
	char	 path[64], want[16];

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, SEED);
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;

	cr_assert_geq(dt, 1000, "replied after %.1f ms, before the sleeps", dt);
	cr_assert_lt(dt, 1000 + slack_ms(300),
	    "took %.1f ms: the sleeps did not overlap", dt);
	expect_ok(r, "null");
	cr_assert_geq(jnum(r, "elapsed_ms"), NOT_EARLY(1000), "%s", jtext(r));
	cr_assert_lt(jnum(r, "elapsed_ms"), 1000 + slack_ms(300), "%s",
	    jtext(r));
	cr_assert_eq(jint(r, "stats.jobs"), 2);
	cr_assert_eq(jint(r, "stats.ok"), 2);
	cr_assert_eq(jint(r, "stats.failed"), 0);
	cr_assert_eq(jint(r, "stats.cancelled"), 0);
	cr_assert_eq(jint(r, "stats.timed_out"), 0);
	cr_assert_geq(jnum(r, "stats.sum_ms"), NOT_EARLY(2000), "%s",
	    jtext(r));
	cr_assert_eq(json_array_size(jget(r, "results")), 2, "%s", jtext(r));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "results[%d].ok", i);
		jbool_is(r, path, true);
		/* A sleep never returns early. */
		snprintf(path, sizeof path, "results[%d].ms", i);
		cr_assert_geq(jnum(r, path), NOT_EARLY(1000), "%s: %s", path,
		    jtext(r));
		snprintf(path, sizeof path, "results[%d].value", i);
		snprintf(want, sizeof want, "Hello %d!", i + 1);
		jstr_is(r, path, want);
	}
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* The example as the spec runs it: echo | socat, which half-closes. */
Test(daemon, seed_example_through_socat)
{
	json_t	*r;
	char	*cmd, *out;
	int	 rc;

	if (run_command("command -v socat >/dev/null", NULL) != 0)
		cr_skip_test("socat is not installed");
	daemon_start(&d, NULL, NULL);
	cmd = harness_fmt("echo '%s' | socat -t5 - UNIX-CONNECT:%s", SEED, d.sock);
	rc = run_command(cmd, &out);
	free(cmd);
	cr_assert_eq(rc, 0, "socat failed: %s", out);
	cr_assert_not_null(strchr(out, '\n'));
	cr_assert_eq(strchr(out, '\n')[1], '\0', "more than one line: %s", out);
	r = json_loads(out, 0, NULL);
	cr_assert_not_null(r, "not JSON: %s", out);
	jbool_is(r, "ok", true);
	jstr_is(r, "results[0].value", "Hello 1!");
	jstr_is(r, "results[1].value", "Hello 2!");
	json_decref(r);
	free(out);
	daemon_stop(&d);
}

/*
 * Many jobs.
 */

Test(daemon, thousand_sleeps_gathered_in_job_order)
{
	json_t	*r, *res;
	char	*line = NULL;
	size_t	 len = 0, i;
	FILE	*fp;
	double	 t0, dt;
	int	 fd, ms[1000];

	daemon_start(&d, NULL, NULL);
	cr_assert_not_null(fp = open_memstream(&line, &len));
	fputs("{\"id\":\"k\",\"jobs\":[", fp);
	for (i = 0; i < 1000; i++) {
		ms[i] = (int)((i * 7919) % 201);	/* 0..200, shuffled */
		fprintf(fp, "%s{\"type\":\"sleep\",\"ms\":%d,\"value\":%zu}",
		    i > 0 ? "," : "", ms[i], i);
	}
	fputs("]}", fp);
	fclose(fp);

	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, line);
	r = client_recv_json(fd, 10000);
	dt = now_ms() - t0;
	free(line);

	cr_assert_lt(dt, 200 + slack_ms(1800),
	    "1000 sleeps of <= 200 ms took %.1f ms", dt);
	cr_assert_geq(dt, 200, "replied after %.1f ms", dt);
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.jobs"), 1000);
	cr_assert_eq(jint(r, "stats.ok"), 1000);
	res = jget(r, "results");
	cr_assert_eq(json_array_size(res), 1000);
	for (i = 0; i < 1000; i++) {
		json_t	*x = json_array_get(res, i);

		cr_assert(json_is_true(json_object_get(x, "ok")), "[%zu] %s",
		    i, jtext(x));
		cr_assert_eq(json_integer_value(json_object_get(x, "value")),
		    (json_int_t)i, "results[%zu] is %s", i, jtext(x));
		cr_assert_geq(json_number_value(json_object_get(x, "ms")),
		    NOT_EARLY(ms[i]), "results[%zu] returned early: %s (ms %d)", i,
		    jtext(x), ms[i]);
	}
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Results come in job order, not completion order.
 */

Test(daemon, results_in_job_order_not_completion_order)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(fd, "{\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":\"a\"},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":\"b\"},"
	    "{\"type\":\"sleep\",\"ms\":100,\"value\":\"c\"},"
	    "{\"type\":\"sleep\",\"ms\":0,\"value\":\"d\"}]}");
	dt = now_ms() - t0;
	cr_assert_geq(dt, 300);
	cr_assert_lt(dt, 300 + slack_ms(500), "took %.1f ms", dt);
	jbool_is(r, "ok", true);
	cr_assert_eq(json_array_size(jget(r, "results")), 4);
	jstr_is(r, "results[0].value", "a");
	jstr_is(r, "results[1].value", "b");
	jstr_is(r, "results[2].value", "c");
	jstr_is(r, "results[3].value", "d");
	cr_assert_geq(jnum(r, "results[0].ms"), NOT_EARLY(300));
	cr_assert_geq(jnum(r, "results[1].ms"), NOT_EARLY(200));
	cr_assert_geq(jnum(r, "results[2].ms"), NOT_EARLY(100));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* A sleep's value is any JSON, returned as is; absent is null. */
Test(daemon, sleep_value_is_returned_verbatim)
{
	json_t	*r;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":0,\"value\":{\"a\":[1,2.5,null,true],"
	    "\"s\":\"\\u00e9\\\"\\n\\u0001\"}},"
	    "{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0,\"value\":null},"
	    "{\"type\":\"sleep\",\"ms\":0.5,\"value\":-12345678901234}]}");
	jbool_is(r, "ok", true);
	jeq(r, "results[0].value",
	    "{\"s\":\"\\u00e9\\\"\\n\\u0001\",\"a\":[1,2.5,null,true]}");
	jeq(r, "results[1].value", "null");
	jeq(r, "results[2].value", "null");
	jeq(r, "results[3].value", "-12345678901234");
	cr_assert_geq(jnum(r, "results[3].ms"), NOT_EARLY(0.5), "returned early: %s",
	    jtext(jget(r, "results[3]")));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Pipelining: replies by completion, correlated by id.
 */

Test(daemon, pipelined_replies_come_by_completion)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":400}]}");
	client_send(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":100}]}");
	client_send(fd, "{\"op\":\"ping\",\"id\":3}");

	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	jeq(r, "id", "3");
	jbool_is(r, "pong", true);
	cr_assert_lt(dt, slack_ms(100 + PROMPT_MS / 5),
	    "ping waited %.1f ms behind the batches", dt);
	json_decref(r);

	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	expect_ok(r, "2");
	cr_assert_geq(dt, 100);
	cr_assert_lt(dt, 100 + slack_ms(300), "batch 2 came after %.1f ms", dt);
	json_decref(r);

	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	expect_ok(r, "1");
	cr_assert_geq(dt, 400);
	cr_assert_lt(dt, 400 + slack_ms(500), "batch 1 came after %.1f ms", dt);
	json_decref(r);

	expect_silence(fd, 100);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, ids_are_echoed_verbatim)
{
	static const char *const ids[] = {
		"{\"a\":[1,2]}",
		"\"s\\u00e9 \\\"q\\\" \\\\ \\n\"",
		"[null,true,-7,1.5,{\"x\":{}}]",
		"9007199254740993",
		"\"\"",
	};
	json_t	*r;
	char	*line;
	size_t	 i;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	/* Object and string ids on batches, pipelined: 50 ms first. */
	line = harness_fmt("{\"id\":%s,\"jobs\":[{\"type\":\"sleep\",\"ms\":200}]}",
	    ids[0]);
	client_send(fd, line);
	free(line);
	line = harness_fmt("{\"id\":%s,\"jobs\":[{\"type\":\"sleep\",\"ms\":50}]}",
	    ids[1]);
	client_send(fd, line);
	free(line);
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", ids[1]);
	jbool_is(r, "ok", true);
	json_decref(r);
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", ids[0]);
	jbool_is(r, "ok", true);
	json_decref(r);

	/* Every op, and errors, echo the id too. */
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		line = harness_fmt("{\"op\":\"ping\",\"id\":%s}", ids[i]);
		r = rpc(fd, line);
		free(line);
		jeq(r, "id", ids[i]);
		jbool_is(r, "pong", true);
		json_decref(r);

		line = harness_fmt("{\"op\":\"status\",\"id\":%s}", ids[i]);
		r = rpc(fd, line);
		free(line);
		jeq(r, "id", ids[i]);
		json_decref(r);

		line = harness_fmt("{\"id\":%s,\"jobs\":[],\"bogus\":1}", ids[i]);
		r = rpc(fd, line);
		free(line);
		expect_error(r, ids[i], "bad_request");
		json_decref(r);
	}

	/* An absent id and an explicit null are echoed as null. */
	r = rpc(fd, "{\"op\":\"ping\"}");
	jeq(r, "id", "null");
	json_decref(r);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":null}");
	jeq(r, "id", "null");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* ping and status replies carry what the protocol promises. */
Test(daemon, ping_and_status_replies)
{
	json_t	*r;
	int	 fd;

	daemon_start(&d, "[limits]\nmax_jobs_per_batch = 77\n", NULL);
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":1}");
	jbool_is(r, "ok", true);
	jbool_is(r, "pong", true);
	cr_assert_eq(jint(r, "protocol"), 1);
	cr_assert(json_is_string(jget(r, "version")), "%s", jtext(r));
	json_decref(r);

	r = rpc(fd, "{\"op\":\"status\",\"id\":2}");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "status.pid"), d.pid);
	cr_assert(json_is_string(jget(r, "status.version")), "%s", jtext(r));
	cr_assert_geq(jnum(r, "status.uptime_s"), 0);
	cr_assert_eq(jint(r, "status.connections.open"), 1, "%s", jtext(r));
	cr_assert_geq(jint(r, "status.connections.total"), 1);
	cr_assert_eq(jint(r, "status.limits.max_jobs_per_batch"), 77);
	cr_assert(json_is_integer(jget(r, "status.limits.max_connections")));
	cr_assert(json_is_integer(jget(r, "status.limits.max_output_bytes")));
	cr_assert(json_is_object(jget(r, "status.jobs.by_type.sleep")),
	    "%s", jtext(r));
	cr_assert(json_is_object(jget(r, "status.pool")), "%s", jtext(r));
	json_decref(r);

	/* Counters move: one batch of one ok and one timed-out job. */
	r = rpc(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"sleep\",\"ms\":1000,\"timeout_ms\":1}]}");
	jbool_is(r, "ok", false);
	json_decref(r);
	r = rpc(fd, "{\"op\":\"status\",\"detail\":true}");
	cr_assert_eq(jint(r, "status.batches.done"), 1, "%s", jtext(r));
	cr_assert_eq(jint(r, "status.batches.failed"), 1, "%s", jtext(r));
	cr_assert_eq(jint(r, "status.jobs.done"), 2, "%s", jtext(r));
	cr_assert_eq(jint(r, "status.jobs.failed"), 1, "%s", jtext(r));
	cr_assert_eq(jint(r, "status.jobs.by_type.sleep.done"), 2);
	cr_assert_eq(jint(r, "status.jobs.by_type.sleep.failed"), 1);
	cr_assert_geq(jnum(r, "status.jobs.by_type.sleep.ms_max"), 1);
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 0);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* status detail lists the batches in flight. */
Test(daemon, status_detail_lists_batches_in_flight)
{
	json_t	*r;
	double	 deadline;
	int	 fd, fd2;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":{\"n\":1},\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":5000}]}");
	fd2 = client_connect(d.sock);
	/*
	 * Look after 100 ms (so age_ms is >= 50); under a slow wrapper keep
	 * looking, up to 100 ms stretched, until the first job is done.
	 */
	deadline = now_ms() + slack_ms(100);
	usleep(100000);
	for (;;) {
		r = rpc(fd2, "{\"op\":\"status\",\"detail\":true}");
		if (now_ms() >= deadline || json_integer_value(jget(r,
		    "status.batches.list[0].done")) == 1)
			break;
		json_decref(r);
		usleep(10000);
	}
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 1,
	    "%s", jtext(r));
	jeq(r, "status.batches.list[0].id", "{\"n\":1}");
	cr_assert_eq(jint(r, "status.batches.list[0].jobs"), 2);
	cr_assert_eq(jint(r, "status.batches.list[0].done"), 1);
	cr_assert_geq(jnum(r, "status.batches.list[0].age_ms"), 50);
	cr_assert(json_is_integer(jget(r, "status.batches.list[0].conn")));
	json_decref(r);
	close(fd);
	close(fd2);
	daemon_stop(&d);
}

/*
 * Modes.
 */

#define FAIL_FAST_JOBS "[{\"type\":\"sleep\",\"ms\":1000,\"value\":0}," \
	"{\"type\":\"sleep\",\"ms\":1000,\"timeout_ms\":50,\"value\":1}," \
	"{\"type\":\"sleep\",\"ms\":2000,\"value\":2}]"

Test(daemon, fail_fast_cancels_the_rest_at_the_first_failure)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(fd, "{\"id\":\"ff\",\"mode\":\"fail_fast\",\"jobs\":"
	    FAIL_FAST_JOBS "}");
	dt = now_ms() - t0;
	cr_assert_geq(dt, 50);
	cr_assert_lt(dt, 50 + slack_ms(450), "fail_fast replied after %.1f ms",
	    dt);
	jeq(r, "id", "\"ff\"");
	jbool_is(r, "ok", false);
	jbool_is(r, "results[1].ok", false);
	jstr_is(r, "results[1].error.code", "timeout");
	cr_assert_geq(jnum(r, "results[1].ms"), NOT_EARLY(50));
	jbool_is(r, "results[0].ok", false);
	jstr_is(r, "results[0].error.code", "cancelled");
	jbool_is(r, "results[2].ok", false);
	jstr_is(r, "results[2].error.code", "cancelled");
	cr_assert_eq(jint(r, "stats.jobs"), 3);
	cr_assert_eq(jint(r, "stats.ok"), 0, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.failed"), 0, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.timed_out"), 1, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.cancelled"), 2, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.ok") + jint(r, "stats.failed") +
	    jint(r, "stats.cancelled") + jint(r, "stats.timed_out"),
	    jint(r, "stats.jobs"));
	json_decref(r);

	/* Nothing keeps running behind the reply. */
	r = status_get();
	expect_idle(r);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, mode_all_waits_for_every_job)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(fd, "{\"mode\":\"all\",\"jobs\":" FAIL_FAST_JOBS "}");
	dt = now_ms() - t0;
	cr_assert_geq(dt, 2000, "replied after %.1f ms", dt);
	cr_assert_lt(dt, 2000 + slack_ms(1000), "replied after %.1f ms", dt);
	jbool_is(r, "ok", false);
	jbool_is(r, "results[0].ok", true);
	jeq(r, "results[0].value", "0");
	jstr_is(r, "results[1].error.code", "timeout");
	jbool_is(r, "results[2].ok", true);
	jeq(r, "results[2].value", "2");
	cr_assert_eq(jint(r, "stats.jobs"), 3);
	cr_assert_eq(jint(r, "stats.ok"), 2, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.failed"), 0, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.timed_out"), 1, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.cancelled"), 0, "%s", jtext(r));
	cr_assert_geq(jnum(r, "elapsed_ms"), NOT_EARLY(2000));
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Deadlines.
 */

Test(daemon, batch_timeout_ends_unfinished_jobs)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(fd, "{\"timeout_ms\":300,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":50,\"value\":\"fast\"},"
	    "{\"type\":\"sleep\",\"ms\":5000},"
	    "{\"type\":\"sleep\",\"ms\":5000}]}");
	dt = now_ms() - t0;
	cr_assert_geq(dt, 300, "replied after %.1f ms", dt);
	cr_assert_lt(dt, 300 + slack_ms(700), "replied after %.1f ms", dt);
	jbool_is(r, "ok", false);
	jbool_is(r, "results[0].ok", true);
	jstr_is(r, "results[0].value", "fast");
	jstr_is(r, "results[1].error.code", "timeout");
	jstr_is(r, "results[2].error.code", "timeout");
	cr_assert_eq(jint(r, "stats.ok"), 1, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.timed_out"), 2, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.cancelled"), 0, "%s", jtext(r));
	cr_assert_eq(jint(r, "stats.failed"), 0, "%s", jtext(r));
	cr_assert_geq(jnum(r, "elapsed_ms"), NOT_EARLY(300));
	json_decref(r);

	/* Jobs still held back by concurrency at the deadline time out too. */
	t0 = now_ms();
	r = rpc(fd, "{\"timeout_ms\":300,\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":200},{\"type\":\"sleep\",\"ms\":200},"
	    "{\"type\":\"sleep\",\"ms\":200}]}");
	dt = now_ms() - t0;
	cr_assert_lt(dt, 300 + slack_ms(700), "replied after %.1f ms", dt);
	jbool_is(r, "results[0].ok", true);
	jstr_is(r, "results[1].error.code", "timeout");
	jstr_is(r, "results[2].error.code", "timeout");
	cr_assert_eq(jint(r, "stats.timed_out"), 2, "%s", jtext(r));
	json_decref(r);

	r = status_get();
	expect_idle(r);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, job_timeout_longer_than_the_sleep_succeeds)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":100,"
	    "\"timeout_ms\":1000,\"value\":\"in time\"}]}");
	dt = now_ms() - t0;
	cr_assert_geq(dt, 100);
	cr_assert_lt(dt, 100 + slack_ms(600), "waited %.1f ms: for the timeout?",
	    dt);
	jbool_is(r, "ok", true);
	jstr_is(r, "results[0].value", "in time");
	json_decref(r);

	/* A batch deadline that is not reached changes nothing either. */
	r = rpc(fd, "{\"timeout_ms\":2000,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":50}]}");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.timed_out"), 0);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Concurrency.
 */

Test(daemon, concurrency_limits_running_jobs)
{
	json_t	*r, *st;
	double	 t0, t1, dt;
	int	 fd, polls = 0;
	bool	 started;
	char	*line;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = t1 = now_ms();
	client_send(fd, "{\"concurrency\":2,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":0},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":1},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":2},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":3},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":4},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":5}]}");
	usleep(100000);
	/*
	 * Under a slow wrapper the batch may not have started yet: wait for
	 * it (up to 100 ms stretched from t0), and count the watch below from
	 * 100 ms before it was seen. Bare, the 100 ms have passed: no wait.
	 */
	while (now_ms() < t0 + slack_ms(100)) {
		st = status_get();
		started = jint(st, "jobs.in_flight") > 0;
		json_decref(st);
		t1 = now_ms() - 100;
		if (started)
			break;
		usleep(10000);
	}
	/*
	 * Watch it from another connection while it runs: never more than 2
	 * running, and at first (until 400 ms) some waiting.
	 */
	while (now_ms() - t1 < 500) {
		st = status_get();
		cr_assert_leq(jint(st, "jobs.in_flight"), 2, "%s", jtext(st));
		if (polls == 0) {
			cr_assert_eq(jint(st, "jobs.in_flight"), 2, "%s",
			    jtext(st));
			cr_assert_gt(jint(st, "jobs.waiting"), 0, "%s",
			    jtext(st));
		}
		cr_assert_eq(jint(st, "jobs.in_flight") +
		    jint(st, "jobs.waiting") + jint(st, "jobs.done"), 6,
		    "%s", jtext(st));
		json_decref(st);
		polls++;
		usleep(50000);
	}
	cr_assert_gt(polls, 0);
	line = client_recv(fd, slack_ms(5000));
	dt = now_ms() - t0;
	cr_assert_not_null(line);
	r = json_loads(line, 0, NULL);
	free(line);
	cr_assert_not_null(r);
	cr_assert_geq(dt, 600, "6 x 200 ms by 2 took only %.1f ms", dt);
	cr_assert_lt(dt, 600 + slack_ms(600), "6 x 200 ms by 2 took %.1f ms",
	    dt);
	jbool_is(r, "ok", true);
	jeq(r, "results[5].value", "5");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* With concurrency 1 the jobs run one at a time, in job order. */
Test(daemon, concurrency_one_runs_jobs_in_order)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd, i;
	static const int order[] = { 0, 1, 2 };

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, "{\"concurrency\":1,\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300},{\"type\":\"sleep\",\"ms\":100},"
	    "{\"type\":\"sleep\",\"ms\":200}]}");
	for (i = 0; i < 3; i++) {
		r = client_recv_json(fd, slack_ms(5000));
		jstr_is(r, "event", "result");
		cr_assert_eq(jint(r, "index"), order[i], "%s", jtext(r));
		json_decref(r);
	}
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	jbool_is(r, "ok", true);
	cr_assert_geq(dt, 600, "took %.1f ms: not one at a time", dt);
	cr_assert_lt(dt, 600 + slack_ms(500), "took %.1f ms", dt);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/*
 * Streaming.
 */

Test(daemon, stream_sends_each_result_as_it_completes)
{
	static const int	 order[] = { 1, 2, 0 };
	static const char *const values[] = { "\"a\"", "\"b\"", "\"c\"" };
	json_t			*r;
	double			 t0, dt;
	int			 fd, i;
	char			 path[64];

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, "{\"id\":[\"s\"],\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":\"a\"},"
	    "{\"type\":\"sleep\",\"ms\":100,\"value\":\"b\"},"
	    "{\"type\":\"sleep\",\"ms\":200,\"value\":\"c\"}]}");
	for (i = 0; i < 3; i++) {
		r = client_recv_json(fd, slack_ms(5000));
		dt = now_ms() - t0;
		jeq(r, "id", "[\"s\"]");
		jstr_is(r, "event", "result");
		cr_assert_eq(jint(r, "index"), order[i], "event %d: %s", i,
		    jtext(r));
		jbool_is(r, "result.ok", true);
		jeq(r, "result.value", values[order[i]]);
		cr_assert_geq(jnum(r, "result.ms"), NOT_EARLY(100 * (i + 1)),
		    "returned early: %s", jtext(r));
		cr_assert(jget(r, "results") == NULL, "%s", jtext(r));
		/* Sent the moment it is known, not held for the end. */
		cr_assert_lt(dt, 100 * (i + 1) + slack_ms(150),
		    "event %d came after %.1f ms", i, dt);
		json_decref(r);
	}
	r = client_recv_json(fd, slack_ms(5000));
	jeq(r, "id", "[\"s\"]");
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jbool_is(r, "ok", true);
	cr_assert_eq(json_array_size(jget(r, "results")), 3);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "results[%d].value", i);
		jeq(r, path, values[i]);
	}
	json_decref(r);
	expect_silence(fd, 100);

	/* Without stream, no events. */
	r = rpc(fd, "{\"id\":2,\"stream\":false,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":10},{\"type\":\"sleep\",\"ms\":0}]}");
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jeq(r, "id", "2");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Failed and cancelled jobs are streamed too, and an empty batch sends none. */
Test(daemon, stream_reports_failures_and_cancellations)
{
	json_t	*r;
	int	 fd, i, seen[2] = { 0, 0 };

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"stream\":true,\"mode\":\"fail_fast\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":20}]}");
	for (i = 0; i < 2; i++) {
		r = client_recv_json(fd, slack_ms(2000));
		jstr_is(r, "event", "result");
		jbool_is(r, "result.ok", false);
		cr_assert(jint(r, "index") == 0 || jint(r, "index") == 1);
		seen[jint(r, "index")]++;
		jstr_is(r, "result.error.code",
		    jint(r, "index") == 1 ? "timeout" : "cancelled");
		json_decref(r);
	}
	cr_assert(seen[0] == 1 && seen[1] == 1);
	r = client_recv_json(fd, slack_ms(2000));
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jbool_is(r, "ok", false);
	json_decref(r);

	r = rpc(fd, "{\"id\":1,\"stream\":true,\"jobs\":[]}");
	cr_assert_null(jget(r, "event"), "%s", jtext(r));
	jbool_is(r, "ok", true);
	json_decref(r);
	expect_silence(fd, 100);
	close(fd);
	daemon_stop(&d);
}

/*
 * Cancel.
 */

Test(daemon, cancel_on_the_same_connection)
{
	json_t	*r, *reply = NULL, *cancel = NULL;
	double	 t0, dt;
	int	 fd, i;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, "{\"id\":\"x\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":5000}]}");
	client_send(fd, "{\"op\":\"cancel\",\"target\":\"x\",\"id\":9}");
	for (i = 0; i < 2; i++) {
		r = client_recv_json(fd, slack_ms(2000));
		if (json_is_integer(jget(r, "id")) &&
		    json_integer_value(jget(r, "id")) == 9)
			cancel = r;
		else
			reply = r;
	}
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "cancel took %.1f ms", dt);
	cr_assert_not_null(cancel);
	cr_assert_not_null(reply);
	jbool_is(cancel, "ok", true);
	cr_assert_eq(jint(cancel, "cancelled"), 1, "%s", jtext(cancel));
	jeq(reply, "id", "\"x\"");
	jbool_is(reply, "ok", false);
	jstr_is(reply, "results[0].error.code", "cancelled");
	cr_assert_eq(jint(reply, "stats.cancelled"), 1);
	json_decref(cancel);
	json_decref(reply);

	/* A target that matches nothing cancels nothing. */
	r = rpc(fd, "{\"op\":\"cancel\",\"target\":\"nothing\",\"id\":10}");
	expect_ok(r, "10");
	cr_assert_eq(jint(r, "cancelled"), 0, "%s", jtext(r));
	json_decref(r);
	expect_silence(fd, 50);

	r = status_get();
	expect_idle(r);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Targets match ids as JSON values: key order does not matter, type does. */
Test(daemon, cancel_matches_ids_as_json_values)
{
	json_t	*r;
	int	 fd, i, replies = 0, cancels = 0;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":{\"a\":1,\"b\":[2]},\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":5000}]}");
	client_send(fd, "{\"id\":{\"b\":[2],\"a\":1},\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":5000}]}");
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":300}]}");

	r = rpc(fd, "{\"op\":\"cancel\",\"target\":\"1\",\"id\":\"c1\"}");
	jeq(r, "id", "\"c1\"");
	cr_assert_eq(jint(r, "cancelled"), 0, "\"1\" is not 1: %s", jtext(r));
	json_decref(r);

	client_send(fd, "{\"op\":\"cancel\",\"target\":{\"b\":[2],\"a\":1},"
	    "\"id\":\"c2\"}");
	for (i = 0; i < 3; i++) {
		r = client_recv_json(fd, slack_ms(2000));
		if (json_is_string(jget(r, "id"))) {
			cr_assert_eq(jint(r, "cancelled"), 2, "%s", jtext(r));
			cancels++;
		} else {
			jeq(r, "id", "{\"a\":1,\"b\":[2]}");
			jstr_is(r, "results[0].error.code", "cancelled");
			replies++;
		}
		json_decref(r);
	}
	cr_assert_eq(cancels, 1);
	cr_assert_eq(replies, 2);

	/* The batch with id 1 was left alone. */
	r = client_recv_json(fd, slack_ms(2000));
	expect_ok(r, "1");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, cancel_from_another_connection_needs_conn_any)
{
	json_t	*r;
	double	 t0, dt;
	int	 a, b;

	daemon_start(&d, NULL, NULL);
	a = client_connect(d.sock);
	b = client_connect(d.sock);
	client_send(a, "{\"id\":\"x\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":5000}]}");
	/* Lines are handled in order: the pong means the batch started. */
	r = rpc(a, "{\"op\":\"ping\"}");
	jbool_is(r, "pong", true);
	json_decref(r);

	r = rpc(b, "{\"op\":\"cancel\",\"target\":\"x\",\"id\":1}");
	jeq(r, "id", "1");
	cr_assert_eq(jint(r, "cancelled"), 0,
	    "cancelled another connection's batch: %s", jtext(r));
	json_decref(r);
	expect_silence(a, 100);

	t0 = now_ms();
	r = rpc(b, "{\"op\":\"cancel\",\"target\":\"x\",\"conn\":\"any\","
	    "\"id\":2}");
	jeq(r, "id", "2");
	cr_assert_eq(jint(r, "cancelled"), 1, "%s", jtext(r));
	json_decref(r);
	r = client_recv_json(a, slack_ms(2000));
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "took %.1f ms", dt);
	jeq(r, "id", "\"x\"");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	expect_silence(b, 50);
	close(a);
	close(b);
	daemon_stop(&d);
}

/* Our extension: "conn" as a connection number, as status detail shows it. */
Test(daemon, cancel_by_connection_number)
{
	json_t		*r;
	json_int_t	 conn;
	char		*line;
	int		 a, b;

	daemon_start(&d, NULL, NULL);
	a = client_connect(d.sock);
	b = client_connect(d.sock);
	client_send(a, "{\"id\":7,\"jobs\":[{\"type\":\"sleep\",\"ms\":5000}]}");
	json_decref(rpc(a, "{\"op\":\"ping\"}"));
	r = rpc(b, "{\"op\":\"status\",\"detail\":true}");
	conn = jint(r, "status.batches.list[0].conn");
	json_decref(r);

	line = harness_fmt("{\"op\":\"cancel\",\"target\":7,\"conn\":%lld}",
	    (long long)conn + 1000);
	r = rpc(b, line);
	free(line);
	cr_assert_eq(jint(r, "cancelled"), 0, "%s", jtext(r));
	json_decref(r);
	r = rpc(b, "{\"op\":\"cancel\",\"target\":7,\"conn\":\"all\"}");
	expect_error(r, "null", "bad_request");
	json_decref(r);
	expect_silence(a, 50);

	line = harness_fmt("{\"op\":\"cancel\",\"target\":7,\"conn\":%lld}",
	    (long long)conn);
	r = rpc(b, line);
	free(line);
	cr_assert_eq(jint(r, "cancelled"), 1, "%s", jtext(r));
	json_decref(r);
	r = client_recv_json(a, slack_ms(2000));
	jeq(r, "id", "7");
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	close(a);
	close(b);
	daemon_stop(&d);
}

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
	json_t	*st;
	double	 dt;

	for (;;) {
		st = status_get();
		dt = now_ms() - since;
		if (jint(st, "jobs.in_flight") == 0 &&
		    jint(st, "jobs.waiting") == 0 &&
		    jint(st, "batches.in_flight") == 0 &&
		    (done < 0 || jint(st, "jobs.done") == done) &&
		    jint(st, "connections.open") == 1)
			break;
		cr_assert_lt(dt, slack_ms(1000),
		    "not cleaned up after %.1f ms: %s", dt, jtext(st));
		json_decref(st);
		usleep(10000);
	}
	expect_idle(st);
	cr_assert_eq(jint(st, "connections.open"), 1, "%s", jtext(st));
	json_decref(st);
}

Test(daemon, disconnect_right_after_sending_cancels_everything)
{
	double	t0;
	int	fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
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

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, hundred_long_sleeps());
	client_send(fd, "{\"id\":2,\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000},{\"type\":\"sleep\",\"ms\":5000}]}");
	t0 = now_ms();
	for (;;) {
		st = status_get();
		if (jint(st, "jobs.in_flight") == 101)
			break;
		cr_assert_lt(now_ms() - t0, slack_ms(2000), "%s", jtext(st));
		json_decref(st);
		usleep(10000);
	}
	cr_assert_eq(jint(st, "jobs.waiting"), 1, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.in_flight"), 2, "%s", jtext(st));
	cr_assert_eq(jint(st, "connections.open"), 2, "%s", jtext(st));
	json_decref(st);
	t0 = now_ms();
	close(fd);
	expect_cleaned_up(t0, 102);
	daemon_stop(&d);
}

/* Unread replies in the client's buffer make the close a reset. */
Test(daemon, reset_mid_batch_cancels_everything)
{
	json_t	*st;
	double	 t0;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"op\":\"ping\"}");
	client_send(fd, hundred_long_sleeps());
	t0 = now_ms();
	for (;;) {
		st = status_get();
		if (jint(st, "jobs.in_flight") == 100)
			break;
		cr_assert_lt(now_ms() - t0, slack_ms(2000), "%s", jtext(st));
		json_decref(st);
		usleep(10000);
	}
	json_decref(st);
	t0 = now_ms();
	close(fd);
	expect_cleaned_up(t0, 100);
	daemon_stop(&d);
}

/* A client paused for not reading is still noticed when it goes. */
Test(daemon, disconnect_while_paused_cancels_everything)
{
	json_t	*st;
	double	 t0;
	char	*filler, *value;
	size_t	 off = 0, len;
	ssize_t	 n;
	int	 fd, i;

	daemon_start(&d, "[limits]\nmax_output_bytes = 65536\n", NULL);
	fd = client_connect(d.sock);
	for (i = 0; i < 5; i++)
		client_send(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":5000}]}");
	value = malloc(10001);
	cr_assert_not_null(value);
	memset(value, 'f', 10000);
	value[10000] = '\0';
	filler = harness_fmt("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":\"%s\"}]}\n", value);
	len = strlen(filler);
	/* Write until the daemon stops reading and every buffer is full. */
	cr_assert_neq(fcntl(fd, F_SETFL, O_NONBLOCK), -1);
	t0 = now_ms();
	while (now_ms() - t0 < 300) {
		n = write(fd, filler + off, len - off);
		if (n > 0)
			off = (off + (size_t)n) % len;
		else {
			cr_assert(errno == EAGAIN, "write: %s", strerror(errno));
			usleep(10000);
		}
	}
	/*
	 * Under a slow wrapper the daemon may still be catching up: let it
	 * settle (up to 300 ms stretched from t0). Bare, no wait.
	 */
	for (;;) {
		st = status_get();
		if (now_ms() >= t0 + slack_ms(300) ||
		    jint(st, "batches.in_flight") == 5)
			break;
		json_decref(st);
		usleep(10000);
	}
	cr_assert_eq(jint(st, "batches.in_flight"), 5, "%s", jtext(st));
	cr_assert_lt(jint(st, "batches.done"), 100, "not paused: %s",
	    jtext(st));
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

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
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
	r = status_get();
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

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
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
	double	t0;
	int	fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, hundred_long_sleeps());
	json_decref(rpc(fd, "{\"op\":\"ping\"}"));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	/* Let the daemon see the half-close first (nothing to poll for). */
	sleep_ms(slack_ms(100));
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

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
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

/*
 * Bad input keeps the connection usable.
 */

Test(daemon, bad_json_then_a_good_request_on_the_same_connection)
{
	json_t	*r;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"jobs\":[");
	expect_error(r, "null", "bad_json");
	json_decref(r);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":1}");
	jeq(r, "id", "1");
	jbool_is(r, "pong", true);
	json_decref(r);

	/* Valid JSON that is not an object; an id inside broken JSON. */
	r = rpc(fd, "[1,2]");
	expect_error(r, "null", "bad_json");
	json_decref(r);
	r = rpc(fd, "\"a string\"");
	expect_error(r, "null", "bad_json");
	json_decref(r);
	r = rpc(fd, "{\"id\":5,\"op\":\"ping\"");
	expect_error(r, "null", "bad_json");
	json_decref(r);
	r = rpc(fd, "{\"id\":5,\"op\":\"ping\"} trailing");
	expect_error(r, "null", "bad_json");
	json_decref(r);

	/* Blank lines are ignored: exactly one reply. */
	client_write(fd, "\n\n", 2);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":2}");
	jeq(r, "id", "2");
	json_decref(r);
	client_write(fd, "  \r\n\t\n", 6);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":3}");
	jeq(r, "id", "3");
	json_decref(r);
	expect_silence(fd, 200);
	close(fd);
	daemon_stop(&d);
}

/*
 * Error codes over the wire.
 */

Test(daemon, error_replies_carry_code_message_and_id)
{
	static const struct {
		const char	*line;
		const char	*id;
		const char	*code;
		const char	*message;	/* exact, or NULL: any */
	} bad[] = {
		{ "{\"op\":\"nope\",\"id\":1}", "1", "unknown_op", NULL },
		{ "{\"id\":2,\"jobs\":[{\"type\":\"nope\"}]}",
		    "2", "unknown_type",
		    "jobs[0].type: unknown job type \"nope\"" },
		{ "{\"id\":3,\"jobs\":[{\"type\":\"sleep\"}]}",
		    "3", "bad_request", "jobs[0].ms: missing required field" },
		{ "{\"id\":4,\"timout_ms\":100,\"jobs\":[]}",
		    "4", "bad_request", "timout_ms: unknown field" },
		{ "{\"id\":5,\"jobs\":[{\"type\":\"sleep\",\"ms\":-1}]}",
		    "5", "bad_request",
		    "jobs[0].ms: expected a non-negative number" },
		{ "{\"id\":6,\"jobs\":[{\"type\":\"sleep\",\"ms\":1,"
		    "\"timout_ms\":5}]}",
		    "6", "bad_request", "jobs[0].timout_ms: unknown field" },
		/* Integer fields take JSON integers only. */
		{ "{\"id\":7,\"concurrency\":1.0,\"jobs\":[]}",
		    "7", "bad_request", NULL },
		{ "{\"id\":8,\"concurrency\":0,\"jobs\":[]}",
		    "8", "bad_request", NULL },
		{ "{\"id\":9,\"mode\":\"some\",\"jobs\":[]}",
		    "9", "bad_request", NULL },
		{ "{\"id\":10}",
		    "10", "bad_request", "jobs: missing required field" },
		{ "{\"id\":11,\"op\":\"cancel\"}",
		    "11", "bad_request", "target: missing required field" },
		{ "{\"id\":15,\"op\":\"ping\",\"jobs\":[]}",
		    "15", "bad_request", "jobs: unknown field" },
		{ "{\"id\":16,\"op\":7}", "16", "bad_request", NULL },
		{ "{\"id\":17,\"op\":\"status\",\"detail\":1}",
		    "17", "bad_request", NULL },
		{ "{\"id\":18,\"stream\":\"yes\",\"jobs\":[]}",
		    "18", "bad_request", NULL },
		{ "{\"id\":19,\"jobs\":{}}", "19", "bad_request", NULL },
		{ "{\"id\":20,\"jobs\":[7]}",
		    "20", "bad_request", "jobs[0]: expected an object" },
	};
	json_t	*r, *st;
	size_t	 i;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = rpc(fd, bad[i].line);
		expect_error(r, bad[i].id, bad[i].code);
		if (bad[i].message != NULL)
			jstr_is(r, "error.message", bad[i].message);
		json_decref(r);
	}

	/* null is the same as absent. */
	r = rpc(fd, "{\"id\":12,\"mode\":null,\"timeout_ms\":null,"
	    "\"concurrency\":null,\"stream\":null,\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":1,\"timeout_ms\":null}]}");
	expect_ok(r, "12");
	json_decref(r);

	/* "jobs":[] is answered at once. */
	r = rpc(fd, "{\"id\":13,\"jobs\":[]}");
	expect_ok(r, "13");
	jeq(r, "results", "[]");
	cr_assert_eq(jint(r, "stats.jobs"), 0);
	json_decref(r);

	/*
	 * The whole request is validated before any job starts: one bad job
	 * and the good one before it never runs.
	 */
	r = rpc(fd, "{\"id\":14,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":\"1\"}]}");
	expect_error(r, "14", "bad_request");
	jstr_is(r, "error.message",
	    "jobs[1].ms: expected a non-negative number");
	json_decref(r);
	st = status_get();
	cr_assert_eq(jint(st, "jobs.done"), 1, "only id 12's job: %s",
	    jtext(st));
	expect_idle(st);
	json_decref(st);

	expect_silence(fd, 50);
	close(fd);
	daemon_stop(&d);
}

/*
 * Limits.
 */

Test(daemon, oversized_line_is_refused_as_soon_as_the_limit_passes)
{
	json_t	*r;
	char	*line, *rest;
	size_t	 len = 5000, piece = len / 4, hdr;
	int	 fd, i;

	daemon_start(&d, "[limits]\nmax_request_bytes = 1024\n", NULL);
	/* A valid request, were it not too large. */
	line = malloc(len + 1);
	cr_assert_not_null(line);
	hdr = (size_t)sprintf(line, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"");
	memset(line + hdr, 'x', len - hdr - 4);
	strcpy(line + len - 4, "\"}]}");
	cr_assert_eq(strlen(line), len);

	fd = client_connect(d.sock);
	client_write(fd, line, piece);
	/* Answered before the newline is even sent. */
	r = client_recv_json(fd, slack_ms(2000));
	expect_error(r, "null", "too_large");
	json_decref(r);
	for (i = 1; i < 3; i++) {
		usleep(30000);
		client_write(fd, line + i * piece, piece);
		expect_silence(fd, 30);
	}
	/* The rest, its newline and the next request in one write. */
	rest = harness_fmt("%s\n{\"op\":\"ping\",\"id\":5}\n", line + 3 * piece);
	client_write(fd, rest, strlen(rest));
	free(rest);
	r = client_recv_json(fd, slack_ms(2000));
	jeq(r, "id", "5");
	jbool_is(r, "pong", true);
	json_decref(r);
	expect_silence(fd, 200);

	/* Whole too-large lines, in one write, are refused too. */
	client_send(fd, line);
	r = client_recv_json(fd, slack_ms(2000));
	expect_error(r, "null", "too_large");
	json_decref(r);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":6}");
	jeq(r, "id", "6");
	json_decref(r);
	expect_silence(fd, 100);
	free(line);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, request_limit_counts_bytes_before_the_newline)
{
	json_t	*r;
	char	*line;
	size_t	 hdr;
	int	 fd;

	daemon_start(&d, "[limits]\nmax_request_bytes = 1024\n", NULL);
	fd = client_connect(d.sock);
	line = malloc(1026);
	cr_assert_not_null(line);
	hdr = (size_t)sprintf(line, "{\"op\":\"ping\",\"id\":\"");
	memset(line + hdr, 'y', 1024 - hdr - 2);
	strcpy(line + 1022, "\"}");
	cr_assert_eq(strlen(line), 1024);

	/* Exactly the limit, then its newline later: accepted. */
	client_write(fd, line, 1024);
	expect_silence(fd, 50);
	client_write(fd, "\n", 1);
	r = client_recv_json(fd, slack_ms(2000));
	jbool_is(r, "pong", true);
	cr_assert_eq(strlen(json_string_value(jget(r, "id"))), 1024 - hdr - 2);
	json_decref(r);

	/* One byte more: refused. */
	memmove(line + hdr + 1, line + hdr, 1024 - hdr + 1);
	cr_assert_eq(strlen(line), 1025);
	r = rpc(fd, line);
	expect_error(r, "null", "too_large");
	json_decref(r);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":7}");
	jeq(r, "id", "7");
	json_decref(r);
	expect_silence(fd, 100);
	free(line);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, max_jobs_per_batch_is_too_large)
{
	json_t	*r, *st;
	int	 fd;

	daemon_start(&d, "[limits]\nmax_jobs_per_batch = 3\n", NULL);
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}");
	expect_error(r, "1", "too_large");
	json_decref(r);
	r = rpc(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0}]}");
	expect_ok(r, "2");
	json_decref(r);
	st = status_get();
	cr_assert_eq(jint(st, "jobs.done"), 3, "%s", jtext(st));
	json_decref(st);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, max_batches_per_connection_is_busy)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd, other;

	daemon_start(&d, "[limits]\nmax_batches_per_connection = 1\n", NULL);
	fd = client_connect(d.sock);
	t0 = now_ms();
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":300}]}");
	client_send(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	r = client_recv_json(fd, slack_ms(2000));
	dt = now_ms() - t0;
	expect_error(r, "2", "busy");
	cr_assert_lt(dt, slack_ms(250), "busy came after %.1f ms", dt);
	json_decref(r);

	/* Other ops still work, and so does another connection's batch. */
	r = rpc(fd, "{\"op\":\"ping\",\"id\":3}");
	jeq(r, "id", "3");
	json_decref(r);
	other = client_connect(d.sock);
	r = rpc(other, "{\"id\":4,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	expect_ok(r, "4");
	json_decref(r);
	close(other);

	r = client_recv_json(fd, slack_ms(2000));
	expect_ok(r, "1");
	json_decref(r);
	/* Its reply frees the slot. */
	r = rpc(fd, "{\"id\":5,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	expect_ok(r, "5");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, max_inflight_jobs_is_busy_and_starts_nothing)
{
	json_t	*r, *st;
	int	 fd, other;

	daemon_start(&d, "[limits]\nmax_inflight_jobs = 5\n", NULL);
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}");
	expect_error(r, "1", "busy");
	json_decref(r);
	st = status_get();
	expect_idle(st);
	cr_assert_eq(jint(st, "jobs.done"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.done"), 0, "%s", jtext(st));
	json_decref(st);

	/* Five fit; while they run (waiting ones count), one more does not. */
	client_send(fd, "{\"id\":2,\"concurrency\":2,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300},{\"type\":\"sleep\",\"ms\":300},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}");
	r = rpc(fd, "{\"op\":\"ping\"}");
	json_decref(r);
	other = client_connect(d.sock);
	r = rpc(other, "{\"id\":3,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	expect_error(r, "3", "busy");
	json_decref(r);
	r = client_recv_json(fd, slack_ms(3000));
	expect_ok(r, "2");
	json_decref(r);
	r = rpc(other, "{\"id\":4,\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	expect_ok(r, "4");
	json_decref(r);
	close(other);
	close(fd);
	daemon_stop(&d);
}

/*
 * A stalled client does not hold up others.
 */

Test(daemon, stalled_client_does_not_block_others)
{
	json_t	*r;
	double	 t0, dt;
	int	 a, b;

	daemon_start(&d, NULL, NULL);
	a = client_connect(d.sock);
	client_write(a, "{\"jobs\":[", 9);
	/* Let the daemon read the partial line (nothing to poll for). */
	sleep_ms(slack_ms(50));

	b = client_connect(d.sock);
	t0 = now_ms();
	r = rpc(b, "{\"op\":\"ping\",\"id\":1}");
	dt = now_ms() - t0;
	/* A loop blocked on a, which never finishes, would not answer. */
	cr_assert_lt(dt, slack_ms(HARNESS_PROMPT_MS), "ping took %.1f ms",
	    dt);
	jbool_is(r, "pong", true);
	json_decref(r);
	t0 = now_ms();
	r = rpc(b, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":50,"
	    "\"value\":\"b\"}]}");
	dt = now_ms() - t0;
	jbool_is(r, "ok", true);
	jstr_is(r, "results[0].value", "b");
	cr_assert_lt(dt, 50 + slack_ms(PROMPT_MS), "took %.1f ms", dt);
	json_decref(r);

	/* A finishes its line at last and is answered. */
	expect_silence(a, 10);
	r = rpc(a, "{\"type\":\"sleep\",\"ms\":0,\"value\":\"a\"}],\"id\":\"a\"}");
	jeq(r, "id", "\"a\"");
	jstr_is(r, "results[0].value", "a");
	json_decref(r);
	close(a);
	close(b);
	daemon_stop(&d);
}

/*
 * A client that does not read.
 */

/* VmRSS of pid in kB. */
static long
rss_kb(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*fp;
	long	 kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	}
	fclose(fp);
	return kb;
}

#define SLOW_BATCHES	200
#define SLOW_VALUE	10240

Test(daemon, slow_reader_is_paused_not_dropped)
{
	struct reader	 rd = { 0 };
	json_t		*r, *st;
	char		*req, *value, *line;
	size_t		 n;
	double		 t0, dt;
	long		 rss0, rss1;
	pid_t		 writer;
	int		 fd, other, i, status, seen[SLOW_BATCHES] = { 0 };
	json_int_t	 done, prev, id;

	daemon_start(&d, "[limits]\nmax_output_bytes = 65536\n", NULL);
	value = malloc(SLOW_VALUE + 1);
	cr_assert_not_null(value);
	memset(value, 'v', SLOW_VALUE);
	value[SLOW_VALUE] = '\0';
	rss0 = rss_kb(d.pid);

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
		st = status_get();
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
	rss1 = rss_kb(d.pid);
	cr_assert(rss0 > 0 && rss1 > 0);
	if (harness_rss_meaningful())
		cr_assert_lt(rss1 - rss0, 1536, "daemon grew by %ld kB",
		    rss1 - rss0);
	json_decref(r);

	/* Now read everything: every reply comes, whole. */
	rd.fd = fd;
	for (i = 0; i < SLOW_BATCHES; i++) {
		line = reader_line(&rd, 10000);
		cr_assert_not_null(line, "reply %d missing", i);
		r = json_loads(line, 0, NULL);
		cr_assert_not_null(r, "reply %d is not JSON", i);
		free(line);
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
	free(rd.buf);
	free(value);
	close(fd);
	close(other);
	daemon_stop(&d);
}

/* A single reply larger than the high-water mark is still sent whole. */
Test(daemon, reply_larger_than_the_output_mark_is_sent_whole)
{
	struct reader	 rd = { 0 };
	json_t		*r;
	char		*value, *req, *line;
	int		 fd;

	daemon_start(&d, "[limits]\nmax_output_bytes = 65536\n", NULL);
	value = malloc(200001);
	cr_assert_not_null(value);
	memset(value, 'w', 200000);
	value[200000] = '\0';
	req = harness_fmt("{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":\"%s\"},{\"type\":\"sleep\",\"ms\":10,\"value\":\"%s\"}]}",
	    value, value);
	fd = client_connect(d.sock);
	client_send(fd, req);
	client_send(fd, "{\"op\":\"ping\",\"id\":2}");
	rd.fd = fd;
	line = reader_line(&rd, slack_ms(5000));
	cr_assert_not_null(line);
	r = json_loads(line, 0, NULL);
	cr_assert_not_null(r, "not JSON (%zu bytes)", strlen(line));
	free(line);
	/* The ping was answered first: it did not wait behind the batch. */
	jeq(r, "id", "2");
	json_decref(r);
	line = reader_line(&rd, slack_ms(5000));
	cr_assert_not_null(line);
	r = json_loads(line, 0, NULL);
	cr_assert_not_null(r, "not JSON (%zu bytes)", strlen(line));
	free(line);
	jeq(r, "id", "1");
	jstr_is(r, "results[0].value", value);
	jstr_is(r, "results[1].value", value);
	json_decref(r);
	r = rpc(fd, "{\"op\":\"ping\",\"id\":3}");
	jeq(r, "id", "3");
	json_decref(r);
	free(rd.buf);
	free(req);
	free(value);
	close(fd);
	daemon_stop(&d);
}

/*
 * max_connections.
 */

Test(daemon, connection_over_max_connections_gets_busy_then_eof)
{
	json_t	*r;
	double	 deadline;
	int	 c1, c2, c3, c4;

	daemon_start(&d, "[limits]\nmax_connections = 2\n", NULL);
	/* The harness's probe connection may not be reaped yet: wait for it. */
	c1 = client_connect(d.sock);
	deadline = now_ms() + slack_ms(2000);
	for (;;) {
		r = rpc(c1, "{\"op\":\"status\"}");
		if (jint(r, "status.connections.open") == 1)
			break;
		cr_assert_lt(now_ms(), deadline, "%s", jtext(r));
		json_decref(r);
		usleep(10000);
	}
	json_decref(r);
	c2 = client_connect(d.sock);
	r = rpc(c2, "{\"op\":\"ping\",\"id\":2}");
	jeq(r, "id", "2");
	jbool_is(r, "pong", true);
	json_decref(r);

	c3 = client_connect(d.sock);
	r = client_recv_json(c3, slack_ms(2000));
	expect_error(r, "null", "busy");
	json_decref(r);
	expect_eof(c3, 2000);
	close(c3);

	/* The first two are unaffected. */
	r = rpc(c1, "{\"op\":\"ping\",\"id\":1}");
	jeq(r, "id", "1");
	json_decref(r);

	/* A freed slot can be taken again. */
	close(c2);
	deadline = now_ms() + slack_ms(2000);
	for (;;) {
		c4 = client_connect(d.sock);
		r = rpc(c4, "{\"op\":\"ping\",\"id\":4}");
		if (json_is_true(jget(r, "ok")))
			break;
		expect_error(r, "null", "busy");
		cr_assert_lt(now_ms(), deadline, "slot not freed");
		json_decref(r);
		close(c4);
		usleep(10000);
	}
	jeq(r, "id", "4");
	json_decref(r);
	close(c4);
	close(c1);
	daemon_stop(&d);
}

/*
 * The socket: one daemon per path, stale files replaced.
 */

Test(daemon, second_daemon_on_the_same_socket_refuses_to_start)
{
	json_t	*r;
	char	*cmd, *out;
	int	 rc;

	daemon_start(&d, NULL, NULL);
	cmd = harness_fmt("'%s' -s '%s' -c /dev/null 2>&1", GATHERD_BIN, d.sock);
	rc = run_command(cmd, &out);
	free(cmd);
	cr_assert_neq(rc, 0, "second daemon exited 0: %s", out);
	cr_assert_neq(rc, -1, "second daemon died by a signal: %s", out);
	cr_assert_not_null(strstr(out, "already listening"), "output: %s", out);
	free(out);

	/* The first keeps its socket and keeps working. */
	r = daemon_request(&d, "{\"op\":\"ping\",\"id\":1}");
	jeq(r, "id", "1");
	jbool_is(r, "pong", true);
	json_decref(r);
	daemon_stop(&d);
}

Test(daemon, stale_socket_of_a_killed_daemon_is_replaced)
{
	struct stat	 sb;
	json_t		*r;

	daemon_start(&d, NULL, NULL);
	cr_assert_eq(kill(d.pid, SIGKILL), 0);
	cr_assert_neq(daemon_wait(&d, slack_ms(5000)), -1);
	cr_assert_eq(lstat(d.sock, &sb), 0, "the killed daemon left no file");
	cr_assert(S_ISSOCK(sb.st_mode));
	cr_assert(!can_connect(d.sock));

	daemon_respawn();
	r = daemon_request(&d, "{\"op\":\"ping\",\"id\":1}");
	jeq(r, "id", "1");
	jbool_is(r, "pong", true);
	json_decref(r);
	daemon_stop(&d);
}

/*
 * Daemons started at once on the same stale socket: exactly one ends up
 * listening (the one status names), every other exits 1 saying so, and
 * none is left serving an unlinked socket nobody can reach.
 */
Test(daemon, racing_daemons_on_a_stale_socket_leave_one)
{
	enum { RACERS = 6 };
	pid_t	 pids[RACERS], pid;
	int	 i, round, status, alive, rounds = harness_slack() > 1 ? 3 : 10;
	double	 deadline;
	json_t	*r;

	daemon_start(&d, NULL, NULL);
	for (round = 0; round < rounds; round++) {
		/* A stale socket file: its daemon killed. */
		if (d.pid != 0) {
			cr_assert_eq(kill(d.pid, SIGKILL), 0);
			cr_assert_neq(daemon_wait(&d, slack_ms(5000)), -1);
		}
		for (i = 0; i < RACERS; i++) {
			pids[i] = fork();
			cr_assert_neq(pids[i], -1);
			if (pids[i] == 0) {
				int	fd = open("/dev/null", O_WRONLY);

				dup2(fd, 2);
				execl(GATHERD_BIN, GATHERD_BIN, "-s", d.sock,
				    "-c", "/dev/null", (char *)NULL);
				_exit(127);
			}
		}
		/* The losers exit 1 at once; the winner keeps running. */
		alive = RACERS;
		deadline = now_ms() + slack_ms(5000);
		while (alive > 1 && now_ms() < deadline) {
			for (i = 0; i < RACERS; i++) {
				if (pids[i] == 0)
					continue;
				pid = waitpid(pids[i], &status, WNOHANG);
				if (pid != pids[i])
					continue;
				cr_assert(WIFEXITED(status) &&
				    WEXITSTATUS(status) == 1, "round %d: a"
				    " racer ended with status %#x", round,
				    status);
				pids[i] = 0;
				alive--;
			}
			usleep(5000);
		}
		if (alive != 1) {
			/* Leave no orphan behind the failure. */
			for (i = 0; i < RACERS; i++) {
				if (pids[i] != 0) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
				}
			}
			cr_assert_fail("round %d: %d daemons running", round,
			    alive);
		}
		for (i = 0; pids[i] == 0; i++)
			;
		r = daemon_request(&d, "{\"op\":\"status\"}");
		cr_assert_eq(jint(r, "status.pid"), pids[i], "round %d: the"
		    " socket is not the running daemon's", round);
		json_decref(r);
		/* Adopt it: the next round kills it, daemon_stop ends it. */
		d.pid = pids[i];
	}
	daemon_stop(&d);
}

Test(daemon, stale_socket_file_is_replaced_but_not_other_files)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	json_t			*r;
	char			*cmd, *out;
	int			 fd, rc;

	daemon_start(&d, NULL, NULL);
	/* A clean stop removes the socket file. */
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	expect_exit_0(5000);
	cr_assert_neq(lstat(d.sock, &sb), 0, "socket file left behind");

	/* A socket file nobody listens on. */
	sun_set(&sun, d.sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0,
	    "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, 1), 0);
	close(fd);
	cr_assert_eq(lstat(d.sock, &sb), 0);

	daemon_respawn();
	r = daemon_request(&d, "{\"op\":\"ping\",\"id\":1}");
	jbool_is(r, "pong", true);
	json_decref(r);
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	expect_exit_0(5000);

	/* A regular file in the way is not deleted. */
	cr_assert_eq(close(open(d.sock, O_WRONLY | O_CREAT, 0600)), 0);
	cmd = harness_fmt("'%s' -c '%s' 2>&1", GATHERD_BIN, d.conf);
	rc = run_command(cmd, &out);
	free(cmd);
	cr_assert(rc > 0, "gatherd exited %d: %s", rc, out);
	cr_assert_not_null(strstr(out, "not a socket"), "output: %s", out);
	free(out);
	cr_assert_eq(lstat(d.sock, &sb), 0);
	cr_assert(S_ISREG(sb.st_mode), "the file was replaced");
	daemon_stop(&d);
}

/*
 * SIGTERM: drain, then exit 0.
 */

Test(daemon, sigterm_drains_batches_in_flight)
{
	json_t	*r;
	double	 t0, dt;
	int	 a, b;

	daemon_start(&d, NULL, NULL);
	a = client_connect(d.sock);
	b = client_connect(d.sock);
	r = rpc(b, "{\"op\":\"ping\"}");
	json_decref(r);
	client_send(a, "{\"id\":\"drain\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":1},"
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":2},"
	    "{\"type\":\"sleep\",\"ms\":300,\"value\":3}]}");
	r = rpc(a, "{\"op\":\"ping\"}");	/* the batch is running */
	json_decref(r);

	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	wait_unlisten();

	/* Draining: a new batch on an open connection is refused. */
	r = rpc(b, "{\"id\":\"late\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0}]}");
	expect_error(r, "\"late\"", "shutting_down");
	json_decref(r);

	/* The batch in flight runs to its end and is answered. */
	r = client_recv_json(a, slack_ms(5000));
	dt = now_ms() - t0;
	expect_ok(r, "\"drain\"");
	cr_assert_eq(jint(r, "stats.ok"), 3);
	jeq(r, "results[2].value", "3");
	cr_assert_lt(dt, 300 + slack_ms(PROMPT_MS), "drain reply after %.1f ms",
	    dt);
	json_decref(r);
	expect_eof(a, 3000);
	expect_eof(b, 3000);
	expect_exit_0(5000);
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
	daemon_start(&d, "shutdown_timeout_ms = 300\n", NULL);
	fd = client_connect(d.sock);
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
	expect_exit_0(5000);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, second_sigterm_cancels_at_once)
{
	json_t	*r;
	double	 t0, dt;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":10000}]}");
	r = rpc(fd, "{\"op\":\"ping\"}");
	json_decref(r);
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	wait_unlisten();
	expect_silence(fd, 100);
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	r = client_recv_json(fd, slack_ms(5000));
	dt = now_ms() - t0;
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "cancelled after %.1f ms", dt);
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
	expect_exit_0(5000);
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
	json_t	*st;
	char	*value, *line;
	double	 deadline = now_ms() + slack_ms(5000);

	cr_assert_not_null(value = malloc(BIG_REPLY_VALUE + 1));
	memset(value, 'v', BIG_REPLY_VALUE);
	value[BIG_REPLY_VALUE] = '\0';
	line = harness_fmt("{\"id\":\"big\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"%s\"}]}", value);
	client_send(fd, line);
	free(line);
	free(value);
	for (;;) {
		st = status_get();
		if (jint(st, "batches.done") == 1)
			break;
		cr_assert_lt(now_ms(), deadline, "the batch never finished");
		json_decref(st);
		usleep(10000);
	}
	json_decref(st);
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

	daemon_start(&d, conf, NULL);
	fd = client_connect(d.sock);
	send_big_reply(fd);
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	*got = read_slowly(fd, 65536, pause_ms, slack_ms(30000), nl);
	dt = now_ms() - t0;
	expect_exit_0(5000);
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

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	json_decref(rpc(fd, "{\"op\":\"ping\"}"));
	t0 = now_ms();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	expect_eof(fd, 2000);
	expect_exit_0(2000);
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
		expect_exit_0((int)slack_ms(2000));
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
	expect_exit_0(5000);
	close(fd);
	daemon_stop(&d);
}

/*
 * max_connections above what the descriptor limit allows is lowered, with
 * a warning, and status reports the value enforced.
 */
Test(daemon, max_connections_is_capped_by_the_descriptor_limit)
{
	struct rlimit	 rl;
	json_t		*r;
	json_int_t	 max;
	char		*log;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	daemon_start(&d, "[limits]\nmax_connections = 9000000000000\n", NULL);
	r = daemon_request(&d, "{\"op\":\"status\"}");
	max = jint(r, "status.limits.max_connections");
	json_decref(r);
	/* The daemon raised its soft limit to the hard one. */
	cr_assert(max > 0 && (rl.rlim_max == RLIM_INFINITY ||
	    (rlim_t)max < rl.rlim_max), "max_connections %lld, hard limit"
	    " %llu", (long long)max, (unsigned long long)rl.rlim_max);
	log = daemon_log(&d);
	cr_assert(strstr(log, "max_connections 9000000000000: the descriptor"
	    " limit") != NULL, "%s", log);
	free(log);
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
		wait_unlisten();
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
		expect_exit_0(2000);
		close(a);
		close(b);
		daemon_stop(&d);
	}
}
