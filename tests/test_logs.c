/*
 * What the log says, through a real daemon: the time on every line
 * outside the journal, [daemon] log_requests (a line per finished batch),
 * refusals and clients that leave with batches in flight at info, at
 * most a line a second of each kind, error replies and failed jobs at
 * debug, and a client's text kept to one line of the log.
 */

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "xmalloc.h"

static struct daemon	d;

HARNESS_SUITE(logs, 60);

/* The line of the log that holds needle (a copy, caller frees), or NULL. */
static char *
log_line(const char *needle)
{
	char	*log = daemon_log(&d), *p, *start, *end, *line = NULL;

	if ((p = strstr(log, needle)) != NULL) {
		for (start = p; start > log && start[-1] != '\n'; start--)
			;
		if ((end = strchr(p, '\n')) == NULL)
			end = p + strlen(p);
		line = xstrndup(start, (size_t)(end - start));
	}
	free(log);
	return line;
}

/* Wait for a line with needle to be logged; that line (caller frees). */
static char *
wait_line(const char *needle)
{
	char	*log;

	if (daemon_log_wait(&d, needle, 1, slack_ms(5000)) != 1) {
		log = daemon_log(&d);
		cr_assert_fail("no line with \"%s\" in:\n%s", needle, log);
	}
	return log_line(needle);
}

/*
 * Wait for the line that holds needle; assert it holds each string after
 * it too (a NULL-terminated list).
 */
static void __attribute__((sentinel))
expect_line(const char *needle, ...)
{
	va_list		 ap;
	const char	*want;
	char		*line = wait_line(needle);

	va_start(ap, needle);
	while ((want = va_arg(ap, const char *)) != NULL)
		cr_assert_not_null(strstr(line, want), "no \"%s\" in: %s", want,
		    line);
	va_end(ap);
	free(line);
}

/* How many lines of the log hold needle. */
static int
count_lines(const char *needle)
{
	return daemon_log_wait(&d, needle, INT_MAX, 0);
}

/*
 * Every line starts with the local time in ISO 8601, milliseconds and
 * the offset from UTC written out: 2026-12-07T01:05:19.123+00:00.
 */
Test(logs, every_line_starts_with_its_time)
{
	regex_t		 re;
	char		*log, *p, *nl;
	int		 lines = 0;

	daemon_start(&d, NULL, (const char *const[]){ "-l", "debug", NULL });
	daemon_ping(&d, slack_ms(5000));
	cr_assert_eq(regcomp(&re, "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:"
	    "[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} gatherd: "
	    "(debug|info|warning|error): ", REG_EXTENDED | REG_NOSUB), 0);
	daemon_log_wait(&d, "connection 1: closed", 1, slack_ms(5000));
	log = daemon_log(&d);
	for (p = log; *p != '\0'; p = nl + 1) {
		cr_assert_not_null(nl = strchr(p, '\n'), "%s", log);
		*nl = '\0';
		cr_assert_eq(regexec(&re, p, 0, NULL, 0), 0, "line: %s", p);
		lines++;
	}
	cr_assert_geq(lines, 3, "%s", log);
	regfree(&re);
	free(log);
	daemon_stop(&d);
}

/* The offset is the local one: TZ moves it, not the UTC time. */
Test(logs, the_offset_is_the_local_time_zone)
{
	struct daemon_opts	 opts = { .child = NULL };
	char			*line;

	setenv("TZ", "UTC-05:30", 1);	/* POSIX: five and a half hours east */
	daemon_start_opts(&d, NULL, NULL, &opts);
	line = wait_line("listening on");
	cr_assert(strlen(line) > 30 && strncmp(line + 23, "+05:30 ", 7) == 0,
	    "%s", line);
	free(line);
	unsetenv("TZ");
	daemon_stop(&d);
}

/* log_requests: one info line per finished batch, with its counts. */
Test(logs, log_requests_writes_a_line_per_batch)
{
	json_t	*r;
	char	*line, *want;

	daemon_start(&d, "log_requests = true\n[read]\nroots = /nonexistent/"
	    "gatherd-test-root\n", NULL);
	r = daemon_request_ms(&d, "{\"id\":\"job 7\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":20},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":10},"
	    "{\"type\":\"read\",\"path\":\"x\"}]}", slack_ms(10000));
	cr_assert_eq(jint(r, "stats.ok"), 1, "%s", jtext(r));
	json_decref(r);
	line = wait_line("batch done: ");
	cr_assert_not_null(strstr(line, "gatherd: info: batch done: conn="),
	    "%s", line);
	want = harness_fmt(" pid=%ld uid=%ld id=\"job 7\" jobs=3 ok=1 failed=1"
	    " cancelled=0 timed_out=1 elapsed_ms=", (long)getpid(),
	    (long)getuid());
	cr_assert_not_null(strstr(line, want), "%s\nwant %s", line, want);
	cr_assert_geq(strtod(strstr(line, "elapsed_ms=") + 11, NULL), 20,
	    "%s", line);
	free(want);
	free(line);

	/* A cancelled batch finishes too; its line says so. */
	r = daemon_request_ms(&d, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":5000}],"
	    "\"timeout_ms\":10}", slack_ms(10000));
	json_decref(r);
	cr_assert_eq(daemon_log_wait(&d, "batch done: ", 2, slack_ms(5000)), 2);
	line = log_line("id=null jobs=1");
	cr_assert_not_null(line);
	cr_assert_not_null(strstr(line, "ok=0 failed=0 cancelled=0"
	    " timed_out=1"), "%s", line);
	free(line);
	daemon_stop(&d);
}

/* Off by default: nothing per batch at info. */
Test(logs, no_batch_lines_by_default)
{
	json_t	*r;

	daemon_start(&d, NULL, NULL);
	r = daemon_request(&d, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1}]}");
	json_decref(r);
	daemon_ping(&d, slack_ms(5000));
	cr_assert_eq(count_lines("batch done"), 0);
	daemon_stop(&d);
}

/* A client's id is cut short and cannot break the line. */
Test(logs, a_client_id_stays_on_one_short_line)
{
	char	*req, *big, *line;
	json_t	*r;

	big = xmalloc(5001);
	memset(big, 'x', 5000);
	big[5000] = '\0';
	daemon_start(&d, "log_requests = true\n", NULL);
	req = harness_fmt("{\"id\":\"%s\\n\\u0001\",\"jobs\":[]}", big);
	r = daemon_request(&d, req);
	json_decref(r);
	line = wait_line("batch done: ");
	cr_assert_lt(strlen(line), 400, "%s", line);
	cr_assert_not_null(strstr(line, "id=\"xxxxxxxx"), "%s", line);
	cr_assert_not_null(strstr(line, "... jobs=0"), "%s", line);
	free(line);
	free(req);
	free(big);
	daemon_stop(&d);
}

/* Refusals are logged at info, whatever log_requests says. */
Test(logs, refusals_are_logged_at_info)
{
	json_t	*r;
	char	*want;
	int	 fd, fd2;

	daemon_start(&d, "[limits]\nmax_batches_per_connection = 1\n"
	    "max_connections = 2\n", NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	r = rpc(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":1}]}");
	jstr_is(r, "error.code", "busy");
	json_decref(r);
	want = harness_fmt(" (pid %ld uid %ld): busy:", (long)getpid(),
	    (long)getuid());
	expect_line("busy: max_batches_per_connection (1) reached",
	    "gatherd: info: connection ", want, NULL);
	free(want);

	fd2 = client_connect(d.sock);
	/* A third connection is over max_connections: busy, logged. */
	close(client_connect(d.sock));
	expect_line("max_connections (2) reached",
	    "gatherd: info: refused pid ", NULL);
	close(fd2);
	close(fd);
	daemon_stop(&d);
}

/* A uid not allowed is refused forbidden, and it is logged at info. */
Test(logs, forbidden_is_logged_at_info)
{
	char	*conf;
	json_t	*r;
	int	 fd;

	if (geteuid() != 0)
		cr_skip_test("needs root to connect as another uid");
	conf = harness_fmt("allow_uids = %ld\n", (long)geteuid());
	daemon_start(&d, conf, NULL);
	cr_assert_eq(chmod(d.dir, 0755), 0);
	cr_assert_eq(chmod(d.sock, 0666), 0);
	fd = client_connect_as(d.sock, HARNESS_UID_OTHER, HARNESS_UID_OTHER);
	r = client_recv_json(fd, slack_ms(5000));
	jstr_is(r, "error.code", "forbidden");
	json_decref(r);
	close(fd);
	expect_line("not in allow_uids or allow_groups",
	    "gatherd: info: refused pid ", " uid 65534 ", NULL);
	free(conf);
	daemon_stop(&d);
}

/* A client that leaves with batches in flight: info, with what is cancelled. */
Test(logs, a_client_that_leaves_mid_batch_is_logged)
{
	json_t	*st;
	int	 fd;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000},"
	    "{\"type\":\"sleep\",\"ms\":60000}]}");
	client_send(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	st = await_status(&d, -1, "batches.in_flight", 2, slack_ms(10000));
	json_decref(st);
	close(fd);
	expect_line("client disconnected: ", "gatherd: info: client"
	    " disconnected: conn=", ": cancelling 2 batches, 3 jobs unfinished",
	    NULL);

	/* A client that leaves with nothing in flight is not news. */
	close(client_connect(d.sock));
	daemon_ping(&d, slack_ms(5000));
	cr_assert_eq(count_lines("client disconnected"), 1);
	daemon_stop(&d);
}

/*
 * A client refused a hundred times in a row writes a line, not a hundred;
 * a refusal a second later says how many were left out.
 */
Test(logs, refusal_lines_are_at_most_one_a_second)
{
	json_t	*r;
	int	 fd, i;

	daemon_start(&d, "[limits]\nmax_batches_per_connection = 1\n", NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	for (i = 0; i < 100; i++) {
		r = rpc(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":1}]}");
		jstr_is(r, "error.code", "busy");
		json_decref(r);
	}
	cr_assert_leq(count_lines("max_batches_per_connection (1) reached"),
	    1 + (int)(slack_ms(1000) / 1000), "each refusal was logged");
	usleep(1100 * 1000);
	r = rpc(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":1}]}");
	json_decref(r);
	expect_line("more like it in the last second)",
	    "max_batches_per_connection", NULL);
	close(fd);
	daemon_stop(&d);
}

/* At debug level, error replies and failed jobs leave a trace. */
Test(logs, debug_shows_error_replies_and_failed_jobs)
{
	json_t	*r;
	int	 fd;

	daemon_start(&d, "[read]\nroots = /nonexistent/gatherd-test-root\n",
	    (const char *const[]){ "-l", "debug", NULL });
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\"}]}");
	jstr_is(r, "error.code", "bad_request");
	json_decref(r);
	expect_line("request refused: ", "gatherd: debug: request refused:"
	    " conn=", " code=bad_request: jobs[0].ms: missing required field",
	    NULL);

	r = rpc(fd, "{\"id\":2,\"jobs\":[{\"type\":\"read\",\"path\":\"f\"}]}");
	json_decref(r);
	expect_line("job failed: ", " id=2 job=0 type=read code=io_error: f:"
	    " read root /nonexistent/gatherd-test-root is not available", NULL);
	close(fd);

	/* Not at info. */
	daemon_stop(&d);
	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	r = rpc(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\"}]}");
	json_decref(r);
	close(fd);
	daemon_ping(&d, slack_ms(5000));
	cr_assert_eq(count_lines("request refused"), 0);
	daemon_stop(&d);
}
