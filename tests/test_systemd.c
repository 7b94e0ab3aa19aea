/*
 * gatherd under systemd, without a running systemd: real daemons started
 * the way a unit starts them. Socket activation goes through
 * systemd-socket-activate (from the systemd package; the tests that need
 * it are skipped, loudly, without it). The notification protocol is read
 * from a datagram socket the test binds and names in NOTIFY_SOCKET, and
 * the journal's stream is stood in for by a log file named in
 * JOURNAL_STREAM.
 *
 * Criterion runs each test in its own process; each stops its daemon at
 * the end of its body, and the suite's teardown is a safety net.
 */

#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
#include "xmalloc.h"

static struct daemon	d;		/* this test's daemon */
static char		notify_dir[64];	/* holds the notification socket */
static char		notify_path[128];

HARNESS_SUITE(systemd, 60);

/* Skip the test, saying why, without systemd-socket-activate. */
static void
need_socket_activate(void)
{
	if (run_command("command -v systemd-socket-activate", NULL) != 0) {
		fprintf(stderr, "SKIPPED: systemd-socket-activate is not"
		    " installed (package systemd)\n");
		cr_skip_test("systemd-socket-activate is not installed"
		    " (package systemd)");
	}
}

/* SIGTERM the daemon and assert that it exits 0 by itself. */
static void
term_and_wait(struct daemon *dd)
{
	char	*log;
	int	 status;

	cr_assert_eq(kill(dd->pid, SIGTERM), 0);
	status = daemon_wait(dd, slack_ms(10000));
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log = daemon_log(dd);
		cr_assert_fail("gatherd did not exit 0 on SIGTERM (status"
		    " 0x%x); its log:\n%s", status, log);
	}
}

/* Wait for the daemon to exit by itself; its exit code. */
static int
exit_code(struct daemon *dd)
{
	int	status = daemon_wait(dd, slack_ms(10000));

	cr_assert_neq(status, -1, "gatherd did not exit");
	cr_assert(WIFEXITED(status), "gatherd died by signal %d",
	    WTERMSIG(status));
	return WEXITSTATUS(status);
}

/*
 * Started by socket activation, gatherd serves the passed socket and
 * leaves its file alone at shutdown: the socket is systemd's.
 */
Test(systemd, socket_activation_serves_the_passed_socket)
{
	static const char *const	 prefix[] = { "systemd-socket-activate",
	    "-l", "{sock}", NULL };
	struct daemon_opts		 opts = { .prefix = prefix };
	struct stat			 sb;
	json_t				*r;
	char				*log;

	need_socket_activate();
	daemon_start_opts(&d, NULL, NULL, &opts);
	r = daemon_request(&d, "{\"op\":\"ping\",\"id\":1}");
	jbool_is(r, "ok", true);
	jbool_is(r, "pong", true);
	json_decref(r);

	term_and_wait(&d);
	cr_assert_eq(lstat(d.sock, &sb), 0, "the socket file is gone: %s",
	    strerror(errno));
	cr_assert(S_ISSOCK(sb.st_mode));
	log = daemon_log(&d);
	cr_assert(strstr(log, "(passed by systemd)") != NULL, "%s", log);
	free(log);
	daemon_stop(&d);
}

/*
 * In the child that becomes gatherd: listen on the daemon's path as
 * systemd does, with a copy of the socket that outlives gatherd's own
 * descriptor (a process of its own, killed when gatherd exits), and pass
 * it as LISTEN_FDS.
 */
static void
activate_held(const struct daemon *dd)
{
	struct sockaddr_un	sun;
	char			pid[32];
	pid_t			gatherd = getpid();
	int			fd;

	sun_set(&sun, dd->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(fd, 16) == -1)
		_exit(126);
	switch (fork()) {
	case -1:
		_exit(126);
	case 0:
		/* Gone already: the signal was asked for too late. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != gatherd)
			_exit(0);
		for (;;)
			pause();
	}
	if (fd != 3 && (dup2(fd, 3) == -1 || close(fd) == -1))
		_exit(126);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	if (setenv("LISTEN_FDS", "1", 1) == -1 ||
	    setenv("LISTEN_PID", pid, 1) == -1)
		_exit(126);
	unsetenv("LISTEN_FDNAMES");
}

/*
 * Draining, gatherd stops watching the socket systemd passed, which
 * systemd keeps open and clients can still connect to. epoll watches an
 * open file until its last descriptor is closed, and the loop makes its
 * epoll changes between passes: had gatherd closed its descriptor, the
 * stale watch would wake the loop without end while a client waited in
 * the queue. So the loop stays idle through the drain.
 */
Test(systemd, a_drain_leaves_the_socket_systemd_keeps_alone)
{
	struct daemon_opts	 opts = { .child = activate_held };
	char			*conf, *line;
	long			 before, busy;
	int			 fd, late, window = slack_ms(500);
	int			 sleep_ms = 10 * window;

	/* The batch outlasts the window; the drain waits for the batch. */
	conf = harness_fmt("shutdown_timeout_ms = %d\n", 2 * sleep_ms);
	daemon_start_opts(&d, conf, NULL, &opts);
	free(conf);
	fd = client_connect(d.sock);
	line = harness_fmt("{\"id\":1,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":%d}]}", sleep_ms);
	client_send(fd, line);
	free(line);
	json_decref(await_status(&d, -1, "batches.in_flight", 1,
	    slack_ms(5000)));
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	cr_assert_eq(daemon_log_wait(&d, "shutting down, 1 batches in flight",
	    1, slack_ms(5000)), 1, "no drain began");
	/* Queued in systemd's socket: the next gatherd's, not this one's. */
	late = client_connect(d.sock);
	before = proc_busy_ms(d.pid);
	usleep((useconds_t)window * 1000);
	busy = proc_busy_ms(d.pid) - before;
	cr_assert_lt(busy, window / 2, "the draining loop was busy %ld ms"
	    " of %d", busy, window);
	/* The client goes, its batch with it, and the drain ends. */
	close(fd);
	cr_assert_eq(exit_code(&d), 0);
	close(late);
	daemon_stop(&d);
}

/* Socket activation with two sockets is a clear start-up error. */
Test(systemd, socket_activation_with_two_sockets_fails)
{
	char				 abstract[64];
	const char			*prefix[] = { "systemd-socket-activate",
	    "-l", "{sock}", "-l", abstract, NULL };
	struct daemon_opts		 opts = { .prefix = prefix, .no_wait = 1 };
	char				*log;
	int				 fd = -1;
	double				 deadline;

	need_socket_activate();
	snprintf(abstract, sizeof abstract, "@gatherd-test-%ld",
	    (long)getpid());
	daemon_start_opts(&d, NULL, NULL, &opts);
	/* systemd-socket-activate execs gatherd at the first connection. */
	deadline = now_ms() + slack_ms(5000);
	while (fd == -1 && now_ms() < deadline) {
		if ((fd = try_connect(d.sock)) == -1)
			usleep(5000);
	}
	cr_assert_neq(fd, -1, "systemd-socket-activate did not listen");
	cr_assert_eq(exit_code(&d), 1);
	close(fd);
	log = daemon_log(&d);
	cr_assert(strstr(log, "gatherd: error: socket activation: systemd"
	    " passed 2 sockets") != NULL, "%s", log);
	free(log);
	daemon_stop(&d);
}

/* Socket activation with a datagram socket is a clear start-up error. */
Test(systemd, socket_activation_with_a_datagram_socket_fails)
{
	static const char *const	 prefix[] = { "systemd-socket-activate",
	    "-d", "-l", "{sock}", NULL };
	struct daemon_opts		 opts = { .prefix = prefix, .no_wait = 1 };
	struct sockaddr_un		 sun;
	char				*log;
	int				 fd, sent = 0;
	double				 deadline;

	need_socket_activate();
	daemon_start_opts(&d, NULL, NULL, &opts);
	sun_set(&sun, d.sock);
	cr_assert_neq(fd = socket(AF_UNIX, SOCK_DGRAM, 0), -1);
	deadline = now_ms() + slack_ms(5000);
	while (!sent && now_ms() < deadline) {
		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&sun,
		    sizeof sun) == 1)
			sent = 1;
		else
			usleep(5000);
	}
	cr_assert(sent, "systemd-socket-activate did not listen");
	cr_assert_eq(exit_code(&d), 1);
	close(fd);
	log = daemon_log(&d);
	cr_assert(strstr(log, "is not a listening Unix stream socket") != NULL,
	    "%s", log);
	free(log);
	daemon_stop(&d);
}

/* In the daemon's child: systemd's notification environment. */
static void
child_notify_env(const struct daemon *dd)
{
	char	pid[32];

	(void)dd;
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", notify_path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", pid, 1);
}

/* Bind the datagram socket systemd would listen on. */
static int
notify_bind(void)
{
	struct sockaddr_un	sun;
	int			fd;

	harness_tmpdir(notify_dir, sizeof notify_dir, "gatherd-notify");
	snprintf(notify_path, sizeof notify_path, "%s/notify", notify_dir);
	sun_set(&sun, notify_path);
	cr_assert_neq(fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0,
	    "bind %s: %s", notify_path, strerror(errno));
	return fd;
}

/* One notification, NUL-terminated in buf, or false on timeout. */
static bool
notify_recv(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	ssize_t		n;

	if (timeout_ms < 0 || poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	n = recv(fd, buf, len - 1, 0);
	cr_assert_gt(n, 0, "recv: %s", strerror(errno));
	buf[n] = '\0';
	return true;
}

/* CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC= counts. */
static unsigned long long
mono_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL;
}

/* Does the notification hold the assignment line (e.g. "READY=1")? */
static bool
has_line(const char *msg, const char *line)
{
	size_t		 len = strlen(line);
	const char	*p = msg;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == msg || p[-1] == '\n') &&
		    (p[len] == '\0' || p[len] == '\n'))
			return true;
		p += len;
	}
	return false;
}

/*
 * Read notifications on nfd into msg (len bytes) until one holds line,
 * until deadline (now_ms()); whether one did.
 */
static bool
await_line(int nfd, char *msg, size_t len, const char *line, double deadline)
{
	while (notify_recv(nfd, msg, len, (int)(deadline - now_ms()))) {
		if (has_line(msg, line))
			return true;
	}
	return false;
}

/*
 * The notification protocol: READY=1 once the socket accepts, STATUS=
 * lines that follow the load, WATCHDOG=1 at half of WATCHDOG_USEC from
 * the loop, RELOADING=1 (with MONOTONIC_USEC=) then READY=1 on SIGHUP,
 * STOPPING=1 on SIGTERM, and a clean exit.
 */
Test(systemd, notify_ready_status_watchdog_reloading_stopping)
{
	struct daemon_opts	 opts = { .child = child_notify_env,
	    .no_wait = 1 };
	char			 msg[4096];
	json_t			*r;
	double			 deadline, start;
	int			 nfd, fd, watchdogs = 0;
	bool			 status1 = false;
	unsigned long long	 before, stamp;
	const char		*p;

	nfd = notify_bind();
	daemon_start_opts(&d, NULL, NULL, &opts);

	deadline = now_ms() + slack_ms(5000);
	cr_assert(await_line(nfd, msg, sizeof msg, "READY=1", deadline),
	    "no READY=1 from gatherd");
	/* Ready means ready: the socket accepts now. */
	fd = client_connect(d.sock);
	cr_assert(strstr(msg, "STATUS=0 connections, 0 batches and 0 jobs"
	    " in flight") != NULL, "READY=1 came without a status: %s", msg);

	/* For one second: the watchdog every 100 ms, the status changes. */
	start = now_ms();
	while (notify_recv(nfd, msg, sizeof msg,
	    (int)(start + 1000 - now_ms()))) {
		if (has_line(msg, "WATCHDOG=1"))
			watchdogs++;
		if (strstr(msg, "STATUS=1 connection, 0 batches") != NULL)
			status1 = true;
	}
	/* About 10: 7 tells half the interval from the whole one (5). */
	cr_assert_geq(watchdogs, 7, "%d WATCHDOG=1 in one second", watchdogs);
	cr_assert_leq(watchdogs, 20, "%d WATCHDOG=1 in one second", watchdogs);
	deadline = now_ms() + slack_ms(2000);
	while (!status1 && notify_recv(nfd, msg, sizeof msg,
	    (int)(deadline - now_ms())))
		status1 = strstr(msg, "STATUS=1 connection, 0 batches") != NULL;
	cr_assert(status1, "no STATUS= for the open connection");

	r = daemon_request(&d, "{\"op\":\"ping\"}");
	jbool_is(r, "pong", true);
	json_decref(r);
	close(fd);

	/* SIGHUP: RELOADING=1 stamped with the monotonic clock, READY=1. */
	before = mono_usec();
	cr_assert_eq(kill(d.pid, SIGHUP), 0);
	deadline = now_ms() + slack_ms(5000);
	cr_assert(await_line(nfd, msg, sizeof msg, "RELOADING=1", deadline),
	    "no RELOADING=1 on SIGHUP");
	cr_assert_not_null(p = strstr(msg, "\nMONOTONIC_USEC="), "%s", msg);
	stamp = strtoull(p + 16, NULL, 10);
	cr_assert(stamp >= before && stamp <= mono_usec(),
	    "MONOTONIC_USEC=%llu, not between %llu and now", stamp, before);
	cr_assert(await_line(nfd, msg, sizeof msg, "READY=1", deadline),
	    "no READY=1 after the reload");

	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	deadline = now_ms() + slack_ms(5000);
	cr_assert(await_line(nfd, msg, sizeof msg, "STOPPING=1", deadline),
	    "no STOPPING=1 on SIGTERM");
	cr_assert_eq(exit_code(&d), 0);
	close(nfd);
	daemon_stop(&d);
}

/* Without NOTIFY_SOCKET nothing changes (the other suites check that too). */

/* In the daemon's child: stderr is "the journal" (JOURNAL_STREAM). */
static void
child_journal_env(const struct daemon *dd)
{
	struct stat	sb;
	char		buf[64];

	(void)dd;
	if (fstat(2, &sb) == 0) {
		snprintf(buf, sizeof buf, "%llu:%llu",
		    (unsigned long long)sb.st_dev,
		    (unsigned long long)sb.st_ino);
		setenv("JOURNAL_STREAM", buf, 1);
	}
}

/* In the daemon's child: JOURNAL_STREAM names some other stream. */
static void
child_other_stream_env(const struct daemon *dd)
{
	(void)dd;
	setenv("JOURNAL_STREAM", "1:1", 1);
}

/* Start, connect once, stop; the log. */
static char *
run_and_log(void (*child)(const struct daemon *))
{
	static const char *const	 args[] = { "-l", "debug", NULL };
	struct daemon_opts		 opts = { .child = child };
	char				*log;

	daemon_start_opts(&d, NULL, args, &opts);
	close(client_connect(d.sock));
	term_and_wait(&d);
	log = daemon_log(&d);
	daemon_stop(&d);
	return log;
}

/* Does every line of log start with prefix? */
static bool
every_line_starts(const char *log, const char *prefix)
{
	const char	*p;

	for (p = log; *p != '\0'; p = strchr(p, '\n') + 1) {
		if (strncmp(p, prefix, strlen(prefix)) != 0 ||
		    strchr(p, '\n') == NULL)
			return false;
	}
	return true;
}

/* Does a line of log start with prefix? */
static bool
some_line_starts(const char *log, const char *prefix)
{
	const char	*p;

	for (p = log; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

/* When stderr is the journal, each line carries its syslog priority. */
Test(systemd, journal_lines_carry_priorities)
{
	char	*log = run_and_log(child_journal_env);

	cr_assert(some_line_starts(log, "<6>listening on "), "%s", log);
	cr_assert(some_line_starts(log, "<7>connection 1: pid "), "%s", log);
	cr_assert(some_line_starts(log, "<6>stopped"), "%s", log);
	cr_assert(every_line_starts(log, "<"), "%s", log);
	cr_assert(strstr(log, "gatherd:") == NULL, "%s", log);
	free(log);
}

/*
 * The log without the ISO 8601 time that starts each line outside the
 * journal (2026-12-07T01:05:19.123+00:00 and a space), or NULL when a
 * line has none. Caller frees.
 */
static char *
strip_stamps(const char *log)
{
	regex_t		 re;
	regmatch_t	 m;
	const char	*p, *nl;
	char		*out, *o;
	int		 ok = 1;

	cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} ",
	    REG_EXTENDED), 0);
	o = out = xstrdup(log);
	for (p = log; ok && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		if (regexec(&re, p, 1, &m, 0) != 0 || m.rm_so != 0 ||
		    p + m.rm_eo > nl)
			ok = 0;
		else {
			memcpy(o, p + m.rm_eo, (size_t)(nl + 1 - p - m.rm_eo));
			o += nl + 1 - p - m.rm_eo;
		}
	}
	*o = '\0';
	regfree(&re);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * Otherwise lines are as on a terminal, JOURNAL_STREAM or not: each
 * starts with its time.
 */
Test(systemd, plain_lines_without_the_journal)
{
	char	*raw = run_and_log(NULL), *log;

	log = strip_stamps(raw);
	cr_assert_not_null(log, "a line without its time: %s", raw);
	free(raw);

	cr_assert(some_line_starts(log, "gatherd: info: listening on "),
	    "%s", log);
	cr_assert(some_line_starts(log, "gatherd: debug: connection 1: pid "),
	    "%s", log);
	cr_assert(every_line_starts(log, "gatherd: "), "%s", log);
	free(log);

	raw = run_and_log(child_other_stream_env);
	log = strip_stamps(raw);
	cr_assert_not_null(log, "a line without its time: %s", raw);
	free(raw);
	cr_assert(every_line_starts(log, "gatherd: "), "%s", log);
	cr_assert(some_line_starts(log, "gatherd: info: listening on "),
	    "%s", log);
	free(log);
}
