/*
 * Bad input: broken JSON keeps the connection usable, and every error
 * reply carries its code, a message naming the field, and the id.
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

#include <stdbool.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

/*
 * Bad input keeps the connection usable.
 */

Test(daemon, bad_json_then_a_good_request_on_the_same_connection)
{
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	rpc_error(fd, "{\"jobs\":[", "null", "bad_json");
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":1}", "1");

	/* Valid JSON that is not an object; an id inside broken JSON. */
	rpc_error(fd, "[1,2]", "null", "bad_json");
	rpc_error(fd, "\"a string\"", "null", "bad_json");
	rpc_error(fd, "{\"id\":5,\"op\":\"ping\"", "null", "bad_json");
	rpc_error(fd, "{\"id\":5,\"op\":\"ping\"} trailing", "null",
	    "bad_json");

	/* Blank lines are ignored: exactly one reply. */
	client_write(fd, "\n\n", 2);
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":2}", "2");
	client_write(fd, "  \r\n\t\n", 6);
	rpc_pong(fd, "{\"op\":\"ping\",\"id\":3}", "3");
	expect_silence(fd, 200);
	close(fd);
	daemon_stop(&d);
}

/*
 * Error codes over the wire.
 */

Test(daemon, error_replies_carry_code_message_and_id)
{
	static const struct {
		const char	*line;
		const char	*id;
		const char	*code;
		const char	*message;	/* exact, or NULL: any */
	} bad[] = {
		{ "{\"op\":\"nope\",\"id\":1}", "1", "unknown_op", NULL },
		{ "{\"id\":2,\"jobs\":[{\"type\":\"nope\"}]}",
		    "2", "unknown_type",
		    "jobs[0].type: unknown job type \"nope\"" },
		{ "{\"id\":3,\"jobs\":[{\"type\":\"sleep\"}]}",
		    "3", "bad_request", "jobs[0].ms: missing required field" },
		{ "{\"id\":4,\"timout_ms\":100,\"jobs\":[]}",
		    "4", "bad_request", "timout_ms: unknown field" },
		{ "{\"id\":5,\"jobs\":[{\"type\":\"sleep\",\"ms\":-1}]}",
		    "5", "bad_request",
		    "jobs[0].ms: expected a non-negative number" },
		{ "{\"id\":6,\"jobs\":[{\"type\":\"sleep\",\"ms\":1,"
		    "\"timout_ms\":5}]}",
		    "6", "bad_request", "jobs[0].timout_ms: unknown field" },
		/* Integer fields take JSON integers only. */
		{ "{\"id\":7,\"concurrency\":1.0,\"jobs\":[]}",
		    "7", "bad_request", NULL },
		{ "{\"id\":8,\"concurrency\":0,\"jobs\":[]}",
		    "8", "bad_request", NULL },
		{ "{\"id\":9,\"mode\":\"some\",\"jobs\":[]}",
		    "9", "bad_request", NULL },
		{ "{\"id\":10}",
		    "10", "bad_request", "jobs: missing required field" },
		{ "{\"id\":11,\"op\":\"cancel\"}",
		    "11", "bad_request", "target: missing required field" },
		{ "{\"id\":15,\"op\":\"ping\",\"jobs\":[]}",
		    "15", "bad_request", "jobs: unknown field" },
		{ "{\"id\":16,\"op\":7}", "16", "bad_request", NULL },
		{ "{\"id\":17,\"op\":\"status\",\"detail\":1}",
		    "17", "bad_request", NULL },
		{ "{\"id\":18,\"stream\":\"yes\",\"jobs\":[]}",
		    "18", "bad_request", NULL },
		{ "{\"id\":19,\"jobs\":{}}", "19", "bad_request", NULL },
		{ "{\"id\":20,\"jobs\":[7]}",
		    "20", "bad_request", "jobs[0]: expected an object" },
	};
	json_t	*r, *st;
	size_t	 i;
	int	 fd;

	fd = daemon_start_client(&d, NULL);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = rpc(fd, bad[i].line);
		expect_error(r, bad[i].id, bad[i].code);
		if (bad[i].message != NULL)
			jstr_is(r, "error.message", bad[i].message);
		json_decref(r);
	}

	/* null is the same as absent. */
	rpc_ok(fd, "{\"id\":12,\"mode\":null,\"timeout_ms\":null,"
	    "\"concurrency\":null,\"stream\":null,\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":1,\"timeout_ms\":null}]}", "12");

	/* "jobs":[] is answered at once. */
	r = rpc(fd, "{\"id\":13,\"jobs\":[]}");
	expect_ok(r, "13");
	jeq(r, "results", "[]");
	cr_assert_eq(jint(r, "stats.jobs"), 0);
	json_decref(r);

	/*
	 * The whole request is validated before any job starts: one bad job
	 * and the good one before it never runs.
	 */
	r = rpc(fd, "{\"id\":14,\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":\"1\"}]}");
	expect_error(r, "14", "bad_request");
	jstr_is(r, "error.message",
	    "jobs[1].ms: expected a non-negative number");
	json_decref(r);
	st = status_of(&d);
	cr_assert_eq(jint(st, "jobs.done"), 1, "only id 12's job: %s",
	    jtext(st));
	expect_idle(st);
	json_decref(st);

	expect_silence(fd, 50);
	close(fd);
	daemon_stop(&d);
}
