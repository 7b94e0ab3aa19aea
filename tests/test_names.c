/*
 * A job's name: echoed as "name" in its result and in its stream event,
 * at every level, so a client can match results by name as well as by
 * index; a job without one has none.
 *
 * End-to-end: a real gatherd on a private Unix socket; the protocol's
 * end-to-end suites share the suite name daemon.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"

static struct daemon	d;	/* this test's daemon */

HARNESS_SUITE(daemon, 30);

Test(daemon, names_come_back_in_results_at_every_level)
{
	json_t	*r, *want;
	int	 fd;

	fd = daemon_start_client(&d, NULL);
	r = rpc(fd, "{\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":1,\"name\":\"users\",\"value\":1},"
	    "{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"read\",\"path\":\"/nonexistent\",\"name\":\"\"},"
	    "{\"type\":\"group\",\"name\":\"g\",\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":1,\"name\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\"}]}]}");
	jstr_is(r, "results[0].name", "users");
	jeq(r, "results[0].value", "1");
	cr_assert_null(jget(r, "results[1].name"), "%s", jtext(r));
	/* A failed job keeps its name; an empty name is a name. */
	jstr_is(r, "results[2].name", "");
	jstr_is(r, "results[2].error.code", "forbidden");
	jstr_is(r, "results[3].name", "g");
	want = json_string("caf\xc3\xa9 \"q\" \xf0\x9f\x98\x80");
	cr_assert(json_equal(jget(r, "results[3].value[0].name"), want), "%s",
	    jtext(r));
	json_decref(want);
	json_decref(r);
	close(fd);
	daemon_stop(&d);
}

Test(daemon, names_come_back_in_stream_events)
{
	json_t	*lines, *v;
	int	 fd, i;

	fd = daemon_start_client(&d, NULL);
	client_send(fd, "{\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":1,\"name\":\"first\"},"
	    "{\"type\":\"sleep\",\"ms\":30,\"name\":\"second\"},"
	    "{\"type\":\"sleep\",\"ms\":60}]}");
	lines = recv_stream(fd, 3, slack_ms(2000));
	for (i = 0; i < 3; i++) {
		v = json_array_get(lines, (size_t)i);
		switch (jint(v, "index")) {
		case 0:
			jstr_is(v, "name", "first");
			jstr_is(v, "result.name", "first");
			break;
		case 1:
			jstr_is(v, "name", "second");
			jstr_is(v, "result.name", "second");
			break;
		default:
			cr_assert_null(jget(v, "name"), "%s", jtext(v));
			cr_assert_null(jget(v, "result.name"), "%s", jtext(v));
		}
	}
	json_decref(lines);
	close(fd);
	daemon_stop(&d);
}
