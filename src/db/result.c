/*
 * The query value's encoder: see result.h. The text is written as it
 * comes, into an evbuffer, and checked against the limit before and
 * after each cell.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "db/result.h"
#include "jsonw.h"
#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

/* Start the value, {"columns":[ so far, held to max_bytes of JSON. */
void
db_result_init(struct db_result *r, uint64_t max_bytes)
{
	memset(r, 0, sizeof *r);
	if ((r->out = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	r->max_bytes = max_bytes;
	jsonw_raw(r->out, "{\"columns\":[");
}

/* Free what r holds; it may be freed again. */
void
db_result_free(struct db_result *r)
{
	if (r->out != NULL)
		evbuffer_free(r->out);
	r->out = NULL;
	free(r->error);
	r->error = NULL;
}

/* Hand over the message of a failed value (the caller frees it). */
char *
db_result_take_error(struct db_result *r, enum err_code *code)
{
	char	*error = r->error;

	*code = r->code;
	r->error = NULL;
	return error;
}

/* Fail the value with code and message (owned by r now). */
static int
db_result_fail(struct db_result *r, enum err_code code, char *message)
{
	r->code = code;
	r->error = message;
	return -1;
}

static int
db_result_too_large(struct db_result *r)
{
	return db_result_fail(r, ERR_TOO_LARGE, xasprintf("the query's value"
	    " is over max_result_bytes (%llu bytes); select fewer rows or"
	    " columns", (unsigned long long)r->max_bytes));
}

/* Whether the text so far fits; too_large if it does not. */
static int
db_result_check(struct db_result *r)
{
	if (evbuffer_get_length(r->out) > r->max_bytes)
		return db_result_too_large(r);
	return 0;
}

/*
 * Begin a cell that takes at least least bytes of JSON: refused, before
 * anything is encoded, if that cannot fit.
 */
static int
db_result_cell(struct db_result *r, uint64_t least)
{
	if (r->code != ERR_NONE)
		return -1;
	if (r->ncells > 0)
		least++;
	if (least > r->max_bytes ||
	    evbuffer_get_length(r->out) > r->max_bytes - least)
		return db_result_too_large(r);
	if (r->ncells++ > 0)
		evbuffer_add(r->out, ",", 1);
	return 0;
}

/* The rule for a cell's text: valid UTF-8, or the value is bad_encoding. */
static int
db_result_cell_utf8(struct db_result *r, const char *s, size_t len)
{
	size_t	bad;

	if (utf8_valid((const unsigned char *)s, len, &bad))
		return 0;
	/* The cell is begun: it is the row's ncells-th. */
	return db_result_fail(r, ERR_BAD_ENCODING, xasprintf("rows[%llu][%u]:"
	    " not valid UTF-8 at byte %zu; select it as bytes (a blob, a"
	    " bytea), which come as base64", (unsigned long long)(r->nrows -
	    1), r->ncells - 1, bad));
}

/* Name the next column; the rule for text holds for names too. */
int
db_result_column(struct db_result *r, const char *name, size_t len)
{
	size_t	bad;

	if (r->code != ERR_NONE)
		return -1;
	if (!utf8_valid((const unsigned char *)name, len, &bad))
		return db_result_fail(r, ERR_BAD_ENCODING, xasprintf(
		    "columns[%u]: not valid UTF-8 at byte %zu; name the column"
		    " with AS", r->ncols, bad));
	if (r->ncols++ > 0)
		evbuffer_add(r->out, ",", 1);
	jsonw_string(r->out, name, len);
	return db_result_check(r);
}

/* Begin the next row, ending the one before. */
int
db_result_row(struct db_result *r)
{
	if (r->code != ERR_NONE)
		return -1;
	if (r->nrows++ == 0)
		jsonw_raw(r->out, "],\"rows\":[[");
	else
		jsonw_raw(r->out, "],[");
	r->ncells = 0;
	return db_result_check(r);
}

/*
 * End the value with the count of rows the statement changed. Returns
 * its text (*lenp bytes, NUL-terminated, the caller's), or NULL when it
 * failed.
 */
char *
db_result_end(struct db_result *r, uint64_t changes, size_t *lenp)
{
	if (r->code != ERR_NONE)
		return NULL;
	if (r->nrows == 0)
		jsonw_raw(r->out, "],\"rows\":[");
	else
		jsonw_raw(r->out, "]");
	jsonw_raw(r->out, "],\"changes\":");
	jsonw_uint(r->out, changes);
	jsonw_raw(r->out, "}");
	if (db_result_check(r) == -1)
		return NULL;
	return jsonw_take(r->out, lenp);
}

/* A NULL. */
int
db_result_null(struct db_result *r)
{
	if (db_result_cell(r, 4) == -1)
		return -1;
	jsonw_raw(r->out, "null");
	return db_result_check(r);
}

/* A boolean. */
int
db_result_bool(struct db_result *r, int v)
{
	if (db_result_cell(r, v ? 4 : 5) == -1)
		return -1;
	jsonw_raw(r->out, v ? "true" : "false");
	return db_result_check(r);
}

/* An integer, exact (a digit at least, and the check after counts). */
int
db_result_int(struct db_result *r, int64_t v)
{
	if (db_result_cell(r, 1) == -1)
		return -1;
	jsonw_int(r->out, v);
	return db_result_check(r);
}

/*
 * A real, as the shortest number that reads back the same, with a point
 * or an exponent so it stays a real; NaN and the infinities are null.
 */
int
db_result_real(struct db_result *r, double d)
{
	char	buf[40];

	if (!isfinite(d))
		return db_result_null(r);
	snprintf(buf, sizeof buf, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, sizeof buf, "%.17g", d);
	if (strpbrk(buf, ".eEn") == NULL)
		strcat(buf, ".0");
	if (db_result_cell(r, strlen(buf)) == -1)
		return -1;
	jsonw_raw(r->out, buf);
	return db_result_check(r);
}

/* A number already written as JSON writes it (the caller checked). */
int
db_result_number(struct db_result *r, const char *s, size_t len)
{
	if (db_result_cell(r, len) == -1)
		return -1;
	evbuffer_add(r->out, s, len);
	return db_result_check(r);
}

/* Text: a JSON string if it is valid UTF-8, else bad_encoding. */
int
db_result_text(struct db_result *r, const char *s, size_t len)
{
	if (db_result_cell(r, (uint64_t)len + 2) == -1)
		return -1;
	if (db_result_cell_utf8(r, s, len) == -1)
		return -1;
	jsonw_string(r->out, s, len);
	return db_result_check(r);
}

/* Bytes: a JSON string of their base64. */
int
db_result_bytes(struct db_result *r, const void *p, size_t n)
{
	if (db_result_cell(r, 4 * ((uint64_t)n / 3 + (n % 3 != 0)) + 2) == -1)
		return -1;
	jsonw_base64(r->out, p, n);
	return db_result_check(r);
}

/*
 * JSON text the database validated (PostgreSQL's json and jsonb), put in
 * as it is; line breaks, only ever whitespace between tokens there, become
 * spaces, since a reply is one line.
 */
int
db_result_json(struct db_result *r, const char *s, size_t len)
{
	const char	*p, *end = s + len;

	if (db_result_cell(r, len) == -1)
		return -1;
	if (db_result_cell_utf8(r, s, len) == -1)
		return -1;
	for (p = s; p < end; p++) {
		if (*p != '\n' && *p != '\r')
			continue;
		evbuffer_add(r->out, s, (size_t)(p - s));
		evbuffer_add(r->out, " ", 1);
		s = p + 1;
	}
	evbuffer_add(r->out, s, (size_t)(end - s));
	return db_result_check(r);
}
