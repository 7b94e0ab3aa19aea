/*
 * gatherctl run beyond a flat gather: --mode any and first, --retry,
 * groups and sequences written group[ ... ] on the command line, and the
 * human output that shows winners, attempts and nesting as a tree. The
 * real binary against a real gatherd; JSON through a pipe, text through
 * a pseudo-terminal.
 */

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

HARNESS_SUITE(ctl, 60);

/*
 * Run "gatherctl -s SOCK run ARGS" with stdout a pipe (on a terminal
 * when pty); its exit status, its output in *out.
 */
static int
run(int pty, char **out, const char *args)
{
	char	*cmd;
	int	 rc;

	cmd = xasprintf("%s -s '%s' run %s 2>&1", GATHERCTL_BIN, d.sock, args);
	rc = pty ? run_command_pty(cmd, out) : run_command(cmd, out);
	free(cmd);
	return rc;
}

/* run with stdout a pipe, which must exit rc; its one reply, parsed. */
static json_t *
run_json(int rc, const char *args)
{
	json_t	*v;
	char	*out;

	cr_assert_eq(run(0, &out, args), rc, "run %s: %s", args, out);
	cr_assert(strchr(out, '\n') != NULL &&
	    strchr(out, '\n')[1] == '\0', "run %s: not one line: %s", args,
	    out);
	v = jparse(out, strlen(out) - 1);
	free(out);
	return v;
}

/* Assert the text out holds want. */
static void
has(const char *out, const char *want)
{
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
}

Test(ctl, mode_any_takes_the_first_success_and_cancels_the_rest)
{
	json_t	*v;

	daemon_start(&d, NULL, NULL);
	v = run_json(0, "--mode any "
	    "'{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":1}' "
	    "sleep:30:won sleep:5000");
	jbool_is(v, "ok", true);
	cr_assert_eq(jint(v, "winner"), 1, "%s", jtext(v));
	jstr_is(v, "results[0].error.code", "timeout");
	jstr_is(v, "results[1].value", "won");
	jstr_is(v, "results[2].error.code", "cancelled");
	json_decref(v);
	daemon_stop(&d);
}

Test(ctl, mode_first_takes_the_first_to_end_even_a_failure)
{
	json_t	*v;

	daemon_start(&d, NULL, NULL);
	v = run_json(1, "--mode first sleep:5000 "
	    "'{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":1}'");
	jbool_is(v, "ok", false);
	cr_assert_eq(jint(v, "winner"), 1, "%s", jtext(v));
	jstr_is(v, "results[0].error.code", "cancelled");
	jstr_is(v, "results[1].error.code", "timeout");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * --retry reaches every job but groups and sequences, at every depth; a
 * try ended by the job's own timeout_ms (a transient code) is made again.
 */
Test(ctl, retry_reaches_every_job_but_groups)
{
	json_t	*v;

	daemon_start(&d, NULL, NULL);
	v = run_json(1, "--retry 3:1 --job-timeout 1 sleep:5000 "
	    "group[ sleep:5000 sleep:0 ]");
	cr_assert_eq(jint(v, "results[0].attempts"), 3, "%s", jtext(v));
	jstr_is(v, "results[0].error.code", "timeout");
	cr_assert_eq(jint(v, "results[1].value[0].attempts"), 3, "%s",
	    jtext(v));
	cr_assert_eq(jint(v, "results[1].value[1].attempts"), 1, "%s",
	    jtext(v));
	cr_assert_null(jget(v, "results[1].attempts"), "the group itself "
	    "was given retry: %s", jtext(v));
	json_decref(v);

	/* The default backoff: only the tries are given. */
	v = run_json(1, "--retry 2 --job-timeout 1 sleep:5000");
	cr_assert_eq(jint(v, "results[0].attempts"), 2, "%s", jtext(v));
	cr_assert_geq(jnum(v, "results[0].ms"), 80, "no backoff of 100 ms "
	    "less its jitter: %s", jtext(v));
	json_decref(v);
	daemon_stop(&d);
}

/* Words between TYPE[ and ] are the group's or sequence's, nested. */
Test(ctl, groups_and_sequences_nest_on_the_command_line)
{
	json_t	*v;

	daemon_start(&d, NULL, NULL);
	v = run_json(0, "sleep:1:top group:first[ sleep:5000 "
	    "sequence[ sleep:1:a group[ sleep:1:b sleep:2:c ] ] ] sleep:1:end");
	cr_assert_eq(json_array_size(jget(v, "results")), 3, "%s", jtext(v));
	jstr_is(v, "results[0].value", "top");
	jstr_is(v, "results[2].value", "end");
	cr_assert_eq(jint(v, "results[1].winner"), 1, "%s", jtext(v));
	jstr_is(v, "results[1].value[0].error.code", "cancelled");
	jstr_is(v, "results[1].value[1].value[0].value", "a");
	jstr_is(v, "results[1].value[1].value[1].value[0].value", "b");
	jstr_is(v, "results[1].value[1].value[1].value[1].value", "c");
	json_decref(v);

	/* A sequence stops at its first failure. */
	v = run_json(1, "sequence[ sleep:1 '{\"type\":\"read\"}' sleep:1 ]");
	jstr_is(v, "error.code", "bad_request");
	jstr_has(v, "error.message", "jobs[0].jobs[1]");
	json_decref(v);
	v = run_json(1, "sequence[ sleep:1 "
	    "'{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":1}' sleep:1 ]");
	jstr_is(v, "results[0].value[1].error.code", "timeout");
	jstr_is(v, "results[0].value[2].error.code", "cancelled");
	jstr_has(v, "results[0].value[2].error.message", "not run");
	json_decref(v);
	daemon_stop(&d);
}

/*
 * The human form: the winner in the header and on its line, the tries,
 * and a group's results below it, further in.
 */
Test(ctl, the_human_output_shows_winners_attempts_and_the_tree)
{
	char	*out;

	daemon_start(&d, NULL, NULL);
	cr_assert_eq(run(1, &out, "--mode any --retry 2:1 "
	    "'{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":1}' "
	    "group:first[ sleep:5000 sleep:20:inner ] sleep:5000"), 0, "%s",
	    out);
	has(out, "batch: ok, winner [1], 3 jobs in ");
	has(out, "\n  [0] timeout ");
	has(out, "(2 attempts)");
	has(out, "\n  [1] ok ");
	has(out, "group (first)  (winner)");
	has(out, "\n      [0] cancelled ");
	has(out, "\n      [1] ok ");
	has(out, "\"inner\"  (1 attempt, winner)");
	has(out, "\n  [2] cancelled ");
	free(out);

	/* A value that looks like results is a value, not a tree. */
	cr_assert_eq(run(1, &out, "sleep:0:'[{\"ok\":true,\"ms\":1}]'"), 0,
	    "%s", out);
	has(out, "  [0] ok ");
	has(out, "[{\"ok\":true,\"ms\":1}]");
	cr_assert_null(strstr(out, "\n      [0]"), "%s", out);
	free(out);
	daemon_stop(&d);
}

/* A job between tries is in status, and gatherctl status says so. */
Test(ctl, status_shows_the_jobs_waiting_to_retry)
{
	json_t	*st;
	char	*cmd, *out;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":5000,"
	    "\"timeout_ms\":1,\"retry\":{\"attempts\":2,\"backoff_ms\":"
	    "20000}}]}");
	st = await_status(&d, -1, "jobs.retrying", 1, slack_ms(5000));
	json_decref(st);
	cmd = xasprintf("%s -s '%s' status", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command_pty(cmd, &out), 0, "%s", out);
	has(out, "0 running, 0 waiting, 1 retrying, ");
	free(cmd);
	free(out);
	close(fd);
	json_decref(await_status(&d, -1, "jobs.retrying", 0, slack_ms(5000)));
	daemon_stop(&d);
}

Test(ctl, malformed_groups_and_options_are_usage_errors)
{
	static const char *const bad[] = {
		"group[ sleep:1",		/* not closed */
		"sleep:1 ]",			/* closes nothing */
		"group",			/* nests without '[' */
		"group:any",
		"sleep:1[",			/* does not nest */
		"read:a[ ]",
		"sequence:any[ sleep:1 ]",	/* takes no mode */
		"--mode sometimes sleep:1",
		"--retry 0 sleep:1",
		"--retry x sleep:1",
		"--retry 2:-1 sleep:1",
		"--retry 2: sleep:1",
	};
	char	*cmd, *out;
	size_t	 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cmd = xasprintf("%s -s /nonexistent/gatherd.sock run %s 2>&1",
		    GATHERCTL_BIN, bad[i]);
		cr_assert_eq(run_command(cmd, &out), 2, "'%s': %s", bad[i],
		    out);
		has(out, "usage: gatherctl");
		free(cmd);
		free(out);
	}
}
