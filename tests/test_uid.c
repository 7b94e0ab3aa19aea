/*
 * What one user may reach (protocol.md, "Isolation between clients"): at
 * most max_connections_per_uid connections, root not counted; and, when a
 * cancel or a status detail reaches beyond the requesting connection
 * (gatherd's "conn" extension), only the batches of clients of the same
 * uid, unless the requester is root.
 *
 * The other users are real: the tests run as root and connect as nobody
 * (65534) and as uid 65533 through client_connect_as, which connects from
 * a child that dropped to that uid, so the daemon's SO_PEERCRED says so.
 * Not as root, they are skipped.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

#define U1	HARNESS_UID_OTHER
#define U2	HARNESS_UID_THIRD

/* A socket every uid may open: the tests decide who gets in. */
#define OPEN_SOCKET	"socket_mode = 0666\n"

/* A batch of one long sleep (cancelled by every test that sends it). */
#define LONG_BATCH(id) \
	"{\"id\":\"" id "\",\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}"

static struct daemon	d;

HARNESS_SUITE(uid, 60);

/* Start the daemon with conf, its socket reachable by every uid. */
static void
start(const char *conf)
{
	char	*text;

	if (geteuid() != 0)
		cr_skip_test("not running as root: no second uid to test with");
	text = harness_fmt(OPEN_SOCKET "%s", conf != NULL ? conf : "");
	daemon_start(&d, text, NULL);
	free(text);
	cr_assert_eq(chmod(d.dir, 0755), 0, "chmod %s: %s", d.dir,
	    strerror(errno));
}

/* A connection of uid (its gid the same number), pinged: it is in. */
static int
connect_in(uid_t uid)
{
	int	fd = client_connect_as(d.sock, uid, (gid_t)uid);

	rpc_pong(fd, "{\"op\":\"ping\"}", "null");
	return fd;
}

/* Send a long batch on fd; the pong after it means it started. */
static void
start_long(int fd, const char *line)
{
	client_send(fd, line);
	rpc_pong(fd, "{\"op\":\"ping\"}", "null");
}

/* A connection of uid running the long batch line. */
static int
connect_running(uid_t uid, const char *line)
{
	int	fd = connect_in(uid);

	start_long(fd, line);
	return fd;
}

/* The reply on fd is batch id's, its sleep cancelled. */
static void
expect_cancelled(int fd, const char *id)
{
	json_t	*r = client_recv_json(fd, slack_ms(5000));

	jeq(r, "id", id);
	jstr_is(r, "results[0].error.code", "cancelled");
	json_decref(r);
}

/* Send a cancel line on fd; returns how many it cancelled. */
static json_int_t
cancel_on(int fd, const char *line)
{
	json_t		*r = rpc(fd, line);
	json_int_t	 n = jint(r, "cancelled");

	json_decref(r);
	return n;
}

/* fd's own connection number, from its status detail (one batch). */
static json_int_t
own_conn(int fd)
{
	json_t		*r;
	json_int_t	 conn;

	r = rpc(fd, "{\"op\":\"status\",\"detail\":true}");
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 1,
	    "%s", jtext(r));
	conn = jint(r, "status.batches.list[0].conn");
	json_decref(r);
	return conn;
}

/*
 * A uid at max_connections_per_uid: its next connection gets one busy
 * line naming the key and is closed, logged; another uid and root still
 * get in, and a connection closed makes room again.
 */
Test(uid, connections_per_uid_are_bounded_root_aside)
{
	json_t	*r, *st;
	char	*line;
	int	 mine[3], other, roots[5], extra, i;
	double	 deadline;

	start("[limits]\nmax_connections_per_uid = 3\n");
	for (i = 0; i < 3; i++)
		mine[i] = connect_in(U1);

	extra = client_connect_as(d.sock, U1, U1);
	r = client_recv_json(extra, slack_ms(5000));
	jhas(r, "", "{\"ok\":false,\"id\":null,\"error\":{\"code\":\"busy\"}}");
	jstr_has(r, "error.message", "max_connections_per_uid (3)");
	json_decref(r);
	expect_eof(extra, 2000);
	close(extra);
	cr_assert_eq(daemon_log_wait(&d, "max_connections_per_uid (3)"
	    " reached", 1, slack_ms(2000)), 1, "the refusal was not logged");

	/* Another user, and root, are not held back by the first. */
	other = connect_in(U2);
	for (i = 0; i < 5; i++)
		roots[i] = connect_in(0);
	st = status_on(roots[0]);
	cr_assert_eq(jint(st, "connections.open"), 9, "%s", jtext(st));
	cr_assert_eq(jint(st, "limits.max_connections_per_uid"), 3, "%s",
	    jtext(st));
	json_decref(st);

	/* A connection closed makes room for the next (once it is seen). */
	close(mine[0]);
	deadline = now_ms() + slack_ms(5000);
	for (;;) {
		mine[0] = client_connect_as(d.sock, U1, U1);
		client_send(mine[0], "{\"op\":\"ping\"}");
		line = client_recv(mine[0], slack_ms(5000));
		cr_assert_not_null(line, "no answer to a new connection");
		if (strstr(line, "\"pong\":true") != NULL)
			break;
		cr_assert(strstr(line, "max_connections_per_uid") != NULL,
		    "%s", line);
		cr_assert_lt(now_ms(), deadline, "no room after a close");
		free(line);
		close(mine[0]);
		usleep(10000);
	}
	free(line);
	for (i = 0; i < 3; i++)
		close(mine[i]);
	for (i = 0; i < 5; i++)
		close(roots[i]);
	close(other);
	daemon_stop(&d);
}

/*
 * "conn":"any" and "conn":N (with a target or without) cancel only
 * batches of the requester's uid; root's cancel reaches every uid.
 */
Test(uid, cancel_beyond_the_connection_stays_within_the_uid)
{
	json_int_t	 conn_a;
	char		*line;
	int		 a, a2, b, b2, root;

	start(NULL);
	a = connect_running(U1, LONG_BATCH("x"));
	b = connect_running(U2, LONG_BATCH("x"));
	b2 = connect_in(U2);
	conn_a = own_conn(a);

	/* U2's "any" finds its own batch x, not U1's. */
	cr_assert_eq(cancel_on(b2, "{\"op\":\"cancel\",\"target\":\"x\","
	    "\"conn\":\"any\"}"), 1);
	expect_cancelled(b, "\"x\"");
	expect_silence(a, 100);
	/* Nor does naming U1's connection reach it. */
	line = harness_fmt("{\"op\":\"cancel\",\"target\":\"x\",\"conn\":%lld}",
	    (long long)conn_a);
	cr_assert_eq(cancel_on(b2, line), 0);
	expect_silence(a, 100);
	free(line);
	/* Nor does naming it without a target (all its batches). */
	line = harness_fmt("{\"op\":\"cancel\",\"conn\":%lld}",
	    (long long)conn_a);
	cr_assert_eq(cancel_on(b2, line), 0);
	expect_silence(a, 100);
	free(line);
	line = harness_fmt("{\"op\":\"cancel\",\"target\":\"x\","
	    "\"conn\":%lld}", (long long)conn_a);
	/* Another connection of U1 may. */
	a2 = connect_in(U1);
	cr_assert_eq(cancel_on(a2, line), 1);
	expect_cancelled(a, "\"x\"");
	free(line);

	/* Root reaches both users. */
	start_long(a, LONG_BATCH("z"));
	start_long(b, LONG_BATCH("z"));
	root = connect_in(0);
	cr_assert_eq(cancel_on(root, "{\"op\":\"cancel\",\"target\":\"z\","
	    "\"conn\":\"any\"}"), 2);
	expect_cancelled(a, "\"z\"");
	expect_cancelled(b, "\"z\"");
	close(a);
	close(a2);
	close(b);
	close(b2);
	close(root);
	daemon_stop(&d);
}

/* Whether the detail list in reply r holds a batch with id (JSON text). */
static bool
listed(json_t *r, const char *id)
{
	json_t	*list = jget(r, "status.batches.list"), *want, *e;
	size_t	 i;
	bool	 found = false;

	cr_assert(json_is_array(list), "%s", jtext(r));
	want = json_loads(id, JSON_DECODE_ANY, NULL);
	json_array_foreach(list, i, e) {
		if (json_equal(json_object_get(e, "id"), want))
			found = true;
	}
	json_decref(want);
	return found;
}

/*
 * status detail lists only the requester's uid's batches (all of them,
 * on any of its connections); root's lists every batch. The counts stay
 * the daemon's.
 */
Test(uid, status_detail_lists_only_the_uids_batches)
{
	json_t	*r;
	int	 a, a2, b, root, root2;

	start(NULL);
	a = connect_running(U1, LONG_BATCH("a"));
	a2 = connect_in(U1);
	b = connect_running(U2, LONG_BATCH("b"));
	root = connect_running(0, LONG_BATCH("r"));

	r = rpc(a2, "{\"op\":\"status\",\"detail\":true}");
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 1,
	    "%s", jtext(r));
	cr_assert(listed(r, "\"a\""), "%s", jtext(r));
	cr_assert_eq(jint(r, "status.batches.in_flight"), 3, "%s", jtext(r));
	json_decref(r);

	r = rpc(b, "{\"op\":\"status\",\"detail\":true}");
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 1,
	    "%s", jtext(r));
	cr_assert(listed(r, "\"b\""), "%s", jtext(r));
	json_decref(r);

	r = rpc(root, "{\"op\":\"status\",\"detail\":true}");
	cr_assert_eq(json_array_size(jget(r, "status.batches.list")), 3,
	    "%s", jtext(r));
	cr_assert(listed(r, "\"a\"") && listed(r, "\"b\"") &&
	    listed(r, "\"r\""), "%s", jtext(r));
	json_decref(r);

	cr_assert_eq(cancel_on(root, "{\"op\":\"cancel\",\"target\":\"a\","
	    "\"conn\":\"any\"}"), 1);
	expect_cancelled(a, "\"a\"");
	cr_assert_eq(cancel_on(root, "{\"op\":\"cancel\",\"target\":\"b\","
	    "\"conn\":\"any\"}"), 1);
	expect_cancelled(b, "\"b\"");
	cr_assert_eq(cancel_on(b, "{\"op\":\"cancel\",\"target\":\"r\","
	    "\"conn\":\"any\"}"), 0);
	cr_assert_eq(cancel_on(a2, "{\"op\":\"cancel\",\"target\":\"r\","
	    "\"conn\":\"any\"}"), 0);
	expect_silence(root, 50);
	root2 = connect_in(0);
	cr_assert_eq(cancel_on(root2, "{\"op\":\"cancel\",\"target\":\"r\","
	    "\"conn\":\"any\"}"), 1);
	expect_cancelled(root, "\"r\"");
	close(root2);
	close(a);
	close(a2);
	close(b);
	close(root);
	daemon_stop(&d);
}
