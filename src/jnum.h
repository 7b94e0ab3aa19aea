/*
 * Numbers jansson cannot hold. jansson stores an integer in 64 bits and a
 * real in a double, and refuses a line with any other number as a parse
 * error; but 18446744073709551616 is valid JSON, and the protocol wants
 * it refused only where an integer field must fit in 64 bits
 * (bad_request), and a number beyond a double refused as bad_json only
 * outside the id.
 *
 * jnum_loadb parses as json_loadb does; when jansson reports a numeric
 * overflow, it scans the line for every number token jansson cannot hold,
 * parses a copy in which each is replaced (an integer beyond 64 bits by
 * the nearest double, written as a real; a number beyond a double by
 * +-1e308), and marks the values that came from them. The marks belong to
 * the calling thread and last until jnum_clear(): jnum_class() and
 * jnum_integer() answer for values of the last tree loaded.
 */
#ifndef GATHERD_JNUM_H
#define GATHERD_JNUM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum jnum_class {
	JNUM_PLAIN,		/* as written, or no number */
	JNUM_BIG_INT,		/* an integer beyond 64 bits; a double holds it */
	JNUM_HUGE_INT,		/* an integer beyond a double */
	JNUM_HUGE_REAL,		/* a real beyond a double */
};

/* What an integer field holds (jnum_integer). */
enum jnum_int {
	JNUM_INT,		/* an integer that fits in 64 bits */
	JNUM_INT_RANGE,		/* an integer that does not */
	JNUM_NOT_INT,		/* anything else (1.0 is not an integer) */
};

json_t		*jnum_loadb(const char *, size_t, size_t, json_error_t *);
enum jnum_class	 jnum_class(const json_t *);
enum jnum_int	 jnum_integer(const json_t *, int64_t *);
const char	*jnum_huge(size_t, size_t);
void		 jnum_clear(void);

#endif
