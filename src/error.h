/*
 * The error codes of the wire protocol, every one protocol.md names (so a
 * new job type adds none: http_error is the http type's).
 */
#ifndef GATHERD_ERROR_H
#define GATHERD_ERROR_H

enum err_code {
	ERR_NONE = 0,
	ERR_BAD_JSON,
	ERR_BAD_REQUEST,
	ERR_UNKNOWN_OP,
	ERR_UNKNOWN_TYPE,
	ERR_TOO_LARGE,
	ERR_BUSY,
	ERR_TIMEOUT,
	ERR_CANCELLED,
	ERR_NOT_FOUND,
	ERR_FORBIDDEN,
	ERR_IO_ERROR,
	ERR_BAD_ENCODING,
	ERR_UNKNOWN_DB,
	ERR_DB_ERROR,
	ERR_HTTP_ERROR,
	ERR_SHUTTING_DOWN,
	ERR_INTERNAL,
};

const char	*err_name(enum err_code);
/*
 * Record a failure, code and message (taken), in *codep and *messagep
 * unless one is there already: the first reason stands, a later one is
 * freed.
 */
void		 err_keep_first(enum err_code *codep, char **messagep,
		    enum err_code code, char *message);

#endif
