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
 * A job that ends by its own timeout_ms, whatever the loop's lateness
 * (under valgrind a loop 50 ms late would let a shorter sleep succeed).
 */
#define TIMES_OUT	"'{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":1}'"

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

/*
 * Run with stdout a pipe, which must exit rc, and check its one reply
 * against want (jexpect).
 */
static void
run_expect(int rc, const char *args, const char *const *want)
{
	json_t	*v;
	char	*out;

	cr_assert_eq(run(0, &out, args), rc, "run %s: %s", args, out);
	cr_assert(strchr(out, '\n') != NULL &&
	    strchr(out, '\n')[1] == '\0', "run %s: not one line: %s", args,
	    out);
	v = jparse(out, strlen(out) - 1);
	free(out);
	jexpect(v, want);
	json_decref(v);
}

/* Assert the text out holds want. */
static void
has(const char *out, const char *want)
{
	cr_assert_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
}

Test(ctl, mode_any_takes_the_first_success_and_cancels_the_rest)
{
	daemon_start(&d, NULL, NULL);
	run_expect(0, "--mode any " TIMES_OUT " sleep:30:won sleep:5000", (const char *const[]){
	    "ok", "true", "winner", "1",
	    "results[0].error.code", "\"timeout\"",
	    "results[1].value", "\"won\"",
	    "results[2].error.code", "\"cancelled\"", NULL });

	/* first: the first to end wins, even a failure. */
	run_expect(1, "--mode first sleep:5000 " TIMES_OUT,
	    (const char *const[]){
	    "ok", "false", "winner", "1",
	    "results[0].error.code", "\"cancelled\"",
	    "results[1].error.code", "\"timeout\"", NULL });
	daemon_stop(&d);
}

/*
 * --retry reaches every job but groups and sequences, at every depth; a
 * try ended by the job's own timeout_ms (a transient code) is made again.
 */
Test(ctl, retry_reaches_every_job_but_groups)
{
	json_t	*v;
	char	*out;

	daemon_start(&d, NULL, NULL);
	run_expect(1, "--retry 3:1 " TIMES_OUT " group[ " TIMES_OUT
	    " sleep:0 ]", (const char *const[]){
	    "results[0].attempts", "3",
	    "results[0].error.code", "\"timeout\"",
	    "results[1].value[0].attempts", "3",
	    "results[1].value[1].attempts", "1",
	    "results[1].attempts", "-", NULL });

	/* The default backoff: only the tries are given. */
	cr_assert_eq(run(0, &out, "--retry 2 --job-timeout 1 sleep:5000"), 1);
	v = jparse(out, strlen(out));
	cr_assert_eq(jint(v, "results[0].attempts"), 2, "%s", out);
	cr_assert_geq(jnum(v, "results[0].ms"), 80, "no backoff of 100 ms "
	    "less its jitter: %s", out);
	json_decref(v);
	free(out);
	daemon_stop(&d);
}

/* Words between TYPE[ and ] are the group's or sequence's, nested. */
Test(ctl, groups_and_sequences_nest_on_the_command_line)
{
	daemon_start(&d, NULL, NULL);
	run_expect(0, "sleep:1:top group:first[ sleep:5000 "
	    "sequence[ sleep:1:a group[ sleep:1:b sleep:2:c ] ] ] sleep:1:end",
	    (const char *const[]){
	    "results[0].value", "\"top\"",
	    "results[2].value", "\"end\"",
	    "results[1].winner", "1",
	    "results[1].value[0].error.code", "\"cancelled\"",
	    "results[1].value[1].value[0].value", "\"a\"",
	    "results[1].value[1].value[1].value[0].value", "\"b\"",
	    "results[1].value[1].value[1].value[1].value", "\"c\"",
	    "results[3]", "-", NULL });

	/* Paths name the nesting; a sequence stops at its first failure. */
	run_expect(1, "sequence[ sleep:1 '{\"type\":\"read\"}' sleep:1 ]",
	    (const char *const[]){
	    "error.code", "\"bad_request\"",
	    "error.message",
	    "\"jobs[0].jobs[1].path: missing required field\"", NULL });
	run_expect(1, "sequence[ sleep:1 " TIMES_OUT " sleep:1 ]",
	    (const char *const[]){
	    "results[0].value[1].error.code", "\"timeout\"",
	    "results[0].value[2].error", "{\"code\":\"cancelled\","
	    "\"message\":\"not run: jobs[0].jobs[1] failed\"}", NULL });
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
	cr_assert_eq(run(1, &out, "--mode any --retry 2:1 " TIMES_OUT
	    " group:first[ sleep:5000 sleep:1000:inner ] sleep:5000"), 0, "%s",
	    out);
	has(out, ": ok, winner [1], 3 jobs in ");
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
	has(out, "0 running, 0 waiting, 1 retrying");
	free(cmd);
	free(out);
	close(fd);
	json_decref(await_status(&d, -1, "jobs.retrying", 0, slack_ms(5000)));
	daemon_stop(&d);
}
