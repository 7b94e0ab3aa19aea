/*
 * End-to-end tests of the benchmark tools: gatherctl bench against a real
 * gatherd on a private socket, checked through its --json summary and the
 * daemon's own counters, and a smoke run of bench/run. Benchmarks are not
 * tests: nothing here asserts a speed, only counts, errors, exit statuses
 * and lower bounds that follow from the jobs themselves.
 */

#include <errno.h>
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
static char		files[64];	/* the read root: f0, f1, f2 */

/* Start a daemon whose read root holds f0..f2 and a SQLite database. */
static void
start(void)
{
	char	*conf, *path;
	FILE	*fp;
	int	 i;

	snprintf(files, sizeof files, "/tmp/gatherd-bench-test.XXXXXX");
	cr_assert_not_null(mkdtemp(files), "mkdtemp: %s", strerror(errno));
	for (i = 0; i < 3; i++) {
		path = harness_fmt("%s/f%d", files, i);
		cr_assert_not_null(fp = fopen(path, "w"));
		fprintf(fp, "file %d\n", i);
		fclose(fp);
		free(path);
	}
	conf = harness_fmt("[read]\nroots = %s\n", files);
	daemon_start(&d, conf, NULL);
	free(conf);
}

/* A safety net for a test that failed midway (see test_gatherctl.c). */
static void
stop(void)
{
	daemon_stop(&d);
	if (files[0] != '\0')
		harness_rmtree(files);
	files[0] = '\0';
}

TestSuite(bench, .init = start, .fini = stop, .timeout = 60);
TestSuite(bench_alone, .timeout = 120);

/*
 * Run gatherctl -s SOCK bench --json with the formatted arguments; its
 * exit status, and its summary parsed into *summary (NULL when it printed
 * none).
 */
static int __attribute__((format(printf, 3, 4)))
bench(const char *sock, json_t **summary, const char *fmt, ...)
{
	va_list		 ap;
	json_error_t	 error;
	char		*args, *cmd, *out;
	int		 rc;

	va_start(ap, fmt);
	args = xvasprintf(fmt, ap);
	va_end(ap);
	cmd = xasprintf("%s -s '%s' bench --json %s", GATHERCTL_BIN, sock,
	    args);
	rc = run_command(cmd, &out);
	*summary = NULL;
	if (out[0] != '\0') {
		*summary = json_loads(out, 0, &error);
		cr_assert_not_null(*summary, "bench %s: not one JSON object "
		    "(%s): %s", args, error.text, out);
	}
	free(out);
	free(cmd);
	free(args);
	return rc;
}

/* The daemon's status object. Caller decrefs. */
static json_t *
status(void)
{
	json_t	*reply;

	reply = daemon_request_ms(&d, "{\"op\":\"status\"}", 10000);
	jbool_is(reply, "ok", true);
	return reply;
}

Test(bench, counts_every_batch_it_sends)
{
	json_t	*s, *st;

	cr_assert_eq(bench(d.sock, &s, "-c 3 -n 30 --job sleep:1"), 0,
	    "%s", jtext(s));
	jhas(s, "", "{\"clients\":3,\"requests\":30,\"replies\":30,"
	    "\"jobs\":30,\"errors\":0,\"latency_ms\":{\"count\":30}}");
	cr_assert_geq(jnum(s, "latency_ms.p50"), 1.0,
	    "a batch of a 1 ms sleep answered in less: %s", jtext(s));
	cr_assert_geq(jnum(s, "latency_ms.max"), jnum(s, "latency_ms.p99"));
	cr_assert_gt(jnum(s, "requests_per_s"), 0);
	json_decref(s);

	st = status();
	cr_assert_eq(jint(st, "status.batches.done"), 30, "%s", jtext(st));
	cr_assert_eq(jint(st, "status.jobs.by_type.sleep.done"), 30);
	json_decref(st);
	daemon_stop(&d);
}

Test(bench, pipelines_batches_of_several_jobs)
{
	json_t	*s, *st;

	cr_assert_eq(bench(d.sock, &s, "-c 2 -n 41 -P 4 --jobs-per-batch 3 "
	    "--job sleep:0 --job sleep:2"), 0, "%s", jtext(s));
	jhas(s, "", "{\"pipeline\":4,\"jobs_per_batch\":3,\"replies\":41,"
	    "\"jobs\":123,\"errors\":0,\"latency_ms\":{\"count\":41}}");
	cr_assert_geq(jnum(s, "latency_ms.p50"), 2.0, "%s", jtext(s));
	json_decref(s);

	/* The daemon saw exactly that: 41 batches of 3 jobs. */
	st = status();
	cr_assert_eq(jint(st, "status.batches.done"), 41, "%s", jtext(st));
	cr_assert_eq(jint(st, "status.jobs.done"), 123, "%s", jtext(st));
	json_decref(st);
	daemon_stop(&d);
}

/*
 * Run bench with args on d: assert it exits rc, with errors errors and
 * (unless -1) replies replies.
 */
static void
bench_expect(const char *args, int rc, int replies, int errors)
{
	json_t	*s;

	cr_assert_eq(bench(d.sock, &s, "%s", args), rc, "%s: %s", args,
	    jtext(s));
	if (replies != -1)
		cr_assert_eq(jint(s, "replies"), replies, "%s", jtext(s));
	cr_assert_eq(jint(s, "errors"), errors, "%s", jtext(s));
	json_decref(s);
}

Test(bench, index_names_each_job_of_a_batch)
{
	/* f0, f1, f2 exist: three distinct reads per batch succeed. */
	bench_expect("-c 2 -n 6 --jobs-per-batch 3 --job 'read:f__index__'",
	    0, -1, 0);
	/* A whole-string __index__ is the integer: a valid ms. */
	bench_expect("-c 1 -n 2 --jobs-per-batch 3 "
	    "--job '{\"type\":\"sleep\",\"ms\":\"__index__\"}'", 0, -1, 0);
	/* The fourth job reads f3, which does not exist. */
	bench_expect("-c 2 -n 6 --jobs-per-batch 4 --job 'read:f__index__'",
	    1, 6, 6);
	daemon_stop(&d);
}

Test(bench, failing_jobs_exit_1)
{
	/* A job that fails: every batch fails in place. */
	bench_expect("-c 2 -n 5 --job read:missing", 1, 5, 5);
	/* A request the daemon refuses (bad_request) with -P > 1. */
	bench_expect("-c 2 -n 8 -P 3 --jobs-per-batch 2 "
	    "--job '{\"type\":\"sleep\",\"ms\":-1}'", 1, 8, 8);
	daemon_stop(&d);
}

Test(bench, pings_probe_and_overhead)
{
	json_t	*s;

	cr_assert_eq(bench(d.sock, &s, "-c 2 -n 20 -P 2 --ping"), 0, "%s",
	    jtext(s));
	jhas(s, "", "{\"replies\":20,\"jobs\":0,\"errors\":0}");
	json_decref(s);

	/*
	 * Batches of sleeps of 10, 60, 10, 60 and 10 ms: each batch's
	 * overhead is its elapsed_ms minus its longest job, at least 60 ms,
	 * so no overhead comes within 60 ms of the longest elapsed_ms. An
	 * overhead taken from the first job, or from none, would.
	 */
	cr_assert_eq(bench(d.sock, &s, "-c 2 -n 4 --jobs-per-batch 5 "
	    "--job sleep:10 --job sleep:60 --probe --overhead"), 0, "%s",
	    jtext(s));
	cr_assert_eq(jint(s, "errors"), 0);
	cr_assert_eq(jint(s, "probe_errors"), 0);
	cr_assert_gt(jint(s, "probe_ms.count"), 0, "%s", jtext(s));
	cr_assert_eq(jint(s, "overhead_ms.count"), 4, "%s", jtext(s));
	cr_assert_geq(jnum(s, "elapsed_ms.p50"), 60.0, "%s", jtext(s));
	/* Microseconds are truncated, sleeps reported to the microsecond. */
	cr_assert_leq(jnum(s, "overhead_ms.max"), jnum(s, "elapsed_ms.max") -
	    60 + 0.01, "%s", jtext(s));
	json_decref(s);
	daemon_stop(&d);
}

Test(bench, usage_errors_exit_2)
{
	json_t	*s;

	cr_assert_eq(bench(d.sock, &s, "-c 0"), 2);
	cr_assert_null(s);
	cr_assert_eq(bench(d.sock, &s, "-n x"), 2);
	cr_assert_eq(bench(d.sock, &s, "--job nope:1"), 2);
	cr_assert_eq(bench(d.sock, &s, "--ping --job sleep:0"), 2);
	cr_assert_eq(bench(d.sock, &s, "extra"), 2);
	cr_assert_eq(bench("/nonexistent/gatherd.sock", &s, "-n 1"), 2);
	cr_assert_null(s);
	daemon_stop(&d);
}

Test(bench_alone, a_closed_connection_exits_2)
{
	struct daemon	 dm;
	json_t		*s;

	/* The third connection gets one busy line and is closed. */
	daemon_start(&dm, "[limits]\nmax_connections = 2\n", NULL);
	cr_assert_eq(bench(dm.sock, &s, "-c 3 -n 30 --job sleep:50"), 2,
	    "%s", jtext(s));
	json_decref(s);
	daemon_stop(&dm);
}

Test(bench_alone, bench_run_smoke)
{
	char	*cmd, *out;
	int	 rc;

	cmd = xasprintf("'%s' --smoke --gatherd '%s' --gatherctl '%s' 2>&1",
	    BENCH_RUN, GATHERD_BIN, GATHERCTL_BIN);
	rc = run_command(cmd, &out);
	cr_assert_eq(rc, 0, "bench/run --smoke exited %d:\n%s", rc, out);
	cr_assert(strstr(out, "cores (nproc)") != NULL, "%s", out);
	cr_assert(strstr(out, "| gather overhead, 1 batch of 100 sleeps") !=
	    NULL, "%s", out);
	cr_assert(strstr(out, "| gather overhead, 1 batch of 1,000 sleeps") !=
	    NULL, "%s", out);
	cr_assert(strstr(out, "| memory per in-flight sleep job") != NULL,
	    "%s", out);
	cr_assert(strstr(out, "| memory per in-flight sleep job (10 groups of"
	    " 100 sleeps)") != NULL, "%s", out);
	cr_assert(strstr(out, "| one-job batches/s, 32 clients") != NULL,
	    "%s", out);
	cr_assert(strstr(out, "| ratio gatherd / redis ") != NULL, "%s", out);
	cr_assert(strstr(out, "| read throughput,") != NULL, "%s", out);
	cr_assert(strstr(out, "| SQLite,") != NULL, "%s", out);
	cr_assert(strstr(out, "| ping p99 during") != NULL, "%s", out);
	cr_assert(strstr(out, "| ping max during 1 parse of a") != NULL, "%s",
	    out);
	cr_assert(strstr(out, "| HTTP GETs/s") != NULL, "%s", out);
	cr_assert(strstr(out, "| failed |") == NULL, "%s", out);
	free(out);
	free(cmd);
}
