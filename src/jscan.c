/*
 * JSON text, walked. See jscan.h: the text is JSON jansson accepted, so
 * the walk only tells strings from the rest and counts brackets; nothing
 * is validated again.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "xmalloc.h"

/* Whether c is JSON whitespace. */
static int
jscan_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skip whitespace from p. */
static const char *
jscan_ws(const char *p, const char *end)
{
	while (p < end && jscan_is_ws(*p))
		p++;
	return p;
}

/* Just past the string that starts at p (its opening quote), or end. */
const char *
jscan_string_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return end;
}

/*
 * Just past the value that starts at p: a string, an array or object
 * (brackets counted, strings skipped), or a scalar (up to the next
 * delimiter).
 */
const char *
jscan_value_end(const char *p, const char *end)
{
	size_t	depth = 0;

	while (p < end) {
		switch (*p) {
		case '"':
			p = jscan_string_end(p, end);
			if (depth == 0)
				return p;
			continue;
		case '[':
		case '{':
			depth++;
			break;
		case ']':
		case '}':
			if (depth == 0)
				return p;
			if (--depth == 0)
				return p + 1;
			break;
		case ',':
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			if (depth == 0)
				return p;
			break;
		}
		p++;
	}
	return p;
}

/* The value of four hex digits at p, or -1. */
static long
jscan_hex4(const char *p, const char *end)
{
	long	v = 0;
	int	i;
	char	c;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Decode one character of a string's inside at *pp (an escape or a raw
 * byte) into out as UTF-8; returns its length (0 on a bad escape) and
 * moves *pp past it.
 */
static size_t
jscan_char(const char **pp, const char *end, unsigned char out[4])
{
	/* The letters of the short escapes, and the bytes they stand for. */
	static const char	 letter[] = "bfnrt", plain[] = "\b\f\n\r\t";
	const char		*p = *pp, *e;
	long			 cp, lo;

	if (*p != '\\') {
		out[0] = (unsigned char)*p;
		*pp = p + 1;
		return 1;
	}
	if (++p == end)
		return 0;
	*pp = p + 1;
	if (*p != 'u') {
		/* Anything else the scan let through is " \ / or a letter. */
		e = *p != '\0' ? strchr(letter, *p) : NULL;
		out[0] = (unsigned char)(e != NULL ? plain[e - letter] : *p);
		return 1;
	}
	if ((cp = jscan_hex4(p + 1, end)) == -1)
		return 0;
	p += 5;
	if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' &&
	    p[1] == 'u' && (lo = jscan_hex4(p + 2, end)) >= 0xdc00 &&
	    lo < 0xe000) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	*pp = p;
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Whether the string [p, q) (quotes included) decodes to key. */
static int
jscan_key_is(const char *p, const char *q, const char *key)
{
	unsigned char	c[4];
	size_t		n, klen = strlen(key), k = 0;

	if (q - p < 2)
		return 0;
	for (p++, q--; p < q; ) {
		if ((n = jscan_char(&p, q, c)) == 0 || n > klen - k ||
		    memcmp(c, key + k, n) != 0)
			return 0;
		k += n;
	}
	return k == klen;
}

/*
 * Find member key of the object that the len bytes at text are: set
 * [*vs, *ve) to its value's text and return 1, or return 0 when text is
 * not an object or has no such member. key: no NUL, no escapes needed.
 */
int
jscan_member(const char *text, size_t len, const char *key, const char **vs,
    const char **ve)
{
	const char	*p = text, *end = text + len, *k;

	p = jscan_ws(p, end);
	if (p == end || *p != '{')
		return 0;
	for (p++;;) {
		p = jscan_ws(p, end);
		if (p == end || *p != '"')
			return 0;
		k = p;
		p = jscan_string_end(p, end);
		if (!jscan_key_is(k, p, key))
			k = NULL;
		p = jscan_ws(p, end);
		if (p == end || *p != ':')
			return 0;
		p = jscan_ws(p + 1, end);
		if (k != NULL) {
			*vs = p;
			*ve = jscan_value_end(p, end);
			return 1;
		}
		p = jscan_ws(jscan_value_end(p, end), end);
		if (p == end || *p != ',')
			return 0;
		p++;
	}
}

/*
 * The JSON text [p, q) without the whitespace between tokens, in new
 * memory (NUL-terminated, *lenp bytes when lenp is not NULL).
 */
char *
jscan_compact(const char *p, const char *q, size_t *lenp)
{
	char		*out = xmalloc((size_t)(q - p) + 1), *o = out;
	const char	*s;

	while (p < q) {
		if (*p == '"') {
			s = jscan_string_end(p, q);
			memcpy(o, p, (size_t)(s - p));
			o += s - p;
			p = s;
		} else if (jscan_is_ws(*p))
			p++;
		else
			*o++ = *p++;
	}
	*o = '\0';
	if (lenp != NULL)
		*lenp = (size_t)(o - out);
	return out;
}
