/*
 * Walking JSON text without building a tree: where a value ends, where a
 * member of the top-level object is, a value's text without whitespace.
 * jansson keeps no number's text, so what must go back to the client as
 * it wrote it (the request's id) is taken from the line itself.
 *
 * The text is expected to be valid JSON (jansson accepted it); on any
 * other text every function stays within its bounds and returns something
 * harmless, never reads past the end. Pure functions: any thread.
 */
#ifndef GATHERD_JSCAN_H
#define GATHERD_JSCAN_H

#include <stddef.h>

const char	*jscan_ws(const char *, const char *);
long		 jscan_hex4(const char *, const char *);
const char	*jscan_string_end(const char *, const char *);
const char	*jscan_value_end(const char *, const char *);
int		 jscan_member(const char *, size_t, const char *,
		    const char **, const char **);
char		*jscan_compact(const char *, const char *, size_t *);

#endif
