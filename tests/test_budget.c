/*
 * The memory budget (protocol.md, "Isolation between clients"; budget.c):
 * what connections hold is counted and reported in status.memory; a
 * connection past max_connection_bytes is closed, its batches cancelled,
 * and that is logged with its peer; a value, a batch or a request line
 * still arriving that would take everything past max_memory_bytes is
 * refused busy, naming the key. Each limit is set small here and reached
 * with real reads of real files; the daemon's memory under the abuse that
 * motivated them is the load suites' (test_load_memory).
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

#define MIB		(1024 * 1024)
#define ONE_MIB_FILE	"one"		/* MIB bytes of 'a' */
#define THREE_MIB_FILE	"three"		/* 3 MIB bytes of 'b' */

static struct daemon	d;
static char		fixdir[256];

HARNESS_SUITE(budget, 60);

static void
put_file(const char *name, int c, size_t n)
{
	char	*path = harness_fmt("%s/%s", fixdir, name), *buf;
	FILE	*fp;

	cr_assert_not_null(fp = fopen(path, "w"), "%s: %s", path,
	    strerror(errno));
	cr_assert_not_null(buf = malloc(n));
	memset(buf, c, n);
	cr_assert_eq(fwrite(buf, 1, n, fp), n);
	cr_assert_eq(fclose(fp), 0);
	free(buf);
	free(path);
}

/* Files to read, and the daemon with conf ([limits] lines) over them. */
static void
start(const char *limits)
{
	char	*conf;

	harness_tmpdir(fixdir, sizeof fixdir, "gatherd-budget");
	put_file(ONE_MIB_FILE, 'a', MIB);
	put_file(THREE_MIB_FILE, 'b', 3 * MIB);
	conf = harness_fmt("threads = 2\n[limits]\n%s[read]\nroots = %s\n",
	    limits != NULL ? limits : "", fixdir);
	daemon_start(&d, conf, NULL);
	free(conf);
}

/*
 * A batch with id that holds n results of reads of file until it is
 * cancelled: a sleep of a minute keeps it in flight. Caller frees.
 */
static char *
holding_batch(const char *id, int n, const char *file)
{
	char	*line;
	int	 i;

	line = harness_fmt("{\"id\":\"%s\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":60000}", id);
	for (i = 0; i < n; i++)
		harness_append(&line, ",{\"type\":\"read\",\"path\":\"%s\"}",
		    file);
	harness_append(&line, "]}");
	return line;
}

/* Send holding_batch(id, n, file) on fd; the length of its line. */
static size_t
send_holding_batch(int fd, const char *id, int n, const char *file)
{
	char	*line = holding_batch(id, n, file);
	size_t	 len = strlen(line);

	client_send(fd, line);
	free(line);
	return len;
}

/*
 * Poll status on fd until the number at path is at least min (or, with
 * min < 0, exactly 0), within ms (stretched). Returns that status.
 */
static json_t *
await_memory(int fd, const char *path, long long min, int ms)
{
	json_t	*st;
	double	 deadline = now_ms() + slack_ms(ms);

	for (;;) {
		st = status_on(fd);
		if (min < 0 ? jint(st, path) == 0 : jint(st, path) >= min)
			return st;
		cr_assert_lt(now_ms(), deadline, "%s never %s %lld: %s", path,
		    min < 0 ? "came back to" : "reached", min < 0 ? 0 : min,
		    jtext(jget(st, "memory")));
		json_decref(st);
		usleep(10000);
	}
}

/* What status.memory says when nothing is held (input aside). */
static void
expect_nothing_held(int fd)
{
	json_t	*st = await_memory(fd, "memory.held_bytes", -1, 5000);

	jhas(st, "", "{\"memory\":{\"request_bytes\":0,\"result_bytes\":0,"
	    "\"output_bytes\":0}}");
	json_decref(st);
}

/*
 * status.memory counts results held by a batch in flight and returns to
 * nothing once it replies; the limits are reported with their defaults.
 */
Test(budget, status_reports_what_is_held_and_the_limits)
{
	json_t	*st, *r;
	size_t	 len;
	int	 a, s;

	start(NULL);
	s = client_connect(d.sock);
	st = status_on(s);
	jhas(st, "", "{\"memory\":{\"held_bytes\":0,"
	    "\"max_memory_bytes\":1073741824},"
	    "\"limits\":{\"max_memory_bytes\":1073741824,"
	    "\"max_connection_bytes\":268435456,"
	    "\"max_connections_per_uid\":512}}");
	json_decref(st);

	a = client_connect(d.sock);
	len = send_holding_batch(a, "hold", 2, ONE_MIB_FILE);
	st = await_memory(s, "memory.result_bytes", 2 * MIB, 5000);
	cr_assert_geq(jint(st, "memory.request_bytes"), (json_int_t)len,
	    "%s", jtext(st));
	cr_assert_geq(jint(st, "memory.held_bytes"), 2 * MIB + (json_int_t)len,
	    "%s", jtext(st));
	json_decref(st);

	r = rpc(s, "{\"op\":\"cancel\",\"target\":\"hold\",\"conn\":\"any\"}");
	cr_assert_eq(jint(r, "cancelled"), 1, "%s", jtext(r));
	json_decref(r);
	r = client_recv_json(a, slack_ms(5000));
	jstr_is(r, "results[0].error.code", "cancelled");
	jbool_is(r, "results[2].ok", true);
	json_decref(r);
	expect_nothing_held(s);
	close(a);
	close(s);
	daemon_stop(&d);
}

/*
 * A value that would take what all connections hold past
 * max_memory_bytes fails busy, naming the key; smaller ones still fit,
 * and once the holder is gone the same value is served.
 */
Test(budget, value_past_max_memory_bytes_is_busy)
{
	json_t	*r, *st;
	int	 a, b;

	start("max_memory_bytes = 6291456\nmax_connection_bytes = 67108864\n");
	a = client_connect(d.sock);
	b = client_connect(d.sock);
	send_holding_batch(a, "hold", 4, ONE_MIB_FILE);
	json_decref(await_memory(b, "memory.result_bytes", 4 * MIB, 5000));

	r = rpc(b, "{\"id\":1,\"jobs\":[{\"type\":\"read\",\"path\":\""
	    THREE_MIB_FILE "\"},{\"type\":\"sleep\",\"ms\":0,\"value\":7}]}");
	jeq(r, "id", "1");
	jbool_is(r, "ok", false);
	jstr_is(r, "results[0].error.code", "busy");
	jstr_has(r, "results[0].error.message", "max_memory_bytes (6291456)");
	jeq(r, "results[1].value", "7");
	cr_assert_eq(jint(r, "stats.failed"), 1, "%s", jtext(r));
	json_decref(r);
	cr_assert_geq(daemon_log_wait(&d, "busy: max_memory_bytes", 1,
	    slack_ms(2000)), 1, "the refusal was not logged");
	/* Nothing was kept of it. */
	st = status_on(b);
	cr_assert_lt(jint(st, "memory.held_bytes"), 5 * MIB, "%s",
	    jtext(jget(st, "memory")));
	json_decref(st);

	r = rpc(b, "{\"op\":\"cancel\",\"target\":\"hold\",\"conn\":\"any\"}");
	cr_assert_eq(jint(r, "cancelled"), 1, "%s", jtext(r));
	json_decref(r);
	json_decref(client_recv_json(a, slack_ms(5000)));
	expect_nothing_held(b);
	r = rpc(b, "{\"id\":2,\"jobs\":[{\"type\":\"read\",\"path\":\""
	    THREE_MIB_FILE "\"}]}");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "results[0].value.bytes"), 3 * MIB);
	json_decref(r);
	close(a);
	close(b);
	daemon_stop(&d);
}

/*
 * A connection whose held results pass max_connection_bytes is closed
 * without a reply, its batch cancelled (nothing is left in flight or
 * held), and the closing is logged with its peer; others are served.
 */
Test(budget, results_past_max_connection_bytes_close_the_connection)
{
	json_t	*st, *r;
	char	*want;
	int	 a, s;

	start("max_connection_bytes = 3145728\n");
	s = client_connect(d.sock);
	a = client_connect(d.sock);
	send_holding_batch(a, "hold", 8, ONE_MIB_FILE);
	cr_assert_eq(drain_to_eof(a, 5000), 0, "a reply came");
	close(a);

	want = harness_fmt("(pid %ld uid %ld gid %ld)", (long)getpid(),
	    (long)getuid(), (long)getgid());
	cr_assert_eq(daemon_log_wait(&d, want, 1, slack_ms(2000)), 1,
	    "no warning naming the peer %s", want);
	free(want);
	cr_assert_eq(daemon_log_wait(&d, "past max_connection_bytes (3145728)",
	    1, slack_ms(2000)), 1);
	r = rpc(s, "{\"op\":\"ping\"}");
	jbool_is(r, "pong", true);
	json_decref(r);
	expect_nothing_held(s);
	st = status_on(s);
	jhas(st, "", "{\"batches\":{\"in_flight\":0},"
	    "\"jobs\":{\"in_flight\":0},\"connections\":{\"open\":1}}");
	json_decref(st);
	close(s);
	daemon_stop(&d);
}

/*
 * A client that never reads, with batches pipelined: past
 * max_output_bytes its reading stops, but the batches it already sent go
 * on making replies; past max_connection_bytes it is closed.
 */
Test(budget, non_reader_past_max_connection_bytes_is_closed)
{
	json_t	*st;
	char	*line;
	int	 a, s, i;

	start("max_output_bytes = 1048576\nmax_connection_bytes = 6291456\n");
	s = client_connect(d.sock);
	a = client_connect(d.sock);
	line = harness_fmt("{\"jobs\":[{\"type\":\"read\",\"path\":\"%s\"}]}",
	    ONE_MIB_FILE);
	for (i = 0; i < 40; i++)
		client_send(a, line);
	free(line);
	/* Closed before the client reads anything. */
	cr_assert_eq(daemon_log_wait(&d, "past max_connection_bytes (6291456)",
	    1, slack_ms(5000)), 1, "the non-reader was not closed");
	st = status_on(s);
	cr_assert_eq(jint(st, "connections.open"), 1, "%s", jtext(st));
	json_decref(st);
	expect_nothing_held(s);
	/* What the socket had taken before the close is there, then EOF. */
	drain_to_eof(a, 5000);
	close(a);
	close(s);
	daemon_stop(&d);
}

/*
 * A batch whose request line alone would take its connection past
 * max_connection_bytes is refused busy, and nothing of it starts.
 */
Test(budget, request_past_max_connection_bytes_is_busy)
{
	json_t	*r, *st;
	char	*pad, *line;
	int	 a;

	start("max_connection_bytes = 65536\n");
	pad = harness_fill('p', 100000);
	line = harness_fmt("{\"id\":\"big\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":\"%s\"}]}", pad);
	a = client_connect(d.sock);
	r = rpc(a, line);
	jeq(r, "id", "\"big\"");
	jstr_is(r, "error.code", "busy");
	jstr_has(r, "error.message", "max_connection_bytes (65536)");
	json_decref(r);
	st = status_on(a);
	cr_assert_eq(jint(st, "batches.done"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "jobs.done"), 0, "%s", jtext(st));
	json_decref(st);
	r = rpc(a, "{\"id\":\"small\",\"jobs\":[{\"type\":\"sleep\",\"ms\":0}]}");
	jbool_is(r, "ok", true);
	json_decref(r);
	free(line);
	free(pad);
	close(a);
	daemon_stop(&d);
}

/* A request line this long is parsed off the loop (conn.c: 64 KiB). */
#define PARSED_BYTES	(96 * 1024)

/*
 * A line in parse is not a line arriving: its connection reads no more
 * meanwhile, and what was read behind it are lines waiting their turn.
 * The line in parse counts as its connection's input until it is
 * answered; with that and the line behind it past max_memory_bytes, both
 * are still answered, in order, and no busy comes first. The big line
 * goes in without its newline, so that the newline and the next line are
 * read at once.
 */
Test(budget, lines_behind_a_line_in_parse_are_not_dropped)
{
	const char	*tail = "\n{\"op\":\"ping\",\"id\":\"after\"}\n";
	const char	*head = "{\"op\":\"ping\",\"id\":\"", *end = "\"}";
	size_t		 idlen = PARSED_BYTES - strlen(head) - strlen(end);
	json_t		*r;
	char		*conf, *id, *line;
	int		 fd;

	/* Reached by the big line alone; passed by the line behind it. */
	conf = harness_fmt("max_memory_bytes = %d\n", PARSED_BYTES);
	start(conf);
	free(conf);
	cr_assert_not_null(id = malloc(idlen + 1));
	memset(id, 'i', idlen);
	id[idlen] = '\0';
	line = harness_fmt("%s%s%s", head, id, end);
	cr_assert_eq(strlen(line), PARSED_BYTES);
	fd = client_connect(d.sock);
	client_write(fd, line, PARSED_BYTES);
	client_wait_read(fd);
	client_write(fd, tail, strlen(tail));

	r = client_recv_json(fd, slack_ms(10000));
	jbool_is(r, "pong", true);
	jstr_is(r, "id", id);
	json_decref(r);
	recv_pong(fd, slack_ms(5000), "\"after\"");
	expect_nothing_held(fd);
	free(line);
	free(id);
	close(fd);
	daemon_stop(&d);
}

#define PART_BYTES	300000

/*
 * The start of request line i, PART_BYTES long with padding (blanks the
 * batch does not keep), without its end.
 */
static char *
part_line(int i)
{
	char	*pad, *line;

	pad = harness_fill(' ', PART_BYTES);
	line = harness_fmt("{\"id\":\"p%d\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":%d}]%s", i, i, pad);
	free(pad);
	return line;
}

/*
 * Request lines still arriving count too: one that would take
 * everything past max_memory_bytes is dropped with busy (and skipped to
 * its newline); those that came before are served whole.
 */
Test(budget, request_lines_arriving_past_max_memory_bytes_are_dropped)
{
	json_t	*r;
	char	*line;
	int	 part[3], late, s, i;

	start("max_memory_bytes = 1048576\nmax_request_bytes = 4194304\n");
	s = client_connect(d.sock);
	for (i = 0; i < 3; i++) {
		part[i] = client_connect(d.sock);
		line = part_line(i);
		client_write(part[i], line, strlen(line));
		free(line);
	}
	json_decref(await_memory(s, "memory.input_bytes", 3 * PART_BYTES,
	    5000));

	late = client_connect(d.sock);
	line = part_line(3);
	client_write(late, line, strlen(line));
	free(line);
	r = client_recv_json(late, slack_ms(5000));
	jeq(r, "id", "null");
	jstr_is(r, "error.code", "busy");
	jstr_has(r, "error.message", "max_memory_bytes (1048576)");
	json_decref(r);
	/* The rest of the dropped line is skipped; the next one is read. */
	client_write(late, "}\n", 2);
	rpc_pong(late, "{\"op\":\"ping\",\"id\":\"after\"}", "\"after\"");

	for (i = 0; i < 3; i++) {
		char	id[16];

		client_write(part[i], "}\n", 2);
		r = client_recv_json(part[i], slack_ms(5000));
		snprintf(id, sizeof id, "\"p%d\"", i);
		jeq(r, "id", id);
		jbool_is(r, "ok", true);
		cr_assert_eq(jint(r, "results[0].value"), i);
		json_decref(r);
		close(part[i]);
	}
	close(late);
	expect_nothing_held(s);
	close(s);
	daemon_stop(&d);
}
