/* Base64 encoding: every 3 input bytes become 4 characters. */

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
