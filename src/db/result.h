/*
 * The value of a query job, {"columns":[...],"rows":[[...],...],
 * "changes":N}, as JSON text: one encoder for every driver, so that a
 * value reads the same whichever database it came from. A driver names
 * the columns, then gives the rows cell by cell, each in the JSON type
 * its value maps to, and ends with the count of rows changed.
 *
 * One rule for text, in every driver: a text value or a column name must
 * be valid UTF-8 (utf8.c) to become a JSON string, and one that is not
 * fails the job with bad_encoding naming the cell. It never turns into
 * base64 that would pass for text, nor into a null that would pass for
 * NULL; the client selects it as bytes (a blob, a bytea), which are
 * always a base64 string.
 *
 * The value is held to max_bytes (max_result_bytes) while it is built: a
 * cell whose JSON cannot fit is refused before it is encoded (a gigabyte
 * blob is never turned into base64), and the first cell that takes the
 * text over the limit ends it. Either is too_large, and the driver stops
 * reading rows.
 *
 * After a failure every call returns -1 (NULL) and writes nothing; code
 * and error say why. A value is built by one thread at a time: a worker
 * (SQLite) or the loop (PostgreSQL).
 */
#ifndef GATHERD_DB_RESULT_H
#define GATHERD_DB_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct evbuffer;

struct db_result {
	struct evbuffer	*out;		/* owned: the text so far */
	uint64_t	 max_bytes;	/* the most it may take */
	uint64_t	 nrows;		/* rows begun */
	unsigned	 ncols;		/* columns named */
	unsigned	 ncells;	/* cells of the row being written */
	enum err_code	 code;		/* ERR_NONE, or why there is no value */
	char		*error;		/* owned: the message, with code */
};

void	 db_result_init(struct db_result *, uint64_t);
void	 db_result_free(struct db_result *);
char	*db_result_take_error(struct db_result *, enum err_code *);

int	 db_result_column(struct db_result *, const char *, size_t);
int	 db_result_row(struct db_result *);
char	*db_result_end(struct db_result *, uint64_t, size_t *);

int	 db_result_null(struct db_result *);
int	 db_result_bool(struct db_result *, int);
int	 db_result_int(struct db_result *, int64_t);
int	 db_result_real(struct db_result *, double);
int	 db_result_number(struct db_result *, const char *, size_t);
int	 db_result_text(struct db_result *, const char *, size_t);
int	 db_result_bytes(struct db_result *, const void *, size_t);
int	 db_result_json(struct db_result *, const char *, size_t);

#endif
