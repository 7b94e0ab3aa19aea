/*
 * The socket: one daemon per path, the stale socket of a killed daemon
 * replaced (also by daemons racing for it), other files never.
 *
 * End-to-end: real gatherd processes on private Unix sockets, driven over
 * the wire the way a client drives them; each test starts its daemon in d
 * and stops it at the end, which asserts it exited 0. The protocol's
 * end-to-end suites share the suite name daemon (README, "Tests").
 * Timing bounds are wide: they tell "concurrent" from "one after another"
 * and "at once" from "waited for a sleep", nothing finer. Upper bounds
 * are stretched by slack_ms() (only their overhead part where they tell
 * concurrent from sequential: 1000 + slack_ms(300)); lower bounds (a
 * sleep never returns early) never are.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * The socket: one daemon per path, stale files replaced.
 */

Test(daemon, second_daemon_on_the_same_socket_refuses_to_start)
{
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
	daemon_pong(&d, "{\"op\":\"ping\",\"id\":1}", "1");
	daemon_stop(&d);
}

Test(daemon, stale_socket_of_a_killed_daemon_is_replaced)
{
	struct stat	 sb;

	daemon_start(&d, NULL, NULL);
	cr_assert_eq(kill(d.pid, SIGKILL), 0);
	cr_assert_neq(daemon_wait(&d, slack_ms(5000)), -1);
	cr_assert_eq(lstat(d.sock, &sb), 0, "the killed daemon left no file");
	cr_assert(S_ISSOCK(sb.st_mode));
	cr_assert(!can_connect(d.sock));

	daemon_respawn(&d);
	daemon_pong(&d, "{\"op\":\"ping\",\"id\":1}", "1");
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
	daemon_expect_exit_0(&d, 5000);
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

	daemon_respawn(&d);
	r = daemon_request(&d, "{\"op\":\"ping\",\"id\":1}");
	jbool_is(r, "pong", true);
	json_decref(r);
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	daemon_expect_exit_0(&d, 5000);

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
