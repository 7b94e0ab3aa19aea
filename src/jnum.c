/*
 * Numbers jansson cannot hold (jnum.h). The scan runs only when jansson
 * has reported a numeric overflow, so a line without such a number costs
 * nothing more than json_loadb.
 *
 * Marks are matched to the tree by order: the scan counts every number
 * token of the line, the walk counts every number value of the tree, both
 * in document order. That holds because jansson keeps an object's members
 * in the order they were read and the line has no repeated key
 * (JSON_REJECT_DUPLICATES is always set here), and because in valid JSON
 * outside strings a number is exactly a run of [-+.0-9eE] that starts
 * with '-' or a digit.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jnum.h"
#include "jscan.h"
#include "xmalloc.h"

/* A number token that was replaced. */
struct jnum_token {
	size_t		 off;		/* in the line */
	size_t		 len;		/* in the line */
	size_t		 ordinal;	/* among the line's number tokens */
	size_t		 newlen;	/* of its replacement */
	enum jnum_class	 class;
	char		 text[32];	/* the replacement */
};

/* A value of the tree that came from a replaced token. */
struct jnum_mark {
	const json_t	*v;
	enum jnum_class	 class;
};

/* The calling thread's marks, for the tree it loaded last. */
static _Thread_local struct {
	const char		*line;
	struct jnum_token	*tokens;
	size_t			 ntokens;
	struct jnum_mark	*marks;		/* sorted by v */
	size_t			 nmarks;
} jnum;

static int
jnum_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether c may be part of a number token. */
static int
jnum_in_token(char c)
{
	return jnum_is_digit(c) || c == '-' || c == '+' || c == '.' ||
	    c == 'e' || c == 'E';
}

/*
 * Whether [p, p + len) is exactly a JSON number; *integer says whether
 * it has neither fraction nor exponent.
 */
static int
jnum_is_number(const char *p, size_t len, int *integer)
{
	const char	*end = p + len;

	*integer = 1;
	if (p < end && *p == '-')
		p++;
	if (p == end || !jnum_is_digit(*p))
		return 0;
	if (*p++ != '0') {
		while (p < end && jnum_is_digit(*p))
			p++;
	}
	if (p < end && *p == '.') {
		*integer = 0;
		if (++p == end || !jnum_is_digit(*p))
			return 0;
		while (p < end && jnum_is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		*integer = 0;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !jnum_is_digit(*p))
			return 0;
		while (p < end && jnum_is_digit(*p))
			p++;
	}
	return p == end;
}

/* Whether the integer token [p, p + len) fits in an int64_t. */
static int
jnum_fits_int64(const char *p, size_t len)
{
	const char	*max = "9223372036854775807";
	size_t		 n = strlen(max);

	if (*p == '-') {
		max = "9223372036854775808";
		p++;
		len--;
	}
	if (len != n)
		return len < n;
	return memcmp(p, max, n) <= 0;
}

/*
 * The class of the number token [p, p + len); when it is not plain, the
 * text that replaces it, in t->text.
 */
static enum jnum_class
jnum_classify(const char *p, size_t len, int integer, struct jnum_token *t)
{
	char	*copy;
	double	 d;

	if (integer && jnum_fits_int64(p, len))
		return JNUM_PLAIN;
	copy = xmalloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = '\0';
	errno = 0;
	d = strtod(copy, NULL);
	free(copy);
	if (isinf(d)) {
		snprintf(t->text, sizeof t->text, "%s", d < 0 ? "-1e308" :
		    "1e308");
		return integer ? JNUM_HUGE_INT : JNUM_HUGE_REAL;
	}
	if (!integer)
		return JNUM_PLAIN;	/* underflow: jansson takes it */
	/* Past 2^63, 17 digits always need an exponent: a real. */
	snprintf(t->text, sizeof t->text, "%.17g", d);
	return JNUM_BIG_INT;
}

/* Record every number token of the line jansson cannot hold. */
static void
jnum_scan(const char *line, size_t len)
{
	struct jnum_token	 t;
	const char		*p = line, *end = line + len, *q;
	size_t			 ordinal = 0, cap = 0;
	int			 integer;

	while (p < end) {
		if (*p == '"') {
			p = jscan_string_end(p, end);
			continue;
		}
		if (*p != '-' && !jnum_is_digit(*p)) {
			p++;
			continue;
		}
		for (q = p; q < end && jnum_in_token(*q); q++)
			;
		if (jnum_is_number(p, (size_t)(q - p), &integer)) {
			memset(&t, 0, sizeof t);
			t.class = jnum_classify(p, (size_t)(q - p), integer, &t);
			if (t.class != JNUM_PLAIN) {
				t.off = (size_t)(p - line);
				t.len = (size_t)(q - p);
				t.ordinal = ordinal;
				t.newlen = strlen(t.text);
				if (jnum.ntokens == cap) {
					cap = cap == 0 ? 8 : cap * 2;
					jnum.tokens = xreallocarray(jnum.tokens,
					    cap, sizeof *jnum.tokens);
				}
				jnum.tokens[jnum.ntokens++] = t;
			}
			ordinal++;
		}
		p = q;
	}
}

/* The line with every recorded token replaced, in new memory. */
static char *
jnum_rewrite(const char *line, size_t len, size_t *newlen)
{
	const struct jnum_token	*t;
	char			*out, *o;
	size_t			 i, from = 0;

	/* A replacement is at most 24 bytes: every token grows by <= 24. */
	out = o = xmalloc(len + 24 * jnum.ntokens + 1);
	for (i = 0; i < jnum.ntokens; i++) {
		t = &jnum.tokens[i];
		memcpy(o, line + from, t->off - from);
		o += t->off - from;
		memcpy(o, t->text, t->newlen);
		o += t->newlen;
		from = t->off + t->len;
	}
	memcpy(o, line + from, len - from);
	o += len - from;
	*newlen = (size_t)(o - out);
	return out;
}

/* A position in the rewritten line, as a position in the line. */
static size_t
jnum_line_pos(size_t pos)
{
	const struct jnum_token	*t;
	size_t			 i, shift = 0;	/* rewritten - line */

	for (i = 0; i < jnum.ntokens; i++) {
		t = &jnum.tokens[i];
		if (pos < t->off + shift + t->newlen) {
			if (pos > t->off + shift)
				pos = t->off + shift;	/* inside: its start */
			break;
		}
		shift += t->newlen - t->len;	/* may wrap: modular */
	}
	return pos - shift;
}

/* Mark the tree's values that came from recorded tokens, in order. */
static void
jnum_walk(const json_t *v, size_t *ordinal, size_t *next)
{
	const char	*key;
	json_t		*item;
	size_t		 i;

	if (*next == jnum.ntokens)
		return;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
	case JSON_REAL:
		if (jnum.tokens[*next].ordinal == *ordinal) {
			jnum.marks[*next].v = v;
			jnum.marks[*next].class = jnum.tokens[*next].class;
			(*next)++;
		}
		(*ordinal)++;
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			jnum_walk(item, ordinal, next);
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item)
			jnum_walk(item, ordinal, next);
		break;
	default:
		break;
	}
}

static int
jnum_mark_cmp(const void *a, const void *b)
{
	const json_t	*x = ((const struct jnum_mark *)a)->v;
	const json_t	*y = ((const struct jnum_mark *)b)->v;

	return x < y ? -1 : x > y;
}

/* Set err's position and column to pos of the line. */
static void
jnum_error_at(json_error_t *err, const char *line, size_t pos)
{
	size_t	i, col = 0;

	for (i = 0; i < pos; i++) {
		if (((unsigned char)line[i] & 0xc0) != 0x80)
			col++;
	}
	err->position = (int)pos;
	err->column = (int)col;
}

/*
 * json_loadb(line, len, flags | JSON_REJECT_DUPLICATES, err), but taking
 * numbers jansson cannot hold, marked (see jnum.h). Clears the calling
 * thread's previous marks. On failure, err's position and column are the
 * line's.
 */
json_t *
jnum_loadb(const char *line, size_t len, size_t flags, json_error_t *err)
{
	json_t	*v;
	char	*copy;
	size_t	 copylen, ordinal = 0, next = 0;

	jnum_clear();
	flags |= JSON_REJECT_DUPLICATES;
	v = json_loadb(line, len, flags, err);
	if (v != NULL || json_error_code(err) != json_error_numeric_overflow)
		return v;
	jnum.line = line;
	jnum_scan(line, len);
	if (jnum.ntokens == 0)
		return NULL;	/* cannot happen: jansson's error stands */
	copy = jnum_rewrite(line, len, &copylen);
	v = json_loadb(copy, copylen, flags, err);
	free(copy);
	if (v == NULL) {
		jnum_error_at(err, line, jnum_line_pos((size_t)err->position));
		return NULL;
	}
	jnum.marks = xcalloc(jnum.ntokens, sizeof *jnum.marks);
	jnum_walk(v, &ordinal, &next);
	jnum.nmarks = next;
	qsort(jnum.marks, jnum.nmarks, sizeof *jnum.marks, jnum_mark_cmp);
	return v;
}

/* The class of a value of the tree jnum_loadb made last on this thread. */
enum jnum_class
jnum_class(const json_t *v)
{
	struct jnum_mark	 key = { v, JNUM_PLAIN };
	const struct jnum_mark	*m;

	if (jnum.nmarks == 0 || !json_is_real(v))
		return JNUM_PLAIN;
	m = bsearch(&key, jnum.marks, jnum.nmarks, sizeof *jnum.marks,
	    jnum_mark_cmp);
	return m != NULL ? m->class : JNUM_PLAIN;
}

/*
 * Read an integer field: JNUM_INT with *out set, JNUM_INT_RANGE for an
 * integer that does not fit in 64 bits, JNUM_NOT_INT for anything else.
 */
enum jnum_int
jnum_integer(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return JNUM_INT;
	}
	switch (jnum_class(v)) {
	case JNUM_BIG_INT:
	case JNUM_HUGE_INT:
		return JNUM_INT_RANGE;
	default:
		return JNUM_NOT_INT;
	}
}

/*
 * The first number of the line loaded last that is beyond a double and
 * not within bytes [from, to) of it (the id, which may hold anything), or
 * NULL.
 */
const char *
jnum_huge(size_t from, size_t to)
{
	const struct jnum_token	*t;
	size_t			 i;

	for (i = 0; i < jnum.ntokens; i++) {
		t = &jnum.tokens[i];
		if ((t->class == JNUM_HUGE_INT || t->class == JNUM_HUGE_REAL) &&
		    (t->off < from || t->off >= to))
			return jnum.line + t->off;
	}
	return NULL;
}

/* Forget the marks (the tree is being freed). */
void
jnum_clear(void)
{
	free(jnum.tokens);
	free(jnum.marks);
	memset(&jnum, 0, sizeof jnum);
}
