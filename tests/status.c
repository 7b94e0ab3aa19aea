/*
 * The daemon's status, as tests ask for it and wait on it; see harness.h.
 */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "jsonpath.h"

/* The status object, asked on fd. */
json_t *
status_on(int fd)
{
	json_t	*r, *st;

	r = rpc(fd, "{\"op\":\"status\"}");
	st = json_incref(json_object_get(r, "status"));
	cr_assert(json_is_object(st), "status reply: %s", jtext(r));
	json_decref(r);
	return st;
}

/* The daemon's status object. */
json_t *
daemon_status(struct daemon *d, int timeout_ms)
{
	json_t	*r, *st;

	r = daemon_request_ms(d, "{\"op\":\"status\"}", timeout_ms);
	st = json_incref(json_object_get(r, "status"));
	cr_assert(json_is_object(st), "status reply: %s", jtext(r));
	json_decref(r);
	return st;
}

/* A ping, answered within ms. */
void
daemon_ping(struct daemon *d, int ms)
{
	double	 t0 = now_ms();
	json_t	*r = daemon_request_ms(d, "{\"op\":\"ping\"}", ms);

	cr_assert(json_is_true(json_object_get(r, "ok")) &&
	    json_is_true(json_object_get(r, "pong")), "ping: %s", jtext(r));
	cr_assert_lt(now_ms() - t0, ms, "ping took %.0f ms", now_ms() - t0);
	json_decref(r);
}

/* The status object within HARNESS_REPLY_MS, stretched. */
json_t *
status_of(struct daemon *d)
{
	return daemon_status(d, slack_ms(HARNESS_REPLY_MS));
}

/* Assert st shows nothing in flight or waiting. */
void
expect_idle(json_t *st)
{
	cr_assert_eq(jint(st, "jobs.in_flight"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "jobs.waiting"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "jobs.retrying"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "batches.in_flight"), 0, "%s", jtext(st));
}

/* Assert the daemon is idle now. */
void
daemon_expect_idle(struct daemon *d)
{
	json_t	*st = status_of(d);

	expect_idle(st);
	json_decref(st);
}

/* Whether st is settled as want says. */
static bool
settled(json_t *st, const struct settled *want)
{
	if (jint(st, "jobs.in_flight") != 0 || jint(st, "jobs.waiting") != 0 ||
	    jint(st, "jobs.retrying") != 0 ||
	    jint(st, "batches.in_flight") != 0)
		return false;
	if (want->conns > 0 && jint(st, "connections.open") != want->conns)
		return false;
	if (want->jobs_done > 0 && jint(st, "jobs.done") != want->jobs_done)
		return false;
	if (want->pool >= SETTLED_QUEUED && jint(st, "pool.queued") != 0)
		return false;
	return want->pool < SETTLED_POOL || jint(st, "pool.busy") == 0;
}

/* Ask status until the daemon is settled; see harness.h. */
json_t *
await_settled(struct daemon *d, int fd, const struct settled *want,
    double since, double within_ms, const char *what)
{
	json_t	*st;

	for (;;) {
		st = fd == -1 ? status_of(d) : status_on(fd);
		if (settled(st, want))
			return st;
		cr_assert_lt(now_ms() - since, within_ms, "%s: not settled"
		    " after %.0f ms: %s", what, now_ms() - since, jtext(st));
		json_decref(st);
		sleep_ms(5);
	}
}

/* Ask status until path is want. */
json_t *
await_status(struct daemon *d, int fd, const char *path, json_int_t want,
    double within_ms)
{
	double	 t0 = now_ms();
	json_t	*st;

	for (;;) {
		st = fd == -1 ? status_of(d) : status_on(fd);
		if (jint(st, path) == want)
			return st;
		cr_assert_lt(now_ms() - t0, within_ms, "%s is not %lld after"
		    " %.0f ms: %s", path, (long long)want, now_ms() - t0,
		    jtext(st));
		json_decref(st);
		sleep_ms(5);
	}
}

/* Ask status until n batches have started. */
json_t *
await_batches_started(struct daemon *d, json_int_t n, double within_ms)
{
	double	 t0 = now_ms();
	json_t	*st;

	for (;;) {
		st = status_of(d);
		if (jint(st, "batches.in_flight") + jint(st, "batches.done") >=
		    n)
			return st;
		cr_assert_lt(now_ms() - t0, within_ms, "%lld batches not"
		    " started after %.0f ms: %s", (long long)n, now_ms() - t0,
		    jtext(st));
		json_decref(st);
		sleep_ms(5);
	}
}
