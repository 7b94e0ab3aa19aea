/*
 * gatherctl finding its daemon and the things a user types, through the
 * real binaries: the sockets tried in daemon.md's order (-s, -c FILE,
 * $GATHERD_SOCKET, the user's default, the system socket), what each
 * connection error says, gatherd naming a missing directory, and run's
 * unique ids, cancel by connection, job options (-p, --offset, --length,
 * --base64), -r and --stream.
 *
 * The system socket /run/gatherd/gatherd.sock is the machine's: tests
 * that need it there run gatherctl in a mount namespace of its own
 * (unshare, as root), where /run is a fresh tmpfs and /run/gatherd the
 * test's directory. Tests as another user run gatherctl through setpriv.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

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
static char		scratch[64];	/* a directory of the test's */

HARNESS_SUITE(ctl, 60);

/* Make the scratch directory (mode 0755, for other users); its path. */
static const char *
make_scratch(void)
{
	harness_tmpdir(scratch, sizeof scratch, "gatherctl-test");
	cr_assert_eq(chmod(scratch, 0755), 0);
	return scratch;
}

/*
 * Run a shell command line (a format), stderr with stdout; its exit
 * status, and the output in *out (caller frees).
 */
#define sh(out, fmt, ...)						\
	run_commandf((out), "(" fmt ") 2>&1", ##__VA_ARGS__)

/* Assert out holds want. */
static void
has(const char *out, const char *want)
{
	cr_assert_not_null(strstr(out, want), "want \"%s\" in:\n%s", want,
	    out);
}

/*
 * Run gatherctl -s SOCK with args; assert it exits with status, want in
 * its output (stderr with stdout).
 */
static void
ctl_says(int status, const char *args, const char *want)
{
	char	*out;

	cr_assert_eq(sh(&out, "%s -s '%s' %s", GATHERCTL_BIN, d.sock, args),
	    status, "%s: %s", args, out);
	has(out, want);
	free(out);
}

/* Skip the test unless this user can unshare a mount namespace. */
static void
need_unshare(void)
{
	char	*out;

	if (geteuid() != 0 || sh(&out, "unshare -m --propagation private"
	    " true") != 0)
		cr_skip_test("unshare -m is not available here: the system"
		    " socket cannot be stood in for");
	free(out);
}

/*
 * Run gatherctl ARGS as nobody, in a namespace where
 * /run/gatherd is sysdir, with XDG_RUNTIME_DIR xdg; its exit status.
 */
static int
ctl_as_nobody_ns(char **out, const char *sysdir, const char *xdg,
    const char *args)
{
	return sh(out, "unshare -m --propagation private sh -c '"
	    "mount -t tmpfs tmpfs /run && mkdir /run/gatherd &&"
	    " mount --bind %s /run/gatherd &&"
	    " exec setpriv --reuid=%d --regid=%d --clear-groups"
	    " env XDG_RUNTIME_DIR=%s %s %s'", sysdir, HARNESS_UID_OTHER,
	    HARNESS_UID_OTHER, xdg, GATHERCTL_BIN, args);
}

/* -s beats $GATHERD_SOCKET; $GATHERD_SOCKET alone is the only one tried. */
Test(ctl, s_then_the_environment)
{
	char	*out;

	daemon_start(&d, NULL, NULL);
	cr_assert_eq(sh(&out, "GATHERD_SOCKET=/nonexistent/x.sock %s -s '%s'"
	    " ping", GATHERCTL_BIN, d.sock), 0, "%s", out);
	free(out);
	cr_assert_eq(sh(&out, "GATHERD_SOCKET='%s' %s ping", d.sock,
	    GATHERCTL_BIN), 0, "%s", out);
	free(out);
	cr_assert_eq(sh(&out, "GATHERD_SOCKET=/nonexistent/x.sock %s ping",
	    GATHERCTL_BIN), 2, "%s", out);
	has(out, "gatherctl: cannot connect to gatherd at /nonexistent/x.sock"
	    " ($GATHERD_SOCKET): no such socket");
	cr_assert_null(strstr(out, "/run/gatherd"), "only it: %s", out);
	free(out);
	daemon_stop(&d);
}

/* -c FILE: the socket of a gatherd configuration file. */
Test(ctl, c_reads_the_socket_of_a_configuration_file)
{
	char	*out, *conf;
	FILE	*f;

	daemon_start(&d, NULL, NULL);
	/* The daemon's own file names its socket; -c beats the environment. */
	cr_assert_eq(sh(&out, "GATHERD_SOCKET=/nonexistent/x.sock %s -c '%s'"
	    " ping", GATHERCTL_BIN, d.conf), 0, "%s", out);
	free(out);
	cr_assert_eq(sh(&out, "%s -c /nonexistent/gatherd.conf ping",
	    GATHERCTL_BIN), 2, "%s", out);
	has(out, "gatherctl: /nonexistent/gatherd.conf: cannot open: No such"
	    " file or directory");
	free(out);
	/* A file without socket: the usual order goes on. */
	conf = harness_fmt("%s/nosocket.conf", d.dir);
	cr_assert_not_null(f = fopen(conf, "w"));
	fputs("[limits]\nmax_connections = 8\n", f);
	fclose(f);
	cr_assert_eq(sh(&out, "GATHERD_SOCKET='%s' %s -c '%s' ping", d.sock,
	    GATHERCTL_BIN, conf), 0, "%s", out);
	free(out);
	/* A file whose syntax is wrong says where. */
	cr_assert_not_null(f = fopen(conf, "w"));
	fputs("[limits]\n[daemon\nsocket = /x\n", f);
	fclose(f);
	cr_assert_eq(sh(&out, "%s -c '%s' ping", GATHERCTL_BIN, conf), 2);
	has(out, "nosocket.conf:2: ");
	free(out);
	/* A continued socket value is joined as gatherd joins it. */
	cr_assert_not_null(f = fopen(conf, "w"));
	fprintf(f, "[limits]\nsocket = nope\n[daemon]\nsocket =\n    %s\n",
	    d.sock);
	fclose(f);
	cr_assert_eq(sh(&out, "GATHERD_SOCKET=/nonexistent/x.sock %s -c '%s'"
	    " ping", GATHERCTL_BIN, conf), 0, "%s", out);
	free(out);
	free(conf);
	daemon_stop(&d);
}

/* A user's default is $XDG_RUNTIME_DIR/gatherd.sock. */
Test(ctl, the_user_default)
{
	char	*out;

	if (geteuid() != 0)
		cr_skip_test("needs root to run gatherctl as another user");
	daemon_start(&d, "socket_mode = 0666\n", NULL);
	cr_assert_eq(chmod(d.dir, 0755), 0);
	cr_assert_eq(sh(&out, "setpriv --reuid=%d --regid=%d --clear-groups"
	    " env XDG_RUNTIME_DIR='%s' %s ping", HARNESS_UID_OTHER,
	    HARNESS_UID_OTHER, d.dir, GATHERCTL_BIN), 0, "%s", out);
	free(out);
	daemon_stop(&d);
}

/*
 * Without -s, -c or $GATHERD_SOCKET, the system socket is tried after
 * the user's default: a member of the gatherd group needs no option.
 */
Test(ctl, the_system_socket_after_the_default)
{
	char	*out;

	need_unshare();
	make_scratch();
	daemon_start(&d, "socket_mode = 0666\n", NULL);
	cr_assert_eq(chmod(d.dir, 0755), 0);
	cr_assert_eq(ctl_as_nobody_ns(&out, d.dir, scratch, "ping"), 0, "%s",
	    out);
	has(out, "\"pong\":true");
	free(out);
	daemon_stop(&d);
}

/* Neither there: both paths are named, and what that means. */
Test(ctl, no_socket_names_every_path_tried)
{
	char	*out, *want;

	need_unshare();
	make_scratch();
	cr_assert_eq(ctl_as_nobody_ns(&out, scratch, scratch, "ping"), 2,
	    "%s", out);
	want = harness_fmt("gatherctl: cannot connect to gatherd at"
	    " %s/gatherd.sock (your default): no such socket; nor at"
	    " /run/gatherd/gatherd.sock (the system socket): no such socket"
	    " (gatherd is not running, or listens elsewhere: name its socket"
	    " with -s PATH, -c FILE or $GATHERD_SOCKET)\n", scratch);
	cr_assert_str_eq(out, want);
	free(want);
	free(out);
}

/* Permission denied says who may connect: the socket's group. */
Test(ctl, permission_denied_names_the_group)
{
	char	*out, *sock;

	if (geteuid() != 0)
		cr_skip_test("needs root to run gatherctl as another user");
	daemon_start(&d, NULL, NULL);	/* socket_mode 0660, root's group */
	cr_assert_eq(chmod(d.dir, 0755), 0);
	cr_assert_eq(sh(&out, "setpriv --reuid=%d --regid=%d --clear-groups"
	    " %s -s '%s' ping", HARNESS_UID_OTHER, HARNESS_UID_OTHER,
	    GATHERCTL_BIN, d.sock), 2, "%s", out);
	has(out, "(-s): permission denied: members of group root may connect"
	    " (add yourself with: usermod -aG root USER, then log in again)");
	cr_assert_null(strstr(out, "not running"), "%s", out);
	free(out);

	/* A socket of its owner's only. */
	cr_assert_eq(chmod(d.sock, 0600), 0);
	cr_assert_eq(sh(&out, "setpriv --reuid=%d --regid=%d --clear-groups"
	    " %s -s '%s' ping", HARNESS_UID_OTHER, HARNESS_UID_OTHER,
	    GATHERCTL_BIN, d.sock), 2, "%s", out);
	has(out, "permission denied (mode 0600): only its owner may connect");
	free(out);

	/* A directory closed to the user. */
	cr_assert_eq(chmod(d.dir, 0700), 0);
	sock = harness_fmt("%s", d.sock);
	cr_assert_eq(sh(&out, "setpriv --reuid=%d --regid=%d --clear-groups"
	    " %s -s '%s' ping", HARNESS_UID_OTHER, HARNESS_UID_OTHER,
	    GATHERCTL_BIN, sock), 2, "%s", out);
	has(out, "permission denied: the directory ");
	has(out, " is closed to you");
	free(out);
	free(sock);
	daemon_stop(&d);
}

/* A socket file with nothing behind it: that is "not running". */
Test(ctl, refused_means_not_running)
{
	struct sockaddr_un	 sun;
	char			*out, *path;
	int			 fd;

	make_scratch();
	path = harness_fmt("%s/stale.sock", scratch);
	sun_set(&sun, path);
	cr_assert_neq(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	/* Bound, never listening: connect is refused, as after a crash. */
	cr_assert_eq(sh(&out, "%s -s '%s' ping", GATHERCTL_BIN, path), 2);
	has(out, "(-s): connection refused: the socket file is there but"
	    " nothing accepts on it (gatherd is not running)");
	free(out);
	close(fd);
	free(path);
}

/* gatherd says which directory is missing, and how to choose a socket. */
Test(ctl, gatherd_names_a_missing_directory)
{
	char	*out;

	make_scratch();
	cr_assert_eq(sh(&out, "%s -s %s/nodir/gatherd.sock", GATHERD_BIN,
	    scratch), 1, "%s", out);
	has(out, "gatherd: error: cannot create the socket ");
	has(out, "/nodir/gatherd.sock: the directory ");
	has(out, "/nodir does not exist (create it, or choose another socket"
	    " with -s PATH, $GATHERD_SOCKET or [daemon] socket)");
	cr_assert_null(strstr(out, ".lock"), "no lock file named: %s", out);
	free(out);
}

/* Wait for status detail to list a batch; that batch's entry (a copy). */
static json_t *
wait_batch(void)
{
	json_t	*st, *e;
	double	 deadline = now_ms() + slack_ms(10000);

	for (;;) {
		st = daemon_request(&d, "{\"op\":\"status\",\"detail\":true}");
		e = jget(st, "status.batches.list[0]");
		if (e != NULL) {
			e = json_deep_copy(e);
			json_decref(st);
			return e;
		}
		json_decref(st);
		cr_assert_lt(now_ms(), deadline, "no batch in flight");
		usleep(10000);
	}
}

/* Each run has an id of its own, printed with --progress, cancellable. */
Test(ctl, run_gives_each_batch_an_id)
{
	json_t	*a, *b, *e;
	char	*out, *errf, *want, *text, buf[4096];
	FILE	*bg;
	size_t	 n;
	int	 status;

	daemon_start(&d, NULL, NULL);
	cr_assert_eq(sh(&out, "%s -s '%s' run sleep:1", GATHERCTL_BIN, d.sock),
	    0);
	a = json_loads(out, 0, NULL);
	free(out);
	cr_assert_eq(sh(&out, "%s -s '%s' run sleep:1", GATHERCTL_BIN, d.sock),
	    0);
	b = json_loads(out, 0, NULL);
	free(out);
	cr_assert(strncmp(jstr(a, "id"), "run-", 4) == 0, "%s", jtext(a));
	cr_assert_str_neq(jstr(a, "id"), jstr(b, "id"));
	json_decref(a);
	json_decref(b);

	/* --progress names it; status --detail lists it; cancel finds it. */
	errf = harness_fmt("%s/progress.err", d.dir);
	out = harness_fmt("%s -s '%s' run --progress sleep:60000 2>'%s'",
	    GATHERCTL_BIN, d.sock, errf);
	cr_assert_not_null(bg = popen(out, "r"));
	free(out);
	e = wait_batch();
	text = xstrdup(jstr(e, "id"));
	cr_assert(strncmp(text, "run-", 4) == 0, "%s", jtext(e));
	cr_assert_eq(sh(&out, "cat '%s'", errf), 0);
	want = harness_fmt("gatherctl: batch \"%s\" (gatherctl cancel \"%s\""
	    " stops it)\n", text, text);
	cr_assert_str_eq(out, want);
	free(want);
	free(out);
	cr_assert_eq(sh(&out, "%s -s '%s' cancel %s", GATHERCTL_BIN, d.sock,
	    text), 0, "%s", out);
	has(out, "\"cancelled\":1");
	free(out);
	/*
	 * Read its reply to the end before pclose(): closing the pipe first
	 * would make its last write fail (EPIPE), and that exits 2.
	 */
	out = xstrdup("");
	while ((n = fread(buf, 1, sizeof buf - 1, bg)) > 0) {
		buf[n] = '\0';
		want = harness_fmt("%s%s", out, buf);
		free(out);
		out = want;
	}
	status = pclose(bg);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "run --progress: wait status 0x%x: %s", status, out);
	has(out, "\"cancelled\"");
	free(out);
	free(text);
	free(errf);
	json_decref(e);
	daemon_stop(&d);
}

/* cancel --conn N without an id: every batch of that connection. */
Test(ctl, cancel_a_connection_s_batches)
{
	json_t	*e, *r;
	char	*out;
	int	 fd, i;

	daemon_start(&d, NULL, NULL);
	fd = client_connect(d.sock);
	client_send(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	client_send(fd, "{\"jobs\":[{\"type\":\"sleep\",\"ms\":60000}]}");
	e = wait_batch();
	cr_assert(json_is_null(jget(e, "id")), "%s", jtext(e));
	cr_assert_eq(sh(&out, "%s -s '%s' cancel --conn %lld", GATHERCTL_BIN,
	    d.sock, (long long)jint(e, "conn")), 0, "%s", out);
	has(out, "\"cancelled\":2");
	free(out);
	for (i = 0; i < 2; i++) {
		r = client_recv_json(fd, slack_ms(5000));
		jstr_is(r, "results[0].error.code", "cancelled");
		json_decref(r);
	}
	json_decref(e);

	/* null names no batch; "any" needs an id; so does nothing. */
	ctl_says(2, "cancel null", "gatherctl: cancel: null names no batch: a"
	    " batch sent without an id (or with id null) can only be cancelled"
	    " with its connection, --conn N");
	ctl_says(2, "cancel --conn any", "cancel: missing ID");
	/* The protocol: conn without target; no target without conn. */
	r = rpc(fd, "{\"op\":\"cancel\",\"conn\":99999}");
	cr_assert_eq(jint(r, "cancelled"), 0, "%s", jtext(r));
	json_decref(r);
	r = rpc(fd, "{\"op\":\"cancel\",\"conn\":\"any\"}");
	jstr_is(r, "error.message", "target: missing required field");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* Job options: -p for query parameters, --offset/--length/--base64. */
Test(ctl, job_options_follow_their_job)
{
	json_t	*r;
	char	*conf, *out, *file;
	FILE	*f;

	make_scratch();
	file = harness_fmt("%s/f.txt", scratch);
	cr_assert_not_null(f = fopen(file, "w"));
	fputs("hello, world\n", f);
	fclose(f);
	conf = harness_fmt("[read]\nroots = %s\n[db.default]\ndriver = sqlite\n"
	    "path = %s/db.sqlite\nwritable = true\n", scratch, scratch);
	daemon_start(&d, conf, NULL);
	cr_assert_eq(sh(&out, "%s -s '%s' run 'query:select ?1 + 1 as n,"
	    " ?2 as s, ?3 as t, ?4 as z' -p 41 -p '\"41\"' -p hello -p null"
	    " read:f.txt --offset 7 --length 5 read:f.txt --base64 --length 5",
	    GATHERCTL_BIN, d.sock), 0, "%s", out);
	r = json_loads(out, 0, NULL);
	cr_assert_not_null(r, "%s", out);
	jeq(r, "results[0].value.rows", "[[42,\"41\",\"hello\",null]]");
	jstr_is(r, "results[1].value.data", "world");
	jstr_is(r, "results[2].value.data", "aGVsbG8=");
	json_decref(r);
	free(out);

	/* An option needs a job before it, of its type. */
	ctl_says(2, "run -p 1 sleep:1", "gatherctl: run: -p must follow the"
	    " job it is for (see gatherctl --help)\n");
	ctl_says(2, "run read:f.txt -p 1",
	    "run: after 'read:f.txt': -p: not an option of read jobs");
	ctl_says(2, "run read:f.txt --offset -1",
	    "after 'read:f.txt': --offset: '-1' is not an integer >= 0");

	/* Empty shorthands say what is missing. */
	ctl_says(2, "run query:", "bad job 'query:': query: no SQL after"
	    " 'query:'");
	ctl_says(2, "run read:", "bad job 'read:': read: no PATH after"
	    " 'read:'");
	free(conf);
	free(file);
	daemon_stop(&d);
}

/* -r: values only, a string as its text; errors on stderr, exit 1. */
Test(ctl, raw_prints_values_only)
{
	char	*out;

	daemon_start(&d, "[read]\nroots = /nonexistent/gatherd-test-root\n",
	    NULL);
	cr_assert_eq(sh(&out, "%s -s '%s' run -r sleep:1:'\"a b\"'"
	    " sleep:1:'{\"k\":[1]}' sleep:1 2>/dev/null", GATHERCTL_BIN,
	    d.sock), 0);
	cr_assert_str_eq(out, "a b\n{\"k\":[1]}\nnull\n");
	free(out);
	ctl_says(1, "run -r sleep:1:7 read:x 2>&1 >/dev/null",
	    "jobs[1]: io_error: x: read root ");
	/* With --stream, each value once, as it comes. */
	cr_assert_eq(sh(&out, "%s -s '%s' run -r --stream sleep:300:'\"slow\"'"
	    " sleep:1:'\"fast\"'", GATHERCTL_BIN, d.sock), 0);
	cr_assert_str_eq(out, "fast\nslow\n");
	free(out);
	daemon_stop(&d);
}

/*
 * --stream on a terminal: each result is printed once, as it comes; the
 * final reply adds the batch's line, not the results again.
 */
Test(ctl, stream_prints_each_result_once)
{
	char	*out, *p;
	int	 n;

	daemon_start(&d, NULL, NULL);
	cr_assert_eq(sh(&out, "script -qec \"%s -s '%s' run --id 5 --stream"
	    " sleep:200:'\\\"x\\\"' sleep:1:'\\\"y\\\"'\" /dev/null",
	    GATHERCTL_BIN, d.sock), 0, "%s", out);
	for (n = 0, p = out; (p = strstr(p, "[0] ok")) != NULL; p++)
		n++;
	cr_assert_eq(n, 1, "%s", out);
	for (n = 0, p = out; (p = strstr(p, "[1] ok")) != NULL; p++)
		n++;
	cr_assert_eq(n, 1, "%s", out);
	has(out, "batch 5: ok, 2 jobs in ");
	cr_assert_lt(strstr(out, "[1] ok") - out, strstr(out, "[0] ok") - out,
	    "in the order they finished: %s", out);
	free(out);
	daemon_stop(&d);
}
