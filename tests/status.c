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

	cr_assert(json_is_true(json_object_get(r, "pong")), "ping: %s",
	    jtext(r));
	cr_assert_lt(now_ms() - t0, ms, "ping took %.0f ms", now_ms() - t0);
	json_decref(r);
}
