/*
 * JSON text written straight into an evbuffer. Strings are escaped as RFC
 * 8259 requires (quote, backslash, control characters); other bytes pass
 * through, so the caller must hand in UTF-8.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "base64.h"
#include "jsonw.h"
#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

/* Append literal text, already valid JSON. */
void
jsonw_raw(struct evbuffer *evb, const char *s)
{
	evbuffer_add(evb, s, strlen(s));
}

/*
 * Whether any of the 8 bytes of w may need escaping: a control character,
 * '"' or '\\' (a false alarm now and then is fine: the bytes are then
 * looked at one by one).
 */
static int
jsonw_word_special(uint64_t w)
{
	const uint64_t	ones = UINT64_C(0x0101010101010101);
	const uint64_t	highs = UINT64_C(0x8080808080808080);
	uint64_t	q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
	    ((b - ones) & ~b)) & highs) != 0;
}

/* Append len bytes of s escaped for the inside of a JSON string. */
static void
jsonw_escape(struct evbuffer *evb, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	/* The bytes with a short escape, and the letter after the '\\'. */
	static const char	 plain[] = "\"\\\n\r\t", letter[] = "\"\\nrt";
	const char		*run = s, *end = s + len, *p;
	char			 esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	char			 short_esc[2] = { '\\', 0 };
	unsigned char		 c;
	uint64_t		 w;

	for (; s < end; s++) {
		/* Text mostly needs nothing: skip it 8 bytes at a time. */
		while (end - s >= 8) {
			memcpy(&w, s, 8);
			if (jsonw_word_special(w))
				break;
			s += 8;
		}
		if (s == end)
			break;
		c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		evbuffer_add(evb, run, (size_t)(s - run));
		run = s + 1;
		if (c != '\0' && (p = strchr(plain, c)) != NULL) {
			short_esc[1] = letter[p - plain];
			evbuffer_add(evb, short_esc, sizeof short_esc);
			continue;
		}
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 0xf];
		evbuffer_add(evb, esc, sizeof esc);
	}
	evbuffer_add(evb, run, (size_t)(end - run));
}

/* Append len bytes of s as a JSON string. */
void
jsonw_string(struct evbuffer *evb, const char *s, size_t len)
{
	evbuffer_add(evb, "\"", 1);
	jsonw_escape(evb, s, len);
	evbuffer_add(evb, "\"", 1);
}

/*
 * Append n bytes as a JSON string of their base64 (RFC 4648), encoded in
 * place: bytes that are not text (a blob, a file read as base64) go out
 * this way, and only this way.
 */
void
jsonw_base64(struct evbuffer *evb, const void *p, size_t n)
{
	struct evbuffer_iovec	 v;
	char			*s;
	size_t			 len = base64_encoded_len(n);

	if ((len == 0 && n != 0) || len > (size_t)EV_SSIZE_MAX - 2 ||
	    evbuffer_reserve_space(evb, (ev_ssize_t)(len + 2), &v, 1) != 1)
		fatalx("%s: cannot reserve %zu bytes", __func__, len);
	s = v.iov_base;
	s[0] = '"';
	base64_encode(p, n, s + 1);
	s[len + 1] = '"';
	v.iov_len = len + 2;
	if (evbuffer_commit_space(evb, &v, 1) == -1)
		fatalx("%s: evbuffer_commit_space failed", __func__);
}

/* Append a NUL-terminated string as a JSON string. */
void
jsonw_cstring(struct evbuffer *evb, const char *s)
{
	jsonw_string(evb, s, strlen(s));
}

/*
 * Append len bytes of s as a JSON string, each byte of an ill-formed UTF-8
 * sequence replaced by U+FFFD. For text that may quote bytes it did not
 * check: a library's error message (jansson's can end in half a
 * character), a server's. Valid UTF-8 comes out as jsonw_string writes it.
 */
void
jsonw_text(struct evbuffer *evb, const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 bad;

	if (utf8_valid(u, len, &bad)) {
		jsonw_string(evb, s, len);
		return;
	}
	evbuffer_add(evb, "\"", 1);
	do {
		jsonw_escape(evb, (const char *)u, bad);
		evbuffer_add(evb, "\\ufffd", 6);
		u += bad + 1;
		len -= bad + 1;
	} while (!utf8_valid(u, len, &bad));
	jsonw_escape(evb, (const char *)u, len);
	evbuffer_add(evb, "\"", 1);
}

/* jsonw_text of a NUL-terminated string. */
void
jsonw_ctext(struct evbuffer *evb, const char *s)
{
	jsonw_text(evb, s, strlen(s));
}

/*
 * A client's JSON string quoted for a message as JSON writes it
 * ("sleep\u0000"), in new memory. At most JSONW_QUOTE_MAX bytes are
 * quoted, cut before a character that would pass the mark; "..." follows
 * the quote when the string was cut.
 */
char *
jsonw_quote(const json_t *str)
{
	struct evbuffer	*evb;
	const char	*s = json_string_value(str);
	size_t		 len = json_string_length(str), n = len;
	char		*q;

	if ((evb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	if (n > JSONW_QUOTE_MAX) {
		n = JSONW_QUOTE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	jsonw_text(evb, s, n);
	if (n < len)
		evbuffer_add(evb, "...", 3);
	q = jsonw_take(evb, NULL);
	evbuffer_free(evb);
	return q;
}

/* Write the decimal digits of v backwards, ending at end; return the first. */
static char *
jsonw_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/*
 * Append a duration in milliseconds, to the microsecond, as "%.3f" would
 * but without printf (a reply of a million results writes two of these per
 * result). Negative and NaN are 0; anything over JSONW_MS_MAX (about
 * 31,000 years, where clock_ms_timeval clamps timers too) is JSONW_MS_MAX,
 * so the text always fits the buffer and is always a JSON number.
 */
void
jsonw_ms(struct evbuffer *evb, double ms)
{
	char		 buf[32], *end = buf + sizeof buf, *p;
	uint64_t	 us;

	if (!(ms >= 0))
		ms = 0;
	if (ms > JSONW_MS_MAX)
		ms = JSONW_MS_MAX;
	us = (uint64_t)(ms * 1000 + 0.5);
	p = end - 4;
	p[0] = '.';
	p[1] = (char)('0' + us / 100 % 10);
	p[2] = (char)('0' + us / 10 % 10);
	p[3] = (char)('0' + us % 10);
	p = jsonw_digits(p, us / 1000);
	evbuffer_add(evb, p, (size_t)(end - p));
}

/* Append an unsigned integer. */
void
jsonw_uint(struct evbuffer *evb, uint64_t v)
{
	char	buf[24], *end = buf + sizeof buf, *p;

	p = jsonw_digits(end, v);
	evbuffer_add(evb, p, (size_t)(end - p));
}

/* Append a signed integer, INT64_MIN included, without printf. */
void
jsonw_int(struct evbuffer *evb, int64_t v)
{
	char	buf[24], *end = buf + sizeof buf, *p;

	p = jsonw_digits(end, v < 0 ? -(uint64_t)v : (uint64_t)v);
	if (v < 0)
		*--p = '-';
	evbuffer_add(evb, p, (size_t)(end - p));
}

static int
jsonw_dump_cb(const char *buf, size_t size, void *evb)
{
	return evbuffer_add(evb, buf, size);
}

/* Append a jansson value, compact. */
void
jsonw_value(struct evbuffer *evb, const json_t *v)
{
	json_dump_callback(v, jsonw_dump_cb, evb,
	    JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Append a jansson value, compact, reals to this many significant digits. */
void
jsonw_value_precision(struct evbuffer *evb, const json_t *v, int digits)
{
	json_dump_callback(v, jsonw_dump_cb, evb,
	    JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(digits));
}

/* Move all of evb's text into a new NUL-terminated string of *lenp bytes. */
char *
jsonw_take(struct evbuffer *evb, size_t *lenp)
{
	size_t	 len = evbuffer_get_length(evb);
	char	*s = xmalloc(len + 1);

	evbuffer_remove(evb, s, len);
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return s;
}

/* A jansson value as compact JSON text in a new string. */
char *
jsonw_dump(const json_t *v)
{
	char	*s;

	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		/* Only an allocation can fail for a valid tree. */
		s = xstrdup("null");
	}
	return s;
}

/*
 * A JSON string's value as a C string, or NULL when v is not a string or
 * holds a NUL (requests are parsed with JSON_ALLOW_NUL, so "\u0000" can
 * reach here and must not pass for a shorter name).
 */
const char *
jsonw_cstr(const json_t *v)
{
	const char	*s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	return strlen(s) == json_string_length(v) ? s : NULL;
}
