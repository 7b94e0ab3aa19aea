/*
 * UTF-8 validation. ASCII is checked 16 bytes at a time through a word
 * mask (memcpy into uint64_t, so no alignment or aliasing concerns); other
 * bytes go through the RFC 3629 table one sequence at a time:
 *
 *	00..7F
 *	C2..DF  80..BF
 *	E0      A0..BF  80..BF
 *	E1..EC  80..BF  80..BF
 *	ED      80..9F  80..BF
 *	EE..EF  80..BF  80..BF
 *	F0      90..BF  80..BF  80..BF
 *	F1..F3  80..BF  80..BF  80..BF
 *	F4      80..8F  80..BF  80..BF
 */

#include <stdint.h>
#include <string.h>

#include "utf8.h"

#define UTF8_HIGH_BITS	UINT64_C(0x8080808080808080)

/* Whether b is a continuation byte (80..BF). */
static inline int
utf8_is_cont(unsigned char b)
{
	return (b & 0xc0) == 0x80;
}

/* Skip the ASCII run at s[i], returning the offset of the byte after it. */
static inline size_t
utf8_skip_ascii(const unsigned char *s, size_t len, size_t i)
{
	uint64_t	w0, w1;

	while (len - i >= 16) {
		memcpy(&w0, s + i, 8);
		memcpy(&w1, s + i + 8, 8);
		if ((w0 | w1) & UTF8_HIGH_BITS)
			break;
		i += 16;
	}
	if (len - i >= 8) {
		memcpy(&w0, s + i, 8);
		if ((w0 & UTF8_HIGH_BITS) == 0)
			i += 8;
	}
	while (i < len && s[i] < 0x80)
		i++;
	return i;
}

/*
 * Whether len bytes at s are valid UTF-8; if not, *bad is the offset of the
 * first invalid byte.
 */
int
utf8_valid(const unsigned char *s, size_t len, size_t *bad)
{
	size_t		i = 0, n, k;
	unsigned char	c, lo, hi;

	while (i < len) {
		c = s[i];
		if (c < 0x80) {
			i = utf8_skip_ascii(s, len, i + 1);
			continue;
		}

		/*
		 * One multibyte sequence, or an error: its length from the
		 * lead byte, and the range its second byte must fall in.
		 */
		if (c < 0xc2 || c > 0xf4)
			goto fail;	/* stray 80..BF, overlong C0 C1, F5..FF */
		n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		lo = 0x80;
		hi = 0xbf;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates D800..DFFF */
		else if (c == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			goto fail;
		for (k = 2; k < n; k++) {
			if (!utf8_is_cont(s[i + k]))
				goto fail;
		}
		i += n;
	}
	return 1;

fail:
	if (bad != NULL)
		*bad = i;
	return 0;
}
