/* Base64: every 3 bytes become 4 characters, and back. */

#include <stdint.h>

#include "base64.h"
#include "xmalloc.h"

static const char base64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Bytes needed to encode len bytes in base64 (with padding), or 0 on
 * overflow.
 */
size_t
base64_encoded_len(size_t len)
{
	size_t	groups = len / 3 + (len % 3 != 0);

	if (groups > SIZE_MAX / 4)
		return 0;
	return groups * 4;
}

/*
 * Encode len bytes of src into dst (base64_encoded_len(len) bytes, no NUL
 * added); returns the length written.
 */
size_t
base64_encode(const unsigned char *src, size_t len, char *dst)
{
	const char	*a = base64_alphabet;
	char		*p = dst;
	uint32_t	 v;

	for (; len >= 3; len -= 3, src += 3, p += 4) {
		v = (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8 | src[2];
		p[0] = a[v >> 18];
		p[1] = a[(v >> 12) & 63];
		p[2] = a[(v >> 6) & 63];
		p[3] = a[v & 63];
	}
	if (len != 0) {
		v = (uint32_t)src[0] << 16;
		if (len == 2)
			v |= (uint32_t)src[1] << 8;
		p[0] = a[v >> 18];
		p[1] = a[(v >> 12) & 63];
		p[2] = len == 2 ? a[(v >> 6) & 63] : '=';
		p[3] = '=';
		p += 4;
	}
	return (size_t)(p - dst);
}

/*
 * Encode into a new NUL-terminated string (xmalloc); *outlen gets its
 * length.
 */
char *
base64_encode_alloc(const unsigned char *src, size_t len, size_t *outlen)
{
	char	*dst;
	size_t	 n;

	/*
	 * len / 3 + 2 groups cover the padded output and the NUL without
	 * overflowing, and xreallocarray refuses a product that does (which
	 * no buffer that exists can reach).
	 */
	dst = xreallocarray(NULL, len / 3 + 2, 4);
	n = base64_encode(src, len, dst);
	dst[n] = '\0';
	if (outlen != NULL)
		*outlen = n;
	return dst;
}

/* The value of a base64 character, or -1. */
static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode len characters of src into dst (room for len / 4 * 3 bytes);
 * *outlen gets the bytes written. Strict: groups of four, '=' only as the
 * padding of the last group, and the padding's bits zero, so each byte
 * string has exactly one encoding. Returns 0, or -1 with *bad the offset
 * of the first character that is wrong (len when the length is).
 */
int
base64_decode(const char *src, size_t len, unsigned char *dst,
    size_t *outlen, size_t *bad)
{
	const unsigned char	*s = (const unsigned char *)src;
	unsigned char		*p = dst;
	uint32_t		 v;
	size_t			 i, j, pad;
	int			 c;

	*outlen = 0;
	if (len % 4 != 0) {
		*bad = len;
		return -1;
	}
	for (i = 0; i < len; i += 4) {
		pad = 0;
		if (i + 4 == len)
			pad = (s[i + 3] == '=') + (s[i + 2] == '=' &&
			    s[i + 3] == '=');
		v = 0;
		for (j = 0; j < 4 - pad; j++) {
			if ((c = base64_value(s[i + j])) == -1) {
				*bad = i + j;
				return -1;
			}
			v = v << 6 | (uint32_t)c;
		}
		v <<= 6 * pad;
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0)) {
			*bad = i + 3 - pad;
			return -1;
		}
		*p++ = (unsigned char)(v >> 16);
		if (pad < 2)
			*p++ = (unsigned char)(v >> 8);
		if (pad < 1)
			*p++ = (unsigned char)v;
	}
	*outlen = (size_t)(p - dst);
	return 0;
}
