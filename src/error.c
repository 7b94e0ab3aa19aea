/*
 * Names of the protocol's error codes, as written on the wire; and the
 * one rule for a failure recorded twice: the first reason stands.
 */

#include <stdlib.h>

#include "error.h"

static const char *const err_names[] = {
	[ERR_NONE] = "none",
	[ERR_BAD_JSON] = "bad_json",
	[ERR_BAD_REQUEST] = "bad_request",
	[ERR_UNKNOWN_OP] = "unknown_op",
	[ERR_UNKNOWN_TYPE] = "unknown_type",
	[ERR_TOO_LARGE] = "too_large",
	[ERR_BUSY] = "busy",
	[ERR_TIMEOUT] = "timeout",
	[ERR_CANCELLED] = "cancelled",
	[ERR_NOT_FOUND] = "not_found",
	[ERR_FORBIDDEN] = "forbidden",
	[ERR_IO_ERROR] = "io_error",
	[ERR_BAD_ENCODING] = "bad_encoding",
	[ERR_UNKNOWN_DB] = "unknown_db",
	[ERR_DB_ERROR] = "db_error",
	[ERR_HTTP_ERROR] = "http_error",
	[ERR_SHUTTING_DOWN] = "shutting_down",
	[ERR_INTERNAL] = "internal",
};

/* The wire name of an error code. */
const char *
err_name(enum err_code code)
{
	if ((unsigned)code >= sizeof err_names / sizeof err_names[0])
		return "internal";
	return err_names[code];
}

/* Record a failure unless one is recorded; the first reason stands. */
void
err_keep_first(enum err_code *codep, char **messagep, enum err_code code,
    char *message)
{
	if (*codep != ERR_NONE) {
		free(message);
		return;
	}
	*codep = code;
	*messagep = message;
}
