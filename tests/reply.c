/*
 * What every reply says, asserted; see harness.h.
 */

#include <stdbool.h>

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

/* A ping on a fresh connection, its pong. */
void
daemon_pong(struct daemon *d, const char *line, const char *id)
{
	expect_pong(daemon_request(d, line), id);
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

/* The next reply, a successful one. */
void
recv_ok(int fd, int ms, const char *id)
{
	json_t	*r = client_recv_json(fd, ms);

	expect_ok(r, id);
	json_decref(r);
}
