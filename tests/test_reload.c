/*
 * SIGHUP reload and access control, end to end: a real gatherd whose
 * configuration file each test rewrites (atomically, by rename) before
 * sending SIGHUP, and clients whose credentials the kernel reports.
 *
 * A reload is done when the daemon logs "reloaded" (or "keeping the
 * configuration in force"); the tests wait for that line, never for a
 * fixed time.
 */

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

static struct daemon	d;
static char		fdir[256];	/* this test's files, or "" */

HARNESS_SUITE(reload, 60);

/* A directory of the test's own, world-searchable (see forbidden tests). */
static void
make_fdir(void)
{
	harness_tmpdir(fdir, sizeof fdir, "gatherd-reload");
	cr_assert_eq(chmod(fdir, 0755), 0);
}

/* Write a file under fdir. */
static void
put(const char *rel, const char *text)
{
	char	*path = harness_fmt("%s/%s", fdir, rel);
	FILE	*fp;

	cr_assert_not_null(fp = fopen(path, "w"), "%s: %s", path,
	    strerror(errno));
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	free(path);
}

/* Make a directory under fdir. */
static void
put_dir(const char *rel)
{
	char	*path = harness_fmt("%s/%s", fdir, rel);

	cr_assert_eq(mkdir(path, 0755), 0, "%s: %s", path, strerror(errno));
	free(path);
}

/* Replace the daemon's configuration file at once, as an editor would. */
static void
rewrite_conf(const char *text)
{
	char	*tmp = harness_fmt("%s.new", d.conf);
	FILE	*fp;

	cr_assert_not_null(fp = fopen(tmp, "w"));
	fprintf(fp, "[daemon]\nsocket = %s\n%s", d.sock, text);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(rename(tmp, d.conf), 0);
	free(tmp);
}

/*
 * SIGHUP, and wait until the daemon has logged the (n)th outcome line:
 * "reloaded" when it took, "keeping the configuration in force" when not.
 */
static void
hup_and_wait(const char *outcome, int n)
{
	int	got;

	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	got = daemon_log_wait(&d, outcome, n, slack_ms(5000));
	cr_assert_eq(got, n, "%d \"%s\" lines in the log, want %d", got,
	    outcome, n);
}

#define RELOADED	"info: reloaded "
#define KEPT		"keeping the configuration in force"

static const char three_sleeps[] =
    "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},{\"type\":\"sleep\",\"ms\":1},"
    "{\"type\":\"sleep\",\"ms\":1}]}";

/* The reply's error code, or "ok". */
static const char *
outcome(json_t *r)
{
	return json_is_true(jget(r, "ok")) ? "ok" : jstr(r, "error.code");
}

/* Send line on a fresh connection; assert its outcome is want. */
static void
expect_outcome(const char *line, const char *want)
{
	json_t	*r = daemon_request(&d, line);

	cr_assert_str_eq(outcome(r), want, "%s", jtext(r));
	json_decref(r);
}

/* A good file: the new limits and log level apply to new batches. */
Test(reload, new_limits_and_log_level_take_effect)
{
	json_t	*r;
	char	*log;

	daemon_start(&d, "log_level = info\n[limits]\nmax_jobs_per_batch = 2\n",
	    NULL);
	r = daemon_request(&d, three_sleeps);
	cr_assert_str_eq(outcome(r), "too_large", "%s", jtext(r));
	jstr_has(r, "error.message", "max_jobs_per_batch (2)");
	json_decref(r);

	rewrite_conf("log_level = debug\n[limits]\nmax_jobs_per_batch = 3\n");
	hup_and_wait(RELOADED, 1);
	expect_outcome(three_sleeps, "ok");
	r = daemon_request(&d, "{\"op\":\"status\"}");
	cr_assert_eq(jint(r, "status.limits.max_jobs_per_batch"), 3, "%s",
	    jtext(r));
	json_decref(r);
	/* Debug lines now: each connection's peer credentials. */
	log = daemon_log(&d);
	cr_assert(strstr(strstr(log, RELOADED), "connection ") != NULL,
	    "no debug line after the reload:\n%s", log);
	cr_assert(strstr(log, "SIGHUP: reloading") != NULL, "%s", log);
	free(log);
	daemon_stop(&d);
}

/*
 * A bad file is logged with its file, line and key, the configuration in
 * force stays, the daemon serves on; a good file after it takes.
 */
Test(reload, bad_config_keeps_the_old_one)
{
	json_t	*r;
	char	*log, *want;

	daemon_start(&d, "[limits]\nmax_jobs_per_batch = 2\n", NULL);
	rewrite_conf("[limits]\nmax_jobs_per_batch = lots\n");
	hup_and_wait(KEPT, 1);
	log = daemon_log(&d);
	want = harness_fmt("reload: %s:4: [limits] max_jobs_per_batch:",
	    d.conf);
	cr_assert(strstr(log, want) != NULL, "want \"%s\" in:\n%s", want, log);
	free(want);
	free(log);
	expect_outcome(three_sleeps, "too_large");

	/* A file that cannot be read at all is no better. */
	cr_assert_eq(chmod(d.conf, 0), 0);
	if (access(d.conf, R_OK) == 0) {
		/* root reads anyway: make it a directory instead. */
		cr_assert_eq(unlink(d.conf), 0);
		cr_assert_eq(mkdir(d.conf, 0700), 0);
	}
	hup_and_wait(KEPT, 2);
	r = daemon_request(&d, "{\"op\":\"ping\"}");
	jbool_is(r, "pong", true);
	json_decref(r);
	if (rmdir(d.conf) == -1)
		cr_assert_eq(unlink(d.conf), 0);

	rewrite_conf("[limits]\nmax_jobs_per_batch = 3\n");
	hup_and_wait(RELOADED, 1);
	expect_outcome(three_sleeps, "ok");
	daemon_stop(&d);
}

/*
 * Batches already running keep the read roots they started with; new ones
 * use the new roots. The running batch reads (after a sleep, concurrency
 * 1) a file that exists under the old root only.
 */
Test(reload, running_batch_keeps_its_read_roots)
{
	json_t	*r1, *r2;
	char	*conf, *line;
	int	 fd;

	make_fdir();
	put_dir("a");
	put_dir("b");
	put("a/f.txt", "from a");
	put("b/f.txt", "from b");
	conf = harness_fmt("[read]\nroots = %s/a\n", fdir);
	daemon_start(&d, conf, NULL);
	free(conf);

	/*
	 * The batch must have started (with its snapshot) before the reload,
	 * and its read must come after it: its sleep outlasts the reload.
	 */
	fd = client_connect(d.sock);
	line = harness_fmt("{\"id\":1,\"concurrency\":1,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":%d},"
	    "{\"type\":\"read\",\"path\":\"f.txt\"}]}", slack_ms(1000));
	client_send(fd, line);
	free(line);
	json_decref(await_status(&d, -1, "batches.in_flight", 1,
	    slack_ms(5000)));
	conf = harness_fmt("[read]\nroots = %s/b\n", fdir);
	rewrite_conf(conf);
	free(conf);
	hup_and_wait(RELOADED, 1);

	r2 = daemon_request(&d, "{\"jobs\":[{\"type\":\"read\","
	    "\"path\":\"f.txt\"}]}");
	jstr_is(r2, "results[0].value.data", "from b");
	json_decref(r2);
	r1 = client_recv_json(fd, slack_ms(5000));
	jstr_is(r1, "results[1].value.data", "from a");
	json_decref(r1);
	close(fd);
	daemon_stop(&d);
}

/* A database added by a reload can be queried; one removed cannot. */
Test(reload, databases_come_and_go)
{
	json_t		*r;
	char		*conf;
	const char	 q[] = "{\"jobs\":[{\"type\":\"query\",\"db\":\"extra\","
	    "\"sql\":\"select 41 + 1 as n\"}]}";

	make_fdir();
	daemon_start(&d, NULL, NULL);
	expect_outcome(q, "unknown_db");

	conf = harness_fmt("[db.extra]\ndriver = sqlite\npath = %s/x.db\n"
	    "writable = true\n", fdir);
	rewrite_conf(conf);
	free(conf);
	hup_and_wait(RELOADED, 1);
	r = daemon_request(&d, q);
	jhas(r, "", "{\"ok\":true,\"results\":[{\"value\":{\"rows\":[[42]]}}]}");
	json_decref(r);

	rewrite_conf("");
	hup_and_wait(RELOADED, 2);
	expect_outcome(q, "unknown_db");
	daemon_stop(&d);
}

/* socket, socket_mode and threads need a restart: kept, and said so. */
Test(reload, restart_only_settings_are_kept_with_a_warning)
{
	json_t	*r;
	char	*log;

	daemon_start(&d, "threads = 2\n", NULL);
	rewrite_conf("threads = 7\nsocket_mode = 0600\n[limits]\n"
	    "max_connections = 99\n");
	hup_and_wait(RELOADED, 1);
	log = daemon_log(&d);
	cr_assert(strstr(log, "reload: threads changed to 7: takes effect at"
	    " the next restart") != NULL, "%s", log);
	cr_assert(strstr(log, "reload: socket_mode changed to 0600") != NULL,
	    "%s", log);
	free(log);
	r = daemon_request(&d, "{\"op\":\"status\"}");
	cr_assert_eq(jint(r, "status.pool.threads"), 2, "%s", jtext(r));
	cr_assert_eq(jint(r, "status.limits.max_connections"), 99, "%s",
	    jtext(r));
	json_decref(r);
	daemon_stop(&d);
}

/*
 * SIGHUPs in a burst (the kernel merges some; one during a reload queues
 * one more): reloads happen, the daemon stays healthy, and a later SIGHUP
 * still reloads.
 */
Test(reload, burst_of_sighups)
{
	json_t	*r;
	int	 i, n, rounds = harness_slack() > 1 ? 5 : 50;

	daemon_start(&d, NULL, NULL);
	for (i = 0; i < rounds; i++) {
		cr_assert_eq(kill(d.pid, SIGHUP), 0);
		r = daemon_request(&d, "{\"op\":\"ping\"}");
		jbool_is(r, "pong", true);
		json_decref(r);
	}
	n = daemon_log_wait(&d, RELOADED, 1, slack_ms(5000));
	cr_assert_geq(n, 1, "no reload after %d SIGHUPs", rounds);
	/* Let queued reloads finish: the count stops moving. */
	do {
		i = n;
		n = daemon_log_wait(&d, RELOADED, n + 1, 300);
	} while (n != i);
	hup_and_wait(RELOADED, n + 1);
	daemon_stop(&d);
}

/*
 * In a child: become uid/gid (when we are root), connect, send a ping,
 * copy the daemon's first line to out, then wait for the end: exit 0 when
 * the daemon closed, 20 when the connection was still open after a while.
 * Whether it closed is the exit status, not a clock: a slow machine only
 * makes the child wait longer. No Criterion here: its assertions belong to
 * the test's own process.
 */
static void __attribute__((noreturn))
client_child(uid_t uid, gid_t gid, int out, int wait_ms)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	char			 buf[4096];
	const char		 ping[] = "{\"op\":\"ping\"}\n";
	ssize_t			 n;
	int			 fd, line = 0;

	if (getuid() == 0 && (setgroups(0, NULL) == -1 ||
	    setgid(gid) == -1 || setuid(uid) == -1))
		_exit(10);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(d.sock) >= sizeof sun.sun_path)
		_exit(14);
	memcpy(sun.sun_path, d.sock, strlen(d.sock));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		_exit(11);
	/* A refused client may be closed before it writes: EPIPE is fine. */
	if (write(fd, ping, sizeof ping - 1) != (ssize_t)sizeof ping - 1 &&
	    errno != EPIPE && errno != ECONNRESET)
		_exit(12);
	pfd.fd = fd;
	pfd.events = POLLIN;
	/* The first line may be slow to come; after it, the end is prompt. */
	for (;;) {
		if (poll(&pfd, 1, line ? 2000 : wait_ms) != 1)
			_exit(20);
		if ((n = read(fd, buf, sizeof buf)) <= 0)
			_exit(0);
		if (write(out, buf, (size_t)n) != n)
			_exit(13);
		if (memchr(buf, '\n', (size_t)n) != NULL)
			line = 1;
	}
}

/*
 * Connect as uid/gid and return what the daemon sent: for a refused
 * client one line and then the end (*closed set), for an accepted one the
 * pong (the connection stays open).
 */
static char *
connect_as(uid_t uid, gid_t gid, int *closed)
{
	int	 p[2], status;
	char	 buf[4096];
	ssize_t	 n, len = 0;
	pid_t	 pid;

	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		client_child(uid, gid, p[1], slack_ms(5000));
	}
	close(p[1]);
	while ((n = read(p[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += n;
	close(p[0]);
	buf[len] = '\0';
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) &&
	    (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 20),
	    "client as uid %ld: exit status %d", (long)uid, status);
	*closed = WEXITSTATUS(status) == 0;
	return strdup(buf);
}

/* Load conf as the nth reload; assert a client of uid and gid gets in. */
static void
reload_lets_in(const char *conf, int n, uid_t uid, gid_t gid)
{
	char	*line;
	int	 closed;

	rewrite_conf(conf);
	hup_and_wait(RELOADED, n);
	line = connect_as(uid, gid, &closed);
	cr_assert(strstr(line, "\"pong\":true") != NULL,
	    "refused after reload %d to %s: %s", n, conf, line);
	free(line);
}

/*
 * allow_uids / allow_groups: a client that is neither listed nor root gets
 * one forbidden line and is closed; a listed uid or group gets in; a
 * reload that drops the keys lets everyone in.
 */
Test(reload, peer_credentials_are_checked)
{
	/* As root, test as nobody; otherwise as ourselves. */
	uid_t	 uid = getuid() == 0 ? 65534 : getuid();
	gid_t	 gid = getuid() == 0 ? 65534 : getgid();
	char	*conf, *line, *log;
	json_t	*r;
	int	 closed;

	make_fdir();
	/* A socket nobody may open: only the keys decide. */
	conf = harness_fmt("socket_mode = 0666\nallow_uids = %ld\n",
	    (long)uid + 1);
	daemon_start(&d, conf, NULL);
	free(conf);
	cr_assert_eq(chmod(d.dir, 0755), 0);

	line = connect_as(uid, gid, &closed);
	cr_assert(closed, "a refused client was not closed: %s", line);
	r = json_loads(line, 0, NULL);
	cr_assert_not_null(r, "%s", line);
	jbool_is(r, "ok", false);
	jstr_is(r, "error.code", "forbidden");
	jstr_has(r, "error.message", "not in allow_uids or allow_groups");
	json_decref(r);
	free(line);
	log = daemon_log(&d);
	cr_assert(strstr(log, "refused pid ") != NULL, "%s", log);
	free(log);
	if (getuid() == 0) {
		/* Root always gets in. */
		r = daemon_request(&d, "{\"op\":\"ping\"}");
		jbool_is(r, "pong", true);
		json_decref(r);
	}

	/* A listed group lets the same client in. */
	conf = harness_fmt("socket_mode = 0666\nallow_uids = %ld\n"
	    "allow_groups = %ld\n", (long)uid + 1, (long)gid);
	reload_lets_in(conf, 1, uid, gid);
	free(conf);

	/* A listed uid too. */
	conf = harness_fmt("socket_mode = 0666\nallow_uids = 1 %ld\n",
	    (long)uid);
	reload_lets_in(conf, 2, uid, gid);
	free(conf);

	/* No keys: the socket's mode alone decides. */
	reload_lets_in("socket_mode = 0666\n", 3, uid, gid);
	daemon_stop(&d);
}
