/*
 * Strict UTF-8 validation (src/utf8.c), checked against fixed vectors and
 * against a simple reference implementation written here.
 */

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "harness.h"
#include "utf8.h"

#define NO_OFFSET	((size_t)-1)

/*
 * Encode code point cp (not checked) into out; returns the length. A loop
 * from the last byte back, unlike the daemon's encoder (src/jscan.c), so
 * that the reference is not a copy of what it checks.
 */
static size_t
ref_utf8_encode(uint32_t cp, unsigned char *out)
{
	static const unsigned char	lead[] = { 0, 0x00, 0xc0, 0xe0, 0xf0 };
	size_t				len, i;

	len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	for (i = len - 1; i > 0; i--) {
		out[i] = (unsigned char)(0x80 | (cp & 0x3f));
		cp >>= 6;
	}
	out[0] = (unsigned char)(lead[len] | cp);
	return len;
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
