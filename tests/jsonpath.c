/*
 * Reading and asserting JSON by path in tests; see jsonpath.h for what a
 * path is and how the helpers fail.
 */

#include <sys/types.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "jsonpath.h"

/* v as compact JSON for failure messages, in one of a few static buffers. */
const char *
jtext(const json_t *v)
{
	static char	 buf[4][4096];
	static unsigned	 next;
	char		*b = buf[next++ % 4], *s;

	if (v == NULL)
		return "(none)";
	/* Not JSON_ALLOW_NUL: a decoding flag, as an encoding one it indents. */
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(b, sizeof buf[0], "%s", s != NULL ? s : "?");
	free(s);
	return b;
}

/* len bytes of JSON text, parsed; asserts. */
json_t *
jparse(const char *text, size_t len)
{
	json_error_t	 err;
	json_t		*v;

	v = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
	cr_assert_not_null(v, "not JSON (%s): %.300s", err.text, text);
	return v;
}

/* The value at path in v ("stats.ok", "results[2].error.code"), or NULL. */
json_t *
jget(json_t *v, const char *path)
{
	const char	*p = path;
	char		 key[64], *end;
	size_t		 n;
	unsigned long	 i;

	while (v != NULL && *p != '\0') {
		if (*p == '[') {
			i = strtoul(p + 1, &end, 10);
			if (*end != ']')
				return NULL;
			v = json_array_get(v, i);
			p = end + 1;
			continue;
		}
		if (*p == '.')
			p++;
		n = strcspn(p, ".[");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		p += n;
	}
	return v;
}

/*
 * The value at path, of JSON type t (JSON_REAL: any number); asserts it is
 * one (type names it, for the message).
 */
static json_t *
jtyped(json_t *v, const char *path, json_type t, const char *type)
{
	json_t	*x = jget(v, path);

	cr_assert(x != NULL && (json_typeof(x) == t ||
	    (t == JSON_REAL && json_is_number(x))), "%s is not %s in %s", path,
	    type, jtext(v));
	return x;
}

/* The integer at path; asserts it is one. */
json_int_t
jint(json_t *v, const char *path)
{
	return json_integer_value(jtyped(v, path, JSON_INTEGER, "an integer"));
}

/* The number (integer or real) at path; asserts it is one. */
double
jnum(json_t *v, const char *path)
{
	return json_number_value(jtyped(v, path, JSON_REAL, "a number"));
}

/* The string at path; asserts it is one. Owned by v. */
const char *
jstr(json_t *v, const char *path)
{
	return json_string_value(jtyped(v, path, JSON_STRING, "a string"));
}

/* Assert the string at path equals want. */
void
jstr_is(json_t *v, const char *path, const char *want)
{
	cr_assert_str_eq(jstr(v, path), want, "%s in %s", path, jtext(v));
}

/* Assert the string at path contains want. */
void
jstr_has(json_t *v, const char *path, const char *want)
{
	cr_assert_not_null(strstr(jstr(v, path), want), "%s lacks \"%s\" in"
	    " %s", path, want, jtext(v));
}

/* Assert the boolean at path is want. */
void
jbool_is(json_t *v, const char *path, bool want)
{
	json_t	*x = jget(v, path);

	cr_assert(json_is_boolean(x), "%s is not a boolean in %s", path,
	    jtext(v));
	cr_assert(json_is_true(x) == want, "%s is not %s in %s", path,
	    want ? "true" : "false", jtext(v));
}

/* Assert the value at path equals the JSON text want (as JSON values). */
void
jeq(json_t *v, const char *path, const char *want)
{
	json_t	*w = json_loads(want, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(w, "bad expected JSON %s", want);
	cr_assert(json_equal(jget(v, path), w), "%s is %s, want %s in %s",
	    path, jtext(jget(v, path)), want, jtext(v));
	json_decref(w);
}

/* Assert each path of want holds its JSON text; see jsonpath.h. */
void
jexpect(json_t *v, const char *const *want)
{
	for (; want[0] != NULL; want += 2) {
		cr_assert_not_null(want[1], "%s: no expected value", want[0]);
		if (strcmp(want[1], "-") == 0)
			cr_assert_null(jget(v, want[0]), "%s in %s", want[0],
			    jtext(v));
		else if (want[1][0] == '~')
			jstr_has(v, want[0], want[1] + 1);
		else
			jeq(v, want[0], want[1]);
	}
}

/*
 * Whether v holds pattern: every key of an object pattern, with a value
 * that holds the pattern's; an array pattern's elements, as many and
 * each held; any other pattern, an equal value.
 */
static bool
jholds(json_t *v, json_t *pattern)
{
	const char	*key;
	json_t		*p;
	size_t		 i;

	if (json_is_object(pattern)) {
		if (!json_is_object(v))
			return false;
		json_object_foreach(pattern, key, p) {
			if (!jholds(json_object_get(v, key), p))
				return false;
		}
		return true;
	}
	if (json_is_array(pattern)) {
		if (!json_is_array(v) ||
		    json_array_size(v) != json_array_size(pattern))
			return false;
		json_array_foreach(pattern, i, p) {
			if (!jholds(json_array_get(v, i), p))
				return false;
		}
		return true;
	}
	return json_equal(v, pattern);
}

/* Assert the value at path holds the JSON text pattern (see jsonpath.h). */
void
jhas(json_t *v, const char *path, const char *pattern)
{
	json_t	*w = json_loads(pattern, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(w, "bad expected JSON %s", pattern);
	cr_assert(jholds(jget(v, path), w), "%s is %s, want it to hold %s",
	    path, jtext(jget(v, path)), pattern);
	json_decref(w);
}

/* Assert obj has exactly the keys listed, no other. */
void
jkeys_are(json_t *obj, const char *const *keys)
{
	size_t	n;

	cr_assert(json_is_object(obj), "not an object: %s", jtext(obj));
	for (n = 0; keys[n] != NULL; n++)
		cr_assert_not_null(json_object_get(obj, keys[n]),
		    "no \"%s\" in %s", keys[n], jtext(obj));
	cr_assert_eq(json_object_size(obj), n, "keys other than expected"
	    " in %s", jtext(obj));
}

/*
 * Decode canonical padded base64 s into out (cap bytes), independently of
 * the daemon's decoder; the length, or -1 if s is not canonical or does
 * not fit.
 */
static ssize_t
b64_decode(const char *s, unsigned char *out, size_t cap)
{
	static const char	 alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 len = strlen(s), i, n = 0;
	unsigned		 acc, k, pad;
	const char		*c;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		acc = 0;
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				pad++;
				acc <<= 6;
				continue;
			}
			if (pad > 0 || s[i + k] == '\0' ||
			    (c = strchr(alphabet, s[i + k])) == NULL)
				return -1;
			acc = acc << 6 | (unsigned)(c - alphabet);
		}
		if (n + 3 - pad > cap)
			return -1;
		out[n++] = (unsigned char)(acc >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(acc >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)acc;
	}
	return (ssize_t)n;
}

/* Assert the string at path is base64 for exactly the len bytes want. */
void
jb64_is(json_t *v, const char *path, const void *want, size_t len)
{
	unsigned char	buf[4096];
	ssize_t		n;

	n = b64_decode(jstr(v, path), buf, sizeof buf);
	cr_assert_geq(n, 0, "%s is not base64 in %s", path, jtext(v));
	cr_assert_eq((size_t)n, len, "%s decodes to %zd bytes, want %zu in"
	    " %s", path, n, len, jtext(v));
	cr_assert_eq(memcmp(buf, want, len), 0, "%s decodes to other bytes"
	    " in %s", path, jtext(v));
}
