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

/* A ping, its pong. */
void
rpc_pong(int fd, const char *line, const char *id)
{
	json_t	*r = rpc(fd, line);

	jeq(r, "id", id);
	jbool_is(r, "pong", true);
	json_decref(r);
}
