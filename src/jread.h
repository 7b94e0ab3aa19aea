/*
 * A fast JSON parser for the common case, with jansson as the judge.
 * jansson reads some 10 MB/s of a million small job objects (2.4 s for a
 * 30 MB batch, most of it its lexer); this reads the same text into the
 * same jansson values several times faster.
 *
 * It only ever says yes: jread() returns the tree jansson's json_loadb
 * would return for the text with JSON_DECODE_ANY | JSON_ALLOW_NUL |
 * JSON_REJECT_DUPLICATES, or NULL when the text is not JSON it takes.
 * NULL is not a verdict: the caller then asks jansson, whose verdict and
 * messages stand. What it leaves to jansson: every error, integers beyond
 * 64 bits and reals beyond a double (jnum.c), NUL in object keys, lone
 * UTF-16 surrogates, nesting deeper than JREAD_MAX_DEPTH.
 *
 * jread_value_at reads one value at the start of a text and says where
 * it ends: an element of an array, without finding its end first.
 *
 * Values are made through jansson's allocator, so an arena (jarena.h)
 * serves them when it is on. Pure function of its arguments otherwise:
 * any thread.
 */
#ifndef GATHERD_JREAD_H
#define GATHERD_JREAD_H

#include <stddef.h>

#include <jansson.h>

#define JREAD_MAX_DEPTH	512

json_t	*jread(const char *, size_t);
json_t	*jread_value_at(const char *, const char *, const char **);

#endif
