/*
 * Base64 encoding (src/base64.c), checked against RFC 4648's vectors and
 * against a reference decoder written here.
 */

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base64.h"
#include "harness.h"

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
