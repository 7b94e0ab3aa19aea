/*
 * End-to-end tests of gatherctl: the real binary, run through /bin/sh,
 * against a real gatherd on a private socket. stdout is a pipe there, so
 * gatherctl prints the daemon's replies verbatim and the tests parse them;
 * the human output is checked once through a pseudo-terminal.
 *
 * Under GATHERD_TEST_WRAPPER (valgrind) the daemon is many times slower:
 * upper timing bounds and waits are stretched through slack_ms(), the
 * identity when the daemon runs bare; lower bounds never are.
 */

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
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

static void
start(void)
{
	daemon_start(&d, NULL, NULL);
}

/*
 * A safety net for a test that failed midway: every test stops the
 * daemon at the end of its body, where daemon_stop's assertion of a clean
 * exit counts (Criterion 2.4.1 prints an assertion that fails in a
 * suite's .fini but still passes the test). After that this does nothing.
 */
static void
stop(void)
{
	daemon_stop(&d);
}

TestSuite(gatherctl, .init = start, .fini = stop, .timeout = 30);
TestSuite(gatherctl_alone, .timeout = 30);

/* Run gatherctl -s SOCK with these arguments (a format); its exit status. */
#define ctl(out, fmt, ...)						\
	run_commandf((out), "%s -s '%s' " fmt, GATHERCTL_BIN, d.sock,	\
	    ##__VA_ARGS__)

/* Split output into lines and parse each as a JSON object; the count. */
static size_t
json_lines(const char *out, json_t **v, size_t max)
{
	json_error_t	 error;
	const char	*p = out, *nl;
	size_t		 n = 0;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		cr_assert_not_null(nl, "output does not end with a newline: %s",
		    out);
		cr_assert_lt(n, max, "more than %zu lines: %s", max, out);
		v[n] = json_loadb(p, (size_t)(nl - p), 0, &error);
		cr_assert_not_null(v[n], "line %zu is not JSON (%s): %s", n + 1,
		    error.text, out);
		cr_assert(json_is_object(v[n]), "line %zu: not an object",
		    n + 1);
		n++;
		p = nl + 1;
	}
	return n;
}

/* Free parsed lines. */
static void
json_lines_free(json_t **v, size_t n)
{
	while (n-- > 0)
		json_decref(v[n]);
}

/* The code of a result's error, or NULL. */
static const char *
result_code(json_t *reply, size_t i)
{
	json_t	*r;

	r = json_array_get(jget(reply, "results"), i);
	return json_string_value(jget(r, "error.code"));
}

Test(gatherctl, ping_prints_the_reply_as_json_when_not_a_tty)
{
	json_t	*v[4];
	char	*out;

	cr_assert_eq(ctl(&out, "ping"), 0);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert(json_is_true(json_object_get(v[0], "ok")));
	cr_assert(json_is_true(json_object_get(v[0], "pong")));
	cr_assert_eq(json_integer_value(json_object_get(v[0], "protocol")), 1);
	cr_assert_not_null(jstr(v[0], "version"));
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, socket_comes_from_the_environment_without_s)
{
	char	*cmd, *out;

	cmd = xasprintf("GATHERD_SOCKET='%s' %s ping", d.sock, GATHERCTL_BIN);
	cr_assert_eq(run_command(cmd, &out), 0);
	cr_assert_not_null(strstr(out, "\"pong\":true"), "output: %s", out);
	free(cmd);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, status_json_has_the_documented_keys)
{
	static const char *const keys[] = { "version", "pid", "uptime_s",
	    "connections", "batches", "jobs", "pool", "limits" };
	static const char *const limits[] = { "max_connections",
	    "max_request_bytes", "max_jobs_per_batch", "max_inflight_jobs",
	    "max_batches_per_connection", "max_output_bytes",
	    "read_max_bytes" };
	json_t	*v[4], *st;
	char	*out;
	size_t	 i;

	cr_assert_eq(ctl(&out, "status --json"), 0);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert(json_is_true(json_object_get(v[0], "ok")));
	st = json_object_get(v[0], "status");
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		cr_assert_not_null(json_object_get(st, keys[i]),
		    "status.%s missing: %s", keys[i], out);
	for (i = 0; i < sizeof limits / sizeof limits[0]; i++)
		cr_assert(json_is_integer(json_object_get(json_object_get(st,
		    "limits"), limits[i])), "limits.%s: %s", limits[i], out);
	cr_assert(json_is_object(json_object_get(json_object_get(st, "jobs"),
	    "by_type")));
	cr_assert(json_is_integer(json_object_get(json_object_get(st,
	    "connections"), "open")));
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

/*
 * Four sleeps, the longest first. One after another they take the sum of
 * their times, 2,500 ms; gathered, the longest, 1,000 ms. The bounds tell
 * the two apart with a margin of 1,500 ms for gatherctl's start and the
 * daemon's overhead: the wall-clock time must stay under the sum, and the
 * daemon's own elapsed_ms under the longest sleep plus an overhead. The
 * results come in job order, the reverse of the order of completion.
 */
#define RUN_SLEEPS	4
Test(gatherctl, run_gathers_concurrently_and_keeps_job_order)
{
	static const double	 ms[RUN_SLEEPS] = { 1000, 750, 500, 250 };
	static const char *const values[RUN_SLEEPS] = {
		"1", "\"two\"", "3", "[4]"
	};
	json_t			*v[4];
	char			*out, path[64];
	double			 t0, wall, sum = 0;
	int			 i;

	t0 = now_ms();
	cr_assert_eq(ctl(&out, "run sleep:1000:1 sleep:750:'\"two\"'"
	    " sleep:500:3 sleep:250:'[4]'"), 0, "output: %s", out);
	wall = now_ms() - t0;
	for (i = 0; i < RUN_SLEEPS; i++)
		sum += ms[i];
	cr_assert_geq(wall, ms[0], "replied after %.0f ms", wall);
	cr_assert_lt(wall, sum, "sleeps of 1000, 750, 500 and 250 ms took"
	    " %.0f ms: not gathered, one after another", wall);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	jbool_is(v[0], "ok", true);
	cr_assert_lt(jnum(v[0], "elapsed_ms"), ms[0] + slack_ms(300),
	    "the daemon took %.0f ms for sleeps of at most %.0f ms",
	    jnum(v[0], "elapsed_ms"), ms[0]);
	cr_assert_eq(json_array_size(jget(v[0], "results")), RUN_SLEEPS,
	    "%s", jtext(v[0]));
	for (i = 0; i < RUN_SLEEPS; i++) {
		snprintf(path, sizeof path, "results[%d].value", i);
		jeq(v[0], path, values[i]);
		snprintf(path, sizeof path, "results[%d].ms", i);
		cr_assert_geq(jnum(v[0], path), ms[i] - 0.001, "%s: %s", path,
		    jtext(v[0]));
	}
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, run_two_sleeps_of_100_ms_take_under_a_second)
{
	json_t	*v[4];
	char	*out;
	double	 t0;

	t0 = now_ms();
	cr_assert_eq(ctl(&out, "run sleep:100 sleep:100"), 0);
	cr_assert_lt(now_ms() - t0, 100 + slack_ms(900));
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert_eq(json_array_size(json_object_get(v[0], "results")), 2);
	cr_assert_lt(json_number_value(json_object_get(v[0], "elapsed_ms")),
	    100 + slack_ms(90));
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, run_with_a_failing_job_exits_1)
{
	json_t	*v[4];
	char	*out;
	double	 t0;

	t0 = now_ms();
	cr_assert_eq(ctl(&out, "run --job-timeout 10 sleep:1000 sleep:1"), 1,
	    "output: %s", out);
	cr_assert_lt(now_ms() - t0, 10 + slack_ms(890));
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert(json_is_false(json_object_get(v[0], "ok")));
	cr_assert_str_eq(result_code(v[0], 0), "timeout");
	cr_assert_null(result_code(v[0], 1), "the 1 ms job failed: %s", out);
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, run_options_reach_the_request)
{
	json_t	*v[4];
	char	*out;
	double	 t0;

	/* fail_fast: the job timing out cancels the other one. */
	t0 = now_ms();
	cr_assert_eq(ctl(&out, "run --id '\"ff\"' --fail-fast sleep:3000 "
	    "'{\"type\":\"sleep\",\"ms\":3000,\"timeout_ms\":20}'"), 1,
	    "output: %s", out);
	cr_assert_lt(now_ms() - t0, 20 + slack_ms(1480));
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	jstr_is(v[0], "id", "ff");
	cr_assert_str_eq(result_code(v[0], 0), "cancelled");
	cr_assert_str_eq(result_code(v[0], 1), "timeout");
	json_lines_free(v, 1);
	free(out);

	/* concurrency 1: the two sleeps run one after the other. */
	t0 = now_ms();
	cr_assert_eq(ctl(&out, "run --concurrency 1 sleep:100 sleep:100"), 0);
	cr_assert_geq(now_ms() - t0, 200);
	free(out);

	/* A batch timeout ends both jobs. */
	cr_assert_eq(ctl(&out, "run --timeout 30 sleep:2000 sleep:2000"), 1);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert_str_eq(result_code(v[0], 0), "timeout");
	cr_assert_str_eq(result_code(v[0], 1), "timeout");
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, submit_sends_every_request_of_a_pretty_printed_file)
{
	json_t	*v[4];
	char	*path, *out;
	FILE	*fp;
	int	 seen = 0;
	size_t	 i;

	path = xasprintf("%s/requests.json", d.dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs("{\n"
	    "  \"id\": 1,\n"
	    "  \"jobs\": [\n"
	    "    {\"type\": \"sleep\", \"ms\": 30, \"value\": \"one\"}\n"
	    "  ]\n"
	    "}\n"
	    "\n"
	    "{\n"
	    "  \"id\": 2,\n"
	    "  \"jobs\": [ {\"type\": \"sleep\", \"ms\": 10} ]\n"
	    "}\n", fp);
	fclose(fp);

	cr_assert_eq(ctl(&out, "submit '%s'", path), 0, "output: %s", out);
	cr_assert_eq(json_lines(out, v, 4), 2, "output: %s", out);
	for (i = 0; i < 2; i++) {
		cr_assert(json_is_true(json_object_get(v[i], "ok")));
		cr_assert_null(json_object_get(v[i], "event"));
		seen |= 1 << json_integer_value(json_object_get(v[i], "id"));
	}
	cr_assert_eq(seen, 6, "ids 1 and 2 answered: %s", out);
	json_lines_free(v, 2);

	/* The same from stdin. */
	free(out);
	cr_assert_eq(ctl(&out, "submit - < '%s'", path), 0);
	cr_assert_eq(json_lines(out, v, 4), 2, "output: %s", out);
	json_lines_free(v, 2);
	free(out);
	free(path);
	daemon_stop(&d);
}

Test(gatherctl, submit_stream_prints_events_before_the_final_reply)
{
	json_t	*v[8];
	char	*out;

	cr_assert_eq(ctl(&out, "submit --stream <<'EOF'\n"
	    "{\"id\":9,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":150,\"value\":\"slow\"},"
	    "{\"type\":\"sleep\",\"ms\":10,\"value\":\"fast\"}]}\n"
	    "EOF"), 0, "output: %s", out);
	cr_assert_eq(json_lines(out, v, 8), 3, "output: %s", out);
	jstr_is(v[0], "event", "result");
	cr_assert_eq(json_integer_value(json_object_get(v[0], "index")), 1,
	    "the fast job streams first: %s", out);
	jstr_is(v[1], "event", "result");
	cr_assert_eq(json_integer_value(json_object_get(v[1], "index")), 0);
	cr_assert_null(json_object_get(v[2], "event"));
	cr_assert_eq(json_integer_value(json_object_get(v[2], "id")), 9);
	cr_assert_eq(json_array_size(json_object_get(v[2], "results")), 2);
	json_lines_free(v, 3);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, submit_of_a_bad_request_prints_the_error_and_exits_1)
{
	json_t	*v[4];
	char	*out;

	cr_assert_eq(ctl(&out, "submit <<'EOF'\n"
	    "{\"id\":\"x\",\"jobs\":[],\"timout_ms\":5}\n"
	    "EOF"), 1, "output: %s", out);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert(json_is_false(json_object_get(v[0], "ok")));
	jstr_is(v[0], "error.code", "bad_request");
	json_lines_free(v, 1);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, submit_of_malformed_json_is_an_error_before_sending)
{
	char	*out, *cmd;

	cmd = xasprintf("printf '{\"jobs\":[]}\\n{\"jobs\":' | %s -s '%s' "
	    "submit 2>&1", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command(cmd, &out), 2, "output: %s", out);
	cr_assert_not_null(strstr(out, "stdin:2:"), "output: %s", out);
	cr_assert_null(strstr(out, "\"ok\""), "sent anyway: %s", out);
	free(cmd);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, cancel_stops_a_batch_of_another_gatherctl)
{
	json_t	*v[4], *st, *e;
	FILE	*bg;
	char	*cmd, *out, buf[8192];
	size_t	 len = 0, n;
	double	 t0;
	int	 status, i;

	cmd = xasprintf("%s -s '%s' run --id 42 sleep:5000 sleep:10",
	    GATHERCTL_BIN, d.sock);
	cr_assert_not_null(bg = popen(cmd, "r"));
	free(cmd);

	/*
	 * Wait until the batch is in flight with its 10 ms job done: 500
	 * looks, more under a slow wrapper.
	 */
	for (i = 0, n = 0; i < 500 * harness_slack() && n == 0; i++) {
		st = daemon_request(&d, "{\"op\":\"status\",\"detail\":true}");
		e = json_array_get(json_object_get(json_object_get(
		    json_object_get(st, "status"), "batches"), "list"), 0);
		if (e != NULL && json_integer_value(json_object_get(e,
		    "done")) == 1) {
			cr_assert_eq(json_integer_value(json_object_get(e,
			    "id")), 42);
			cr_assert_eq(json_integer_value(json_object_get(e,
			    "jobs")), 2);
			n = 1;
		}
		json_decref(st);
		if (n == 0)
			usleep(10000);
	}
	cr_assert_gt(n, 0, "the background batch never showed up");

	t0 = now_ms();
	cr_assert_eq(ctl(&out, "cancel 42"), 0, "output: %s", out);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert_eq(json_integer_value(json_object_get(v[0], "cancelled")), 1,
	    "output: %s", out);
	json_lines_free(v, 1);
	free(out);

	while ((n = fread(buf + len, 1, sizeof buf - 1 - len, bg)) > 0)
		len += n;
	buf[len] = '\0';
	status = pclose(bg);
	cr_assert_lt(now_ms() - t0, slack_ms(1000),
	    "the cancelled run lingered");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status 0x%x", status);
	cr_assert_eq(json_lines(buf, v, 4), 1, "output: %s", buf);
	cr_assert_eq(json_integer_value(json_object_get(v[0], "id")), 42);
	cr_assert_str_eq(result_code(v[0], 0), "cancelled");
	cr_assert_null(result_code(v[0], 1), "the 10 ms job: %s", buf);
	json_lines_free(v, 1);
	daemon_stop(&d);
}

Test(gatherctl, cancel_of_an_unknown_id_exits_1)
{
	json_t	*v[4];
	char	*out;

	cr_assert_eq(ctl(&out, "cancel 4242"), 1, "output: %s", out);
	cr_assert_eq(json_lines(out, v, 4), 1, "output: %s", out);
	cr_assert(json_is_true(json_object_get(v[0], "ok")));
	cr_assert_eq(json_integer_value(json_object_get(v[0], "cancelled")), 0);
	json_lines_free(v, 1);
	free(out);

	cr_assert_eq(ctl(&out, "cancel --conn 999 nosuchid"), 1, "output: %s",
	    out);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl, human_output_on_a_terminal)
{
	char	*cmd, *out;

	cmd = xasprintf("%s -s '%s' ping", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command_pty(cmd, &out), 0, "output: %s", out);
	cr_assert_not_null(strstr(out, "PONG from gatherd "), "output: %s",
	    out);
	cr_assert_not_null(strstr(out, "(protocol 1) in "), "output: %s", out);
	free(cmd);
	free(out);

	cmd = xasprintf("%s -s '%s' run --id 7 --job-timeout 50 "
	    "sleep:10:'\"Hello 1!\"' sleep:1000", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command_pty(cmd, &out), 1, "output: %s", out);
	cr_assert_not_null(strstr(out, "batch 7: failed, 2 jobs in "),
	    "output: %s", out);
	cr_assert_not_null(strstr(out, "(1 ok, 0 failed, 0 cancelled, "
	    "1 timed out; sum "), "output: %s", out);
	cr_assert_not_null(strstr(out, "  [0] ok "), "output: %s", out);
	cr_assert_not_null(strstr(out, "\"Hello 1!\""), "output: %s", out);
	cr_assert_not_null(strstr(out, "  [1] timeout "), "output: %s", out);
	free(cmd);
	free(out);

	cmd = xasprintf("%s -s '%s' status --detail", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command_pty(cmd, &out), 0, "output: %s", out);
	cr_assert_not_null(strstr(out, "Uptime:"), "output: %s", out);
	cr_assert_not_null(strstr(out, "max_connections"), "output: %s", out);
	cr_assert_not_null(strstr(out, "Batches in flight: none"),
	    "output: %s", out);
	free(cmd);
	free(out);

	cmd = xasprintf("%s -s '%s' status --json", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command_pty(cmd, &out), 0, "output: %s", out);
	cr_assert(strncmp(out, "{\"id\":null,\"ok\":true,\"status\":", 30) == 0,
	    "--json on a terminal: %s", out);
	free(cmd);
	free(out);
	daemon_stop(&d);
}

Test(gatherctl_alone, no_daemon_exits_2_and_says_so)
{
	char	*cmd, *out;

	cmd = xasprintf("%s -s /nonexistent/gatherd.sock ping 2>&1 >/dev/null",
	    GATHERCTL_BIN);
	cr_assert_eq(run_command(cmd, &out), 2, "output: %s", out);
	cr_assert_not_null(strstr(out, "gatherctl: cannot connect to gatherd "
	    "at /nonexistent/gatherd.sock (-s): no such socket (gatherd is"
	    " not running, or listens elsewhere"), "stderr: %s", out);
	free(cmd);
	free(out);
}

Test(gatherctl_alone, usage_errors_exit_2)
{
	static const char *const bad[] = {
		"frobnicate",
		"",
		"status --bogus",
		"ping extra",
		"run",
		"run sleep:abc",
		"run sleep:-5",
		"run nosuchtype:1",
		"run --concurrency 0 sleep:1",
		"run --mode sometimes sleep:1",
		"run group[ sleep:1",		/* not closed */
		"run sleep:1 ]",		/* closes nothing */
		"run group:any",		/* nests without '[' */
		"run sleep:1[",			/* does not nest */
		"run read:a[ ]",
		"run sequence:any[ sleep:1 ]",	/* takes no mode */
		"run --retry 0 sleep:1",
		"run --retry x sleep:1",
		"run --retry 2:-1 sleep:1",
		"run --retry 2: sleep:1",
		"run group[ query:1 ] -p 1",	/* an option of no job */
		"run group[ query:1 -p 1 ] --base64",
		"cancel",
	};
	char	*cmd, *out;
	size_t	 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cmd = xasprintf("%s -s /nonexistent/gatherd.sock %s 2>&1",
		    GATHERCTL_BIN, bad[i]);
		cr_assert_eq(run_command(cmd, &out), 2, "'%s': %s", bad[i],
		    out);
		/* One line that says what is wrong and points at the help. */
		cr_assert(strncmp(out, "gatherctl: ", 11) == 0, "'%s': %s",
		    bad[i], out);
		cr_assert_not_null(strstr(out, " (see gatherctl --help)\n"),
		    "'%s': %s", bad[i], out);
		cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1,
		    "'%s': more than one line: %s", bad[i], out);
		free(cmd);
		free(out);
	}

	cmd = xasprintf("%s run sleep:abc 2>&1", GATHERCTL_BIN);
	cr_assert_eq(run_command(cmd, &out), 2);
	cr_assert_not_null(strstr(out, "'sleep:abc'"), "names the job: %s",
	    out);
	free(cmd);
	free(out);
}

Test(gatherctl_alone, help_and_version_exit_0_on_stdout)
{
	char	*cmd, *out;

	cmd = xasprintf("%s -h 2>/dev/null", GATHERCTL_BIN);
	cr_assert_eq(run_command(cmd, &out), 0);
	cr_assert_not_null(strstr(out, "usage: gatherctl"), "output: %s", out);
	free(cmd);
	free(out);

	cmd = xasprintf("%s status --help 2>/dev/null", GATHERCTL_BIN);
	cr_assert_eq(run_command(cmd, &out), 0);
	cr_assert_not_null(strstr(out, "usage: gatherctl"), "output: %s", out);
	free(cmd);
	free(out);

	cmd = xasprintf("%s -V", GATHERCTL_BIN);
	cr_assert_eq(run_command(cmd, &out), 0);
	cr_assert(strncmp(out, "gatherctl ", 10) == 0, "output: %s", out);
	free(cmd);
	free(out);
}

/*
 * A server that reads a request and closes without answering: gatherctl
 * must say so and exit 2, not wait forever.
 */
Test(gatherctl_alone, a_connection_closed_without_reply_exits_2)
{
	struct sockaddr_un	 sun;
	char			 dir[] = "/tmp/gatherctl-test.XXXXXX";
	char			*cmd, *out, *path, buf[256];
	pid_t			 pid;
	int			 lfd, fd, status;

	cr_assert_not_null(mkdtemp(dir));
	path = harness_fmt("%s/s.sock", dir);
	sun_set(&sun, path);
	free(path);
	cr_assert_neq(lfd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	cr_assert_eq(listen(lfd, 4), 0);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		alarm(10);
		if ((fd = accept(lfd, NULL, NULL)) != -1) {
			if (read(fd, buf, sizeof buf) == -1)
				_exit(1);
			close(fd);
		}
		_exit(0);
	}
	close(lfd);

	cmd = xasprintf("%s -s '%s' ping 2>&1", GATHERCTL_BIN, sun.sun_path);
	cr_assert_eq(run_command(cmd, &out), 2, "output: %s", out);
	cr_assert_not_null(strstr(out, "closed the connection"), "output: %s",
	    out);
	waitpid(pid, &status, 0);
	unlink(sun.sun_path);
	rmdir(dir);
	free(cmd);
	free(out);
}
