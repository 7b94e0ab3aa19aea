/*
 * The worker-side codecs: strict UTF-8 validation and base64 encoding,
 * checked against fixed vectors and against simple reference
 * implementations written here.
 */

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <event2/buffer.h>

#include "base64.h"
#include "jsonw.h"
#include "utf8.h"

#define NO_OFFSET	((size_t)-1)

/* A deterministic xorshift64 generator, so failures reproduce. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* Encode code point cp (not checked) into out; returns the length. */
static size_t
ref_utf8_encode(uint32_t cp, unsigned char *out)
{
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
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A reference validator that decodes each sequence to its code point and
 * then rejects it by value (too small for its length, a surrogate, above
 * U+10FFFF), rather than by byte ranges as utf8.c does. Returns the offset
 * where the first ill-formed sequence starts, or NO_OFFSET if none.
 */
static size_t
ref_utf8_first_bad(const unsigned char *s, size_t len)
{
	static const uint32_t	min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t			i = 0, n, k;
	uint32_t		cp;

	while (i < len) {
		if (s[i] < 0x80)
			n = 1, cp = s[i];
		else if ((s[i] & 0xe0) == 0xc0)
			n = 2, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			n = 3, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			n = 4, cp = s[i] & 0x07;
		else
			return i;
		if (len - i < n)
			return i;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min_cp[n] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n;
	}
	return NO_OFFSET;
}

/* utf8_valid's answer as an offset, NO_OFFSET when valid. */
static size_t
first_bad(const unsigned char *s, size_t len)
{
	size_t	bad = NO_OFFSET;

	if (utf8_valid(s, len, &bad)) {
		cr_assert_eq(bad, NO_OFFSET, "bad written on success");
		return NO_OFFSET;
	}
	cr_assert_lt(bad, len, "bad offset %zu outside %zu bytes", bad, len);
	return bad;
}

/* Check s (len bytes) behind a prefix of k ASCII bytes and before a tail. */
static void
check_at_offsets(const unsigned char *s, size_t len, size_t expect,
    size_t max_prefix, const char *what)
{
	unsigned char	buf[256];
	size_t		k, got, want;

	cr_assert_leq(max_prefix + len + 8, sizeof buf);
	for (k = 0; k <= max_prefix; k++) {
		memset(buf, 'a' + (int)(k % 26), k);
		memcpy(buf + k, s, len);
		memcpy(buf + k + len, "tail", 4);
		want = expect == NO_OFFSET ? NO_OFFSET : expect + k;
		got = first_bad(buf, k + len + 4);
		cr_assert_eq(got, want, "%s after %zu ASCII bytes: bad %zd, "
		    "expected %zd", what, k, (ssize_t)got, (ssize_t)want);
	}
}

Test(utf8, empty_is_valid)
{
	size_t	bad = 42;

	cr_assert(utf8_valid((const unsigned char *)"", 0, &bad));
	cr_assert_eq(bad, 42);
	cr_assert(utf8_valid(NULL, 0, NULL));
}

Test(utf8, ascii_and_nul_are_valid)
{
	unsigned char	buf[1000];
	size_t		i;

	for (i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i % 128);
	for (i = 0; i <= sizeof buf; i++)
		cr_assert_eq(first_bad(buf, i), NO_OFFSET, "length %zu", i);
	memset(buf, 0, sizeof buf);
	cr_assert_eq(first_bad(buf, sizeof buf), NO_OFFSET);
}

Test(utf8, boundaries_are_valid)
{
	static const struct {
		const char	*bytes;
		uint32_t	 cp;
	} b[] = {
		{ "\x7f", 0x7f },
		{ "\xc2\x80", 0x80 },
		{ "\xdf\xbf", 0x7ff },
		{ "\xe0\xa0\x80", 0x800 },
		{ "\xed\x9f\xbf", 0xd7ff },
		{ "\xee\x80\x80", 0xe000 },
		{ "\xef\xbf\xbf", 0xffff },
		{ "\xf0\x90\x80\x80", 0x10000 },
		{ "\xf4\x8f\xbf\xbf", 0x10ffff },
	};
	unsigned char	enc[4];
	size_t		i, len;

	for (i = 0; i < sizeof b / sizeof b[0]; i++) {
		len = strlen(b[i].bytes);
		cr_assert_eq(ref_utf8_encode(b[i].cp, enc), len);
		cr_assert_arr_eq(enc, b[i].bytes, len, "U+%04X", b[i].cp);
		check_at_offsets((const unsigned char *)b[i].bytes, len,
		    NO_OFFSET, 40, b[i].bytes);
	}
}

Test(utf8, every_scalar_value_is_valid_and_every_surrogate_is_not)
{
	unsigned char	enc[4];
	uint32_t	cp;
	size_t		len, want;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		len = ref_utf8_encode(cp, enc);
		want = cp >= 0xd800 && cp <= 0xdfff ? 0 : NO_OFFSET;
		cr_assert_eq(first_bad(enc, len), want, "U+%04X", cp);
		if (want == 0)
			cr_assert_eq(enc[0], 0xed);
	}
}

/*
 * Each invalid class, at offsets 0..40 behind ASCII so that the error
 * falls at every position within the 8- and 16-byte words of the ASCII
 * fast path. expect is the offset within bytes.
 */
static const struct {
	const char	*what;
	const char	*bytes;
	size_t		 len;
	size_t		 expect;
} invalid[] = {
	{ "overlong C0", "\xc0\x80", 2, 0 },
	{ "overlong C0 AF", "\xc0\xaf", 2, 0 },
	{ "overlong C1", "\xc1\xbf", 2, 0 },
	{ "overlong E0 80", "\xe0\x80\x80", 3, 0 },
	{ "overlong E0 9F", "\xe0\x9f\xbf", 3, 0 },
	{ "overlong F0 80", "\xf0\x80\x80\x80", 4, 0 },
	{ "overlong F0 8F", "\xf0\x8f\xbf\xbf", 4, 0 },
	{ "surrogate ED A0", "\xed\xa0\x80", 3, 0 },
	{ "surrogate ED BF", "\xed\xbf\xbf", 3, 0 },
	{ "surrogate pair", "\xed\xa0\xbd\xed\xb2\xa9", 6, 0 },
	{ "above U+10FFFF F4 90", "\xf4\x90\x80\x80", 4, 0 },
	{ "above U+10FFFF F4 BF", "\xf4\xbf\xbf\xbf", 4, 0 },
	{ "lead F5", "\xf5\x80\x80\x80", 4, 0 },
	{ "lead F7", "\xf7\xbf\xbf\xbf", 4, 0 },
	{ "lead F8", "\xf8\x88\x80\x80\x80", 5, 0 },
	{ "lead FC", "\xfc\x84\x80\x80\x80\x80", 6, 0 },
	{ "byte FE", "\xfe", 1, 0 },
	{ "byte FF", "\xff", 1, 0 },
	{ "stray 80", "\x80", 1, 0 },
	{ "stray BF", "\xbf", 1, 0 },
	{ "continuation after a full sequence", "\xc3\xa9\x80", 3, 2 },
	{ "continuation after a 4-byte sequence",
	    "\xf0\x9f\x98\x80\x80", 5, 4 },
	{ "2-byte lead then ASCII", "\xc3" "A", 2, 0 },
	{ "3-byte lead then ASCII", "\xe2\x82" "A", 3, 0 },
	{ "3-byte lead then a lead", "\xe2\xc2\x80", 3, 0 },
	{ "4-byte lead, bad last byte", "\xf1\x80\x80\xc0", 4, 0 },
	{ "4-byte lead then NUL", "\xf0\x9f\x98", 4, 0 },
	{ "valid then invalid", "\xc3\xa9\xe2\x82\xac\xc0\x80", 7, 5 },
};

Test(utf8, invalid_classes_report_the_first_bad_offset)
{
	size_t	i;

	for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		cr_assert_eq(ref_utf8_first_bad(
		    (const unsigned char *)invalid[i].bytes, invalid[i].len),
		    invalid[i].expect, "reference disagrees: %s",
		    invalid[i].what);
		check_at_offsets((const unsigned char *)invalid[i].bytes,
		    invalid[i].len, invalid[i].expect, 40, invalid[i].what);
	}
}

Test(utf8, truncated_sequences_at_the_very_end)
{
	static const char	*trunc[] = {
		"\xc2", "\xdf", "\xe0", "\xe0\xa0", "\xe1\x80", "\xed\x9f",
		"\xef\xbf", "\xf0", "\xf0\x90", "\xf0\x90\x80", "\xf3\xbf\xbf",
		"\xf4\x8f\xbf",
	};
	unsigned char		buf[128];
	size_t			i, k, len;

	for (i = 0; i < sizeof trunc / sizeof trunc[0]; i++) {
		len = strlen(trunc[i]);
		for (k = 0; k <= 40; k++) {
			memset(buf, 'x', k);
			memcpy(buf + k, trunc[i], len);
			cr_assert_eq(first_bad(buf, k + len), k,
			    "case %zu after %zu bytes", i, k);
			/* The same bytes are fine when completed. */
			memset(buf + k + len, 0xbf, 4 - len);
			if (trunc[i][0] == '\xf4')
				buf[k + 1] = 0x8f;
			if ((unsigned char)trunc[i][0] < 0xe0)
				cr_assert_eq(first_bad(buf, k + 2), NO_OFFSET);
			else if ((unsigned char)trunc[i][0] < 0xf0)
				cr_assert_eq(first_bad(buf, k + 3), NO_OFFSET);
			else
				cr_assert_eq(first_bad(buf, k + 4), NO_OFFSET);
		}
	}
}

Test(utf8, invalid_byte_after_a_long_ascii_run)
{
	unsigned char	*buf;
	size_t		 n = 4096, k;

	buf = malloc(n);
	cr_assert_not_null(buf);
	for (k = 0; k < n; k++) {
		memset(buf, 'z', n);
		buf[k] = 0x80;
		cr_assert_eq(first_bad(buf, n), k, "stray at %zu", k);
	}
	memset(buf, 'z', n);
	buf[n - 1] = 0xe2;
	cr_assert_eq(first_bad(buf, n), n - 1);
	cr_assert_eq(first_bad(buf, n - 1), NO_OFFSET);
	free(buf);
}

Test(utf8, fast_path_resumes_after_multibyte_sequences)
{
	unsigned char	buf[256];
	size_t		k, j, len;

	/* A 2-, 3- or 4-byte sequence leaves the ASCII run misaligned. */
	for (j = 1; j <= 3; j++) {
		for (k = 0; k <= 40; k++) {
			len = ref_utf8_encode(j == 1 ? 0xe9 :
			    j == 2 ? 0x20ac : 0x1f600, buf);
			memset(buf + len, 'q', k);
			buf[len + k] = 0xc0;
			memset(buf + len + k + 1, 'q', 20);
			cr_assert_eq(first_bad(buf, len + k + 21), len + k,
			    "sequence of %zu then %zu ASCII", len, k);
			buf[len + k] = 'q';
			cr_assert_eq(first_bad(buf, len + k + 21), NO_OFFSET);
		}
	}
}

Test(utf8, all_two_byte_strings_match_the_reference)
{
	unsigned char	buf[2];
	unsigned	a, b;

	for (a = 0; a < 256; a++) {
		buf[0] = (unsigned char)a;
		cr_assert_eq(first_bad(buf, 1), ref_utf8_first_bad(buf, 1));
		for (b = 0; b < 256; b++) {
			buf[1] = (unsigned char)b;
			cr_assert_eq(first_bad(buf, 2),
			    ref_utf8_first_bad(buf, 2), "%02X %02X", a, b);
		}
	}
}

Test(utf8, all_multibyte_lead_pairs_match_the_reference)
{
	static const unsigned char	tails[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
		0xc2, 0xe0, 0xf0, 0xff,
	};
	unsigned char			buf[4];
	unsigned			a, b, c, d, n;

	for (a = 0xc0; a < 256; a++) {
		for (b = 0; b < 256; b++) {
			for (c = 0; c < sizeof tails; c++) {
				for (d = 0; d < sizeof tails; d++) {
					buf[0] = (unsigned char)a;
					buf[1] = (unsigned char)b;
					buf[2] = tails[c];
					buf[3] = tails[d];
					for (n = 3; n <= 4; n++)
						cr_assert_eq(first_bad(buf, n),
						    ref_utf8_first_bad(buf, n),
						    "%02X %02X %02X %02X/%u",
						    a, b, buf[2], buf[3], n);
				}
			}
		}
	}
}

Test(utf8, random_strings_match_the_reference)
{
	unsigned char	buf[256];	/* 180 plus the longest run */
	uint64_t	state = 0x9e3779b97f4a7c15ULL, r;
	size_t		len, i, n, valid = 0, tests = 5000;
	uint32_t	cp;

	for (n = 0; n < tests; n++) {
		len = 0;
		/* Mostly valid text with ASCII runs, then a few corruptions. */
		while (len < 180) {
			r = rng_next(&state);
			switch (r % 4) {
			case 0:
				i = (r >> 8) % 24;
				memset(buf + len, ' ' + (int)((r >> 16) % 90), i);
				len += i;
				break;
			case 1:
				do {
					cp = (uint32_t)((r >> 8) % 0x110000);
					r = rng_next(&state);
				} while (cp >= 0xd800 && cp <= 0xdfff);
				len += ref_utf8_encode(cp, buf + len);
				break;
			case 2:
				cp = (uint32_t)(0x80 + (r >> 8) % 0x780);
				len += ref_utf8_encode(cp, buf + len);
				break;
			default:
				cp = (uint32_t)(0x800 + (r >> 8) % 0xf800);
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xfffd;
				len += ref_utf8_encode(cp, buf + len);
				break;
			}
		}
		len -= rng_next(&state) % 4;	/* maybe truncate */
		for (i = rng_next(&state) % 3; i > 0; i--) {
			r = rng_next(&state);
			buf[(r >> 8) % len] = (unsigned char)r;
		}
		if (ref_utf8_first_bad(buf, len) == NO_OFFSET)
			valid++;
		cr_assert_eq(first_bad(buf, len), ref_utf8_first_bad(buf, len),
		    "random string %zu", n);
	}
	/* Both outcomes must be well represented for this to mean much. */
	cr_assert_gt(valid, tests / 10);
	cr_assert_lt(valid, tests * 9 / 10);

	for (n = 0; n < tests; n++) {
		len = rng_next(&state) % sizeof buf;
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)rng_next(&state);
		cr_assert_eq(first_bad(buf, len), ref_utf8_first_bad(buf, len),
		    "random bytes %zu", n);
	}
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * A strict reference decoder: a multiple of 4 characters, all from the
 * alphabet, with up to two '=' only at the end. Returns the decoded length,
 * or -1.
 */
static ssize_t
ref_b64_decode(const char *s, size_t len, unsigned char *out)
{
	const char	*p;
	uint32_t	 v;
	size_t		 i, j, o = 0, pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			v <<= 6;
			if (i + j >= len - pad && s[i + j] == '=')
				continue;
			if (s[i + j] == '\0' ||
			    (p = strchr(b64_alphabet, s[i + j])) == NULL)
				return -1;
			v |= (uint32_t)(p - b64_alphabet);
		}
		out[o++] = (unsigned char)(v >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (unsigned char)v;
	}
	return (ssize_t)o;
}

/* Encode len bytes both ways and check the result against expect. */
static void
check_encode(const unsigned char *src, size_t len, const char *expect)
{
	char	buf[1024], *s;
	size_t	n, outlen = 12345;

	memset(buf, '#', sizeof buf);
	n = base64_encode(src, len, buf);
	cr_assert_eq(n, strlen(expect), "length of %s", expect);
	cr_assert_eq(n, base64_encoded_len(len));
	cr_assert_arr_eq(buf, expect, n, "got %.*s, expected %s", (int)n,
	    buf, expect);
	cr_assert_eq(buf[n], '#', "wrote past the end");

	s = base64_encode_alloc(src, len, &outlen);
	cr_assert_eq(outlen, n);
	cr_assert_str_eq(s, expect);
	free(s);
}

Test(base64, rfc4648_test_vectors)
{
	static const char	*v[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	size_t			i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		check_encode((const unsigned char *)v[i][0], strlen(v[i][0]),
		    v[i][1]);
}

Test(base64, all_byte_values)
{
	unsigned char	src[256], g[3];
	char		expect[5];
	size_t		i;
	uint32_t	v;

	for (i = 0; i < 256; i++)
		src[i] = (unsigned char)i;
	check_encode(src, 256,
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
	    "LS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZ"
	    "WltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWG"
	    "h4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKz"
	    "tLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g"
	    "4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==");

	/* Each byte alone: its top six bits, then its low two. */
	for (i = 0; i < 256; i++) {
		expect[0] = b64_alphabet[i >> 2];
		expect[1] = b64_alphabet[(i & 3) << 4];
		expect[2] = expect[3] = '=';
		expect[4] = '\0';
		check_encode(src + i, 1, expect);
	}

	/* Every sextet value in every position of a group. */
	for (i = 0; i < 64; i++) {
		v = (uint32_t)(i << 18 | i << 12 | i << 6 | i);
		g[0] = (unsigned char)(v >> 16);
		g[1] = (unsigned char)(v >> 8);
		g[2] = (unsigned char)v;
		memset(expect, b64_alphabet[i], 4);
		expect[4] = '\0';
		check_encode(g, 3, expect);
	}
}

Test(base64, lengths_0_to_64_round_trip)
{
	unsigned char	src[64], dec[64];
	char		buf[128], *s;
	uint64_t	state = 0x2545f4914f6cdd1dULL;
	size_t		len, n, i, outlen;
	int		round;

	for (round = 0; round < 20; round++) {
		for (len = 0; len <= 64; len++) {
			for (i = 0; i < len; i++)
				src[i] = (unsigned char)rng_next(&state);
			memset(buf, '#', sizeof buf);
			n = base64_encode(src, len, buf);
			cr_assert_eq(n, (len + 2) / 3 * 4);
			cr_assert_eq(n, base64_encoded_len(len));
			cr_assert_eq(buf[n], '#', "wrote past the end");
			cr_assert_eq(ref_b64_decode(buf, n, dec), (ssize_t)len,
			    "length %zu", len);
			cr_assert_arr_eq(dec, src, len, "length %zu", len);
			for (i = 0; i < n; i++)
				cr_assert(strchr(b64_alphabet, buf[i]) != NULL ||
				    (buf[i] == '=' && i >= n - 2));

			s = base64_encode_alloc(src, len, &outlen);
			cr_assert_eq(outlen, n);
			cr_assert_eq(s[n], '\0');
			cr_assert_arr_eq(s, buf, n);
			free(s);
		}
	}
}

Test(base64, encoded_len)
{
	size_t	max_groups = SIZE_MAX / 4;

	cr_assert_eq(base64_encoded_len(0), 0);
	cr_assert_eq(base64_encoded_len(1), 4);
	cr_assert_eq(base64_encoded_len(2), 4);
	cr_assert_eq(base64_encoded_len(3), 4);
	cr_assert_eq(base64_encoded_len(4), 8);
	cr_assert_eq(base64_encoded_len(16 << 20), 22369624);
	cr_assert_eq(base64_encoded_len(max_groups * 3), max_groups * 4);
	cr_assert_eq(base64_encoded_len(max_groups * 3 + 1), 0);
	cr_assert_eq(base64_encoded_len(SIZE_MAX - 1), 0);
	cr_assert_eq(base64_encoded_len(SIZE_MAX), 0);
}

Test(base64, alloc_allows_a_null_outlen)
{
	char	*s;

	s = base64_encode_alloc((const unsigned char *)"foob", 4, NULL);
	cr_assert_str_eq(s, "Zm9vYg==");
	free(s);
}

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
