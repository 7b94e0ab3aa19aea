/*
 * The fast JSON parser (jread.h): recursive descent over the text, one
 * pass, values built with jansson's own constructors. Anything it is not
 * sure jansson takes the same way ends the parse with NULL; the caller's
 * jansson parse then decides.
 *
 * Numbers follow jansson: no fraction and no exponent is an integer
 * (json_int_t, strtoll), anything else a real (strtod, in the C locale
 * gatherd runs in); either out of range is left to jansson.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jread.h"
#include "jscan.h"
#include "utf8.h"
#include "xmalloc.h"

/* Longest number text read here; longer ones are left to jansson. */
#define JREAD_NUMBER_MAX	64

struct jread {
	const char	*p;
	const char	*end;
	unsigned	 depth;
};

static json_t	*jread_value(struct jread *);

/* Skip whitespace. */
static void
jread_ws(struct jread *jp)
{
	jp->p = jscan_ws(jp->p, jp->end);
}

static int
jread_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Decode the escaped string [p, q) (no quotes) into out, which has room
 * for q - p bytes (an escape is never shorter than what it stands for);
 * its length, or -1 for an escape left to jansson.
 */
static ssize_t
jread_unescape(const char *p, const char *q, char *out)
{
	char	*o = out;
	long	 cp, lo;

	while (p < q) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		if (++p == q)
			return -1;
		switch (*p++) {
		case '"':	*o++ = '"'; continue;
		case '\\':	*o++ = '\\'; continue;
		case '/':	*o++ = '/'; continue;
		case 'b':	*o++ = '\b'; continue;
		case 'f':	*o++ = '\f'; continue;
		case 'n':	*o++ = '\n'; continue;
		case 'r':	*o++ = '\r'; continue;
		case 't':	*o++ = '\t'; continue;
		case 'u':	break;
		default:	return -1;
		}
		if ((cp = jscan_hex4(p, q)) == -1)
			return -1;
		p += 4;
		if (cp >= 0xdc00 && cp < 0xe000)
			return -1;	/* a lone low surrogate */
		if (cp >= 0xd800 && cp < 0xdc00) {
			if (q - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    (lo = jscan_hex4(p + 2, q)) < 0xdc00 ||
			    lo >= 0xe000)
				return -1;	/* a lone high surrogate */
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		o += utf8_encode((unsigned long)cp, (unsigned char *)o);
	}
	return o - out;
}

/*
 * The string at jp->p (its opening quote): its decoded text in *s (*sbuf
 * set when that is new memory, for the caller to free) and length. -1
 * when it is left to jansson.
 */
static int
jread_string(struct jread *jp, const char **s, size_t *len, char **sbuf)
{
	const unsigned char	*p = (const unsigned char *)jp->p + 1;
	const unsigned char	*end = (const unsigned char *)jp->end;
	const unsigned char	*start = p;
	int			 high = 0, escaped = 0;
	ssize_t			 n;

	*sbuf = NULL;
	for (;; p++) {
		if (p == end || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		if (*p == '\\') {
			escaped = 1;
			if (++p == end)
				return -1;
		} else if (*p >= 0x80)
			high = 1;
	}
	jp->p = (const char *)p + 1;
	if (high && !utf8_valid(start, (size_t)(p - start), NULL))
		return -1;
	if (!escaped) {
		*s = (const char *)start;
		*len = (size_t)(p - start);
		return 0;
	}
	*sbuf = xmalloc((size_t)(p - start) + 1);
	if ((n = jread_unescape((const char *)start, (const char *)p,
	    *sbuf)) < 0) {
		free(*sbuf);
		*sbuf = NULL;
		return -1;
	}
	*s = *sbuf;
	*len = (size_t)n;
	return 0;
}

/* The number at jp->p, or NULL. */
static json_t *
jread_number(struct jread *jp)
{
	const char	*p = jp->p, *end = jp->end, *start = p;
	char		 text[JREAD_NUMBER_MAX + 1], *stop;
	int		 integer = 1;
	size_t		 len;
	long long	 i;
	double		 d;

	if (p < end && *p == '-')
		p++;
	if (p == end || !jread_is_digit(*p))
		return NULL;
	if (*p++ != '0') {
		while (p < end && jread_is_digit(*p))
			p++;
	}
	if (p < end && *p == '.') {
		integer = 0;
		if (++p == end || !jread_is_digit(*p))
			return NULL;
		while (p < end && jread_is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integer = 0;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !jread_is_digit(*p))
			return NULL;
		while (p < end && jread_is_digit(*p))
			p++;
	}
	if ((len = (size_t)(p - start)) > JREAD_NUMBER_MAX)
		return NULL;
	jp->p = p;
	if (integer && len <= 18) {
		/* Up to 18 digits cannot overflow: no strtoll needed. */
		i = 0;
		for (p = start + (*start == '-'); p < jp->p; p++)
			i = i * 10 + (*p - '0');
		return json_integer(*start == '-' ? -i : i);
	}
	memcpy(text, start, len);
	text[len] = '\0';
	errno = 0;
	if (integer) {
		i = strtoll(text, &stop, 10);
		if (errno != 0 || *stop != '\0')
			return NULL;
		return json_integer(i);
	}
	d = strtod(text, &stop);
	if (errno != 0 || *stop != '\0')
		return NULL;
	return json_real(d);
}

/* The literal word at jp->p, or -1. */
static int
jread_word(struct jread *jp, const char *word, size_t len)
{
	if ((size_t)(jp->end - jp->p) < len || memcmp(jp->p, word, len) != 0)
		return -1;
	jp->p += len;
	return 0;
}

/*
 * Past a container's opening bracket and the whitespace after it: 1 when
 * close follows at once (an empty container, passed too), else 0.
 */
static int
jread_open(struct jread *jp, char close)
{
	jp->p++;
	jread_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		return 1;
	}
	return 0;
}

/*
 * After an element or a member: 1 past close (the container ends), 0
 * past a comma and the whitespace after it (another follows), -1 when
 * neither comes.
 */
static int
jread_next(struct jread *jp, char close)
{
	jread_ws(jp);
	if (jp->p == jp->end)
		return -1;
	if (*jp->p == close) {
		jp->p++;
		return 1;
	}
	if (*jp->p++ != ',')
		return -1;
	jread_ws(jp);
	return 0;
}

/* The array at jp->p (its '['), or NULL. */
static json_t *
jread_array(struct jread *jp)
{
	json_t	*a, *v;
	int	 more;

	a = json_array();
	if (jread_open(jp, ']'))
		return a;
	do {
		if ((v = jread_value(jp)) == NULL ||
		    json_array_append_new(a, v) == -1) {
			more = -1;
			break;
		}
	} while ((more = jread_next(jp, ']')) == 0);
	if (more == 1)
		return a;
	json_decref(a);
	return NULL;
}

/* The object at jp->p (its '{'), or NULL. */
static json_t *
jread_object(struct jread *jp)
{
	json_t		*o, *v;
	const char	*key;
	char		*kbuf = NULL;
	size_t		 klen;
	int		 more;

	o = json_object();
	if (jread_open(jp, '}'))
		return o;
	for (;;) {
		if (jp->p == jp->end || *jp->p != '"' ||
		    jread_string(jp, &key, &klen, &kbuf) == -1)
			goto fail;
		/* A NUL in a key, or a key repeated: jansson's to refuse. */
		if (memchr(key, '\0', klen) != NULL ||
		    json_object_getn(o, key, klen) != NULL)
			goto fail;
		jread_ws(jp);
		if (jp->p == jp->end || *jp->p++ != ':')
			goto fail;
		jread_ws(jp);
		if ((v = jread_value(jp)) == NULL)
			goto fail;
		if (json_object_setn_new_nocheck(o, key, klen, v) == -1)
			goto fail;
		free(kbuf);
		kbuf = NULL;
		if ((more = jread_next(jp, '}')) != 0)
			break;
	}
	if (more == 1)
		return o;
fail:
	free(kbuf);
	json_decref(o);
	return NULL;
}

/* The value at jp->p (no whitespace before it), or NULL. */
static json_t *
jread_value(struct jread *jp)
{
	const char	*s;
	char		*sbuf;
	size_t		 len;
	json_t		*v;

	if (jp->p == jp->end)
		return NULL;
	switch (*jp->p) {
	case '"':
		if (jread_string(jp, &s, &len, &sbuf) == -1)
			return NULL;
		v = json_stringn_nocheck(s, len);
		free(sbuf);
		return v;
	case '{':
	case '[':
		if (jp->depth == JREAD_MAX_DEPTH)
			return NULL;
		jp->depth++;
		v = *jp->p == '{' ? jread_object(jp) : jread_array(jp);
		jp->depth--;
		return v;
	case 't':
		return jread_word(jp, "true", 4) == 0 ? json_true() : NULL;
	case 'f':
		return jread_word(jp, "false", 5) == 0 ? json_false() : NULL;
	case 'n':
		return jread_word(jp, "null", 4) == 0 ? json_null() : NULL;
	default:
		return jread_number(jp);
	}
}

/*
 * The one value that starts at p, before end, as jansson would read it,
 * *stop set just past it; or NULL: then ask jansson.
 */
json_t *
jread_value_at(const char *p, const char *end, const char **stop)
{
	struct jread	 jp = { p, end, 0 };
	json_t		*v;

	v = jread_value(&jp);
	*stop = jp.p;
	return v;
}

/*
 * The JSON text of len bytes at text as jansson would read it (see
 * jread.h), or NULL: then ask jansson.
 */
json_t *
jread(const char *text, size_t len)
{
	const char	*p = jscan_ws(text, text + len);
	json_t		*v;

	if ((v = jread_value_at(p, text + len, &p)) == NULL)
		return NULL;
	if (jscan_ws(p, text + len) != text + len) {
		json_decref(v);
		return NULL;
	}
	return v;
}
