/*
 * A response's headers and body, and the value made of them
 * (response.h). Header lines are kept as they come, names lower-cased in
 * place; repeated names are joined only when the value is written, by
 * sorting, so a response of a hundred thousand short header lines costs
 * n log n, not n squared.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "base64.h"
#include "http/response.h"
#include "jsonw.h"
#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

/* Forget everything but the allocations (a new response begins). */
void
http_response_reset(struct http_response *r)
{
	r->text_len = 0;
	r->nheaders = 0;
	r->header_bytes = 0;
	r->headers_done = 0;
	r->has_location = 0;
	r->len = 0;
}

void
http_response_free(struct http_response *r)
{
	free(r->text);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* Append n bytes to the header text; their offset. */
static size_t
http_response_text(struct http_response *r, const char *s, size_t n)
{
	size_t	off = r->text_len;

	if (r->text_cap - r->text_len < n) {
		r->text_cap = (r->text_len + n) * 2;
		if (r->text_cap < 1024)
			r->text_cap = 1024;
		r->text = xrealloc(r->text, r->text_cap);
	}
	memcpy(r->text + off, s, n);
	r->text_len += n;
	return off;
}

static int
http_response_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * One header line as libcurl gives it (its CRLF included). Returns 1 if
 * it was a status line (a new response begins), 2 if it ended the header
 * block, 0 otherwise (a header kept, a trailer or a stray line dropped).
 */
int
http_response_header(struct http_response *r, const char *line, size_t len)
{
	struct http_header	*h;
	const char		*colon, *v, *end = line + len;
	size_t			 i, off;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		http_response_reset(r);
		r->header_bytes = len;
		return 1;
	}
	r->header_bytes += len;
	if (r->headers_done)
		return 0;
	while (end > line && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (end == line) {
		r->headers_done = 1;
		return 2;
	}
	if (*line == ' ' || *line == '\t') {
		/* An obsolete folded line continues the last value. */
		if (r->nheaders == 0)
			return 0;
		h = &r->headers[r->nheaders - 1];
		if (h->value + h->value_len != r->text_len)
			return 0;
		while (line < end && http_response_blank(*line))
			line++;
		while (end > line && http_response_blank(end[-1]))
			end--;
		if (line < end) {
			http_response_text(r, " ", 1);
			http_response_text(r, line, (size_t)(end - line));
			h->value_len = r->text_len - h->value;
		}
		return 0;
	}
	if ((colon = memchr(line, ':', (size_t)(end - line))) == NULL ||
	    colon == line)
		return 0;
	if (r->nheaders == r->headers_cap) {
		r->headers_cap = r->headers_cap == 0 ? 16 : r->headers_cap * 2;
		r->headers = xreallocarray(r->headers, r->headers_cap,
		    sizeof *r->headers);
	}
	h = &r->headers[r->nheaders++];
	h->name_len = (size_t)(colon - line);
	h->name = http_response_text(r, line, h->name_len);
	for (i = 0; i < h->name_len; i++) {
		off = h->name + i;
		r->text[off] = (char)tolower((unsigned char)r->text[off]);
	}
	for (v = colon + 1; v < end && http_response_blank(*v); v++)
		/* nothing */;
	while (end > v && http_response_blank(end[-1]))
		end--;
	h->value_len = (size_t)(end - v);
	h->value = http_response_text(r, v, h->value_len);
	if (h->name_len == 8 && memcmp(r->text + h->name, "location", 8) == 0)
		r->has_location = 1;
	return 0;
}

/*
 * The value of the last header line called name (lower case), in new
 * memory, or NULL if there is none or it holds a NUL.
 */
char *
http_response_field(const struct http_response *r, const char *name)
{
	const struct http_header	*h;
	size_t				 i, len = strlen(name);

	for (i = r->nheaders; i-- > 0;) {
		h = &r->headers[i];
		if (h->name_len != len ||
		    memcmp(r->text + h->name, name, len) != 0)
			continue;
		if (memchr(r->text + h->value, '\0', h->value_len) != NULL)
			return NULL;
		return xstrndup(r->text + h->value, h->value_len);
	}
	return NULL;
}

/*
 * Append n body bytes; the caller has checked that len + n <= limit, and
 * the buffer never grows past limit.
 */
void
http_response_body(struct http_response *r, const void *p, size_t n,
    size_t limit)
{
	size_t	want;

	if (r->cap - r->len < n) {
		want = r->cap < 4096 ? 4096 : r->cap * 2;
		if (want < r->len + n)
			want = r->len + n;
		if (want > limit)
			want = limit;
		r->body = xrealloc(r->body, want);
		r->cap = want;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
}

/* Up to this many header lines are joined without sorting. */
#define HTTP_FEW	32

/* A header line for sorting: its name, and where it came. */
struct http_line {
	const char	*name;
	size_t		 name_len;
	size_t		 index;
};

/* A name's header lines, joined: where the first came, and all of them. */
struct http_join {
	size_t		 index;		/* of the first, in the response */
	size_t		 start, count;	/* in the array sorted by name */
};

/* Whether two lines have the same name. */
static int
http_line_same(const struct http_line *x, const struct http_line *y)
{
	return x->name_len == y->name_len &&
	    memcmp(x->name, y->name, x->name_len) == 0;
}

/* qsort: header lines by name, then by arrival. */
static int
http_line_cmp(const void *a, const void *b)
{
	const struct http_line	*x = a, *y = b;
	size_t			 n = x->name_len < y->name_len ?
				     x->name_len : y->name_len;
	int			 c;

	if ((c = memcmp(x->name, y->name, n)) != 0)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int
http_join_cmp(const void *a, const void *b)
{
	const struct http_join	*x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Write one name's value: its lines' values joined with ", ". */
static void
http_response_joined(struct evbuffer *out, const struct http_response *r,
    const struct http_line *lines, size_t count)
{
	const struct http_header	*h;
	char				*v;
	size_t				 i, len = 0;

	if (count == 1) {
		h = &r->headers[lines[0].index];
		jsonw_text(out, r->text + h->value, h->value_len);
		return;
	}
	for (i = 0; i < count; i++)
		len += r->headers[lines[i].index].value_len + 2;
	v = xmalloc(len);
	for (len = 0, i = 0; i < count; i++) {
		h = &r->headers[lines[i].index];
		if (i > 0) {
			memcpy(v + len, ", ", 2);
			len += 2;
		}
		memcpy(v + len, r->text + h->value, h->value_len);
		len += h->value_len;
	}
	jsonw_text(out, v, len);
	free(v);
}

/*
 * The "headers" object of a few header lines: each name where it first
 * came, its lines found by looking back and ahead (n squared, for n
 * small: no sort, no allocation).
 */
static void
http_response_few(struct evbuffer *out, const struct http_response *r)
{
	const struct http_header	*h, *g;
	struct http_line		 lines[HTTP_FEW];
	size_t				 i, j, n;

	for (i = 0; i < r->nheaders; i++) {
		h = &r->headers[i];
		for (j = 0; j < i; j++) {
			g = &r->headers[j];
			if (g->name_len == h->name_len && memcmp(r->text +
			    g->name, r->text + h->name, h->name_len) == 0)
				break;
		}
		if (j < i)
			continue;	/* written with the first */
		n = 0;
		for (j = i; j < r->nheaders; j++) {
			g = &r->headers[j];
			if (g->name_len == h->name_len && memcmp(r->text +
			    g->name, r->text + h->name, h->name_len) == 0)
				lines[n++].index = j;
		}
		if (i > 0)
			evbuffer_add(out, ",", 1);
		jsonw_text(out, r->text + h->name, h->name_len);
		evbuffer_add(out, ":", 1);
		http_response_joined(out, r, lines, n);
	}
}

/* The "headers" object: names in the order they first came, repeats joined. */
static void
http_response_headers(struct evbuffer *out, const struct http_response *r)
{
	struct http_line	*lines;
	struct http_join	*joins;
	size_t			 i, j, n = 0;

	evbuffer_add(out, "{", 1);
	if (r->nheaders <= HTTP_FEW) {
		http_response_few(out, r);
		evbuffer_add(out, "}", 1);
		return;
	}
	lines = xreallocarray(NULL, r->nheaders, sizeof *lines);
	joins = xreallocarray(NULL, r->nheaders, sizeof *joins);
	for (i = 0; i < r->nheaders; i++) {
		lines[i].name = r->text + r->headers[i].name;
		lines[i].name_len = r->headers[i].name_len;
		lines[i].index = i;
	}
	qsort(lines, r->nheaders, sizeof *lines, http_line_cmp);
	for (i = 0; i < r->nheaders; i = j) {
		for (j = i + 1; j < r->nheaders &&
		    http_line_same(&lines[i], &lines[j]); j++)
			/* nothing */;
		joins[n].index = lines[i].index;
		joins[n].start = i;
		joins[n].count = j - i;
		n++;
	}
	qsort(joins, n, sizeof *joins, http_join_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		jsonw_text(out, lines[joins[i].start].name,
		    lines[joins[i].start].name_len);
		evbuffer_add(out, ":", 1);
		http_response_joined(out, r, lines + joins[i].start,
		    joins[i].count);
	}
	evbuffer_add(out, "}", 1);
	free(lines);
	free(joins);
}

/*
 * The value of a job whose last response is r, as JSON text in *text
 * (*len bytes): ERR_NONE; or bad_encoding (a body that is not UTF-8 with
 * "utf8") or too_large (a value over max_bytes), *text the message.
 */
enum err_code
http_response_value(const struct http_response *r,
    const struct http_value_info *info, char **text, size_t *len)
{
	struct evbuffer	*out;
	size_t		 bad, least;

	if (!info->base64 && !utf8_valid(r->body, r->len, &bad)) {
		*text = xasprintf("the body is not valid UTF-8 at byte %zu;"
		    " ask for \"encoding\":\"base64\"", bad);
		return ERR_BAD_ENCODING;
	}
	least = info->base64 ? base64_encoded_len(r->len) : r->len;
	if (least > info->max_bytes || (info->base64 && least == 0 &&
	    r->len != 0))
		goto too_large;
	if ((out = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	/* One chain for the usual value: text escapes little. */
	evbuffer_expand(out, least + r->text_len + r->nheaders * 6 +
	    strlen(info->url) + 128);
	evbuffer_add_printf(out, "{\"status\":%ld,\"headers\":", info->status);
	http_response_headers(out, r);
	jsonw_raw(out, ",\"body\":");
	if (info->base64)
		jsonw_base64(out, r->body, r->len);
	else
		jsonw_string(out, (const char *)r->body, r->len);
	jsonw_raw(out, ",\"bytes\":");
	jsonw_uint(out, r->len);
	jsonw_raw(out, ",\"url\":");
	jsonw_ctext(out, info->url);
	jsonw_raw(out, ",\"redirects\":");
	jsonw_uint(out, info->redirects);
	jsonw_raw(out, ",\"http_version\":");
	jsonw_ctext(out, info->version);
	jsonw_raw(out, "}");
	if (evbuffer_get_length(out) > info->max_bytes) {
		evbuffer_free(out);
		goto too_large;
	}
	*text = jsonw_take(out, len);
	evbuffer_free(out);
	return ERR_NONE;
too_large:
	*text = xasprintf("the value (a body of %zu bytes, as JSON, and the"
	    " headers) is over max_result_bytes (%llu bytes)", r->len,
	    (unsigned long long)info->max_bytes);
	return ERR_TOO_LARGE;
}
