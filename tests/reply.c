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
