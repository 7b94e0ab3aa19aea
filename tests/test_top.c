/*
 * What gatherctl top shows, and the status fields it is made from,
 * through a real daemon: outcome counters (failed as the spec defines
 * it), the recent window that forgets, the connection list of detail,
 * top's plain and JSON lines when stdout is not a terminal, and the live
 * screen on a real terminal: tmux (a private server), driven with
 * send-keys and read with capture-pane, q and Ctrl-C giving the terminal
 * back as it was.
 */

#include <sys/stat.h>
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
#include "pgtest.h"
#include "xmalloc.h"

static struct daemon	d;
static char		tmux_name[64];	/* the private tmux server, if any */

/* Run tmux, on the private server, with these arguments (a format). */
#define tmux(out, fmt, ...)						\
	run_commandf((out), "tmux -L %s -f /dev/null " fmt, tmux_name,	\
	    ##__VA_ARGS__)

/* harness_suite_fini's safety net for a test that failed midway. */
static void
tmux_kill(void)
{
	if (tmux_name[0] != '\0') {
		tmux(NULL, "kill-server 2>/dev/null");
		tmux_name[0] = '\0';
	}
}

HARNESS_SUITE(top, 120);

/* Wait for status to show n batches in flight; that status. */
#define wait_in_flight(n)						\
	await_status(&d, -1, "batches.in_flight", (n), slack_ms(10000))

/*
 * failed counts every job that finished without success, timeouts and
 * cancels included; timed_out and cancelled say which.
 */
Test(top, status_counts_each_outcome)
{
	static const struct {
		const char	*path;
		json_int_t	 n;
	} want[] = {
		{ "jobs.done", 5 }, { "jobs.failed", 4 },
		{ "jobs.timed_out", 2 }, { "jobs.cancelled", 1 },
		{ "jobs.retrying", 0 }, { "jobs.by_type.sleep.failed", 3 },
		{ "jobs.by_type.sleep.timed_out", 2 },
		{ "jobs.by_type.sleep.cancelled", 1 },
		{ "jobs.by_type.read.failed", 1 }, { "batches.failed", 2 },
	};
	json_t	*r, *st;
	size_t	 i;

	daemon_start(&d, "[read]\nroots = /nonexistent/gatherd-test-root\n",
	    NULL);
	r = daemon_request_ms(&d, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":10},"
	    "{\"type\":\"read\",\"path\":\"x\"}]}", slack_ms(10000));
	json_decref(r);
	r = daemon_request_ms(&d, "{\"mode\":\"fail_fast\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":5000,\"timeout_ms\":10},"
	    "{\"type\":\"sleep\",\"ms\":5000}]}", slack_ms(10000));
	json_decref(r);
	st = daemon_status(&d, slack_ms(5000));
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_assert_eq(jint(st, want[i].path), want[i].n, "%s: %s",
		    want[i].path, jtext(st));
	json_decref(st);
	daemon_stop(&d);
}

/*
 * The recent window holds the last 10 to 20 seconds, and then forgets:
 * a slow job's latency leaves the window's p99 (not the lifetime's).
 */
Test(top, the_recent_window_forgets)
{
	json_t	*r, *st;
	double	 deadline;

	daemon_start(&d, NULL, NULL);
	r = daemon_request_ms(&d, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":300}]}",
	    slack_ms(10000));
	json_decref(r);
	st = daemon_status(&d, slack_ms(5000));
	cr_assert_eq(jint(st, "recent.jobs.by_type.sleep.done"), 1);
	cr_assert_geq(jnum(st, "recent.jobs.by_type.sleep.ms_p99"), 300);
	cr_assert_eq(jint(st, "recent.batches.done"), 1);
	cr_assert_leq(jnum(st, "recent.window_s"), 20.5, "%s", jtext(st));
	json_decref(st);

	/* Within about 20 s it is gone from the window, not from the rest. */
	deadline = now_ms() + 25000 + slack_ms(5000);
	for (;;) {
		st = daemon_status(&d, slack_ms(5000));
		if (jint(st, "recent.jobs.by_type.sleep.done") == 0)
			break;
		json_decref(st);
		cr_assert_lt(now_ms(), deadline, "the window never forgot");
		usleep(250000);
	}
	json_decref(st);
	r = daemon_request_ms(&d, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":5}]}",
	    slack_ms(10000));
	json_decref(r);
	st = daemon_status(&d, slack_ms(5000));
	cr_assert_eq(jint(st, "recent.jobs.by_type.sleep.done"), 1);
	/* Anything under 300 ms proves the 300 ms sleep is out of it. */
	cr_assert_lt(jnum(st, "recent.jobs.by_type.sleep.ms_p99"), 300,
	    "%s", jtext(st));
	cr_assert_geq(jnum(st, "jobs.by_type.sleep.ms_max"), 300);
	cr_assert_eq(jint(st, "jobs.by_type.sleep.done"), 2);
	cr_assert_geq(jnum(st, "recent.window_s"), 9.9, "%s", jtext(st));
	json_decref(st);
	daemon_stop(&d);
}

/* detail lists the connections: number, peer pid and uid, batches, age. */
Test(top, detail_lists_the_connections)
{
	json_t	*st, *list, *e, *mine = NULL;
	size_t	 i;
	int	 fd, fd2;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"id\":1,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	client_send(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	st = wait_in_flight(2);
	json_decref(st);
	fd2 = client_connect(d.sock);
	st = rpc(fd2, "{\"op\":\"status\",\"detail\":true}");
	list = jget(st, "status.connections.list");
	cr_assert(json_is_array(list), "%s", jtext(st));
	cr_assert_eq(json_array_size(list), 2, "%s", jtext(list));
	json_array_foreach(list, i, e) {
		cr_assert_eq(jint(e, "pid"), getpid());
		cr_assert_eq(jint(e, "uid"), (json_int_t)getuid());
		cr_assert_geq(jnum(e, "age_ms"), 0);
		if (jint(e, "batches") == 2)
			mine = e;
	}
	cr_assert_not_null(mine, "%s", jtext(list));
	/* The batches list names the same connection. */
	cr_assert_eq(jint(st, "status.batches.list[0].conn"), jint(mine,
	    "conn"));
	/* Without detail, no list. */
	json_decref(st);
	st = rpc(fd2, "{\"op\":\"status\"}");
	cr_assert_null(jget(st, "status.connections.list"));
	json_decref(st);
	close(fd2);
	close(fd);
	daemon_stop(&d);
}

/*
 * Start a load that lasts: n batches of three sleeps of 60 s over one
 * connection, all in flight once this returns. Closing the connection
 * cancels them.
 */
static int
start_load(int n)
{
	json_t	*st;
	int	 fd, i;

	fd = client_connect(d.sock);
	for (i = 0; i < n; i++)
		client_send(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":60000},"
		    "{\"type\":\"sleep\",\"ms\":60000},"
		    "{\"type\":\"sleep\",\"ms\":60000}]}");
	st = wait_in_flight(n);
	json_decref(st);
	return fd;
}

/* Not on a terminal: a header, then a plain line per interval. */
Test(top, plain_lines_when_not_a_terminal)
{
	/* The columns, and the 300 sleeps running in the run column. */
	static const char *const want[] = {
		" batch/s ", " sleep/s ", " sleep_p99", "    300 ",
	};
	char	*cmd, *out, *p;
	size_t	 i;
	int	 fd, lines = 0;

	daemon_start(&d, NULL, NULL);
	fd = start_load(100);
	cmd = harness_fmt("%s -s '%s' top --count 3 --interval 0.5",
	    GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	for (p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_assert_eq(lines, 4, "a header and three lines: %s", out);
	cr_assert(strncmp(out, "time ", 5) == 0, "%s", out);
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_assert_not_null(strstr(out, want[i]), "no \"%s\" in: %s",
		    want[i], out);
	cr_assert_null(strchr(out, '\033'), "no escape sequence: %s", out);
	free(out);
	free(cmd);
	close(fd);
	daemon_stop(&d);
}

/*
 * Short intervals, many views: top keeps its pace and ends. (It once
 * read the clock twice to know how long to wait, and time passing
 * between the two reads made the wait for ever.)
 */
Test(top, many_short_intervals_end_on_time)
{
	char	*cmd, *out, *p;
	double	 t0 = now_ms();
	int	 lines = 0;

	daemon_start(&d, NULL, NULL);
	cmd = harness_fmt("timeout 60 %s -s '%s' top --count 100"
	    " --interval 0.1", GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	for (p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_assert_eq(lines, 100 + 5, "100 lines and 5 headers: %s", out);
	cr_assert_geq(now_ms() - t0, 99 * 100, "an interval is never short");
	cr_assert_lt(now_ms() - t0, 10000 + slack_ms(10000));
	free(out);
	free(cmd);
	daemon_stop(&d);
}

/* --json: one object per interval, with rates and the window. */
Test(top, json_lines)
{
	json_t		*v;
	json_error_t	 err;
	char		*cmd, *out, *p, *nl;
	int		 n = 0, fd;

	daemon_start(&d, NULL, NULL);
	fd = start_load(100);
	cmd = harness_fmt("%s -s '%s' top --json --count 3 --interval 0.5",
	    GATHERCTL_BIN, d.sock);
	cr_assert_eq(run_command(cmd, &out), 0, "%s", out);
	for (p = out; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		v = json_loads(p, 0, &err);
		cr_assert_not_null(v, "%s: %s", err.text, p);
		cr_assert_not_null(jget(v, "by_type.sleep.jobs_per_s"), "%s", p);
		cr_assert_not_null(jget(v, "window_s"), "%s", p);
		cr_assert_eq(jnum(v, "in_flight"), 300, "%s", p);
		json_decref(v);
		n++;
	}
	cr_assert_eq(n, 3, "%s", out);
	free(out);
	free(cmd);
	close(fd);
	daemon_stop(&d);
}

/*
 * What the tmux pane shows, once it holds every one of the strings
 * (NULL-ended), within ms; asserts it does. Caller frees.
 */
static char *
pane_wait(int ms, const char *const *want)
{
	const char *const	*w;
	char			*screen = NULL;
	double			 deadline = now_ms() + ms;

	for (;;) {
		free(screen);
		cr_assert_eq(tmux(&screen, "capture-pane -p -t top"), 0);
		for (w = want; *w != NULL && strstr(screen, *w) != NULL; w++)
			;
		if (*w == NULL)
			return screen;
		cr_assert_lt(now_ms(), deadline, "the pane never showed"
		    " \"%s\":\n%s", *w, screen);
		usleep(100000);
	}
}

/*
 * Start top in a tmux pane of 100 x 30, and after it ends, its exit
 * status and the terminal's settings (stty -a).
 */
static void
tmux_top(void)
{
	char	*out;

	snprintf(tmux_name, sizeof tmux_name, "gatherd-test-%ld",
	    (long)getpid());
	harness_at_fini(tmux_kill);
	cr_assert_eq(tmux(&out, "new-session -d -s top -x 100 -y 30"
	    " \"%s -s '%s' top; echo top-exit=\\$?; stty -a; sleep 600\"",
	    GATHERCTL_BIN, d.sock), 0, "tmux: %s", out);
	free(out);
}

/*
 * Assert top ended with status 0 and left the terminal as it found it:
 * canonical input and echo back on, the alternate screen left.
 */
static void
assert_terminal_back(void)
{
	static const char *const	 exited[] = { "top-exit=0", "icanon",
	    NULL };
	char				*screen;

	screen = pane_wait(slack_ms(5000), exited);
	cr_assert_null(strstr(screen, "-icanon"), "%s", screen);
	cr_assert_null(strstr(screen, "-echo "), "%s", screen);
	cr_assert_null(strstr(screen, "q or Ctrl-C quits"),
	    "the alternate screen was left: %s", screen);
	free(screen);
}

/* On a terminal: the live screen under load; q quits and restores it. */
Test(top, the_screen_under_load_and_q)
{
	static const char *const	 first[] = { "gatherd ", "PER SEC",
	    "Batches", "Jobs", "Pool", "Memory", "Conns", "sleep", "read",
	    "query", "q or Ctrl-C quits", NULL };
	static const char *const	 busy[] = { "       300 ", NULL };
	char				*screen, *p;
	int				 fd;

	daemon_start(&d, NULL, NULL);
	tmux_top();
	screen = pane_wait(slack_ms(10000), first);
	free(screen);

	/* 100 batches of 3 sleeps: 300 jobs in flight, shown live. */
	fd = start_load(100);
	screen = pane_wait(slack_ms(10000), busy);
	p = strstr(screen, "\nJobs ");
	cr_assert_not_null(p, "%s", screen);
	cr_assert_eq(strncmp(p + 1 + 9 + 1 + 9, "        300 ", 12), 0,
	    "300 jobs in flight: %s", screen);
	fprintf(stderr, "gatherctl top under load:\n%s\n", screen);
	free(screen);

	cr_assert_eq(tmux(NULL, "send-keys -t top q"), 0);
	assert_terminal_back();
	close(fd);
	daemon_stop(&d);
}

/*
 * A real PostgreSQL server: its pool is a line of the screen, up, with
 * the connection the running query holds. The pane is read once the
 * screen's last line is there: a capture can land while top is still
 * writing its first screen (once, beside a build: "app up 2/2 1" and
 * nothing after). Later screens overwrite the same columns in place.
 */
Test(top, the_postgres_pool_on_the_screen)
{
	static const char *const	 pool[] = { "DATABASE", "OPEN/POOL",
	    "BUSY", "CANCELLING", "q or Ctrl-C quits", NULL };
	char				*screen, *line, state[8];
	int				 fd, open, max, busy, cancelling;

	fd = pgtest_one_busy(&d, "app", 2, "select pg_sleep(60)");
	tmux_top();
	screen = pane_wait(slack_ms(10000), pool);
	cr_assert_not_null(line = strstr(screen, "\napp "), "%s", screen);
	cr_assert_eq(sscanf(line, " app %7s %d/%d %d %d", state, &open, &max,
	    &busy, &cancelling), 5, "%s", screen);
	cr_assert_str_eq(state, "up", "%s", screen);
	cr_assert(open >= 1 && max == 2 && busy == 1 && cancelling == 0, "%s",
	    screen);
	free(screen);
	close(fd);
	daemon_stop(&d);
}

/* Ctrl-C quits as q does, the terminal restored. */
Test(top, ctrl_c_restores_the_terminal)
{
	static const char *const	 first[] = { "PER SEC", NULL };
	char				*screen;

	daemon_start(&d, NULL, NULL);
	tmux_top();
	screen = pane_wait(slack_ms(10000), first);
	free(screen);
	cr_assert_eq(tmux(NULL, "send-keys -t top C-c"), 0);
	assert_terminal_back();
	daemon_stop(&d);
}

/* The daemon going away ends top with 2 and a message, terminal restored. */
Test(top, a_daemon_that_stops_ends_it)
{
	static const char *const	 first[] = { "PER SEC", NULL };
	static const char *const	 gone[] = { "top-exit=2", "icanon",
	    "gatherctl: top: gatherd closed the connection", NULL };
	char				*screen;

	daemon_start(&d, NULL, NULL);
	tmux_top();
	screen = pane_wait(slack_ms(10000), first);
	free(screen);
	daemon_stop(&d);
	screen = pane_wait(slack_ms(10000), gone);
	cr_assert_null(strstr(screen, "-icanon"), "%s", screen);
	free(screen);
}
