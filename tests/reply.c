/*
 * What every reply says, asserted; see harness.h.
 */

#include <stdbool.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "jsonpath.h"

/* Assert v is an error reply with this id, code and a message. */
void
expect_error(json_t *v, const char *id, const char *code)
{
	jeq(v, "id", id);
	jbool_is(v, "ok", false);
	jstr_is(v, "error.code", code);
	cr_assert(json_is_string(jget(v, "error.message")),
	    "no error message in %s", jtext(v));
}

/* Assert v is the successful reply to request id. */
void
expect_ok(json_t *v, const char *id)
{
	jeq(v, "id", id);
	jbool_is(v, "ok", true);
}

/* One line, an error reply. */
void
rpc_error(int fd, const char *line, const char *id, const char *code)
{
	json_t	*r = rpc(fd, line);

	expect_error(r, id, code);
	json_decref(r);
}

/* Assert r is a pong with this id, and drop it. */
static void
expect_pong(json_t *r, const char *id)
{
	jeq(r, "id", id);
	jbool_is(r, "pong", true);
	json_decref(r);
}

/* A ping, its pong. */
void
rpc_pong(int fd, const char *line, const char *id)
{
	expect_pong(rpc(fd, line), id);
}

/* The next reply, a pong. */
void
recv_pong(int fd, int ms, const char *id)
{
	expect_pong(client_recv_json(fd, ms), id);
}

/* A ping on a fresh connection, its pong. */
void
daemon_pong(struct daemon *d, const char *line, const char *id)
{
	expect_pong(daemon_request(d, line), id);
}

/* A line on a fresh connection, an error reply with code, saying says. */
void
daemon_refuses(struct daemon *d, const char *line, const char *code,
    const char *says)
{
	json_t	*r = daemon_request(d, line);

	jbool_is(r, "ok", false);
	jstr_is(r, "error.code", code);
	jstr_has(r, "error.message", says);
	json_decref(r);
}

/* One line, a reply of the shape want gives (jexpect). */
void
rpc_expect(int fd, const char *line, const char *const *want)
{
	json_t	*r = rpc(fd, line);

	jexpect(r, want);
	json_decref(r);
}

/* One line, a successful reply. */
void
rpc_ok(int fd, const char *line, const char *id)
{
	json_t	*r = rpc(fd, line);

	expect_ok(r, id);
	json_decref(r);
}

/* One line, a reply that holds pattern. */
void
rpc_has(int fd, const char *line, const char *pattern)
{
	json_t	*r = rpc(fd, line);

	jhas(r, "", pattern);
	json_decref(r);
}

/* The next reply, one that holds pattern. */
void
recv_has(int fd, int ms, const char *pattern)
{
	json_t	*r = client_recv_json(fd, ms);

	jhas(r, "", pattern);
	json_decref(r);
}

/* The next reply, holding pattern, lo to hi ms after t0. */
void
recv_has_between(int fd, const char *pattern, double t0, double lo,
    double hi)
{
	json_t	*r = client_recv_json(fd, slack_ms(HARNESS_REPLY_MS));
	double	 dt = now_ms() - t0;

	jhas(r, "", pattern);
	cr_assert_geq(dt, lo, "%s came after %.1f ms", jtext(r), dt);
	cr_assert_lt(dt, hi, "%s came after %.1f ms", jtext(r), dt);
	json_decref(r);
}

/* The next reply, a successful one. */
void
recv_ok(int fd, int ms, const char *id)
{
	json_t	*r = client_recv_json(fd, ms);

	expect_ok(r, id);
	json_decref(r);
}

/* Assert the stats of batch reply r count these jobs, and no others. */
void
expect_stats(json_t *r, int ok, int failed, int cancelled, int timed_out)
{
	char	*want;

	want = harness_fmt("{\"jobs\":%d,\"ok\":%d,\"failed\":%d,"
	    "\"cancelled\":%d,\"timed_out\":%d}",
	    ok + failed + cancelled + timed_out, ok, failed, cancelled,
	    timed_out);
	jhas(r, "stats", want);
	free(want);
}

/* Start d and a client, send line; its reply. */
json_t *
daemon_rpc(struct daemon *d, int *fd, const char *line)
{
	*fd = daemon_start_client(d, NULL);
	return rpc(*fd, line);
}

/* Send line; assert the reply comes no sooner than lo ms, within hi ms. */
json_t *
rpc_between(int fd, const char *line, double lo, double hi)
{
	json_t	*r;
	double	 dt;

	r = rpc_timed(fd, line, &dt);
	cr_assert_geq(dt, lo, "replied after %.1f ms to %s", dt, line);
	cr_assert_lt(dt, hi, "replied after %.1f ms to %s", dt, line);
	return r;
}

/*
 * Start d with no configuration and a client (its socket in *fd), send
 * line; assert the reply comes no sooner than lo ms and within hi ms.
 */
json_t *
daemon_rpc_between(struct daemon *d, int *fd, const char *line, double lo,
    double hi)
{
	*fd = daemon_start_client(d, NULL);
	return rpc_between(*fd, line, lo, hi);
}

/*
 * Two replies, in either order: a cancel op's, holding cancel, and that
 * of the batch it ended, holding batch. Drops both.
 */
void
expect_cancel_and_batch(json_t *a, json_t *b, const char *cancel,
    const char *batch)
{
	json_t	*t;

	if (json_object_get(a, "cancelled") == NULL) {
		t = a;
		a = b;
		b = t;
	}
	jhas(a, "", cancel);
	jhas(b, "", batch);
	json_decref(a);
	json_decref(b);
}

/* The next two replies on fd, each within ms: expect_cancel_and_batch. */
void
recv_cancel_and_batch(int fd, int ms, const char *cancel, const char *batch)
{
	json_t	*a = client_recv_json(fd, ms);

	expect_cancel_and_batch(a, client_recv_json(fd, ms), cancel, batch);
}

/* A streamed batch's n events, then its reply, as one array. */
json_t *
recv_stream(int fd, int n, int ms)
{
	json_t	*lines = json_array(), *v;
	int	 i;

	cr_assert_not_null(lines);
	for (i = 0; i < n; i++) {
		v = client_recv_json(fd, ms);
		jstr_is(v, "event", "result");
		json_array_append_new(lines, v);
	}
	v = client_recv_json(fd, ms);
	cr_assert_null(jget(v, "event"), "%d events, then another: %s", n,
	    jtext(v));
	json_array_append_new(lines, v);
	return lines;
}

/* One line, its reply, and in *ms how long that took. */
json_t *
rpc_timed(int fd, const char *line, double *ms)
{
	double	 t0 = now_ms();
	json_t	*r = rpc(fd, line);

	*ms = now_ms() - t0;
	return r;
}
