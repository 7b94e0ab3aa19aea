/*
 * Reading and asserting JSON by path in tests. A path names a value
 * inside another: object keys separated by dots, array indexes in
 * brackets ("stats.ok", "results[2].error.code"). Every helper that
 * asserts does so with Criterion, naming the path and quoting the whole
 * value in its message, instead of returning an error.
 */
#ifndef GATHERD_JSONPATH_H
#define GATHERD_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * v as compact JSON for failure messages, "(none)" for NULL, in one of a
 * few static buffers (so it can appear twice in one message and nothing
 * leaks); long values are cut short.
 */
const char	*jtext(const json_t *v);
/*
 * Parse len bytes of JSON text (any value; NUL bytes allowed in strings);
 * asserts it parses. Caller decrefs.
 */
json_t		*jparse(const char *text, size_t len);
/* The value at path in v, or NULL when absent (or path is malformed). */
json_t		*jget(json_t *v, const char *path);

/* The integer at path; asserts it is one. */
json_int_t	 jint(json_t *v, const char *path);
/* The number (integer or real) at path; asserts it is one. */
double		 jnum(json_t *v, const char *path);
/* The string at path; asserts it is one. Owned by v. */
const char	*jstr(json_t *v, const char *path);

/* Assert the string at path equals want. */
void		 jstr_is(json_t *v, const char *path, const char *want);
/* Assert the string at path contains want. */
void		 jstr_has(json_t *v, const char *path, const char *want);
/* Assert the boolean at path is want. */
void		 jbool_is(json_t *v, const char *path, bool want);
/*
 * Assert the value at path holds the JSON text pattern: an object every
 * key of the pattern's (others may be there too) with a value that holds
 * the pattern's, an array as many elements as the pattern's, each holding
 * the pattern's, anything else a value equal to the pattern
 * ("results" holds [{"ok":true},{"error":{"code":"timeout"}}]).
 */
void		 jhas(json_t *v, const char *path, const char *pattern);
/* Assert obj has exactly the keys listed (NULL-terminated), no other. */
void		 jkeys_are(json_t *obj, const char *const *keys);
/* Assert the value at path equals the JSON text want (as JSON values). */
void		 jeq(json_t *v, const char *path, const char *want);
/*
 * jeq for each pair of a path and a JSON text in want, ended by NULL; a
 * text "-" asserts the path is absent, "~TEXT" that the string there
 * contains TEXT: a reply's expected shape as one table.
 */
void		 jexpect(json_t *v, const char *const *want);
/*
 * Assert the string at path is canonical padded base64 for exactly the
 * len bytes want (at most 4096), decoded independently of the daemon.
 */
void		 jb64_is(json_t *v, const char *path, const void *want,
		    size_t len);

#endif
