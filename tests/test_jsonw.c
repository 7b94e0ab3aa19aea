/*
 * The JSON writer (src/jsonw.c): milliseconds, integers, base64 strings,
 * and text that is always valid UTF-8 and valid JSON whatever the bytes.
 */

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "base64.h"
#include "harness.h"
#include "jsonw.h"
#include "utf8.h"

/* jsonw_ms into a string; caller frees. */
static char *
ms_text(double ms)
{
	struct evbuffer	*evb = evbuffer_new();
	size_t		 len;
	char		*s;

	cr_assert_not_null(evb);
	jsonw_ms(evb, ms);
	len = evbuffer_get_length(evb);
	cr_assert_not_null(s = malloc(len + 1));
	evbuffer_remove(evb, s, len);
	s[len] = '\0';
	evbuffer_free(evb);
	return s;
}

Test(jsonw, ms_has_three_decimals)
{
	static const struct {
		double		 ms;
		const char	*want;
	} cases[] = {
		{ 0, "0.000" }, { -5, "0.000" }, { 1.5, "1.500" },
		{ 1234.5678, "1234.568" }, { 999.9996, "1000.000" },
		{ 0.0004, "0.000" }, { 0.0006, "0.001" },
		{ 1e14, "100000000000000.000" }, { 1e20, "1000000000000000.000" },
	};
	size_t	i;
	char	*s;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = ms_text(cases[i].ms);
		cr_assert_str_eq(s, cases[i].want, "ms %g", cases[i].ms);
		free(s);
	}
}

/* Against printf's "%.3f": the same text but for ties at the last digit. */
Test(jsonw, ms_matches_printf)
{
	char		 want[64], *s;
	double		 ms;
	unsigned	 i, seed = 1;

	for (i = 0; i < 100000; i++) {
		seed = seed * 1103515245u + 12345u;
		ms = (double)(seed >> 8) / (double)(1u << (seed % 24));
		snprintf(want, sizeof want, "%.3f", ms);
		s = ms_text(ms);
		if (strcmp(s, want) != 0)
			cr_assert_leq(fabs(strtod(s, NULL) - strtod(want, NULL)),
			    0.0010001, "ms %.17g: %s, printf %s", ms, s, want);
		free(s);
	}
}

Test(jsonw, uint)
{
	static const uint64_t	 v[] = { 0, 7, 10, 1234567890, UINT64_MAX };
	struct evbuffer		*evb;
	char			 want[32], got[32];
	size_t			 i, len;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		cr_assert_not_null(evb = evbuffer_new());
		jsonw_uint(evb, v[i]);
		len = evbuffer_remove(evb, got, sizeof got - 1);
		got[len] = '\0';
		snprintf(want, sizeof want, "%llu", (unsigned long long)v[i]);
		cr_assert_str_eq(got, want);
		evbuffer_free(evb);
	}
}

/* What jsonw wrote into evb, as a new string; evb is freed. */
static char *
jsonw_out(struct evbuffer *evb)
{
	size_t	 len = evbuffer_get_length(evb);
	char	*s;

	cr_assert_not_null(s = malloc(len + 1));
	evbuffer_remove(evb, s, len);
	s[len] = '\0';
	evbuffer_free(evb);
	return s;
}

/* jsonw_text of len bytes of s, as a string; caller frees. */
static char *
text_of(const char *s, size_t len)
{
	struct evbuffer	*evb = evbuffer_new();

	cr_assert_not_null(evb);
	jsonw_text(evb, s, len);
	return jsonw_out(evb);
}

/* Bytes shown as printable ASCII, the rest as \xNN, for messages. */
static const char *
shown(const char *s, size_t len)
{
	static char	buf[1024];
	size_t		i, o = 0;

	for (i = 0; i < len && o + 5 < sizeof buf; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x",
			    c);
	}
	buf[o] = '\0';
	return buf;
}

Test(jsonw, text_replaces_each_bad_byte_and_keeps_the_rest)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ "plain", 5, "\"plain\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"" },
		{ "a\xff" "b", 3, "\"a\\ufffdb\"" },
		/* Half a character at the end, as a cut message has. */
		{ "near '\xe2\x82", 8, "\"near '\\ufffd\\ufffd\"" },
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },
		{ "nul\0\"q\"\n", 8, "\"nul\\u0000\\\"q\\\"\\n\"" },
		{ "\x80" "a\x80", 3, "\"\\ufffda\\ufffd\"" },
	};
	size_t	 i;
	char	*s;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = text_of(cases[i].in, cases[i].len);
		cr_assert(strcmp(s, cases[i].want) == 0, "case %zu: got %s", i,
		    shown(s, strlen(s)));
		free(s);
	}
}

/* Whatever the bytes, the text is valid UTF-8 and parses back as a string. */
Test(jsonw, text_of_random_bytes_is_valid_json_and_utf8)
{
	uint64_t	 rng = 12;
	unsigned char	 in[64];
	json_error_t	 err;
	json_t		*j;
	size_t		 i, k, len;
	char		*s;

	for (i = 0; i < 20000; i++) {
		len = rng_next(&rng) % sizeof in;
		for (k = 0; k < len; k++)
			in[k] = (unsigned char)rng_next(&rng);
		s = text_of((const char *)in, len);
		cr_assert(utf8_valid((const unsigned char *)s, strlen(s), NULL),
		    "not UTF-8: %s", shown(s, strlen(s)));
		j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		cr_assert(json_is_string(j), "not a JSON string: %s",
		    shown(s, strlen(s)));
		if (utf8_valid(in, len, NULL))
			cr_assert(json_string_length(j) == len &&
			    memcmp(json_string_value(j), in, len) == 0,
			    "valid text changed: %s", shown(s, strlen(s)));
		json_decref(j);
		free(s);
	}
}

/* Quote a JSON string made of len bytes of s; caller frees. */
static char *
quote_of(const char *s, size_t len)
{
	json_t	*v = json_stringn_nocheck(s, len);
	char	*q;

	cr_assert_not_null(v);
	q = jsonw_quote(v);
	json_decref(v);
	return q;
}

Test(jsonw, quote_writes_a_nul_as_json_does)
{
	char	*q = quote_of("sleep\0", 6);

	cr_assert_str_eq(q, "\"sleep\\u0000\"");
	free(q);
	q = quote_of("say \"hi\"\\", 9);
	cr_assert_str_eq(q, "\"say \\\"hi\\\"\\\\\"");
	free(q);
}

Test(jsonw, quote_cuts_long_text_between_characters)
{
	char	 s[300], want[300], *q;

	memset(s, 'a', sizeof s);
	q = quote_of(s, JSONW_QUOTE_MAX);
	cr_assert_eq(strlen(q), JSONW_QUOTE_MAX + 2, "not cut at the mark");
	free(q);
	q = quote_of(s, sizeof s);
	snprintf(want, sizeof want, "\"%.*s\"...", JSONW_QUOTE_MAX, s);
	cr_assert_str_eq(q, want);
	free(q);
	/* A two-byte character across the mark is left out whole. */
	memcpy(s + JSONW_QUOTE_MAX - 1, "\xc3\xa9", 2);
	q = quote_of(s, sizeof s);
	snprintf(want, sizeof want, "\"%.*s\"...", JSONW_QUOTE_MAX - 1, s);
	cr_assert(strcmp(q, want) == 0, "got %s", shown(q, strlen(q)));
	free(q);
}

/*
 * jsonw_base64: the quoted base64 of the bytes, after what the buffer
 * holds already, the same as base64_encode_alloc's for every length.
 */
Test(jsonw, base64_is_a_quoted_string)
{
	unsigned char	 src[700];
	struct evbuffer	*evb;
	uint64_t	 rng = 42;
	size_t		 len, n, got;
	char		*want, *text;

	for (len = 0; len < sizeof src; len++) {
		for (n = 0; n < len; n++)
			src[n] = (unsigned char)rng_next(&rng);
		cr_assert_not_null(evb = evbuffer_new());
		evbuffer_add(evb, "x", 1);
		jsonw_base64(evb, src, len);
		got = evbuffer_get_length(evb);
		text = (char *)evbuffer_pullup(evb, -1);
		want = base64_encode_alloc(src, len, &n);
		cr_assert_eq(got, n + 3, "length %zu", len);
		cr_assert(text[0] == 'x' && text[1] == '"' &&
		    text[got - 1] == '"', "length %zu", len);
		cr_assert(memcmp(text + 2, want, n) == 0, "length %zu", len);
		free(want);
		evbuffer_free(evb);
	}
}

/* jsonw_int: the same text as printf's, the extremes included. */
Test(jsonw, int)
{
	static const int64_t	 v[] = { 0, 7, -7, 10, -10, 1234567890,
	    INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	struct evbuffer		*evb;
	char			 want[32];
	size_t			 i;

	cr_assert_not_null(evb = evbuffer_new());
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(want, sizeof want, "%lld", (long long)v[i]);
		jsonw_int(evb, v[i]);
		cr_assert_eq(evbuffer_get_length(evb), strlen(want));
		cr_assert(memcmp(evbuffer_pullup(evb, -1), want,
		    strlen(want)) == 0, "%s", want);
		evbuffer_drain(evb, strlen(want));
	}
	evbuffer_free(evb);
}
