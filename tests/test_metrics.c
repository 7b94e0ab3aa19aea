/*
 * Prometheus metrics, through a real daemon: the metrics op and
 * "gatherctl metrics" checked by promtool (Debian's prometheus package),
 * the figures against what was run and against status, GET /metrics on
 * [metrics] listen, and a real Prometheus server scraping gatherd and
 * answering queries about it through its HTTP API.
 *
 * Under GATHERD_TEST_WRAPPER (valgrind) the daemon is many times slower:
 * waits are stretched through slack_ms(); lower bounds never are.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "pgtest.h"
#include "xmalloc.h"

#define PROMETHEUS_BIN	"prometheus"
#define PROMTOOL_BIN	"promtool"

static struct daemon	d;
static pid_t		prom_pid;
static char		prom_dir[64];

/* harness_suite_fini's safety net for a test that failed midway. */
static void
prom_kill(void)
{
	int	status;

	if (prom_pid > 0) {
		kill(prom_pid, SIGKILL);
		waitpid(prom_pid, &status, 0);
		prom_pid = 0;
	}
}

HARNESS_SUITE(metrics, 180);

/* The text of the metrics op, asked on a fresh connection. Caller frees. */
static char *
metrics_text(void)
{
	json_t	*r = daemon_request(&d, "{\"op\":\"metrics\",\"id\":1}");
	char	*text;

	jbool_is(r, "ok", true);
	text = xstrdup(jstr(r, "metrics"));
	json_decref(r);
	return text;
}

/*
 * The value of the sample whose name and labels are series (written as
 * the text has them), asserting there is exactly one.
 */
static double
sample(const char *text, const char *series)
{
	const char	*p, *line = NULL;
	size_t		 len = strlen(series);
	int		 n = 0;

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, series, len) == 0 && p[len] == ' ') {
			line = p;
			n++;
		}
	}
	cr_assert_eq(n, 1, "%d samples %s in:\n%s", n, series, text);
	return strtod(line + len + 1, NULL);
}

/* Assert promtool check metrics takes text with no complaint at all. */
static void
promtool_accepts(const char *text)
{
	char	*path, *cmd, *out;
	FILE	*f;
	int	 rc;

	path = harness_fmt("%s/metrics.txt", d.dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cmd = harness_fmt("%s check metrics < '%s' 2>&1", PROMTOOL_BIN, path);
	rc = run_command(cmd, &out);
	cr_assert_eq(rc, 0, "promtool check metrics: exit %d: %s\n%s", rc,
	    out, text);
	cr_assert_str_eq(out, "", "promtool check metrics: %s", out);
	free(out);
	free(cmd);
	free(path);
}

/* Run one batch on a fresh connection; its reply. Caller decrefs. */
static json_t *
batch(const char *line)
{
	return daemon_request_ms(&d, line, slack_ms(10000));
}

/*
 * A read root that does not exist: a read fails at once (io_error), on
 * the loop, before the batch starts its next job.
 */
#define MIXED_CONF	"[read]\nroots = /nonexistent/gatherd-test-root\n"

/*
 * Every kind of job outcome once, and more (under MIXED_CONF): 3 sleeps
 * of 30 ms that succeed, one that times out, one read that fails, one
 * sleep cancelled by fail_fast before it started.
 */
static void
run_mixed_jobs(void)
{
	json_t	*r;

	r = batch("{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":30},"
	    "{\"type\":\"sleep\",\"ms\":30},{\"type\":\"sleep\",\"ms\":30},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":20},"
	    "{\"type\":\"read\",\"path\":\"no-such-file\"}]}");
	cr_assert_eq(jint(r, "stats.ok"), 3, "%s", jtext(r));
	json_decref(r);
	r = batch("{\"id\":2,\"mode\":\"fail_fast\",\"jobs\":["
	    "{\"type\":\"read\",\"path\":\"no-such-file\"},"
	    "{\"type\":\"sleep\",\"ms\":5000}]}");
	cr_assert_eq(jint(r, "stats.cancelled"), 1, "%s", jtext(r));
	json_decref(r);
}

Test(metrics, the_op_passes_promtool_and_counts_what_ran)
{
	static const char *const les[] = { "0.0001", "0.00025", "0.0005",
	    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	    "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "+Inf" };
	char	*text, *series;
	double	 count, le, prev;
	size_t	 i;

	daemon_start(&d, MIXED_CONF, NULL);
	run_mixed_jobs();
	text = metrics_text();
	promtool_accepts(text);

	cr_assert_eq(sample(text, "gatherd_jobs_total{type=\"sleep\","
	    "outcome=\"ok\"}"), 3);
	cr_assert_eq(sample(text, "gatherd_jobs_total{type=\"sleep\","
	    "outcome=\"timed_out\"}"), 1);
	cr_assert_eq(sample(text, "gatherd_jobs_total{type=\"sleep\","
	    "outcome=\"cancelled\"}"), 1);
	cr_assert_eq(sample(text, "gatherd_jobs_total{type=\"read\","
	    "outcome=\"failed\"}"), 2);
	cr_assert_eq(sample(text, "gatherd_jobs_total{type=\"query\","
	    "outcome=\"ok\"}"), 0);
	cr_assert_eq(sample(text, "gatherd_batches_total{outcome=\"failed\"}"),
	    2);
	cr_assert_eq(sample(text, "gatherd_batches_total{outcome=\"ok\"}"), 0);
	cr_assert_eq(sample(text, "gatherd_batches_in_flight"), 0);
	cr_assert_eq(sample(text, "gatherd_jobs_in_flight"), 0);
	cr_assert_eq(sample(text, "gatherd_jobs_retrying"), 0);

	/*
	 * The histogram: four sleeps ran (the cancelled one never started).
	 * A sleep is never short, so the three of 30 ms are past 25 ms and
	 * only the one cut at 20 ms can be within it; none takes 5 minutes.
	 * Buckets are cumulative, from 100 us up; +Inf is the count.
	 */
	count = sample(text, "gatherd_job_duration_seconds_count{type=\"sleep\"}");
	cr_assert_eq(count, 4, "%s", text);
	cr_assert_eq(sample(text, "gatherd_job_duration_seconds_bucket{type="
	    "\"sleep\",le=\"+Inf\"}"), count);
	cr_assert_eq(sample(text, "gatherd_job_duration_seconds_bucket{type="
	    "\"sleep\",le=\"300\"}"), count);
	cr_assert_leq(sample(text, "gatherd_job_duration_seconds_bucket{type="
	    "\"sleep\",le=\"0.025\"}"), 1, "only the 20 ms timeout");
	cr_assert_eq(sample(text, "gatherd_job_duration_seconds_bucket{type="
	    "\"sleep\",le=\"0.01\"}"), 0, "nothing under 20 ms");
	for (i = 0, prev = 0; i < sizeof les / sizeof les[0]; i++) {
		series = harness_fmt("gatherd_job_duration_seconds_bucket{type="
		    "\"sleep\",le=\"%s\"}", les[i]);
		cr_assert_geq(le = sample(text, series), prev, "%s", series);
		prev = le;
		free(series);
	}
	cr_assert_geq(sample(text, "gatherd_job_duration_seconds_sum{type="
	    "\"sleep\"}"), 0.110, "3 x 30 ms + 20 ms at least");
	free(text);
	daemon_stop(&d);
}

/* The metrics say what status says: one story, two forms. */
Test(metrics, the_figures_are_those_of_status)
{
	json_t	*st;
	char	*text;
	int	 fd;

	daemon_start(&d, MIXED_CONF, NULL);
	run_mixed_jobs();
	/* One connection open, with a batch in flight on it. */
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":9,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	st = await_status(&d, -1, "jobs.in_flight", 1, slack_ms(10000));
	text = metrics_text();
	promtool_accepts(text);
	cr_assert_eq(sample(text, "gatherd_jobs_in_flight"),
	    (double)jint(st, "jobs.in_flight"));
	cr_assert_eq(sample(text, "gatherd_batches_in_flight"), 1);
	cr_assert_geq(sample(text, "gatherd_connections"), 2,
	    "the client and the metrics request");
	cr_assert_geq(sample(text, "gatherd_connections_total"),
	    (double)jint(st, "connections.total"));
	cr_assert_eq(sample(text, "gatherd_pool_threads"),
	    (double)jint(st, "pool.threads"));
	cr_assert_eq(sample(text, "gatherd_memory_limit_bytes"),
	    (double)jint(st, "memory.max_memory_bytes"));
	cr_assert_gt(sample(text, "gatherd_memory_held_bytes"), 0,
	    "the batch in flight holds its request line");
	cr_assert_eq(sample(text, "gatherd_jobs_total{type=\"sleep\","
	    "outcome=\"ok\"}") + sample(text, "gatherd_jobs_total{type=\"sleep\","
	    "outcome=\"timed_out\"}") + sample(text, "gatherd_jobs_total{type="
	    "\"sleep\",outcome=\"cancelled\"}") + sample(text,
	    "gatherd_jobs_total{type=\"sleep\",outcome=\"failed\"}"),
	    (double)jint(st, "jobs.by_type.sleep.done"));
	json_decref(st);
	free(text);
	close(fd);
	daemon_stop(&d);
}

/* Error replies and refused connections are counted by code and reason. */
Test(metrics, refusals_and_error_replies_are_counted)
{
	json_t	*r;
	char	*text;
	int	 fd, fd2, fd3;

	daemon_start(&d, "[limits]\nmax_connections = 2\n", NULL);
	fd = client_connect(d.sock);
	rpc_error(fd, "{\"id\":1}", "1", "bad_request");
	rpc_error(fd, "nope", "null", "bad_json");
	fd2 = client_connect(d.sock);
	/* The third connection is one too many: busy, and closed. */
	fd3 = client_connect(d.sock);
	r = client_recv_json(fd3, slack_ms(5000));
	jstr_is(r, "error.code", "busy");
	json_decref(r);
	close(fd3);
	close(fd2);
	/* Wait for fd2 to be gone, so that the metrics request gets in. */
	json_decref(await_status(&d, fd, "connections.open", 1,
	    slack_ms(10000)));
	r = rpc(fd, "{\"op\":\"metrics\"}");
	text = xstrdup(jstr(r, "metrics"));
	json_decref(r);
	cr_assert_eq(sample(text, "gatherd_request_errors_total{code="
	    "\"bad_request\"}"), 1);
	cr_assert_eq(sample(text, "gatherd_request_errors_total{code="
	    "\"bad_json\"}"), 1);
	cr_assert_eq(sample(text, "gatherd_request_errors_total{code="
	    "\"busy\"}"), 0, "a refused connection is not a request");
	cr_assert_eq(sample(text, "gatherd_connections_refused_total{reason="
	    "\"max_connections\"}"), 1);
	cr_assert_eq(sample(text, "gatherd_connections_refused_total{reason="
	    "\"forbidden\"}"), 0);
	promtool_accepts(text);
	free(text);
	close(fd);
	daemon_stop(&d);
}

/* gatherctl metrics prints the text as it is, never JSON. */
Test(metrics, gatherctl_prints_the_text)
{
	char	*cmd, *out, *text;

	daemon_start(&d, NULL, NULL);
	cmd = harness_fmt("%s -s '%s' metrics", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	cr_assert(strncmp(out, "# HELP gatherd_", 15) == 0, "%s", out);
	promtool_accepts(out);
	text = metrics_text();
	cr_assert_not_null(strstr(out, "# TYPE gatherd_job_duration_seconds"
	    " histogram\n"), "%s", out);
	free(text);
	free(out);
	free(cmd);
	cmd = harness_fmt("%s -s '%s' metrics --json", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	cr_assert(strncmp(out, "# HELP gatherd_", 15) == 0, "%s", out);
	free(out);
	free(cmd);
	daemon_stop(&d);
}

/*
 * A PostgreSQL database's pool is in the metrics, labelled with its
 * name, as status.databases has it; with none configured there is no
 * such family at all. The pool's server need not answer for that.
 */
Test(metrics, database_pools_are_labelled_gauges)
{
	char	*text;

	daemon_start(&d, NULL, NULL);
	text = metrics_text();
	cr_assert_null(strstr(text, "gatherd_db_"), "%s", text);
	free(text);
	daemon_stop(&d);

	daemon_start(&d, "[db.app]\ndriver = postgres\n"
	    "conninfo = host=/nonexistent-gatherd-test dbname=x\npool = 3\n",
	    NULL);
	text = metrics_text();
	promtool_accepts(text);
	cr_assert_eq(sample(text, "gatherd_db_pool_size{db=\"app\"}"), 3);
	cr_assert_eq(sample(text, "gatherd_db_connections_busy{db=\"app\"}"), 0);
	cr_assert_eq(sample(text, "gatherd_db_connections_cancelling{db="
	    "\"app\"}"), 0);
	cr_assert_not_null(strstr(text, "gatherd_db_up{db=\"app\"} "), "%s",
	    text);
	free(text);
	daemon_stop(&d);
}

/*
 * A tiny HTTP/1.0 client: method and path to HOST:PORT (IPv4). Returns
 * the status code, with the headers and body in *head and *body (caller
 * frees). 0 when the connection failed.
 */
static int
http_request(const char *hostport, const char *method, const char *path,
    char **head, char **body)
{
	struct sockaddr_in	 sin;
	char			 host[64], *req, *buf, *sep;
	size_t			 len;
	int			 fd, port, code = 0;

	cr_assert_eq(sscanf(hostport, "%63[^:]:%d", host, &port), 2, "%s",
	    hostport);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	cr_assert_eq(inet_pton(AF_INET, host, &sin.sin_addr), 1, "%s", host);
	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), -1);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		return 0;
	}
	req = harness_fmt("%s %s HTTP/1.0\r\nHost: %s\r\n%s\r\n", method, path,
	    hostport, strcmp(method, "POST") == 0 ?
	    "Content-Length: 0\r\n" : "");
	client_write(fd, req, strlen(req));
	free(req);
	buf = read_to_end(fd, 10000, &len);
	close(fd);
	if ((sep = strstr(buf, "\r\n\r\n")) != NULL) {
		*sep = '\0';
		*body = xstrdup(sep + 4);
		*head = xstrdup(buf);
		sscanf(buf, "HTTP/1.%*d %d", &code);
	}
	free(buf);
	return code;
}

/* GET /metrics on [metrics] listen: the same text, over HTTP. */
Test(metrics, served_over_http_when_listen_is_set)
{
	json_t		*st;
	const char	*addr;
	char		*head, *body;

	daemon_start(&d, MIXED_CONF "[metrics]\nlisten = 127.0.0.1:0\n", NULL);
	run_mixed_jobs();
	st = daemon_status(&d, slack_ms(5000));
	addr = jstr(st, "metrics.listen");
	cr_assert(strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0,
	    "listen: %s", addr);
	cr_assert_eq(daemon_log_wait(&d, "metrics: serving http://", 1, 0), 1,
	    "the address is logged");

	cr_assert_eq(http_request(addr, "GET", "/metrics", &head, &body), 200);
	cr_assert_not_null(strstr(head, "Content-Type: text/plain; "
	    "version=0.0.4; charset=utf-8"), "%s", head);
	promtool_accepts(body);
	cr_assert_eq(sample(body, "gatherd_jobs_total{type=\"sleep\","
	    "outcome=\"ok\"}"), 3);
	free(head);
	free(body);

	/* Only GET (and HEAD) of /metrics. */
	cr_assert_eq(http_request(addr, "GET", "/", &head, &body), 404);
	cr_assert_not_null(strstr(body, "/metrics"), "%s", body);
	free(head);
	free(body);
	cr_assert_eq(http_request(addr, "POST", "/metrics", &head, &body), 405);
	free(head);
	free(body);
	cr_assert_eq(http_request(addr, "HEAD", "/metrics", &head, &body), 200);
	cr_assert_str_eq(body, "", "HEAD has no body");
	free(head);
	free(body);

	/* The Unix socket still serves, and the daemon stops cleanly. */
	daemon_ping(&d, slack_ms(HARNESS_PROMPT_MS));
	json_decref(st);
	daemon_stop(&d);
}

/* Off by default: no address in status, none logged. */
Test(metrics, off_by_default)
{
	json_t	*st;
	char	*log;

	daemon_start(&d, NULL, NULL);
	st = daemon_status(&d, slack_ms(5000));
	cr_assert_null(jget(st, "metrics"), "%s", jtext(st));
	log = daemon_log(&d);
	cr_assert_null(strstr(log, "metrics:"), "%s", log);
	free(log);
	json_decref(st);
	daemon_stop(&d);
}

/*
 * A real PostgreSQL server: the pool's gauges move with a query running
 * on it (busy 1, a connection open, up), and back when it is cancelled.
 */
Test(metrics, database_pools_follow_a_real_server)
{
	char	*text;
	int	 fd;

	fd = pgtest_one_busy(&d, "app", 2, "select pg_sleep(60)");
	text = metrics_text();
	promtool_accepts(text);
	cr_assert_eq(sample(text, "gatherd_db_pool_size{db=\"app\"}"), 2);
	cr_assert_eq(sample(text, "gatherd_db_connections_busy{db=\"app\"}"),
	    1, "%s", text);
	cr_assert_geq(sample(text, "gatherd_db_connections{db=\"app\"}"), 1);
	cr_assert_eq(sample(text, "gatherd_db_up{db=\"app\"}"), 1);
	free(text);

	/* Cancelled: the connection is free again once the server says so. */
	close(fd);
	json_decref(await_status(&d, -1, "databases.app.busy", 0,
	    slack_ms(10000)));
	json_decref(await_status(&d, -1, "databases.app.cancelling", 0,
	    slack_ms(10000)));
	text = metrics_text();
	cr_assert_eq(sample(text, "gatherd_db_connections_busy{db=\"app\"}"),
	    0);
	free(text);
	daemon_stop(&d);
}

/*
 * A TCP socket listening on a free port of the loopback address; the
 * port in *port.
 */
static int
loopback_listen(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd;

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port that is taken is a start-up error that says so. */
Test(metrics, a_taken_port_is_a_startup_error)
{
	struct daemon_opts	 opts = { .no_wait = 1 };
	char			*conf, *log;
	int			 fd, port, status;

	fd = loopback_listen(&port);
	conf = harness_fmt("[metrics]\nlisten = 127.0.0.1:%d\n", port);
	daemon_start_opts(&d, conf, NULL, &opts);
	status = daemon_wait(&d, slack_ms(10000));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status 0x%x", status);
	log = daemon_log(&d);
	cr_assert_not_null(strstr(log, "[metrics] listen: cannot listen on"
	    " 127.0.0.1:"), "%s", log);
	free(log);
	free(conf);
	close(fd);
	daemon_stop(&d);
}

/* A free TCP port on the loopback address (it may be taken meanwhile). */
static int
free_port(void)
{
	int	port;

	close(loopback_listen(&port));
	return port;
}

/*
 * Start Prometheus on 127.0.0.1:port with a configuration that scrapes
 * target every second (stretched), its storage in prom_dir. 1 once it is
 * ready, 0 if it exited (the port was taken: try another).
 */
static int
prom_start(int port, const char *target)
{
	char	*conf, *data, *listen, *logf, *cfgarg, *dataarg, *addr;
	char	*head, *body;
	FILE	*f;
	double	 deadline;
	int	 status, logfd, code;

	conf = harness_fmt("%s/prometheus.yml", prom_dir);
	/*
	 * A scrape waits for the daemon's reply: 1 s is wide bare, not for
	 * a valgrind daemon on a loaded machine, so the timeout is stretched,
	 * and the interval with it (Prometheus refuses a timeout longer than
	 * the interval).
	 */
	cr_assert_not_null(f = fopen(conf, "w"));
	fprintf(f, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	    "scrape_configs:\n  - job_name: gatherd\n"
	    "    scrape_interval: %dms\n    scrape_timeout: %dms\n"
	    "    static_configs:\n      - targets: ['%s']\n", slack_ms(1000),
	    slack_ms(1000), target);
	cr_assert_eq(fclose(f), 0);
	data = harness_fmt("%s/data", prom_dir);
	logf = harness_fmt("%s/prometheus.log", prom_dir);
	listen = harness_fmt("--web.listen-address=127.0.0.1:%d", port);
	cfgarg = harness_fmt("--config.file=%s", conf);
	dataarg = harness_fmt("--storage.tsdb.path=%s", data);
	prom_pid = fork();
	cr_assert_neq(prom_pid, -1);
	if (prom_pid == 0) {
		logfd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (logfd != -1) {
			dup2(logfd, 1);
			dup2(logfd, 2);
			close(logfd);
		}
		execlp(PROMETHEUS_BIN, PROMETHEUS_BIN, cfgarg, dataarg, listen,
		    "--log.level=warn", "--storage.tsdb.retention.time=1h",
		    (char *)NULL);
		_exit(127);
	}
	addr = harness_fmt("127.0.0.1:%d", port);
	deadline = now_ms() + slack_ms(60000);
	code = 0;
	while (code != 200) {
		if (waitpid(prom_pid, &status, WNOHANG) == prom_pid) {
			cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 127,
			    "%s is not installed (scripts/install-deps)",
			    PROMETHEUS_BIN);
			prom_pid = 0;
			break;
		}
		cr_assert_lt(now_ms(), deadline, "Prometheus not ready: see %s",
		    logf);
		head = body = NULL;
		if ((code = http_request(addr, "GET", "/-/ready", &head,
		    &body)) != 200)
			usleep(100000);
		free(head);
		free(body);
	}
	free(addr);
	free(conf);
	free(data);
	free(logf);
	free(listen);
	free(cfgarg);
	free(dataarg);
	return prom_pid != 0;
}

/* Percent-encode a PromQL query for a URL. */
static char *
url_encode(const char *s)
{
	char	*out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s) != NULL)
			*o++ = *s;
		else
			o += sprintf(o, "%%%02X", (unsigned char)*s);
	}
	*o = '\0';
	return out;
}

/*
 * Ask Prometheus (at addr) for query until its first result's value is
 * at least want, within ms; that value. Prints each answer, as the
 * test's output shows what Prometheus saw.
 */
static double
prom_wait(const char *addr, const char *query, double want, int ms)
{
	json_t	*r, *v;
	char	*path, *enc, *head, *body;
	double	 deadline = now_ms() + ms, got = -1;

	enc = url_encode(query);
	path = harness_fmt("/api/v1/query?query=%s", enc);
	free(enc);
	while (got < want) {
		cr_assert_lt(now_ms(), deadline, "Prometheus: %s stayed at %g"
		    " (want %g)", query, got, want);
		head = body = NULL;
		if (http_request(addr, "GET", path, &head, &body) == 200) {
			r = json_loads(body, 0, NULL);
			v = json_array_get(jget(r, "data.result[0].value"), 1);
			if (json_is_string(v)) {
				got = strtod(json_string_value(v), NULL);
				if (got >= want)
					fprintf(stderr, "prometheus: %s -> %s\n",
					    query, body);
			}
			json_decref(r);
		}
		free(head);
		free(body);
		if (got < want)
			usleep(250000);
	}
	free(path);
	return got;
}

/*
 * A real Prometheus server scrapes gatherd every second and, through its
 * HTTP query API, sees it up and counts the jobs that ran.
 */
Test(metrics, prometheus_scrapes_gatherd)
{
	json_t		*st, *r;
	const char	*target;
	char		*addr;
	int		 port, tries;

	cpu_lock(CPU_LOCK_SHARED);	/* Prometheus takes a CPU at start */
	daemon_start(&d, "[metrics]\nlisten = 127.0.0.1:0\n", NULL);
	st = daemon_status(&d, slack_ms(5000));
	target = jstr(st, "metrics.listen");
	harness_tmpdir(prom_dir, sizeof prom_dir, "gatherd-prom");
	harness_at_fini(prom_kill);
	for (tries = 0; ; tries++) {
		port = free_port();
		if (prom_start(port, target))
			break;
		cr_assert_lt(tries, 5, "Prometheus would not start, see %s",
		    prom_dir);
	}
	addr = harness_fmt("127.0.0.1:%d", port);

	r = batch("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},{\"type\":\"sleep\","
	    "\"ms\":2},{\"type\":\"sleep\",\"ms\":3},{\"type\":\"sleep\","
	    "\"ms\":4},{\"type\":\"sleep\",\"ms\":5}]}");
	jbool_is(r, "ok", true);
	json_decref(r);

	cr_assert_eq(prom_wait(addr, "up{job=\"gatherd\"}", 1,
	    slack_ms(60000)), 1);
	cr_assert_eq(prom_wait(addr, "gatherd_jobs_total{job=\"gatherd\","
	    "type=\"sleep\",outcome=\"ok\"}", 5, slack_ms(60000)), 5);
	cr_assert_eq(prom_wait(addr, "sum(gatherd_job_duration_seconds_count"
	    "{type=\"sleep\"})", 5, slack_ms(60000)), 5);

	kill(prom_pid, SIGTERM);
	waitpid(prom_pid, NULL, 0);
	prom_pid = 0;
	free(addr);
	json_decref(st);
	daemon_stop(&d);
}
