/*
 * The wire, exactly, through a real daemon: the id comes back as the
 * client wrote it, integers beyond 64 bits are bad_request only where an
 * integer field must hold them, a NUL byte is bad_json and a NUL in a name
 * is quoted, "\r\n" is a line end whose '\r' does not count, every reply
 * is valid UTF-8, and JSONTestSuite's files get the answers the README
 * lists. And big lines are parsed off the loop: other clients are
 * answered meanwhile, the connection's own next lines wait their turn, and
 * a client or a daemon that goes away meanwhile leaves nothing behind.
 *
 * Replies are read as raw lines (client_recv) and checked as bytes before
 * they are parsed (with the daemon's jnum_loadb: jansson alone refuses an
 * id like 18446744073709551616); anything shown in a failure message is
 * escaped first (jsts_shown), as request bytes here are often not UTF-8.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jnum.h"
#include "jsonpath.h"
#include "jsts.h"
#include "utf8.h"

static struct daemon	d;

HARNESS_SUITE(wire, 240);

/*
 * The next reply line on fd, raw; asserts one comes within ms, that it is
 * valid UTF-8 and JSON (*json, when not NULL, gets it parsed). Caller
 * frees (and decrefs).
 */
static char *
recv_raw(int fd, int ms, json_t **json)
{
	json_error_t	 err;
	json_t		*v;
	char		*s;
	size_t		 len;

	s = client_recv(fd, slack_ms(ms));
	cr_assert_not_null(s, "no reply within %d ms", slack_ms(ms));
	len = strlen(s);
	cr_assert(utf8_valid((const unsigned char *)s, len, NULL),
	    "reply is not UTF-8: %s", jsts_shown(s, len));
	/* jansson refuses numbers it cannot hold; the daemon's loader not. */
	v = jnum_loadb(s, len, JSON_ALLOW_NUL, &err);
	jnum_clear();
	cr_assert_not_null(v, "reply is not JSON (%s): %s",
	    jsts_shown(err.text, strlen(err.text)), jsts_shown(s, len));
	if (json != NULL)
		*json = v;
	else
		json_decref(v);
	return s;
}

/* The next reply on fd, parsed. Caller decrefs. */
static json_t *
recv_json(int fd, int ms)
{
	json_t	*v;

	free(recv_raw(fd, ms, &v));
	return v;
}

/* Send len bytes of line and a newline on fd; return the reply, parsed. */
static json_t *
ask_bytes(int fd, const char *line, size_t len)
{
	client_write(fd, line, len);
	client_write(fd, "\n", 1);
	return recv_json(fd, 5000);
}

static json_t *
ask(int fd, const char *line)
{
	return ask_bytes(fd, line, strlen(line));
}

/* Send line; assert the reply is this error, its message holding words. */
static void
ask_error(int fd, const char *line, const char *id, const char *code,
    const char *words)
{
	json_t	*r = ask(fd, line);

	expect_error(r, id, code);
	jstr_has(r, "error.message", words);
	json_decref(r);
}

/* What the batch of one job a cancel ended holds. */
#define ONE_CANCELLED \
	"\"results\":[{\"ok\":false,\"error\":{\"code\":\"cancelled\"}}]"

/* The next two replies on fd: expect_cancel_and_batch, read as JSON here. */
static void
recv_cancelled(int fd, int ms, const char *cancel, const char *batch)
{
	json_t	*a = recv_json(fd, ms);

	expect_cancel_and_batch(a, recv_json(fd, ms), cancel, batch);
}

/* Assert the raw reply begins with want. */
static void
expect_prefix(const char *reply, const char *want)
{
	cr_assert(strncmp(reply, want, strlen(want)) == 0,
	    "reply %s does not begin %s", jsts_shown(reply, strlen(reply)),
	    want);
}

/* Send the line made of head, id and tail. */
static void
send_with_id(int fd, const char *head, const char *id, const char *tail)
{
	char	*line = harness_fmt("%s%s%s", head, id, tail);

	client_send(fd, line);
	free(line);
}

/* Assert the next raw reply on fd begins {"id":ID and then rest. */
static void
expect_id_reply(int fd, const char *id, const char *rest)
{
	char	*raw = recv_raw(fd, 5000, NULL), *want;

	want = harness_fmt("{\"id\":%s%s", id, rest);
	expect_prefix(raw, want);
	free(want);
	free(raw);
}

Test(wire, the_id_comes_back_exactly_as_the_client_wrote_it)
{
	static const char *const ids[] = {
		"1E2", "0.1", "-0", "-0.0e+0", "18446744073709551616",
		"-12345678901234567890123456789", "1e400", "2.5E-400",
		"[1.50,{\"a\":1e5,\"b\":[-0]}]", "{\"id\":10E1}",
	};
	size_t	 i;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		/* Whitespace around it is not part of it. */
		send_with_id(fd, "{ \"id\" :\t", ids[i], " ,\"op\":\"ping\"}");
		expect_id_reply(fd, ids[i], ",\"ok\":true,\"pong\":true");

		/* A batch's stream event and final reply, and an error. */
		send_with_id(fd, "{\"id\":", ids[i], ",\"stream\":true,\"jobs\":"
		    "[{\"type\":\"sleep\",\"ms\":0}]}");
		expect_id_reply(fd, ids[i], ",\"event\":\"result\"");
		expect_id_reply(fd, ids[i], ",\"ok\":true,\"elapsed_ms\"");
		send_with_id(fd, "{\"id\":", ids[i], ",\"op\":\"nap\"}");
		expect_id_reply(fd, ids[i], ",\"ok\":false");
	}
	close(fd);
	daemon_stop(&d);
}

Test(wire, a_batch_with_an_id_beyond_64_bits_can_be_cancelled)
{
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"id\":18446744073709551616,\"jobs\":"
	    "[{\"type\":\"sleep\",\"ms\":600000}]}");
	client_send(fd, "{\"id\":18446744073709551617,\"jobs\":"
	    "[{\"type\":\"sleep\",\"ms\":1}]}");
	r = recv_json(fd, 5000);
	jbool_is(r, "ok", true);
	json_decref(r);
	client_send(fd, "{\"id\":\"c\",\"op\":\"cancel\","
	    "\"target\":18446744073709551616}");
	recv_cancelled(fd, 5000, "{\"id\":\"c\",\"cancelled\":1}",
	    "{" ONE_CANCELLED "}");
	close(fd);
	daemon_stop(&d);
}

Test(wire, integers_beyond_64_bits_are_refused_only_in_integer_fields)
{
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	r = ask(fd, "{\"id\":1,\"jobs\":[{\"type\":\"read\",\"path\":\"f\","
	    "\"offset\":18446744073709551616}]}");
	expect_error(r, "1", "bad_request");
	jstr_is(r, "error.message", "jobs[0].offset: integer out of range (a"
	    " signed 64-bit integer is expected)");
	json_decref(r);
	ask_error(fd, "{\"id\":2,\"jobs\":[],\"concurrency\":"
	    "-99999999999999999999}",
	    "2", "bad_request", "concurrency: integer out of range");

	/* As a value, a double holds it; past a double, it is bad_json. */
	r = ask(fd, "{\"id\":3,\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":[18446744073709551616,-1e-400]}]}");
	jbool_is(r, "ok", true);
	cr_assert_eq(jnum(r, "results[0].value[0]"), 18446744073709551616.0);
	cr_assert_eq(jnum(r, "results[0].value[1]"), 0.0);
	json_decref(r);
	ask_error(fd, "{\"id\":4,\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":1e400}]}",
	    "null", "bad_json", "beyond the range of a double");
	close(fd);
	daemon_stop(&d);
}

Test(wire, nul_bytes_are_bad_json_and_nul_in_a_name_is_quoted)
{
	static const char	after_number[] = "{\"id\":1,\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":0,\"value\":123\0}]}";
	json_t			*r;
	int			 fd;

	fd = daemon_start_client(&d, NULL);
	r = ask_bytes(fd, after_number, sizeof after_number - 1);
	expect_error(r, "null", "bad_json");
	jstr_has(r, "error.message", "a NUL byte");
	json_decref(r);
	r = ask(fd, "{\"id\":2,\"jobs\":[{\"type\":\"sleep\\u0000\",\"ms\":0}]}");
	expect_error(r, "2", "unknown_type");
	jstr_is(r, "error.message",
	    "jobs[0].type: unknown job type \"sleep\\u0000\"");
	json_decref(r);
	r = ask(fd, "{\"id\":3,\"op\":\"ping\\u0000\"}");
	expect_error(r, "3", "unknown_op");
	jstr_is(r, "error.message", "op: unknown op \"ping\\u0000\"");
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

/* A ping line of exactly len bytes, with id "pad...". Caller frees. */
static char *
ping_of(size_t len)
{
	const char	*head = "{\"op\":\"ping\",\"id\":\"", *tail = "\"}";
	size_t		 fixed = strlen(head) + strlen(tail);
	char		*s;

	cr_assert_gt(len, fixed);
	cr_assert_not_null(s = malloc(len + 1));
	strcpy(s, head);
	memset(s + strlen(head), 'a', len - fixed);
	strcpy(s + len - strlen(tail), tail);
	return s;
}

Test(wire, a_crlf_line_end_does_not_count_toward_max_request_bytes)
{
	char	*exact = ping_of(1024), *over = ping_of(1025);
	json_t	*r;
	int	 fd;

	fd = daemon_start_client(&d, "[limits]\nmax_request_bytes = 1024\n");
	client_write(fd, exact, 1024);
	r = ask(fd, "\r");
	jbool_is(r, "pong", true);
	json_decref(r);

	/* The '\r' read alone, its '\n' later: not too large either. */
	client_write(fd, exact, 1024);
	client_write(fd, "\r", 1);
	client_wait_read(fd);
	r = ask(fd, "");
	jbool_is(r, "pong", true);
	json_decref(r);

	/* One byte more is too large, '\r' or not, and so is a second '\r'. */
	client_write(fd, over, 1025);
	r = ask(fd, "\r");
	expect_error(r, "null", "too_large");
	json_decref(r);
	client_write(fd, exact, 1024);
	r = ask(fd, "\r\r");
	expect_error(r, "null", "too_large");
	json_decref(r);
	r = ask(fd, "{\"op\":\"ping\",\"id\":\"still\"}\r");
	jeq(r, "id", "\"still\"");
	json_decref(r);
	free(exact);
	free(over);
	close(fd);
	daemon_stop(&d);
}

Test(wire, every_reply_is_utf8_whatever_bytes_the_request_holds)
{
	/* Each puts a character jansson cuts in half into its message. */
	static const char *const lines[] = {
		"{\"op\":\xc3\xa9}",
		"{\"id\":1,\"op\":\"ping\",\"x\":\xe2\x82\xac}",
		"[\xf0\x9f\x98\x80]",
		"{\"op\":\"\xff\"}",
		"{\"id\":\"\xed\xa0\x80\"}",
		"{\"op\":\"ping\" \xe2\x82}",
		"{\"a\":\"\\\xf0\x9f\x98\x80\"}",
		"\xc3",
	};
	json_t	*r;
	size_t	 i;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		r = ask(fd, lines[i]);	/* asserts UTF-8 */
		expect_error(r, "null", "bad_json");
		json_decref(r);
	}
	close(fd);
	daemon_stop(&d);
}

Test(wire, json_test_suite_files_get_the_documented_answers)
{
	struct jsts_case	*cases;
	json_t			*r, *want, *got;
	size_t			 n, i;
	int			 fd;

	cases = jsts_load(&n);
	fd = daemon_start_client(&d, NULL);
	for (i = 0; i < n; i++) {
		r = ask_bytes(fd, cases[i].line, cases[i].line_len);
		if (!cases[i].accepted) {
			cr_assert(json_is_object(json_object_get(r, "error")) &&
			    strcmp(jstr(r, "error.code"), "bad_json") == 0,
			    "%s: want bad_json, got %s", cases[i].name, jtext(r));
			jeq(r, "id", "null");
			json_decref(r);
			continue;
		}
		cr_assert(json_is_true(json_object_get(r, "ok")),
		    "%s: want ok, got %s", cases[i].name, jtext(r));
		/* Compared as JSON values: the same value came back. */
		if (cases[i].kind == 'y') {
			cr_assert_not_null(want = jsts_value(&cases[i]));
			got = jget(r, "results[0].value");
			cr_assert(json_equal(got, want), "%s: sent %s, got %s",
			    cases[i].name, jtext(want), jtext(got));
			json_decref(want);
		}
		json_decref(r);
	}
	close(fd);
	jsts_free(cases, n);
	daemon_stop(&d);
}

/*
 * A line of about nkeys * 20 bytes: head, an object of nkeys members,
 * tail. jansson takes a second or more for some 15 MB of it.
 */
static char *
big_line(const char *head, size_t nkeys, const char *tail, size_t *lenp)
{
	size_t	 cap = strlen(head) + nkeys * 24 + strlen(tail) + 8, len;
	size_t	 i;
	char	*s;

	cr_assert_not_null(s = malloc(cap));
	len = (size_t)snprintf(s, cap, "%s{", head);
	for (i = 0; i < nkeys; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"key%07zu\":%zu",
		    i > 0 ? "," : "", i, i);
	len += (size_t)snprintf(s + len, cap - len, "}%s\n", tail);
	*lenp = len;
	return s;
}

/* Keys in a big line: fewer when the daemon is slowed down. */
static size_t
big_keys(void)
{
	return harness_slack() > 1.0 ? 40000 : 200000;
}

/* Whether fd has something to read now. */
static int
readable(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/*
 * While one client's big line is parsed, another is answered: its ping
 * comes back before the big line's reply, which the daemon writes as
 * soon as the parse ends. With the parse on the loop, the big reply was
 * always first.
 */
Test(wire, a_ping_is_answered_while_a_big_line_is_parsed)
{
	json_t	*r;
	char	*big;
	size_t	 len;
	int	 a, b;

	daemon_start(&d, NULL, NULL);
	big = big_line("{\"id\":\"big\",\"op\":\"ping\",\"x\":", big_keys(),
	    "}", &len);
	a = client_connect(d.sock);
	b = client_connect(d.sock);
	client_write(a, big, len);
	client_wait_read(a);		/* the line is in the daemon: in parse */
	client_send(b, "{\"op\":\"ping\",\"id\":\"b\"}");
	r = recv_json(b, 10000);
	jeq(r, "id", "\"b\"");
	json_decref(r);
	cr_assert(!readable(a), "the big line was answered first: it was not"
	    " parsed off the loop");
	r = recv_json(a, 60000);
	expect_error(r, "\"big\"", "bad_request");
	jstr_is(r, "error.message", "x: unknown field");
	json_decref(r);
	free(big);
	close(a);
	close(b);
	daemon_stop(&d);
}

/*
 * The lines after a big one wait for it: a cancel sent right behind a
 * big batch finds that batch running, and a ping behind a big refused
 * line is answered second.
 */
Test(wire, the_next_lines_of_a_connection_wait_for_its_big_line)
{
	json_t	*r;
	char	*big;
	size_t	 len;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	big = big_line("{\"id\":\"big\",\"jobs\":[{\"type\":\"sleep\",\"ms\":"
	    "600000,\"value\":", big_keys(), "}]}", &len);
	client_write(fd, big, len);
	client_send(fd, "{\"id\":\"c\",\"op\":\"cancel\",\"target\":\"big\"}");
	recv_cancelled(fd, 60000, "{\"cancelled\":1}",
	    "{\"id\":\"big\"," ONE_CANCELLED "}");
	free(big);

	big = big_line("{\"id\":\"big2\",\"op\":\"ping\",\"x\":", big_keys(), "}",
	    &len);
	client_write(fd, big, len);
	client_send(fd, "{\"id\":\"after\",\"op\":\"ping\"}");
	r = recv_json(fd, 60000);
	jeq(r, "id", "\"big2\"");
	json_decref(r);
	r = recv_json(fd, 5000);
	jeq(r, "id", "\"after\"");
	json_decref(r);
	free(big);
	close(fd);
	daemon_stop(&d);
}

/*
 * A client that closes while its line is in parse costs nothing (the
 * daemon's exit checks leaks under valgrind and ASan); one that only
 * half-closes still gets its reply, then the end of the stream, also
 * when its last line has no newline (socat's way).
 */
Test(wire, a_client_that_leaves_during_a_parse_leaves_nothing_behind)
{
	json_t	*r;
	char	*big, *rest;
	size_t	 len;
	int	 a, b, i;

	daemon_start(&d, NULL, NULL);
	big = big_line("{\"id\":\"big\",\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":", big_keys(), "}]}", &len);
	a = client_connect(d.sock);
	client_write(a, big, len);
	client_wait_read(a);
	close(a);

	for (i = 0; i < 2; i++) {
		a = client_connect(d.sock);
		client_write(a, big, len - (size_t)i);	/* i: no newline */
		cr_assert_eq(shutdown(a, SHUT_WR), 0);
		r = recv_json(a, 60000);
		jeq(r, "id", "\"big\"");
		jbool_is(r, "ok", true);
		json_decref(r);
		rest = client_recv(a, slack_ms(10000));
		cr_assert_null(rest, "more after the reply: %s",
		    rest != NULL ? jsts_shown(rest, strlen(rest)) : "");
		close(a);
	}

	b = client_connect(d.sock);
	r = ask(b, "{\"op\":\"status\"}");
	jeq(r, "status.batches.in_flight", "0");
	json_decref(r);
	close(b);
	free(big);
	daemon_stop(&d);
}

/*
 * SIGTERM while a line is in parse, the next line read behind it: the
 * daemon waits for the parse (up to its flush grace) and answers the
 * batch shutting_down, then the line behind it; or it drops both if the
 * parse outlasts the grace. Either way the order holds, and it exits 0
 * with nothing leaked.
 *
 * What the daemon gets at once is set up, not raced: the big line goes in
 * without its newline; then, the daemon stopped, its newline and the ping
 * go in with one write, and SIGTERM is queued. Sent apart, the big line's
 * end could be read before the ping was written, and the ping was then
 * read only once the parse was done: the batch had started, and SIGTERM
 * came too late for the case under test. All that is left to timing is
 * that the parse (tens of milliseconds at least) outlasts the loop's step
 * from the read to the signal.
 */
Test(wire, sigterm_during_a_parse_ends_cleanly)
{
	const char	*tail = "\n{\"id\":\"after\",\"op\":\"ping\"}\n";
	json_t		*r;
	char		*big, *s;
	size_t		 len;
	int		 a, status;

	daemon_start(&d, NULL, NULL);
	big = big_line("{\"id\":\"big\",\"jobs\":[{\"type\":\"sleep\",\"ms\":0,"
	    "\"value\":", big_keys(), "}]}", &len);
	a = client_connect(d.sock);
	client_write(a, big, len - 1);		/* not its newline yet */
	client_wait_read(a);
	daemon_pause(&d);
	client_write(a, tail, strlen(tail));
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	daemon_resume(&d);
	if ((s = client_recv(a, slack_ms(30000))) != NULL) {
		r = json_loads(s, 0, NULL);
		cr_assert_not_null(r, "not JSON: %s", jsts_shown(s, strlen(s)));
		expect_error(r, "\"big\"", "shutting_down");
		json_decref(r);
		free(s);
		r = recv_json(a, 5000);
		jeq(r, "id", "\"after\"");
		json_decref(r);
	}
	status = daemon_wait(&d, slack_ms(30000));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd did not exit 0 (status %d)", status);
	close(a);
	free(big);
	daemon_stop(&d);
}

/*
 * A big request's trees (its id, a cancel's target) outlive the parse:
 * the id is echoed whole and exact, the cancel finds the batch by it, and
 * both trees are freed (on the parse thread) without a leak.
 */
Test(wire, a_big_id_and_a_big_target_are_kept_and_freed)
{
	char	*id, *line, *raw, *want;
	size_t	 len;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	id = big_line("", 20000, "", &len);
	id[len - 1] = '\0';	/* the newline */
	line = harness_fmt("{\"id\":%s,\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":600000}]}", id);
	client_send(fd, line);
	free(line);
	line = harness_fmt("{\"op\":\"cancel\",\"target\":%s}", id);
	client_send(fd, line);
	free(line);
	recv_cancelled(fd, 30000, "{\"cancelled\":1}", "{" ONE_CANCELLED "}");

	/* Whole and exact: a ping's reply holds the id's text as sent. */
	line = harness_fmt("{\"op\":\"ping\",\"id\":%s}", id);
	client_send(fd, line);
	raw = recv_raw(fd, 30000, NULL);
	want = harness_fmt("{\"id\":%s,\"ok\":true", id);
	expect_prefix(raw, want);
	free(want);
	free(raw);
	free(line);
	free(id);
	close(fd);
	daemon_stop(&d);
}

/*
 * A big batch the fast parser takes up and then gives up on (its last
 * job is unknown): what it made of the request, the big id tree and the
 * batch holding it, is dropped on the parse thread, and the slow way
 * words the error with the id whole. The connection goes on, and the
 * daemon exits clean (valgrind's leak check in scripts/test).
 */
Test(wire, a_big_batch_the_fast_parser_gives_up_on_is_freed)
{
	char	*id, *jobs, *line, *raw, *want;
	size_t	 len;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	id = big_line("", 20000, "", &len);
	id[len - 1] = '\0';	/* the newline */
	jobs = harness_repeat("{\"type\":\"sleep\",\"ms\":1},", 5000,
	    "{\"type\":\"nope\"}");
	line = harness_fmt("{\"id\":%s,\"jobs\":[%s]}", id, jobs);
	client_send(fd, line);
	free(line);
	free(jobs);
	raw = recv_raw(fd, 30000, NULL);
	want = harness_fmt("{\"id\":%s,\"ok\":false,\"error\":{\"code\":"
	    "\"unknown_type\",\"message\":\"jobs[5000].type:", id);
	expect_prefix(raw, want);
	free(want);
	free(raw);
	free(id);
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":7}", "7");
	close(fd);
	daemon_stop(&d);
}
